"""Referral rules without the database: response deadlines in business days, decline reasons,
and which instruments a declined need is matched to next.

* `deadline` — the last day an institution may answer: `days` business days after the day of
  the referral (that day itself does not count). Saturdays and Sundays are not business days,
  a calendar's holidays are not either, and its make-up working days (调休, a weekend day worked
  in exchange for a holiday) are.
* `DECLINE_REASONS` — the structured reason codes an institution gives, in Chinese and English.
* `rematch_order` — after a decline, the alternatives (products of other institutions) ranked by
  what the reason says: a firm declined as too young or with too little revenue is shown equity
  and guaranteed products first, one declined for risk guaranteed products first, one whose
  amount was too large the products that lend the most; each list is vectorised over products.
* `qualifying_subsidies` — the interest-subsidy schemes (免申即享) of programmes a declined firm
  qualifies for: the programme lists the firm's zone, runs on the day, and — when every one of
  its commitments is earmarked for a key technology field — counts the firm's field among them.
  A subsidy is offered after the products: it lowers the cost of a loan from one of the
  programme's institutions, and it is what remains when no other product fits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

#: code → (Chinese, English)
DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "too_young": ("成立年限不足", "the firm is too young"),
    "revenue_too_low": ("营业收入过低", "revenue too low"),
    "outside_fields": ("不在本机构支持的领域", "outside our fields"),
    "amount_too_large": ("金额过大", "amount too large"),
    "risk": ("风险过高", "risk too high"),
    "incomplete_documents": ("材料不全", "incomplete documents"),
    "other": ("其他", "other"),
}

#: instruments a product belongs to (by its kind), for re-matching after a decline
INSTRUMENTS: dict[str, str] = {
    "pure_credit_loan": "loan",
    "ip_pledge_loan": "loan",
    "points_loan": "loan",
    "secured_loan": "loan",
    "leasing": "loan",
    "bond": "loan",
    "venture_loan": "equity",
    "equity_investment": "equity",
    "guarantee": "guaranteed",
    "tech_insurance": "guaranteed",
}
INSTRUMENT_WORDS: dict[str, tuple[str, str]] = {
    "loan": ("其他机构的贷款", "a loan from another institution"),
    "guaranteed": ("担保或保险增信产品", "a guaranteed or insured product"),
    "equity": ("股权或投贷联动", "equity or venture debt"),
    "subsidy": ("贷款贴息（免申即享）", "an interest subsidy, paid without application"),
}

#: per reason, the instruments tried first (the rest follow in the order of their fit scores)
PREFERRED: dict[str, tuple[str, ...]] = {
    "too_young": ("equity", "guaranteed"),
    "revenue_too_low": ("equity", "guaranteed"),
    "outside_fields": ("loan",),
    "amount_too_large": ("loan", "equity"),
    "risk": ("guaranteed", "equity"),
    "incomplete_documents": ("loan",),
    "other": (),
}

#: the most business days a deadline may lie ahead (a programme setting is 1 to 60)
MAX_DAYS = 60


def is_business_day(
    day: dt.date, holidays: Collection[dt.date] = (), workdays: Collection[dt.date] = ()
) -> bool:
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def deadline(
    start: dt.date,
    days: int,
    holidays: Collection[dt.date] = (),
    workdays: Collection[dt.date] = (),
) -> dt.date:
    """The `days`-th business day after `start` (a referral on Friday with 2 days: Tuesday)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    day, left = start, days
    while left:  # at most MAX_DAYS business days: a loop over days, bounded
        day += dt.timedelta(days=1)
        if is_business_day(day, holidays, workdays):
            left -= 1
    return day


def business_days_between(
    start: dt.date,
    end: dt.date,
    holidays: Collection[dt.date] = (),
    workdays: Collection[dt.date] = (),
) -> int:
    """Business days after `start` up to and including `end` (0 if `end` <= `start`)."""
    if end <= start:
        return 0
    span = np.arange(1, (end - start).days + 1)
    days = [start + dt.timedelta(days=int(d)) for d in span]
    return sum(is_business_day(d, holidays, workdays) for d in days)


