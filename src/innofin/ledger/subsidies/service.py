"""Interest subsidies paid without application (免申即享).

From the loans' own data the ledger computes each subsidy (`engine.compute_subsidy`: a
share of the interest paid in the period, capped by rate, loan and enterprise-year), publishes
the list for a notice period (公示) during which anyone may object, lets the enterprise confirm
once the notice has passed without a standing objection, then pays. Every step is an event.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput
from innofin.ledger.journal import ZERO, locked, record_event
from innofin.ledger.models import (
    InterestSubsidy,
    LedgerEvent,
    Loan,
)
from innofin.ledger.queries import programme_lines
from innofin.ledger.subsidies import engine


def programme_loans(programme_id: int) -> Select[Any]:
    """The ids of a programme's loans: those on its credit lines (`queries.line_programme`:
    entered for it, else drawing on a commitment of one of its agreements, else covered by one
    of its risk pools)."""
    return select(Loan.id).where(Loan.credit_line_id.in_(programme_lines(programme_id)))


def _interest_in(
    session: Session, start: dt.date, end: dt.date, loans: Select[Any] | None = None
) -> dict[int, Decimal]:
    """Interest paid per loan between `start` and `end` (repayments less their reversals), for
    the loans `loans` selects (every loan when None)."""
    e = LedgerEvent
    signed = case((e.kind == "repaid", e.interest), else_=-e.interest)
    stmt = select(e.entity_id, func.sum(signed)).where(
        e.entity == "loan",
        e.kind.in_(("repaid", "repaid_reversed")),
        e.effective_on >= start,
        e.effective_on <= end,
    )
    if loans is not None:
        stmt = stmt.where(e.entity_id.in_(loans))
    rows = session.execute(stmt.group_by(e.entity_id)).all()
    out: dict[int, Decimal] = {}
    for loan_id, total in rows:
        if isinstance(total, int) and session.get_bind().dialect.name == "sqlite":
            total = Decimal(total).scaleb(-2)  # a raw sum of fen
        out[loan_id] = Decimal(total or 0).quantize(ZERO)
    return out


def publish(
    session: Session,
    actor: Actor,
    *,
    programme: str,
    rules: engine.SubsidyRules,
    period_start: dt.date,
    period_end: dt.date,
    published_on: dt.date,
    notice_days: int = 7,
    among: Select[Any] | None = None,
) -> list[InterestSubsidy]:
    """Compute and publish the subsidies of a period for every loan that paid interest in it
    (of the loans whose ids `among` selects, such as `programme_loans`; every loan when
    None)."""
    if period_end < period_start:
        raise InvalidInput("period_end is before period_start", field="period_end")
    if notice_days < 1:
        raise InvalidInput("the notice period is at least one day", field="notice_days")
    taken = select(InterestSubsidy.id).where(
        InterestSubsidy.programme == programme,
        InterestSubsidy.period_start == period_start,
        InterestSubsidy.period_end == period_end,
    )
    if session.scalars(taken).first() is not None:
        raise Conflict(f"subsidies of {programme} for {period_start}–{period_end} exist already")
    interest = _interest_in(session, period_start, period_end, among)
    loans = session.scalars(select(Loan).where(Loan.id.in_(list(interest)))).all()
    earlier = session.execute(
        select(
            InterestSubsidy.loan_id,
            InterestSubsidy.enterprise_id,
            InterestSubsidy.period_end,
            InterestSubsidy.amount,
        ).where(InterestSubsidy.programme == programme, InterestSubsidy.status != "withdrawn")
    ).all()
    per_loan: dict[int, Decimal] = {}  # over the loan's life
    paid_this_year: dict[int, Decimal] = {}  # per enterprise, in the period's year
    for loan_id, enterprise_id, ended, amount in earlier:
        per_loan[loan_id] = per_loan.get(loan_id, ZERO) + amount
        if ended.year == period_end.year:
            paid_this_year[enterprise_id] = paid_this_year.get(enterprise_id, ZERO) + amount
    out = []
    for loan in sorted(loans, key=lambda x: x.id):
        got = engine.compute_subsidy(
            rules,
            interest[loan.id],
            None,
            loan.annual_rate,
            already_paid_for_loan=per_loan.get(loan.id, ZERO),
            already_paid_to_enterprise_this_year=paid_this_year.get(loan.enterprise_id, ZERO),
        )
        if not got.eligible or got.amount <= 0:
            continue
        paid_this_year[loan.enterprise_id] = (
            paid_this_year.get(loan.enterprise_id, ZERO) + got.amount
        )
        subsidy = InterestSubsidy(
            programme=programme,
            loan_id=loan.id,
            enterprise_id=loan.enterprise_id,
            period_start=period_start,
            period_end=period_end,
            interest_paid=interest[loan.id],
            amount=got.amount,
            assessment={
                "rules": rules.model_dump(mode="json"),
                "result": got.model_dump(mode="json"),
            },
            status="published",
            notice_until=published_on + dt.timedelta(days=notice_days),
            created_at=now(),
        )
        session.add(subsidy)
        session.flush()
        record_event(
            session, actor, "subsidy", subsidy.id, "subsidy_published", published_on,
            amount=got.amount, loan_id=loan.id, notice_until=subsidy.notice_until,
        )  # fmt: skip
        out.append(subsidy)
    return out


def object_to(
    session: Session, actor: Actor, subsidy_id: int, *, text: str, on: dt.date
) -> InterestSubsidy:
    """An objection lodged during the notice period holds the subsidy until it is resolved."""
    s = locked(session, InterestSubsidy, subsidy_id, "subsidy")
    if s.status != "published":
        raise Conflict(f"subsidy {s.id} is {s.status}; objections are to published subsidies")
    if on > s.notice_until:
        raise Conflict(f"the notice period of subsidy {s.id} ended on {s.notice_until}")
    if not text.strip():
        raise InvalidInput("an objection says what is wrong", field="text")
    s.status, s.objection = "objected", text.strip()[:500]
    record_event(session, actor, "subsidy", s.id, "subsidy_objected", on, text=s.objection)
    return s


def resolve(
    session: Session, actor: Actor, subsidy_id: int, *, upheld: bool, on: dt.date
) -> InterestSubsidy:
    """An officer's decision on an objection: upheld withdraws the subsidy, dismissed lets it
    go on."""
    s = locked(session, InterestSubsidy, subsidy_id, "subsidy")
    if s.status != "objected":
        raise Conflict(f"subsidy {s.id} has no objection to resolve")
    s.status = "withdrawn" if upheld else "published"
    kind = "objection_upheld" if upheld else "objection_dismissed"
    record_event(session, actor, "subsidy", s.id, kind, on)
    return s


def confirm(
    session: Session, actor: Actor, subsidy_id: int, *, enterprise_id: int, on: dt.date
) -> InterestSubsidy:
    """The enterprise confirms its subsidy once the notice period has passed."""
    s = locked(session, InterestSubsidy, subsidy_id, "subsidy")
    if s.enterprise_id != enterprise_id:
        raise Forbidden(f"subsidy {s.id} is another enterprise's")
    if s.status != "published":
        raise Conflict(f"subsidy {s.id} is {s.status}; only published subsidies are confirmed")
    if on <= s.notice_until:
        raise Conflict(f"subsidy {s.id} is under public notice until {s.notice_until}")
    s.status = "confirmed"
    record_event(session, actor, "subsidy", s.id, "subsidy_confirmed", on)
    return s


def pay(session: Session, actor: Actor, subsidy_id: int, *, on: dt.date) -> InterestSubsidy:
    s = locked(session, InterestSubsidy, subsidy_id, "subsidy")
    if s.status != "confirmed":
        raise Conflict(f"subsidy {s.id} is {s.status}; only confirmed subsidies are paid")
    s.status = "paid"
    record_event(session, actor, "subsidy", s.id, "subsidy_paid", on, amount=s.amount)
    return s
