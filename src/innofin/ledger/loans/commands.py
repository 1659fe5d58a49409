"""`innofin ledger loan|repay|reverse`: a loan's balances and schedule, a repayment, the
correction of an event by its reversal. Registered on the `innofin ledger` group itself
(`innofin.ledger.commands`), so the command names are those of the group.
"""

from __future__ import annotations

import datetime as dt

import typer

from innofin.cli_support import UNIT, console, engine, table
from innofin.kernel.errors import NotFound
from innofin.kernel.money import format_amount, parse_unit_option
from innofin.ledger.cli_options import KEY, REASON
from innofin.ledger.cli_options import amount_arg as _amount
from innofin.ledger.cli_options import day_arg as _day


def show_loan(
    loan_id: int = typer.Argument(help="The loan's id."),
    as_of: str = typer.Option(None, "--as-of", help="Days past due on this date (default today)."),
    unit: str | None = UNIT,
) -> None:
    """A loan's balances, class, days past due and its planned schedule."""
    from sqlalchemy import select

    from innofin.db.engine import unit_of_work
    from innofin.ledger.loans import service
    from innofin.ledger.models import Loan, LoanInstalment

    day = _day(as_of, "as-of") if as_of else dt.date.today()
    chosen = parse_unit_option(unit)
    eng = engine()
    try:
        with unit_of_work(eng) as session:
            loan = session.get(Loan, loan_id)
            if loan is None:
                raise NotFound(f"loan {loan_id} does not exist")
            dpd = service.days_past_due(session, loan, day)
            plan = session.scalars(
                select(LoanInstalment)
                .where(LoanInstalment.loan_id == loan_id)
                .order_by(LoanInstalment.seq)
            ).all()
            console.print(
                f"loan {loan.id} ({loan.external_ref}), {loan.method}, {loan.day_count}, "
                f"rate {loan.annual_rate:%}: drawn {format_amount(loan.principal)} on "
                f"{loan.drawn_on}, outstanding {format_amount(loan.outstanding_principal)}, "
                f"interest paid {format_amount(loan.interest_paid)}, status {loan.status}, "
                f"class {loan.category}, {dpd} days past due on {day}"
            )
            console.print(
                table(
                    "planned schedule",
                    ("#", "due", "principal", "interest"),
                    [(i.seq, i.due_on, i.principal, i.interest) for i in plan],
                    money=("principal", "interest"),
                    unit=chosen,
                )
            )
    finally:
        eng.dispose()


def repay(
    loan_id: int = typer.Argument(help="The loan's id."),
    principal: str = typer.Option("0", "--principal", help="Principal repaid, e.g. 10000.00."),
    interest: str = typer.Option("0", "--interest", help="Interest paid."),
    paid_on: str = typer.Option(..., "--on", help="The date paid, YYYY-MM-DD."),
    key: str = KEY,
    reason: str = REASON,
) -> None:
    """Record a repayment (exit 2 if it exceeds the outstanding principal; nothing is written)."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.journal import perform
    from innofin.ledger.loans import service

    actor = Actor.cli(reason)
    p, i, day = _amount(principal, "principal"), _amount(interest, "interest"), _day(paid_on, "on")
    eng = engine()
    try:
        ev = perform(
            eng,
            lambda s: service.repay(
                s, actor, loan_id, principal=p, interest=i, paid_on=day, key=key
            ),
            actor,
        )
    finally:
        eng.dispose()
    console.print(f"event {ev.id}: loan {ev.entity_id} repaid {format_amount(p)} + {i} interest")


def reverse(
    event_id: int = typer.Argument(help="The event to undo (a repayment, write-off, recovery)."),
    reason: str = typer.Option(..., "--reason", help="Why the event was wrong (required)."),
    key: str = KEY,
) -> None:
    """Correct an event by a reversing event; history is never rewritten."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.journal import perform
    from innofin.ledger.loans import service

    actor = Actor.cli(reason)
    eng = engine()
    try:
        ev = perform(eng, lambda s: service.reverse(s, actor, event_id, key=key), actor)
    finally:
        eng.dispose()
    console.print(f"event {ev.id}: {ev.kind} of event {event_id}")
