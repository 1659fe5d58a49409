"""Benchmark: import a million annual indicator rows into a fresh SQLite database.

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000] [--db PATH] [--baseline-rows N]

Builds a migrated SQLite database with one enterprise per three rows (valid USCCs from
`make_uscc`, inserted with `bulk_upsert`), writes the CSV with vectorised NumPy/Polars generation,
then times `innofin.ingest.service.import_file` — the function `innofin import` calls — while a
thread samples the resident memory, to show it stays flat. A naive per-row ORM import of a sample
is timed in the same run for comparison. Target: the full import in under 60 seconds.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from innofin.db import make_engine
from innofin.db.bulk import bulk_upsert
from innofin.db.migrate import upgrade
from innofin.ingest.service import import_file
from innofin.kernel.ids import make_uscc
from innofin.kernel.indicators import REPORT_FIELDS
from innofin.kernel.money import to_money
from innofin.registry.models import Enterprise, IndicatorReport

TARGET_SECONDS = 60.0
YEARS = (2021, 2022, 2023)


def rss_mb() -> float:
    """Resident memory of this process now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    """Samples VmRSS every `interval` seconds until stopped; keeps the peak."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self._done = interval, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_mb())
            self._done.wait(self.interval)

    def stop(self) -> float:
        self._done.set()
        self.join()
        self.peak = max(self.peak, rss_mb())
        return self.peak


def identifiers(count: int) -> list[str]:
    """Valid, distinct USCCs: 9 (SAIC), 1 (company), region 110108, a serial, check character."""
    return [make_uscc(f"91110108{n:09d}") for n in range(count)]


def build_database(path: Path, enterprises: list[str]) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        for start in range(0, len(enterprises), 50_000):
            rows = [
                {"id_scheme": "uscc", "identifier": u, "name": f"企业{start + i}"}
                for i, u in enumerate(enterprises[start : start + 50_000])
            ]
            bulk_upsert(conn, Enterprise.__table__, rows, ["id_scheme", "identifier"])
    return engine


def write_csv(path: Path, enterprises: list[str], rows: int, seed: int = 7) -> None:
    """Indicator rows for enterprise × year, amounts in yuan with fen, all vectorised."""
    rng = np.random.default_rng(seed)
    index = np.arange(rows)
    frame = pl.DataFrame(
        {
            "id_scheme": np.full(rows, "uscc"),
            "identifier": np.asarray(enterprises, dtype=object)[index // len(YEARS)],
            "year": np.asarray(YEARS)[index % len(YEARS)],
        }
    )
    employees = rng.integers(5, 2_000, rows)
    columns = []
    for name, spec in REPORT_FIELDS.items():
        if spec.unit == "yuan":
            low = -(10**10) if spec.signed else 0
            fen = pl.Series(name, rng.integers(low, 10**12, rows))
            sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
            cents = (fen.abs() % 100).cast(pl.Utf8).str.pad_start(2, "0")
            columns.append(
                pl.concat_str([sign, (fen.abs() // 100).cast(pl.Utf8), pl.lit("."), cents]).alias(
                    name
                )
            )
        elif name == "employees":
            columns.append(pl.lit(pl.Series(name, employees)).alias(name))
        elif name == "rd_staff":
            columns.append(pl.lit(pl.Series(name, employees // 5)).alias(name))
        else:
            columns.append(pl.lit(pl.Series(name, rng.integers(0, 200, rows))).alias(name))
    frame.with_columns(columns).write_csv(path)


def naive_baseline(engine: Engine, path: Path, rows: int) -> float:
    """The straightforward way: csv.DictReader, Decimal per field, one ORM object per row."""
    started = time.perf_counter()
    with Session(engine) as session:
        ids = {i: pk for i, pk in session.execute(select(Enterprise.identifier, Enterprise.id))}
        with path.open(encoding="utf-8", newline="") as fh:
            for n, line in enumerate(csv.DictReader(fh)):
                if n >= rows:
                    break
                values = {
                    name: (to_money(line[name]) if spec.unit == "yuan" else int(line[name]))
                    for name, spec in REPORT_FIELDS.items()
                }
                session.add(
                    IndicatorReport(
                        enterprise_id=ids[line["identifier"]], year=int(line["year"]), **values
                    )
                )
        session.flush()
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="indicator rows to import")
    parser.add_argument("--db", type=Path, help="database file (default: in a temporary dir)")
    parser.add_argument("--baseline-rows", type=int, default=50_000, help="rows for the baseline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="innofin-bench-") as tmp:
        work = Path(tmp)
        db = args.db or work / "bench.db"
        if db.exists():
            raise SystemExit(f"{db} exists: give a new path")
        started = time.perf_counter()
        enterprises = identifiers(-(-args.rows // len(YEARS)))
        engine = build_database(db, enterprises)
        data = work / "indicators.csv"
        write_csv(data, enterprises, args.rows)
        del enterprises
        print(
            f"setup: {args.rows:,} rows, {data.stat().st_size / 1e6:.0f} MB CSV, "
            f"{time.perf_counter() - started:.1f} s"
        )

        baseline_rows = min(args.baseline_rows, args.rows)
        baseline = naive_baseline(engine, data, baseline_rows)
        baseline_rate = baseline_rows / baseline

        marks = {round(args.rows * f): f for f in (0.1, 0.5, 1.0)}
        at: dict[float, float] = {}
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            before, done = done, done + n
            for mark, fraction in marks.items():
                if before < mark <= done:
                    at[fraction] = rss_mb()

        sampler = RssSampler()
        start_rss = rss_mb()
        sampler.start()
        result = import_file(engine, "indicators", data, progress=progress)
        peak = sampler.stop()
        rate = result.written / result.seconds
        print(f"import: {result.written:,} rows in {result.seconds:.1f} s = {rate:,.0f} rows/s")
        print(
            f"RSS MB: start {start_rss:.0f}, "
            + ", ".join(f"{int(f * 100)}% {at.get(f, float('nan')):.0f}" for f in sorted(at))
            + f", peak {peak:.0f}"
        )
        print(
            f"naive ORM baseline: {baseline_rows:,} rows in {baseline:.1f} s = "
            f"{baseline_rate:,.0f} rows/s; {args.rows:,} rows would take "
            f"{args.rows / baseline_rate:.0f} s ({rate / baseline_rate:.1f}x slower)"
        )
        verdict = "PASS" if result.seconds < TARGET_SECONDS * args.rows / 1_000_000 else "FAIL"
        print(f"{verdict}: target {TARGET_SECONDS:.0f} s per million rows")
        engine.dispose()


if __name__ == "__main__":
    main()
