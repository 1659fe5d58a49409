"""The kinds of data that can be imported and exported, described as data.

A kind lists its fields in innofin's own file format (English names, amounts in yuan), what each
field holds, which fields form the natural key a re-import upserts on, and which table receives the
rows. Fields that name another record (a zone code, an enterprise's identifier, an institution
code) have no column of their own: the rules resolve them to the id column given in `resolves_to`.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table

from innofin.ingest.errors import IngestError
from innofin.kernel.codes import Collateral, FinancingMode, InstitutionKind, ProductKind, RateType
from innofin.kernel.ids import IdScheme
from innofin.kernel.indicators import REPORT_FIELDS
from innofin.registry.models import (
    Certification,
    Enterprise,
    IndicatorDefinition,
    IndicatorReport,
    Institution,
    Product,
    Zone,
    ZoneYearStat,
)
from innofin.registry.schemas import Eligibility


class FieldType(StrEnum):
    TEXT = "text"
    CODE = "code"  # one of a fixed set of codes (an enum of the kernel, or a reference table)
    INT = "int"  # a whole number (counts, persons, months)
    YEAR = "year"
    MONEY = "money"  # yuan with fen precision; read in 元/万元/亿元
    QUANTITY = "quantity"  # a decimal with four places (rates, extension indicators)
    DATE = "date"
    BOOL = "bool"
    LIST = "list"  # a list of short texts, written "a;b;c"
    JSON = "json"  # a JSON document (product eligibility)


@dataclass(frozen=True)
class FieldSpec:
    """One field of a kind's file format.

    `default` is written into new rows when the file has no column for the field (existing rows
    keep their value); `empty` is the value of an empty cell for NOT NULL columns that are not
    required (an empty `name_en` is the empty string, not a missing value).
    """

    name: str
    type: FieldType
    required: bool = False
    signed: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    ref: str | None = None  # reference table whose codes are allowed (tech_field, ...)
    resolves_to: str | None = None  # id column filled by the kind's rules (zone -> zone_id)
    default: Any = None
    empty: Any = None
    schema: builtins.type[BaseModel] | None = None  # validates JSON fields

    @property
    def column(self) -> str:
        """The table column this field is written to."""
        return self.resolves_to or self.name


@dataclass(frozen=True)
class KindSpec:
    """A kind: its fields in file order, its natural key (as fields and as columns), its table."""

    name: str
    table: Table
    fields: tuple[FieldSpec, ...]
    key: tuple[str, ...]
    db_key: tuple[str, ...]
    ordered_pairs: tuple[tuple[str, str], ...] = ()  # (low, high): low <= high when both set

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)


def table_of(model: builtins.type[Any]) -> Table:
    """A model's table, typed as one (the declarative base only promises a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _choices(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


# The enterprise a row is about: scheme (optional, default USCC) and identifier.
_SCHEME = FieldSpec(
    "id_scheme",
    FieldType.CODE,
    choices=_choices(IdScheme),
    default="uscc",
    empty="uscc",
    resolves_to="enterprise_id",
)
_IDENTIFIER = FieldSpec(
    "identifier", FieldType.TEXT, required=True, max_length=64, resolves_to="enterprise_id"
)
_YEAR = FieldSpec("year", FieldType.YEAR, required=True)

ZONES = KindSpec(
    name="zones",
    table=table_of(Zone),
    fields=(
        FieldSpec("code", FieldType.TEXT, required=True, max_length=20),
        FieldSpec("name_zh", FieldType.TEXT, required=True, max_length=120),
        FieldSpec("name_en", FieldType.TEXT, max_length=200, default="", empty=""),
        FieldSpec("province", FieldType.TEXT, required=True, max_length=40),
        FieldSpec("city", FieldType.TEXT, required=True, max_length=60),
        FieldSpec("region_code", FieldType.TEXT, max_length=6),
        FieldSpec(
            "level",
            FieldType.CODE,
            required=True,
            choices=("national", "provincial"),
            aliases={"国家级": "national", "省级": "provincial"},
        ),
        FieldSpec("year_approved", FieldType.YEAR),
    ),
    key=("code",),
    db_key=("code",),
)

