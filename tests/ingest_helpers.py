"""Shared by the ingest tests: a small registry of every kind, files, and table snapshots.

Snapshots name rows by natural keys (zone code, enterprise identifier, institution code), not by
surrogate ids, so that two databases loaded in different orders compare equal.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Engine, delete, func, inspect, select, table
from sqlalchemy.orm import aliased

import factories
from innofin.db.engine import unit_of_work
from innofin.kernel.ids import make_uscc
from innofin.registry.models import (
    Certification,
    DataSource,
    Enterprise,
    IndicatorDefinition,
    IndicatorReport,
    IndicatorValue,
    Institution,
    Product,
    Zone,
    ZoneYearStat,
)
from innofin.registry.schemas import Eligibility

USCC = [make_uscc(f"91110108MA{n:07d}") for n in range(1, 8)]
BAD_USCC = USCC[0][:-1] + ("0" if USCC[0][-1] != "0" else "1")
REGISTRY_TABLES = (
    Product,
    Institution,
    IndicatorValue,
    IndicatorReport,
    Certification,
    Enterprise,
    ZoneYearStat,
    Zone,
    DataSource,
)  # children first
EXTENSION = "rd_intensity_zone"


def write_csv(path: Path, rows: Sequence[Sequence[Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def write_xlsx(path: Path, rows: Iterable[Sequence[Any]], title: str = "data") -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def seed_zone(engine: Engine, code: str = "Z1") -> None:
    with unit_of_work(engine) as s:
        s.add(
            Zone(
                code=code,
                name_zh="中关村",
                name_en="Zhongguancun",
                province="北京",
                city="北京",
                level="national",
                year_approved=1988,
            )
        )


def seed_enterprises(engine: Engine, count: int = 3, zone: str = "Z1") -> list[str]:
    """`count` enterprises in `zone` (created if missing); returns their USCCs."""
    with unit_of_work(engine) as s:
        zone_row = s.scalars(select(Zone).where(Zone.code == zone)).one_or_none()
        if zone_row is None:
            zone_row = factories.zone(zone, name_zh="中关村", province="北京", city="北京")
            s.add(zone_row)
            s.flush()
        for i, uscc in enumerate(USCC[:count]):
            s.add(
                Enterprise(
                    identifier=uscc,
                    name=f"企业{i}",
                    zone_id=zone_row.id,
                    tech_field="electronic_information",
                    growth_stage="growth",
                )
            )
    return USCC[:count]


def seed_registry(engine: Engine) -> None:
    """A little of everything, with the awkward cases: negative profit, a branch, an extension
    indicator, a report without one, NULLs, Chinese text, amounts with fen."""
    with unit_of_work(engine) as s:
        definition = IndicatorDefinition(
            code=EXTENSION,
            name_zh="研发投入强度",
            name_en="R&D intensity",
            unit="percent",
            is_core=False,
        )
        s.add(definition)
        z1 = Zone(
            code="Z1",
            name_zh="中关村科技园区",
            name_en="Zhongguancun",
            province="北京",
            city="北京",
            region_code="110108",
            level="national",
            year_approved=1988,
        )
        z2 = Zone(
            code="Z2",
            name_zh="苏州工业园区",
            name_en="",
            province="江苏",
            city="苏州",
            level="provincial",
        )
        s.add_all([z1, z2])
        s.flush()
        definition.owner_zone_id = z1.id  # a zone's own indicator
        s.add_all(
            [
                ZoneYearStat(
                    zone_id=z1.id,
                    year=2023,
                    gdp=Decimal("1234567890.12"),
                    tax=Decimal("1.01"),
                    enterprises=100,
                    hte_enterprises=40,
                    employees=9,
                ),
                ZoneYearStat(zone_id=z2.id, year=2023, revenue=Decimal("5")),
            ]
        )
        firms = [
            Enterprise(
                identifier=USCC[0],
                name="北京甲科技有限公司",
                zone_id=z1.id,
                region_code="110108",
                founded_on=dt.date(2015, 3, 1),
                tech_field="electronic_information",
                industry_scheme="GB/T 4754",
                industry_code="6513",
                growth_stage="growth",
            ),
            Enterprise(
                identifier=USCC[1],
                name="苏州乙生物",
                zone_id=z2.id,
                tech_field="bio_medicine",
                growth_stage="startup",
            ),
            Enterprise(id_scheme="lei", identifier="5493001KJTIIGC8Y1R12", name="Foreign Ltd"),
        ]
        s.add_all(firms)
        s.flush()
        s.add_all(
            [
                Certification(
                    enterprise_id=firms[0].id,
                    kind="hnte",
                    number="GR202311000001",
                    valid_from=dt.date(2023, 10, 1),
                    valid_until=dt.date(2026, 9, 30),
                ),
                Certification(
                    enterprise_id=firms[1].id, kind="tech_sme", valid_from=dt.date(2024, 1, 1)
                ),
            ]
        )
        s.add_all(
            [
                IndicatorReport(
                    enterprise_id=firms[0].id,
                    year=2022,
                    revenue=Decimal("12345678.90"),
                    rd_expense=Decimal("1000000.05"),
                    rd_staff=12,
                    employees=80,
                    net_profit=Decimal("-2500.50"),
                    invention_patents=3,
                    as_of=dt.date(2023, 4, 30),
                ),
                IndicatorReport(
                    enterprise_id=firms[0].id,
                    year=2023,
                    revenue=Decimal("0.01"),
                    as_of=dt.date(2024, 4, 30),
                ),
                IndicatorReport(
                    enterprise_id=firms[2].id,
                    year=2023,
                    total_assets=Decimal("987654321098765.43"),
                    as_of=dt.date(2024, 5, 1),
                ),
            ]
        )
        s.add_all(
            [
                IndicatorValue(
                    enterprise_id=firms[0].id,
                    year=2022,
                    indicator_code=EXTENSION,
                    value=Decimal("8.1000"),
                    as_of=dt.date(2023, 4, 30),
                ),
                IndicatorValue(
                    enterprise_id=firms[0].id,
                    year=2023,
                    indicator_code=EXTENSION,
                    value=Decimal("12.3456"),
                    as_of=dt.date(2024, 4, 30),
                ),
            ]
        )
        head = Institution(
            code="B1",
            name="某银行",
            name_en="Some Bank",
            kind="bank",
            regions_served=["北京", "江苏"],
        )
        s.add(head)
        s.flush()
        branch = Institution(
            code="B1-SZ",
            name="某银行苏州科技支行",
            kind="bank",
            parent_id=head.id,
            is_tech_branch=True,
            regions_served=["苏州"],
        )
        other = Institution(code="A0", name="担保公司", kind="guarantor")
        s.add_all([branch, other])
        s.flush()
        s.add_all(
            [
                Product(
                    code="P1",
                    institution_id=branch.id,
                    name="科创积分贷",
                    kind="points_loan",
                    financing_mode="indirect",
                    amount_min=Decimal("100000.00"),
                    amount_max=Decimal("3000000.00"),
                    term_min_months=6,
                    term_max_months=36,
                    rate_type="lpr_spread",
                    rate_min=Decimal("-20.0000"),
                    rate_max=Decimal("35.5000"),
                    collateral="none",
                    eligibility=Eligibility(
                        min_points=Decimal("60"), fields=["bio_medicine"], zones=["Z2"]
                    ).to_json(),
                    annual_capacity=Decimal("210000000000.00"),
                    active_from=dt.date(2023, 7, 1),
                    risk_sharing_tag="pool-js",
                ),
                Product(
                    code="P2",
                    institution_id=other.id,
                    name="担保",
                    kind="guarantee",
                    financing_mode="indirect",
                ),
            ]
        )


def clear_registry(engine: Engine) -> None:
    """Delete the registry's records and extension indicators (reference codes stay)."""
    with unit_of_work(engine) as s:
        s.execute(delete(IndicatorValue))
        s.execute(delete(IndicatorDefinition).where(IndicatorDefinition.is_core.is_(False)))
        for model in REGISTRY_TABLES:
            s.execute(delete(model))


