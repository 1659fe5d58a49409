"""The aggregates' disclosure statistics computed in SQL (a window function per value) equal
the same statistics computed in Python from the rows, on SQLite and PostgreSQL — so the rule in
`kernel.disclosure`, property-tested on its own, decides on the true figures."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

import factories
from innofin.db import unit_of_work
from innofin.kernel.disclosure import CellStats, DisclosureRule, protect
from innofin.registry import records
from innofin.registry.models import IndicatorReport

FIELDS = ("electronic_information", "bio_medicine", "aerospace", None)
STAGES = ("startup", "growth", "stable", None)


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_statistics_equal_the_rows(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    with unit_of_work(engine) as s:
        zones = [factories.zone(f"Z{i}", province=("甲省", "乙省")[i % 2]) for i in range(4)]
        s.add_all(zones)
        s.flush()
        for n in range(60):
            zone = rng.choice([*zones, None])
            firm = factories.enterprise(
                n,
                zone_id=zone.id if zone else None,
                tech_field=rng.choice(FIELDS),
                growth_stage=rng.choice(STAGES),
            )
            s.add(firm)
            s.flush()
            values = {
                # ties, zeros, nulls and a few negatives (a loss written as revenue)
                name: rng.choice(
                    [
                        None,
                        Decimal(0),
                        Decimal("500000.00"),
                        Decimal(rng.randint(-(10**6), 10**9)) / 100,
                    ]
                )
                for name in ("revenue", "rd_expense")
            }
            if rng.random() < 0.8:
                s.add(IndicatorReport(enterprise_id=firm.id, year=2024, lineage={}, **values))
            else:
                values = {"revenue": None, "rd_expense": None}
            rows.append(
                {
                    "zone": zone.code if zone else None,
                    "province": zone.province if zone else None,
                    "tech_field": firm.tech_field,
                    "growth_stage": firm.growth_stage,
                    **values,
                }
            )
    rule = DisclosureRule(3, Decimal("0.6"), Decimal("0.8"))
    with unit_of_work(engine) as s:
        for group_by in ("zone", "tech_field", "growth_stage", "province"):
            counts, stats = records._cell_stats(s, records._GROUPS[group_by], 2024)
            keys = {r[group_by] for r in rows}
            assert counts == {k: sum(1 for r in rows if r[group_by] == k) for k in keys}
            for name in ("revenue", "rd_expense"):
                expected = {
                    k: CellStats.of(
                        r[name] for r in rows if r[group_by] == k and r[name] is not None
                    )
                    for k in keys
                }
                expected = {k: v for k, v in expected.items() if v.contributors}
                assert stats[name] == expected, (group_by, name)
            cells = records.enterprise_aggregates(s, group_by, 2024, rule)
            assert [c.key for c in cells] == sorted(keys, key=lambda k: (k is not None, k or ""))
            shown = protect(stats["revenue"], rule, [])
            if group_by != "zone":  # (zones are protected within provinces too)
                assert {c.key: c.revenue for c in cells} == {k: shown.get(k) for k in keys}
