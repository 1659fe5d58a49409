"""The programme funnel (对接漏斗): needs → referrals → responses → approvals → credit lines →
drawdowns, with the median time to a response and to credit and the reasons for declines.

Built on matching's tables (needs and their referrals, each step dated) and the ledger's (the
credit line an approval names, the loans drawn on it). `funnel_summary` is the plain function the
reports, the API and the CLI call; it returns frozen dataclasses.

Who sees what (the disclosure rule of the access policy):

* officers (admin, programme and zone officers) see the programme's whole funnel and every
  institution's row; without a programme, a provincial or zone officer counts the needs of the
  firms in its jurisdiction, the admin and the national office every need;
* an institution officer sees its own institution's (and branches') rows in full, and the
  funnel of the whole programme only as an anonymous aggregate: each step's count and amount is
  shown only when enough firms contribute to it and none dominates it
  (`kernel.disclosure.disclosable`; a hidden cell is None);
* enterprise users are not let in (the policy's ``monitor:funnel``).

Meetings at matchmaking events (the events room) run beside referrals: ``meetings`` counts the
meetings of each event's announced schedule (the programme's events, or every event the caller's
reach covers) and what came of them (`events.models.MeetingOutcome`), under the same rule.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from innofin.access.policy import institution_limited, officer_enterprise_scope
from innofin.db.queries import visible
from innofin.events.models import OUTCOMES, Event, EventSchedule, Meeting, MeetingOutcome
from innofin.kernel.disclosure import CellStats, DisclosureRule, disclosable
from innofin.kernel.principal import Principal
from innofin.ledger.models import CreditLine, Loan, Programme
from innofin.ledger.scopes import programme_scope
from innofin.matching.models import FinancingNeed, NeedReferral
from innofin.matching.referrals.engine import DECLINE_REASONS
from innofin.registry.models import Enterprise, Institution

#: the funnel's steps, in order
STEPS = ("needs", "referred", "answered", "opted_in", "approved", "credit_lines", "drawn")
STEP_NAMES: dict[str, tuple[str, str]] = {
    "needs": ("融资需求", "needs"),
    "referred": ("推荐对接", "referred"),
    "answered": ("已响应", "answered"),
    "opted_in": ("有意向", "opted in"),
    "approved": ("已审批", "approved"),
    "credit_lines": ("已授信", "credit lines"),
    "drawn": ("已放款", "drawn"),
}
ZERO = Decimal(0)


@dataclass(frozen=True)
class MeetingOutcomes:
    """Meetings of the announced schedules of matchmaking events and what came of them:
    ``by_outcome`` counts follow-ups, agreements, credit lines, no interest and no-shows (None:
    hidden by the disclosure rule, as every count here for an institution with too few firms)."""

    events: int
    meetings: int | None
    enterprises: int | None
    agreements: int | None
    by_outcome: dict[str, int | None]


@dataclass(frozen=True)
class FunnelStep:
    """One step: how many (needs, referrals, lines, loans), of how many firms, for how much
    (asked for, credit limit, principal drawn). None: hidden by the disclosure rule."""

    step: str
    count: int | None
    enterprises: int | None
    amount: Decimal | None

    @property
    def name_zh(self) -> str:
        return STEP_NAMES[self.step][0]

    @property
    def name_en(self) -> str:
        return STEP_NAMES[self.step][1]


@dataclass(frozen=True)
class InstitutionFunnel:
    """One institution's referrals through the funnel."""

    institution_id: int
    institution_name: str
    referred: int
    answered: int
    opted_in: int
    approved: int
    declined: int
    credit_lines: int
    drawn: int
    drawn_amount: Decimal
    overdue: int
    median_days_to_response: float | None
    median_days_to_credit: float | None
    declines: dict[str, int]
    #: meetings at matchmaking events (announced schedules) in the same reach
    meetings: int = 0


