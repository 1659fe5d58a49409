"""Benchmark: one financing need's recommendations on the medium demo (50,000 firms, 40
institutions, 300 products, ~180,000 loans), as `innofin match recommend NEED` and the API give
them.

    make bench-recommend      # or: .venv/bin/python benchmarks/bench_recommend.py
        [--db demo.db] [--repeat 5] [--json]

Without `--db`, builds the demo first (`innofin demo generate --scale medium --seed 42` into a
temporary SQLite file; a few minutes). Times, for the same need, in the same run:

- *baseline*: the track record read as before `matching.history` — every loan through the ORM (a
  row of Decimals and dates each), its borrower's latest revenue by an ORM query — and its cells
  computed each time;
- *cold*: the first recommendation of a process: loans and firms read as plain columns;
- *warm*: the next ones: the track record kept beside the engine while the ledger and the registry
  keep their fingerprints (two small queries and one scan of the loan table).

Prints medians (of `--repeat` runs; cold: each after dropping what is kept), the ratios to the
baseline, whether the three answers are equal, and the load average before and after. Not part
of the test suite.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from innofin.matching import queries
from innofin.matching.recommend import columns, history, service
from innofin.matching.scopes import OPERATOR

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from innofin.matching.models import FinancingNeed
from innofin.matching.recommend import track_engine as track
from matching_reference import orm_history


def baseline_track_record(
    session: Session, codes: columns.Codes, lenders: columns.Lenders, rule: Any
) -> tuple[pl.DataFrame, dict[tuple[str, ...], pl.DataFrame]]:
    frame = orm_history(session, codes, lenders)
    return frame, track.track_cells(frame, rule)


def build(path: Path) -> None:
    env = {**os.environ, "INNOFIN_DATABASE_URL": f"sqlite:///{path}"}
    innofin = Path(sys.executable).with_name("innofin")
    args = [str(innofin), "demo", "generate", "--scale", "medium", "--seed", "42"]
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, help="a medium demo on SQLite (built when left out)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "medium.db"
            build(db)
        engine = create_engine(f"sqlite:///{db}")
        load_before = os.getloadavg()[0]
        with Session(engine) as s:
            need_id = s.scalar(select(func.min(FinancingNeed.id)))
            assert need_id is not None, "the demo has no financing need"

            def recommend() -> Any:
                return service.recommend_need(s, OPERATOR, need_id)

            kept = queries._track_record  # the recommendation run's own name for it
            queries._track_record = baseline_track_record  # type: ignore[assignment]
            try:
                base = [timed(recommend) for _ in range(max(args.repeat // 2, 1))]
            finally:
                queries._track_record = kept
            cold = []
            for _ in range(args.repeat):
                history.forget()
                cold.append(timed(recommend))
            warm = [timed(recommend) for _ in range(args.repeat)]
        answers = [base[0][1], cold[0][1], warm[0][1]]
        b, c, w = (statistics.median(t for t, _ in runs) for runs in (base, cold, warm))
        figures = {
            "db": str(args.db) if args.db else "built: medium, seed 42",
            "need": need_id,
            "seconds_baseline_orm": round(b, 3),
            "seconds_cold": round(c, 3),
            "seconds_warm": round(w, 3),
            "ratio_cold": round(b / c, 2),
            "ratio_warm": round(b / w, 2),
            "same_answer": all(a == answers[0] for a in answers),
            "runs": {"baseline": len(base), "cold": len(cold), "warm": len(warm)},
            "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
