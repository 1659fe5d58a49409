"""Reading the audit trail: the story of one record, or recent events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Select, select

from innofin.audit.models import AuditEvent
from innofin.db.engine import unit_of_work

AUDIT_SORTS = {"id": AuditEvent.id, "at": AuditEvent.at}


def events_query(
    entity: str | None, entity_id: str | None, user_id: int | None = None
) -> Select[Any]:
    stmt = select(AuditEvent)
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if user_id is not None:
        stmt = stmt.where(AuditEvent.user_id == user_id)
    return stmt


def history(engine: Engine, entity: str, entity_id: str) -> Sequence[AuditEvent]:
    """Every recorded change of one record, oldest first."""
    with unit_of_work(engine) as session:
        return session.scalars(events_query(entity, entity_id).order_by(AuditEvent.id)).all()
