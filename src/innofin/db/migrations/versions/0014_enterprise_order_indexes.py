"""registry: the enterprise list's order indexes end with the id (name, id; zone, name, id;
founded_on, id)

A page is ordered by its sort column and then by id. SQLite's indexes hold the rowid, so an index
on (name) already gives that order; PostgreSQL's do not, and sorted every row up to the page
again (an incremental sort of 2,000 rows for page 40: ~10 ms instead of ~1 ms).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BEFORE = {
    "ix_enterprise_name": ["name"],
    "ix_enterprise_zone_name": ["zone_id", "name"],
    "ix_enterprise_founded_on": ["founded_on"],
}
AFTER = {
    "ix_enterprise_name": ["name", "id"],
    "ix_enterprise_zone_name": ["zone_id", "name", "id"],
    "ix_enterprise_founded_on": ["founded_on", "id"],
}


def _replace(indexes: dict[str, list[str]]) -> None:
    for name, columns in indexes.items():
        op.drop_index(name, table_name="enterprise")
        op.create_index(name, "enterprise", columns, unique=False)


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    _replace(BEFORE)
