"""Which requests meet, and in which session: the aggregated model on HiGHS.

One variable per (request, session) where the two parties share an available slot: y[r, s] = 1
when pair r meets in session s. Each pair meets at most once; per session an enterprise has at
most as many meetings as it has available slots (and its session cap), an institution at most
desks × available slots (and its session cap); per event the caps. The objective is the meetings'
values. An announced meeting that can stay has a variable of its own, held in its announced slot,
worth the keep bonus more; those variables also count against the enterprise's seats and the
institution's desks in that slot, so the bound does not promise to keep two announced meetings
where one desk is left.

The model is a relaxation of the timetable (it forgets which slot), so its LP relaxation and its
dual bound bound every schedule; by König's theorem its solutions fit into slots exactly when no
participant is unavailable within a session (`slots_engine` does the fitting). It is handed to
HiGHS in one `passModel` call (column-wise arrays, five entries a column), never a variable at a
time: 16,000 requests × 2 sessions make a model of 32,000 columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np

from innofin.events.scheduling.instance_engine import BoolArray, FloatArray, IntArray, Prepared
from innofin.kernel.highs import HIGHS_INT, highs

#: relative MIP gap at which HiGHS stops (values are integers; small instances solve exactly)
MIP_GAP = 1e-4

STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
}


@dataclass(frozen=True)
class Columns:
    """The model's variables: (request, session) pairs, then one per announced meeting that can
    stay, held in its own slot (`pinned`; -1 for the others)."""

    request: IntArray
    session: IntArray
    pinned: IntArray
    cost: FloatArray


@dataclass(frozen=True)
class Outcome:
    request: IntArray  # chosen (request, session) pairs
    session: IntArray
    pinned: IntArray  # the announced slot of a meeting kept in place, else -1
    bound: float  # the solve's proven bound (the LP value when solved as an LP)
    status: str
    has_solution: bool
    integral: bool = True  # the solution is 0/1 (an LP vertex often is: then it is the MIP's)
    chosen: BoolArray | None = None  # over the columns


def columns(prep: Prepared) -> Columns:
    inst = prep.instance
    assert inst.session_of_slot is not None
    per_session = np.add.reduceat(prep.common.astype(np.int64), prep.session_first, axis=1) > 0
    request, session = np.nonzero(per_session) if inst.n_requests else (np.zeros(0, np.int64),) * 2
    keep = np.flatnonzero(prep.keepable)
    k_request = prep.announced_request[keep]
    k_slot = inst.announced_slot[keep]
    return Columns(
        request=np.r_[request, k_request].astype(np.int64),
        session=np.r_[session, inst.session_of_slot[k_slot]].astype(np.int64),
        pinned=np.r_[np.full(request.size, -1), k_slot].astype(np.int64),
        cost=np.r_[prep.value[request], prep.value[k_request] + prep.keep].astype(np.float64),
    )


def _matrix(prep: Prepared, cols: Columns) -> tuple[IntArray, IntArray, FloatArray]:
    """Column starts, row indices and row upper bounds. Rows: each request once; per session an
    enterprise's and an institution's room; per event their caps; then, for the meetings kept in
    place, per (enterprise, slot) its seats and per (institution, slot) its desks."""
    inst = prep.instance
    n_r, n_e, n_i, n_s = inst.n_requests, inst.n_enterprises, inst.n_institutions, inst.n_sessions
    ent = inst.request_enterprise[cols.request]
    ins = inst.request_institution[cols.request]
    es_row = n_r
    is_row = es_row + n_e * n_s
    e_row = is_row + n_i * n_s
    i_row = e_row + n_e
    slot_row = i_row + n_i
    common = np.stack(
        [
            cols.request,
            es_row + ent * n_s + cols.session,
            is_row + ins * n_s + cols.session,
            e_row + ent,
            i_row + ins,
        ],
        axis=1,
    )
    kept = cols.pinned >= 0
    n_t = inst.n_slots
    e_keys, e_row_of = np.unique(ent[kept] * n_t + cols.pinned[kept], return_inverse=True)
    i_keys, i_row_of = np.unique(ins[kept] * n_t + cols.pinned[kept], return_inverse=True)
    kept_rows = np.c_[common[kept], slot_row + e_row_of, slot_row + e_keys.size + i_row_of].reshape(
        -1
    )
    n_plain = int((~kept).sum())
    index = np.r_[common[~kept].reshape(-1), kept_rows].astype(np.int64)
    start = np.r_[np.arange(0, 5 * n_plain, 5), 5 * n_plain + np.arange(0, 7 * kept.sum(), 7)]
    upper = np.concatenate(
        [
            np.ones(n_r),
            prep.enterprise_session_room.reshape(-1),
            prep.institution_session_room.reshape(-1),
            prep.enterprise_room,
            prep.institution_room,
            inst.seats[e_keys % n_t],
            inst.desks[i_keys // n_t],
        ]
    ).astype(np.float64)
    return start.astype(np.int64), index, upper


def solve_sessions(
    prep: Prepared, cols: Columns, *, integer: bool, time_limit: float, seed: int
) -> Outcome:
    n = cols.request.size
    if n == 0:
        return Outcome(
            cols.request, cols.session, cols.pinned, 0.0, "optimal", True, True, np.zeros(0, bool)
        )
    assert np.all(np.diff((cols.pinned >= 0).astype(np.int64)) >= 0)  # kept columns last
    start, index, upper = _matrix(prep, cols)
    n_rows = upper.size
    h = highs(time_limit, MIP_GAP)
    h.setOptionValue("random_seed", int(seed) % 2_147_483_647)
    h.passModel(
        n,
        n_rows,
        int(index.size),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize),
        0.0,
        cols.cost,
        np.zeros(n),
        np.ones(n),
        np.zeros(n_rows),
        upper,
        start.astype(HIGHS_INT),
        index.astype(HIGHS_INT),
        np.ones(index.size),
        np.full(n, 1 if integer else 0, dtype=HIGHS_INT),
    )
    h.run()
    model_status = h.getModelStatus()
    status = STATUS.get(model_status, model_status.name.removeprefix("k").lower())
    info = h.getInfo()
    if integer:
        bound = float(info.mip_dual_bound)
        has = info.primal_solution_status == 2  # kSolutionStatusFeasible
    else:
        bound = float(info.objective_function_value)
        has = status == "optimal"
    if not math.isfinite(bound):
        bound = float(cols.cost.sum())
    if not has:
        empty = np.zeros(0, np.int64)
        return Outcome(empty, empty, empty, bound, status, False, False)
    x = np.asarray(h.getSolution().col_value)
    chosen = x > 0.5
    integral = bool(np.all(np.abs(x - chosen) <= 1e-6))
    return Outcome(
        cols.request[chosen],
        cols.session[chosen],
        cols.pinned[chosen],
        bound,
        status,
        True,
        integral,
        chosen,
    )


def lp_bound(prep: Prepared, *, time_limit: float = 60.0) -> float:
    """The LP relaxation of the aggregated model: no schedule is worth more."""
    cols = columns(prep)
    return solve_sessions(prep, cols, integer=False, time_limit=time_limit, seed=0).bound
