"""The key-list selection problem (`select_engine` solves it, `explain_engine` explains it):
the quotas, the checks of the input, the quota groups as integer labels, and the HiGHS set-up the
solve and the explanations share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from innofin.kernel.errors import InvalidInput
from innofin.kernel.highs import HIGHS_INT, solver_name

__all__ = ["Quota", "Selection", "SelectionProblem", "solver_name"]


IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Quota:
    """At least `min` and at most `max` of the chosen in group `key` of `kind` (e.g. a zone)."""

    kind: str
    key: str
    min: int = 0
    max: int | None = None

    @property
    def name(self) -> str:
        """Human text, e.g. "zone Z001 (min 3, max 20)"."""
        limits = []
        if self.min > 0:
            limits.append(f"min {self.min}")
        if self.max is not None:
            limits.append(f"max {self.max}")
        return f"{self.kind} {self.key} ({', '.join(limits) or 'no limits'})"


@dataclass(frozen=True)
class SelectionProblem:
    """`count` enterprises out of the eligible ones, maximising points, under `quotas`."""

    points: npt.NDArray[np.float64]
    eligible: npt.NDArray[np.bool_]
    groups: Mapping[str, npt.NDArray[np.str_] | npt.NDArray[np.object_]]
    count: int
    quotas: Sequence[Quota] = ()
    time_limit: float = 60.0
    mip_gap: float = 0.0


@dataclass(frozen=True)
class Selection:
    """The chosen enterprises and how sure the solver is that no better choice exists."""

    chosen: npt.NDArray[np.bool_]
    objective: float
    bound: float
    gap: float
    status: str
    solver: str
    seconds: float
    binding: tuple[str, ...]
    cutoff: float


# --------------------------------------------------------------------------------------------
# Validation and group labels


def fmt(value: float) -> str:
    """Points as people write them: 612.3, 640, 1234567.8."""
    return format(float(value), ".10g")


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(f"{name} must be an integer, not {value!r}", field=name)
    return int(value)


def validate(problem: SelectionProblem) -> tuple[FloatArray, BoolArray, int]:
    """Checks shapes, types and quota limits; returns points, eligibility and n."""
    points = np.asarray(problem.points)
    if points.ndim != 1:
        raise InvalidInput(
            f"points must be one-dimensional, got shape {points.shape}", field="points"
        )
    if points.dtype.kind not in "fiu":
        raise InvalidInput(f"points must be numbers, got dtype {points.dtype}", field="points")
    points = points.astype(np.float64, copy=False)
    n = points.shape[0]
    bad = np.flatnonzero(~np.isfinite(points))
    if bad.size:
        raise InvalidInput(
            f"points must be finite numbers: {fmt(points[bad[0]])} at index {bad[0]}"
            + (f" and {bad.size - 1} more" if bad.size > 1 else ""),
            field="points",
        )
    eligible = np.asarray(problem.eligible)
    if eligible.dtype != np.bool_:
        raise InvalidInput(
            f"eligible must be booleans, got dtype {eligible.dtype}", field="eligible"
        )
    if eligible.shape != (n,):
        raise InvalidInput(
            f"eligible has shape {eligible.shape} but points has {n} entries: lengths differ",
            field="eligible",
        )
    for kind, codes in problem.groups.items():
        arr = np.asarray(codes)
        if arr.shape != (n,):
            raise InvalidInput(
                f"groups[{kind!r}] has shape {arr.shape} but points has {n} entries: "
                "lengths differ",
                field="groups",
            )
        if arr.dtype.kind not in "UO":
            raise InvalidInput(
                f"groups[{kind!r}] must hold string codes, got dtype {arr.dtype}", field="groups"
            )
    count = _check_int(problem.count, "count")
    if count < 1:
        raise InvalidInput(f"count must be at least 1, got {count}", field="count")
    if not (isinstance(problem.time_limit, int | float) and problem.time_limit > 0):
        raise InvalidInput(
            f"time_limit must be a positive number of seconds, got {problem.time_limit!r}",
            field="time_limit",
        )
    gap = problem.mip_gap
    if not (isinstance(gap, int | float) and 0 <= gap < 1):
        raise InvalidInput(f"mip_gap must be in [0, 1), got {gap!r}", field="mip_gap")
    seen: set[tuple[str, str]] = set()
    for i, q in enumerate(problem.quotas):
        where = f"quotas[{i}]"
        if not isinstance(q, Quota):
            raise InvalidInput(f"{where} must be a Quota, not {type(q).__name__}", field="quotas")
        if q.kind not in problem.groups:
            known = ", ".join(sorted(problem.groups)) or "none"
            raise InvalidInput(
                f"{where}: quota kind {q.kind!r} is not in groups (known kinds: {known})",
                field="quotas",
            )
        if not isinstance(q.key, str):
            raise InvalidInput(f"{where}: key must be a string, not {q.key!r}", field="quotas")
        low = _check_int(q.min, f"{where}.min")
        if low < 0:
            raise InvalidInput(f"{where} ({q.kind} {q.key}): min {low} is negative", field="quotas")
        if q.max is not None:
            high = _check_int(q.max, f"{where}.max")
            if high < 0:
                raise InvalidInput(
                    f"{where} ({q.kind} {q.key}): max {high} is negative", field="quotas"
                )
            if low > high:
                raise InvalidInput(
                    f"{where} ({q.kind} {q.key}): min {low} > max {high}", field="quotas"
                )
        if (q.kind, q.key) in seen:
            raise InvalidInput(
                f"{where}: a second quota for {q.kind} {q.key}; give one quota per group",
                field="quotas",
            )
        seen.add((q.kind, q.key))
    return points, eligible, n


@dataclass(frozen=True)
class Labels:
    """Quota membership as integers: for each kind with quotas, the position of an enterprise's
    group among that kind's quotas, or -1 when no quota names its group."""

    kinds: tuple[str, ...]  # kinds that have quotas, sorted
    by_kind: dict[str, IntArray]  # kind -> (n,) label
    position: IntArray  # (quotas,) position of each quota among the quotas of its kind
    present: BoolArray  # (quotas,) some enterprise in the data has the quota's key


