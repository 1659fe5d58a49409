"""The shared bulk write path: stored-form frames read back exactly through the ORM types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from innofin.db import unit_of_work
from innofin.db.frames import FrameWriter
from innofin.registry.models import Institution, Product, Zone, ZoneYearStat


def _zones(names: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code": [f"Z{i}" for i in range(len(names))],
            "name_zh": names,
            "name_en": ["x"] * len(names),
            "province": ["江苏"] * len(names),
            "city": ["苏州"] * len(names),
            "level": ["national"] * len(names),
            "year_approved": [1992] * len(names),
        }
    )


def test_insert_then_upsert_by_natural_key(engine: Engine) -> None:
    awkward = ['comma, "quoted"', "换行\n第二行", "", "普通"]
    with engine.begin() as conn:
        FrameWriter(conn, Zone.__table__, _zones(awkward).columns).write(_zones(awkward))
    renamed = _zones(["A", "B", "C", "D"]).with_columns(
        pl.lit(None, pl.Int64).alias("year_approved")
    )
    with engine.begin() as conn:
        writer = FrameWriter(
            conn, Zone.__table__, renamed.columns, key=["code"], update=["name_zh"]
        )
        assert writer.write(renamed) == 4
    with unit_of_work(engine) as s:
        rows = s.execute(select(Zone.code, Zone.name_zh, Zone.year_approved).order_by(Zone.code))
        assert [tuple(r) for r in rows] == [
            ("Z0", "A", 1992),
            ("Z1", "B", 1992),
            ("Z2", "C", 1992),
            ("Z3", "D", 1992),
        ]


def test_awkward_text_survives(engine: Engine) -> None:
    awkward = ['comma, "quoted"', "换行\n第二行", "", "=SUM(A1)"]
    with engine.begin() as conn:
        FrameWriter(conn, Zone.__table__, _zones(awkward).columns).write(_zones(awkward))
    with unit_of_work(engine) as s:
        assert s.execute(select(Zone.name_zh).order_by(Zone.code)).scalars().all() == awkward


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fen=st.lists(
        st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62)),
        min_size=1,
        max_size=20,
    )
)
def test_money_as_fen_reads_back_exactly(engine: Engine, fen: list[int | None]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ZoneYearStat.__table__))
        conn.execute(delete(Zone.__table__))
        FrameWriter(conn, Zone.__table__, _zones(["z"]).columns).write(_zones(["z"]))
        zone_id = conn.execute(select(Zone.id)).scalar_one()
        frame = pl.DataFrame(
            {
                "zone_id": [zone_id] * len(fen),
                "year": list(range(1990, 1990 + len(fen))),
                "gdp": pl.Series(fen, dtype=pl.Int64),
            }
        )
        FrameWriter(conn, ZoneYearStat.__table__, frame.columns).write(frame)
    with unit_of_work(engine) as s:
        got = s.execute(select(ZoneYearStat.gdp).order_by(ZoneYearStat.year)).scalars().all()
    assert got == [None if f is None else Decimal(f).scaleb(-2) for f in fen]


def test_dates_booleans_json_and_quantities(engine: Engine) -> None:
    with engine.begin() as conn:
        inst = pl.DataFrame(
            {
                "id": [1],
                "code": ["B1"],
                "name": ["示例银行"],
                "kind": ["bank"],
                "is_tech_branch": [True],
                "regions_served": ['["江苏","浙江"]'],
            }
        )
        FrameWriter(conn, Institution.__table__, inst.columns).write(inst)
        product = pl.DataFrame(
            {
                "code": ["P1"],
                "institution_id": [1],
                "name": ["科创贷"],
                "kind": ["pure_credit_loan"],
                "financing_mode": ["indirect"],
                "amount_max": [300_000_000],
                "rate_min": [-12_345],
                "collateral": ["none"],
                "eligibility": ['{"min_points":"600"}'],
                "active_from": [dt.date(2024, 1, 31)],
            }
        )
        FrameWriter(conn, Product.__table__, product.columns).write(product)
    with unit_of_work(engine) as s:
        i = s.execute(select(Institution)).scalar_one()
        p = s.execute(select(Product)).scalar_one()
    assert i.is_tech_branch is True and i.regions_served == ["江苏", "浙江"]
    assert p.amount_max == Decimal("3000000.00")
    assert p.rate_min == Decimal("-1.2345")
    assert p.eligibility == {"min_points": "600"}
    assert p.active_from == dt.date(2024, 1, 31)