@dataclass(frozen=True)
class FunnelSummary:
    """A programme's funnel (or the platform's, with no programme) as the caller may see it.

    ``own_only``: the caller is an institution; ``institutions`` are its own, and the steps,
    medians and declines are anonymous aggregates under the disclosure rule (None: hidden).
    ``median_days_to_response`` runs from the referral to the answer; ``…_to_credit`` from the
    referral to the first drawdown on the credit line the approval names (China Standard Time
    days); ``…_to_approval`` to the approval with a credit line."""

    programme_id: int | None
    as_of: dt.datetime
    own_only: bool
    steps: tuple[FunnelStep, ...]
    median_days_to_response: float | None
    median_days_to_approval: float | None
    median_days_to_credit: float | None
    declines: dict[str, int | None]
    institutions: tuple[InstitutionFunnel, ...]
    meetings: MeetingOutcomes | None = None
    notes: tuple[str, ...] = field(default=())

    def step(self, name: str) -> FunnelStep:
        return next(s for s in self.steps if s.step == name)

    def conversion(self, numerator: str, denominator: str = "referred") -> float | None:
        a, b = self.step(numerator).count, self.step(denominator).count
        return None if a is None or not b else round(a / b, 4)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Referral:
    institution_id: int
    enterprise_id: int
    status: str
    referred_at: dt.datetime
    deadline: dt.date
    responded_at: dt.datetime | None
    approved_at: dt.datetime | None
    declined_at: dt.datetime | None
    decline_code: str | None
    credit_line_id: int | None
    opted_in: bool


def china_day(at: dt.datetime) -> dt.date:
    """The calendar day in China Standard Time (UTC+8) of a UTC time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return (at.astimezone(dt.UTC) + dt.timedelta(hours=8)).date()


def _days(a: dt.datetime, b: dt.datetime) -> float:
    if a.tzinfo is None:
        a = a.replace(tzinfo=dt.UTC)
    if b.tzinfo is None:
        b = b.replace(tzinfo=dt.UTC)
    return (b - a).total_seconds() / 86400


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def programme_of(session: Session, p: Principal, programme_id: int | None) -> Programme | None:
    """The programme the caller asks for, if it may see it (else 404, as if none existed)."""
    if programme_id is None:
        return None
    return visible(session, Programme, programme_id, programme_scope(p), "programme")


def need_filter(session: Session, programme: Programme | None, p: Principal) -> Any:
    """The needs counted: a programme's (posted under it, or under none by a firm in one of its
    zones), else every need the caller's reach covers (officers' jurisdiction; everything for
    the admin, the national office and, as an aggregate, institutions)."""
    if programme is not None:
        clauses: list[ColumnElement[bool]] = [FinancingNeed.programme_id == programme.id]
        if programme.zone_ids:
            in_zones = select(Enterprise.id).where(Enterprise.zone_id.in_(programme.zone_ids))
            clauses.append(
                FinancingNeed.programme_id.is_(None) & FinancingNeed.enterprise_id.in_(in_zones)
            )
        return or_(*clauses)
    if p.is_admin or p.is_national or institution_limited(p):
        return true()
    officer = officer_enterprise_scope(p)
    firms = select(Enterprise.id).where(or_(*officer)) if officer else None
    return FinancingNeed.enterprise_id.in_(firms) if firms is not None else true()


def _read(
    session: Session, where: Any
) -> tuple[list[tuple[int, Decimal]], list[_Referral], dict[int, tuple[Decimal, bool]]]:
    needs = [
        (e, a)
        for e, a in session.execute(
            select(FinancingNeed.enterprise_id, FinancingNeed.amount).where(where)
        ).all()
    ]
    rows = session.execute(
        select(NeedReferral, FinancingNeed.enterprise_id)
        .join(FinancingNeed, FinancingNeed.id == NeedReferral.need_id)
        .where(where)
        .order_by(NeedReferral.id)
    ).all()
    referrals = [
        _Referral(
            institution_id=r.institution_id,
            enterprise_id=ent,
            status=r.status,
            referred_at=r.referred_at,
            deadline=r.deadline,
            responded_at=r.responded_at,
            approved_at=r.approved_at,
            declined_at=r.declined_at,
            decline_code=r.decline_code,
            credit_line_id=r.credit_line_id,
            # an answer that was not a decline, or a decline after opting in
            opted_in=r.responded_at is not None
            and (r.status != "declined" or r.responded_at != r.declined_at),
        )
        for r, ent in rows
    ]
    line_ids = sorted({r.credit_line_id for r in referrals if r.credit_line_id is not None})
    lines: dict[int, tuple[Decimal, bool]] = {}
    if line_ids:
        for lid, limit, status in session.execute(
            select(CreditLine.id, CreditLine.limit_amount, CreditLine.status).where(
                CreditLine.id.in_(line_ids)
            )
        ).all():
            lines[lid] = (limit, status == "approved")
    return needs, referrals, lines


def _drawdowns(session: Session, line_ids: Sequence[int]) -> dict[int, tuple[dt.date, Decimal]]:
    """Each credit line's first drawdown day and the principal drawn on it."""
    out: dict[int, tuple[dt.date, Decimal]] = {}
    if not line_ids:
        return out
    for lid, on, amount in session.execute(
        select(Loan.credit_line_id, Loan.drawn_on, Loan.principal).where(
            Loan.credit_line_id.in_(list(line_ids))
        )
    ).all():
        first, total = out.get(lid, (on, ZERO))
        out[lid] = (min(first, on), total + amount)
    return out


