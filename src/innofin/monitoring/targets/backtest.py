"""The forecaster's back-test on the ledger's own history, beside the naive baseline.

For each programme (and the whole ledger) two monthly series: the month-end balance (a stock)
and the month's new lending (a flow). At each of the last `origins` months the forecaster sees
the history up to it only, chooses its model there (`forecast_engine.choose`) and forecasts the
following 1–12 months; the naive baseline carries last year's growth forward
(`forecast_engine.naive`). Both are scored by the weighted absolute percentage error over the
same forecasts (`forecast_engine.wape`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from innofin.monitoring.cube.service import Cube
from innofin.monitoring.targets import forecast_engine as fe


@dataclass(frozen=True)
class BacktestRow:
    programme_id: int | None
    programme_code: str
    series: str
    months: int
    model: str
    model_error: float
    naive_error: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _series(cube: Cube, programme_id: int | None, column: str) -> np.ndarray:
    where = None if programme_id is None else {"programme_id": programme_id}
    frame = cube.balances([], where, dense=True).sort("month")
    values = frame[column].to_numpy().astype(float)
    nonzero = np.flatnonzero(values)
    return values[nonzero[0] :] if nonzero.size else values[:0]


def backtest_programmes(
    cube: Cube, programme_id: int | None = None, *, origins: int = 12
) -> list[BacktestRow]:
    """The back-test of each programme's balance and new-lending series (`programme_id`: one
    programme; default every programme and the whole ledger)."""
    programmes = cube.frames["programmes"].sort("programme_id")
    chosen: list[tuple[int | None, str]] = []
    if programme_id is None:
        chosen.append((None, "(ledger)"))
        chosen += [(r[0], r[1]) for r in programmes.select("programme_id", "code").iter_rows()]
    else:
        found = programmes.filter(pl.col("programme_id") == programme_id)
        chosen += [(r[0], r[1]) for r in found.select("programme_id", "code").iter_rows()]
    rows = []
    for pid, code in chosen:
        for series, column, flow in (
            ("balance", "outstanding", False),
            ("new lending", "new_lending", True),
        ):
            values = _series(cube, pid, column)
            if values.size < fe.MIN_BACKTEST + 2:
                continue
            report = fe.compare_with_naive(values, flow=flow, origins=origins)
            rows.append(
                BacktestRow(
                    pid,
                    code,
                    series,
                    int(values.size),
                    report.model,
                    report.model_error,
                    report.naive_error,
                )
            )
    return rows
