"""`innofin match post|needs`: post a financing need on an enterprise's behalf, list needs.

Exit codes: 0 done; 2 invalid input (an option named); 3 an enterprise that does not exist.
"""

from __future__ import annotations

import typer

from innofin.cli_support import console, engine, table
from innofin.kernel.codes import NeedPurpose
from innofin.ledger.cli_options import REASON, amount_arg, day_arg

COLLATERAL_HELP = "Collateral the firm can offer (repeat): ip_pledge, receivables, real_estate, "
COLLATERAL_HELP += "guarantee, equity_pledge. None given: pure credit only."


def post(
    enterprise_id: int = typer.Argument(..., help="The enterprise the need is for."),
    amount: str = typer.Option(..., help="Amount in yuan (e.g. 2000000 or 2,000,000)."),
    term: int = typer.Option(..., min=1, max=600, help="Term in months."),
    purpose: NeedPurpose = typer.Option(..., help="What the money is for."),
    needed_by: str = typer.Option(..., help="By when the money is needed (YYYY-MM-DD)."),
    max_rate: str | None = typer.Option(None, help="Most the firm will pay, % a year."),
    collateral: list[str] = typer.Option([], help=COLLATERAL_HELP),
    equity: bool = typer.Option(False, help="Equity financing is acceptable."),
    note: str | None = typer.Option(None, help="A note for the lenders (at most 500 chars)."),
    reason: str | None = REASON,
) -> None:
    """Post a financing need for an enterprise (as an officer on its behalf)."""
    from pydantic import ValidationError

    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.kernel.errors import InvalidInput
    from innofin.matching.needs import service
    from innofin.matching.schemas import NeedCreate
    from innofin.matching.scopes import OPERATOR

    try:
        body = NeedCreate.model_validate(
            {
                "enterprise_id": enterprise_id,
                "amount": str(amount_arg(amount, "amount")),
                "term_months": term,
                "purpose": purpose,
                "max_rate": max_rate,
                "collateral_offered": collateral,
                "equity_acceptable": equity,
                "needed_by": day_arg(needed_by, "needed-by").isoformat(),
                "note": note,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).replace("_", "-") if first["loc"] else "input"
        raise InvalidInput(f"--{name}: {first['msg']}", field=name) from None
    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=Actor.cli(reason)) as session:
            row = service.post_need(session, OPERATOR, body)
            need_id = row.id
    finally:
        eng.dispose()
    console.print(f"posted financing need {need_id} for enterprise {enterprise_id}")


def needs(
    enterprise_id: int | None = typer.Option(None, "--enterprise", help="One enterprise's."),
    status: str | None = typer.Option(None, help="open, referred, funded, withdrawn, expired."),
    limit: int = typer.Option(20, min=1, help="How many to list (newest first)."),
) -> None:
    """List financing needs."""
    from innofin.db.engine import unit_of_work
    from innofin.matching import queries
    from innofin.matching.models import FinancingNeed
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            stmt = queries.needs_query(OPERATOR, enterprise_id, status)
            rows = session.scalars(stmt.order_by(FinancingNeed.id.desc()).limit(limit)).all()
            data = [
                (r.id, r.enterprise_id, r.amount, f"{r.term_months}", r.purpose, r.status,
                 r.needed_by.isoformat())
                for r in rows
            ]  # fmt: skip
    finally:
        eng.dispose()
    console.print(
        table(
            "Financing needs 融资需求",
            ("need", "enterprise", "amount", "months", "purpose", "status", "needed by"),
            data,
            money=("amount",),
        )
    )
