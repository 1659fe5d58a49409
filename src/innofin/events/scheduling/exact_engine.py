"""The time-indexed timetable on CP-SAT (OR-Tools): one Boolean per (request, slot) where both
parties are available, every rule of the timetable as a linear constraint, and the keep bonus on
each announced meeting's own slot. Exact, so it settles what the aggregated model cannot (a
participant unavailable within a session, announced meetings pinned to slots); it starts from the
best schedule known (a hint) and keeps improving it until its time is up. OR-Tools is imported
here only, when this runs."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from innofin.events.scheduling.instance_engine import IntArray, Prepared

#: CP-SAT search workers (the machine's cores are shared with the server)
WORKERS = 2
#: seconds kept for CP-SAT to stop and for the solution to be read back
READ_BACK_MARGIN_S = 1.0


@dataclass(frozen=True)
class Exact:
    request: IntArray
    slot: IntArray
    bound: float
    status: str
    has_solution: bool
    version: str


def solve_exact(
    prep: Prepared,
    hint_request: IntArray,
    hint_slot: IntArray,
    *,
    time_limit: float,
    seed: int,
) -> Exact:
    # OR-Tools is heavy and only needed when the exact model runs
    from ortools.sat.python import cp_model

    started = time.perf_counter()
    inst = prep.instance
    n_t = inst.n_slots
    request, slot = np.nonzero(prep.common)
    request = request.astype(np.int64)
    slot = slot.astype(np.int64)
    n = request.size
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{k}") for k in range(n)]
    ent = inst.request_enterprise[request]
    ins = inst.request_institution[request]
    sessions = inst.session_of_slot
    assert sessions is not None
    n_s = inst.n_sessions
    session = sessions[slot]

    def at_most(keys: IntArray, limit: IntArray | None) -> None:
        """At most `limit[key]` (1 without limits) of the variables sharing a key."""
        if keys.size == 0:
            return
        order = np.argsort(keys, kind="stable")
        for g in np.split(order, np.flatnonzero(np.diff(keys[order])) + 1):
            bound = 1 if limit is None else int(limit[keys[g[0]]])
            if g.size > bound:
                model.add(cp_model.LinearExpr.sum([x[k] for k in g.tolist()]) <= bound)

    at_most(request, None)  # a pair meets once
    at_most(ent * n_t + slot, np.tile(inst.seats, inst.n_enterprises))  # its seats a slot
    desks_per_key = np.repeat(inst.desks, n_t)
    at_most(ins * n_t + slot, desks_per_key)
    at_most(ent * n_s + session, prep.enterprise_session_room.reshape(-1))
    at_most(ins * n_s + session, prep.institution_session_room.reshape(-1))
    at_most(ent, prep.enterprise_room)
    at_most(ins, prep.institution_room)
    cost = prep.value[request].copy()
    keep = prep.keepable
    if keep.any():
        key = request * n_t + slot
        order = np.argsort(key)
        a_key = prep.announced_request[keep] * n_t + inst.announced_slot[keep]
        pos = order[np.searchsorted(key[order], a_key)]
        np.add.at(cost, pos, prep.keep)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, cost.tolist()))
    if hint_request.size:
        key = request * n_t + slot
        hinted = np.isin(key, hint_request * n_t + hint_slot)
        for k, h in enumerate(hinted.tolist()):
            model.add_hint(x[k], bool(h))
    solver = cp_model.CpSolver()
    params: Any = solver.parameters
    # the time limit counts the model's construction too, and keeps a margin for reading back
    spent = time.perf_counter() - started
    params.max_time_in_seconds = max(float(time_limit) - spent - READ_BACK_MARGIN_S, 0.1)
    params.num_workers = WORKERS
    params.random_seed = int(seed) % 2_147_483_647
    params.relative_gap_limit = 0.0
    code = solver.solve(model)
    status = {
        cp_model.OPTIMAL: "optimal",
        cp_model.FEASIBLE: "time_limit",
        cp_model.INFEASIBLE: "infeasible",
        cp_model.MODEL_INVALID: "model_invalid",
        cp_model.UNKNOWN: "time_limit",
    }[code]
    version = f"CP-SAT {metadata.version('ortools')}"
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        empty = np.zeros(0, dtype=np.int64)
        return Exact(empty, empty, float("inf"), status, False, version)
    # the x are the model's first variables: their values in one piece from the response
    values = np.fromiter(solver.response_proto.solution, dtype=np.int64)[:n] > 0
    # the objective's weights are whole numbers, so a bound is one too: CP-SAT may report a proven
    # 7 as 6.999999999999999, which read as it is would fall below the schedule it proved optimal
    bound = float(math.floor(solver.best_objective_bound + 1e-6))
    return Exact(request[values], slot[values], bound, status, True, version)
