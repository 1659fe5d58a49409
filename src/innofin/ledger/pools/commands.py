"""`innofin ledger pool show|contribute` and `claim file|decide|pay`: thin wrappers over the
pools' service.

Every write runs in a unit of work of its own as the CLI's actor (``cli:<account>``), so it is
audited and, with ``--key``, safe to retry. A claim is decided by another account than the
one that filed it (maker-checker: exit 5). Exit codes as for every command: 2 invalid input,
3 not found, 4 conflict, 5 not allowed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import typer

from innofin.cli_support import UNIT, console
from innofin.kernel.errors import NotFound
from innofin.kernel.money import format_amount, parse_unit_option
from innofin.ledger.cli_options import (
    KEY,
    MAX_ID,
    ON,
    REASON,
    amount_arg,
    day_or_today,
    money_table,
    read,
    run,
    shown,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from innofin.ledger.models import PoolClaim

pool_app = typer.Typer(
    help="Risk-compensation pools: balances, positions, contributions.", no_args_is_help=True
)
claim_app = typer.Typer(
    help="Claims on a risk pool: file (the bank), decide (another account), pay.",
    no_args_is_help=True,
)


@pool_app.command("show")
def show_pool(
    pool_id: int = typer.Argument(help="The pool's id.", min=1, max=MAX_ID),
    unit: str | None = UNIT,
) -> None:
    """A pool's balances, leverage headroom, each contributor's position and its claims."""
    chosen = parse_unit_option(unit)
    from sqlalchemy import select

    from innofin.ledger.models import PoolClaim, RiskPool
    from innofin.ledger.pools import engine as pool_engine
    from innofin.ledger.pools import service as pools

    def use(s: Session) -> None:
        pool = s.get(RiskPool, pool_id)
        if pool is None:
            raise NotFound(f"risk pool {pool_id} does not exist")
        headroom = (
            "no leverage limit"
            if pool.leverage is None
            else f"leverage {pool.leverage}×, headroom "
            + format_amount(
                pool_engine.leverage_headroom(
                    pool.balance, pool.covered_outstanding, Decimal(pool.leverage)
                )
            )
        )
        console.print(
            f"risk pool {pool.id} {pool.code}: {pool.name} — balance {shown(pool.balance)} "
            f"(contributed {shown(pool.contributed)}, paid out {shown(pool.paid_out)}, "
            f"recovered {shown(pool.recovered)}), covered outstanding "
            f"{shown(pool.covered_outstanding)}, {headroom}"
        )
        positions = pools.positions(s, pool.id)
        console.print(
            money_table(
                "positions",
                ("contributor", "contributed", "paid out", "recovered", "balance"),
                [
                    (
                        name,
                        *(row[k] for k in ("contributed", "paid_out", "recovered", "balance")),
                    )
                    for name, row in sorted(positions.items())
                ],
                chosen,
            )
        )
        claims = s.scalars(
            select(PoolClaim).where(PoolClaim.pool_id == pool.id).order_by(PoolClaim.id)
        ).all()
        console.print(
            money_table(
                "claims",
                (
                    "id",
                    "loan",
                    "institution",
                    "status",
                    "loss",
                    "covered",
                    "recovered",
                    "maker",
                    "checker",
                ),
                [
                    (
                        c.id,
                        c.loan_id,
                        c.institution_id,
                        c.status,
                        c.principal_loss,
                        c.covered,
                        c.recovered,
                        c.maker_id,
                        c.checker_id,
                    )
                    for c in claims
                ],
                chosen,
            )
        )

    read(use)


@pool_app.command("contribute")
def contribute(
    pool_id: int = typer.Argument(help="The pool's id.", min=1, max=MAX_ID),
    contributor: str = typer.Option(
        ..., "--contributor", help="Who pays in: one of the pool's contributors (province …)."
    ),
    amount: str = typer.Option(..., "--amount", help="The amount in yuan, e.g. 5000000.00."),
    on: str = ON,
    key: str = KEY,
    reason: str = REASON,
) -> None:
    """Record money paid into the pool by one of its contributors."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.pools import service as pools

    actor = Actor.cli(reason)
    paid, day = amount_arg(amount, "amount"), day_or_today(on, "on")
    ev = run(
        lambda s: pools.contribute(
            s, actor, pool_id, contributor=contributor, amount=paid, on=day, key=key
        ),
        actor,
        {"contributor": "contributor", "amount": "amount"},
    )
    console.print(f"event {ev.id}: {contributor} paid {format_amount(paid)} into pool {pool_id}")


# --------------------------------------------------------------------------- claims


def _claim_line(c: PoolClaim) -> str:
    return (
        f"claim {c.id} on pool {c.pool_id} for loan {c.loan_id}: {c.status}, loss "
        f"{shown(c.principal_loss)}, covered {shown(c.covered)}"
    )


@claim_app.command("file")
def file_claim(
    pool_id: int = typer.Argument(
        help="The pool that covers the loan's credit line.", min=1, max=MAX_ID
    ),
    loan_id: int = typer.Argument(help="The defaulted loan.", min=1, max=MAX_ID),
    on: str = ON,
    key: str = KEY,
    reason: str = REASON,
) -> None:
    """File a claim (the maker) on a defaulted loan; the pool's rules assess it."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.models import PoolClaim
    from innofin.ledger.pools import service as pools

    actor = Actor.cli(reason)
    day = day_or_today(on, "on")

    def act(s: Session) -> str:
        ev = pools.file_claim(s, actor, pool_id, loan_id, on=day, key=key)
        claim = s.get(PoolClaim, ev.entity_id)
        assert claim is not None
        split = ", ".join(f"{k} {v}" for k, v in claim.assessment["contributions"].items())
        return f"{_claim_line(claim)} ({split})"

    console.print(run(act, actor))


@claim_app.command("decide")
def decide_claim(
    claim_id: int = typer.Argument(help="The pending claim.", min=1, max=MAX_ID),
    approve: bool = typer.Option(..., "--approve/--reject", help="The decision."),
    on: str = ON,
    key: str = KEY,
    reason: str = REASON,
) -> None:
    """Approve or reject a pending claim (the checker: not the account that filed it)."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.models import PoolClaim
    from innofin.ledger.pools import service as pools

    actor = Actor.cli(reason)
    day = day_or_today(on, "on")

    def act(s: Session) -> str:
        pools.decide_claim(s, actor, claim_id, approve=approve, on=day, key=key)
        claim = s.get(PoolClaim, claim_id)
        assert claim is not None
        return _claim_line(claim)

    console.print(run(act, actor))


@claim_app.command("pay")
def pay_claim(
    claim_id: int = typer.Argument(help="The approved claim.", min=1, max=MAX_ID),
    on: str = ON,
    key: str = KEY,
    reason: str = REASON,
) -> None:
    """Pay an approved claim from its pool, split among the contributors by their shares."""
    from innofin.audit.recorder import Actor
    from innofin.ledger.models import PoolClaim, RiskPool
    from innofin.ledger.pools import service as pools

    actor = Actor.cli(reason)
    day = day_or_today(on, "on")

    def act(s: Session) -> str:
        pools.pay_claim(s, actor, claim_id, on=day, key=key)
        claim = s.get(PoolClaim, claim_id)
        assert claim is not None
        pool = s.get(RiskPool, claim.pool_id)
        assert pool is not None
        return f"{_claim_line(claim)}; pool {pool.code} balance {shown(pool.balance)}"

    console.print(run(act, actor))
