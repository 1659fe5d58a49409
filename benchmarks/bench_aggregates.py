"""Benchmark: anonymous enterprise aggregates under disclosure control, against the query they
replaced (a count of enterprises per cell, sums shown from 5 enterprises on) as the baseline.

    .venv/bin/python benchmarks/bench_aggregates.py [--backends sqlite postgresql]
        [--scale small|medium] [--repeat 7]

For each backend, builds the demo (`innofin demo generate --scale … --seed 42`) into a fresh
database, then for every `group_by` and the demo's latest full year runs the baseline and
`registry.records.enterprise_aggregates` (contributors, sums, two largest magnitudes by a window
function, then `kernel.disclosure.protect`) `--repeat` times each, alternating, and prints the
median seconds of each and their ratio, and how many sums each shows. Writes
benchmarks/out/bench_aggregates.json. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from innofin.db import make_engine
from innofin.registry import records
from innofin.registry.models import Enterprise, IndicatorReport, Zone

sys.path.insert(0, str(Path(__file__).parent))
from machine import database, plain, src_state

GROUPS = ("zone", "tech_field", "growth_stage", "province")


def baseline(session: Session, group_by: str, year: int) -> list[tuple[Any, int, Any, Any]]:
    """The aggregate before disclosure control: one grouped join, sums from 5 enterprises."""
    key = records._GROUPS[group_by]
    report = and_(IndicatorReport.enterprise_id == Enterprise.id, IndicatorReport.year == year)
    rows = session.execute(
        select(
            key,
            func.count(Enterprise.id),
            func.sum(IndicatorReport.revenue),
            func.sum(IndicatorReport.rd_expense),
        )
        .select_from(Enterprise)
        .outerjoin(Zone, Zone.id == Enterprise.zone_id)
        .outerjoin(IndicatorReport, report)
        .group_by(key)
        .order_by(key)
    ).all()
    return [(k, n, None if n < 5 else r, None if n < 5 else d) for k, n, r, d in rows]


def timed(run: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def bench_backend(backend: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with database(backend, tmp, args.pg_url, "innofin_bench_aggregates") as url:
        env = {**os.environ, "INNOFIN_DATABASE_URL": url}
        print(f"{backend}: building the {args.scale} demo …", flush=True)
        subprocess.run(
            [sys.executable, "-m", "innofin", "demo", "generate", "--scale", args.scale,
             "--seed", "42"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        engine = make_engine(url)
        try:
            with Session(engine) as s:
                year = int(s.scalar(select(func.max(IndicatorReport.year))) or 0)
                reports = int(
                    s.scalar(select(func.count()).where(IndicatorReport.year == year)) or 0
                )
            rows = []
            for group_by in GROUPS:
                old: list[float] = []
                new: list[float] = []
                shown_old = shown_new = 0
                for _ in range(args.repeat):
                    with Session(engine) as s:
                        t, cells = timed(lambda s=s, g=group_by: baseline(s, g, year))
                        old.append(t)
                        shown_old = sum(1 for c in cells if c[2] is not None)
                    with Session(engine) as s:
                        t, out = timed(
                            lambda s=s, g=group_by: records.enterprise_aggregates(s, g, year)
                        )
                        new.append(t)
                        shown_new = sum(1 for c in out if c.revenue is not None)
                row = {
                    "group_by": group_by,
                    "cells": len(out),
                    "baseline_median_s": statistics.median(old),
                    "disclosure_median_s": statistics.median(new),
                    "ratio": statistics.median(new) / statistics.median(old),
                    "revenue_sums_shown": {"baseline": shown_old, "disclosure": shown_new},
                }
                rows.append(row)
                print(
                    f"  {group_by:<13} {len(out):>4} cells  baseline "
                    f"{row['baseline_median_s'] * 1000:8.1f} ms  disclosure "
                    f"{row['disclosure_median_s'] * 1000:8.1f} ms  ×{row['ratio']:.2f}  "
                    f"sums shown {shown_old} → {shown_new}",
                    flush=True,
                )
            return {"backend": backend, "year": year, "reports": reports, "rows": rows}
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite"])
    parser.add_argument("--scale", default="medium", choices=["small", "medium"])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="innofin-bench-") as folder:
        for backend in args.backends:
            runs.append(bench_backend(backend, args, Path(folder)))
    out = Path(__file__).parent / "out" / "bench_aggregates.json"
    out.parent.mkdir(exist_ok=True)
    report = {"src": src_state(), "scale": args.scale, "repeat": args.repeat, "runs": runs}
    out.write_text(json.dumps(plain(report), indent=2, default=str), encoding="utf-8")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
