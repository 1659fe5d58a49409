"""Institution scorecards (机构评价): per institution, how fast it answers referrals, how often
it approves them (by the firm's technology field and size band), how much of its credit goes
through points-based products (创新积分贷), and how often its loans default.

`scorecards` is the plain function the reports, the API and the CLI call. Figures:

* response — referrals received, answered, the median days from referral to answer, and those
  past their deadline without an answer;
* approval rate — approved ÷ decided (approved or declined) referrals; by cell of the firm's
  field × size band (revenue in its latest report: matching's bands);
* points share — the share of its credit lines' limits (and count) under a product of kind
  ``points_loan``;
* default rate — defaulted ÷ drawn loans, by count and by principal; a loan counts as defaulted
  when it has a default date or a non-performing class (substandard, doubtful, loss).

Who sees what (the disclosure rule): officers see every institution's card; an institution
officer sees only its own institution's (and branches') cards and, for the others, one anonymous
`PeerAggregate` whose figures are shown only when enough institutions contribute and none
dominates (`kernel.disclosure.disclosable` over each institution's denominator). In every card
but the caller's own, a field × size cell of the approval rate is shown only with enough firms
in it (a cell of one or two firms would tell their outcome).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from innofin.access.policy import institution_limited
from innofin.kernel.disclosure import CellStats, DisclosureRule, disclosable
from innofin.kernel.principal import Principal
from innofin.ledger.models import CreditLine, Loan
from innofin.ledger.queries import line_programme, programme_lines
from innofin.matching.models import FinancingNeed, NeedReferral
from innofin.matching.recommend import track_engine
from innofin.monitoring.funnel.service import china_day, need_filter, programme_of
from innofin.registry.models import Enterprise, IndicatorReport, Institution, Product

ZERO = Decimal(0)
NON_PERFORMING = ("substandard", "doubtful", "loss")
POINTS_KIND = "points_loan"
#: size band codes (-1: no revenue reported) and their names (matching's bands)
SIZE_BAND_NAMES: dict[int, tuple[str, str]] = {
    -1: ("营收未报", "revenue not reported"),
    **dict(enumerate(track_engine.SIZE_BAND_NAMES)),
}


@dataclass(frozen=True)
class ApprovalCell:
    """Approvals of one field × size band: None where hidden (too few firms)."""

    tech_field: str | None
    size_band: int
    decided: int | None
    approved: int | None
    rate: float | None


@dataclass(frozen=True)
class Scorecard:
    institution_id: int
    institution_name: str
    referred: int
    answered: int
    overdue: int
    median_days_to_response: float | None
    decided: int
    approved: int
    approval_rate: float | None
    approval_by_cell: tuple[ApprovalCell, ...]
    credit_lines: int
    credit_limit: Decimal
    points_lines: int
    points_limit: Decimal
    points_share: float | None  # by limit
    loans: int
    drawn: Decimal
    defaulted_loans: int
    defaulted_principal: Decimal
    default_rate: float | None  # by count
    default_rate_amount: float | None  # by principal


@dataclass(frozen=True)
class PeerAggregate:
    """Every other institution's figures pooled, anonymous (None: hidden by the rule)."""

    institutions: int
    median_days_to_response: float | None
    approval_rate: float | None
    points_share: float | None
    default_rate: float | None
    default_rate_amount: float | None


@dataclass(frozen=True)
class Scorecards:
    programme_id: int | None
    as_of: dt.datetime
    own_only: bool
    cards: tuple[Scorecard, ...]
    #: an institution: every other institution pooled; officers: every institution pooled
    peers: PeerAggregate


