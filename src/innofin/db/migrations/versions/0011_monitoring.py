"""monitoring: stored scenario runs (levers, assumptions, estimated rates, the book's cells,
seed and result)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import innofin.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scenario_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("paths", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("engine_version", sa.String(length=20), nullable=False),
        sa.Column("levers", _json(), nullable=False),
        sa.Column("assumptions", _json(), nullable=False),
        sa.Column("baseline", _json(), nullable=False),
        sa.Column("rates", _json(), nullable=False),
        sa.Column("book", _json(), nullable=False),
        sa.Column("book_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result", _json(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", innofin.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "months BETWEEN 1 AND 120", name=op.f("ck_scenario_run_months_plausible")
        ),
        sa.CheckConstraint(
            "paths BETWEEN 1 AND 100000", name=op.f("ck_scenario_run_paths_plausible")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_scenario_run_programme_id_programme"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_run")),
    )
    with op.batch_alter_table("scenario_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scenario_run_programme_id"), ["programme_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("scenario_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scenario_run_programme_id"))
    op.drop_table("scenario_run")