@dataclass(frozen=True)
class _Meetings:
    events: int
    #: (enterprise, institution) of every meeting of the events' announced schedules
    pairs: tuple[tuple[int, int], ...]
    #: (enterprise, outcome) of the outcomes recorded for those meetings
    outcomes: tuple[tuple[int, str], ...]


def _meetings(session: Session, programme: Programme | None, p: Principal) -> _Meetings:
    """The meetings of the programme's events (or of every event, within an officer's
    jurisdiction) in each event's latest announced schedule, and their recorded outcomes."""
    events = select(Event.id)
    if programme is not None:
        events = events.where(Event.programme_id == programme.id)
    latest = (
        select(func.max(EventSchedule.id))
        .where(EventSchedule.status == "announced", EventSchedule.event_id.in_(events))
        .group_by(EventSchedule.event_id)
    )
    stmt = select(Meeting.enterprise_id, Meeting.institution_id, Meeting.event_id).where(
        Meeting.schedule_id.in_(latest)
    )
    if programme is None and not (p.is_admin or p.is_national or institution_limited(p)):
        officer = officer_enterprise_scope(p)
        if officer:
            stmt = stmt.where(Meeting.enterprise_id.in_(select(Enterprise.id).where(or_(*officer))))
    rows = session.execute(stmt).all()
    pairs = {(int(e), int(i)): int(ev) for e, i, ev in rows}
    outcomes = session.execute(
        select(
            MeetingOutcome.enterprise_id,
            MeetingOutcome.institution_id,
            MeetingOutcome.event_id,
            MeetingOutcome.outcome,
        ).where(MeetingOutcome.event_id.in_(set(pairs.values())))
    ).all()
    kept = tuple(
        (int(e), str(kind)) for e, i, ev, kind in outcomes if pairs.get((int(e), int(i))) == ev
    )
    return _Meetings(len(set(pairs.values())), tuple(pairs), kept)


def _meeting_outcomes(met: _Meetings, rule: DisclosureRule | None) -> MeetingOutcomes | None:
    if not met.events:
        return None
    one = Decimal(1)
    per_firm: dict[int, Decimal] = {}
    for firm, _bank in met.pairs:
        _add(per_firm, firm, one)
    meetings, firms, _ = _cell(len(met.pairs), per_firm, rule)
    by_outcome: dict[str, int | None] = {}
    for kind in OUTCOMES:
        firms_of: dict[int, Decimal] = {}
        for firm, k in met.outcomes:
            if k == kind:
                _add(firms_of, firm, one)
        count = sum(1 for _, k in met.outcomes if k == kind)
        by_outcome[kind] = _cell(count, firms_of, rule)[0]
    return MeetingOutcomes(met.events, meetings, firms, by_outcome["agreement"], by_outcome)


# --------------------------------------------------------------------------- computing


