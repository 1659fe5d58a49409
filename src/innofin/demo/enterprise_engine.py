"""Enterprises: zone, field, industry, founding date, growth stage and a valid USCC.

Vectorised over enterprises (loops run per zone or per field only). Latent traits the report
generator needs (stage and field as integers, age) are handed on in ``_firm``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.engine import StepInput, date_series, day_number
from innofin.demo.reference import FIELDS, INDUSTRY_SCHEME

STAGES = ("startup", "growth", "stable")
#: Age in years at the reference date: 0.3 + Gamma(1.5, 5.5) — tech firms skew young
#: (median ≈ 7 years, a quarter under 4), with a tail of decades-old firms; capped at 35.
AGE_SHAPE, AGE_SCALE, AGE_MIN, AGE_MAX = 1.5, 5.5, 0.3, 35.0
#: Stage cut-offs on a noisy age (years): start-up below 4, stable from 10.
STAGE_CUTS = (4.0, 10.0)
STAGE_AGE_NOISE = 0.25  # lognormal sigma: some old firms are still start-ups, some young ones grow
#: Minimum enterprises per zone as a share of the average, so small zones are not empty.
MIN_ZONE_SHARE = 0.1

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])  # GB 11714 organisation code check
_NAME_FORMS = ("科技有限公司", "技术有限公司", "科技股份有限公司")


def uscc_codes(rng: np.random.Generator, region_codes: np.ndarray) -> np.ndarray:
    """Valid, distinct USCCs for enterprises registered in `region_codes` (6-digit strings).

    Layout (GB 32100-2015): '9' (market regulator) '1' (enterprise), the administrative
    division code, a 9-character organisation code (8 random distinct digits and its GB 11714
    check character) and the check character over the first 17.
    """
    n = len(region_codes)
    body = rng.choice(10**8, size=n, replace=False)
    org = (body[:, None] // 10 ** np.arange(7, -1, -1)) % 10
    c9 = 11 - (org * _ORG_WEIGHTS).sum(axis=1) % 11
    org_check = np.where(c9 == 10, USCC_ALPHABET.index("X"), np.where(c9 == 11, 0, c9))
    ascii_codes = np.frombuffer("".join(region_codes).encode("ascii"), dtype=np.uint8)
    region = ascii_codes.reshape(n, 6).astype(np.int64) - ord("0")
    head = np.tile(np.array([9, 1]), (n, 1))
    digits = np.hstack([head, region, org, org_check[:, None]])
    check = (31 - (digits * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
    alphabet = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
    chars = alphabet[np.hstack([digits, check[:, None]])].astype(np.uint8)
    return np.ascontiguousarray(chars).view("S18").ravel().astype("U18")


def zone_counts(rng: np.random.Generator, total: int, size_weight: np.ndarray) -> np.ndarray:
    """Enterprises per zone: a floor for every zone, the rest multinomial by size weight."""
    floor = max(1, int(MIN_ZONE_SHARE * total / len(size_weight)))
    spare = total - floor * len(size_weight)
    return floor + rng.multinomial(spare, size_weight / size_weight.sum())


def make_enterprises(inp: StepInput) -> Mapping[str, Any]:
    rng, scale = inp.rng, inp.scale
    n = scale.enterprises
    zone = inp.tables["zone"]
    latent = inp.extras["_zone_latent"]
    counts = zone_counts(rng, n, latent["size_weight"])
    zone_idx = np.repeat(np.arange(zone.height), counts)
    field_idx = np.empty(n, dtype=np.int64)
    start = 0
    for z, count in enumerate(counts):  # one draw per zone, from the zone's own field mix
        field_idx[start : start + count] = rng.choice(
            len(FIELDS), size=count, p=latent["field_mix"][z]
        )
        start += count
    order = rng.permutation(n)  # interleave zones so ids do not follow zones
    zone_idx, field_idx = zone_idx[order], field_idx[order]

    age = np.minimum(AGE_MIN + rng.gamma(AGE_SHAPE, AGE_SCALE, size=n), AGE_MAX)
    founded = day_number(scale.as_of) - np.rint(age * 365.25).astype(np.int64)
    noisy_age = age * rng.lognormal(0.0, STAGE_AGE_NOISE, size=n)
    stage_idx = np.searchsorted(np.array(STAGE_CUTS), noisy_age, side="right")

    industry = np.empty(n, dtype=object)
    for f, profile in enumerate(FIELDS.values()):  # one draw per field
        members = np.flatnonzero(field_idx == f)
        industry[members] = rng.choice(np.array(profile.industries), size=members.size)

    region = zone["region_code"].to_numpy()[zone_idx]
    ids = np.arange(1, n + 1, dtype=np.int64)
    width = max(4, len(str(n)))
    words = np.array([p.name_word for p in FIELDS.values()])[field_idx]
    forms = np.array(_NAME_FORMS)[rng.choice(3, size=n, p=[0.6, 0.25, 0.15])]
    names = pl.select(
        pl.concat_str(
            pl.lit("示例"),
            pl.Series(words),
            pl.Series(forms),
            pl.Series(ids).cast(pl.String).str.zfill(width),
        )
    ).to_series()
    field_codes = np.array([f.value for f in FIELDS])[field_idx]
    enterprise = pl.DataFrame({"id": ids}).with_columns(
        pl.repeat("uscc", n, eager=True).alias("id_scheme"),
        pl.Series("identifier", uscc_codes(rng, region)),
        names.alias("name"),
        pl.Series("zone_id", zone_idx + 1, dtype=pl.Int64),
        pl.Series("region_code", region),
        date_series("founded_on", founded),
        pl.Series("tech_field", field_codes),
        pl.repeat(INDUSTRY_SCHEME, n, eager=True).alias("industry_scheme"),
        pl.Series("industry_code", industry.astype(str)),
        pl.Series("growth_stage", np.array(STAGES)[stage_idx]),
    )
    firm = {"stage": stage_idx, "field": field_idx, "founded": founded, "zone": zone_idx}
    return {"enterprise": enterprise, "_firm": firm}
