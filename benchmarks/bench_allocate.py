"""Benchmark: special-credit allocation for 50,000 needs × 50 institutions × 8 fields.

    make bench-allocate       # or: .venv/bin/python benchmarks/bench_allocate.py
        [--needs 50000] [--institutions 50] [--zones 30] [--time-limit 60] [--gap 0.001]
        [--seed 7] [--weights firm|need] [--json]

Synthetic data with a fixed seed: needs of 0.5 to 10 million yuan (whole fen, not round) in 8
fields and `--zones` zones from 40,000 enterprises, weights (innovation points) 20 to 100, the
firm's for each of its needs (`--weights need`: a weight drawn per need, a harder instance where
a capped firm's needs are worth different amounts);
each institution commits to two fields and has one commitment for any field (some limited to
one zone), the commitments together covering about half of what is asked; a quota per field at
60 % of its demand, a floor per zone at 5 % of its demand, a per-enterprise cap of 5 million
yuan. Solves it with `innofin.matching.allocation.engine.solve` (the MIP on HiGHS, the LP
relaxation for the duals) and, in the same run, first-come-first-served on the same instance.
Prints seconds, the optimality gap, both objectives and their ratio, the rules the result breaks
(`allocate_check_engine.violations`, from its rows: none expected), the machine's load, and
whether the goal holds (≤ 0.1 % gap within 60 s, no rule broken). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from innofin.matching.allocation import engine as alloc
from innofin.matching.allocation.check_engine import violations

FIELDS = 8
GOAL_SECONDS, GOAL_GAP = 60.0, 0.001
CAP = 500_000_000  # fen: 5 m yuan per enterprise


def make(
    n: int,
    institutions: int,
    zones: int,
    seed: int,
    time_limit: float,
    gap: float,
    weights: str = "firm",
    cover: float = 0.0,
) -> alloc.Problem:
    rng = np.random.default_rng(seed)
    amount = (rng.integers(50, 1000, n) * 1_000_000 + rng.integers(0, 1_000_000, n)).astype(
        np.int64
    )
    field = rng.integers(0, FIELDS, n).astype(np.int64)
    zone = rng.integers(0, zones, n).astype(np.int64)
    enterprise = rng.integers(0, int(n * 0.8), n).astype(np.int64)
    points = np.round(rng.uniform(20, 100, int(n * 0.8)), 1)  # a firm's points
    weight = points[enterprise] if weights == "firm" else np.round(rng.uniform(20, 100, n), 1)
    total = int(amount.sum())
    if cover > 0:  # a share of what the needs may receive within the per-firm cap
        firms, firm = np.unique(enterprise, return_inverse=True)
        asked = np.bincount(firm, weights=np.minimum(amount, CAP), minlength=firms.size)
        total = int(cover * 2 * np.minimum(asked, CAP).sum())
    c_field, c_zone, cap = [], [], []
    share = total // 2 // (institutions * 3)
    for k in range(institutions):
        for f in rng.choice(FIELDS, 2, replace=False):
            c_field.append(int(f))
            c_zone.append(-1)
            cap.append(int(share * rng.uniform(0.5, 1.5)))
        c_field.append(-1)
        c_zone.append(int(rng.integers(0, zones)) if k % 5 == 0 else -1)
        cap.append(int(share * rng.uniform(0.5, 1.5)))
    demand_f = np.bincount(field, weights=amount, minlength=FIELDS)
    demand_z = np.bincount(zone, weights=amount, minlength=zones)
    return alloc.Problem(
        amount=amount,
        weight=weight,
        need_field=field,
        need_zone=zone,
        enterprise=enterprise,
        capacity=np.array(cap, dtype=np.int64),
        commitment_field=np.array(c_field, dtype=np.int64),
        commitment_zone=np.array(c_zone, dtype=np.int64),
        field_names=[f"F{f}" for f in range(FIELDS)],
        zone_names=[f"Z{z:03d}" for z in range(zones)],
        field_max=(demand_f * 0.6).astype(np.int64),
        zone_max=np.full(zones, -1, dtype=np.int64),
        zone_floor=(demand_z * 0.05).astype(np.int64),
        enterprise_cap=CAP,
        mip_gap=gap,
        time_limit=time_limit,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--needs", type=int, default=50_000)
    ap.add_argument("--institutions", type=int, default=50)
    ap.add_argument("--zones", type=int, default=30)
    ap.add_argument("--time-limit", type=float, default=GOAL_SECONDS)
    ap.add_argument("--gap", type=float, default=GOAL_GAP)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--weights", choices=("firm", "need"), default="firm")
    ap.add_argument(
        "--cover",
        type=float,
        default=0.0,
        help="commitments as a share of what the needs may receive within the per-firm cap "
        "(0: half of what they ask, without the cap; then the commitments hardly bind)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    problem = make(args.needs, args.institutions, args.zones, args.seed, args.time_limit, args.gap,
                   args.weights, args.cover)  # fmt: skip
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = alloc.solve(problem)
    wall = time.perf_counter() - started
    broken = violations(problem, result)
    figures = {
        "needs": args.needs,
        "institutions": args.institutions,
        "commitments": int(problem.capacity.size),
        "fields": FIELDS,
        "zones": args.zones,
        "weights": args.weights,
        "cover": args.cover,
        "solver": result.solver,
        "status": result.status,
        "seconds_mip_and_lp": round(result.seconds, 2),
        "seconds_fcfs": round(result.fcfs_seconds, 2),
        "seconds_wall": round(wall, 2),
        "gap": result.gap,
        "objective": round(result.objective, 1),
        "lp_bound": round(result.lp_bound, 1),
        "fcfs_objective": round(result.fcfs_objective, 1),
        "ratio_to_fcfs": round(result.objective / result.fcfs_objective, 4)
        if result.fcfs_objective
        else None,
        "funded_needs": int(result.funded.sum()),
        "rows": int(result.row_need.size),
        "binding": len(result.binding),
        "unmet_floors": len(result.unmet),
        "dive_rounds": result.dive_rounds,
        "rules_broken": len(broken),
        "variables": result.variables,
        "constraints": result.constraints,
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "goal_met": result.gap <= GOAL_GAP and result.seconds <= GOAL_SECONDS and not broken,
    }
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
