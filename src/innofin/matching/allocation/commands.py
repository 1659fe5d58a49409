"""`innofin match allocate|accept`: special-credit allocation of a programme's commitments,
and a run accepted as proposed credit lines.

Exit codes: 0 done; 2 invalid input (an option named); 3 a programme or run that does not
exist; 4 a conflict (already accepted).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from innofin.cli_support import console, engine, table
from innofin.ledger.cli_options import REASON, amount_arg, day_arg


def _pairs(values: list[str], option: str) -> dict[str, Any]:
    from innofin.kernel.errors import InvalidInput

    out: dict[str, Any] = {}
    for v in values:
        key, sep, amount = v.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--{option} takes CODE=AMOUNT, not {v!r}", field=option)
        out[key.strip()] = amount_arg(amount, option)
    return out


def allocate(
    programme: str = typer.Argument(..., help="The programme's code."),
    field_quota: list[str] = typer.Option([], help="FIELD=AMOUNT: at most this to a field."),
    zone_quota: list[str] = typer.Option([], help="ZONE=AMOUNT: at most this to a zone."),
    zone_floor: list[str] = typer.Option([], help="ZONE=AMOUNT: at least this to a zone."),
    floor_share: str = typer.Option("0.05", help="Floor of zones not named: share of their ask."),
    cap: str = typer.Option("5000000", help="Most one enterprise receives (yuan)."),
    on: str | None = typer.Option(None, help="Day of the allocation (YYYY-MM-DD; today)."),
    gap: float = typer.Option(0.001, min=0.0, max=1.0, help="Relative optimality gap."),
    time_limit: float = typer.Option(60.0, min=1.0, help="Seconds the solver may take."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
    reason: str | None = REASON,
) -> None:
    """Allocate special credit: which needs each cooperating institution funds, maximising the
    amount weighted by points within the quotas, beside first-come-first-served."""
    import datetime as dt
    from decimal import Decimal, InvalidOperation

    from sqlalchemy import select

    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.kernel.errors import InvalidInput, NotFound
    from innofin.ledger.models import Programme
    from innofin.matching.allocation import service as allocation

    try:
        share = Decimal(floor_share)
    except InvalidOperation:
        raise InvalidInput("--floor-share is a number such as 0.05", field="floor-share") from None
    quotas = allocation.Quotas(
        field_max=_pairs(field_quota, "field-quota"),
        zone_max=_pairs(zone_quota, "zone-quota"),
        zone_floor=_pairs(zone_floor, "zone-floor"),
        floor_share=share,
        enterprise_cap=amount_arg(cap, "cap"),
    )
    day = day_arg(on, "on") if on else dt.date.today()
    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=Actor.cli(reason)) as session:
            pid = session.scalar(select(Programme.id).where(Programme.code == programme))
            if pid is None:
                raise NotFound(f"no programme {programme!r}")
            run = allocation.allocate(
                session,
                pid,
                quotas,
                on=day,
                created_by=Actor.cli(reason).label,
                mip_gap=gap,
                time_limit=time_limit,
            )
            doc = run_json(run)
    finally:
        eng.dispose()
    if as_json:
        print(json.dumps(doc, ensure_ascii=False))
        return
    print_run(doc)


def run_json(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "solver": f"{run.solver} {run.solver_version}",
        "parameters": run.parameters,
        "solver_status": run.solver_status,
        "objective": run.objective,
        "gap": run.gap,
        "fcfs_objective": run.fcfs_objective,
        **{k: v for k, v in run.result.items() if k not in ("objective", "gap", "solver")},
    }


def print_run(doc: dict[str, Any]) -> None:
    from decimal import Decimal

    ratio = doc["objective"] / doc["fcfs_objective"] if doc["fcfs_objective"] else None
    console.print(
        f"allocation run {doc['run_id']}: {doc['solver']} {doc['solver_status']}, "
        f"gap {doc['gap'] if doc['gap'] is None else format(doc['gap'], '.4%')}; "
        f"objective {doc['objective']:,.1f} (万元 × points) against first-come-first-served "
        f"{doc['fcfs_objective']:,.1f}" + (f" ({ratio:.3f}×)" if ratio else ""),
        highlight=False,
    )
    console.print(
        f"  {doc['funded_needs']:,} of {doc['needs']:,} needs funded with "
        f"{Decimal(doc['funded_fen']) / 100:,.2f} yuan from {doc['commitments']} commitments "
        f"(first-come-first-served: {Decimal(doc['fcfs_funded_fen']) / 100:,.2f} yuan)",
        highlight=False,
    )
    if doc.get("message"):
        console.print(f"  {doc['message']}", highlight=False)
    binding = doc["binding"]
    if binding:
        console.print(
            table(
                "Binding quotas and commitments 约束额度 (dual: objective per 万元 more)",
                ("kind", "key", "bound", "dual"),
                [
                    (b["kind"], b["key"], Decimal(b["bound_fen"]) / 100, f"{b['dual_per_wan']:.3f}")
                    for b in binding[:15]
                ],
                money=("bound",),
            )
        )
    for line in doc["unmet"]:
        console.print(f"  cannot be met: {line}", highlight=False, markup=False)


def accept(
    run_id: int = typer.Argument(..., help="The allocation run."),
    opens_on: str = typer.Option(..., help="The day the proposed credit lines open."),
    rate: str = typer.Option("0.0310", help="Annual rate of the lines, a fraction."),
    reason: str | None = REASON,
) -> None:
    """Accept an allocation run: each row becomes a proposed credit line in the ledger, waiting
    for its institution's checker."""
    from decimal import Decimal, InvalidOperation

    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.kernel.errors import InvalidInput
    from innofin.matching.allocation import service as allocation

    try:
        value = Decimal(rate)
    except InvalidOperation:
        raise InvalidInput("--rate is a fraction such as 0.0310", field="rate") from None
    actor = Actor.cli(reason)
    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=actor) as session:
            lines = allocation.accept(
                session, actor, run_id, opens_on=day_arg(opens_on, "opens-on"), rate=value
            )
    finally:
        eng.dispose()
    console.print(
        f"allocation run {run_id} accepted: {len(lines)} credit lines proposed, each waiting "
        "for its institution's checker",
        highlight=False,
    )


