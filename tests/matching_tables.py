"""Hand-made needs and products for the matching engines' tests: one row each by default, every
condition off unless a test sets it."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from innofin.matching.recommend import eligibility_engine as elig

NAN = float("nan")
ZONES = 3  # zone codes 0..2


def needs(rows: int = 1, **over: Any) -> elig.Needs:
    values: dict[str, Any] = {
        "amount": 1_000_000.0,
        "term": 12,
        "max_rate": NAN,
        "collateral": 0,
        "equity": False,
        "day": 20_000,
        "points": 70.0,
        "field": 0,
        "stage": 1,
        "zone": 0,
        "certs": 0,
        "revenue": 5_000_000.0,
        "age": 5.0,
    }
    values.update(over)
    columns = {k: np.broadcast_to(np.asarray(v), (rows,)).copy() for k, v in values.items()}
    return elig.Needs.of(**columns)


def products(rows: int = 1, zones: Any = None, **over: Any) -> elig.Products:
    values: dict[str, Any] = {
        "institution": 0,
        "direct": False,
        "equity": False,
        "min_points": NAN,
        "field_mask": 0,
        "stage_mask": 0,
        "cert_mask": 0,
        "amount_min": NAN,
        "amount_max": NAN,
        "term_min": -1,
        "term_max": -1,
        "collateral": 0,
        "revenue_min": NAN,
        "revenue_max": NAN,
        "age_min": NAN,
        "age_max": NAN,
        "rate_min": NAN,
        "active_from": -(10**7),
        "active_until": 10**7,
    }
    stage_modes = over.pop("stage_modes", None)
    values.update(over)
    columns: dict[str, Any] = {}
    for k, v in values.items():
        arr = np.broadcast_to(np.asarray(v), (rows,)).copy()
        if k in ("direct", "equity"):
            arr = arr.astype(bool)
        elif isinstance(v, float) or (arr.dtype.kind == "f"):
            arr = arr.astype(np.float64)
        else:
            arr = arr.astype(np.int64)
        columns[k] = arr
    table = np.ones((ZONES + 1, rows), dtype=bool) if zones is None else np.asarray(zones)
    extra = {} if stage_modes is None else {"stage_modes": stage_modes}
    return elig.Products(zones=table, **columns, **extra)


def passes(n: elig.Needs, p: elig.Products, rule: str) -> bool:
    """Whether the one need passes `rule` of the one product (both definitions agree)."""
    index = elig.RULE_INDEX[rule]
    plain = bool(elig.rule_matrices(n, p)[index][0, 0])
    fast = elig.unpack(elig.packed_rules(elig.compile_products(p), n)[index], len(p))
    assert bool(fast[0, 0]) == plain, rule
    return plain


@st.composite
def catalogues(draw: st.DrawFn) -> tuple[elig.Needs, elig.Products]:
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 30))
    p = draw(st.integers(1, 70))
    rng = np.random.default_rng(seed)

    def maybe(values: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(values.size) < share, values, np.nan)

    need = elig.Needs.of(
        amount=rng.choice([1e5, 5e5, 1e6, 5e6], n),
        term=rng.choice([6, 12, 24, 36], n),
        max_rate=maybe(rng.choice([3.0, 4.0, 5.0], n), 0.7),
        collateral=rng.integers(0, 64, n),
        equity=rng.random(n) < 0.5,
        day=rng.integers(90, 210, n),
        points=maybe(rng.choice([50.0, 60.0, 70.0], n), 0.8),
        field=rng.integers(-1, 8, n),
        stage=rng.integers(-1, 3, n),
        zone=rng.integers(-1, 3, n),
        certs=rng.integers(0, 8, n),
        revenue=maybe(rng.choice([1e6, 5e6, 2e7], n), 0.8),
        age=maybe(rng.choice([1.0, 3.0, 10.0], n), 0.9),
    )
    zones = rng.random((4, p)) < 0.6
    zones[:, rng.random(p) < 0.5] = True
    prod = elig.Products(
        institution=rng.integers(0, 5, p),
        direct=rng.random(p) < 0.3,
        equity=rng.random(p) < 0.2,
        min_points=maybe(rng.choice([50.0, 60.0, 70.0], p), 0.4),
        field_mask=np.where(rng.random(p) < 0.4, rng.integers(0, 256, p), 0),
        stage_mask=np.where(rng.random(p) < 0.4, rng.integers(0, 8, p), 0),
        zones=zones,
        cert_mask=np.where(rng.random(p) < 0.4, rng.integers(0, 8, p), 0),
        amount_min=maybe(rng.choice([1e5, 5e5, 1e6], p), 0.5),
        amount_max=maybe(rng.choice([1e6, 5e6], p), 0.5),
        term_min=np.where(rng.random(p) < 0.5, rng.choice([6, 12], p), -1),
        term_max=np.where(rng.random(p) < 0.5, rng.choice([12, 24, 36], p), -1),
        collateral=rng.integers(0, 6, p),
        revenue_min=maybe(rng.choice([1e6, 5e6], p), 0.3),
        revenue_max=maybe(rng.choice([5e6, 1e8], p), 0.3),
        age_min=maybe(rng.choice([1.0, 3.0], p), 0.3),
        age_max=maybe(rng.choice([3.0, 10.0], p), 0.3),
        rate_min=maybe(rng.choice([3.0, 4.0, 5.0], p), 0.5),
        active_from=np.where(rng.random(p) < 0.5, rng.integers(80, 150, p), -(10**7)),
        active_until=np.where(rng.random(p) < 0.5, rng.integers(150, 220, p), 10**7),
        stage_modes=rng.random((4, 2)) < 0.7,
    )
    return need, prod
