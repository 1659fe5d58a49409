"""Benchmark: one programme report (XLSX and PDF) on the national demo — goal ≤ 15 s.

    .venv/bin/python benchmarks/bench_report.py --national-db FILE [--programme CODE] [--repeat 3]
    .venv/bin/python benchmarks/bench_report.py --snapshot DIR [...]
    (or: make bench-report NATIONAL_DB=FILE)

The national demo (`innofin demo generate --scale national --seed 1`: 500,000 enterprises,
about 1.8 M loans and 5.8 M events, 60 months) is read once from its SQLite file into a Parquet
snapshot of the ledger (`cube.service.write_snapshot`, timed and reported apart: it is the
nightly step a deployment runs), or an existing snapshot is used. What earlier runs kept beside
the snapshot (``DIR/derived/``, `monitoring.cube.store`) is removed first. Then one report is
made as `innofin report programme CODE --snapshot DIR` makes it, from scratch (the *cold* run:
it derives the cube's figures and the forecasts and keeps them beside the snapshot), and then
`--repeat` times again (the *warm* runs: what the snapshot's next reports take):

  load       the cube from the snapshot (`cube.service.load`: its manifest, its fingerprint)
  build      the report's figures (`reports.service.build_report`: targets with forecasts,
             slices, growth, quota use, NPL, risk pools — the funnel is the database's and is
             left out), in two parts:
    cube       the figures (the snapshot's tables read as they are needed)
    forecasts  the targets' forecasts (`targets._forecast`: the back-test, the fit, the paths)
  xlsx       `reports.xlsx.render_xlsx`
  pdf        `reports.pdf.render_pdf` (Chinese, the CJK font embedded as a subset)

and the total (load + build + xlsx + pdf) of the warm runs' median is compared with the goal,
the cold run's beside it (the ratio cold / warm is the baseline measured in the same run).
Each run is a fresh process, as a command is (the forecasts' in-process cache, the PDF library
and the font are cold each time); each says whether statsmodels was imported and, at its end,
how long importing it takes. A second baseline, timed in the same runs, writes the same tables
with pandas' `DataFrame.to_excel` (openpyxl, no formats, no filters), to show what the
report's own XLSX writing costs beside the usual way.

Prints medians and the load average (`uptime`) beside them; writes benchmarks/out/bench_report.json.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from innofin.monitoring.cube.store import DERIVED

GOAL_SECONDS = 15.0
STAGES = ("load", "cube", "forecasts", "build", "xlsx", "pdf", "total")
OUT = Path(__file__).parent / "out" / "bench_report.json"


def _timed(run: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run(*args, **kwargs)
    return time.perf_counter() - started, result


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _snapshot(db: Path, folder: Path) -> float:
    from sqlalchemy import create_engine

    from innofin.monitoring.cube.service import read_ledger, write_snapshot

    engine = create_engine(f"sqlite:///{db}")
    try:
        seconds, frames = _timed(read_ledger, engine)
        write_snapshot(frames, folder)
    finally:
        engine.dispose()
    return seconds


def _pandas_xlsx(report: Any) -> bytes:
    import pandas as pd

    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        for i, table in enumerate(report.tables()):
            frame = pd.DataFrame(
                [[float(v) if hasattr(v, "as_tuple") else v for v in row] for row in table.rows],
                columns=[c.title for c in table.columns],
            )
            frame.to_excel(writer, sheet_name=f"t{i}", index=False)
    return out.getvalue()


def _statsmodels_import() -> float | None:
    """Seconds to import the forecaster's statsmodels models (None: already imported)."""
    if "statsmodels" in sys.modules:
        return None
    started = time.perf_counter()
    import statsmodels.tsa.arima.model  # type: ignore[import-untyped]
    import statsmodels.tsa.exponential_smoothing.ets  # type: ignore[import-untyped]  # noqa: F401

    return time.perf_counter() - started


