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

The problem, its checks and quota labels are in `quota_engine`; infeasible problems raise
`Infeasible` naming the conflict, and near misses are explained, by `explain_engine`.

`time_limit` is passed to HiGHS, which honours it in branch and bound but not always inside
presolve; the reductions above keep presolve to a fraction of a second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from innofin.kernel.errors import Infeasible, InnofinError
from innofin.kernel.highs import HIGHS_INT, highs, solver_name
from innofin.scoring.explain_engine import cheap_conflicts, elastic_conflicts
from innofin.scoring.quota_engine import (
    FloatArray,
    IntArray,
    Labels,
    Quota,
    Selection,
    SelectionProblem,
    csr,
    group_counts,
    listed,
    quota_labels,
    validate,
)

__all__ = ["Quota", "Selection", "SelectionProblem", "select", "solver_name"]


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


def _cells(labels: Labels, rows: IntArray) -> IntArray:
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
    def of(cls, labels: Labels, points: FloatArray, eligible_rows: IntArray) -> _Cells:
        cell = _cells(labels, eligible_rows)
        order = np.lexsort((eligible_rows, -points[eligible_rows], cell))
        rows, cell = eligible_rows[order], cell[order]
        size = np.bincount(cell)
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.intp)
        rank = np.arange(rows.size) - start[cell]
        first = rows[start]
        return cls(rows, cell, rank, size, {k: labels.by_kind[k][first] for k in labels.kinds})

    def caps(self, labels: Labels, quotas: Sequence[Quota], count: int) -> IntArray:
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
        self, labels: Labels, quotas: Sequence[Quota], row_dual: FloatArray
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
    labels: Labels,
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
    start, index, values = csr(row_of, col_of, np.ones(row_of.size), num_rows)
    lower = np.array([count] + [q.min for q in quotas], dtype=np.float64)
    upper = np.array(
        [count] + [highspy.kHighsInf if q.max is None else q.max for q in quotas], dtype=np.float64
    )
    h = highs(time_limit, problem.mip_gap)
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
        np.full(m, 1 if integer else 0, dtype=HIGHS_INT),
    )
    h.run()
    return h, int(index.size)


def _status(h: highspy.Highs) -> str:
    model_status = h.getModelStatus()
    return _STATUS.get(model_status, model_status.name.removeprefix("k").lower())


def _priced(
    problem: SelectionProblem,
    labels: Labels,
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
    points, eligible, n = validate(problem)
    quotas, count = problem.quotas, problem.count
    labels = quota_labels(problem)
    eligible_rows = np.flatnonzero(eligible)
    conflicts = cheap_conflicts(problem, labels, eligible_rows)
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
            conflicting, fixes = elastic_conflicts(problem, labels, cells.size, cells.labels)
            if conflicting:
                raise Infeasible(
                    f"infeasible: these constraints conflict: {listed(conflicting, 12)}. "
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
    in_group = group_counts(labels, quotas, picked)
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
