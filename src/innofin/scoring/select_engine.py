"""Choose each year's key enterprises: the most innovation points under quotas, solved exactly.

The model, for the eligible enterprises only:

    maximise  Σ points_i · x_i
    subject   Σ x_i = count
              min_q ≤ Σ_{i in group q} x_i ≤ max_q      for every quota q
              x_i ∈ {0, 1}

It is handed to HiGHS in one piece (CSR arrays through `passModel`), never a variable at a time.

Cell reduction (why 500,000 enterprises become a model of a few thousand variables):
enterprises that share the same combination of group codes that quotas refer to — a *cell*, e.g.
"zone Z001 × field bio_medicine" — appear in exactly the same constraints, so they are
interchangeable except for their points. Any feasible selection takes at most
`cap = min(count, tightest effective max among the quotas touching the cell)` from a cell, and
swapping a chosen enterprise for a better-scoring one of the same cell keeps every constraint, so
some optimal selection uses only each cell's top `cap` by (points desc, index asc). Everything
below that rank is dropped before the model is built. The effective max of a quota is its max,
lowered by the minima of the other groups of the same kind (groups of one kind are disjoint, so
`count − Σ other minima` is also a bound). Zones nest in provinces and fields form a second
partition: two laminar families, whose constraint matrix (with the count row, the common root)
is totally unimodular, so the LP relaxation is integral.

Pricing (`_priced`): even after the reduction a cell may keep hundreds of columns (a zone without
a max keeps up to the field or province cap), and HiGHS then spends most of its time in presolve
— on the plain 350,000-column model its presolve ran for minutes, past `time_limit`. So the LP
relaxation is first solved on a few top columns per cell and the left-out columns are priced
with its duals (one comparison per cell, as a cell's columns share their constraints), adding
those with a positive reduced cost until none is left. The restricted LP value is then the LP
bound of the whole problem; when the LP solution is integral (the totally unimodular case) it is
optimal as it stands, otherwise a MIP on the restricted columns that reaches that bound (within
`mip_gap`) is. If neither proves optimality, the whole cell-reduced MIP is solved.

Determinism: ties in points are broken by the lower index. After solving, the chosen set of each
cell is replaced by the same number `k` of that cell's top enterprises by (points desc, index
asc); the constraints only see `k`, and the objective can only stay equal. HiGHS runs with a
fixed random seed, so the same problem gives the same selection.

Infeasible problems raise `Infeasible` naming the conflict in plain words: cheap arithmetic
checks first (too few eligible, a group with fewer eligible than its min, minima of one kind
summing above `count`, maxima of one kind allowing fewer than `count`); if HiGHS still finds the
model infeasible, an elastic model on cell counts (a slack per constraint, minimise total slack)
names every constraint that has to give, with the limit that would make it fit; the relaxed
constraints are then made rigid and the elastic model solved again, so the other side of the
conflict is named too, each round giving one alternative fix.

`time_limit` is passed to HiGHS, which honours it in branch and bound but not always inside
presolve; the reductions above keep presolve to a fraction of a second.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from innofin.kernel.errors import Infeasible, InnofinError, InvalidInput

__all__ = ["Quota", "Selection", "SelectionProblem", "leave_out_reasons", "select"]

RANDOM_SEED = 20240601
_INT = np.int32  # HiGHS index type

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


def _fmt(value: float) -> str:
    """Points as people write them: 612.3, 640, 1234567.8."""
    return format(float(value), ".10g")


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(f"{name} must be an integer, not {value!r}", field=name)
    return int(value)


def _validate(problem: SelectionProblem) -> tuple[FloatArray, BoolArray, int]:
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
            f"points must be finite numbers: {_fmt(points[bad[0]])} at index {bad[0]}"
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
class _Labels:
    """Quota membership as integers: for each kind with quotas, the position of an enterprise's
    group among that kind's quotas, or -1 when no quota names its group."""

    kinds: tuple[str, ...]  # kinds that have quotas, sorted
    by_kind: dict[str, IntArray]  # kind -> (n,) label
    position: IntArray  # (quotas,) position of each quota among the quotas of its kind
    present: BoolArray  # (quotas,) some enterprise in the data has the quota's key


