"""Ranks, percentiles and medians within groups, for a million rows at a time.

One sort does it: each row becomes a 64-bit key (group code, the value's leading bits, row
index) and NumPy sorts the keys (plain integer sorts are several times faster than argsorts), so
each group is a contiguous run in value order. Neighbours whose keys share the leading bits are
the only ones that can tie; they are checked against the exact values, which also puts the rare
values that differ further down in exact order. A row's rank is then its offset within its group,
with the few tied runs corrected sparsely. Missing values (NaN) sort last in their group and are
left out of every count. No Python loop per row or per group.
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
    u = (values + 0.0).view(np.uint64)  # a copy; + 0.0 turns -0.0 into 0.0
    # negative floats: flip every bit; others: set the sign bit
    flip = u >> np.uint64(63)
    flip *= np.uint64(0x7FFF_FFFF_FFFF_FFFF)
    flip |= np.uint64(1 << 63)
    u ^= flip
    nan = np.isnan(values)
    if nan.any():
        u[nan] = np.iinfo(np.uint64).max
    return u


def _packed_sort(
    values: F64, codes: npt.NDArray[np.integer], n_groups: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64] | None]:
    """Row indices ordered by group code, then value (NaN last in each group), and for each
    sorted position the key head (group code and the value's leading bits) it was sorted by,
    or None where the rows were too many to pack and an argsort was used."""
    n = values.shape[0]
    idx_bits = max(1, int(n - 1).bit_length())
    group_bits = 0 if n_groups <= 1 else int(n_groups - 1).bit_length()
    value_bits = 64 - idx_bits - group_bits
    if value_bits < 24:  # too many rows or groups to pack: argsort instead
        by_value = np.argsort(_orderable(values))
        by_group = np.argsort(_prefer_small(codes)[by_value], kind="stable")
        return by_value[by_group], None
    packed = _orderable(values)
    packed >>= np.uint64(64 - value_bits)
    packed <<= np.uint64(idx_bits)
    if group_bits:
        packed |= codes.astype(np.uint64) << np.uint64(64 - group_bits)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    idx = (packed & np.uint64((1 << idx_bits) - 1)).astype(np.intp)
    packed >>= np.uint64(idx_bits)
    return idx, packed


def _same(a: F64, b: F64) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = (a == b) | (np.isnan(a) & np.isnan(b))
    return out


def _sorted_with_ties(
    values: F64, codes: npt.NDArray[np.integer], n_groups: int
) -> tuple[npt.NDArray[np.intp], I64]:
    """The exact sorted order, and the sorted positions p whose row ties with the row at p + 1
    (same group, same value; missing values tie with each other)."""
    n = values.shape[0]
    idx, head = _packed_sort(values, codes, n_groups)
    if head is None:  # compare every neighbour
        vs = values[idx]
        same = _same(vs[1:], vs[:-1])
        if n_groups > 1:
            gs = codes[idx]
            same &= gs[1:] == gs[:-1]
        return idx, np.flatnonzero(same)
    # only neighbours with the same head (group and leading bits) can tie
    maybe = np.flatnonzero(head[1:] == head[:-1])
    ties = _same(values[idx[maybe]], values[idx[maybe + 1]])
    if not ties.all():
        # blocks of equal heads holding different values (rare: they agree to about eight
        # significant digits): order each block exactly, then look again
        starts = np.flatnonzero(np.concatenate(([True], head[1:] != head[:-1])))
        ends = np.concatenate((starts[1:], [n]))
        for block in np.unique(np.searchsorted(starts, maybe[~ties], side="right") - 1):
            a, b = int(starts[block]), int(ends[block])
            idx[a:b] = idx[a:b][np.argsort(_orderable(values[idx[a:b]]), kind="stable")]
        ties = _same(values[idx[maybe]], values[idx[maybe + 1]])
    return idx, maybe[ties]


def sorted_order(
    values: F64, codes: npt.NDArray[np.integer], n_groups: int = 2
) -> npt.NDArray[np.intp]:
    """Row indices ordered by group code, then value (NaN last in each group).

    One vectorised sort of packed 64-bit keys (group code, the value's leading bits, row index)
    instead of an argsort: NumPy sorts plain integers several times faster than it argsorts. Rows
    whose values share the leading bits but differ further down are put in exact order
    afterwards, so the order is exact.
    """
    return _sorted_with_ties(values, codes, n_groups)[0]


@dataclass(frozen=True)
class _Ranked:
    """One group-and-value sort: the rows in sorted order, where each group's rows start, and
    the sorted positions inside a run of ties with their run's first and last position."""

    idx: npt.NDArray[np.intp]
    total: I64  # rows per group, missing included
    start: I64  # sorted position of each group's first row
    tied: I64
    tied_first: I64
    tied_last: I64

    def within(self) -> I64:
        """Each sorted position's offset within its group (the rows of the group before it)."""
        out = np.arange(self.idx.shape[0], dtype=np.int64)
        if self.total.shape[0] > 1:
            out -= np.repeat(self.start, self.total)
        return out

    def tied_below(self) -> I64:
        """For each tied position, the rows of its group strictly below its run."""
        group = np.searchsorted(self.start + self.total, self.tied, side="right")
        below: I64 = self.tied_first - self.start[group]
        return below


def _ranked(values: F64, codes: npt.NDArray[np.integer], n_groups: int) -> _Ranked:
    idx, ties = _sorted_with_ties(values, codes, n_groups)
    total = np.bincount(codes, minlength=n_groups).astype(np.int64)
    start = np.cumsum(total) - total
    # positions p with p ~ p + 1: consecutive ones chain into one run [first, last]
    if ties.size:
        new = np.concatenate(([True], ties[1:] != ties[:-1] + 1))
        first = ties[new]
        last = ties[np.concatenate((np.flatnonzero(new)[1:] - 1, [ties.size - 1]))] + 1
        length = last - first + 1
        run = np.repeat(np.arange(first.size), length)
        offset = np.arange(run.size) - np.repeat(np.cumsum(length) - length, length)
        tied = first[run] + offset
        tied_first, tied_last = first[run], last[run]
    else:
        tied = tied_first = tied_last = np.zeros(0, dtype=np.int64)
    return _Ranked(idx, total, start, tied, tied_first, tied_last)


def _valid_counts(
    values: F64, codes: npt.NDArray[np.integer], n_groups: int, total: I64
) -> tuple[npt.NDArray[np.bool_], I64]:
    """Where values are present, and the number present per group (missing ones are few:
    counting them is cheaper than counting the rest)."""
    missing = np.isnan(values)
    count = total - np.bincount(codes[missing], minlength=n_groups)
    return ~missing, count


def group_order(values: F64, codes: npt.NDArray[np.integer], n_groups: int) -> GroupOrder:
    n = values.shape[0]
    below = np.empty(n, dtype=np.int64)
    equal = np.empty(n, dtype=np.int64)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return GroupOrder(below, equal, empty, np.zeros(0, dtype=bool))
    r = _ranked(values, codes, n_groups)
    valid, count = _valid_counts(values, codes, n_groups, r.total)
    below_s = r.within()
    below_s[r.tied] = r.tied_below()
    equal_s = np.ones(n, dtype=np.int64)
    equal_s[r.tied] = r.tied_last - r.tied_first + 1
    below[r.idx] = below_s
    equal[r.idx] = equal_s
    return GroupOrder(below, equal, count[codes], valid)


def group_percentile(values: F64, codes: npt.NDArray[np.integer], n_groups: int) -> F64:
    """`GroupOrder.percentile` computed in sorted order with one scatter (the hot path of
    percentile normalisation). Without ties a row's score is (rows of its group before it + 1)
    / count; only the tied positions, found sparsely, need more."""
    n = values.shape[0]
    out = np.empty(n)
    if n == 0:
        return out
    r = _ranked(values, codes, n_groups)
    valid, count = _valid_counts(values, codes, n_groups, r.total)
    p = np.arange(1, n + 1, dtype=np.float64)
    if n_groups > 1:
        p -= np.repeat(r.start.astype(np.float64), r.total)
    # below + (equal + 1) / 2 for a run of ties: doubled, in integers, then halved
    doubled = 2 * r.tied_below() + (r.tied_last - r.tied_first) + 2
    p[r.tied] = doubled * 0.5
    with np.errstate(invalid="ignore", divide="ignore"):  # groups with no value: NaN below
        p /= np.repeat(count.astype(np.float64), r.total) if n_groups > 1 else float(count[0])
    out[r.idx] = p
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
    with np.errstate(invalid="ignore"):  # -inf and +inf in the middle: NaN
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
    with np.errstate(invalid="ignore"):  # between -inf and +inf: NaN; equal infinities: a
        out[has] = np.where(a == b, a, a + (b - a) * frac[has])
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
