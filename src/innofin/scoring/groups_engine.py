"""Ranks, percentiles and medians within groups, for a million rows at a time.

One sort does it: rows are ordered by value (NumPy's SIMD argsort), then stably by group code
(a radix sort on small integers), so each group is a contiguous run in value order. Ties (equal
values in one group) are found from that order and share their rank. Missing values (NaN) sort
last in their group and are left out of every count. No Python loop per row or per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class GroupOrder:
    """Counts of each row's position among the non-missing rows of its group."""

    below: I64  # rows of the group with a strictly smaller value
    equal: I64  # rows of the group with the same value (itself included)
    count: I64  # non-missing rows in the group
    valid: npt.NDArray[np.bool_]

    def percentile(self) -> F64:
        """Share of the group at or below the value, ties at their mid-rank: (below + (equal +
        1) / 2) / count, so the best gets 1 and a lone member 1; NaN where missing."""
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (self.below + (self.equal + 1) * 0.5) / self.count
        return np.where(self.valid, p, np.nan)

    def rank_descending(self) -> I64:
        """1 + the number of rows with a strictly *larger* value (competition ranking)."""
        return np.where(self.valid, self.count - self.below - self.equal + 1, 0)


def _prefer_small(codes: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    # NumPy's stable sort is a radix sort for 16-bit integers or narrower
    if codes.size and codes.max(initial=0) < 2**15 and codes.min(initial=0) >= 0:
        return codes.astype(np.int16, copy=False)
    return codes


def _orderable(values: F64) -> npt.NDArray[np.uint64]:
    """Unsigned integers that sort like the floats (NaN after +inf, -0.0 equal to 0.0)."""
    v = np.where(np.isnan(values), np.inf, values) + 0.0  # + 0.0 turns -0.0 into 0.0
    u = v.view(np.uint64)
    sign = np.uint64(1 << 63)
    out: npt.NDArray[np.uint64] = np.where(u & sign, ~u, u | sign)
    nan = np.isnan(values)
    if nan.any():
        out[nan] = np.iinfo(np.uint64).max
    return out


def sorted_order(
    values: F64, codes: npt.NDArray[np.integer], n_groups: int = 2
) -> npt.NDArray[np.intp]:
    """Row indices ordered by group code, then value (NaN last in each group).

    One vectorised sort of packed 64-bit keys (group code, the value's leading bits, row index)
    instead of an argsort: NumPy sorts plain integers several times faster than it argsorts. Rows
    whose values share the leading bits but differ further down (rare: they agree to about eight
    significant digits) are put in exact order afterwards, so the order is exact.
    """
    n = values.shape[0]
    idx_bits = max(1, int(n - 1).bit_length())
    group_bits = 0 if n_groups <= 1 else int(n_groups - 1).bit_length()
    value_bits = 64 - idx_bits - group_bits
    if value_bits < 24:  # too many rows or groups to pack: argsort instead
        by_value = np.argsort(_orderable(values))
        by_group = np.argsort(_prefer_small(codes)[by_value], kind="stable")
        return by_value[by_group]
    key = _orderable(values) >> np.uint64(64 - value_bits)
    packed = key << np.uint64(idx_bits)
    if group_bits:
        packed |= codes.astype(np.uint64) << np.uint64(64 - group_bits)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    idx = (packed & np.uint64((1 << idx_bits) - 1)).astype(np.intp)
    head = packed >> np.uint64(idx_bits)
    vs = values[idx]
    same_head = head[1:] == head[:-1]
    differ = vs[1:] != vs[:-1]
    near = same_head & differ & ~(np.isnan(vs[1:]) & np.isnan(vs[:-1]))
    if near.any():
        # blocks of equal heads holding different values: order each block exactly
        starts = np.flatnonzero(np.concatenate(([True], ~same_head)))
        ends = np.concatenate((starts[1:], [n]))
        for at in np.flatnonzero(near):
            block = int(np.searchsorted(starts, at, side="right") - 1)
            a, b = int(starts[block]), int(ends[block])
            idx[a:b] = idx[a:b][np.argsort(_orderable(values[idx[a:b]]), kind="stable")]
    return idx


def _runs(
    values: F64, codes: npt.NDArray[np.integer], n_groups: int
) -> tuple[npt.NDArray[np.intp], I64, I64, I64]:
    """In sorted order: the row indices, and for each position the start of its group, the
    start and the end (inclusive) of its run of equal values."""
    n = values.shape[0]
    idx = sorted_order(values, codes, n_groups)
    vs = values[idx]
    pos = np.arange(n, dtype=np.int64)
    # a new group, and a new run of equal values, start where the sorted neighbours differ
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(vs[1:], vs[:-1], out=new_run[1:])
    if n_groups > 1:
        gs = codes[idx]
        new_group = np.empty(n, dtype=bool)
        new_group[0] = True
        np.not_equal(gs[1:], gs[:-1], out=new_group[1:])
        new_run |= new_group
        group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    else:
        group_start = np.zeros(n, dtype=np.int64)
    run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
    last = np.empty(n, dtype=bool)
    last[-1] = True
    last[:-1] = new_run[1:]
    run_end = np.minimum.accumulate(np.where(last, pos, n)[::-1])[::-1]
    return idx, group_start, run_start, run_end


def group_order(values: F64, codes: npt.NDArray[np.integer], n_groups: int) -> GroupOrder:
    n = values.shape[0]
    valid = ~np.isnan(values)
    count = np.bincount(codes[valid], minlength=n_groups).astype(np.int64)
    below = np.empty(n, dtype=np.int64)
    equal = np.empty(n, dtype=np.int64)
    if n == 0:
        return GroupOrder(below, equal, count[codes], valid)
    idx, group_start, run_start, run_end = _runs(values, codes, n_groups)
    below[idx] = run_start - group_start
    equal[idx] = run_end - run_start + 1
    return GroupOrder(below, equal, count[codes], valid)


def group_percentile(values: F64, codes: npt.NDArray[np.integer], n_groups: int) -> F64:
    """`GroupOrder.percentile` computed in sorted order with one scatter (the hot path of
    percentile normalisation)."""
    n = values.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    valid = ~np.isnan(values)
    count = np.bincount(codes[valid], minlength=n_groups).astype(np.float64)
    idx, group_start, run_start, run_end = _runs(values, codes, n_groups)
    p = run_end - run_start
    p += 2 * (run_start - group_start) + 2  # below + (equal + 1) / 2, doubled
    p_f = p.astype(np.float64)
    p_f *= 0.5
    with np.errstate(invalid="ignore", divide="ignore"):  # groups with no value: NaN below
        p_f /= count[codes[idx]] if n_groups > 1 else count[0]
    out[idx] = p_f
    out[~valid] = np.nan
    return out


def group_median(values: F64, codes: npt.NDArray[np.integer], n_groups: int) -> F64:
    """The median of the non-missing values of each group (NaN for a group with none)."""
    valid = ~np.isnan(values)
    count = np.bincount(codes[valid], minlength=n_groups)
    total = np.bincount(codes, minlength=n_groups)
    idx = sorted_order(values, codes, n_groups)
    starts = np.concatenate(([0], np.cumsum(total)[:-1]))
    has = count > 0
    lo = starts + np.maximum(count - 1, 0) // 2
    hi = starts + count // 2
    sv = values[idx]
    med = np.full(n_groups, np.nan)
    med[has] = (sv[lo[has]] + sv[hi[has]]) * 0.5
    return med


def group_quantile(values: F64, codes: npt.NDArray[np.integer], n_groups: int, q: float) -> F64:
    """The q-quantile (0–1, linear interpolation as NumPy's default) of each group's values."""
    valid = ~np.isnan(values)
    count = np.bincount(codes[valid], minlength=n_groups)
    total = np.bincount(codes, minlength=n_groups)
    idx = sorted_order(values, codes, n_groups)
    starts = np.concatenate(([0], np.cumsum(total)[:-1]))
    has = count > 0
    pos = (count - 1).clip(min=0) * q
    lo = np.floor(pos).astype(np.int64)
    frac = pos - lo
    hi = np.minimum(lo + 1, (count - 1).clip(min=0))
    sv = values[idx]
    out = np.full(n_groups, np.nan)
    a, b = sv[(starts + lo)[has]], sv[(starts + hi)[has]]
    out[has] = a + (b - a) * frac[has]
    return out


def group_mean_sd(values: F64, codes: npt.NDArray[np.integer], n_groups: int) -> tuple[F64, F64]:
    """Mean and population standard deviation per group, summed in sorted order so that the
    result does not depend on the order of the rows."""
    idx = sorted_order(values, codes, n_groups)
    sv, sg = values[idx], codes[idx]
    ok = ~np.isnan(sv)
    sv, sg = sv[ok], sg[ok]
    count = np.bincount(sg, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(sg, weights=sv, minlength=n_groups) / count
        dev = sv - mean[sg]
        var = np.bincount(sg, weights=dev * dev, minlength=n_groups) / count
    return mean, np.sqrt(var)


def combine_codes(*parts: tuple[npt.NDArray[np.integer], int]) -> tuple[I64, int]:
    """One code per combination of several (codes, number of codes) columns, and their count."""
    out = np.zeros(parts[0][0].shape[0] if parts else 0, dtype=np.int64)
    size = 1
    for codes, n in parts:
        out = out * n + codes
        size *= n
    return out, size
