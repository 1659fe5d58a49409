"""Loan arithmetic (pure): day counts, interest accrual, repayment schedules, days past due and
the five-category classification (五级分类).

Money is `Decimal` yuan end to end, quantised to the fen (0.01) with half-up rounding (四舍五入),
as in `innofin.kernel.money`; rates are `Decimal` annual rates (``Decimal("0.0345")`` = 3.45%).
No `float` is ever involved. Intermediate products and quotients are carried at 50 significant
digits and rounded to the fen once, at the end of each interest or payment computation.

Day counts (`DayCount`):

- ``ACT/360`` and ``ACT/365``: the actual number of days between the two dates, divided by 360 or
  365 (ACT/365 is "fixed": a leap year still divides by 365).
- ``30/360``: every month counts 30 days, with the simple day-31 rule and no US/NASD end-of-February
  rule: a day of month of 31 becomes 30, on either date (this is the 30E/360 "Eurobond" basis);
  days = 360·(y2 − y1) + 30·(m2 − m1) + (d2 − d1).

Interest over a period is computed as balance × rate × days ÷ denominator in one step, so the year
fraction is never rounded before it is applied.

Repayment methods (`RepaymentMethod`): 等额本息 ``equal_instalment``, 等额本金 ``equal_principal``,
按月付息到期还本 ``interest_bullet`` and 随借随还 ``revolving``; see `build_schedule`.

Five-category classification (`classify`): under the 2023 rule on risk classification of
financial assets (商业银行金融资产风险分类办法), an asset overdue at all is at least special mention
(关注), overdue more than 90 days at least substandard (次级), more than 270 days at least doubtful
(可疑) and more than 360 days loss (损失). The thresholds are configurable (`ClassificationRules`);
a bank may classify an asset worse than its days past due give, never better (the `floor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from itertools import pairwise
from typing import Final, Literal, cast, get_args

from innofin.kernel.errors import InvalidArgument
from innofin.kernel.money import FEN, money_arg
from innofin.kernel.periods import add_months

__all__ = [
    "CATEGORIES",
    "NON_PERFORMING",
    "Category",
    "ClassificationRules",
    "DayCount",
    "Instalment",
    "RepaymentMethod",
    "ScheduleInputError",
    "accrue",
    "build_schedule",
    "classify",
    "days_past_due",
    "year_fraction",
]

DayCount = Literal["ACT/360", "ACT/365", "30/360"]
RepaymentMethod = Literal["equal_instalment", "equal_principal", "interest_bullet", "revolving"]
Category = Literal["pass", "special_mention", "substandard", "doubtful", "loss"]

#: The five categories, best first: 正常, 关注, 次级, 可疑, 损失.
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
#: Non-performing loans (不良贷款): the last three categories.
NON_PERFORMING: Final[frozenset[Category]] = frozenset({"substandard", "doubtful", "loss"})

_DAY_COUNTS: Final[tuple[str, ...]] = get_args(DayCount)
_METHODS: Final[tuple[str, ...]] = get_args(RepaymentMethod)
_SEVERITY: Final[dict[str, int]] = {c: i for i, c in enumerate(CATEGORIES)}

#: Wide enough that nothing is rounded before the fen (amounts have at most 20 digits).
_CTX: Final = Context(prec=50, rounding=ROUND_HALF_UP)
_ZERO: Final = Decimal("0.00")


#: Bad input to the loan engine: the kernel's `InvalidArgument`, which its money checks
#: (`innofin.kernel.money.money_arg`) raise too — a `ValueError` (and an `InvalidInput`, so the
#: CLI and API report it like any user error) whose message starts with, and whose `field` is,
#: the name of the parameter at fault.
ScheduleInputError = InvalidArgument


def _fail(field: str, message: str) -> ScheduleInputError:
    return ScheduleInputError(f"{field} {message}", field=field)


# --- validation ---------------------------------------------------------------------------------


def _check_date(value: object, field: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise _fail(field, f"must be a datetime.date, got {value!r}")
    return value


def _check_decimal(value: object, field: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise _fail(field, f"must be a decimal.Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise _fail(field, f"must be finite, got {value!r}")
    return value


def _check_rate(value: object, field: str) -> Decimal:
    rate = _check_decimal(value, field)
    if rate < 0:
        raise _fail(field, f"must not be negative, got {rate}")
    return rate


def _check_basis(basis: object) -> DayCount:
    if basis not in _DAY_COUNTS:
        raise _fail("basis", f"must be one of {', '.join(_DAY_COUNTS)}, got {basis!r}")
    return cast(DayCount, basis)


def _check_period(start: object, end: object) -> tuple[date, date]:
    first = _check_date(start, "start")
    last = _check_date(end, "end")
    if last < first:
        raise _fail("end", f"must not be before start {first.isoformat()}, got {last.isoformat()}")
    return first, last


# --- day counts and accrual ---------------------------------------------------------------------


def _day_count(start: date, end: date, basis: DayCount) -> tuple[int, int]:
    """(days, days in a year) of the period under `basis`."""
    if basis == "30/360":
        d1 = min(start.day, 30)
        d2 = min(end.day, 30)
        days = 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)
        return days, 360
    return (end - start).days, 360 if basis == "ACT/360" else 365


def _interest(balance: Decimal, rate: Decimal, start: date, end: date, basis: DayCount) -> Decimal:
    days, year = _day_count(start, end, basis)
    # the context's own operations: the same arithmetic as inside localcontext(_CTX), without
    # entering and leaving a context for each of a schedule's instalments
    exact = _CTX.divide(_CTX.multiply(_CTX.multiply(balance, rate), days), year)
    return exact.quantize(FEN, context=_CTX)


def year_fraction(start: date, end: date, basis: DayCount) -> Decimal:
    """The length of [start, end] in years under `basis` (see the module docstring), carried to
    50 significant digits: ``year_fraction(date(2024, 1, 15), date(2024, 7, 15), "30/360")`` is
    ``0.5``."""
    first, last = _check_period(start, end)
    days, year = _day_count(first, last, _check_basis(basis))
    return _CTX.divide(Decimal(days), Decimal(year))


def accrue(
    balance: Decimal, rate: Decimal, start: date, end: date, basis: DayCount = "ACT/360"
) -> Decimal:
    """Simple interest on `balance` at the annual `rate` from `start` to `end`, rounded half-up to
    the fen: balance × rate × year_fraction(start, end, basis)."""
    amount = _check_decimal(balance, "balance")
    if amount < 0:
        raise _fail("balance", f"must not be negative, got {amount}")
    annual = _check_rate(rate, "rate")
    first, last = _check_period(start, end)
    return _interest(amount, annual, first, last, _check_basis(basis))


# --- schedules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instalment:
    """One row of a repayment schedule; amounts in yuan, to the fen."""

    seq: int  # 1-based
    due: date
    principal: Decimal
    interest: Decimal
    total: Decimal  # principal + interest
    remaining: Decimal  # principal outstanding after this instalment


def _level_payment(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """A = P·r(1+r)^n / ((1+r)^n − 1) with r = annual_rate / 12 (P / n when r = 0), to the fen."""
    with localcontext(_CTX):
        r = annual_rate / 12
        if r == 0:
            return (principal / months).quantize(FEN)
        growth = (1 + r) ** months
        return (principal * r * growth / (growth - 1)).quantize(FEN)


def build_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    start: date,
    months: int,
    method: RepaymentMethod,
    basis: DayCount = "ACT/360",
) -> tuple[Instalment, ...]:
    """The repayment schedule of a loan of `principal` yuan drawn on `start` for `months` months.

    Due dates fall monthly on the start's day of month, clamped to the last day of shorter months
    and always counted from the start (not from the previous due date): a loan drawn on Jan 31 is
    due on Feb 28/29, Mar 31, Apr 30, … The interest of each period is the principal outstanding
    during it × `annual_rate` × year_fraction(previous due date, due date, `basis`), rounded to
    the fen (the first period starts on `start`).

    - ``equal_principal`` (等额本金): each instalment repays principal / months rounded to the fen,
      and the last repays whatever remains. (When rounding up would repay more than is left —
      only for tiny principals over many months — an instalment repays just what is left.)
    - ``interest_bullet`` (按月付息到期还本): interest monthly; all the principal on the last.
    - ``equal_instalment`` (等额本息): the level payment A = P·r(1+r)^n / ((1+r)^n − 1), with
      r = annual_rate / 12 and n = months (A = P / n at rate 0), rounded to the fen. Each
      instalment's interest follows the day count as above and its principal is A − interest, so
      every instalment but the last totals A exactly. The last instalment repays whatever
      principal remains, plus its interest, so its total may differ from A by some fen under
      30/360. Under ACT/360 the day-count months average 365.25/360 of a twelfth of a year, so
      interest runs ahead of the annuity's and the last instalment grows into a balloon over long
      terms (about 3% of the principal for 30 years at 4.35%); use 30/360 to keep the instalments
      level. Where a period's interest exceeds A (long terms at high rates under ACT/360) the
      instalment is that interest alone: principal never increases. Principal never exceeds what
      is outstanding.
    - ``revolving`` (随借随还): no fixed principal instalments. The schedule is a single row at
      maturity (start + months) with the whole principal and the interest of the whole term on
      it, principal × rate × year_fraction(start, maturity, basis) — the cost of keeping the full
      line drawn. In practice revolving interest is accrued on the drawn balance day by day, or
      between each drawing and repayment, with `accrue`.

    Invariants: the principals sum to `principal` exactly, `remaining` never increases, is never
    negative and is 0 after the last instalment, and every interest is ≥ 0.

    Raises `ScheduleInputError` (a `ValueError`) naming the parameter for a principal that is not
    a positive `Decimal` of whole fen, a negative or non-`Decimal` rate, months < 1, a start that
    is not a date, or an unknown method or basis.
    """
    # positive, whole fen (never rounded) and within NUMERIC(20,2): the one money policy
    amount = money_arg(_check_decimal(principal, "principal"), "principal")
    rate = _check_rate(annual_rate, "annual_rate")
    first = _check_date(start, "start")
    if isinstance(months, bool) or not isinstance(months, int):
        raise _fail("months", f"must be an integer, got {months!r}")
    if months < 1:
        raise _fail("months", f"must be at least 1, got {months}")
    if (first.month - 1 + months) // 12 + first.year > date.max.year:
        raise _fail("months", f"takes the maturity past the year {date.max.year}, got {months}")
    if method not in _METHODS:
        raise _fail("method", f"must be one of {', '.join(_METHODS)}, got {method!r}")
    day_count = _check_basis(basis)

    if method == "revolving":
        maturity = add_months(first, months)
        interest = _interest(amount, rate, first, maturity, day_count)
        total = _CTX.add(amount, interest)
        return (Instalment(1, maturity, amount, interest, total, _ZERO),)

    if method == "equal_principal":
        level = _CTX.divide(amount, Decimal(months)).quantize(FEN, context=_CTX)
    elif method == "equal_instalment":
        level = _level_payment(amount, rate, months)
    else:
        level = _ZERO

    rows: list[Instalment] = []
    remaining = amount
    previous = first
    with localcontext(_CTX):  # exact fen arithmetic whatever the caller's context
        for seq in range(1, months + 1):
            due = add_months(first, seq)
            interest = _interest(remaining, rate, previous, due, day_count)
            if seq == months:
                part = remaining
            elif method == "equal_principal":
                part = min(level, remaining)
            elif method == "equal_instalment":
                part = min(max(level - interest, _ZERO), remaining)
            else:  # interest_bullet
                part = _ZERO
            remaining -= part
            rows.append(Instalment(seq, due, part, interest, part + interest, remaining))
            previous = due
    return tuple(rows)


# --- days past due and the five-category classification -----------------------------------------


def days_past_due(
    schedule: Sequence[Instalment],
    paid_principal_and_interest_by_date: Sequence[tuple[date, Decimal]],
    as_of: date,
) -> int:
    """Days past due on `as_of`: the days from the due date of the oldest instalment not fully
    paid by `as_of` to `as_of`, or 0 when nothing due before `as_of` is unpaid.

    The payments made on or before `as_of` (principal and interest together, as (date, yuan)
    pairs) are applied to the instalments' totals in order of due date, the oldest first; payments
    after `as_of` do not count. An instalment due on `as_of` itself or later is not overdue.
    """
    today = _check_date(as_of, "as_of")
    field = "paid_principal_and_interest_by_date"
    paid = Decimal(0)
    for item in paid_principal_and_interest_by_date:
        if not isinstance(item, tuple) or len(item) != 2:
            raise _fail(field, f"must hold (date, Decimal) pairs, got {item!r}")
        when = _check_date(item[0], field)
        amount = _check_decimal(item[1], field)
        if amount < 0:
            raise _fail(field, f"must not hold a negative payment, got {amount} on {when}")
        if when <= today:
            paid = _CTX.add(paid, amount)
    rows = list(schedule)
    for row in rows:
        if not isinstance(row, Instalment):
            raise _fail("schedule", f"must hold Instalment rows, got {row!r}")
    for row in sorted(rows, key=lambda r: (r.due, r.seq)):
        if paid >= row.total:
            paid = _CTX.subtract(paid, row.total)
            continue
        return max((today - row.due).days, 0)
    return 0


_THRESHOLDS: Final = ("special_mention_after", "substandard_after", "doubtful_after", "loss_after")


def _check_thresholds(values: Mapping[str, object], given: frozenset[str]) -> dict[str, int]:
    """Whole numbers, the first ≥ 0, strictly increasing; an error names a key from `given`."""
    days: dict[str, int] = {}
    for key in _THRESHOLDS:
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(key, f"must be a whole number of days, got {value!r}")
        days[key] = value
    first = _THRESHOLDS[0]
    if days[first] < 0:
        raise _fail(first, f"must not be negative, got {days[first]}")
    for lower, upper in pairwise(_THRESHOLDS):
        if days[upper] <= days[lower]:
            key = upper if upper in given or lower not in given else lower
            raise _fail(
                key,
                f"thresholds must increase: {upper} ({days[upper]}) must be greater than "
                f"{lower} ({days[lower]})",
            )
    return days


@dataclass(frozen=True)
class ClassificationRules:
    """Days-past-due thresholds of the five categories: more than `special_mention_after` days
    past due is at least special mention, more than `substandard_after` at least substandard, more
    than `doubtful_after` at least doubtful, more than `loss_after` loss. The defaults follow the
    2023 rule on risk classification of financial assets (any overdue day, 90, 270, 360)."""

    special_mention_after: int = 0
    substandard_after: int = 90
    doubtful_after: int = 270
    loss_after: int = 360

    def __post_init__(self) -> None:
        _check_thresholds({f.name: getattr(self, f.name) for f in fields(self)}, frozenset())

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> ClassificationRules:
        """Rules from configuration, e.g. ``{"substandard_after": 60}``; missing keys keep their
        defaults. Refuses unknown keys, non-integers, a negative first threshold and thresholds
        that do not increase, with a `ScheduleInputError` (a `ValueError`) naming the key."""
        if not isinstance(mapping, Mapping):
            raise _fail("mapping", f"must be a mapping, got {type(mapping).__name__}")
        for key in mapping:
            if key not in _THRESHOLDS:
                raise _fail(str(key), f"is not a threshold: use {', '.join(_THRESHOLDS)}")
        defaults = cls()
        values = {key: mapping.get(key, getattr(defaults, key)) for key in _THRESHOLDS}
        return cls(**_check_thresholds(values, frozenset(mapping)))


def classify(
    days_past_due: int,
    rules: ClassificationRules = ClassificationRules(),
    floor: Category | None = None,
) -> Category:
    """The five-category class of a loan `days_past_due` days overdue under `rules`.

    `floor` is a manual downgrade: the result is the worse of `floor` and the class the days past
    due give, so a bank may classify a loan worse than the rule, never better.
    """
    if isinstance(days_past_due, bool) or not isinstance(days_past_due, int):
        raise _fail("days_past_due", f"must be an integer, got {days_past_due!r}")
    if days_past_due < 0:
        raise _fail("days_past_due", f"must not be negative, got {days_past_due}")
    if not isinstance(rules, ClassificationRules):
        raise _fail("rules", f"must be ClassificationRules, got {type(rules).__name__}")
    if floor is not None and floor not in _SEVERITY:
        raise _fail("floor", f"must be one of {', '.join(CATEGORIES)} or None, got {floor!r}")
    category: Category
    if days_past_due > rules.loss_after:
        category = "loss"
    elif days_past_due > rules.doubtful_after:
        category = "doubtful"
    elif days_past_due > rules.substandard_after:
        category = "substandard"
    elif days_past_due > rules.special_mention_after:
        category = "special_mention"
    else:
        category = "pass"
    if floor is not None and _SEVERITY[floor] > _SEVERITY[category]:
        return floor
    return category
