"""Pydantic shapes of the registry: structured product eligibility and input records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from innofin.kernel.codes import (
    Collateral,
    FinancingMode,
    InstitutionKind,
    ProductKind,
    RateType,
    TechField,
    ZoneLevel,
)
from innofin.kernel.ids import IdScheme
from innofin.kernel.jsontypes import (
    AmountIn,
    AmountJson,
    IsoDate,
    MoneyIn,
    MoneyJson,
    QuantityIn,
    QuantityJson,
    Text16,
    Text20,
    Text30,
    Text40,
    Text60,
    Text64,
    Text120,
    Text200,
)


class Eligibility(BaseModel):
    """Who a product is for. Every condition is optional; an empty one admits everyone.

    Stored as JSON on the product; matching reads it later.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_points: Decimal | None = Field(None, ge=0, description="minimum innovation points")
    fields: list[TechField] = Field(default_factory=list, description="key high-tech fields")
    stages: list[str] = Field(default_factory=list, description="growth stage codes")
    zones: list[str] = Field(default_factory=list, description="zone codes")
    required_certifications: list[str] = Field(
        default_factory=list, description="certification kind codes, all required"
    )
    revenue_min: Decimal | None = Field(None, ge=0, description="yuan")
    revenue_max: Decimal | None = Field(None, ge=0, description="yuan")
    age_min_years: Decimal | None = Field(None, ge=0, description="years since founding, at least")
    age_max_years: Decimal | None = Field(None, ge=0, description="years since founding, at most")

    @model_validator(mode="after")
    def _bands_ordered(self) -> Eligibility:
        for low, high in (("revenue_min", "revenue_max"), ("age_min_years", "age_max_years")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} is larger than {high}")
        return self

    def to_json(self) -> dict[str, object]:
        """JSON for the database: Decimals as strings, empty conditions left out."""
        return self.model_dump(mode="json", exclude_defaults=True)


# --------------------------------------------------------------------------- API shapes
# Input bounds match the database columns, so a request that fits the schema fits the table.

Count = Annotated[int, Field(ge=0, le=2_000_000_000)]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Year = Annotated[int, Field(ge=1980, le=2100)]
Months = Annotated[int, Field(ge=1, le=600)]
RegionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Day = Annotated[IsoDate, Field(ge=dt.date(1800, 1, 1), le=dt.date(2200, 12, 31))]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ZoneFields(_In):
    name_zh: Text120 | None = None
    name_en: Text200 | None = None
    province: Text40 | None = None
    city: Text60 | None = None
    region_code: RegionCode | None = None
    level: ZoneLevel | None = None
    year_approved: Year | None = None


class ZoneCreate(ZoneFields):
    code: Text20
    name_zh: Text120
    name_en: Text200
    province: Text40
    city: Text60
    level: ZoneLevel


class ZoneOut(_Out):
    id: int
    code: str
    name_zh: str
    name_en: str
    province: str
    city: str
    region_code: str | None
    level: str
    year_approved: int | None


class ZoneStatFields(_In):
    gdp: AmountIn | None = None
    tax: AmountIn | None = None
    revenue: AmountIn | None = None
    rd_expense: AmountIn | None = None
    enterprises: Count | None = None
    hte_enterprises: Count | None = None
    employees: Count | None = None

    @model_validator(mode="after")
    def _hte_within_total(self) -> ZoneStatFields:
        if (
            self.enterprises is not None
            and self.hte_enterprises is not None
            and self.hte_enterprises > self.enterprises
        ):
            raise ValueError("hte_enterprises is larger than enterprises")
        return self


class ZoneStatOut(_Out):
    zone_id: int
    year: int
    gdp: AmountJson | None
    tax: AmountJson | None
    revenue: AmountJson | None
    rd_expense: AmountJson | None
    enterprises: int | None
    hte_enterprises: int | None
    employees: int | None


class EnterpriseFields(_In):
    name: Text200 | None = None
    zone_id: Id | None = None
    region_code: RegionCode | None = None
    founded_on: Day | None = None
    tech_field: Text40 | None = None
    industry_scheme: Text16 | None = None
    industry_code: Text16 | None = None
    growth_stage: Text20 | None = None


class EnterpriseCreate(EnterpriseFields):
    id_scheme: IdScheme = IdScheme.USCC
    identifier: Text64
    name: Text200


class EnterpriseOut(_Out):
    id: int
    id_scheme: str
    identifier: str
    name: str
    zone_id: int | None
    region_code: str | None
    founded_on: dt.date | None
    tech_field: str | None
    industry_scheme: str | None
    industry_code: str | None
    growth_stage: str | None


class EnterpriseDetail(EnterpriseOut):
    #: whether the caller may read this enterprise's indicator reports (institutions need consent)
    indicators_visible: bool


