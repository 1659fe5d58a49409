"""Benchmark: innovation points at national scale.

    .venv/bin/python benchmarks/bench_score.py [--rows 1000000] [--repeat 3] [--baseline-repeat 1]
                                               [--national-db PATH] [--skip-national]

1. Engine: 1,000,000 enterprises × 18 indicators, each normalised by its percentile within the
   peer group field × stage, weighted per growth stage, then ranked nationally and by zone, field
   and stage — `innofin.scoring.engine.score`, the function `innofin score run` calls. The
   baseline, timed in the same run on the same data, is the straightforward pandas version:
   per indicator a ``groupby(...).rank(pct=True)`` and an ``apply`` of the stage weight. Both give
   the same points (checked). Targets: ≤ 2 s, and ≥ 10× faster than the baseline.
2. End to end: the national demo (500,000 enterprises, SQLite) is loaded from the database,
   scored with the default system (18 core indicators + bonus and negative items) and written
   back, through `innofin.scoring.service.run`. The database is generated first unless
   `--national-db` names one already made (`innofin demo generate --scale national`).
   Target: ≤ 60 s.

Reports medians (machines here are noisy) and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from innofin.audit.recorder import Actor
from innofin.db import make_engine
from innofin.db.migrate import upgrade
from innofin.demo import service as demo
from innofin.kernel.indicators import REPORT_FIELDS
from innofin.kernel.yamlfile import load_yaml
from innofin.scoring import engine, service
from innofin.scoring.system import compile_system

STAGES = ("startup", "growth", "stable")
FIELDS = 8
TARGET_ENGINE = 2.0
TARGET_RATIO = 10.0
TARGET_NATIONAL = 60.0


def indicators() -> list[tuple[str, str]]:
    """18 (id, expression) pairs: the 17 report fields and one ratio."""
    out = [(f"i_{name}", name) for name in REPORT_FIELDS]
    return [*out, ("i_rd_intensity", "rd_expense / revenue")]


def weights(i: int) -> tuple[float, float, float]:
    base = 1000.0 / 18
    return (base * (1 + 0.1 * ((i % 3) - 1)), base, base * (1 - 0.1 * ((i % 3) - 1)))


def system_yaml() -> str:
    lines = [
        "id: bench",
        "version: '1'",
        "names: {zh: 基准, en: bench}",
        "scale: 1000",
        "groups: [{id: core, names: {zh: 核心, en: core}}]",
        "indicators:",
    ]
    for i, (ident, expr) in enumerate(indicators()):
        w = weights(i)
        lines += [
            f"  - id: {ident}",
            f"    names: {{zh: {ident}, en: {ident}}}",
            "    group: core",
            f"    expr: {expr}",
            "    normalise: {method: percentile}",
            "    peer: [field, stage]",
            f"    weights: {{startup: {w[0]!r}, growth: {w[1]!r}, stable: {w[2]!r}}}",
        ]
    return "\n".join(lines) + "\n"


def make_input(n: int, seed: int) -> engine.ScoringInput:
    rng = np.random.default_rng(seed)
    columns = {}
    for name in REPORT_FIELDS:
        values = np.round(rng.lognormal(13, 1.5, n), 2)
        values[rng.random(n) < 0.03] = np.nan  # some missing
        columns[name] = values
    codes = {
        "zone": rng.integers(0, 170, n),
        "province": rng.integers(0, 31, n),
        "field": rng.integers(0, FIELDS, n),
        "stage": rng.integers(0, 3, n),
        "size": rng.integers(0, 4, n),
    }
    labels = {
        "zone": [f"Z{i:03d}" for i in range(170)],
        "province": [f"P{i:02d}" for i in range(31)],
        "field": [f"F{i}" for i in range(FIELDS)],
        "stage": list(STAGES),
        "size": ["micro", "small", "medium", "large"],
    }
    return engine.ScoringInput(np.arange(1, n + 1, dtype=np.int64), codes, labels, columns)


def pandas_baseline(data: engine.ScoringInput) -> np.ndarray:
    """The straightforward pandas implementation: groupby-rank and apply per indicator."""
    df = pd.DataFrame(dict(data.columns))
    df["field"] = data.codes["field"]
    df["stage"] = np.array(STAGES, dtype=object)[data.codes["stage"]]
    total = pd.Series(0.0, index=df.index)
    for i, (ident, expr) in enumerate(indicators()):
        if "/" in expr:
            num, den = (x.strip() for x in expr.split("/"))
            df[ident] = df[num] / df[den].where(df[den] != 0)
        else:
            df[ident] = df[expr]
        pct = df.groupby(["field", "stage"])[ident].rank(pct=True).fillna(0.0)
        w = dict(zip(STAGES, weights(i), strict=True))
        total = total + pct * df["stage"].apply(lambda s, w=w: w[s])
    return total.to_numpy()


def median_time(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def bench_engine(rows: int, repeat: int, baseline_repeat: int) -> None:
    system = compile_system(load_yaml(system_yaml(), "bench.yaml"))
    data = make_input(rows, seed=1)
    print(
        f"engine: {rows:,} enterprises × {len(system.indicators)} indicators, percentile by "
        f"field × stage ({FIELDS * 3} peer groups), stage weights, 4 rankings"
    )
    t_engine, scores = median_time(lambda: engine.score(system, data), repeat)
    t_pandas, points = median_time(lambda: pandas_baseline(data), baseline_repeat)
    assert isinstance(scores, engine.Scores) and isinstance(points, np.ndarray)
    same = np.allclose(scores.points, points, rtol=0, atol=1e-6)
    ratio = t_pandas / t_engine
    print(f"  {'innofin engine':<28} {t_engine:8.3f} s  (median of {repeat})")
    print(f"  {'pandas groupby-rank + apply':<28} {t_pandas:8.3f} s  (median of {baseline_repeat})")
    print(f"  speed-up ×{ratio:.1f}; same points: {same}")
    print(
        f"  goal ≤ {TARGET_ENGINE:g} s: {'met' if t_engine <= TARGET_ENGINE else 'MISSED'}; "
        f"goal ≥ ×{TARGET_RATIO:g}: {'met' if ratio >= TARGET_RATIO else 'MISSED'}"
    )
    if not same:
        raise SystemExit("the engine and the baseline disagree")


def bench_national(db: Path | None) -> None:
    made = db is None
    folder = tempfile.mkdtemp(prefix="innofin-bench-score-")
    path = db or Path(folder) / "national.db"
    eng = make_engine(f"sqlite:///{path}")
    if made:
        upgrade(eng)
        t = time.perf_counter()
        demo.generate_demo(eng, "national", seed=1)
        print(f"national demo generated into {path} in {time.perf_counter() - t:.1f} s")
    actor = Actor.cli("benchmark")
    t = time.perf_counter()
    first = service.run(eng, "default", 2024, actor, top=0)
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    second = service.run(eng, "default", 2024, actor, top=0)
    t_second = time.perf_counter() - t
    eng.dispose()
    for label, r, total in (
        ("first run (computes the reference)", first, t_first),
        ("second run (stored reference)", second, t_second),
    ):
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
        print(f"  {label:<36} {total:6.1f} s  ({parts}); {r.enterprises:,} enterprises")
    print(f"  same results both runs: {first.result_fingerprint == second.result_fingerprint}")
    worst = max(t_first, t_second)
    print(
        f"  goal ≤ {TARGET_NATIONAL:g} s end to end: "
        f"{'met' if worst <= TARGET_NATIONAL else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-repeat", type=int, default=1)
    parser.add_argument("--national-db", type=Path, default=None)
    parser.add_argument("--skip-national", action="store_true")
    args = parser.parse_args()
    bench_engine(args.rows, args.repeat, args.baseline_repeat)
    if not args.skip_national:
        print("end to end: national demo, default system, SQLite")
        bench_national(args.national_db)


if __name__ == "__main__":
    main()
