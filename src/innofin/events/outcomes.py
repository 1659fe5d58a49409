"""After the event: what came of each meeting, and the event's report.

An outcome is recorded per pair (firm, institution) that met at the event — follow-up,
agreement, credit line, no interest (with a reason), no-show — by the organiser or the
institution; a credit line outcome names the ledger's line once it is granted (a line of that
institution, or one of its branches, to that firm). The report counts, by institution, the
meetings scheduled and held, agreements signed, and the credit lines granted to the firms met
within 30 and 90 days of the event (lines the outcome names, and any other approved line of the
same institution tree to a firm it met — nobody links every line, so both are counted, and the
linked ones are shown apart). `event_report` is the function monitoring's funnel calls.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.events import scopes
from innofin.events.models import Event, EventInstitution, Meeting, MeetingOutcome
from innofin.events.scheduling.service import current_schedule
from innofin.events.schemas import EventReport, OutcomeIn, ReportRow
from innofin.events.service import event, is_organiser, label, now
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.ledger.models import CreditLine
from innofin.registry.models import Institution

#: a credit line counts as following the event when it opens within these days of it
WINDOWS = (30, 90)
GRANTED = ("approved", "closed")


def outcomes_query(p: Principal, event_id: int) -> Select[MeetingOutcome]:
    return (
        select(MeetingOutcome)
        .where(MeetingOutcome.event_id == event_id, scopes.meeting_scope(p, MeetingOutcome))
        .order_by(MeetingOutcome.id)
    )


def _tree(session: Session, institution_id: int) -> set[int]:
    """The institution and its branches (a head office's desk may lead to a branch's line)."""
    kids = session.scalars(select(Institution.id).where(Institution.parent_id == institution_id))
    return {institution_id, *(int(k) for k in kids)}


def record_outcome(
    session: Session, p: Principal, event_id: int, body: OutcomeIn, at: dt.datetime | None = None
) -> MeetingOutcome:
    """Record (or correct) the outcome of one pair's meeting at the event."""
    event(session, p, event_id)
    sched = current_schedule(session, event_id)
    met = (
        None
        if sched is None
        else session.scalar(
            select(Meeting.id).where(
                Meeting.schedule_id == sched.id,
                Meeting.enterprise_id == body.enterprise_id,
                Meeting.institution_id == body.institution_id,
                scopes.meeting_scope(p, Meeting),
            )
        )
    )
    if met is None:
        raise NotFound(
            f"enterprise {body.enterprise_id} has no announced meeting with institution "
            f"{body.institution_id} at event {event_id}"
        )
    organiser = is_organiser(session, p, event_id)
    if not organiser and body.institution_id not in p.institution_ids:
        raise Forbidden("the institution or the organiser records a meeting's outcome")
    if body.outcome == "no_interest" and body.reason_code is None:
        raise InvalidInput("no interest needs a reason (reason_code)", field="reason_code")
    if body.reason_code == "other" and not body.reason_text:
        raise InvalidInput("reason 'other' needs reason_text", field="reason_text")
    if body.credit_line_id is not None:
        if body.outcome != "credit_line":
            raise InvalidInput("only a credit_line outcome names a credit line", field="outcome")
        line = session.get(CreditLine, body.credit_line_id)
        if (
            line is None
            or line.enterprise_id != body.enterprise_id
            or line.institution_id not in _tree(session, body.institution_id)
        ):
            raise NotFound(
                f"no credit line {body.credit_line_id} of institution {body.institution_id} "
                f"to enterprise {body.enterprise_id}"
            )
        if line.status not in GRANTED:
            raise Conflict(
                f"credit line {line.id} is {line.status}: link it once it is granted",
            )
    row = session.scalar(
        select(MeetingOutcome).where(
            MeetingOutcome.event_id == event_id,
            MeetingOutcome.enterprise_id == body.enterprise_id,
            MeetingOutcome.institution_id == body.institution_id,
        )
    )
    values = body.model_dump()
    if row is None:
        row = MeetingOutcome(
            event_id=event_id, **values, recorded_by=label(p), recorded_at=at or now()
        )
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.recorded_by, row.recorded_at = label(p), at or now()
    session.flush()
    return row