def child(folder: Path, code: str) -> None:
    """One report in this fresh process; prints its timings as one JSON line."""
    from innofin.monitoring.cube.service import load
    from innofin.monitoring.reports.pdf import render_pdf
    from innofin.monitoring.reports.service import build_report
    from innofin.monitoring.reports.text import words
    from innofin.monitoring.reports.xlsx import render_xlsx
    from innofin.monitoring.targets import service as targets

    forecasting = [0.0]
    forecast = targets._forecast

    def timed_forecast(*args: Any) -> Any:
        seconds, made = _timed(forecast, *args)
        forecasting[0] += seconds
        return made

    targets._forecast = timed_forecast  # type: ignore[assignment]
    zh = words("zh")
    run: dict[str, Any] = {}
    run["load"], cube = _timed(load, snapshot=folder)
    codes = dict(
        zip(
            cube.frames["programmes"]["code"].to_list(),
            cube.frames["programmes"]["programme_id"].to_list(),
            strict=True,
        )
    )
    run["build"], report = _timed(build_report, cube, codes[code])
    run["forecasts"] = forecasting[0]
    run["cube"] = run["build"] - run["forecasts"]
    run["xlsx"], xlsx = _timed(render_xlsx, report, zh)
    run["pdf"], pdf = _timed(render_pdf, report, zh)
    run["total"] = run["load"] + run["build"] + run["xlsx"] + run["pdf"]
    import pandas  # noqa: F401  (imported before the baseline's timing, as openpyxl is by ours)

    run["pandas_xlsx"], _ = _timed(_pandas_xlsx, report)
    run["xlsx_bytes"], run["pdf_bytes"] = len(xlsx), len(pdf)
    manifest = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
    run["loans"] = manifest["rows"]["loans"]
    run["statsmodels_used"] = "statsmodels" in sys.modules
    run["statsmodels_import"] = _statsmodels_import()
    run["months"] = f"{cube.first_month:%Y-%m}–{cube.last_month:%Y-%m}"
    print(json.dumps(run))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--national-db", type=Path, help="a SQLite national demo")
    source.add_argument("--snapshot", type=Path, help="a Parquet snapshot of the ledger")
    parser.add_argument("--programme", default="DEMO-PRG-NATIONAL")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.snapshot, args.programme)
        return

    result: dict[str, Any] = {"goal_seconds": GOAL_SECONDS, "started": dt.datetime.now(dt.UTC)}
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.snapshot
        if folder is None:
            folder = Path(scratch) / "snapshot"
            print(f"reading {args.national_db} into a Parquet snapshot … (load {_load()})")
            seconds = _snapshot(args.national_db, folder)
            result["snapshot_read_seconds"] = seconds
            print(f"  the ledger read in {seconds:.1f} s")
        shutil.rmtree(folder / DERIVED, ignore_errors=True)
        runs: list[dict[str, Any]] = []
        for i in range(args.repeat + 1):
            command = [sys.executable, __file__, "--child", "--snapshot", str(folder)]
            done = subprocess.run(
                [*command, "--programme", args.programme],
                capture_output=True, text=True, check=True, timeout=1800,
            )  # fmt: skip
            run = json.loads(done.stdout.strip().splitlines()[-1])
            runs.append(run)
            shown = ", ".join(
                f"{k} {v:.2f} s" for k, v in run.items() if isinstance(v, float) and k in STAGES
            )
            imported = "imported" if run["statsmodels_used"] else "not imported"
            print(
                f"run {i + 1} ({'cold' if i == 0 else 'warm'}): {shown}; statsmodels {imported} "
                f"(load average {_load()})"
            )
    cold, warm = runs[0], runs[1:]
    medians = {k: statistics.median(r[k] for r in warm) for k in (*STAGES, "pandas_xlsx")}
    loans, months = runs[0]["loans"], runs[0]["months"]
    result.update(runs=runs, cold=cold, medians=medians, load_average=_load(), loans=loans)
    verdict = "met" if medians["total"] <= GOAL_SECONDS else "missed"

    def stages(r: dict[str, Any]) -> str:
        return (
            f"{r['total']:.2f} s (load {r['load']:.2f}, cube {r['cube']:.2f}, forecasts "
            f"{r['forecasts']:.2f}, XLSX {r['xlsx']:.2f}, PDF {r['pdf']:.2f})"
        )

    imports = [r["statsmodels_import"] for r in runs if r["statsmodels_import"] is not None]
    print(
        f"one programme report (XLSX and PDF), {loans:,} loans, months {months}: warm median "
        f"{stages(medians)} — goal {GOAL_SECONDS:.0f} s {verdict}; cold (from scratch, keeping "
        f"its figures) {stages(cold)}: ×{cold['total'] / medians['total']:.1f} the warm median; "
        f"statsmodels imported in {sum(r['statsmodels_used'] for r in warm)} of {len(warm)} warm "
        f"runs, its import {statistics.median(imports) if imports else float('nan'):.2f} s; "
        f"XLSX ×{medians['xlsx'] / medians['pandas_xlsx']:.2f} the pandas to_excel baseline "
        f"({medians['pandas_xlsx']:.2f} s); load average {_load()}"
    )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, default=str, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
