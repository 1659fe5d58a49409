"""`innofin audit show ENTITY ID`: the recorded history of one record; `audit verify`: its chain."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from innofin.cli_support import console, engine
from innofin.kernel.errors import Conflict, NotFound

app = typer.Typer(help="The audit trail: who changed what, when and why.", no_args_is_help=True)


@app.command()
def show(
    entity: str = typer.Argument(help="Table name: zone, enterprise, product, app_user, ..."),
    entity_id: str = typer.Argument(help="The record's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
) -> None:
    """Show every change recorded for one record, oldest first (exit 3 when there is none)."""
    from innofin.audit import service

    eng = engine()
    try:
        events = service.history(eng, entity, entity_id)
    finally:
        eng.dispose()
    if not events:
        raise NotFound(f"no audit events for {entity} {entity_id}")
    if as_json:
        for e in events:
            line = {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "before": e.before,
                "after": e.after,
                "reason": e.reason,
            }
            typer.echo(json.dumps(line, ensure_ascii=False))
        return
    table = Table(title=f"audit: {entity} {entity_id}")
    for column in ("#", "at", "actor", "action", "changes", "reason"):
        table.add_column(column, overflow="fold")
    for e in events:
        table.add_row(
            str(e.id),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            _changes(e.before, e.after),
            e.reason or "",
        )
    console.print(table)


@app.command()
def verify() -> None:
    """Recompute the audit trail's tamper-evident chain (exit 4 naming the first event whose
    hash differs, or the head's disagreement when events were removed from the end). Prints the
    chain's head: keep it to recognise a trail rewritten later with its hashes."""
    from innofin.audit.models import AuditEvent
    from innofin.db import chain
    from innofin.db.base import Base
    from innofin.db.engine import unit_of_work

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            broken = chain.verify(session, Base.metadata.tables[AuditEvent.__tablename__])
            head = chain.heads(session).get("audit_event")
    finally:
        eng.dispose()
    if broken is not None:
        console.print(f"[red]chain broken[/] {broken}")
        raise Conflict(f"the audit trail was changed below the application: {broken}")
    assert head is not None
    console.print(f"chain audit_event: {head.length} events, head {head.last_hash}")
    console.print("every audit event matches its chain")


def _changes(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    keys = sorted(set(before or {}) | set(after or {}))
    parts = []
    for key in keys:
        old, new = (before or {}).get(key), (after or {}).get(key)
        parts.append(f"{key}: {old!r} → {new!r}" if before else f"{key}={new!r}")
    return "\n".join(parts)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")