def _labels(problem: SelectionProblem) -> _Labels:
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
    return _Labels(kinds, by_kind, position, present)


def _members(labels: _Labels, quota: Quota, index: int, rows: IntArray) -> BoolArray:
    """Which of `rows` (enterprise indices) fall in the quota's group."""
    member: BoolArray = labels.by_kind[quota.kind][rows] == labels.position[index]
    return member


def _group_counts(labels: _Labels, quotas: Sequence[Quota], rows: IntArray) -> IntArray:
    """How many of `rows` fall in each quota's group."""
    counts = np.zeros(len(quotas), dtype=np.intp)
    for kind in labels.kinds:
        lab = labels.by_kind[kind][rows]
        lab = lab[lab >= 0]
        idx = np.flatnonzero([q.kind == kind for q in quotas])
        counts[idx] = np.bincount(lab, minlength=idx.size)[labels.position[idx]]
    return counts


# --------------------------------------------------------------------------------------------
# Infeasibility: cheap arithmetic, then an elastic model


def _list(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")


def _cheap_conflicts(
    problem: SelectionProblem, labels: _Labels, eligible_rows: IntArray
) -> list[str]:
    """Conflicts visible by counting, without a solver; empty when none."""
    count, quotas = problem.count, problem.quotas
    problems: list[str] = []
    if eligible_rows.size < count:
        problems.append(f"count {count} but only {eligible_rows.size} enterprises are eligible")
    available = _group_counts(labels, quotas, eligible_rows)
    for i, q in enumerate(quotas):
        if q.min > 0 and not labels.present[i]:
            problems.append(f"{q.kind} {q.key} min {q.min} but no enterprise in the data has it")
        elif q.min > available[i]:
            problems.append(
                f"{q.kind} {q.key} min {q.min} but only {available[i]} eligible enterprises"
            )
    for kind in labels.kinds:
        idx = [i for i, q in enumerate(quotas) if q.kind == kind]
        with_min = [i for i in idx if quotas[i].min > 0]
        total_min = sum(quotas[i].min for i in with_min)
        if total_min > count:
            detail = _list(
                [f"{quotas[i].kind} {quotas[i].key} min {quotas[i].min}" for i in with_min]
            )
            problems.append(f"{kind} minima sum to {total_min} > count {count} ({detail})")
        # At most: each capped group gives min(max, eligible in it); other groups all they have.
        lab = labels.by_kind[kind][eligible_rows]
        capped = [i for i in idx if quotas[i].max is not None]
        capped_positions = labels.position[capped] if capped else np.zeros(0, dtype=np.intp)
        uncapped = int(np.count_nonzero(~np.isin(lab, capped_positions)))
        room = uncapped + sum(min(int(quotas[i].max or 0), int(available[i])) for i in capped)
        if capped and room < count and eligible_rows.size >= count:
            detail = _list(
                [f"{quotas[i].kind} {quotas[i].key} max {quotas[i].max}" for i in capped]
            )
            problems.append(f"count {count} but the {kind} maxima allow at most {room} ({detail})")
    return problems


def _csr(
    row_of: IntArray, col_of: IntArray, value: FloatArray, num_rows: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], FloatArray]:
    """Triplets to row-wise compressed arrays (start, index, value)."""
    order = np.lexsort((col_of, row_of))
    start = np.searchsorted(row_of[order], np.arange(num_rows)).astype(_INT)
    return start, col_of[order].astype(_INT), value[order]


