"""a programme may let bank returns register the borrowers they name

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (with its default) on both databases: no table rebuild, which SQLite
    # refuses for a table that other tables refer to
    op.add_column(
        "programme",
        sa.Column("register_borrowers", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("programme", "register_borrowers")
