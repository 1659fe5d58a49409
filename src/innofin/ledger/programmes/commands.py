"""`innofin ledger programme list|show`, `pool show|contribute`, `claim file|decide|pay` and
`subsidy publish|confirm|pay|list`: thin wrappers over the ledger's services.

Every write runs in a unit of work of its own as the CLI's actor (``cli:<account>``), so it is
audited and, with ``--key``, safe to retry. A claim is decided by another account than the
one that filed it (maker-checker: exit 5). Exit codes as for every command: 2 invalid input,
3 not found, 4 conflict, 5 not allowed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from innofin.cli_support import UNIT, console, engine, table
from innofin.kernel.errors import InvalidInput, NotFound
from innofin.kernel.money import AmountUnit, format_amount, parse_unit_option
from innofin.ledger.cli_options import KEY, REASON, amount_arg, day_arg, day_or_today, shown

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from innofin.audit.recorder import Actor
    from innofin.ledger.models import InterestSubsidy, PoolClaim, Programme
    from innofin.ledger.pools import engine as pool_engine

ON = typer.Option(None, "--on", help="The date, YYYY-MM-DD (default today).")
#: row ids are PostgreSQL integers
MAX_ID = 2_147_483_647
SUBSIDY_STATUSES = ("published", "objected", "withdrawn", "confirmed", "paid")

pool_app = typer.Typer(
    help="Risk-compensation pools: balances, positions, contributions.", no_args_is_help=True
)
claim_app = typer.Typer(
    help="Claims on a risk pool: file (the bank), decide (another account), pay.",
    no_args_is_help=True,
)
subsidy_app = typer.Typer(
    help="Interest subsidies without application (免申即享): publish, confirm, pay, list.",
    no_args_is_help=True,
)


def _run(action: Any, actor: Actor, options: dict[str, str] | None = None) -> Any:
    """Run one write; an invalid-input error about a field the command takes as an option
    (``options``: field → option) names the option."""
    from innofin.ledger.journal import perform

    eng = engine()
    try:
        return perform(eng, action, actor)
    except InvalidInput as exc:
        option = (options or {}).get(exc.field or "")
        if option is None:
            raise
        raise InvalidInput(f"--{option}: {exc}", field=exc.field) from exc
    finally:
        eng.dispose()


def _read(use: Any) -> Any:
    from innofin.db.engine import unit_of_work

    eng: Engine = engine()
    try:
        with unit_of_work(eng) as session:
            return use(session)
    finally:
        eng.dispose()


def _programme(session: Session, ref: str) -> Programme:
    """A programme by id (digits) or code."""
    from sqlalchemy import select

    from innofin.ledger.models import Programme

    by_id = ref.isdigit() and len(ref) <= 9
    stmt = select(Programme).where(Programme.id == int(ref) if by_id else Programme.code == ref)
    found = session.scalars(stmt).first()
    if found is None:
        raise NotFound(f"no programme {ref!r} (give its id or code)")
    return found


#: the columns that hold amounts (Decimal yuan): each is shown in one unit, named in its header
MONEY_COLUMNS = frozenset(
    {"amount", "used", "available", "balance", "covered outstanding", "contributed", "paid out",
     "recovered", "loss", "covered", "interest"}
)  # fmt: skip


def _table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    unit: AmountUnit | None = None,
) -> Table:
    return table(title, columns, rows, money=MONEY_COLUMNS, unit=unit)


# --------------------------------------------------------------------------- programmes


def list_programmes(
    as_json: bool = typer.Option(False, "--json", help="Print the programmes as JSON lines."),
) -> None:
    """Every programme: code, name, sponsor, period, zones, institutions and targets."""
    from sqlalchemy import func, select

    from innofin.audit.recorder import jsonable
    from innofin.ledger.models import Programme, ProgrammeTarget

    def use(s: Session) -> None:
        targets = dict(
            s.execute(
                select(ProgrammeTarget.programme_id, func.count()).group_by(
                    ProgrammeTarget.programme_id
                )
            ).all()
        )
        rows = s.scalars(select(Programme).order_by(Programme.id)).all()
        if as_json:
            for p in rows:
                row = {
                    "id": p.id, "code": p.code, "name": p.name, "sponsor": p.sponsor,
                    "starts_on": p.starts_on, "ends_on": p.ends_on, "zone_ids": p.zone_ids,
                    "institution_ids": p.institution_ids, "targets": targets.get(p.id, 0),
                }  # fmt: skip
                typer.echo(json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False))
            return
        console.print(
            _table(
                "programmes",
                ("id", "code", "name", "sponsor", "period", "zones", "institutions", "targets"),
                [
                    (
                        p.id,
                        p.code,
                        p.name,
                        p.sponsor,
                        f"{p.starts_on}–{p.ends_on}",
                        len(p.zone_ids),
                        len(p.institution_ids),
                        targets.get(p.id, 0),
                    )
                    for p in rows
                ],
            )
        )

    _read(use)


def show_programme(
    programme: str = typer.Argument(help="The programme's id or code."),
    unit: str | None = UNIT,
) -> None:
    """A programme with its targets, its agreements' commitments (amount, used, available)
    and its risk pools."""
    chosen = parse_unit_option(unit)
    from sqlalchemy import select

    from innofin.ledger.models import Agreement, AgreementCommitment, ProgrammeTarget, RiskPool

    def use(s: Session) -> None:
        p = _programme(s, programme)
        console.print(
            f"programme {p.id} {p.code}: {p.name} — {p.sponsor}, {p.starts_on}–{p.ends_on}, "
            f"zones {p.zone_ids}, institutions {p.institution_ids}"
            + (f", candidates from key list {p.candidate_list}" if p.candidate_list else "")
        )
        targets = s.scalars(
            select(ProgrammeTarget)
            .where(ProgrammeTarget.programme_id == p.id)
            .order_by(ProgrammeTarget.id)
        ).all()
        console.print(
            _table(
                "targets",
                ("kind", "field", "amount", "count", "rate", "from", "due"),
                [
                    (
                        t.kind,
                        t.tech_field,
                        t.amount,
                        t.count,
                        t.rate,
                        t.period_start,
                        t.due_on,
                    )
                    for t in targets
                ],
                chosen,
            )
        )
        commitments = s.execute(
            select(Agreement, AgreementCommitment)
            .join(AgreementCommitment, AgreementCommitment.agreement_id == Agreement.id)
            .where(Agreement.programme_id == p.id)
            .order_by(Agreement.id, AgreementCommitment.period_start)
        ).all()
        console.print(
            _table(
                "agreements and commitments",
                (
                    "agreement",
                    "institution",
                    "status",
                    "field",
                    "period",
                    "amount",
                    "used",
                    "available",
                ),
                [
                    (
                        a.code,
                        a.institution_id,
                        a.status,
                        c.tech_field,
                        f"{c.period_start}–{c.period_end}",
                        c.amount,
                        c.used,
                        c.amount - c.used,
                    )
                    for a, c in commitments
                ],
                chosen,
            )
        )
        rows = s.scalars(select(RiskPool).where(RiskPool.programme_id == p.id)).all()
        console.print(
            _table(
                "risk pools",
                ("id", "code", "balance", "covered outstanding", "leverage"),
                [(r.id, r.code, r.balance, r.covered_outstanding, r.leverage) for r in rows],
                chosen,
            )
        )

    _read(use)


# --------------------------------------------------------------------------- pools


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
            _table(
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
            _table(
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

    _read(use)


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
    ev = _run(
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

    console.print(_run(act, actor))


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

    console.print(_run(act, actor))


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

    console.print(_run(act, actor))


# --------------------------------------------------------------------------- subsidies

_RULE_OPTIONS = {
    "share": "share",
    "rate_cap": "rate-cap",
    "cap_per_loan": "cap-per-loan",
    "cap_per_enterprise_year": "cap-per-enterprise-year",
}


def _subsidy_rules(**given: str | None) -> pool_engine.SubsidyRules:
    from pydantic import ValidationError

    from innofin.ledger.pools import engine as pool_engine

    values: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    for name in ("cap_per_loan", "cap_per_enterprise_year"):
        if name in values:
            values[name] = amount_arg(values[name], _RULE_OPTIONS[name])
    try:
        return pool_engine.SubsidyRules(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = _RULE_OPTIONS.get(str(first["loc"][0]), str(first["loc"][0]))
        raise InvalidInput(f"--{option}: {first['msg']}", field=option) from None


def _subsidy_rows(rows: Sequence[InterestSubsidy], unit: AmountUnit | None = None) -> Table:
    return _table(
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
        prog = _programme(s, programme)
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

    _run(act, actor, {"period_end": "to", "notice_days": "notice-days"})


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
            stmt = stmt.where(InterestSubsidy.programme == _programme(s, programme).code)
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

    _read(use)


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
    done = _run(
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
    done = _run(lambda s: subsidies.pay(s, actor, subsidy_id, on=day), actor)
    console.print(f"subsidy {done.id}: paid {format_amount(done.amount)} on {day}")
