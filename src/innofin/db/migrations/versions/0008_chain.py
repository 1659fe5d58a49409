"""the tamper-evident chain: chain_hash on the append-only tables, chain_head, back-filled

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from innofin.db import chain
from innofin.db.base import JsonDoc, Money, UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: the stored types of the hashed columns (as the migrations that made them left them)
TYPES: dict[str, sa.types.TypeEngine] = {  # type: ignore[type-arg]
    "entity": sa.String(), "entity_id": sa.String(), "kind": sa.String(),
    "effective_on": sa.Date(), "amount": Money(), "principal": Money(), "interest": Money(),
    "data": JsonDoc, "reverses_id": sa.Integer(), "idempotency_key": sa.String(),
    "actor": sa.String(), "user_id": sa.Integer(), "reason": sa.String(),
    "recorded_at": UtcDateTime(), "account": sa.String(), "account_id": sa.Integer(),
    "source": sa.String(), "source_id": sa.Integer(), "event_id": sa.Integer(),
    "at": UtcDateTime(), "channel": sa.String(), "action": sa.String(), "before": JsonDoc,
    "after": JsonDoc, "request_id": sa.String(),
}  # fmt: skip
BATCH = 10_000


def _table(name: str) -> sa.Table:
    # ledger_event.entity_id is an integer, audit_event.entity_id text
    types = {**TYPES, "entity_id": sa.Integer() if name == "ledger_event" else sa.String()}
    columns: list[sa.Column[object]] = [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(chain.HASH, sa.String()),
    ]
    columns += [sa.Column(c, types[c]) for c in chain.COLUMNS[name]]
    return sa.Table(name, sa.MetaData(), *columns)


def upgrade() -> None:
    op.create_table(
        "chain_head",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chain_head")),
    )
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    for name in chain.TABLES:
        op.add_column(name, sa.Column(chain.HASH, sa.String(length=64), nullable=True))
        table = _table(name)
        # the back-fill is the one UPDATE these tables ever see: lift the guard meanwhile
        if postgres:
            op.execute(f"ALTER TABLE {name} DISABLE TRIGGER {name}_append_only")
        else:
            op.execute(f"DROP TRIGGER {name}_no_update")
        previous, count, after = chain.GENESIS, 0, 0
        while True:  # in id order, a batch at a time (memory stays flat on a large ledger)
            rows = conn.execute(
                sa.select(*table.c).where(table.c.id > after).order_by(table.c.id).limit(BATCH)
            ).all()
            if not rows:
                break
            changes = []
            for row in rows:
                previous = chain.link(previous, chain.content(row[2:]))
                changes.append({"b_id": row[0], "b_hash": previous})
            conn.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("b_id"))
                .values({chain.HASH: sa.bindparam("b_hash")}),
                changes,
            )
            count, after = count + len(changes), rows[-1][0]
        if postgres:
            op.execute(f"ALTER TABLE {name} ENABLE TRIGGER {name}_append_only")
        else:
            op.execute(
                f"CREATE TRIGGER {name}_no_update BEFORE UPDATE ON {name} "
                f"BEGIN SELECT RAISE(ABORT, '{name} is append-only: UPDATE refused'); END"
            )
        conn.execute(
            sa.text("INSERT INTO chain_head (name, length, last_hash) VALUES (:n, :c, :h)"),
            {"n": name, "c": count, "h": previous},
        )


def downgrade() -> None:
    for name in chain.TABLES:
        # (SQLite drops a column in place; a batch copy would lose the table's triggers)
        op.execute(f"ALTER TABLE {name} DROP COLUMN {chain.HASH}")
    op.drop_table("chain_head")