def counts(engine: Engine) -> dict[str, int]:
    with unit_of_work(engine) as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in REGISTRY_TABLES
        }


def every_table(engine: Engine) -> dict[str, int]:
    """The rows of every table the database holds (read from the database itself, so no table
    is forgotten: the audit trail, idempotency records, chain heads, Alembic's version)."""
    names = inspect(engine).get_table_names()
    assert len(names) > 50, names  # the whole schema, not an empty one
    with engine.connect() as conn:
        return {n: int(conn.scalar(select(func.count()).select_from(table(n))) or 0) for n in names}


def _columns(model: Any, skip: set[str]) -> list[Any]:
    return [c for c in model.__table__.c if c.name not in skip]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every registry table as sorted tuples, surrogate ids replaced by natural keys and the
    lineage of the import (source ids) left out."""
    e = Enterprise
    ids = {"id", "zone_id", "enterprise_id", "institution_id", "parent_id", "source_id", "lineage"}
    parent = aliased(Institution)
    queries = {
        "zone": select(*_columns(Zone, ids)),
        "indicator_definition": select(
            Zone.code, *_columns(IndicatorDefinition, {*ids, "owner_zone_id"})
        ).outerjoin(Zone, Zone.id == IndicatorDefinition.owner_zone_id),
        "zone_year_stat": select(Zone.code, *_columns(ZoneYearStat, ids)).join(Zone),
        "enterprise": select(Zone.code, *_columns(e, ids)).outerjoin(Zone),
        "certification": select(e.id_scheme, e.identifier, *_columns(Certification, ids)).join(e),
        "indicator_report": select(e.id_scheme, e.identifier, *_columns(IndicatorReport, ids)).join(
            e
        ),
        "indicator_value": select(e.id_scheme, e.identifier, *_columns(IndicatorValue, ids)).join(
            e
        ),
        "institution": select(parent.code, *_columns(Institution, ids)).outerjoin(
            parent, parent.id == Institution.parent_id
        ),
        "product": select(Institution.code, *_columns(Product, ids)).join(Institution),
    }
    with unit_of_work(engine) as s:
        return {
            name: sorted((tuple(row) for row in s.execute(query)), key=repr)
            for name, query in queries.items()
        }
