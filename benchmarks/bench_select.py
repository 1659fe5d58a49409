"""Benchmark: choose 1,000 key enterprises out of 500,000 under zone, field and province quotas.

    .venv/bin/python benchmarks/bench_select.py [--n 500000] [--count 1000] [--repeat 3] [--seed 1]
        [--baseline-wall 120]

Synthetic data with a fixed seed: 170 zones in 31 provinces, 8 fields, points from a skewed gamma
distribution rounded to 0.1 (many ties), 70% eligible. Quotas: every zone min 2 max 15, every
field max 200, every province max 80. Times `innofin.scoring.select_engine.select` (validation,
cell reduction, pricing, model build and HiGHS solve; median of `--repeat` runs) and, in the
same run, two baselines: the cell-reduced model without pricing, and the plain model without
the cell reduction (one binary per eligible enterprise). HiGHS's presolve does not look at its
time limit on the plain model, so that baseline runs in a child process stopped after
`--baseline-wall` seconds (once: a run that hits the wall is not repeated). Prints the median
seconds, the ratios, and whether the goal (≤ 10 s to proven optimality) is met.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from innofin.kernel.errors import InnofinError
from innofin.scoring.select_engine import (
    Quota,
    Selection,
    SelectionProblem,
    _solve,
    select,
    solver_name,
)

GOAL_SECONDS = 10.0
ZONES, PROVINCES, FIELDS = 170, 31, 8
FIELD_CODES = (
    "electronic_information",
    "bio_medicine",
    "aerospace",
    "new_materials",
    "high_tech_services",
    "new_energy",
    "resources_environment",
    "advanced_manufacturing",
)


def make_problem(n: int, count: int, seed: int) -> SelectionProblem:
    """Zones of uneven size, each in one province; fields of uneven size; gamma points."""
    rng = np.random.default_rng(seed)
    zone_codes = np.array([f"Z{z:03d}" for z in range(ZONES)])
    province_codes = np.array([f"P{p:02d}" for p in range(PROVINCES)])
    # Every province gets at least one zone, the rest at random: zones nest in provinces.
    zone_province = np.concatenate(
        [np.arange(PROVINCES), rng.integers(0, PROVINCES, ZONES - PROVINCES)]
    )
    zone_weight = rng.dirichlet(np.full(ZONES, 2.0))
    field_weight = rng.dirichlet(np.full(FIELDS, 4.0))
    zone = rng.choice(ZONES, size=n, p=zone_weight)
    field = rng.choice(FIELDS, size=n, p=field_weight)
    points = np.round(rng.gamma(shape=2.0, scale=120.0, size=n), 1)
    eligible = rng.random(n) < 0.7
    quotas = (
        [Quota("zone", str(z), min=2, max=15) for z in zone_codes]
        + [Quota("field", f, max=200) for f in FIELD_CODES]
        + [Quota("province", str(p), max=80) for p in province_codes]
    )
    return SelectionProblem(
        points=points,
        eligible=eligible,
        groups={
            "zone": zone_codes[zone],
            "province": province_codes[zone_province[zone]],
            "field": np.array(FIELD_CODES)[field],
        },
        count=count,
        quotas=quotas,
    )


def timed(run: Callable[[], Selection], repeat: int) -> tuple[float, Selection]:
    """Median wall seconds over `repeat` runs, and the last result."""
    seconds: list[float] = []
    result: Selection | None = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(seconds), result


def plain_child(args: argparse.Namespace) -> None:
    """In the child process: time the plain model and print one JSON line."""
    problem = make_problem(args.n, args.count, args.seed)
    stats: dict[str, float] = {}
    started = time.perf_counter()
    try:
        result = _solve(problem, reduce=False, stats=stats)
        row = {"status": result.status, "gap": result.gap, "objective": result.objective}
    except InnofinError as exc:
        row = {"status": "no solution", "gap": math.inf, "objective": math.nan, "error": str(exc)}
    print(json.dumps({"seconds": time.perf_counter() - started, **row, **stats}))


def plain_baseline(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Runs of the plain model in child processes, each stopped after `--baseline-wall` s."""
    command = [sys.executable, __file__, "--plain-child", "--n", str(args.n)]
    command += ["--count", str(args.count), "--seed", str(args.seed)]
    runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=args.baseline_wall, check=True
            )
        except subprocess.TimeoutExpired:
            runs.append({"seconds": math.inf, "status": "stopped", "gap": math.inf})
            break
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500_000, help="enterprises")
    parser.add_argument("--count", type=int, default=1_000, help="key enterprises to choose")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (median)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")
    parser.add_argument(
        "--baseline-wall", type=float, default=120.0, help="seconds before a plain run is stopped"
    )
    parser.add_argument("--plain-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_child:
        plain_child(args)
        return

    started = time.perf_counter()
    problem = make_problem(args.n, args.count, args.seed)
    distinct = np.unique(problem.points[problem.eligible]).size
    print(
        f"setup: {args.n:,} enterprises ({int(problem.eligible.sum()):,} eligible, "
        f"{distinct:,} distinct points), {ZONES} zones in {PROVINCES} provinces, {FIELDS} fields, "
        f"{len(problem.quotas)} quotas, count {args.count:,}; {time.perf_counter() - started:.1f} s"
    )
    print(f"solver: {solver_name()}, time_limit {problem.time_limit:g} s, mip_gap 0")

    select_s, selected = timed(lambda: select(problem), args.repeat)
    select_stats: dict[str, float] = {}
    _solve(problem, stats=select_stats)
    cells_stats: dict[str, float] = {}
    cells_s, cells = timed(lambda: _solve(problem, price=False, stats=cells_stats), args.repeat)
    plain_runs = plain_baseline(args)
    plain_s = statistics.median(r["seconds"] for r in plain_runs)
    plain = plain_runs[-1]

    print(
        f"model: {int(select_stats['variables']):,} binaries after pricing "
        f"({int(select_stats['pricing_rounds'])} LP round(s)), "
        f"{int(cells_stats['variables']):,} with the cell reduction alone "
        f"({int(select_stats['cells']):,} cells), {int(select_stats['eligible']):,} in the plain "
        f"model; {int(select_stats['rows'])} rows"
    )
    header = (
        f"{'variant':<30}{'runs':>5}{'median s':>10}{'ratio':>9}  {'status':<12}{'gap':>7}"
        f"{'objective':>14}"
    )
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, int, float, str, float, float]] = [
        (
            "select (cells + pricing)",
            args.repeat,
            select_s,
            selected.status,
            selected.gap,
            selected.objective,
        ),
        (
            "cell reduction, no pricing",
            args.repeat,
            cells_s,
            cells.status,
            cells.gap,
            cells.objective,
        ),
        (
            "plain model (baseline)",
            len(plain_runs),
            plain_s,
            str(plain["status"]),
            float(plain["gap"]),
            float(plain.get("objective", math.nan)),
        ),
    ]
    for label, runs, seconds, status, gap, objective in rows:
        shown = (
            f"{seconds:>10.2f}"
            if math.isfinite(seconds)
            else f"{'>' + format(args.baseline_wall, 'g'):>10}"
        )
        ratio = (
            f"{seconds / select_s:>8.1f}x"
            if math.isfinite(seconds)
            else f"{'>' + format(args.baseline_wall / select_s, '.0f'):>8}x"
        )
        gap_text = f"{gap:>7.2%}" if math.isfinite(gap) else f"{'-':>7}"
        objective_text = f"{objective:>14,.1f}" if math.isfinite(objective) else f"{'-':>14}"
        print(f"{label:<30}{runs:>5}{shown}{ratio}  {status:<12}{gap_text}{objective_text}")
    agree = [r[5] for r in rows if r[3] == "optimal" and math.isfinite(r[5])]
    same = bool(agree) and max(agree) - min(agree) <= 1e-6 * max(1.0, abs(max(agree)))
    print(
        f"optimal objectives agree: {'yes' if same else 'NO'} ({len(agree)} variants); cut-off "
        f"{selected.cutoff:g}; {len(selected.binding)} quotas binding; dual bound "
        f"{selected.bound:,.1f}"
    )
    met = selected.status == "optimal" and selected.gap == 0.0 and select_s <= GOAL_SECONDS
    print(
        f"goal ≤ {GOAL_SECONDS:g} s to proven optimality: {'met' if met else 'missed'} "
        f"({select_s:.2f} s, status {selected.status}, gap {selected.gap:.2%})"
    )


if __name__ == "__main__":
    main()
