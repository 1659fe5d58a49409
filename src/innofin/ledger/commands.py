"""`innofin ledger …`: the group, and its commands over the whole ledger: the story of a record,
bank returns, the balance check, the portfolio's totals and the rebuild of the caches. The
sub-rooms' commands (loans, programmes, pools and claims, subsidies) are registered here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from innofin.cli_support import UNIT, console, engine, progress_bar, table
from innofin.ingest import commands as ingest_commands
from innofin.kernel.errors import Conflict, InvalidInput
from innofin.kernel.money import AmountUnit, parse_unit_option
from innofin.ledger.cli_options import REASON
from innofin.ledger.loans import commands as loan_commands
from innofin.ledger.pools import commands as pool_commands
from innofin.ledger.programmes import commands as programme_commands
from innofin.ledger.subsidies import commands as subsidy_commands

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from innofin.kernel.progress import ProgressCallback

app = typer.Typer(
    help="The programme ledger: credit lines, loans, risk pools — history, checks, corrections.",
    no_args_is_help=True,
)
ENTITIES = ("programme", "agreement", "credit-line", "loan", "risk-pool", "claim", "subsidy")


@app.command("history")
def history(
    entity: str = typer.Argument(help=f"One of {', '.join(ENTITIES)}."),
    entity_id: int = typer.Argument(help="Its id."),
    as_json: bool = typer.Option(False, "--json", help="Print the events as JSON lines."),
    unit: str | None = UNIT,
) -> None:
    """The full story of a credit line (with its loans), loan, pool, claim, agreement or
    programme: every event in order, with who, when and why (exit 3 when there is none)."""
    if entity not in ENTITIES:
        raise InvalidInput(f"entity must be one of {', '.join(ENTITIES)}", field="entity")
    chosen = parse_unit_option(unit)
    from innofin.audit.recorder import jsonable
    from innofin.db.engine import unit_of_work
    from innofin.ledger import queries

    name = {"credit-line": "credit_line", "risk-pool": "risk_pool", "claim": "pool_claim"}
    eng = engine()
    try:
        with unit_of_work(eng) as session:
            events = queries.history(session, name.get(entity, entity), entity_id)
    finally:
        eng.dispose()
    if as_json:
        for e in events:
            row = {
                "id": e.id,
                "entity": e.entity,
                "entity_id": e.entity_id,
                "kind": e.kind,
                "effective_on": e.effective_on,
                "amount": e.amount,
                "principal": e.principal,
                "interest": e.interest,
                "reverses": e.reverses_id,
                "actor": e.actor,
                "reason": e.reason,
                "recorded_at": e.recorded_at,
                "data": {k: v for k, v in e.data.items() if k != "request"},
            }
            typer.echo(json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False))
        return
    rows = [
        (
            e.id,
            e.effective_on,
            f"{e.entity} {e.entity_id}: {e.kind}"
            + (f" (reverses {e.reverses_id})" if e.reverses_id else ""),
            e.amount,
            e.principal,
            e.interest,
            e.actor,
            e.reason or "",
        )
        for e in events
    ]
    console.print(
        table(
            f"ledger: {entity} {entity_id}",
            ("event", "on", "what", "amount", "principal", "interest", "who", "why"),
            rows,
            money=("amount", "principal", "interest"),
            unit=chosen,
        )
    )


app.command("loan")(loan_commands.show_loan)
app.command("repay")(loan_commands.repay)
app.command("reverse")(loan_commands.reverse)


@app.command("import")
def import_return(
    path: Path = typer.Argument(help="The bank return: CSV (UTF-8 or GBK) or XLSX."),
    mapping: str = typer.Option(
        None,
        "--mapping",
        help="A mapping YAML file, or a shipped one: loan-events (innofin's format, the "
        "default) or loan-events-zh (Chinese headers, amounts in 万元).",
    ),
    encoding: str = typer.Option(None, "--encoding", help="CSV encoding (detected otherwise)."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Apply the good rows and report the others."
    ),
    ignore_extra: bool = typer.Option(
        False, "--ignore-extra", help="Leave out columns the mapping does not know."
    ),
    rejects: Path = typer.Option(None, "--rejects", help="Where to write the rejects report."),
    historical: bool = typer.Option(
        False,
        "--historical",
        help="A bank's existing book: its credit lines were approved in the bank's own system "
        "(recorded as such, by you, with the file's approval_ref); no maker and checker.",
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Apply every row and roll the whole return back: report what it would apply and "
        "every row it would reject, write nothing to the database (the rejects report is "
        "written).",
    ),
    reason: str = REASON,
) -> None:
    """Apply a bank return of new credit lines (by their maker and checker), drawdowns,
    repayments, classifications, defaults, write-offs and recoveries. All or nothing: one bad
    row rejects the file (exit 2, every bad row named in the rejects report). A re-sent return
    changes nothing. Exit codes: 0 when the return is applied (with --check: every row would
    apply); 2 when rows are rejected (nothing applied) or the file cannot be read."""
    from innofin.audit.recorder import Actor
    from innofin.ingest.readers import count_rows
    from innofin.ledger import returns

    actor = Actor.cli(reason)
    eng = engine()
    doing = "checking" if check else "applying"
    try:
        with progress_bar(f"{doing} {path.name}", count_rows(path)) as tick:
            result = returns.import_return(
                eng,
                path,
                mapping=mapping,
                encoding=encoding,
                skip_invalid=skip_invalid,
                ignore_extra=ignore_extra,
                rejects=rejects,
                actor=actor,
                historical=historical,
                check_only=check,
                progress=tick,
            )
    finally:
        eng.dispose()
    would = " would be" if check else ""
    console.print(
        f"{path.name}: {result.rows:,} rows, {result.applied:,}{would} applied, "
        f"{result.replayed:,} already recorded, {result.rejected:,}{would} rejected"
        + (f" (see {result.rejects_path})" if result.rejects_path else "")
        + ("; checked only, nothing was written" if check else "")
    )
    for line in result.problem_kinds:  # the rejects by kind, with counts
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


app.add_typer(programme_commands.programme_app, name="programme")
app.add_typer(pool_commands.pool_app, name="pool")
app.add_typer(pool_commands.claim_app, name="claim")
app.add_typer(subsidy_commands.subsidy_app, name="subsidy")


@app.command("check")
def check() -> None:
    """Replay every event and limit entry and compare with the cached balances, and recompute
    the tamper-evident chains of ledger_event and limit_entry (exit 4, naming the first event
    whose hash differs or listing the caches that disagree). Prints each chain's head: keep it
    (at each close of books) to recognise a history rewritten later with its hashes."""
    from innofin.db import chain
    from innofin.db.engine import unit_of_work
    from innofin.ledger import replay

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            breaks = [chain.verify(session, chain_table(name)) for name in LEDGER_CHAINS]
            heads = chain.heads(session)
            found = replay.check(session)
    finally:
        eng.dispose()
    broken = [b for b in breaks if b is not None]
    for b in broken:
        console.print(f"[red]chain broken[/] {b}")
    if found:
        for m in found[:50]:
            console.print(f"[red]mismatch[/] {m}")
    if broken:
        raise Conflict(f"the history was changed below the application: {broken[0]}")
    if found:
        raise Conflict(f"{len(found)} cached values disagree with the ledger's history")
    for name in LEDGER_CHAINS:
        head = heads[name]
        console.print(f"chain {name}: {head.length} events, head {head.last_hash}")
    console.print("every event matches its chain; every cached balance equals their replay")


#: the chains `ledger check` verifies (the audit trail's: `innofin audit verify`)
LEDGER_CHAINS = ("ledger_event", "limit_entry")


def chain_table(name: str) -> Any:
    from innofin.db.base import Base

    return Base.metadata.tables[name]


@app.command("summary")
def summary(
    by: str = typer.Option(
        None, "--by", help="Group by institution, region, industry or year (of drawdown)."
    ),
    unit: str | None = typer.Option(
        None, "--unit", help="Show the amounts in 万元 or 亿元 (default: 元, to the fen)."
    ),
) -> None:
    """The portfolio's totals — loans, drawn, repaid, written off, outstanding, default rate —
    to check a load against the bank's own control totals."""
    from innofin.db.engine import unit_of_work
    from innofin.ledger import portfolio

    chosen = parse_unit_option(unit)
    eng = engine()
    try:
        with unit_of_work(eng) as session:
            found = portfolio.summary(session, by)
    finally:
        eng.dispose()
    columns = (by or "", "loans", "drawn", "repaid", "written off", "recovered", "outstanding",
               "defaulted", "default rate")  # fmt: skip
    rows = [
        (t.group or ("(none)" if by else "all"), f"{t.loans:,}", t.drawn, t.repaid,
         t.written_off, t.recovered, t.outstanding, f"{t.defaulted:,}", f"{t.default_rate:.2%}")
        for t in found
    ]  # fmt: skip
    console.print(
        table(
            f"portfolio{' by ' + by if by else ''}",
            columns,
            rows,
            money=("drawn", "repaid", "written off", "recovered", "outstanding"),
            # to the fen by default: the totals are checked against the bank's own
            unit=chosen or AmountUnit.YUAN,
        )
    )


@app.command("rebuild")
def rebuild(reason: str = REASON) -> None:
    """Recompute every cached balance and status from the events (the caches only; history is
    untouched)."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.ledger import replay

    actor = Actor.cli(reason)
    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=actor) as session:
            changed = replay.rebuild(session)
    finally:
        eng.dispose()
    console.print(f"{changed} cached values rewritten from the events")


def _export_count(eng: Engine, kind: str) -> int:
    from innofin.ledger import portfolio

    return portfolio.export_count(eng, kind)


def _export_file(eng: Engine, kind: str, path: Path, progress: ProgressCallback | None) -> int:
    from innofin.ledger import portfolio

    return portfolio.export_file(eng, kind, path, progress=progress)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ledger")
    # `innofin export loans|credit-lines`: the ledger's kinds, written by the ledger
    for kind in (ingest_commands.ExportKind.LOANS, ingest_commands.ExportKind.CREDIT_LINES):
        ingest_commands.register_exporter(kind, _export_count, _export_file)
