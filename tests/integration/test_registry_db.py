"""The registry's schema on SQLite and PostgreSQL: constraints, exact money, migrations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError, StatementError

import factories
from factories import uscc
from innofin.db import unit_of_work
from innofin.db.base import Base
from innofin.db.bulk import bulk_upsert
from innofin.db.migrate import current, head
from innofin.registry.models import (
    Certification,
    DataSource,
    Enterprise,
    IndicatorReport,
    Institution,
    Organisation,
    Product,
    Zone,
    ZoneYearStat,
)

USCC = uscc(1)
_zone = factories.zone


def _enterprise(**over: Any) -> Enterprise:
    return factories.enterprise(1, **over)


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert current(engine) == head()
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_reference_codes_are_seeded(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        fields = s.execute(select(func.count()).select_from(Base.metadata.tables["tech_field"]))
        stages = s.execute(select(Base.metadata.tables["growth_stage"].c.code)).scalars().all()
    assert fields.scalar_one() == 8
    assert set(stages) == {"startup", "growth", "stable"}


EXTREMES = [
    Decimal("0.01"),
    Decimal("0.10"),
    Decimal("-123456.78"),
    Decimal("92233720368547758.07"),  # the largest SQLite holds as 64-bit fen
    Decimal("1000000000000.00"),  # 1 trillion yuan
]


@pytest.mark.parametrize("amount", EXTREMES)
def test_money_reads_back_as_the_exact_decimal(engine: Engine, amount: Decimal) -> None:
    with unit_of_work(engine) as s:
        s.add(_zone())
        s.flush()
        zone_id = s.execute(select(Zone.id)).scalar_one()
        s.add(ZoneYearStat(zone_id=zone_id, year=2024, gdp=amount, tax=Decimal("0.1")))
    with unit_of_work(engine) as s:
        row = s.execute(select(ZoneYearStat)).scalar_one()
    assert isinstance(row.gdp, Decimal)
    assert row.gdp == amount and str(row.gdp) == str(amount)
    assert row.tax == Decimal("0.10")


def test_money_beyond_the_backend_range_is_refused_not_rounded(engine: Engine) -> None:
    too_big = Decimal("92233720368547758.08") if engine.dialect.name == "sqlite" else None
    amount = too_big or Decimal("1000000000000000000.00")  # beyond NUMERIC(20,2)
    with pytest.raises(StatementError), unit_of_work(engine) as s:
        s.add(_zone())
        s.flush()
        s.add(ZoneYearStat(zone_id=1, year=2024, gdp=amount))
        s.flush()


def test_sums_of_money_are_exact_in_sql(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        s.add(_zone())
        s.flush()
        zone_id = s.execute(select(Zone.id)).scalar_one()
        for year in range(2000, 2010):
            s.add(ZoneYearStat(zone_id=zone_id, year=year, tax=Decimal("0.10")))
    with unit_of_work(engine) as s:
        total = s.execute(select(func.sum(ZoneYearStat.tax))).scalar_one()
    # SQLite sums integer fen, PostgreSQL sums NUMERIC; both come back as exact yuan.
    assert total == Decimal("1.00") and isinstance(total, Decimal)


def test_money_column_refuses_float(engine: Engine) -> None:
    with pytest.raises(StatementError, match="not float"), unit_of_work(engine) as s:
        s.add(_zone())
        s.flush()
        s.add(ZoneYearStat(zone_id=1, year=2024, gdp=0.1))
        s.flush()


CONSTRAINT_CASES: list[tuple[str, Any]] = [
    ("zone level", lambda: [_zone(level="county")]),
    ("duplicate zone code", lambda: [_zone(), _zone(name_zh="另一个")]),
    ("duplicate enterprise id", lambda: [_enterprise(), _enterprise(name="重复")]),
    ("unknown tech field", lambda: [_enterprise(tech_field="astrology")]),
    ("unknown growth stage", lambda: [_enterprise(growth_stage="teen")]),
    ("institution kind", lambda: [Institution(code="B1", name="x", kind="casino")]),
    ("source kind", lambda: [DataSource(kind="rumour", name="x")]),
    ("organisation link", lambda: [Organisation(kind="zone", name="no zone")]),
]


@pytest.mark.parametrize(("case", "rows"), CONSTRAINT_CASES, ids=[c[0] for c in CONSTRAINT_CASES])
def test_constraints_refuse_bad_rows(engine: Engine, case: str, rows: Any) -> None:
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        for row in rows():
            s.add(row)
            s.flush()


def _one_enterprise(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        ent = _enterprise()
        s.add(ent)
        s.flush()
        return ent.id


@pytest.mark.parametrize(
    "values",
    [
        {"revenue": Decimal("-1")},
        {"rd_staff": 11, "employees": 10},
        {"invention_patents": -2},
        {"year": 1850},
    ],
    ids=["negative revenue", "rd staff above employees", "negative patents", "year"],
)
def test_report_checks(engine: Engine, values: dict[str, Any]) -> None:
    ent_id = _one_enterprise(engine)
    row = {"enterprise_id": ent_id, "year": 2024, **values}
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        s.add(IndicatorReport(**row))
        s.flush()
    with unit_of_work(engine) as s:
        assert s.execute(select(func.count(IndicatorReport.id))).scalar_one() == 0


def test_negative_net_profit_is_allowed(engine: Engine) -> None:
    ent_id = _one_enterprise(engine)
    with unit_of_work(engine) as s:
        s.add(IndicatorReport(enterprise_id=ent_id, year=2024, net_profit=Decimal("-5.5")))
    with unit_of_work(engine) as s:
        assert s.execute(select(IndicatorReport.net_profit)).scalar_one() == Decimal("-5.50")


def test_certification_period_and_product_ranges(engine: Engine) -> None:
    ent_id = _one_enterprise(engine)
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        s.add(
            Certification(
                enterprise_id=ent_id,
                kind="hnte",
                valid_from=dt.date(2024, 1, 1),
                valid_until=dt.date(2023, 1, 1),
            )
        )
    with unit_of_work(engine) as s:
        s.add(Institution(code="B1", name="示例银行", kind="bank"))
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        s.add(
            Product(
                code="P1",
                institution_id=1,
                name="x",
                kind="pure_credit_loan",
                financing_mode="indirect",
                amount_min=Decimal(5),
                amount_max=Decimal(1),
            )
        )


def test_upsert_merges_lineage_and_keeps_fields_not_given(engine: Engine) -> None:
    ent_id = _one_enterprise(engine)
    table = IndicatorReport.__table__
    first = {
        "enterprise_id": ent_id,
        "year": 2024,
        "revenue": Decimal("100.00"),
        "rd_expense": Decimal("7.00"),
        "lineage": {"revenue": [1, "2024-12-31"], "rd_expense": [1, "2024-12-31"]},
    }
    second = {
        "enterprise_id": ent_id,
        "year": 2024,
        "rd_expense": Decimal("9.00"),
        "lineage": {"rd_expense": [2, "2025-03-31"]},
    }
    with engine.begin() as conn:
        bulk_upsert(conn, table, [first], key=["enterprise_id", "year"], merge_json=["lineage"])
        bulk_upsert(conn, table, [second], key=["enterprise_id", "year"], merge_json=["lineage"])
    with unit_of_work(engine) as s:
        report = s.execute(select(IndicatorReport)).scalar_one()
    assert report.revenue == Decimal("100.00")
    assert report.rd_expense == Decimal("9.00")
    assert report.lineage == {"revenue": [1, "2024-12-31"], "rd_expense": [2, "2025-03-31"]}


def test_failed_batch_writes_nothing(engine: Engine) -> None:
    ent_id = _one_enterprise(engine)
    rows = [{"enterprise_id": ent_id, "year": 2000 + i, "revenue": Decimal(i)} for i in range(5)]
    rows.append({"enterprise_id": ent_id, "year": 2010, "revenue": Decimal(-1)})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(IndicatorReport.__table__), rows)
    with unit_of_work(engine) as s:
        assert s.execute(select(func.count(IndicatorReport.id))).scalar_one() == 0