def _rate(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


@dataclass
class _Acc:
    referred: int = 0
    answered: int = 0
    overdue: int = 0
    decided: int = 0
    approved: int = 0
    lines: int = 0
    limit: Decimal = ZERO
    points_lines: int = 0
    points_limit: Decimal = ZERO
    loans: int = 0
    drawn: Decimal = ZERO
    bad_loans: int = 0
    bad_principal: Decimal = ZERO

    def __post_init__(self) -> None:
        self.response: list[float] = []
        #: (field, size) → [decided, approved, firms]
        self.cells: dict[tuple[str | None, int], tuple[int, int, set[int]]] = {}


def _sizes(session: Session, firms: Iterable[int]) -> dict[int, int]:
    """Each firm's size band by the revenue of its latest report that has one."""
    ids = sorted(set(firms))
    if not ids:
        return {}
    latest = (
        select(IndicatorReport.enterprise_id, func.max(IndicatorReport.year).label("year"))
        .where(IndicatorReport.revenue.is_not(None), IndicatorReport.enterprise_id.in_(ids))
        .group_by(IndicatorReport.enterprise_id)
        .subquery()
    )
    rows = session.execute(
        select(IndicatorReport.enterprise_id, IndicatorReport.revenue).join(
            latest,
            (latest.c.enterprise_id == IndicatorReport.enterprise_id)
            & (latest.c.year == IndicatorReport.year),
        )
    ).all()
    revenue = {e: float(r) for e, r in rows if r is not None}
    bands = track_engine.size_band(np.array([revenue.get(e, np.nan) for e in ids]))
    return {e: int(b) for e, b in zip(ids, bands, strict=True)}


def _referrals(session: Session, where: Any, accs: dict[int, _Acc], today: dt.date) -> None:
    rows = session.execute(
        select(
            NeedReferral.institution_id,
            FinancingNeed.enterprise_id,
            Enterprise.tech_field,
            NeedReferral.status,
            NeedReferral.referred_at,
            NeedReferral.responded_at,
            NeedReferral.approved_at,
            NeedReferral.deadline,
        )
        .join(FinancingNeed, FinancingNeed.id == NeedReferral.need_id)
        .join(Enterprise, Enterprise.id == FinancingNeed.enterprise_id)
        .where(where)
    ).all()
    sizes = _sizes(session, (r[1] for r in rows))
    for inst, firm, tech, status, referred_at, responded_at, approved_at, deadline in rows:
        a = accs.setdefault(inst, _Acc())
        a.referred += 1
        if responded_at is not None:
            a.answered += 1
            ra = referred_at if referred_at.tzinfo else referred_at.replace(tzinfo=dt.UTC)
            rb = responded_at if responded_at.tzinfo else responded_at.replace(tzinfo=dt.UTC)
            a.response.append((rb - ra).total_seconds() / 86400)
        if status == "referred" and deadline < today:
            a.overdue += 1
        approved = approved_at is not None
        if approved or status == "declined":
            a.decided += 1
            a.approved += approved
            key = (tech, sizes.get(firm, -1))
            decided, yes, firms = a.cells.get(key, (0, 0, set()))
            a.cells[key] = (decided + 1, yes + approved, firms | {firm})


def _lines(session: Session, programme_id: int | None, accs: dict[int, _Acc]) -> None:
    stmt = (
        select(CreditLine.institution_id, CreditLine.limit_amount, Product.kind)
        .outerjoin(Product, Product.id == CreditLine.product_id)
        .where(CreditLine.status.in_(("approved", "closed")))
    )
    if programme_id is not None:
        stmt = stmt.where(line_programme() == programme_id)
    for inst, limit, kind in session.execute(stmt).all():
        a = accs.setdefault(inst, _Acc())
        a.lines += 1
        a.limit += limit
        if kind == POINTS_KIND:
            a.points_lines += 1
            a.points_limit += limit


def _loans(session: Session, programme_id: int | None, accs: dict[int, _Acc]) -> None:
    bad = or_(Loan.defaulted_on.is_not(None), Loan.category.in_(NON_PERFORMING))
    stmt = select(
        Loan.institution_id,
        func.count(),
        func.sum(Loan.principal),
        func.sum(case((bad, 1), else_=0)),
        func.sum(case((bad, Loan.principal), else_=0)),
    ).group_by(Loan.institution_id)
    if programme_id is not None:
        stmt = stmt.where(Loan.credit_line_id.in_(programme_lines(programme_id)))
    for inst, n, principal, n_bad, bad_principal in session.execute(stmt).all():
        a = accs.setdefault(inst, _Acc())
        a.loans += int(n)
        a.drawn += Decimal(principal or 0)
        a.bad_loans += int(n_bad or 0)
        a.bad_principal += Decimal(bad_principal or 0)


def _cells(a: _Acc, rule: DisclosureRule | None) -> tuple[ApprovalCell, ...]:
    out = []
    for (tech, size), (decided, approved, firms) in sorted(
        a.cells.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
    ):
        if rule is not None and len(firms) < rule.min_contributors:
            out.append(ApprovalCell(tech, size, None, None, None))
        else:
            out.append(ApprovalCell(tech, size, decided, approved, _rate(approved, decided)))
    return tuple(out)


def _card(inst: int, name: str, a: _Acc, rule: DisclosureRule | None) -> Scorecard:
    return Scorecard(
        institution_id=inst,
        institution_name=name,
        referred=a.referred,
        answered=a.answered,
        overdue=a.overdue,
        median_days_to_response=round(statistics.median(a.response), 3) if a.response else None,
        decided=a.decided,
        approved=a.approved,
        approval_rate=_rate(a.approved, a.decided),
        approval_by_cell=_cells(a, rule),
        credit_lines=a.lines,
        credit_limit=a.limit,
        points_lines=a.points_lines,
        points_limit=a.points_limit,
        points_share=_rate(float(a.points_limit), float(a.limit)),
        loans=a.loans,
        drawn=a.drawn,
        defaulted_loans=a.bad_loans,
        defaulted_principal=a.bad_principal,
        default_rate=_rate(a.bad_loans, a.loans),
        default_rate_amount=_rate(float(a.bad_principal), float(a.drawn)),
    )


def _shown(sizes: Sequence[Decimal], rule: DisclosureRule | None) -> bool:
    """Whether a pooled figure over institutions whose denominators are `sizes` may be shown."""
    present = [s for s in sizes if s > 0]
    return rule is None or disclosable(CellStats.of(present), rule)


def _peers(accs: Sequence[_Acc], rule: DisclosureRule | None) -> PeerAggregate:
    def pooled(num: Sequence[Decimal], den: Sequence[Decimal]) -> float | None:
        if not _shown(den, rule):
            return None
        return _rate(float(sum(num, ZERO)), float(sum(den, ZERO)))

    answered = [Decimal(len(a.response)) for a in accs]
    times = [t for a in accs for t in a.response]
    return PeerAggregate(
        institutions=len(accs),
        median_days_to_response=(
            round(statistics.median(times), 3) if times and _shown(answered, rule) else None
        ),
        approval_rate=pooled(
            [Decimal(a.approved) for a in accs], [Decimal(a.decided) for a in accs]
        ),
        points_share=pooled([a.points_limit for a in accs], [a.limit for a in accs]),
        default_rate=pooled([Decimal(a.bad_loans) for a in accs], [Decimal(a.loans) for a in accs]),
        default_rate_amount=pooled([a.bad_principal for a in accs], [a.drawn for a in accs]),
    )


def scorecards(
    session: Session,
    principal: Principal,
    programme_id: int | None = None,
    *,
    rule: DisclosureRule | None = None,
    at: dt.datetime | None = None,
) -> Scorecards:
    """Every institution's scorecard in a programme (or over the whole ledger), as the caller
    may see it; `rule` is the disclosure rule of anonymous aggregates."""
    at = at or dt.datetime.now(dt.UTC)
    rule = rule or DisclosureRule()
    programme = programme_of(session, principal, programme_id)
    accs: dict[int, _Acc] = {}
    _referrals(session, need_filter(session, programme, principal), accs, china_day(at))
    _lines(session, programme_id, accs)
    _loans(session, programme_id, accs)
    limited = institution_limited(principal)
    own = principal.institution_ids if limited else frozenset(accs)
    names = dict(
        session.execute(
            select(Institution.id, Institution.name).where(Institution.id.in_(sorted(accs)))
        ).all()
    )
    cards = tuple(
        _card(
            inst,
            names.get(inst, str(inst)),
            accs[inst],
            None if inst in principal.institution_ids else rule,
        )
        for inst in sorted(accs)
        if inst in own
    )
    others = [a for inst, a in sorted(accs.items()) if not (limited and inst in own)]
    return Scorecards(
        programme_id=programme_id,
        as_of=at,
        own_only=limited,
        cards=cards,
        peers=_peers(others, rule if limited else None),
    )