ZONE_STATS = KindSpec(
    name="zone-stats",
    table=table_of(ZoneYearStat),
    fields=(
        FieldSpec("zone", FieldType.TEXT, required=True, max_length=20, resolves_to="zone_id"),
        _YEAR,
        *(FieldSpec(name, FieldType.MONEY) for name in ("gdp", "tax", "revenue", "rd_expense")),
        *(FieldSpec(n, FieldType.INT) for n in ("enterprises", "hte_enterprises", "employees")),
    ),
    key=("zone", "year"),
    db_key=("zone_id", "year"),
    ordered_pairs=(("hte_enterprises", "enterprises"),),
)

ENTERPRISES = KindSpec(
    name="enterprises",
    table=table_of(Enterprise),
    fields=(
        FieldSpec(
            "id_scheme", FieldType.CODE, choices=_choices(IdScheme), default="uscc", empty="uscc"
        ),
        FieldSpec("identifier", FieldType.TEXT, required=True, max_length=64),
        FieldSpec("name", FieldType.TEXT, required=True, max_length=200),
        FieldSpec("zone", FieldType.TEXT, max_length=20, resolves_to="zone_id"),
        FieldSpec("region_code", FieldType.TEXT, max_length=6),
        FieldSpec("founded_on", FieldType.DATE),
        FieldSpec("tech_field", FieldType.CODE, ref="tech_field"),
        FieldSpec("industry_scheme", FieldType.TEXT, max_length=16),
        FieldSpec("industry_code", FieldType.TEXT, max_length=16),
        FieldSpec("growth_stage", FieldType.CODE, ref="growth_stage"),
    ),
    key=("id_scheme", "identifier"),
    db_key=("id_scheme", "identifier"),
)

CERTIFICATIONS = KindSpec(
    name="certifications",
    table=table_of(Certification),
    fields=(
        _SCHEME,
        _IDENTIFIER,
        FieldSpec("kind", FieldType.CODE, required=True, ref="certification_kind"),
        FieldSpec("number", FieldType.TEXT, max_length=60),
        FieldSpec("valid_from", FieldType.DATE, required=True),
        FieldSpec("valid_until", FieldType.DATE),
    ),
    key=("id_scheme", "identifier", "kind", "valid_from"),
    db_key=("enterprise_id", "kind", "valid_from"),
    ordered_pairs=(("valid_from", "valid_until"),),
)

#: Units an extension indicator may have.
INDICATOR_UNITS = ("yuan", "count", "person", "percent", "flag", "number")

INDICATOR_DEFINITIONS = KindSpec(
    name="indicator-definitions",
    table=table_of(IndicatorDefinition),
    fields=(
        FieldSpec("code", FieldType.TEXT, required=True, max_length=60),
        FieldSpec("name_zh", FieldType.TEXT, required=True, max_length=120),
        FieldSpec("name_en", FieldType.TEXT, max_length=200, default="", empty=""),
        FieldSpec(
            "unit",
            FieldType.CODE,
            required=True,
            choices=INDICATOR_UNITS,
            aliases={"元": "yuan", "个": "count", "人": "person", "%": "percent", "是否": "flag"},
        ),
        FieldSpec("zone", FieldType.TEXT, max_length=20, resolves_to="owner_zone_id"),
    ),
    key=("code",),
    db_key=("code",),
)

INDICATORS = KindSpec(
    name="indicators",
    table=table_of(IndicatorReport),
    fields=(
        _SCHEME,
        _IDENTIFIER,
        _YEAR,
        *(
            FieldSpec(
                name, FieldType.MONEY if spec.unit == "yuan" else FieldType.INT, signed=spec.signed
            )
            for name, spec in REPORT_FIELDS.items()
        ),
        FieldSpec("as_of", FieldType.DATE),
    ),
    key=("id_scheme", "identifier", "year"),
    db_key=("enterprise_id", "year"),
    ordered_pairs=(("rd_staff", "employees"),),
)