def _elastic_conflicts(
    problem: SelectionProblem,
    labels: _Labels,
    cell_size: IntArray,
    cell_labels: dict[str, IntArray],
    rounds: int = 6,
) -> tuple[list[str], list[str]]:
    """The conflicting constraints, and fixes that would each make the problem feasible.

    Elastic model: cells are interchangeable for feasibility, so the variables are
    y_c ∈ {0..size_c}, the number taken from cell c, and row r reads
    lower_r ≤ Σ y + under_r − over_r ≤ upper_r with both slacks ≥ 0; minimise the total slack.
    Every constraint with a non-zero slack is named. A minimum-slack solution relaxes only one
    side of a conflict, so the rows it relaxed are then made rigid and the model solved again,
    which names the other side, until the rigid rows alone are infeasible (at most `rounds`).
    """
    quotas, count = problem.quotas, problem.count
    cells = cell_size.size
    rows = 1 + len(quotas)
    row_parts = [np.zeros(cells, dtype=np.intp)]
    col_parts = [np.arange(cells, dtype=np.intp)]
    for i, q in enumerate(quotas):
        members = np.flatnonzero(cell_labels[q.kind] == labels.position[i])
        row_parts.append(np.full(members.size, 1 + i, dtype=np.intp))
        col_parts.append(members)
    slack_rows = np.arange(rows, dtype=np.intp)
    under = cells + 2 * slack_rows  # column of each row's "under" slack, "over" is next
    row_of = np.concatenate([*row_parts, slack_rows, slack_rows])
    col_of = np.concatenate([*col_parts, under, under + 1])
    value = np.concatenate(
        [np.ones(sum(p.size for p in col_parts)), np.ones(rows), -np.ones(rows)]
    ).astype(np.float64)
    start, index, values = _csr(row_of, col_of, value, rows)
    lower = np.array([count] + [q.min for q in quotas], dtype=np.float64)
    upper = np.array(
        [count] + [highspy.kHighsInf if q.max is None else q.max for q in quotas], dtype=np.float64
    )
    num_cols = cells + 2 * rows
    cost = np.concatenate([np.zeros(cells), np.ones(2 * rows)]).astype(np.float64)
    col_upper = np.concatenate([cell_size.astype(np.float64), np.full(2 * rows, highspy.kHighsInf)])
    integrality = np.concatenate([np.ones(cells, dtype=_INT), np.zeros(2 * rows, dtype=_INT)])
    h = _highs(problem.time_limit, 0.0)
    h.passModel(
        num_cols,
        rows,
        int(index.size),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        cost,
        np.zeros(num_cols),
        col_upper,
        lower,
        upper,
        start,
        index,
        values,
        integrality,
    )
    names = [f"count {count}"] + [q.name for q in quotas]
    conflicting: list[int] = []
    fixes: list[str] = []
    for _ in range(rounds):
        h.run()
        solution = h.getSolution()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal or not solution.value_valid:
            break
        slack = np.rint(np.asarray(solution.col_value)[cells:]).astype(np.intp)
        change = slack[1::2] - slack[0::2]  # how far each row's limit has to move
        relaxed = np.flatnonzero(change)
        if relaxed.size == 0:
            break
        parts = []
        for r in relaxed.tolist():
            if r not in conflicting:
                conflicting.append(r)
            if r == 0:
                parts.append(f"count {count + change[0]} instead of {count}")
            else:
                q = quotas[r - 1]
                side, old = ("max", int(q.max or 0)) if change[r] > 0 else ("min", q.min)
                parts.append(f"{q.kind} {q.key} {side} {old + change[r]} instead of {old}")
        fixes.append(" and ".join(parts))
        rigid = (under[relaxed][:, None] + np.arange(2)).reshape(-1).astype(_INT)
        h.changeColsBounds(rigid.size, rigid, np.zeros(rigid.size), np.zeros(rigid.size))
    return [names[r] for r in sorted(conflicting)], fixes


# --------------------------------------------------------------------------------------------
# The solve


_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kMemoryLimit: "memory_limit",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
}


_banner_lock = threading.Lock()
_banner_shown = False


def _new_highs() -> highspy.Highs:
    """A HiGHS instance, without the banner the first one in a process writes to the process's
    standard output (from C, before any option can be set; in a pipe it surfaced in the middle
    of the command's own output). Standard output points to /dev/null while it is made."""
    global _banner_shown
    with _banner_lock:
        if _banner_shown:
            return highspy.Highs()  # type: ignore[no-untyped-call]
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            h = highspy.Highs()  # type: ignore[no-untyped-call]
            ctypes.CDLL(None).fflush(None)  # what C buffered goes to /dev/null too
        finally:
            os.dup2(saved, 1)
            os.close(null)
            os.close(saved)
        _banner_shown = True
        return h


def _highs(time_limit: float, mip_gap: float) -> highspy.Highs:
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", RANDOM_SEED)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    return h


