"""Benchmark: recommendations for 200,000 financing needs × 1,000 products (national demo size).

    .venv/bin/python benchmarks/bench_match.py [--needs 200000] [--products 1000]
        [--institutions 100] [--sample 100] [--repeat 1] [--seed 7] [--json]

Synthetic data with a fixed seed: 170 zones, 8 fields, products with the catalogue's kinds of
conditions (points, fields, stages, zones, certifications, amount and term bands, collateral,
revenue, age, equity, rate, active period) set at demo-like rates. Times
`innofin.matching.recommend.engine.recommend` over every need (eligibility, fit, top 5 products
and institutions, 3 near misses, the 10 best needs per institution), and in the same run the
baseline: the same rules and fit written as a Python loop over each (need, product) pair, timed
on `--sample` needs and scaled to all of them. Checks that both give the same best product for
the sample. Prints seconds, the ratio, the process's peak memory (ru_maxrss, data included), the
machine's load, and whether the goals hold (≤ 15 s, ≤ 4 GB, ≥ 20× the loop).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import resource
import statistics
import time
from typing import Any

import numpy as np

from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import engine as rec

GOAL_SECONDS, GOAL_GB, GOAL_RATIO = 15.0, 4.0, 20.0
ZONES = 170


def make(n: int, p: int, institutions: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)

    def maybe(values: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(values.size) < share, values, np.nan)

    needs = elig.Needs.of(
        amount=np.rint(rng.lognormal(14.5, 1.2, n) / 10_000) * 10_000 + 100_000,
        term=rng.choice([6, 12, 24, 36, 60], n),
        max_rate=maybe(rng.uniform(3.5, 6.5, n), 0.75),
        collateral=rng.integers(0, 32, n),
        equity=rng.random(n) < 0.3,
        day=np.full(n, 20_100) + rng.integers(0, 180, n),
        points=maybe(rng.gamma(9.0, 7.0, n), 0.9),
        field=rng.integers(0, 8, n),
        stage=rng.integers(0, 3, n),
        zone=rng.integers(0, ZONES, n),
        certs=rng.integers(0, 32, n),
        revenue=maybe(rng.lognormal(16.0, 1.5, n), 0.95),
        age=rng.gamma(1.5, 5.5, n) + 0.3,
    )
    zones = np.ones((ZONES + 1, p), dtype=bool)
    local = rng.random(p) < 0.5
    zones[:, local] = rng.random((ZONES + 1, int(local.sum()))) < 0.05
    zones[ZONES, local] = False
    low = rng.choice([1e5, 5e5, 1e6, 5e6], p)
    products = elig.Products(
        institution=rng.integers(0, institutions, p),
        direct=rng.random(p) < 0.1,
        equity=rng.random(p) < 0.05,
        min_points=maybe(rng.choice([60.0, 65.0, 70.0, 75.0, 80.0], p), 0.2),
        field_mask=np.where(rng.random(p) < 0.2, rng.integers(1, 256, p), 0),
        stage_mask=np.where(rng.random(p) < 0.4, rng.integers(1, 8, p), 0),
        zones=zones,
        cert_mask=np.where(rng.random(p) < 0.5, rng.choice([1, 2], p), 0),
        amount_min=low,
        amount_max=low * rng.uniform(5, 100, p),
        term_min=np.full(p, 3),
        term_max=rng.choice([12, 24, 36, 60], p),
        collateral=rng.choice([0, 0, 0, 1, 2, 3, 4], p),
        revenue_min=maybe(rng.choice([1e6, 5e6, 1e7]), 0.3) * np.ones(p),
        revenue_max=np.full(p, np.nan),
        age_min=maybe(np.ones(p), 0.1),
        age_max=np.full(p, np.nan),
        rate_min=maybe(rng.uniform(3.0, 6.0, p), 0.8),
        active_from=np.where(rng.random(p) < 0.5, 20_000, -(10**7)),
        active_until=np.where(rng.random(p) < 0.5, 20_300, 10**7),
    )
    affinity = rec.normalised_affinity(rng.normal(size=(n, institutions)))
    return {
        "needs": needs,
        "products": products,
        "affinity": affinity,
        "risk": rng.choice([0.0, 0.0, 0.0, 0.2, 0.6], n),
        "need_ids": np.arange(1, n + 1),
        "product_ids": np.arange(1, p + 1),
        "institution_ids": np.arange(1, institutions + 1),
    }


# --------------------------------------------------------------------------- the Python loop


def _ok_band(v: float, low: float, high: float) -> bool:
    if not math.isnan(low) and not (v >= low):
        return False
    return math.isnan(high) or v <= high


def loop_top(data: dict[str, Any], rows: np.ndarray, k: int = 5) -> list[list[tuple[float, int]]]:
    """The same rules and fit, one (need, product) pair at a time, best k products per need."""
    n, p = data["needs"], data["products"]
    w = rec.Weights()
    pts = rec.percentile(n.points)
    names = [f for f in p.__dataclass_fields__ if f not in ("zones", "stage_modes")]
    prods = [{f: getattr(p, f)[j].item() for f in names} for j in range(len(p))]
    zones = p.zones.T.tolist()
    modes = p.stage_modes.tolist()
    out = []
    for i in rows.tolist():
        need = {f: getattr(n, f)[i].item() for f in n.__dataclass_fields__}
        heap: list[tuple[float, int]] = []
        for j, q in enumerate(prods):
            pv, fld, stg = need["points"], need["field"], need["stage"]
            if not math.isnan(q["min_points"]) and not (pv >= q["min_points"]):
                continue
            if q["field_mask"] and (fld < 0 or not q["field_mask"] >> fld & 1):
                continue
            if q["stage_mask"] and (stg < 0 or not q["stage_mask"] >> stg & 1):
                continue
            if not zones[j][need["zone"] if need["zone"] >= 0 else ZONES]:
                continue
            if need["certs"] & q["cert_mask"] != q["cert_mask"]:
                continue
            if not _ok_band(need["amount"], q["amount_min"], q["amount_max"]):
                continue
            if q["term_min"] >= 0 and need["term"] < q["term_min"]:
                continue
            if q["term_max"] >= 0 and need["term"] > q["term_max"]:
                continue
            if q["collateral"] and not need["collateral"] >> q["collateral"] & 1:
                continue
            if not _ok_band(need["revenue"], q["revenue_min"], q["revenue_max"]):
                continue
            if not _ok_band(need["age"], q["age_min"], q["age_max"]):
                continue
            if q["equity"] and not need["equity"]:
                continue
            if not modes[stg if stg >= 0 else 3][int(q["direct"])]:
                continue
            rate = need["max_rate"]
            if not (math.isnan(q["rate_min"]) or math.isnan(rate) or q["rate_min"] <= rate):
                continue
            if not q["active_from"] <= need["day"] <= q["active_until"]:
                continue
            ceiling = rec.OPEN_CEILING if math.isnan(rate) or rate <= 0 else rate
            terms = (
                0.5
                if math.isnan(q["rate_min"])
                else min(1.0, max(0.0, (ceiling - q["rate_min"]) / ceiling))
            )
            fit = (
                w.track * data["affinity"][i, q["institution"]]
                + w.terms * terms
                + w.points * pts[i]
                + w.risk * (1 - data["risk"][i])
                + (0.0 if q["collateral"] == 0 else w.risk * data["risk"][i])
            )  # fmt: skip
            heapq.heappush(heap, (fit, -j))
            if len(heap) > k:
                heapq.heappop(heap)
        out.append(sorted(((f, -j) for f, j in heap), reverse=True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--needs", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--institutions", type=int, default=100)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = make(args.needs, args.products, args.institutions, args.seed)
    load_before = os.getloadavg()
    times = []
    result = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = rec.recommend(
            data["needs"], data["products"], data["affinity"], data["risk"], data["need_ids"],
            data["product_ids"], data["institution_ids"],
        )  # fmt: skip
        times.append(time.perf_counter() - started)
    assert result is not None
    seconds = statistics.median(times)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows = np.random.default_rng(args.seed + 1).choice(args.needs, args.sample, replace=False)
    started = time.perf_counter()
    baseline = loop_top(data, rows)
    loop_seconds = (time.perf_counter() - started) * args.needs / args.sample
    agree = sum(
        1
        for row, best in zip(rows, baseline, strict=True)
        if (not best and result.products[row, 0] < 0)
        or (best and abs(best[0][0] - result.product_scores[row, 0]) < 1e-5)
    )
    figures = {
        "needs": args.needs,
        "products": args.products,
        "pairs": args.needs * args.products,
        "seconds": round(seconds, 2),
        "loop_seconds_scaled": round(loop_seconds, 1),
        "ratio": round(loop_seconds / seconds, 1),
        "peak_gb": round(peak_gb, 2),
        "eligible_share": round(float(result.eligible_count.mean()) / args.products, 4),
        "sample_best_agree": f"{agree}/{args.sample}",
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "goals": {
            "seconds<=15": seconds <= GOAL_SECONDS,
            "gb<=4": peak_gb <= GOAL_GB,
            "ratio>=20": loop_seconds / seconds >= GOAL_RATIO,
        },
    }
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