def _cell(
    count: int, per_firm: dict[int, Decimal], rule: DisclosureRule | None
) -> tuple[int | None, int | None, Decimal | None]:
    """A step's count, firms and amount; under a rule, hidden (None) unless disclosable — the
    count by the firms' counts, the amount by their amounts."""
    firms = len(per_firm)
    amount = sum(per_firm.values(), ZERO)
    if rule is None:
        return count, firms, amount
    shown = disclosable(CellStats.of(per_firm.values()), rule) or (count == 0 and firms == 0)
    return (count, firms, amount) if shown else (None, None, None)


def _add(into: dict[int, Decimal], firm: int, amount: Decimal) -> None:
    into[firm] = into.get(firm, ZERO) + amount


def _steps(
    needs: list[tuple[int, Decimal]],
    refs: list[_Referral],
    lines: dict[int, tuple[Decimal, bool]],
    drawn: dict[int, tuple[dt.date, Decimal]],
    rule: DisclosureRule | None,
) -> tuple[FunnelStep, ...]:
    per: dict[str, dict[int, Decimal]] = {s: {} for s in STEPS}
    counts = dict.fromkeys(STEPS, 0)
    for firm, asked in needs:
        _add(per["needs"], firm, asked)
        counts["needs"] += 1
    one = Decimal(1)
    for r in refs:
        passed = {
            "referred": True,
            "answered": r.responded_at is not None,
            "opted_in": r.opted_in,
            "approved": r.approved_at is not None,
        }
        for step, yes in passed.items():
            if yes:
                _add(per[step], r.enterprise_id, one)
                counts[step] += 1
        line = lines.get(r.credit_line_id) if r.credit_line_id is not None else None
        if line is not None and line[1]:
            _add(per["credit_lines"], r.enterprise_id, line[0])
            counts["credit_lines"] += 1
            if r.credit_line_id in drawn:
                _add(per["drawn"], r.enterprise_id, drawn[r.credit_line_id][1])
                counts["drawn"] += 1
    out = []
    for step in STEPS:
        count, firms, amount = _cell(counts[step], per[step], rule)
        # counts of referrals carry no amount; needs, lines and drawdowns do
        money = step in ("needs", "credit_lines", "drawn")
        out.append(FunnelStep(step, count, firms, amount if money else None))
    return tuple(out)


#: days from a referral to a step, each with the firm it is about
Times = list[tuple[float, int]]


def _times(
    refs: Sequence[_Referral], drawn: dict[int, tuple[dt.date, Decimal]]
) -> tuple[Times, Times, Times]:
    response = [
        (_days(r.referred_at, r.responded_at), r.enterprise_id) for r in refs if r.responded_at
    ]
    approval = [
        (_days(r.referred_at, r.approved_at), r.enterprise_id)
        for r in refs
        if r.approved_at is not None and r.credit_line_id is not None
    ]
    credit = [
        (float((drawn[r.credit_line_id][0] - china_day(r.referred_at)).days), r.enterprise_id)
        for r in refs
        if r.credit_line_id is not None and r.credit_line_id in drawn
    ]
    return response, approval, credit