def solver_name() -> str:
    """The solver and its version, e.g. "HiGHS 1.15.1"."""
    version = (
        highspy.HIGHS_VERSION_MAJOR,
        highspy.HIGHS_VERSION_MINOR,
        highspy.HIGHS_VERSION_PATCH,
    )
    return "HiGHS " + ".".join(str(v) for v in version)


def _cells(labels: _Labels, rows: IntArray) -> IntArray:
    """Cell id (0..cells-1) of each of `rows`: the combination of their quota labels."""
    cell = np.zeros(rows.size, dtype=np.int64)
    for kind in labels.kinds:
        lab = labels.by_kind[kind][rows] + 1  # 0 = a group no quota names
        radix = int(lab.max(initial=0)) + 1
        _, inverse = np.unique(cell * radix + lab, return_inverse=True)
        cell = inverse.reshape(-1).astype(np.int64)
    return cell.astype(np.intp)


@dataclass(frozen=True)
class _Cells:
    """The eligible enterprises ordered by (cell, points desc, index asc), ranked in their cell."""

    rows: IntArray  # enterprise indices in that order
    cell: IntArray  # cell of each
    rank: IntArray  # 0 for the best of its cell
    size: IntArray  # per cell: how many eligible
    labels: dict[str, IntArray]  # per cell: its label in each kind with quotas

    @classmethod
    def of(cls, labels: _Labels, points: FloatArray, eligible_rows: IntArray) -> _Cells:
        cell = _cells(labels, eligible_rows)
        order = np.lexsort((eligible_rows, -points[eligible_rows], cell))
        rows, cell = eligible_rows[order], cell[order]
        size = np.bincount(cell)
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.intp)
        rank = np.arange(rows.size) - start[cell]
        first = rows[start]
        return cls(rows, cell, rank, size, {k: labels.by_kind[k][first] for k in labels.kinds})

    def caps(self, labels: _Labels, quotas: Sequence[Quota], count: int) -> IntArray:
        """Most a cell can give to any feasible selection: count, and for every quota touching
        it, its max and `count` less the minima of the other groups of its kind."""
        cap = np.full(self.size.size, count, dtype=np.intp)
        for kind in labels.kinds:
            total_min = sum(q.min for q in quotas if q.kind == kind)
            for i, q in enumerate(quotas):
                if q.kind != kind:
                    continue
                limit = count - (total_min - q.min)
                if q.max is not None:
                    limit = min(limit, q.max)
                touched = self.labels[kind] == labels.position[i]
                cap[touched] = np.minimum(cap[touched], max(limit, 0))
        return np.minimum(cap, self.size)

    def threshold(
        self, labels: _Labels, quotas: Sequence[Quota], row_dual: FloatArray
    ) -> FloatArray:
        """Per cell, the sum of the duals of the rows its columns appear in (count row + quotas):
        a column of the cell improves the LP exactly when its points exceed this."""
        theta = np.full(self.size.size, row_dual[0])
        for i, q in enumerate(quotas):
            theta[self.labels[q.kind] == labels.position[i]] += row_dual[1 + i]
        return theta


@dataclass(frozen=True)
class _Outcome:
    taken: IntArray  # per cell, how many are chosen
    bound: float
    gap: float
    status: str
    variables: int  # of the last model solved
    nonzeros: int
    rounds: int = 0  # LP solves of the pricing


