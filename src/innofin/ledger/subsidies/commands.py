"""`innofin ledger subsidy publish|confirm|pay|list`: interest subsidies without application
(免申即享), thin wrappers over the subsidies' service.

Every write runs in a unit of work of its own as the CLI's actor (``cli:<account>``), so it is
audited. Exit codes as for every command: 2 invalid input, 3 not found, 4 conflict, 5 not
allowed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from innofin.cli_support import UNIT, console
from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import AmountUnit, format_amount, parse_unit_option
from innofin.ledger.cli_options import (
    MAX_ID,
    ON,
    REASON,
    amount_arg,
    day_arg,
    day_or_today,
    money_table,
    programme_by_ref,
    read,
    run,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from innofin.ledger.models import InterestSubsidy
    from innofin.ledger.subsidies import engine

SUBSIDY_STATUSES = ("published", "objected", "withdrawn", "confirmed", "paid")

subsidy_app = typer.Typer(
    help="Interest subsidies without application (免申即享): publish, confirm, pay, list.",
    no_args_is_help=True,
)

_RULE_OPTIONS = {
    "share": "share",
    "rate_cap": "rate-cap",
    "cap_per_loan": "cap-per-loan",
    "cap_per_enterprise_year": "cap-per-enterprise-year",
}


def _subsidy_rules(**given: str | None) -> engine.SubsidyRules:
    from pydantic import ValidationError

    from innofin.ledger.subsidies import engine

    values: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    for name in ("cap_per_loan", "cap_per_enterprise_year"):
        if name in values:
            values[name] = amount_arg(values[name], _RULE_OPTIONS[name])
    try:
        return engine.SubsidyRules(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = _RULE_OPTIONS.get(str(first["loc"][0]), str(first["loc"][0]))
        raise InvalidInput(f"--{option}: {first['msg']}", field=option) from None


def _subsidy_rows(rows: Sequence[InterestSubsidy], unit: AmountUnit | None = None) -> Table:
    return money_table(
        "subsidies",
        ("id", "programme", "loan", "enterprise", "period", "interest", "amount", "status",
         "notice until"),
        [(x.id, x.programme, x.loan_id, x.enterprise_id, f"{x.period_start}–{x.period_end}",
          x.interest_paid, x.amount, x.status, x.notice_until) for x in rows],
        unit,
    )  # fmt: skip


@subsidy_app.command("publish")
def publish(
    programme: str = typer.Option(..., "--programme", help="The programme's id or code."),
    start: str = typer.Option(..., "--from", help="The period's first day, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="The period's last day, YYYY-MM-DD."),
    share: str = typer.Option(
        ..., "--share", help="The share of the subsidisable interest paid back, e.g. 0.5."
    ),
    rate_cap: str = typer.Option(
        None, "--rate-cap", help="Subsidise interest only up to this annual rate (0.0345)."
    ),
    cap_per_loan: str = typer.Option(None, "--cap-per-loan", help="Most per loan, in yuan."),
    cap_per_enterprise_year: str = typer.Option(
        None, "--cap-per-enterprise-year", help="Most per enterprise and year, in yuan."
    ),
    notice_days: int = typer.Option(7, "--notice-days", min=1, help="Days of public notice."),
    on: str = typer.Option(None, "--on", help="The day of publication (default today)."),
    reason: str = REASON,
    unit: str | None = UNIT,
) -> None:
    """Compute a period's subsidies for the programme's loans (on lines entered for it,
    drawing on its agreements' commitments or covered by its pools) and publish them for
    public notice (exit 4 when the period is published already)."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.subsidies import service as subsidies

    actor = Actor.cli(reason)
    chosen = parse_unit_option(unit)
    first, last = day_arg(start, "from"), day_arg(end, "to")
    published_on = day_or_today(on, "on")
    rules = _subsidy_rules(
        share=share,
        rate_cap=rate_cap,
        cap_per_loan=cap_per_loan,
        cap_per_enterprise_year=cap_per_enterprise_year,
    )

    def act(s: Session) -> None:
        prog = programme_by_ref(s, programme)
        made = subsidies.publish(
            s, actor, programme=prog.code, rules=rules, period_start=first, period_end=last,
            published_on=published_on, notice_days=notice_days,
            among=subsidies.programme_loans(prog.id),
        )  # fmt: skip
        console.print(_subsidy_rows(made, chosen))
        total = sum((x.amount for x in made), Decimal("0.00"))
        console.print(
            f"{len(made)} subsidies of {prog.code} for {first}–{last} published, "
            f"{format_amount(total)} in all"
        )

    run(act, actor, {"period_end": "to", "notice_days": "notice-days"})


@subsidy_app.command("list")
def list_subsidies(
    programme: str = typer.Option(None, "--programme", help="Only this programme (id or code)."),
    status: str = typer.Option(None, "--status", help=f"One of {', '.join(SUBSIDY_STATUSES)}."),
    as_json: bool = typer.Option(False, "--json", help="Print the subsidies as JSON lines."),
    unit: str | None = UNIT,
) -> None:
    """Subsidies, newest period first."""
    chosen = parse_unit_option(unit)
    from sqlalchemy import select

    from innofin.audit.recorder import jsonable
    from innofin.ledger.models import InterestSubsidy

    if status is not None and status not in SUBSIDY_STATUSES:
        raise InvalidInput(
            f"--status must be one of {', '.join(SUBSIDY_STATUSES)}, not {status!r}",
            field="status",
        )

    def use(s: Session) -> None:
        stmt = select(InterestSubsidy)
        if programme is not None:
            stmt = stmt.where(InterestSubsidy.programme == programme_by_ref(s, programme).code)
        if status is not None:
            stmt = stmt.where(InterestSubsidy.status == status)
        rows = s.scalars(stmt.order_by(InterestSubsidy.period_end.desc(), InterestSubsidy.id)).all()
        if not as_json:
            console.print(_subsidy_rows(rows, chosen))
            return
        for x in rows:
            row = {
                "id": x.id, "programme": x.programme, "loan_id": x.loan_id,
                "enterprise_id": x.enterprise_id, "period_start": x.period_start,
                "period_end": x.period_end, "interest_paid": x.interest_paid,
                "amount": x.amount, "status": x.status, "notice_until": x.notice_until,
                "objection": x.objection,
            }  # fmt: skip
            typer.echo(json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False))

    read(use)


