"""The balance cube read from the database (SQLite and PostgreSQL) and from a Parquet snapshot:
loans made through the ledger's services against amounts written out here; after a reversal
exactly the affected months change; on the demo ledger the last month equals the ledger's own
cached balances (two derivations of one history)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import ledger_world as lw
from innofin.audit.recorder import Actor
from innofin.demo import service as demo
from innofin.demo.engine import Scale
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import LedgerEvent, Loan
from innofin.monitoring.cube import engine as ce
from innofin.monitoring.cube.service import Cube, read_ledger, read_snapshot, write_snapshot

D = dt.date
FEN = 100
FIX = Actor(label="api:maker", channel="api", user_id=1, reason="bank corrected the return")


def _repay(w: lw.World, loan: int, amount: str, on: dt.date) -> int:
    ev = perform(
        w.engine,
        lambda s: service.repay(s, lw.MAKER, loan, principal=Decimal(amount), paid_on=on),
        lw.MAKER,
    )
    return ev.id


def _at(frame: pl.DataFrame, month: dt.date) -> dict[str, int]:
    rows = frame.filter(pl.col("month") == month)
    assert rows.height == 1
    return rows.row(0, named=True)


def test_cube_from_the_ledgers_services_and_a_snapshot(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine, enterprises=2)
    plain = lw.line(w, "L-1", limit="500000.00", tags=("pure_credit", "first_loan"))
    pledged = lw.line(w, "L-2", limit="300000.00", enterprise=1, tags=("ip_pledge",))
    a = lw.draw(w, plain, "200000.00", "D-1", on=D(2024, 2, 1))
    b = lw.draw(w, pledged, "100000.00", "D-2", on=D(2024, 3, 15))
    _repay(w, a, "50000.00", D(2024, 4, 10))
    wrong = _repay(w, a, "30000.00", D(2024, 5, 10))
    perform(engine, lambda s: service.mark_default(s, lw.MAKER, b, on=D(2024, 6, 20)), lw.MAKER)

    cube = Cube(read_ledger(engine))
    assert cube.last_month == D(2024, 6, 30)
    total = cube.balances([])
    assert _at(total, D(2024, 2, 29))["outstanding"] == 200_000 * FEN
    assert _at(total, D(2024, 3, 31))["new_lending"] == 100_000 * FEN
    assert _at(total, D(2024, 5, 31))["outstanding"] == (300_000 - 80_000) * FEN
    june = _at(total, D(2024, 6, 30))
    assert june["substandard"] == june["npl"] == 100_000 * FEN
    assert june["as_of"] == cube.as_of
    kinds = cube.balances(["product_kind"]).filter(pl.col("month") == D(2024, 6, 30))
    assert dict(kinds.select("product_kind", "outstanding").iter_rows()) == {
        "pure_credit": 120_000 * FEN,
        "ip_pledge": 100_000 * FEN,
    }
    limits = cube.line_limits([]).filter(pl.col("month") == D(2024, 6, 30))
    assert limits["limit"].to_list() == [800_000 * FEN] and limits["lines"].to_list() == [2]

    # a snapshot reads back the same cube, with the reading's as-of time
    write_snapshot(cube.frames, tmp_path / "snap")
    again = Cube(read_snapshot(tmp_path / "snap"))
    assert again.as_of == cube.as_of
    assert again.balances().equals(cube.balances())

    # the May repayment was wrong: its reversal changes the cells of loan a from May on
    perform(engine, lambda s: service.reverse(s, FIX, wrong), FIX)
    after = Cube(read_ledger(engine)).balances(ce.DIMENSIONS, dense=True).drop("as_of")
    before = cube.balances(ce.DIMENSIONS, dense=True).drop("as_of")
    keys = ["month", *ce.DIMENSIONS]
    joined = before.join(after, on=keys, suffix="_after", nulls_equal=True)
    assert joined.height == before.height == after.height
    changed = joined.filter(
        pl.any_horizontal(pl.col(c) != pl.col(f"{c}_after") for c in ("outstanding", "repaid"))
    )
    assert changed["month"].to_list() == [D(2024, 5, 31), D(2024, 6, 30)]
    assert set(changed["product_kind"]) == {"pure_credit"}
    assert (changed["outstanding_after"] - changed["outstanding"]).to_list() == [30_000 * FEN] * 2


TINY = Scale("tiny", zones=8, enterprises=500, institutions=10, products=25)


def test_the_demo_ledgers_last_month_equals_its_cached_balances(engine: Engine) -> None:
    demo.generate_demo(engine, TINY, seed=6)
    cube = Cube(read_ledger(engine))
    with Session(engine) as s:
        last = s.scalar(
            select(func.max(LedgerEvent.effective_on)).where(LedgerEvent.entity == "loan")
        )
        cached = dict(
            s.execute(
                select(Loan.institution_id, func.sum(Loan.outstanding_principal)).group_by(
                    Loan.institution_id
                )
            ).all()
        )
        npl = s.scalar(
            select(func.sum(Loan.outstanding_principal)).where(
                Loan.category.in_(["substandard", "doubtful", "loss"])
            )
        )
    assert last is not None and cube.last_month.month == last.month
    by_institution = cube.balances(["institution_id"]).filter(pl.col("month") == cube.last_month)
    got = {r["institution_id"]: r["outstanding"] for r in by_institution.iter_rows(named=True)}
    want = {k: int(Decimal(v) * FEN) for k, v in cached.items()}
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}
    total = cube.balances([]).filter(pl.col("month") == cube.last_month).row(0, named=True)
    assert total["npl"] == int(Decimal(npl or 0) * FEN)