def _run_model(
    problem: SelectionProblem,
    labels: _Labels,
    points: FloatArray,
    rows: IntArray,
    *,
    integer: bool,
    time_limit: float,
) -> tuple[highspy.Highs, int]:
    """Builds the model over the enterprises `rows` (row 0: the count, row 1 + q: quota q) as
    CSR arrays, hands it to HiGHS in one `passModel` call and solves it. Returns HiGHS and the
    number of non-zeros."""
    quotas, count = problem.quotas, problem.count
    m = rows.size
    row_parts = [np.zeros(m, dtype=np.intp)]
    col_parts = [np.arange(m, dtype=np.intp)]
    for kind in labels.kinds:
        lab = labels.by_kind[kind][rows]
        by_label = np.argsort(lab, kind="stable")
        sorted_lab = lab[by_label]
        for i, q in enumerate(quotas):
            if q.kind != kind:
                continue
            lo = np.searchsorted(sorted_lab, labels.position[i], side="left")
            hi = np.searchsorted(sorted_lab, labels.position[i], side="right")
            row_parts.append(np.full(hi - lo, 1 + i, dtype=np.intp))
            col_parts.append(by_label[lo:hi])
    num_rows = 1 + len(quotas)
    row_of, col_of = np.concatenate(row_parts), np.concatenate(col_parts)
    start, index, values = _csr(row_of, col_of, np.ones(row_of.size), num_rows)
    lower = np.array([count] + [q.min for q in quotas], dtype=np.float64)
    upper = np.array(
        [count] + [highspy.kHighsInf if q.max is None else q.max for q in quotas], dtype=np.float64
    )
    h = _highs(time_limit, problem.mip_gap)
    h.passModel(
        m,
        num_rows,
        int(index.size),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMaximize),
        0.0,
        np.ascontiguousarray(points[rows]),
        np.zeros(m),
        np.ones(m),
        lower,
        upper,
        start,
        index,
        values,
        np.full(m, 1 if integer else 0, dtype=_INT),
    )
    h.run()
    return h, int(index.size)


def _status(h: highspy.Highs) -> str:
    model_status = h.getModelStatus()
    return _STATUS.get(model_status, model_status.name.removeprefix("k").lower())


def _priced(
    problem: SelectionProblem,
    labels: _Labels,
    points: FloatArray,
    cells: _Cells,
    cap: IntArray,
    deadline: float,
) -> _Outcome | None:
    """Column generation over cells; None when it cannot prove its answer (the caller then
    solves the whole cell-reduced model).

    Start from a few top enterprises per cell (as many as the cell has in the overall top
    `count` of those within the cell caps, plus room for minima), solve the LP relaxation (when
    it is infeasible, double every cell's share until the caps are reached), and price the
    left-out ones: all
    columns of a cell share their constraints, so the best left-out one of each cell has the
    largest reduced cost `points − Σ duals of its rows`. Add every left-out column with a
    positive reduced cost and repeat. When none is left, the restricted LP value is the LP bound
    of the whole problem; an integral LP solution (the usual case, the matrix being totally
    unimodular for nested zones/provinces and fields), or a MIP solution on the restricted
    columns within the requested gap of that bound, is then optimal for the whole problem.
    """
    quotas, count = problem.quotas, problem.count
    p = points[cells.rows]
    within_cap = cells.rank < cap[cells.cell]
    in_top = np.argsort(np.where(within_cap, -p, np.inf), kind="stable")[:count]
    room = np.full(cells.size.size, 3, dtype=np.intp)
    for i, q in enumerate(quotas):
        touched = cells.labels[q.kind] == labels.position[i]
        room[touched] = np.maximum(room[touched], q.min)
    limit = np.minimum(cap, np.bincount(cells.cell[in_top], minlength=cap.size) + room)
    tolerance = 1e-9 * max(1.0, float(np.abs(p).max(initial=0.0)))
    rounds = 0
    while True:
        rounds += 1
        keep = cells.rank < limit[cells.cell]
        rows = cells.rows[keep]
        remaining = max(0.1, deadline - time.perf_counter())
        h, nonzeros = _run_model(problem, labels, points, rows, integer=False, time_limit=remaining)
        solution = h.getSolution()
        status = _status(h)
        if status == "infeasible" and np.any(limit < cap):
            limit = np.minimum(cap, 2 * limit + 1)
            continue
        if status != "optimal" or not solution.dual_valid:
            return None
        theta = cells.threshold(labels, quotas, np.asarray(solution.row_dual))
        improving = within_cap & (p > theta[cells.cell] + tolerance)
        wanted = np.bincount(cells.cell[improving], minlength=cap.size)  # a prefix of each cell
        if np.all(wanted <= limit):
            break
        limit = np.maximum(limit, wanted)
    lp_bound = float(h.getInfo().objective_function_value)
    x = np.asarray(solution.col_value)
    if np.all(np.abs(x - np.rint(x)) <= 1e-6):
        taken = np.bincount(cells.cell[keep][x > 0.5], minlength=cap.size)
        return _Outcome(taken, lp_bound, 0.0, "optimal", rows.size, nonzeros, rounds)
    remaining = max(0.1, deadline - time.perf_counter())
    h, nonzeros = _run_model(problem, labels, points, rows, integer=True, time_limit=remaining)
    solution = h.getSolution()
    if _status(h) not in ("optimal", "time_limit") or not solution.value_valid:
        return None
    objective = float(h.getInfo().objective_function_value)
    gap = max(0.0, lp_bound - objective) / max(abs(objective), 1e-9)
    if gap > max(problem.mip_gap, 1e-9):
        return None
    x = np.asarray(solution.col_value)
    taken = np.bincount(cells.cell[keep][x > 0.5], minlength=cap.size)
    gap = 0.0 if gap <= 1e-9 else gap
    return _Outcome(taken, lp_bound, gap, "optimal", rows.size, nonzeros, rounds)


