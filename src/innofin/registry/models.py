"""Registry tables (SQLAlchemy 2 typed models).

Reference codes (tech fields, growth stages, certification kinds, indicator names) are rows, not
enums in the schema, so that a programme can add its own without a migration.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from innofin.audit.recorder import Audited
from innofin.db.base import Base, JsonDoc, Money, Quantity
from innofin.kernel.indicators import REPORT_FIELDS

# --------------------------------------------------------------------------- reference codes


class TechFieldRef(Base):
    """A key high-tech field (the 8 national fields are seeded by the first migration)."""

    __tablename__ = "tech_field"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120))


class GrowthStageRef(Base):
    """A growth stage (初创期 / 成长期 / 稳定期 by default; configurable)."""

    __tablename__ = "growth_stage"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class CertificationKindRef(Base):
    __tablename__ = "certification_kind"
    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120))
    validity_years: Mapped[int | None] = mapped_column(Integer)


class IndicatorDefinition(Audited, Base):
    """The registry of indicator names: the core annual-report fields and a zone's own extras."""

    __tablename__ = "indicator_definition"
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20))  # yuan, count, person, percent, flag
    is_core: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))


# --------------------------------------------------------------------------- lineage


class DataSource(Base):
    """Where values came from: an imported file, a provider feed, self-reporting, the demo."""

    __tablename__ = "data_source"
    __table_args__ = (
        CheckConstraint("kind IN ('import','provider','self_reported','demo')", name="kind_known"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# --------------------------------------------------------------------------- zones


class Zone(Audited, Base):
    """A hi-tech zone (高新区), national or provincial."""

    __tablename__ = "zone"
    __table_args__ = (
        CheckConstraint("level IN ('national','provincial')", name="level_known"),
        CheckConstraint(
            "year_approved IS NULL OR year_approved BETWEEN 1980 AND 2100", name="year_plausible"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(60))
    region_code: Mapped[str | None] = mapped_column(String(6))  # administrative division code
    level: Mapped[str] = mapped_column(String(12))
    year_approved: Mapped[int | None] = mapped_column(Integer)

    stats: Mapped[list[ZoneYearStat]] = relationship(back_populates="zone")


class ZoneYearStat(Audited, Base):
    """A zone's statistics for one year."""

    __tablename__ = "zone_year_stat"
    __table_args__ = (
        UniqueConstraint("zone_id", "year"),
        CheckConstraint("enterprises IS NULL OR enterprises >= 0", name="enterprises_nonneg"),
        CheckConstraint("hte_enterprises IS NULL OR hte_enterprises >= 0", name="hte_nonneg"),
        CheckConstraint(
            "hte_enterprises IS NULL OR enterprises IS NULL OR hte_enterprises <= enterprises",
            name="hte_within_total",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    gdp: Mapped[Decimal | None] = mapped_column(Money)
    tax: Mapped[Decimal | None] = mapped_column(Money)
    revenue: Mapped[Decimal | None] = mapped_column(Money)
    rd_expense: Mapped[Decimal | None] = mapped_column(Money)
    enterprises: Mapped[int | None] = mapped_column(Integer)
    hte_enterprises: Mapped[int | None] = mapped_column(Integer)
    employees: Mapped[int | None] = mapped_column(Integer)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("data_source.id"))

    zone: Mapped[Zone] = relationship(back_populates="stats")


# --------------------------------------------------------------------------- enterprises


class Enterprise(Audited, Base):
    """A technology enterprise, identified by (scheme, identifier) — USCC by default."""

    __tablename__ = "enterprise"
    __table_args__ = (
        UniqueConstraint("id_scheme", "identifier"),
        # list pages sorted by name or founding date (then by id) read an index in that order,
        # not the whole table: the id is in the index because PostgreSQL's indexes, unlike
        # SQLite's, do not end with the row id
        Index("ix_enterprise_name", "name", "id"),
        Index("ix_enterprise_zone_name", "zone_id", "name", "id"),
        Index("ix_enterprise_founded_on", "founded_on", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    id_scheme: Mapped[str] = mapped_column(String(10), default="uscc")
    identifier: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(String(6))
    founded_on: Mapped[dt.date | None] = mapped_column(Date)
    tech_field: Mapped[str | None] = mapped_column(ForeignKey("tech_field.code"), index=True)
    industry_scheme: Mapped[str | None] = mapped_column(String(16))  # GB/T 4754, NAICS, ...
    industry_code: Mapped[str | None] = mapped_column(String(16))
    growth_stage: Mapped[str | None] = mapped_column(ForeignKey("growth_stage.code"))

    certifications: Mapped[list[Certification]] = relationship(back_populates="enterprise")


class Certification(Audited, Base):
    """A certification held for a validity period (e.g. high-tech enterprise, 3 years)."""

    __tablename__ = "certification"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "kind", "valid_from"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="period_ordered"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(ForeignKey("certification_kind.code"))
    number: Mapped[str | None] = mapped_column(String(60))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)

    enterprise: Mapped[Enterprise] = relationship(back_populates="certifications")


class IndicatorReport(Audited, Base):
    """One enterprise's annual indicator report (年度指标).

    Lineage: `source_id`/`as_of` name the last writer of the row; `lineage` maps each field to
    ``[source_id, as_of]`` of the source that last set it, so a value keeps its provenance even when
    later files update only some fields.
    """

    __tablename__ = "indicator_report"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "year"),
        CheckConstraint("year BETWEEN 1980 AND 2100", name="year_plausible"),
        *(
            CheckConstraint(f"{name} IS NULL OR {name} >= 0", name=f"{name}_nonneg")
            for name, spec in REPORT_FIELDS.items()
            if not spec.signed
        ),
        CheckConstraint(
            "rd_staff IS NULL OR employees IS NULL OR rd_staff <= employees",
            name="rd_staff_within_employees",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[Decimal | None] = mapped_column(Money)
    main_revenue: Mapped[Decimal | None] = mapped_column(Money)
    rd_expense: Mapped[Decimal | None] = mapped_column(Money)
    rd_staff: Mapped[int | None] = mapped_column(Integer)
    employees: Mapped[int | None] = mapped_column(Integer)
    invention_patents: Mapped[int | None] = mapped_column(Integer)
    ip_class1: Mapped[int | None] = mapped_column(Integer)
    ip_class2: Mapped[int | None] = mapped_column(Integer)
    tech_contract_turnover: Mapped[Decimal | None] = mapped_column(Money)
    hightech_revenue: Mapped[Decimal | None] = mapped_column(Money)
    net_profit: Mapped[Decimal | None] = mapped_column(Money)
    tax_paid: Mapped[Decimal | None] = mapped_column(Money)
    total_assets: Mapped[Decimal | None] = mapped_column(Money)
    total_liabilities: Mapped[Decimal | None] = mapped_column(Money)
    equity_financing: Mapped[Decimal | None] = mapped_column(Money)
    rd_platforms: Mapped[int | None] = mapped_column(Integer)
    standards_drafted: Mapped[int | None] = mapped_column(Integer)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("data_source.id"))
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    lineage: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class IndicatorValue(Audited, Base):
    """An extra (zone-defined) indicator value, each with its own source and as-of date."""

    __tablename__ = "indicator_value"
    __table_args__ = (UniqueConstraint("enterprise_id", "year", "indicator_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicator_definition.code"))
    value: Mapped[Decimal | None] = mapped_column(Quantity)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("data_source.id"))
    as_of: Mapped[dt.date | None] = mapped_column(Date)


# --------------------------------------------------------------------------- institutions


class Institution(Audited, Base):
    """A financial institution (bank, insurer, guarantor, VC/PE fund...), head or branch."""

    __tablename__ = "institution"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('bank','insurer','guarantor','vc_pe','leasing','micro_credit',"
            "'securities','other')",
            name="kind_known",
        ),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    is_tech_branch: Mapped[bool] = mapped_column(Boolean, default=False)  # 科技支行 / 科技金融中心
    regions_served: Mapped[list[str]] = mapped_column(JsonDoc, default=list)  # provinces or codes

    parent: Mapped[Institution | None] = relationship(remote_side="Institution.id")
    products: Mapped[list[Product]] = relationship(back_populates="institution")


class Product(Audited, Base):
    """A financing product with structured eligibility (see `registry.schemas.Eligibility`)."""

    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("financing_mode IN ('direct','indirect')", name="mode_known"),
        CheckConstraint(
            "rate_type IS NULL OR rate_type IN ('fixed','lpr_spread')", name="rate_type_known"
        ),
        CheckConstraint("amount_min IS NULL OR amount_min >= 0", name="amount_min_nonneg"),
        CheckConstraint(
            "amount_min IS NULL OR amount_max IS NULL OR amount_min <= amount_max",
            name="amount_range_ordered",
        ),
        CheckConstraint(
            "term_min_months IS NULL OR term_max_months IS NULL "
            "OR term_min_months <= term_max_months",
            name="term_range_ordered",
        ),
        CheckConstraint(
            "rate_min IS NULL OR rate_max IS NULL OR rate_min <= rate_max",
            name="rate_range_ordered",
        ),
        CheckConstraint("annual_capacity IS NULL OR annual_capacity >= 0", name="capacity_nonneg"),
        CheckConstraint(
            "active_until IS NULL OR active_from IS NULL OR active_until >= active_from",
            name="active_period_ordered",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    financing_mode: Mapped[str] = mapped_column(String(10))
    amount_min: Mapped[Decimal | None] = mapped_column(Money)
    amount_max: Mapped[Decimal | None] = mapped_column(Money)
    term_min_months: Mapped[int | None] = mapped_column(Integer)
    term_max_months: Mapped[int | None] = mapped_column(Integer)
    rate_type: Mapped[str | None] = mapped_column(String(12))
    # Fixed: annual rate in percent; LPR + spread: spread in basis points.
    rate_min: Mapped[Decimal | None] = mapped_column(Quantity)
    rate_max: Mapped[Decimal | None] = mapped_column(Quantity)
    collateral: Mapped[str] = mapped_column(String(20), default="none")
    eligibility: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    annual_capacity: Mapped[Decimal | None] = mapped_column(Money)
    active_from: Mapped[dt.date | None] = mapped_column(Date)
    active_until: Mapped[dt.date | None] = mapped_column(Date)
    risk_sharing_tag: Mapped[str | None] = mapped_column(String(40))

    institution: Mapped[Institution] = relationship(back_populates="products")


# --------------------------------------------------------------------------- organisations, users


class Organisation(Audited, Base):
    """A party on the platform: a government body, a zone, an institution or an enterprise."""

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'government' AND zone_id IS NULL AND institution_id IS NULL "
            "AND enterprise_id IS NULL) OR "
            "(kind = 'zone' AND zone_id IS NOT NULL AND institution_id IS NULL "
            "AND enterprise_id IS NULL) OR "
            "(kind = 'institution' AND institution_id IS NOT NULL AND zone_id IS NULL "
            "AND enterprise_id IS NULL) OR "
            "(kind = 'enterprise' AND enterprise_id IS NOT NULL AND zone_id IS NULL "
            "AND institution_id IS NULL)",
            name="kind_matches_link",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), unique=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), unique=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"), unique=True)
    #: a government body's jurisdiction: a province's name, or NULL for a national office
    province: Mapped[str | None] = mapped_column(String(40))


class User(Audited, Base):
    __tablename__ = "app_user"
    __audit_redact__ = frozenset({"password_hash"})
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class UserRole(Audited, Base):
    __tablename__ = "user_role"
    __table_args__ = (
        CheckConstraint(
            "role IN ('platform_admin','programme_officer','zone_officer',"
            "'institution_officer','enterprise_user')",
            name="role_known",
        ),
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(30), primary_key=True)
