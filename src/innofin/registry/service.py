"""Registry use cases."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, func, select

from innofin.db.base import Base
from innofin.db.engine import unit_of_work
from innofin.registry.models import Enterprise, IndicatorReport, TechFieldRef, Zone


@dataclass(frozen=True)
class FieldTotals:
    code: str
    name_zh: str
    enterprises: int
    revenue: Decimal  # yuan, in `RegistryStats.year`
    rd_expense: Decimal


@dataclass(frozen=True)
class RegistryStats:
    tables: dict[str, int]
    by_zone: list[tuple[str, str, int]]  # code, name, enterprises
    by_field: list[FieldTotals]
    year: int | None  # the latest year with indicator reports


def stats(engine: Engine, top_zones: int = 10) -> RegistryStats:
    """Row counts per table, enterprises per zone (largest first) and per tech field."""
    with unit_of_work(engine) as session:
        tables = {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in sorted(Base.metadata.tables.items())
        }
        per_zone = session.execute(
            select(Zone.code, Zone.name_zh, func.count(Enterprise.id))
            .join(Enterprise, Enterprise.zone_id == Zone.id)
            .group_by(Zone.code, Zone.name_zh)
            .order_by(func.count(Enterprise.id).desc(), Zone.code)
            .limit(top_zones)
        ).all()
        year = session.execute(select(func.max(IndicatorReport.year))).scalar_one()
        counts = dict(
            session.execute(
                select(Enterprise.tech_field, func.count(Enterprise.id)).group_by(
                    Enterprise.tech_field
                )
            ).all()
        )
        totals = {
            code: (revenue, rd)
            for code, revenue, rd in session.execute(
                select(
                    Enterprise.tech_field,
                    func.sum(IndicatorReport.revenue),
                    func.sum(IndicatorReport.rd_expense),
                )
                .join(IndicatorReport, IndicatorReport.enterprise_id == Enterprise.id)
                .where(IndicatorReport.year == year)
                .group_by(Enterprise.tech_field)
            ).all()
        }
        fields = session.execute(
            select(TechFieldRef.code, TechFieldRef.name_zh).order_by(TechFieldRef.code)
        ).all()
    zero = Decimal("0.00")
    by_field = [
        FieldTotals(
            code=code,
            name_zh=name,
            enterprises=int(counts.get(code, 0)),
            revenue=totals.get(code, (zero, zero))[0] or zero,
            rd_expense=totals.get(code, (zero, zero))[1] or zero,
        )
        for code, name in fields
    ]
    return RegistryStats(
        tables=tables,
        by_zone=[(c, n, int(k)) for c, n, k in per_zone],
        by_field=by_field,
        year=year,
    )
