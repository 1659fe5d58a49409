from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine

import factories
from innofin.db import unit_of_work
from innofin.registry import service
from innofin.registry.models import IndicatorReport


def test_stats_counts_and_exact_money_totals(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        zone = factories.zone("Z1", name_zh="示例区")
        s.add(zone)
        s.flush()
        for i, (field, revenue) in enumerate(
            [("bio_medicine", "0.10"), ("bio_medicine", "0.20"), ("aerospace", "5")]
        ):
            ent = factories.enterprise(i, zone_id=zone.id, tech_field=field)
            s.add(ent)
            s.flush()
            s.add(
                IndicatorReport(
                    enterprise_id=ent.id,
                    year=2024,
                    revenue=Decimal(revenue),
                    rd_expense=Decimal("0.01"),
                )
            )
            s.add(IndicatorReport(enterprise_id=ent.id, year=2023, revenue=Decimal(99)))
    result = service.stats(engine)
    assert result.tables["enterprise"] == 3 and result.tables["indicator_report"] == 6
    assert result.by_zone == [("Z1", "示例区", 3)]
    assert result.year == 2024
    by_code = {row.code: row for row in result.by_field}
    assert len(by_code) == 8
    assert by_code["bio_medicine"].enterprises == 2
    assert by_code["bio_medicine"].revenue == Decimal("0.30")  # exact, latest year only
    assert by_code["aerospace"].rd_expense == Decimal("0.01")
    assert by_code["new_materials"].revenue == Decimal("0.00")
