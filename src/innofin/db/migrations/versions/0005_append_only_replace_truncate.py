"""append-only tables also refuse REPLACE (SQLite) and TRUNCATE (PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

from alembic import op

from innofin.db import append_only

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("ledger_event", "limit_entry", "audit_event")


def upgrade() -> None:
    for table in TABLES:
        append_only.refuse_replace_and_truncate(op, table)


def downgrade() -> None:
    for table in TABLES:
        append_only.allow_replace_and_truncate(op, table)
