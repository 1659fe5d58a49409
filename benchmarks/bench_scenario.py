"""The scenario engine's Monte Carlo against the per-loan loop it replaces, in the same run, and
at a national book's size.

1. *Same work, two ways*: a book of 5,000 loans, 200 paths, 24 months. The baseline simulates
   each loan on its own (a Python loop over loans and months, NumPy over paths: the plain way to
   write it); the engine groups like loans into cells and draws every path and cell of a month at
   once. Both draw Binomial defaults and prepayments with the same monthly probabilities; their
   mean balances at the horizon must agree within sampling error.
   With about as many cells as loans the two do the same number of draws: what the engine
   saves is the grouping, which part 2 shows.
2. *National size*: 1.8 million loans (the national demo's order) grouped into cells
   (`make_book`), then 500 paths over 24 months; the per-loan loop on a 1 % sample of them
   (18,000 loans, 500 paths), scaled by 100 (its cost is linear in loans).

    python benchmarks/bench_scenario.py [--repeat 3]

Prints CPU seconds (process time: the machine is shared) and wall seconds, medians of the
repeats, the ratio, and the load average beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from innofin.monitoring.scenarios import engine as se

SEGMENTS, MONTHS = 36, 24


def _rates(rng: np.random.Generator) -> se.Rates:
    n = 200_000
    f, z = rng.integers(0, 9, n), rng.integers(0, 4, n)
    p = rng.uniform(0.001, 0.01, (9, 4))
    end = np.minimum(rng.geometric(p[f, z]), 36).astype(np.float64)
    defaulted = rng.geometric(p[f, z]) <= 36
    prepaid = ~defaulted & (rng.random(n) < 0.1)
    return se.estimate_rates(f, z, end, defaulted, prepaid, 9, 4)


def _loans(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "segment": rng.integers(0, SEGMENTS, n),
        "method": rng.integers(0, len(se.METHODS), n),
        "months_left": rng.integers(1, 61, n),
        "covered": rng.random(n) < 0.5,
        "balance": np.round(rng.lognormal(14.5, 0.8, n), 2),
        "rate": np.round(rng.uniform(0.03, 0.06, n), 4),
    }


def _book(loans: dict[str, np.ndarray]) -> se.Book:
    return se.make_book(
        loans["segment"], loans["method"], loans["months_left"], loans["covered"],
        loans["balance"], loans["rate"],
    )  # fmt: skip


def per_loan(loans: dict[str, np.ndarray], rates: se.Rates, paths: int, seed: int) -> np.ndarray:
    """The baseline: each loan simulated on its own, a loop over loans and months. Returns the
    mean balance per month (the existing book only, no new lending)."""
    rng = np.random.default_rng(seed)
    sched = se.schedule(loans["method"], loans["months_left"], loans["rate"], MONTHS)
    total = np.zeros((paths, MONTHS))
    for i in range(loans["segment"].size):
        pd, pq = rates.default_p[loans["segment"][i]], rates.prepay_p[loans["segment"][i]]
        alive = np.ones(paths, bool)
        for t in range(1, MONTHS + 1):
            if sched[i, t - 1] <= 0:
                break
            defaulted = rng.random(paths) < pd
            prepaid = rng.random(paths) < pq  # among those that did not default
            alive &= ~defaulted & ~prepaid
            total[:, t - 1] += alive * sched[i, t] * loans["balance"][i]
    out: np.ndarray = total.mean(axis=0)
    return out


def vectorised(book: se.Book, rates: se.Rates, paths: int, seed: int) -> np.ndarray:
    levers = se.Levers(risk_share=0.3, rate_cap=None, quota=0.0, key_list_size=0)
    a = se.Assumptions(months=MONTHS, paths=paths)
    zero = np.zeros(rates.segments)
    projection = se.project(book, rates, zero, zero, levers, a, seed)
    out: np.ndarray = projection.balance.mean
    return out


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    cpu, wall, result = [], [], None
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        result = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    rates = _rates(rng)
    print(f"load average before: {os.getloadavg()[0]:.1f}")

    loans = _loans(rng, 5_000)
    book = _book(loans)
    base_cpu, base_wall, base = _timed(lambda: per_loan(loans, rates, 200, 1), args.repeat)
    vec_cpu, vec_wall, vec = _timed(lambda: vectorised(book, rates, 200, 1), args.repeat)
    gap = abs(vec[-1] - base[-1]) / base[-1]
    print(
        f"5,000 loans ({book.cells} cells), 200 paths, {MONTHS} months: per-loan loop "
        f"{base_cpu:.2f} s CPU ({base_wall:.2f} s wall), engine {vec_cpu:.3f} s CPU "
        f"({vec_wall:.3f} s wall): ×{base_cpu / vec_cpu:.1f}; mean balance at the horizon "
        f"{base[-1] / 1e8:.3f} vs {vec[-1] / 1e8:.3f} 亿元 ({gap:.2%} apart)"
    )

    national = _loans(rng, 1_800_000)
    cells_cpu, cells_wall, big = _timed(lambda: _book(national), args.repeat)
    run_cpu, run_wall, _ = _timed(lambda: vectorised(big, rates, 500, 1), args.repeat)
    sample = {k: v[:18_000] for k, v in national.items()}
    loop_cpu, loop_wall, _ = _timed(lambda: per_loan(sample, rates, 500, 1), 1)
    engine_cpu = cells_cpu + run_cpu
    print(
        f"1,800,000 loans: grouped into {big.cells} cells in {cells_cpu:.2f} s CPU "
        f"({cells_wall:.2f} s wall); 500 paths × {MONTHS} months in {run_cpu:.2f} s CPU "
        f"({run_wall:.2f} s wall); the per-loan loop on 18,000 of them {loop_cpu:.2f} s CPU "
        f"({loop_wall:.2f} s wall), × 100 = {loop_cpu * 100:.0f} s: "
        f"×{loop_cpu * 100 / engine_cpu:.1f}"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
