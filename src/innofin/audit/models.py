"""The audit table. Rows are only ever inserted: the database refuses UPDATE and DELETE with a
trigger (both SQLite and PostgreSQL), so not even a bug in the application can rewrite history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from innofin.db.base import Base, JsonDoc, UtcDateTime
from innofin.db.chain import Chained


class AuditEvent(Chained, Base):
    """One write: who (user or CLI account), when, what (entity, id, before → after) and why."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the trail outlives its users
    actor: Mapped[str] = mapped_column(String(120))  # "api:alice", "cli:root", "system"
    channel: Mapped[str] = mapped_column(String(10))  # api, cli, system
    action: Mapped[str] = mapped_column(String(20))  # create, update, delete, import, ...
    entity: Mapped[str] = mapped_column(String(60))  # table name
    entity_id: Mapped[str] = mapped_column(String(120))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    reason: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64))
    #: the tamper-evident chain (`db.chain`): hash of the previous row's hash and this content
    chain_hash: Mapped[str | None] = mapped_column(String(64))
