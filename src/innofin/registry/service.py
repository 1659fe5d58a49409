"""Registry use cases."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from innofin.db.base import Base
from innofin.db.engine import unit_of_work
from innofin.registry.models import Enterprise, TechFieldRef, Zone


@dataclass(frozen=True)
class RegistryStats:
    tables: dict[str, int]
    by_zone: list[tuple[str, str, int]]  # code, name, enterprises
    by_field: list[tuple[str, str, int]]  # code, name (zh), enterprises


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
        per_field = session.execute(
            select(TechFieldRef.code, TechFieldRef.name_zh, func.count(Enterprise.id))
            .outerjoin(Enterprise, Enterprise.tech_field == TechFieldRef.code)
            .group_by(TechFieldRef.code, TechFieldRef.name_zh)
            .order_by(TechFieldRef.code)
        ).all()
    return RegistryStats(
        tables=tables,
        by_zone=[(c, n, int(k)) for c, n, k in per_zone],
        by_field=[(c, n, int(k)) for c, n, k in per_field],
    )