def _institution_rows(
    session: Session,
    refs: list[_Referral],
    lines: dict[int, tuple[Decimal, bool]],
    drawn: dict[int, tuple[dt.date, Decimal]],
    today: dt.date,
    only: frozenset[int] | None,
    met: _Meetings,
) -> tuple[InstitutionFunnel, ...]:
    by_inst: dict[int, list[_Referral]] = {}
    for r in refs:
        if only is None or r.institution_id in only:
            by_inst.setdefault(r.institution_id, []).append(r)
    meetings: dict[int, int] = {}
    for _firm, bank in met.pairs:
        if only is None or bank in only:
            meetings[bank] = meetings.get(bank, 0) + 1
            by_inst.setdefault(bank, [])
    names = dict(
        session.execute(
            select(Institution.id, Institution.name).where(Institution.id.in_(list(by_inst)))
        ).all()
    )
    out = []
    for inst, rows in sorted(by_inst.items()):
        response, _, credit = _times(rows, drawn)
        declines: dict[str, int] = {}
        for r in rows:
            if r.status == "declined" and r.decline_code:
                declines[r.decline_code] = declines.get(r.decline_code, 0) + 1
        with_line = [
            r
            for r in rows
            if r.credit_line_id is not None and lines.get(r.credit_line_id, (0, 0))[1]
        ]
        drew = [r for r in with_line if r.credit_line_id in drawn]
        out.append(
            InstitutionFunnel(
                institution_id=inst,
                institution_name=names.get(inst, str(inst)),
                referred=len(rows),
                answered=sum(r.responded_at is not None for r in rows),
                opted_in=sum(r.opted_in for r in rows),
                approved=sum(r.approved_at is not None for r in rows),
                declined=sum(r.status == "declined" for r in rows),
                credit_lines=len(with_line),
                drawn=len(drew),
                drawn_amount=sum(
                    (drawn[r.credit_line_id][1] for r in drew if r.credit_line_id is not None),
                    ZERO,
                ),
                overdue=sum(r.status == "referred" and r.deadline < today for r in rows),
                median_days_to_response=_median([d for d, _ in response]),
                median_days_to_credit=_median([d for d, _ in credit]),
                declines=dict(sorted(declines.items())),
                meetings=meetings.get(inst, 0),
            )
        )
    return tuple(out)


def _declines(refs: Sequence[_Referral], rule: DisclosureRule | None) -> dict[str, int | None]:
    per_code: dict[str, dict[int, Decimal]] = {}
    counts: dict[str, int] = {}
    for r in refs:
        if r.status == "declined" and r.decline_code:
            _add(per_code.setdefault(r.decline_code, {}), r.enterprise_id, Decimal(1))
            counts[r.decline_code] = counts.get(r.decline_code, 0) + 1
    out: dict[str, int | None] = {}
    for code in sorted(
        counts,
        key=lambda c: (
            (list(DECLINE_REASONS).index(c), c)
            if c in DECLINE_REASONS
            else (len(DECLINE_REASONS), c)
        ),
    ):
        count, _, _ = _cell(counts[code], per_code[code], rule)
        out[code] = count
    return out


def _aggregate_median(times: Times, rule: DisclosureRule | None) -> float | None:
    """A median over many firms' referrals, shown under a rule only with enough firms (a
    median is no sum: no firm dominates it, but a few firms' times would be theirs)."""
    if rule is not None and len({firm for _, firm in times}) < rule.min_contributors:
        return None
    return _median([d for d, _ in times])


def funnel_summary(
    session: Session,
    principal: Principal,
    programme_id: int | None = None,
    *,
    rule: DisclosureRule | None = None,
    at: dt.datetime | None = None,
) -> FunnelSummary:
    """The funnel of a programme (or of every need the caller reaches), as the caller may see
    it; `rule` is the disclosure rule of anonymous aggregates (the settings' in the API)."""
    at = at or dt.datetime.now(dt.UTC)
    rule = rule or DisclosureRule()
    programme = programme_of(session, principal, programme_id)
    needs, refs, lines = _read(session, need_filter(session, programme, principal))
    drawn = _drawdowns(session, sorted(lines))
    limited = institution_limited(principal)
    aggregate_rule = rule if limited else None
    response, approval, credit = _times(refs, drawn)
    met = _meetings(session, programme, principal)
    notes: tuple[str, ...] = ()
    if limited:
        notes = (
            "the funnel of every institution is an anonymous aggregate: a figure is shown only "
            f"with at least {rule.min_contributors} firms and none dominating it",
        )
    return FunnelSummary(
        programme_id=programme_id,
        as_of=at,
        own_only=limited,
        steps=_steps(needs, refs, lines, drawn, aggregate_rule),
        median_days_to_response=_aggregate_median(response, aggregate_rule),
        median_days_to_approval=_aggregate_median(approval, aggregate_rule),
        median_days_to_credit=_aggregate_median(credit, aggregate_rule),
        declines=_declines(refs, aggregate_rule),
        institutions=_institution_rows(
            session,
            refs,
            lines,
            drawn,
            china_day(at),
            principal.institution_ids if limited else None,
            met,
        ),
        meetings=_meeting_outcomes(met, aggregate_rule),
        notes=notes,
    )
