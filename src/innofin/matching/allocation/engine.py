"""Special-credit allocation (专项信贷额度分配) without the database: which needs the cooperating
institutions fund and how much, as a mixed-integer programme on HiGHS, beside first-come-first-
served on the same instance.

The model. Need i asks for `amount[i]` fen, of which it may receive ``u[i] = min(amount[i],
cap)`` (`cap`: the per-enterprise cap; an enterprise's needs together stay within it). The share
funded ``y[i]`` is semi-continuous: 0, or between `min_share` and 1 (with `min_share` 1, all or
nothing); a share is paid in whole yuan. Needs fall into groups (key technology field × zone);
commitment c of an institution (from the ledger's agreements) covers one field or all, one zone
or all, and lends at most `capacity[c]`. Transport variables ``z[c, g]`` carry committed money
to the groups it covers: per group, the funded amount equals what the commitments send. Quotas
cap the funded amount per field and per zone; each zone has a floor (the least the programme
wants funded there). The objective is the funded amount weighted by each need's weight (by
default the firm's innovation points): ``max Σ u[i] · y[i] · w[i]``.

A floor that cannot be met is not an error: its row has an elastic slack with a penalty larger
than any gain, so the solve always ends, and the floors still short are named. Binding quotas
and commitments are reported with their dual values from the LP relaxation (the gain in
objective per 万元 more of quota). Amounts are integer fen in and out; the solver works in 万元
and its transport solution is turned back into whole fen per group (largest remainder) and
split across the funded needs of each group by cumulative sums, so every row is exact money
(`money_engine`).

How it is solved. The LP relaxation (every share in [0, 1]) gives the bound and the duals. Its
point funds some needs below their least share — mostly where an enterprise's cap binds and the
LP fills it with a sliver of another need, which costs the LP nothing when the firm's needs share
one weight (its points). Dives (`dive_engine`) settle those needs, each held at its least share
or left out, re-solving the LP from its basis until no need is below its least share; the point,
in whole fen and topped up greedily, is an integer solution whose gap is measured against the LP
bound. When the first dive is not within `mip_gap` (a firm's needs weighted differently), the
relaxation is tightened by valid inequalities of the per-enterprise cap (`dive_engine`'s
`_pair_cuts`) and every dive runs again from it. Only then does HiGHS's integer programme run,
from the best point, for the time left; its answer is checked in whole fen (once it claimed a
point it did not return).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from innofin.kernel.highs import HIGHS_INT, highs, solver_name
from innofin.matching.allocation.dive_engine import (
    DIVE_HOLD,
    DIVE_ROUNDS,
    _bounds,
    _dives,
    _gap,
    _least,
    _pair_cuts,
    _repair,
    _round_down,
)
from innofin.matching.allocation.instance_engine import (
    PENALTY,
    WAN,
    Binding,
    FloatArray,
    IntArray,
    Problem,
    Result,
    check,
    covers,
    fundable,
    groups,
)
from innofin.matching.allocation.money_engine import exact, fcfs, split

__all__ = [
    "DIVE_HOLD",
    "DIVE_ROUNDS",
    "PENALTY",
    "WAN",
    "Binding",
    "Problem",
    "Result",
    "check",
    "fcfs",
    "fundable",
    "solve",
]

STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
}


@dataclass(frozen=True)
class _Model:
    n: int
    pair_c: IntArray
    pair_g: IntArray
    slack_zone: IntArray
    row_kind: list[tuple[str, int]]  # per row: (kind, key index)
    lower: FloatArray
    upper: FloatArray
    cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    start: npt.NDArray[np.int32]
    index: npt.NDArray[np.int32]
    value: FloatArray
    activity_of: list[tuple[npt.NDArray[np.int64], FloatArray]]


def _build(problem: Problem, u: IntArray, group: IntArray, gf: IntArray, gz: IntArray) -> _Model:
    n = u.size
    uw = u / WAN  # 万元
    pair_c, pair_g = covers(problem, gf, gz)
    floors = np.flatnonzero(problem.zone_floor > 0)
    n_groups = gf.size
    rows: list[tuple[str, int]] = [("group", g) for g in range(n_groups)]
    lower = [0.0] * n_groups
    upper = [0.0] * n_groups
    # triplets (row, column, value); columns: y (n), z (pairs), slack (floors)
    r_parts = [group, n_groups * 0 + pair_g]
    c_parts = [np.arange(n), n + np.arange(pair_c.size)]
    v_parts = [uw, -np.ones(pair_c.size)]
    # commitments: Σ_g z[c, g] <= capacity[c]
    base = len(rows)
    for c in range(problem.capacity.size):
        rows.append(("commitment", c))
        lower.append(0.0)
        upper.append(problem.capacity[c] / WAN)
    r_parts.append(base + pair_c)
    c_parts.append(n + np.arange(pair_c.size))
    v_parts.append(np.ones(pair_c.size))
    # field quotas
    for f in np.flatnonzero(problem.field_max >= 0):
        members = np.flatnonzero(problem.need_field == f)
        r_parts.append(np.full(members.size, len(rows)))
        c_parts.append(members)
        v_parts.append(uw[members])
        rows.append(("field_quota", int(f)))
        lower.append(-highspy.kHighsInf)
        upper.append(problem.field_max[f] / WAN)
    # zone quotas and floors (one row per zone with either), the floor elastic
    slack_zone = floors.astype(np.int64)
    n_pairs = pair_c.size
    for z in np.flatnonzero((problem.zone_max >= 0) | (problem.zone_floor > 0)):
        members = np.flatnonzero(problem.need_zone == z)
        row = len(rows)
        r_parts.append(np.full(members.size, row))
        c_parts.append(members)
        v_parts.append(uw[members])
        hit = np.flatnonzero(slack_zone == z)
        if hit.size:
            r_parts.append(np.array([row]))
            c_parts.append(np.array([n + n_pairs + int(hit[0])]))
            v_parts.append(np.array([1.0]))
        rows.append(("zone", int(z)))
        lower.append(problem.zone_floor[z] / WAN if problem.zone_floor[z] > 0 else 0.0)
        upper.append(problem.zone_max[z] / WAN if problem.zone_max[z] >= 0 else highspy.kHighsInf)
    # the per-enterprise cap over an enterprise's needs together (only where it has several)
    if problem.enterprise_cap > 0:
        ent, inverse, counts = np.unique(
            problem.enterprise, return_inverse=True, return_counts=True
        )
        several = counts[inverse] > 1
        if several.any():
            multi = np.flatnonzero(counts > 1)
            row_of = np.full(ent.size, -1, dtype=np.int64)
            row_of[multi] = len(rows) + np.arange(multi.size)
            members = np.flatnonzero(several)
            r_parts.append(row_of[inverse[members]])
            c_parts.append(members)
            v_parts.append(uw[members])
            for e in multi:
                rows.append(("enterprise_cap", int(ent[e])))
                lower.append(-highspy.kHighsInf)
                upper.append(problem.enterprise_cap / WAN)
    num_cols = n + n_pairs + slack_zone.size
    r_all = np.concatenate(r_parts).astype(np.int64)
    c_all = np.concatenate(c_parts).astype(np.int64)
    v_all = np.concatenate(v_parts).astype(np.float64)
    order = np.lexsort((r_all, c_all))
    r_all, c_all, v_all = r_all[order], c_all[order], v_all[order]
    start = np.searchsorted(c_all, np.arange(num_cols + 1)).astype(HIGHS_INT)
    top_weight = float(problem.weight.max()) if problem.weight.size else 1.0
    cost = np.concatenate(
        [
            uw * problem.weight,
            np.zeros(n_pairs),
            np.full(slack_zone.size, -PENALTY * max(top_weight, 1.0)),
        ]
    )
    col_upper = np.concatenate(
        [np.ones(n), np.full(n_pairs, highspy.kHighsInf), problem.zone_floor[slack_zone] / WAN]
    )
    return _Model(
        n=n,
        pair_c=pair_c,
        pair_g=pair_g,
        slack_zone=slack_zone,
        row_kind=rows,
        lower=np.array(lower, dtype=np.float64),
        upper=np.array(upper, dtype=np.float64),
        cost=cost,
        col_lower=np.zeros(num_cols),
        col_upper=col_upper.astype(np.float64),
        start=start,
        index=r_all.astype(HIGHS_INT),
        value=v_all,
        activity_of=[],
    )


def _solve(
    problem: Problem,
    model: _Model,
    integer: bool,
    time_limit: float,
    start: FloatArray | None = None,
) -> highspy.Highs:
    h = highs(time_limit, problem.mip_gap)
    num_cols = model.cost.size
    integrality = np.zeros(num_cols, dtype=HIGHS_INT)
    col_lower = model.col_lower.copy()
    if integer:  # semi-continuous: 0, or a share in [min_share, 1]
        integrality[: model.n] = 1 if problem.min_share >= 1 else 2
        col_lower[: model.n] = 0.0 if problem.min_share >= 1 else _least(problem, fundable(problem))
    col_upper = model.col_upper.copy()
    h.passModel(
        num_cols,
        model.lower.size,
        int(model.index.size),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMaximize),
        0.0,
        model.cost,
        col_lower,
        col_upper,
        model.lower,
        model.upper,
        model.start,
        model.index,
        model.value,
        integrality,
    )
    if start is not None:
        given = highspy.HighsSolution()
        given.col_value = start.tolist()
        given.value_valid = True
        h.setSolution(given)
    h.run()
    return h


def _label(problem: Problem, kind: str, key: int) -> str:
    if kind == "field_quota":
        return problem.field_names[key]
    if kind in ("zone_quota", "zone_floor"):
        return problem.zone_names[key]
    return str(key)


def _binding(problem: Problem, model: _Model, h: highspy.Highs) -> list[Binding]:
    sol = h.getSolution()
    activity = np.asarray(sol.row_value, dtype=np.float64)
    dual = np.asarray(sol.row_dual, dtype=np.float64)
    out: list[Binding] = []
    tol = 1e-6
    for r, (kind, key) in enumerate(model.row_kind):
        if kind in ("group", "enterprise_cap"):
            continue
        at_upper = math.isfinite(model.upper[r]) and activity[r] >= model.upper[r] - tol * max(
            1.0, abs(model.upper[r])
        )
        at_lower = kind == "zone" and model.lower[r] > 0 and activity[r] <= model.lower[r] + tol
        if not (at_upper or at_lower) or abs(dual[r]) < 1e-9:
            continue
        kind_name = ("zone_quota" if at_upper else "zone_floor") if kind == "zone" else kind
        bound = model.upper[r] if at_upper else model.lower[r]
        out.append(
            Binding(
                kind=kind_name,
                key=_label(problem, kind_name, key),
                bound_fen=round(bound * WAN),
                activity_fen=round(activity[r] * WAN),
                dual=float(dual[r]),
            )
        )
    return out


def solve(problem: Problem) -> Result:
    """The allocation of `problem` (see the module's docstring), with first-come-first-served's
    objective on the same instance. Raises ValueError only for malformed input (`check`)."""
    errors = check(problem)
    if errors:
        raise ValueError("; ".join(errors))
    started = time.perf_counter()
    u = fundable(problem)
    n = u.size
    solver = solver_name()
    if n == 0 or problem.capacity.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        unmet = [
            f"zone {problem.zone_names[int(z)]}: floor {problem.zone_floor[z] / 100:,.2f} yuan "
            "cannot be met: " + ("no open needs" if n == 0 else "no commitments")
            for z in np.flatnonzero(problem.zone_floor > 0)
        ]
        return Result(
            status="empty",
            solver=solver,
            objective=0.0,
            gap=0.0,
            lp_bound=0.0,
            funded=np.zeros(n, dtype=bool),
            funded_fen=np.zeros(n, dtype=np.int64),
            row_need=empty,
            row_commitment=empty,
            row_fen=empty,
            unmet=unmet,
        )
    group, gf, gz = groups(problem)
    model = _build(problem, u, group, gf, gz)
    lp = _solve(problem, model, integer=False, time_limit=problem.time_limit / 2)
    binding = _binding(problem, model, lp)
    lp_bound = float(lp.getInfo().objective_function_value)
    lp_x = np.asarray(lp.getSolution().col_value, dtype=np.float64)
    basis = lp.getBasis()
    # one dive from the relaxation; the others, if need be, from the tightened one below
    first = DIVE_HOLD[:1] if problem.enterprise_cap > 0 else DIVE_HOLD
    x, found, rounds = _dives(problem, model, u, group, gf.size, lp, lp_bound, started, first)
    if x is None:  # no dive ended in time: the LP's point rounded down and topped up
        x = _repair(
            problem, model, u, group, gf.size, _round_down(problem, model, u, group, gf.size, lp_x)
        )
        found = float(model.cost @ x)
    gap = _gap(lp_bound, found)
    cuts = 0
    if gap > problem.mip_gap and first != DIVE_HOLD:
        # the relaxation again, tightened by the firms' pair inequalities, and every dive from it
        _bounds(lp, np.arange(n, dtype=np.int64), np.zeros(n), np.ones(n))
        lp.setBasis(basis)
        lp.run()
        cuts = _pair_cuts(problem, model, u, lp, started + problem.time_limit / 2)
        if lp.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            lp_bound = min(lp_bound, float(lp.getInfo().objective_function_value))
            y, more, again = _dives(problem, model, u, group, gf.size, lp, lp_bound, started)
            rounds += again
            if y is not None and more > found:
                x, found = y, more
            gap = _gap(lp_bound, found)
    status = "optimal" if gap <= 1e-9 else "within_gap"
    if gap > problem.mip_gap:
        left = max(problem.time_limit - (time.perf_counter() - started), 1.0)
        h = _solve(problem, model, integer=True, time_limit=left, start=x)
        mip_x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        claimed = float(h.getInfo().objective_function_value)
        left = problem.time_limit - (time.perf_counter() - started)
        if mip_x.size == x.size and float(model.cost @ mip_x) < claimed - 1e-7 * max(
            1.0, abs(claimed)
        ):  # the point returned is not the one claimed (seen with a start): once more without
            h = _solve(problem, model, integer=True, time_limit=max(left, 1.0))
            mip_x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        status = STATUS.get(h.getModelStatus(), str(h.getModelStatus()))
        if mip_x.size == x.size:  # in whole fen, topped up
            mip_x = _repair(problem, model, u, group, gf.size, mip_x)
            if float(model.cost @ mip_x) >= found:
                x, found = mip_x, float(model.cost @ mip_x)
        info = h.getInfo()
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else lp_bound
        gap = _gap(min(bound, lp_bound), found)
        if status != "optimal" and gap <= problem.mip_gap:
            status = "within_gap"
        elif status == "optimal" and gap > max(problem.mip_gap, 1e-9):
            status = "feasible"  # the solver's word against the exact money: the money wins
    funded_fen, t = exact(problem, u, group, gf.size, x[:n], x[n:], model.pair_c, model.pair_g)
    funded = funded_fen > 0
    row_need, row_c, row_fen = split(funded_fen, group, model.pair_c, model.pair_g, t)
    per_zone = np.bincount(problem.need_zone, weights=funded_fen, minlength=len(problem.zone_names))
    unmet = []
    for z in np.flatnonzero(problem.zone_floor > 0):
        if per_zone[z] < problem.zone_floor[z]:
            asked = int(u[problem.need_zone == z].sum())
            why = (
                f"its needs ask for {asked / 100:,.2f} yuan in all"
                if asked < problem.zone_floor[z]
                else "the commitments, quotas and caps leave no more for it"
            )
            unmet.append(
                f"zone {problem.zone_names[int(z)]}: floor {problem.zone_floor[z] / 100:,.2f} yuan "
                f"cannot be met; {per_zone[z] / 100:,.2f} yuan funded ({why})"
            )
    objective = float(((funded_fen / WAN) * problem.weight).sum())
    seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    fcfs_funded, fcfs_objective = fcfs(problem)
    return Result(
        status=status,
        solver=solver,
        objective=objective,
        gap=gap,
        lp_bound=lp_bound,
        funded=funded,
        funded_fen=funded_fen,
        row_need=row_need,
        row_commitment=row_c,
        row_fen=row_fen,
        binding=binding,
        unmet=unmet,
        fcfs_objective=fcfs_objective,
        fcfs_funded_fen=int(fcfs_funded.sum()),
        seconds=seconds,
        fcfs_seconds=time.perf_counter() - t0,
        variables=int(model.cost.size),
        constraints=int(model.lower.size),
        dive_rounds=rounds,
        cuts=cuts,
    )
