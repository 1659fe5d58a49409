"""`innofin ledger programme list|show|load`: programmes, their targets, agreements and
commitments. Exit codes as for every command: 2 invalid input, 3 not found, 4 conflict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from innofin.cli_support import UNIT, console, engine
from innofin.kernel.money import parse_unit_option
from innofin.ledger.cli_options import REASON, money_table, programme_by_ref, read

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

programme_app = typer.Typer(
    help="Programmes: load one from a YAML file, list them, show one.", no_args_is_help=True
)


@programme_app.command("list")
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
            money_table(
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

    read(use)


@programme_app.command("show")
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
        p = programme_by_ref(s, programme)
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
            money_table(
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
            money_table(
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
            money_table(
                "risk pools",
                ("id", "code", "balance", "covered outstanding", "leverage"),
                [(r.id, r.code, r.balance, r.covered_outstanding, r.leverage) for r in rows],
                chosen,
            )
        )

    read(use)


@programme_app.command("load")
def load_programme(
    path: Path = typer.Argument(
        help="A programme YAML file (see ledger/examples/programme-example.yaml)."
    ),
    reason: str = REASON,
) -> None:
    """Create a programme with its targets, agreements, commitments and risk pools, all or
    nothing (exit 2 with the file and line of the first problem)."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.ledger import programme_files as programmes

    actor = Actor.cli(reason)
    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=actor) as session:
            prog = programmes.load_programme(session, actor, path)
            console.print(f"programme {prog.id} {prog.code}: {prog.name}")
    finally:
        eng.dispose()
