"""A snapshot's derived figures kept beside it (`monitoring.cube.store`), on SQLite and
PostgreSQL: every programme's report derived from its own loans equals the report derived from
every loan's attributes and flows; read from the kept figures it equals the report derived from
scratch (the snapshot read with nothing kept), the second reading derives nothing (the cube's
engine and the forecaster refuse to run), and after the ledger changes — a repayment reversed,
the snapshot written again — the report shows the change and equals a derivation from scratch
of the new snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor
from innofin.demo import service as demo
from innofin.demo.engine import Scale
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import CreditLine, LedgerEvent, Loan
from innofin.monitoring.cube import engine as ce
from innofin.monitoring.cube.service import Cube, load, read_ledger, read_snapshot, write_snapshot
from innofin.monitoring.cube.store import DERIVED, CubeStore, key_of
from innofin.monitoring.reports.model import Report
from innofin.monitoring.reports.service import build_report
from innofin.monitoring.targets import forecast_engine as fe
from innofin.monitoring.targets import service as tg

TINY = Scale("tiny", zones=8, enterprises=500, institutions=10, products=25)
AT = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
FIX = Actor(label="api:maker", channel="api", user_id=1, reason="bank corrected the return")


def _reports(cube: Cube) -> dict[int, Report]:
    ids = cube.frames["programmes"].sort("programme_id")["programme_id"].to_list()
    return {pid: build_report(cube, pid, generated_at=AT) for pid in ids}


def _scratch(folder: Path) -> dict[int, Report]:
    """Every programme's report from the snapshot, nothing kept or read from what is kept."""
    tg._FORECASTS.clear()
    return _reports(Cube(read_snapshot(folder)))


def _kept(folder: Path) -> dict[int, Report]:
    tg._FORECASTS.clear()
    return _reports(load(snapshot=folder))


def _refuse(*_: Any, **__: Any) -> Any:
    raise AssertionError("derived again although the snapshot's figures are kept")


def test_reports_from_kept_figures_equal_reports_from_scratch(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.generate_demo(engine, TINY, seed=6)
    folder = tmp_path / "snapshot"
    write_snapshot(read_ledger(engine), folder)

    tg._FORECASTS.clear()
    parts = Cube(read_snapshot(folder))
    scratch = _reports(parts)
    assert not (folder / DERIVED).exists()  # a cube without a store keeps nothing
    # each programme's figures were derived from its own loans only, and equal those derived
    # from every loan's attributes and flows
    assert parts._parts and "attributes" not in vars(parts)
    whole = Cube(read_snapshot(folder))
    assert whole.attributes.height > 0  # every loan's attributes derived: no part is used
    tg._FORECASTS.clear()
    assert _reports(whole) == scratch
    assert not whole._parts
    first = _kept(folder)  # derives and keeps
    assert first == scratch
    kept = [p.name for p in (folder / DERIVED).glob("*/*")]
    assert any(n.startswith("balances-") for n in kept)
    assert any(n.startswith("forecast-") for n in kept) and any(
        n.startswith("choice-") for n in kept
    )

    with monkeypatch.context() as m:  # the second reading derives nothing
        for name in ("cube", "loan_attributes", "loan_flow_parts", "line_limits"):
            m.setattr(ce, name, _refuse)
        for name in ("forecast", "choose"):
            m.setattr(fe, name, _refuse)
        again = load(snapshot=folder)
        tg._FORECASTS.clear()
        assert _reports(again) == scratch
        # only the small tables were read: the loans and their events stayed on disk
        assert "loan_events" not in dict.keys(again.frames.tables)

    # a repayment of the first programme corrected: the ledger changes, a new snapshot is written
    programme = min(scratch)
    with Session(engine) as s:
        event_id = s.scalars(
            select(LedgerEvent.id)
            .join(Loan, (LedgerEvent.entity == "loan") & (LedgerEvent.entity_id == Loan.id))
            .join(CreditLine, CreditLine.id == Loan.credit_line_id)
            .where(
                LedgerEvent.kind == "repaid",
                CreditLine.programme_id == programme,
                Loan.outstanding_principal > 0,
            )
            .order_by(LedgerEvent.id.desc())
        ).first()
    assert event_id is not None
    perform(engine, lambda s: service.reverse(s, FIX, event_id), FIX)
    old_prints = {p.name for p in (folder / DERIVED).iterdir()}
    write_snapshot(read_ledger(engine), folder)

    after = _kept(folder)
    assert {p.name for p in (folder / DERIVED).iterdir()}.isdisjoint(old_prints)  # old removed
    assert after == _scratch(folder)
    assert after[programme].facts[0].value > scratch[programme].facts[0].value  # the balance


def test_a_kept_forecast_equals_a_fresh_one_and_its_choice_serves_other_horizons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    months = np.arange(40)
    series = 1e6 + 2e4 * months + 3e4 * np.sin(months / 2) + rng.normal(0, 5e3, months.size)
    store = CubeStore(tmp_path)

    class _Holder:
        def __init__(self, kept: CubeStore | None) -> None:
            self.store = kept

    cube: Any = _Holder(store)
    tg._FORECASTS.clear()
    made = tg._forecast(cube, series, 18)
    fresh = fe.forecast(series, 18)
    for name in ("mean", "lower", "upper", "paths"):
        assert np.array_equal(getattr(made, name), getattr(fresh, name))
    assert (made.model, made.errors) == (fresh.model, fresh.errors)

    tg._FORECASTS.clear()
    with monkeypatch.context() as m:  # kept: neither a back-test nor a fit
        m.setattr(fe, "forecast", _refuse)
        m.setattr(fe, "choose", _refuse)
        kept = tg._forecast(cube, series, 18)
    assert np.array_equal(kept.paths, fresh.paths) and kept.errors == fresh.errors

    tg._FORECASTS.clear()
    with monkeypatch.context() as m:  # another horizon: the kept choice, no back-test
        m.setattr(fe, "choose", _refuse)
        other = tg._forecast(cube, series, 24)
    expected = fe.forecast(series, 24)
    assert np.array_equal(other.paths, expected.paths)
    assert (other.model, other.errors) == (expected.model, expected.errors)


def test_a_lazily_read_snapshot_reads_its_tables_when_asked(engine: Engine, tmp_path: Path) -> None:
    demo.generate_demo(engine, TINY, seed=6)
    folder = tmp_path / "one"
    write_snapshot(read_ledger(engine), folder)
    lazy = read_snapshot(folder, lazy=True)
    assert not dict.keys(lazy.tables)
    assert lazy["zones"].equals(read_snapshot(folder)["zones"])
    write_snapshot(lazy, tmp_path / "two")  # iterating reads every table
    for name, table in read_snapshot(folder).tables.items():
        assert read_snapshot(tmp_path / "two")[name].equals(table), name
    assert pl.read_parquet(folder / "loans.parquet").height == lazy["loans"].height


def test_a_kept_figures_key_tells_its_arguments_apart() -> None:
    def key(*args: Any) -> str:
        return key_of("balances", *args)

    assert key(["zone_id"], {"programme_id": 1}) != key(["zone_id"], {"programme_id": 2})
    assert key(["zone_id"], {"programme_id": 1}) != key(["institution_id"], {"programme_id": 1})
    assert key({"programme_id": np.int64(1)}) == key({"programme_id": 1})
    assert key(dt.date(2024, 1, 1)) != key("2024-01-01")
    assert key(None) != key("None") and key([1, 2]) != key([2, 1])
