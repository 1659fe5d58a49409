"""matching: the alternatives offered after a decline (need_rematch, rematch_alternative)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import innofin.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "need_rematch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("decline_code", sa.String(length=30), nullable=False),
        sa.Column("offered_at", innofin.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("message", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["need_id"],
            ["financing_need.id"],
            name=op.f("fk_need_rematch_need_id_financing_need"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["need_referral.id"],
            name=op.f("fk_need_rematch_referral_id_need_referral"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_rematch")),
        sa.UniqueConstraint("referral_id", name=op.f("uq_need_rematch_referral_id")),
    )
    with op.batch_alter_table("need_rematch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_need_rematch_need_id"), ["need_id"], unique=False)

    op.create_table(
        "rematch_alternative",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rematch_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=12), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("score", innofin.db.base.Quantity(), nullable=True),
        sa.Column("referral_id", sa.Integer(), nullable=True),
        sa.Column("needs_consent", sa.Boolean(), nullable=False),
        sa.Column("zh", sa.String(length=300), nullable=False),
        sa.Column("en", sa.String(length=300), nullable=False),
        sa.Column(
            "facts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(instrument = 'subsidy' AND programme_id IS NOT NULL AND product_id IS NULL) OR "
            "(instrument <> 'subsidy' AND product_id IS NOT NULL AND institution_id IS NOT NULL)",
            name=op.f("ck_rematch_alternative_names_its_offer"),
        ),
        sa.CheckConstraint(
            "instrument IN ('loan', 'guaranteed', 'equity', 'subsidy')",
            name=op.f("ck_rematch_alternative_instrument_known"),
        ),
        sa.CheckConstraint("rank >= 1", name=op.f("ck_rematch_alternative_rank_positive")),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_rematch_alternative_institution_id_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_rematch_alternative_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programme.id"],
            name=op.f("fk_rematch_alternative_programme_id_programme"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["need_referral.id"],
            name=op.f("fk_rematch_alternative_referral_id_need_referral"),
        ),
        sa.ForeignKeyConstraint(
            ["rematch_id"],
            ["need_rematch.id"],
            name=op.f("fk_rematch_alternative_rematch_id_need_rematch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rematch_alternative")),
        sa.UniqueConstraint("rematch_id", "rank", name=op.f("uq_rematch_alternative_rematch_id")),
    )
    with op.batch_alter_table("rematch_alternative", schema=None) as batch_op:
        batch_op.create_index("ix_rematch_alternative_instrument", ["instrument"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rematch_alternative", schema=None) as batch_op:
        batch_op.drop_index("ix_rematch_alternative_instrument")
    op.drop_table("rematch_alternative")
    with op.batch_alter_table("need_rematch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_need_rematch_need_id"))
    op.drop_table("need_rematch")