def print_demo(eng: Any) -> None:
    """`make demo`'s allocation part: the special-credit allocation of the programme with the
    most commitments, beside first-come-first-served."""
    import datetime as dt

    from sqlalchemy import func, select

    from innofin.audit.recorder import Actor
    from innofin.cli_support import section
    from innofin.db.engine import unit_of_work
    from innofin.ledger.models import Agreement, AgreementCommitment, Programme
    from innofin.matching.allocation import service as allocation

    actor = Actor.cli("demo: referral and allocation")
    section("[bold]11. Special-credit allocation (HiGHS) beside first-come-first-served")
    with unit_of_work(eng, immediate=True, actor=actor) as session:
        best = session.execute(
            select(Programme.id, Programme.code, func.max(AgreementCommitment.period_end))
            .join(Agreement, Agreement.programme_id == Programme.id)
            .join(AgreementCommitment, AgreementCommitment.agreement_id == Agreement.id)
            .where(Agreement.status == "signed")
            .group_by(Programme.id, Programme.code)
            .order_by(func.count(AgreementCommitment.id).desc(), Programme.id)
        ).first()
        if best is None:
            console.print("  no programme with signed commitments")
            doc = None
        else:
            start = session.scalar(
                select(func.max(AgreementCommitment.period_start))
                .join(Agreement, Agreement.id == AgreementCommitment.agreement_id)
                .where(Agreement.programme_id == best.id)
            )
            on = min(max(start or dt.date.today(), dt.date.min), best[2])
            quotas = allocation.Quotas(field_max={}, zone_max={}, zone_floor={})
            arun = allocation.allocate(
                session, best.id, quotas, on=on, created_by=actor.label, time_limit=20.0
            )
            doc = run_json(arun)
            console.print(
                f"  programme {best.code} on {on}: objective amount × points, a floor of 5 % of "
                "each zone's ask, at most 5 million yuan per firm",
                highlight=False,
            )
    if doc is not None:
        print_run(doc)
        console.print(
            f"  innofin match accept {doc['run_id']} --opens-on DATE turns it into proposed "
            "credit lines (maker-checker)",
            highlight=False,
        )