def quota_labels(problem: SelectionProblem) -> Labels:
    quotas = problem.quotas
    position = np.zeros(len(quotas), dtype=np.intp)
    present = np.zeros(len(quotas), dtype=np.bool_)
    kinds = tuple(sorted({q.kind for q in quotas}))
    by_kind: dict[str, IntArray] = {}
    for kind in kinds:
        members = [i for i, q in enumerate(quotas) if q.kind == kind]
        keys = np.array([quotas[i].key for i in members], dtype=np.str_)
        position[members] = np.arange(len(members))
        codes = np.asarray(problem.groups[kind])
        if codes.dtype.kind == "O":
            codes = codes.astype(np.str_)
        # Binary search of each code among the few quota keys: O(n log k), no sort of n strings.
        common = np.promote_types(keys.dtype, codes.dtype)
        order = np.argsort(keys)
        sorted_keys = keys[order].astype(common)
        at = np.minimum(np.searchsorted(sorted_keys, codes), len(keys) - 1)
        hit = sorted_keys[at] == codes
        by_kind[kind] = np.where(hit, order[at], -1).astype(np.intp)
        found = np.bincount(order[at[hit]], minlength=len(keys)) > 0
        present[np.asarray(members)] = found
    return Labels(kinds, by_kind, position, present)


def in_group_of(labels: Labels, quota: Quota, index: int, rows: IntArray) -> BoolArray:
    """Which of `rows` (enterprise indices) fall in the quota's group."""
    member: BoolArray = labels.by_kind[quota.kind][rows] == labels.position[index]
    return member


def group_counts(labels: Labels, quotas: Sequence[Quota], rows: IntArray) -> IntArray:
    """How many of `rows` fall in each quota's group."""
    counts = np.zeros(len(quotas), dtype=np.intp)
    for kind in labels.kinds:
        lab = labels.by_kind[kind][rows]
        lab = lab[lab >= 0]
        idx = np.flatnonzero([q.kind == kind for q in quotas])
        counts[idx] = np.bincount(lab, minlength=idx.size)[labels.position[idx]]
    return counts


def listed(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")


# --------------------------------------------------------------------------------------------
# HiGHS


def csr(
    row_of: IntArray, col_of: IntArray, value: FloatArray, num_rows: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], FloatArray]:
    """Triplets to row-wise compressed arrays (start, index, value)."""
    order = np.lexsort((col_of, row_of))
    start = np.searchsorted(row_of[order], np.arange(num_rows)).astype(HIGHS_INT)
    return start, col_of[order].astype(HIGHS_INT), value[order]