def _solve(
    problem: SelectionProblem,
    *,
    reduce: bool = True,
    price: bool = True,
    stats: dict[str, float] | None = None,
) -> Selection:
    """`select`, with the cell reduction and the pricing optional (off only to measure what they
    save: `reduce=False` is the plain model with one binary per eligible enterprise).

    `stats`, when given, receives the model size and the time spent preparing and solving.
    """
    started = time.perf_counter()
    deadline = started + float(problem.time_limit)
    points, eligible, n = _validate(problem)
    quotas, count = problem.quotas, problem.count
    labels = _labels(problem)
    eligible_rows = np.flatnonzero(eligible)
    conflicts = _cheap_conflicts(problem, labels, eligible_rows)
    if conflicts:
        raise Infeasible("infeasible: " + "; ".join(conflicts), field="quotas")
    cells = _Cells.of(labels, points, eligible_rows)
    cap = cells.caps(labels, quotas, count) if reduce else cells.size
    prepared = time.perf_counter()

    outcome = _priced(problem, labels, points, cells, cap, deadline) if reduce and price else None
    if outcome is None:
        keep = cells.rank < cap[cells.cell]
        rows = cells.rows[keep]
        remaining = max(0.1, deadline - time.perf_counter())
        h, nonzeros = _run_model(problem, labels, points, rows, integer=True, time_limit=remaining)
        status = _status(h)
        solution = h.getSolution()
        if status == "infeasible":
            conflicting, fixes = _elastic_conflicts(problem, labels, cells.size, cells.labels)
            if conflicting:
                raise Infeasible(
                    f"infeasible: these constraints conflict: {_list(conflicting, 12)}. "
                    f"Fixes that would each make them fit: {'; or '.join(fixes)}",
                    field="quotas",
                )
            raise Infeasible(
                f"infeasible: no selection of {count} meets all {len(quotas)} quotas",
                field="quotas",
            )
        if not solution.value_valid:
            raise InnofinError(
                f"HiGHS found no selection (status {status}) within time_limit "
                f"{problem.time_limit:g} s; raise time_limit or mip_gap"
            )
        info = h.getInfo()
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else math.inf
        x = np.asarray(solution.col_value) > 0.5
        outcome = _Outcome(
            taken=np.bincount(cells.cell[keep][x], minlength=cap.size),
            bound=float(info.mip_dual_bound),
            gap=0.0 if status == "optimal" and problem.mip_gap == 0 else max(0.0, gap),
            status=status,
            variables=rows.size,
            nonzeros=nonzeros,
        )
    if stats is not None:
        stats.update(
            eligible=float(eligible_rows.size),
            cells=float(cells.size.size),
            variables=float(outcome.variables),
            rows=float(1 + len(quotas)),
            nonzeros=float(outcome.nonzeros),
            pricing_rounds=float(outcome.rounds),
            build_seconds=prepared - started,
            solve_seconds=time.perf_counter() - prepared,
        )

    # Canonical choice: per cell, the same number k, taken from the top of the cell.
    picked = cells.rows[cells.rank < outcome.taken[cells.cell]]
    chosen = np.zeros(n, dtype=np.bool_)
    chosen[picked] = True
    objective = float(points[picked].sum())
    in_group = _group_counts(labels, quotas, picked)
    binding = tuple(
        q.name
        for i, q in enumerate(quotas)
        if (q.min > 0 and in_group[i] == q.min) or (q.max is not None and in_group[i] == q.max)
    )
    return Selection(
        chosen=chosen,
        objective=objective,
        bound=max(outcome.bound, objective) if outcome.gap == 0.0 else outcome.bound,
        gap=outcome.gap,
        status=outcome.status,
        solver=solver_name(),
        seconds=time.perf_counter() - started,
        binding=binding,
        cutoff=float(points[picked].min()),
    )


