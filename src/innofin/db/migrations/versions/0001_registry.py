"""registry

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:13:45.121418
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import innofin.db.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# Reference rows as of this revision (frozen here; later revisions add, never rewrite).
TECH_FIELDS = [
    {"code": "electronic_information", "name_zh": "电子信息", "name_en": "Electronic information"},
    {"code": "bio_medicine", "name_zh": "生物与新医药", "name_en": "Biology and new medicine"},
    {"code": "aerospace", "name_zh": "航空航天", "name_en": "Aerospace"},
    {"code": "new_materials", "name_zh": "新材料", "name_en": "New materials"},
    {"code": "high_tech_services", "name_zh": "高技术服务", "name_en": "High-tech services"},
    {"code": "new_energy", "name_zh": "新能源与节能", "name_en": "New energy and energy saving"},
    {
        "code": "resources_environment",
        "name_zh": "资源与环境",
        "name_en": "Resources and environment",
    },
    {
        "code": "advanced_manufacturing",
        "name_zh": "先进制造与自动化",
        "name_en": "Advanced manufacturing and automation",
    },
]
GROWTH_STAGES = [
    {"code": "startup", "name_zh": "初创期", "name_en": "Start-up", "sort_order": 0},
    {"code": "growth", "name_zh": "成长期", "name_en": "Growth", "sort_order": 1},
    {"code": "stable", "name_zh": "稳定期", "name_en": "Stable", "sort_order": 2},
]
CERTIFICATION_KINDS = [
    {
        "code": "hnte",
        "name_zh": "高新技术企业",
        "name_en": "High and new technology enterprise",
        "validity_years": 3,
    },
    {
        "code": "tech_sme",
        "name_zh": "科技型中小企业",
        "name_en": "Technology-based SME",
        "validity_years": 1,
    },
    {
        "code": "srdi",
        "name_zh": "专精特新中小企业",
        "name_en": "Specialised, refined, distinctive and novel SME",
        "validity_years": 3,
    },
    {
        "code": "little_giant",
        "name_zh": "专精特新“小巨人”企业",
        "name_en": "SRDI 'little giant' enterprise",
        "validity_years": 3,
    },
    {
        "code": "gazelle",
        "name_zh": "瞪羚企业",
        "name_en": "Gazelle enterprise",
        "validity_years": 1,
    },
]
CORE_INDICATORS = [
    {
        "code": "revenue",
        "name_zh": "营业收入",
        "name_en": "Revenue",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "main_revenue",
        "name_zh": "主营业务收入",
        "name_en": "Main-business revenue",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "rd_expense",
        "name_zh": "研发费用",
        "name_en": "R&D expense",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "rd_staff",
        "name_zh": "研发人员数",
        "name_en": "R&D staff",
        "unit": "person",
        "is_core": True,
    },
    {
        "code": "employees",
        "name_zh": "从业人员数",
        "name_en": "Employees",
        "unit": "person",
        "is_core": True,
    },
    {
        "code": "invention_patents",
        "name_zh": "有效发明专利数",
        "name_en": "Valid invention patents",
        "unit": "count",
        "is_core": True,
    },
    {
        "code": "ip_class1",
        "name_zh": "Ⅰ类知识产权数",
        "name_en": "Class I IP",
        "unit": "count",
        "is_core": True,
    },
    {
        "code": "ip_class2",
        "name_zh": "Ⅱ类知识产权数",
        "name_en": "Class II IP",
        "unit": "count",
        "is_core": True,
    },
    {
        "code": "tech_contract_turnover",
        "name_zh": "技术合同成交额",
        "name_en": "Technology contract turnover",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "hightech_revenue",
        "name_zh": "高新技术产品收入",
        "name_en": "High-tech product revenue",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "net_profit",
        "name_zh": "净利润",
        "name_en": "Net profit",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "tax_paid",
        "name_zh": "纳税总额",
        "name_en": "Tax paid",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "total_assets",
        "name_zh": "资产总额",
        "name_en": "Total assets",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "total_liabilities",
        "name_zh": "负债总额",
        "name_en": "Total liabilities",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "equity_financing",
        "name_zh": "股权融资额",
        "name_en": "Equity financing received",
        "unit": "yuan",
        "is_core": True,
    },
    {
        "code": "rd_platforms",
        "name_zh": "省级以上研发平台数",
        "name_en": "Provincial-or-higher R&D platforms",
        "unit": "count",
        "is_core": True,
    },
    {
        "code": "standards_drafted",
        "name_zh": "主持或参与制定标准数",
        "name_en": "Standards drafted",
        "unit": "count",
        "is_core": True,
    },
]


def _seed() -> None:
    meta = sa.MetaData()
    for name, rows in (
        ("tech_field", TECH_FIELDS),
        ("growth_stage", GROWTH_STAGES),
        ("certification_kind", CERTIFICATION_KINDS),
        ("indicator_definition", CORE_INDICATORS),
    ):
        table = sa.Table(name, meta, autoload_with=op.get_bind())
        op.bulk_insert(table, rows)


def upgrade() -> None:
    op.create_table(
        "certification_kind",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("validity_years", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_certification_kind")),
    )
    op.create_table(
        "data_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('import','provider','self_reported','demo')",
            name=op.f("ck_data_source_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_source")),
    )
    op.create_table(
        "growth_stage",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name_zh", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_growth_stage")),
    )
    op.create_table(
        "institution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("is_tech_branch", sa.Boolean(), nullable=False),
        sa.Column(
            "regions_served",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('bank','insurer','guarantor','vc_pe','leasing','micro_credit','securities','other')",
            name=op.f("ck_institution_kind_known"),
        ),
        sa.CheckConstraint(
            "parent_id IS NULL OR parent_id <> id", name=op.f("ck_institution_not_own_parent")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["institution.id"], name=op.f("fk_institution_parent_id_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution")),
        sa.UniqueConstraint("code", name=op.f("uq_institution_code")),
    )
    op.create_table(
        "tech_field",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_tech_field")),
    )
    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=False),
        sa.Column("city", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("year_approved", sa.Integer(), nullable=True),
        sa.CheckConstraint("level IN ('national','provincial')", name=op.f("ck_zone_level_known")),
        sa.CheckConstraint(
            "year_approved IS NULL OR year_approved BETWEEN 1980 AND 2100",
            name=op.f("ck_zone_year_plausible"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("code", name=op.f("uq_zone_code")),
    )
    op.create_table(
        "enterprise",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_scheme", sa.String(length=10), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("founded_on", sa.Date(), nullable=True),
        sa.Column("tech_field", sa.String(length=40), nullable=True),
        sa.Column("industry_scheme", sa.String(length=16), nullable=True),
        sa.Column("industry_code", sa.String(length=16), nullable=True),
        sa.Column("growth_stage", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["growth_stage"],
            ["growth_stage.code"],
            name=op.f("fk_enterprise_growth_stage_growth_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["tech_field"], ["tech_field.code"], name=op.f("fk_enterprise_tech_field_tech_field")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_enterprise_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise")),
        sa.UniqueConstraint("id_scheme", "identifier", name=op.f("uq_enterprise_id_scheme")),
    )
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enterprise_tech_field"), ["tech_field"], unique=False)
        batch_op.create_index(batch_op.f("ix_enterprise_zone_id"), ["zone_id"], unique=False)

    op.create_table(
        "indicator_definition",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("is_core", sa.Boolean(), nullable=False),
        sa.Column("owner_zone_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_zone_id"], ["zone.id"], name=op.f("fk_indicator_definition_owner_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_indicator_definition")),
    )
    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("financing_mode", sa.String(length=10), nullable=False),
        sa.Column("amount_min", innofin.db.base.Money(), nullable=True),
        sa.Column("amount_max", innofin.db.base.Money(), nullable=True),
        sa.Column("term_min_months", sa.Integer(), nullable=True),
        sa.Column("term_max_months", sa.Integer(), nullable=True),
        sa.Column("rate_type", sa.String(length=12), nullable=True),
        sa.Column("rate_min", innofin.db.base.Quantity(), nullable=True),
        sa.Column("rate_max", innofin.db.base.Quantity(), nullable=True),
        sa.Column("collateral", sa.String(length=20), nullable=False),
        sa.Column(
            "eligibility",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("annual_capacity", innofin.db.base.Money(), nullable=True),
        sa.Column("active_from", sa.Date(), nullable=True),
        sa.Column("active_until", sa.Date(), nullable=True),
        sa.Column("risk_sharing_tag", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "financing_mode IN ('direct','indirect')", name=op.f("ck_product_mode_known")
        ),
        sa.CheckConstraint(
            "rate_type IS NULL OR rate_type IN ('fixed','lpr_spread')",
            name=op.f("ck_product_rate_type_known"),
        ),
        sa.CheckConstraint(
            "active_until IS NULL OR active_from IS NULL OR active_until >= active_from",
            name=op.f("ck_product_active_period_ordered"),
        ),
        sa.CheckConstraint(
            "amount_min IS NULL OR amount_max IS NULL OR amount_min <= amount_max",
            name=op.f("ck_product_amount_range_ordered"),
        ),
        sa.CheckConstraint(
            "amount_min IS NULL OR amount_min >= 0", name=op.f("ck_product_amount_min_nonneg")
        ),
        sa.CheckConstraint(
            "annual_capacity IS NULL OR annual_capacity >= 0",
            name=op.f("ck_product_capacity_nonneg"),
        ),
        sa.CheckConstraint(
            "rate_min IS NULL OR rate_max IS NULL OR rate_min <= rate_max",
            name=op.f("ck_product_rate_range_ordered"),
        ),
        sa.CheckConstraint(
            "term_min_months IS NULL OR term_max_months IS NULL OR term_min_months <= term_max_months",
            name=op.f("ck_product_term_range_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_product_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
        sa.UniqueConstraint("code", name=op.f("uq_product_code")),
    )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_institution_id"), ["institution_id"], unique=False
        )

    op.create_table(
        "zone_year_stat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("gdp", innofin.db.base.Money(), nullable=True),
        sa.Column("tax", innofin.db.base.Money(), nullable=True),
        sa.Column("revenue", innofin.db.base.Money(), nullable=True),
        sa.Column("rd_expense", innofin.db.base.Money(), nullable=True),
        sa.Column("enterprises", sa.Integer(), nullable=True),
        sa.Column("hte_enterprises", sa.Integer(), nullable=True),
        sa.Column("employees", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "enterprises IS NULL OR enterprises >= 0",
            name=op.f("ck_zone_year_stat_enterprises_nonneg"),
        ),
        sa.CheckConstraint(
            "hte_enterprises IS NULL OR enterprises IS NULL OR hte_enterprises <= enterprises",
            name=op.f("ck_zone_year_stat_hte_within_total"),
        ),
        sa.CheckConstraint(
            "hte_enterprises IS NULL OR hte_enterprises >= 0",
            name=op.f("ck_zone_year_stat_hte_nonneg"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["data_source.id"], name=op.f("fk_zone_year_stat_source_id_data_source")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"],
            ["zone.id"],
            name=op.f("fk_zone_year_stat_zone_id_zone"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone_year_stat")),
        sa.UniqueConstraint("zone_id", "year", name=op.f("uq_zone_year_stat_zone_id")),
    )
    op.create_table(
        "certification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until >= valid_from",
            name=op.f("ck_certification_period_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_certification_enterprise_id_enterprise"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["kind"],
            ["certification_kind.code"],
            name=op.f("fk_certification_kind_certification_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certification")),
        sa.UniqueConstraint(
            "enterprise_id", "kind", "valid_from", name=op.f("uq_certification_enterprise_id")
        ),
    )
    with op.batch_alter_table("certification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certification_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "indicator_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("revenue", innofin.db.base.Money(), nullable=True),
        sa.Column("main_revenue", innofin.db.base.Money(), nullable=True),
        sa.Column("rd_expense", innofin.db.base.Money(), nullable=True),
        sa.Column("rd_staff", sa.Integer(), nullable=True),
        sa.Column("employees", sa.Integer(), nullable=True),
        sa.Column("invention_patents", sa.Integer(), nullable=True),
        sa.Column("ip_class1", sa.Integer(), nullable=True),
        sa.Column("ip_class2", sa.Integer(), nullable=True),
        sa.Column("tech_contract_turnover", innofin.db.base.Money(), nullable=True),
        sa.Column("hightech_revenue", innofin.db.base.Money(), nullable=True),
        sa.Column("net_profit", innofin.db.base.Money(), nullable=True),
        sa.Column("tax_paid", innofin.db.base.Money(), nullable=True),
        sa.Column("total_assets", innofin.db.base.Money(), nullable=True),
        sa.Column("total_liabilities", innofin.db.base.Money(), nullable=True),
        sa.Column("equity_financing", innofin.db.base.Money(), nullable=True),
        sa.Column("rd_platforms", sa.Integer(), nullable=True),
        sa.Column("standards_drafted", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column(
            "lineage",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "employees IS NULL OR employees >= 0", name=op.f("ck_indicator_report_employees_nonneg")
        ),
        sa.CheckConstraint(
            "equity_financing IS NULL OR equity_financing >= 0",
            name=op.f("ck_indicator_report_equity_financing_nonneg"),
        ),
        sa.CheckConstraint(
            "hightech_revenue IS NULL OR hightech_revenue >= 0",
            name=op.f("ck_indicator_report_hightech_revenue_nonneg"),
        ),
        sa.CheckConstraint(
            "invention_patents IS NULL OR invention_patents >= 0",
            name=op.f("ck_indicator_report_invention_patents_nonneg"),
        ),
        sa.CheckConstraint(
            "ip_class1 IS NULL OR ip_class1 >= 0", name=op.f("ck_indicator_report_ip_class1_nonneg")
        ),
        sa.CheckConstraint(
            "ip_class2 IS NULL OR ip_class2 >= 0", name=op.f("ck_indicator_report_ip_class2_nonneg")
        ),
        sa.CheckConstraint(
            "main_revenue IS NULL OR main_revenue >= 0",
            name=op.f("ck_indicator_report_main_revenue_nonneg"),
        ),
        sa.CheckConstraint(
            "rd_expense IS NULL OR rd_expense >= 0",
            name=op.f("ck_indicator_report_rd_expense_nonneg"),
        ),
        sa.CheckConstraint(
            "rd_platforms IS NULL OR rd_platforms >= 0",
            name=op.f("ck_indicator_report_rd_platforms_nonneg"),
        ),
        sa.CheckConstraint(
            "rd_staff IS NULL OR employees IS NULL OR rd_staff <= employees",
            name=op.f("ck_indicator_report_rd_staff_within_employees"),
        ),
        sa.CheckConstraint(
            "rd_staff IS NULL OR rd_staff >= 0", name=op.f("ck_indicator_report_rd_staff_nonneg")
        ),
        sa.CheckConstraint(
            "revenue IS NULL OR revenue >= 0", name=op.f("ck_indicator_report_revenue_nonneg")
        ),
        sa.CheckConstraint(
            "standards_drafted IS NULL OR standards_drafted >= 0",
            name=op.f("ck_indicator_report_standards_drafted_nonneg"),
        ),
        sa.CheckConstraint(
            "tax_paid IS NULL OR tax_paid >= 0", name=op.f("ck_indicator_report_tax_paid_nonneg")
        ),
        sa.CheckConstraint(
            "tech_contract_turnover IS NULL OR tech_contract_turnover >= 0",
            name=op.f("ck_indicator_report_tech_contract_turnover_nonneg"),
        ),
        sa.CheckConstraint(
            "total_assets IS NULL OR total_assets >= 0",
            name=op.f("ck_indicator_report_total_assets_nonneg"),
        ),
        sa.CheckConstraint(
            "total_liabilities IS NULL OR total_liabilities >= 0",
            name=op.f("ck_indicator_report_total_liabilities_nonneg"),
        ),
        sa.CheckConstraint(
            "year BETWEEN 1980 AND 2100", name=op.f("ck_indicator_report_year_plausible")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_indicator_report_enterprise_id_enterprise"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["data_source.id"],
            name=op.f("fk_indicator_report_source_id_data_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_report")),
        sa.UniqueConstraint(
            "enterprise_id", "year", name=op.f("uq_indicator_report_enterprise_id")
        ),
    )
    op.create_table(
        "indicator_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sa.String(length=60), nullable=False),
        sa.Column("value", innofin.db.base.Quantity(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_indicator_value_enterprise_id_enterprise"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["indicator_code"],
            ["indicator_definition.code"],
            name=op.f("fk_indicator_value_indicator_code_indicator_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["data_source.id"], name=op.f("fk_indicator_value_source_id_data_source")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_value")),
        sa.UniqueConstraint(
            "enterprise_id", "year", "indicator_code", name=op.f("uq_indicator_value_enterprise_id")
        ),
    )
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(kind = 'government' AND zone_id IS NULL AND institution_id IS NULL AND enterprise_id IS NULL) OR (kind = 'zone' AND zone_id IS NOT NULL AND institution_id IS NULL AND enterprise_id IS NULL) OR (kind = 'institution' AND institution_id IS NOT NULL AND zone_id IS NULL AND enterprise_id IS NULL) OR (kind = 'enterprise' AND enterprise_id IS NOT NULL AND zone_id IS NULL AND institution_id IS NULL)",
            name=op.f("ck_organisation_kind_matches_link"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
            name=op.f("fk_organisation_enterprise_id_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_organisation_institution_id_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_organisation_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("enterprise_id", name=op.f("uq_organisation_enterprise_id")),
        sa.UniqueConstraint("institution_id", name=op.f("uq_organisation_institution_id")),
        sa.UniqueConstraint("zone_id", name=op.f("uq_organisation_zone_id")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_app_user_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "user_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.CheckConstraint(
            "role IN ('platform_admin','programme_officer','zone_officer','institution_officer','enterprise_user')",
            name=op.f("ck_user_role_role_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_role_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_role")),
    )
    _seed()


def downgrade() -> None:
    op.drop_table("user_role")
    op.drop_table("app_user")
    op.drop_table("organisation")
    op.drop_table("indicator_value")
    op.drop_table("indicator_report")
    with op.batch_alter_table("certification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certification_enterprise_id"))

    op.drop_table("certification")
    op.drop_table("zone_year_stat")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_institution_id"))

    op.drop_table("product")
    op.drop_table("indicator_definition")
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprise_zone_id"))
        batch_op.drop_index(batch_op.f("ix_enterprise_tech_field"))

    op.drop_table("enterprise")
    op.drop_table("zone")
    op.drop_table("tech_field")
    op.drop_table("institution")
    op.drop_table("growth_stage")
    op.drop_table("data_source")
    op.drop_table("certification_kind")