def overdue(deadlines: np.ndarray, answered: np.ndarray, today: dt.date) -> np.ndarray:
    """Which referrals are overdue: not answered and their deadline (day numbers) before today."""
    day = (today - dt.date(1970, 1, 1)).days
    return (~answered) & (np.asarray(deadlines, dtype=np.int64) < day)


def check_decline(code: str, text: str | None) -> None:
    """A decline names a known reason; `other` carries a text."""
    if code not in DECLINE_REASONS:
        known = ", ".join(DECLINE_REASONS)
        raise ValueError(f"unknown decline reason {code!r}; one of: {known}")
    if code == "other" and not (text and text.strip()):
        raise ValueError("a decline for reason 'other' needs a text saying why")


@dataclass(frozen=True)
class Alternatives:
    order: np.ndarray  # indices into the candidate arrays, best first
    instruments: list[str]  # per index of `order`


def rematch_order(
    code: str,
    kinds: list[str],
    institutions: np.ndarray,
    scores: np.ndarray,
    amount_max: np.ndarray,
    excluded: Collection[int],
) -> Alternatives:
    """Order candidate products (their kinds, institution ids, fit scores and largest amounts)
    for a need declined for reason `code`, leaving out the institutions in `excluded` (the one
    that declined and those the need already went to). Instruments the reason points to come
    first; within them, the fit score (for `amount_too_large`, the largest amount) decides."""
    check_decline(code, "-")
    inst = np.asarray(institutions, dtype=np.int64)
    keep = ~np.isin(inst, np.fromiter(excluded, dtype=np.int64, count=len(excluded)))
    instrument = np.array([INSTRUMENTS.get(k, "loan") for k in kinds], dtype=object)
    preferred = PREFERRED[code]
    rank = np.full(inst.size, len(preferred), dtype=np.int64)
    for r, name in enumerate(preferred):  # a loop over at most 3 instruments
        rank[instrument == name] = r
    secondary = np.asarray(scores, dtype=np.float64)
    if code == "amount_too_large":
        secondary = np.nan_to_num(np.asarray(amount_max, dtype=np.float64), nan=np.inf)
    idx = np.flatnonzero(keep)
    order = idx[np.lexsort((idx, -secondary[idx], rank[idx]))]
    return Alternatives(order=order, instruments=[str(instrument[i]) for i in order])


@dataclass(frozen=True)
class SubsidyScheme:
    """A programme's interest subsidy as a re-match sees it: where and when the programme runs,
    the fields its commitments are earmarked for (empty: any field), its cooperating
    institutions, and the terms of its latest published subsidy (share of interest, rate cap and
    caps in yuan)."""

    programme_id: int
    code: str
    name: str
    zone_ids: frozenset[int]
    fields: frozenset[str]
    starts_on: dt.date
    ends_on: dt.date
    share: Decimal
    rate_cap: Decimal | None = None
    cap_per_loan: Decimal | None = None
    cap_per_enterprise_year: Decimal | None = None
    institution_ids: frozenset[int] = frozenset()


def qualifying_subsidies(
    zone_id: int | None, field: str | None, day: dt.date, schemes: Collection[SubsidyScheme]
) -> list[SubsidyScheme]:
    """The schemes a firm in zone `zone_id` and field `field` qualifies for on `day`: its zone is
    one the programme lists, the programme runs that day, and the programme's fields (if any)
    include the firm's. The largest share first, then the programme's id."""
    found = [
        s
        for s in schemes
        if zone_id is not None
        and zone_id in s.zone_ids
        and s.starts_on <= day <= s.ends_on
        and (not s.fields or field in s.fields)
    ]
    return sorted(found, key=lambda s: (-s.share, s.programme_id))


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


def subsidy_words(scheme: SubsidyScheme) -> tuple[str, str]:
    """An offered subsidy in Chinese and English, with its terms."""
    share = _percent(scheme.share)
    zh = f"{scheme.name}：贷款利息的 {share} 由计划补贴（免申即享）"
    en = f"{scheme.name}: {share} of a loan's interest paid back by the programme"
    if scheme.rate_cap is not None:
        cap = _percent(scheme.rate_cap)
        zh += f"，利率 {cap} 以内部分"
        en += f", on interest up to {cap} a year"
    return zh, en