def event_report(
    session: Session, event_id: int, institution_ids: frozenset[int] | None = None
) -> EventReport:
    """The event's results by institution (`institution_ids`: only these rows, as an institution
    sees its own): meetings scheduled in the announced schedule and held (those without a
    no-show), outcomes, and credit granted to the firms met within 30 and 90 days."""
    ev = session.get(Event, event_id)
    if ev is None:
        raise NotFound(f"no event {event_id}")
    sched = current_schedule(session, event_id)
    pairs: dict[int, set[int]] = defaultdict(set)
    if sched is not None:
        for firm, bank in session.execute(
            select(Meeting.enterprise_id, Meeting.institution_id).where(
                Meeting.schedule_id == sched.id
            )
        ):
            pairs[int(bank)].add(int(firm))
    outcome: dict[tuple[int, int], MeetingOutcome] = {
        (o.institution_id, o.enterprise_id): o
        for o in session.scalars(select(MeetingOutcome).where(MeetingOutcome.event_id == event_id))
    }
    banks = session.execute(
        select(EventInstitution.institution_id, Institution.name)
        .join(Institution, Institution.id == EventInstitution.institution_id)
        .where(EventInstitution.event_id == event_id)
        .order_by(EventInstitution.institution_id)
    ).all()
    rows: list[ReportRow] = []
    for bank, name in banks:
        if institution_ids is not None and bank not in institution_ids:
            continue
        met = pairs.get(bank, set())
        mine = [o for (b, _f), o in outcome.items() if b == bank]
        kinds = [o.outcome for o in mine if o.enterprise_id in met]
        linked = {o.credit_line_id for o in mine if o.credit_line_id is not None}
        lines = _lines_after(session, ev.held_on, _tree(session, bank), met) if met else []
        counts: dict[int, tuple[int, Decimal]] = {}
        for days in WINDOWS:
            within = [x for x in lines if (x.opens_on - ev.held_on).days <= days]
            counts[days] = (len(within), sum((x.limit_amount for x in within), Decimal(0)))
        rows.append(
            ReportRow(
                institution_id=bank,
                institution_name=name,
                meetings_scheduled=len(met),
                meetings_held=len(met) - kinds.count("no_show"),
                no_shows=kinds.count("no_show"),
                follow_ups=kinds.count("follow_up"),
                agreements=kinds.count("agreement"),
                no_interest=kinds.count("no_interest"),
                credit_lines_30d=counts[30][0],
                credit_30d=counts[30][1],
                credit_lines_90d=counts[90][0],
                credit_90d=counts[90][1],
                linked_credit_lines=len(linked),
            )
        )
    return EventReport(
        event_id=event_id,
        held_on=ev.held_on,
        institutions=rows,
        meetings_scheduled=sum(r.meetings_scheduled for r in rows),
        meetings_held=sum(r.meetings_held for r in rows),
        agreements=sum(r.agreements for r in rows),
        credit_lines_90d=sum(r.credit_lines_90d for r in rows),
        credit_90d=sum((r.credit_90d for r in rows), Decimal(0)),
    )


def _lines_after(
    session: Session, held_on: dt.date, tree: set[int], firms: set[int]
) -> list[CreditLine]:
    """Granted lines of the institution's tree to the firms it met, opening on the event's day
    or within the longest window after it."""
    last = held_on + dt.timedelta(days=max(WINDOWS))
    return list(
        session.scalars(
            select(CreditLine).where(
                CreditLine.institution_id.in_(sorted(tree)),
                CreditLine.enterprise_id.in_(sorted(firms)),
                CreditLine.status.in_(GRANTED),
                CreditLine.opens_on >= held_on,
                CreditLine.opens_on <= last,
            )
        )
    )


def report_for(session: Session, p: Principal, event_id: int) -> EventReport:
    """The report as the caller may see it: the organiser every institution's rows, an
    institution its own (and the totals of its own rows only)."""
    event(session, p, event_id)
    if is_organiser(session, p, event_id):
        return event_report(session, event_id)
    if p.institution_ids:
        return event_report(session, event_id, p.institution_ids)
    raise Forbidden("the event's report is its organiser's and each institution's own")
