"""Ranks, percentiles, medians and quantiles within groups, against counting by brute force.

The engine sorts packed 64-bit keys and finds ties sparsely; these tests draw values with many
ties, values that agree in their leading bits but differ further down (the packed key cannot tell
them apart), missing values and empty groups, and compare every result with a direct count per
row.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.scoring.groups_engine import (
    group_median,
    group_order,
    group_percentile,
    group_quantile,
    sorted_order,
)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# values that tie often, values 1e-9 apart (same leading bits), and missing ones
VALUE = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, math.inf, -math.inf, math.nan]),
    st.integers(0, 4).map(lambda k: 1e6 + k * 1e-9),
    st.floats(-1e3, 1e3, allow_nan=False),
)


@st.composite
def grouped(draw: st.DrawFn) -> tuple[F64, I64, int]:
    n_groups = draw(st.integers(1, 6))
    n = draw(st.integers(1, 60))
    values = np.array(draw(st.lists(VALUE, min_size=n, max_size=n)), dtype=np.float64)
    codes = np.array(draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n)))
    return values, codes.astype(np.int64), n_groups


def brute(values: F64, codes: I64) -> tuple[I64, I64, I64]:
    """Per row: valid rows of its group strictly below, equal (itself included), and all."""
    n = values.shape[0]
    below, equal, count = (np.zeros(n, dtype=np.int64) for _ in range(3))
    for i in range(n):
        peers = values[(codes == codes[i]) & ~np.isnan(values)]
        count[i] = peers.size
        below[i] = int((peers < values[i]).sum())
        equal[i] = int((peers == values[i]).sum())
    return below, equal, count


@settings(max_examples=300, deadline=None)
@given(grouped())
def test_percentile_and_rank_equal_a_direct_count(case: tuple[F64, I64, int]) -> None:
    values, codes, n_groups = case
    below, equal, count = brute(values, codes)
    valid = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(valid, (below + (equal + 1) / 2) / count, np.nan)
    got = group_percentile(values, codes, n_groups)
    assert np.allclose(got, expected, rtol=0, atol=1e-12, equal_nan=True)
    order = group_order(values, codes, n_groups)
    assert np.allclose(order.percentile(), expected, rtol=0, atol=1e-12, equal_nan=True)
    rank = np.where(valid, count - below - equal + 1, 0)
    assert np.array_equal(order.rank_descending(), rank)


@settings(max_examples=300, deadline=None)
@given(grouped())
def test_sorted_order_is_by_group_then_value_missing_last(case: tuple[F64, I64, int]) -> None:
    values, codes, n_groups = case
    idx = sorted_order(values, codes, n_groups)
    assert sorted(idx.tolist()) == list(range(values.shape[0]))
    for a, b in itertools.pairwise(idx):
        assert codes[a] <= codes[b]
        if codes[a] == codes[b]:
            va, vb = values[a], values[b]
            # NaN last; otherwise ascending (-0.0 and 0.0 are equal)
            assert not math.isnan(va) or math.isnan(vb)
            assert math.isnan(vb) or va <= vb


@settings(max_examples=200, deadline=None)
@given(grouped(), st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]))
def test_median_and_quantile_equal_numpy_per_group(case: tuple[F64, I64, int], q: float) -> None:
    values, codes, n_groups = case
    med = group_median(values, codes, n_groups)
    qs = group_quantile(values, codes, n_groups, q)
    for g in range(n_groups):
        peers = values[(codes == g) & ~np.isnan(values)]
        if peers.size == 0:
            assert math.isnan(med[g]) and math.isnan(qs[g])
            continue
        if np.isfinite(peers).all():
            assert np.allclose(med[g], np.median(peers))
            assert np.allclose(qs[g], np.quantile(peers, q))
        else:  # infinities: no warning, and the quantile lies between the group's extremes
            assert math.isnan(qs[g]) or peers.min() <= qs[g] <= peers.max()
            assert math.isnan(med[g]) or peers.min() <= med[g] <= peers.max()


def test_a_million_rows_with_near_ties_match_a_lexsort() -> None:
    """At scale the packed key holds 39 leading bits of each value; values that differ only
    further down must still come out in exact order, and exact ties share their percentile."""
    rng = np.random.default_rng(7)
    n, n_groups = 1_000_000, 24
    values: F64 = 1e8 + rng.integers(0, 50_000, n).astype(np.float64) * 1e-6  # same leading bits
    values[rng.random(n) < 0.02] = np.nan
    codes = rng.integers(0, n_groups, n)
    idx = sorted_order(values, codes, n_groups)
    key = np.where(np.isnan(values), np.inf, values)
    expected = np.lexsort((np.isnan(values), key, codes))
    assert np.array_equal(codes[idx], codes[expected])
    assert np.array_equal(values[idx], values[expected], equal_nan=True)
    p = group_percentile(values, codes, n_groups)
    # rows with the same value in the same group share one percentile
    sv, sg, sp = values[idx], codes[idx], p[idx]
    same = (sv[1:] == sv[:-1]) & (sg[1:] == sg[:-1])
    assert same.sum() > 1000
    assert np.array_equal(sp[1:][same], sp[:-1][same])
    assert np.all(np.diff(sp[~np.isnan(sp)][:1000]) >= 0)