class ReportFields(_In):
    """An annual report's values; a PUT writes the fields it names and leaves the others."""

    revenue: AmountIn | None = None
    main_revenue: AmountIn | None = None
    rd_expense: AmountIn | None = None
    rd_staff: Count | None = None
    employees: Count | None = None
    invention_patents: Count | None = None
    ip_class1: Count | None = None
    ip_class2: Count | None = None
    tech_contract_turnover: AmountIn | None = None
    hightech_revenue: AmountIn | None = None
    net_profit: MoneyIn | None = None
    tax_paid: AmountIn | None = None
    total_assets: AmountIn | None = None
    total_liabilities: AmountIn | None = None
    equity_financing: AmountIn | None = None
    rd_platforms: Count | None = None
    standards_drafted: Count | None = None

    @model_validator(mode="after")
    def _staff_within_employees(self) -> ReportFields:
        staff, employees = self.rd_staff, self.employees
        if staff is not None and employees is not None and staff > employees:
            raise ValueError("rd_staff is larger than employees")
        return self


class ReportOut(_Out):
    enterprise_id: int
    year: int
    revenue: AmountJson | None
    main_revenue: AmountJson | None
    rd_expense: AmountJson | None
    rd_staff: int | None
    employees: int | None
    invention_patents: int | None
    ip_class1: int | None
    ip_class2: int | None
    tech_contract_turnover: AmountJson | None
    hightech_revenue: AmountJson | None
    net_profit: MoneyJson | None
    tax_paid: AmountJson | None
    total_assets: AmountJson | None
    total_liabilities: AmountJson | None
    equity_financing: AmountJson | None
    rd_platforms: int | None
    standards_drafted: int | None
    as_of: dt.date | None
    #: report field → [data source id, as-of date] of the value's provenance
    lineage: dict[str, list[int | str]]


class CertificationCreate(_In):
    kind: Text30
    number: Text60 | None = None
    valid_from: Day
    valid_until: Day | None = None

    @model_validator(mode="after")
    def _period_ordered(self) -> CertificationCreate:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class CertificationOut(_Out):
    id: int
    enterprise_id: int
    kind: str
    number: str | None
    valid_from: dt.date
    valid_until: dt.date | None


class InstitutionFields(_In):
    name: Text200 | None = None
    name_en: Text200 | None = None
    is_tech_branch: bool | None = None
    regions_served: list[Text40] | None = Field(None, max_length=100)


class InstitutionCreate(InstitutionFields):
    code: Text30
    name: Text200
    kind: InstitutionKind
    parent_id: Id | None = None


class InstitutionOut(_Out):
    id: int
    code: str
    name: str
    name_en: str | None
    kind: str
    parent_id: int | None
    is_tech_branch: bool
    regions_served: list[str]


class ProductFields(_In):
    name: Text200 | None = None
    amount_min: AmountIn | None = None
    amount_max: AmountIn | None = None
    term_min_months: Months | None = None
    term_max_months: Months | None = None
    rate_type: RateType | None = None
    rate_min: QuantityIn | None = None
    rate_max: QuantityIn | None = None
    collateral: Collateral | None = None
    eligibility: Eligibility | None = None
    annual_capacity: AmountIn | None = None
    active_from: Day | None = None
    active_until: Day | None = None
    risk_sharing_tag: Text40 | None = None

    @model_validator(mode="after")
    def _ranges_ordered(self) -> ProductFields:
        for low, high in (
            ("amount_min", "amount_max"),
            ("term_min_months", "term_max_months"),
            ("rate_min", "rate_max"),
            ("active_from", "active_until"),
        ):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} is larger than {high}")
        return self


class ProductCreate(ProductFields):
    code: Text40
    institution_id: Id
    name: Text200
    kind: ProductKind
    financing_mode: FinancingMode


class ProductOut(_Out):
    id: int
    code: str
    institution_id: int
    name: str
    kind: str
    financing_mode: str
    amount_min: AmountJson | None
    amount_max: AmountJson | None
    term_min_months: int | None
    term_max_months: int | None
    rate_type: str | None
    rate_min: QuantityJson | None
    rate_max: QuantityJson | None
    collateral: str
    eligibility: dict[str, Any]
    annual_capacity: AmountJson | None
    active_from: dt.date | None
    active_until: dt.date | None
    risk_sharing_tag: str | None


class AggregateCell(BaseModel):
    key: str | None
    enterprises: int
    #: sums in yuan over the year's reports; null where disclosure control hides them (fewer
    #: than 5 enterprises reported the value, one or two of them dominate it, or subtraction
    #: would reveal a hidden cell — see `innofin.kernel.disclosure`)
    revenue: AmountJson | None
    rd_expense: AmountJson | None


class InstitutionAggregate(BaseModel):
    kind: str
    institutions: int
    products: int
    #: null where disclosure control hides it (each institution one contributor)
    annual_capacity: AmountJson | None
