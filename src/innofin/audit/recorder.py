"""Records every ORM write of an `Audited` table into `audit_event`, in the same transaction.

A unit of work names its actor (``unit_of_work(engine, actor=Actor.api(...))``); when a flush
inserts, updates or deletes an audited row, the listener writes one audit row per change with the
changed fields before and after. Writes that bypass the ORM (bulk imports, the demo) call `record`
themselves, once per operation. A flush with no actor is recorded as ``system``.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Connection, event, insert, inspect
from sqlalchemy.orm import Session

from innofin.audit.models import AuditEvent
from innofin.db import chain

REDACTED = "***"


@dataclass(frozen=True)
class Actor:
    """Who is writing, through which channel, and (optionally) why."""

    label: str
    channel: str
    user_id: int | None = None
    reason: str | None = None
    request_id: str | None = None

    @classmethod
    def cli(cls, reason: str | None = None) -> Actor:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            name = "unknown"
        return cls(label=f"cli:{name}", channel="cli", reason=reason)

    @classmethod
    def api(
        cls, user_id: int, username: str, reason: str | None = None, request_id: str | None = None
    ) -> Actor:
        return cls(
            label=f"api:{username}",
            channel="api",
            user_id=user_id,
            reason=reason,
            request_id=request_id,
        )


SYSTEM = Actor(label="system", channel="system")


class Audited:
    """Mixin: writes to this table are recorded. `__audit_redact__` names secret columns."""

    __audit_redact__: ClassVar[frozenset[str]] = frozenset()


def jsonable(value: Any) -> Any:
    """A column value as JSON: Decimal as a string (exact), dates and times in ISO form."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return value


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def record(
    conn: Connection | Session,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Write one audit row (for writes that do not go through the ORM)."""
    rows = [_row(actor, action, entity, entity_id, before, after)]
    chain.seal_rows(conn, "audit_event", rows)
    conn.execute(insert(AuditEvent), rows)


def _row(
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": now(),
        "user_id": actor.user_id,
        "actor": actor.label,
        "channel": actor.channel,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "before": before,
        "after": after,
        "reason": actor.reason,
        "request_id": actor.request_id,
    }


def _identity(obj: Any) -> str:
    """The primary key (set by the flush, before the row joins the identity map)."""
    key = inspect(type(obj)).primary_key_from_instance(obj)
    return "/".join(str(k) for k in key)


def _columns(obj: Any) -> list[str]:
    return [c.key for c in inspect(type(obj)).column_attrs]


def _value(obj: Any, key: str, value: Any) -> Any:
    return REDACTED if key in obj.__audit_redact__ and value is not None else jsonable(value)


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _columns(obj):
        history = state.attrs[key].history
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[key], after[key] = _value(obj, key, old), _value(obj, key, new)
    return before, after


def _snapshot(obj: Any) -> dict[str, Any]:
    """The loaded column values (no SQL: server defaults not yet read are left out)."""
    loaded = inspect(obj).dict
    return {key: _value(obj, key, loaded[key]) for key in _columns(obj) if key in loaded}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    actor: Actor = session.info.get("actor", SYSTEM)
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Audited):
            rows.append(_row(actor, "create", _table(obj), _identity(obj), None, _snapshot(obj)))
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                rows.append(_row(actor, "update", _table(obj), _identity(obj), before, after))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            rows.append(_row(actor, "delete", _table(obj), _identity(obj), _snapshot(obj), None))
    if rows:
        chain.seal_rows(session, "audit_event", rows)
        session.connection().execute(insert(AuditEvent), rows)


@event.listens_for(Session, "before_flush")
def _lock_chain(session: Session, _context: Any, _instances: Any) -> None:
    """A flush that changes an audited row will append to the audit chain: take the chain lock
    before the flush locks the rows it changes, as every chain writer does, so that no two
    transactions each hold one lock and wait for the other's."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if any(isinstance(o, Audited) for o in (*session.new, *session.dirty, *session.deleted)):
        chain.lock(session)


def _table(obj: Any) -> str:
    return str(obj.__tablename__)