@subsidy_app.command("confirm")
def confirm(
    subsidy_id: int = typer.Argument(help="The published subsidy.", min=1, max=MAX_ID),
    enterprise: int = typer.Option(
        ...,
        "--enterprise",
        help="The id of the enterprise confirming (the subsidy's own).",
        min=1,
        max=MAX_ID,
    ),
    on: str = ON,
    reason: str = REASON,
) -> None:
    """Confirm a subsidy for its enterprise once its notice period has passed."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.subsidies import service as subsidies

    actor = Actor.cli(reason)
    day = day_or_today(on, "on")
    done = run(
        lambda s: subsidies.confirm(s, actor, subsidy_id, enterprise_id=enterprise, on=day),
        actor,
    )
    console.print(f"subsidy {done.id}: confirmed, {format_amount(done.amount)}")


@subsidy_app.command("pay")
def pay(
    subsidy_id: int = typer.Argument(help="The confirmed subsidy.", min=1, max=MAX_ID),
    on: str = ON,
    reason: str = REASON,
) -> None:
    """Pay a confirmed subsidy."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.subsidies import service as subsidies

    actor = Actor.cli(reason)
    day = day_or_today(on, "on")
    done = run(lambda s: subsidies.pay(s, actor, subsidy_id, on=day), actor)
    console.print(f"subsidy {done.id}: paid {format_amount(done.amount)} on {day}")
