"""Writing the demo into SQLite and PostgreSQL: counts, exact values, lineage, ids, the CLI."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import typer
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
from innofin.db import make_engine
from innofin.db.base import Base
from innofin.db.migrate import upgrade
from innofin.demo import commands, service
from innofin.demo.engine import Scale
from innofin.kernel.errors import Conflict
from innofin.kernel.indicators import REPORT_FIELDS
from innofin.registry.models import (
    DataSource,
    Enterprise,
    IndicatorReport,
    Institution,
    Product,
    Zone,
)
from innofin.registry.schemas import Eligibility

TINY = Scale("tiny", zones=8, enterprises=500, institutions=10, products=25)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one()
        )


def test_write_counts_match_summary(engine: Engine) -> None:
    summary = service.generate_demo(engine, TINY, seed=3)
    assert summary.counts["enterprise"] == 500 and summary.counts["zone"] == 8
    assert summary.counts["indicator_report"] > 500
    for table, rows in summary.counts.items():
        assert _count(engine, table) == rows, table
    with Session(engine) as session:
        source = session.get(DataSource, summary.source_id)
        assert source is not None
        assert (source.kind, source.name) == ("demo", "innofin demo generator seed=3 scale=tiny")
        sources = session.execute(select(IndicatorReport.source_id).distinct()).scalars().all()
        assert sources == [summary.source_id]


def test_values_round_trip_exactly(engine: Engine) -> None:
    data = service.generate_data(TINY, seed=4)
    summary = service.write_data(engine, data)
    reports = data.tables["indicator_report"]
    with Session(engine) as session:
        total = session.execute(select(func.sum(IndicatorReport.revenue))).scalar_one()
        assert Decimal(total) == Decimal(int(reports["revenue"].sum())).scaleb(-2)
        first = reports.row(0, named=True)
        row = session.get(IndicatorReport, first["id"])
        assert row is not None
        assert row.revenue == Decimal(first["revenue"]).scaleb(-2)
        assert row.as_of == first["as_of"] and isinstance(row.as_of, dt.date)
        set_fields = {f for f in REPORT_FIELDS if first[f] is not None}
        assert set(row.lineage) == set_fields
        assert all(
            v == [summary.source_id, first["as_of"].isoformat()] for v in row.lineage.values()
        )
        gaps = (
            session.execute(select(IndicatorReport).where(IndicatorReport.rd_platforms.is_(None)))
            .scalars()
            .first()
        )
        assert gaps is not None and "rd_platforms" not in gaps.lineage
        product = (
            session.execute(select(Product).where(Product.kind == "points_loan")).scalars().first()
        )
        assert product is not None and product.amount_max is not None
        assert isinstance(product.amount_max, Decimal) and product.rate_min is not None
        assert Eligibility.model_validate(product.eligibility).min_points is not None
        bank = (
            session.execute(select(Institution).where(Institution.is_tech_branch)).scalars().first()
        )
        assert bank is not None and bank.parent_id is not None and len(bank.regions_served) == 1


def test_second_run_is_refused_and_changes_nothing(engine: Engine) -> None:
    service.generate_demo(engine, TINY, seed=5)
    before = _count(engine, "enterprise")
    with pytest.raises(Conflict, match="already holds demo data"):
        service.generate_demo(engine, TINY, seed=6)
    assert _count(engine, "enterprise") == before
    assert _count(engine, "data_source") == 1


def test_ids_follow_existing_rows(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        zone = factories.zone("REAL-1", name_zh="真实高新区")
        session.add(zone)
        session.flush()
        session.add(Enterprise(identifier="91320500MA1XXXXX0Q", name="真实企业", zone_id=zone.id))
    summary = service.generate_demo(engine, TINY, seed=7)
    with Session(engine) as session, session.begin():
        assert session.execute(select(func.count(Enterprise.id))).scalar_one() == 501
        orphans = session.execute(
            select(func.count(IndicatorReport.id))
            .join(Enterprise, Enterprise.id == IndicatorReport.enterprise_id)
            .where(Enterprise.name.not_like("示例%"))
        ).scalar_one()
        assert orphans == 0
        demo_zones = session.execute(
            select(func.count(Enterprise.id)).join(Zone).where(Zone.code.like("DEMO-%"))
        ).scalar_one()
        assert demo_zones == 500
        # New rows still get fresh ids (PostgreSQL sequences were moved past the demo's ids).
        extra = factories.zone("REAL-2", name_zh="又一高新区", level="provincial")
        session.add(extra)
        session.flush()
        assert extra.id == summary.counts["zone"] + 2


def _raw_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every stored value, as SQLite holds it (the run's timestamps aside: the data source's
    `created_at` and the audit event's `at`, and so the audit chain's hashes, which seal `at`;
    the ledger's chains hold no timestamp of the run and are compared)."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dump = {}
        for name in tables:
            columns = [
                r[1]
                for r in conn.execute(f"PRAGMA table_info({name})")
                if (name, r[1])
                not in (
                    ("data_source", "created_at"),
                    ("audit_event", "at"),
                    ("audit_event", "chain_hash"),
                )
            ]
            order = ", ".join(str(k) for k in range(1, len(columns) + 1))
            where = " WHERE name != 'audit_event'" if name == "chain_head" else ""
            dump[name] = conn.execute(
                f"SELECT {', '.join(columns)} FROM {name}{where} ORDER BY {order}"
            ).fetchall()
    conn.close()
    return dump


def test_same_seed_same_database_bit_for_bit(tmp_path: Path) -> None:
    dumps = []
    for run, seed in enumerate((11, 11, 12)):
        path = tmp_path / f"run{run}.db"
        eng = make_engine(f"sqlite:///{path}")
        upgrade(eng)
        service.generate_demo(eng, TINY, seed=seed)
        eng.dispose()
        dumps.append(_raw_rows(path))
    assert dumps[0] == dumps[1]
    assert len(dumps[0]["indicator_report"]) > 500
    assert dumps[0]["enterprise"] != dumps[2]["enterprise"]


def test_cli_generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """Test root."""

    commands.register(root)
    runner = CliRunner()
    helped = runner.invoke(root, ["demo", "generate", "--help"])
    assert helped.exit_code == 0 and "national" in helped.output
    path = tmp_path / "cli.db"
    monkeypatch.setenv("INNOFIN_DATABASE_URL", f"sqlite:///{path}")
    result = runner.invoke(root, ["demo", "generate", "--scale", "small", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "3,000" in result.output
    eng = make_engine(f"sqlite:///{path}")
    try:  # the command migrated the empty database itself
        assert _count(eng, "enterprise") == 3000
        with eng.connect() as conn:
            zones = pl.DataFrame(
                conn.execute(text("SELECT code, name_zh FROM zone")).all(), orient="row"
            )
        assert zones.height == 30
    finally:
        eng.dispose()
