"""Zones (高新区) and their yearly statistics.

Zone sizes are heavy-tailed, as in the national statistics where a few zones (Zhongguancun,
Shenzhen, Shanghai Zhangjiang...) hold a large share of all enterprises: zones are ranked by a
noisy *prominence* (big city, national level, early approval) and the rank-r zone gets a weight
∝ r^-0.95 (Zipf), times a little lognormal noise. Yearly statistics are aggregated from the
generated enterprises, so the zone table and the enterprise table never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.engine import StepInput, allocate, to_fen
from innofin.demo.reference import CITIES, FIELDS, ZONE_SUFFIXES

ZIPF_EXPONENT = 0.95
#: Probability that a city's first zone is national, and that a further one is (about 70 % of
#: the zones are national at the national scale, mirroring the 169-178 national zones).
NATIONAL_FIRST, NATIONAL_OTHER = 0.8, 0.6
#: Dirichlet concentration of a zone's field mix around the national mix (lower = more
#: specialised zones).
FIELD_MIX_CONCENTRATION = 25.0


def _cities_for_zones(rng: np.random.Generator, zones: int) -> np.ndarray:
    """City index per zone: every city once when there are enough zones, the rest by weight."""
    weights = np.array([c.weight for c in CITIES]) ** 0.7
    if zones < len(CITIES):
        picked = rng.choice(len(CITIES), size=zones, replace=False, p=weights / weights.sum())
        return np.sort(picked)
    per_city = allocate(zones, weights, minimum=1)
    return np.repeat(np.arange(len(CITIES)), per_city)


def make_zones(inp: StepInput) -> Mapping[str, Any]:
    """The zone table, plus latent zone traits (size weight, field mix, GDP factors)."""
    rng, n = inp.rng, inp.scale.zones
    city = _cities_for_zones(rng, n)
    # k-th zone of its city (cities come sorted, so a running count within runs of equal city).
    starts = np.r_[0, np.flatnonzero(np.diff(city)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    kth = np.arange(n) - run_start
    national = rng.random(n) < np.where(kth == 0, NATIONAL_FIRST, NATIONAL_OTHER)
    early = rng.choice([1988, 1991, 1992], size=n, p=[0.05, 0.5, 0.45])
    upgraded = rng.integers(2007, 2023, size=n)
    year_national = np.where(rng.random(n) < 0.45, early, upgraded)
    year_provincial = rng.integers(1992, 2024, size=n)
    year = np.where(national, year_national, year_provincial)

    names_zh, names_en = [], []
    for i in range(n):  # one loop per zone: tens to hundreds of iterations
        c = CITIES[city[i]]
        suffix_zh, suffix_en = ZONE_SUFFIXES[kth[i] % len(ZONE_SUFFIXES)]
        if kth[i] >= len(ZONE_SUFFIXES):
            suffix_zh, suffix_en = f"{suffix_zh}{kth[i]}", f"{suffix_en} {kth[i]}"
        level_zh, level_en = ("国家", "National") if national[i] else ("省级", "Provincial")
        names_zh.append(f"示例{c.name_zh}{suffix_zh}{level_zh}高新区")
        names_en.append(f"Demo {c.name_en}{suffix_en} {level_en} Hi-tech Zone")

    width = max(3, len(str(n)))
    zone = pl.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "code": [f"DEMO-Z{i:0{width}d}" for i in range(1, n + 1)],
            "name_zh": names_zh,
            "name_en": names_en,
            "province": [CITIES[c].province_zh for c in city],
            "city": [CITIES[c].name_zh for c in city],
            "region_code": [CITIES[c].region_code for c in city],
            "level": np.where(national, "national", "provincial"),
            "year_approved": year.astype(np.int64),
        }
    )

    city_weight = np.array([CITIES[c].weight for c in city])
    prominence = (
        np.log(city_weight)
        + 0.8 * national
        + (inp.scale.years[-1] - year) / 12.0
        + rng.normal(0.0, 0.6, size=n)
    )
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(-prominence, kind="stable")] = np.arange(1, n + 1)
    size_weight = rank.astype(np.float64) ** -ZIPF_EXPONENT * rng.lognormal(0.0, 0.2, size=n)
    national_mix = np.array([p.share for p in FIELDS.values()])
    field_mix = rng.dirichlet(FIELD_MIX_CONCENTRATION * national_mix, size=n)
    latent = {
        "size_weight": size_weight,
        "field_mix": field_mix,
        # Value added per yuan of revenue, and the zone economy outside the listed enterprises.
        "value_added_rate": rng.uniform(0.20, 0.30, size=n),
        "non_tech_factor": rng.uniform(1.5, 3.0, size=n),
    }
    return {"zone": zone, "_zone_latent": latent}


def make_zone_stats(inp: StepInput) -> Mapping[str, Any]:
    """Yearly zone statistics aggregated from the generated enterprises and certificates.

    enterprises = enterprises reporting that year; hte_enterprises = those holding a valid
    high-tech enterprise certificate on 31 December; revenue, R&D, tax and employees are sums over
    the reports (a missing value counts as nothing); GDP is the value added of that revenue grown
    by the zone's economy outside the listed enterprises.
    """
    latent = inp.extras["_zone_latent"]
    years = inp.scale.years
    firms = inp.tables["enterprise"].select(pl.col("id").alias("enterprise_id"), "zone_id")
    reports = inp.tables["indicator_report"].join(firms, on="enterprise_id")
    sums = reports.group_by("zone_id", "year").agg(
        pl.len().alias("enterprises"),
        pl.col("revenue").sum(),
        pl.col("rd_expense").sum(),
        pl.col("tax_paid").sum().alias("tax"),
        pl.col("employees").sum(),
    )
    hnte = inp.tables["certification"].filter(pl.col("kind") == "hnte")
    year_ends = pl.DataFrame({"year": list(years)}).with_columns(
        pl.date(pl.col("year"), 12, 31).alias("year_end")
    )
    holders = (
        hnte.join(year_ends, how="cross")
        .filter(
            (pl.col("valid_from") <= pl.col("year_end"))
            & (pl.col("valid_until") >= pl.col("year_end"))
        )
        .select("enterprise_id", "year")
        .unique()
        .join(firms, on="enterprise_id")
        .group_by("zone_id", "year")
        .agg(pl.len().alias("hte_enterprises"))
    )
    zone_ids = inp.tables["zone"]["id"]
    grid = pl.DataFrame({"zone_id": zone_ids}).join(
        pl.DataFrame({"year": list(years)}), how="cross"
    )
    stats = (
        grid.join(sums, on=["zone_id", "year"], how="left")
        .join(holders, on=["zone_id", "year"], how="left")
        .with_columns(
            pl.col("enterprises", "hte_enterprises").fill_null(0).cast(pl.Int64),
            pl.col("revenue", "rd_expense", "tax", "employees").fill_null(0).cast(pl.Int64),
        )
        .sort("zone_id", "year")
    )
    zone_index = stats["zone_id"].to_numpy() - 1
    factor = latent["value_added_rate"][zone_index] * latent["non_tech_factor"][zone_index]
    gdp = to_fen(stats["revenue"].to_numpy().astype(np.float64) / 100.0 * factor)
    stats = stats.with_columns(pl.Series("gdp", gdp)).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("id")
    )
    columns = ["id", "zone_id", "year", "gdp", "tax", "revenue", "rd_expense", "enterprises"]
    return {"zone_year_stat": stats.select(*columns, "hte_enterprises", "employees")}