def select(problem: SelectionProblem) -> Selection:
    """Exactly `problem.count` eligible enterprises with the most points that meet every quota.

    Raises `InvalidInput` for malformed input (naming the parameter) and `Infeasible` when no
    selection meets the quotas (naming the conflicting constraints).
    """
    return _solve(problem, reduce=True)


# --------------------------------------------------------------------------------------------
# Explanations


def leave_out_reasons(
    problem: SelectionProblem, result: Selection, candidates: npt.NDArray[np.intp]
) -> list[str]:
    """For eligible, not-chosen enterprises (indices), why each was left out, e.g.
    "zone Z001 is at its maximum (20)" or "points 612.3 below the cut-off 640.1".

    Work is per quota over the candidates (vectorised), never a loop over all enterprises. An
    enterprise above the cut-off that no full group blocks was displaced by minima of groups it
    is not in; those are named.
    """
    points, eligible, n = _validate(problem)
    chosen = np.asarray(result.chosen)
    if chosen.dtype != np.bool_ or chosen.shape != (n,):
        raise InvalidInput(
            f"result.chosen must be {n} booleans, got {chosen.dtype} of shape {chosen.shape}",
            field="result",
        )
    cand = np.asarray(candidates)
    if cand.ndim != 1 or (cand.size and cand.dtype.kind not in "iu"):
        raise InvalidInput(
            "candidates must be a one-dimensional array of indices", field="candidates"
        )
    cand = cand.astype(np.intp)
    outside = cand[(cand < 0) | (cand >= n)]
    if outside.size:
        raise InvalidInput(
            f"candidates: index {outside[0]} is out of range 0..{n - 1}", field="candidates"
        )
    not_eligible = cand[~eligible[cand]]
    if not_eligible.size:
        raise InvalidInput(
            f"candidates: enterprise {not_eligible[0]} is not eligible", field="candidates"
        )
    was_chosen = cand[chosen[cand]]
    if was_chosen.size:
        raise InvalidInput(f"candidates: enterprise {was_chosen[0]} was chosen", field="candidates")

    quotas = problem.quotas
    labels = _labels(problem)
    in_group = _group_counts(labels, quotas, np.flatnonzero(chosen))
    reasons: list[list[str]] = [[] for _ in range(cand.size)]
    blocked = np.zeros(cand.size, dtype=np.bool_)
    minima_met: list[tuple[int, BoolArray]] = []
    for i, q in enumerate(quotas):
        member = _members(labels, q, i, cand)
        if q.max is not None and in_group[i] >= q.max:
            blocked |= member
            text = f"{q.kind} {q.key} is at its maximum ({q.max})"
            for j in np.flatnonzero(member):
                reasons[j].append(text)
        if q.min > 0 and in_group[i] == q.min:
            minima_met.append((i, member))
    cut = result.cutoff
    p = points[cand]
    for j in np.flatnonzero(p < cut):
        reasons[j].append(f"points {_fmt(p[j])} below the cut-off {_fmt(cut)}")
    for j in np.flatnonzero((p == cut) & ~blocked):
        reasons[j].append(
            f"points {_fmt(p[j])} equal the cut-off {_fmt(cut)}; the tie went to another enterprise"
        )
    above = np.flatnonzero((p > cut) & ~blocked)
    for j in above:
        needed = [quotas[i].name for i, member in minima_met if not member[j]]
        if needed:
            reasons[j].append(
                f"points {_fmt(p[j])} above the cut-off {_fmt(cut)}, but the places went to "
                f"meet the minima of {_list(needed)}"
            )
        else:
            reasons[j].append(
                f"points {_fmt(p[j])} above the cut-off {_fmt(cut)}; the solver stopped with "
                f"status {result.status}, gap {result.gap:.2%}"
            )
    return ["; ".join(r) for r in reasons]