INSTITUTIONS = KindSpec(
    name="institutions",
    table=table_of(Institution),
    fields=(
        FieldSpec("code", FieldType.TEXT, required=True, max_length=30),
        FieldSpec("name", FieldType.TEXT, required=True, max_length=200),
        FieldSpec("name_en", FieldType.TEXT, max_length=200),
        FieldSpec("kind", FieldType.CODE, required=True, choices=_choices(InstitutionKind)),
        FieldSpec("parent", FieldType.TEXT, max_length=30, resolves_to="parent_id"),
        FieldSpec("is_tech_branch", FieldType.BOOL, default=False, empty=False),
        FieldSpec("regions_served", FieldType.LIST, default="[]", empty="[]"),
    ),
    key=("code",),
    db_key=("code",),
)

PRODUCTS = KindSpec(
    name="products",
    table=table_of(Product),
    fields=(
        FieldSpec("code", FieldType.TEXT, required=True, max_length=40),
        FieldSpec(
            "institution",
            FieldType.TEXT,
            required=True,
            max_length=30,
            resolves_to="institution_id",
        ),
        FieldSpec("name", FieldType.TEXT, required=True, max_length=200),
        FieldSpec("kind", FieldType.CODE, required=True, choices=_choices(ProductKind)),
        FieldSpec("financing_mode", FieldType.CODE, required=True, choices=_choices(FinancingMode)),
        FieldSpec("amount_min", FieldType.MONEY),
        FieldSpec("amount_max", FieldType.MONEY),
        FieldSpec("term_min_months", FieldType.INT),
        FieldSpec("term_max_months", FieldType.INT),
        FieldSpec("rate_type", FieldType.CODE, choices=_choices(RateType)),
        FieldSpec("rate_min", FieldType.QUANTITY, signed=True),
        FieldSpec("rate_max", FieldType.QUANTITY, signed=True),
        FieldSpec(
            "collateral",
            FieldType.CODE,
            choices=_choices(Collateral),
            default="none",
            empty="none",
        ),
        FieldSpec("eligibility", FieldType.JSON, default="{}", empty="{}", schema=Eligibility),
        FieldSpec("annual_capacity", FieldType.MONEY),
        FieldSpec("active_from", FieldType.DATE),
        FieldSpec("active_until", FieldType.DATE),
        FieldSpec("risk_sharing_tag", FieldType.TEXT, max_length=40),
    ),
    key=("code",),
    db_key=("code",),
    ordered_pairs=(
        ("amount_min", "amount_max"),
        ("term_min_months", "term_max_months"),
        ("rate_min", "rate_max"),
        ("active_from", "active_until"),
    ),
)

#: Every kind, by the name the CLI takes.
KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        ZONES,
        ZONE_STATS,
        ENTERPRISES,
        CERTIFICATIONS,
        INDICATOR_DEFINITIONS,
        INDICATORS,
        INSTITUTIONS,
        PRODUCTS,
    )
}


#: Kinds other capabilities read with the same mappings and parsing but write themselves (the
#: ledger's bank returns); not part of `innofin import` / ``POST /imports``.
FOREIGN_KINDS: dict[str, KindSpec] = {}


def register_foreign_kind(spec: KindSpec) -> None:
    FOREIGN_KINDS[spec.name] = spec


def any_kind(name: str) -> KindSpec | None:
    """A registry kind or a foreign one."""
    return KINDS.get(name) or FOREIGN_KINDS.get(name)


def kind_spec(name: str) -> KindSpec:
    """The kind called `name`, or a one-line error listing the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise IngestError(
            f"unknown kind {name!r}: use one of {', '.join(KINDS)}", field="kind"
        ) from None
