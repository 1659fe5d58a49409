"""The matchmaking timetable (对接会日程): one-to-one meetings between enterprises and
institutions in time slots, without the database.

Rules: each party has at most one meeting a slot (an enterprise as many as its session's group
size in a many-to-one session); an institution's meetings in a slot are at most its desks; a
pair meets at most once; a participant meets only in its available slots; optional caps on
meetings per participant in the event and per session. The objective is the total value of the
meetings held — a request's preference weight, plus (mutual requests first) twice the largest
weight for a request both sides made, so a mutual meeting outweighs any two one-sided ones —
plus, when re-scheduling, a keep bonus for each announced meeting held in its announced slot
(more than any two meetings: announced meetings move or go only where they cannot stay).

The public API (signatures stable):

- ``Instance(n_enterprises, n_institutions, n_slots, desks, request_enterprise,
  request_institution, request_weight, request_mutual, session_of_slot=None,
  enterprise_cap=None, institution_cap=None, enterprise_session_cap=None,
  institution_session_cap=None, enterprise_unavailable=None, institution_unavailable=None,
  announced_enterprise=[], announced_institution=[], announced_slot=[],
  session_group_size=None)`` — arrays indexed from 0; validated on construction
  (`InvalidArgument` naming the field).
- ``Schedule`` — per meeting: request, enterprise, institution, slot, desk, weight, mutual; and
  objective, upper_bound, lp_bound, gap, status, solver, parameters, seconds, the unscheduled
  requests with a reason each (`REASONS`), the outcome of each announced meeting (`OUTCOMES`);
  ``n_meetings``, ``n_mutual``, ``total_weight``, ``reasons()``.
- ``solve(instance, time_limit_s=60.0, seed=RANDOM_SEED, exact=True) -> Schedule`` — optimal or
  within `MIP_GAP` of it, or the best found in the time;
- ``greedy(instance, mutual_first=True) -> Schedule`` — the baseline: announced meetings in
  their slots, then requests in order of value (mutual first, then weight, then request order;
  by weight alone with `mutual_first=False`), each in its first free slot;
- ``upper_bound(instance) -> float`` — the LP relaxation: no schedule is worth more;
- ``announce(instance, schedule) -> Instance`` — the instance with the schedule's meetings as
  announced ones. To re-schedule after late registrations or cancellations, build the new
  instance with the announced meetings mapped to its indices and call `solve` (or `reschedule`,
  the same): `Schedule.announced_outcome` says which were kept, moved, dropped or cancelled.

How `solve` works: (1) the aggregated model (`sessions_engine`: which pairs meet in which
session, and which announced meetings stay in their slots) on HiGHS, its LP relaxation the
reported bound — an LP solution that is 0/1 is taken as it is, else the MIP runs; (2) slots by
bipartite edge colouring (`slots_engine`, exact by König's theorem when availability is per
session); (3) a first-free-slot pass over what is still left; (4) only when the result is not
proven within the gap — someone unavailable inside a session, announced meetings that cannot all
stay — the exact time-indexed model on CP-SAT (`exact_engine`), started from that schedule, for
the time left; for an event of more than `EXACT_ALWAYS_VARIABLES` (request, slot) pairs only
when the gap is above `EXACT_GAP`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from innofin.events.scheduling import exact_engine, sessions_engine, slots_engine
from innofin.events.scheduling.instance_engine import (
    OUTCOMES,
    REASONS,
    BoolArray,
    Instance,
    IntArray,
    Prepared,
    Schedule,
    keep_bonus,
    make_schedule,
    meeting_values,
    objective_of,
    prepare,
)
from innofin.kernel.highs import RANDOM_SEED, solver_name

__all__ = [
    "MIP_GAP",
    "OUTCOMES",
    "REASONS",
    "Instance",
    "Schedule",
    "announce",
    "greedy",
    "keep_bonus",
    "meeting_values",
    "reschedule",
    "solve",
    "upper_bound",
]

MIP_GAP = sessions_engine.MIP_GAP
#: the exact model runs whenever a schedule is not proven optimal up to this many (request, slot)
#: variables (small events are solved exactly), and up to `EXACT_MAX_VARIABLES` when the gap is
#: above `EXACT_GAP`. Beyond that CP-SAT's time-indexed model did not improve on the coloured
#: schedule in 30 s (measured: 4,000 variables, 0.1 % gap), so the gap is reported as it is.
EXACT_ALWAYS_VARIABLES = 3_000
EXACT_MAX_VARIABLES = 20_000
EXACT_GAP = 1e-3


class _Fill:
    """The running state of a first-free-slot pass: who is busy when, and how many meetings each
    party has per session and in all."""

    def __init__(self, prep: Prepared) -> None:
        inst = prep.instance
        self.prep = prep
        self.e_load = np.where(prep.enterprise_free, 0, inst.seats[None, :]).astype(np.int64)
        self.seats = inst.seats
        self.i_load = np.zeros((inst.n_institutions, inst.n_slots), dtype=np.int64)
        self.i_open = prep.institution_free
        self.e_count_s = np.zeros((inst.n_enterprises, inst.n_sessions), dtype=np.int64)
        self.i_count_s = np.zeros((inst.n_institutions, inst.n_sessions), dtype=np.int64)
        self.e_count = np.zeros(inst.n_enterprises, dtype=np.int64)
        self.i_count = np.zeros(inst.n_institutions, dtype=np.int64)
        self.held = np.zeros(inst.n_requests, dtype=np.bool_)
        self.request: list[int] = []
        self.slot: list[int] = []
        assert inst.session_of_slot is not None
        self.sessions = inst.session_of_slot

    def fits(self, r: int) -> BoolArray:
        """The slots where request r could be added now (a mask over slots)."""
        prep, inst = self.prep, self.prep.instance
        e, i = int(inst.request_enterprise[r]), int(inst.request_institution[r])
        if self.held[r] or self.e_count[e] >= prep.enterprise_room[e]:
            return np.zeros(inst.n_slots, dtype=np.bool_)
        if self.i_count[i] >= prep.institution_room[i]:
            return np.zeros(inst.n_slots, dtype=np.bool_)
        ok: BoolArray = prep.common[r] & (self.e_load[e] < self.seats)
        ok &= self.i_load[i] < inst.desks[i]
        ok &= (self.e_count_s[e] < prep.enterprise_session_room[e])[self.sessions]
        ok &= (self.i_count_s[i] < prep.institution_session_room[i])[self.sessions]
        return ok

    def add(self, r: int, t: int) -> None:
        inst = self.prep.instance
        e, i = int(inst.request_enterprise[r]), int(inst.request_institution[r])
        s = int(self.sessions[t])
        self.e_load[e, t] += 1
        self.i_load[i, t] += 1
        self.e_count_s[e, s] += 1
        self.i_count_s[i, s] += 1
        self.e_count[e] += 1
        self.i_count[i] += 1
        self.held[r] = True
        self.request.append(r)
        self.slot.append(t)

    def first_free(self, order: IntArray) -> None:
        for r in order.tolist():
            ok = self.fits(r)
            if ok.any():
                self.add(r, int(np.argmax(ok)))

    def arrays(self) -> tuple[IntArray, IntArray]:
        return np.asarray(self.request, dtype=np.int64), np.asarray(self.slot, dtype=np.int64)


def _by_value(prep: Prepared) -> IntArray:
    """Requests in order of preference: value (mutual first, then weight), then request order."""
    return np.lexsort((np.arange(prep.value.size), -prep.value)).astype(np.int64)


def _announced_first(fill: _Fill) -> None:
    prep = fill.prep
    for a in np.flatnonzero(prep.keepable).tolist():
        r, t = int(prep.announced_request[a]), int(prep.instance.announced_slot[a])
        if fill.fits(r)[t]:
            fill.add(r, t)


def greedy(instance: Instance, mutual_first: bool = True) -> Schedule:
    """The baseline: announced meetings kept in their slots where they fit, then the requests in
    order of preference, each in the first slot free for both parties. The order is the
    requests' value (mutual first, then weight); with `mutual_first=False` the weight alone."""
    started = time.perf_counter()
    prep = prepare(instance)
    fill = _Fill(prep)
    _announced_first(fill)
    if mutual_first:
        fill.first_free(_by_value(prep))
    else:
        weight = instance.request_weight
        fill.first_free(np.lexsort((np.arange(weight.size), -weight)).astype(np.int64))
    request, slot = fill.arrays()
    return make_schedule(
        prep,
        request,
        slot,
        upper_bound=float("nan"),
        lp_bound=float("nan"),
        status="greedy",
        solver="greedy (first free slot)",
        parameters={"mutual_first": mutual_first},
        seconds=time.perf_counter() - started,
    )


def upper_bound(instance: Instance, time_limit_s: float = 60.0) -> float:
    """The LP relaxation of the aggregated model (pairs × sessions): no schedule is worth more."""
    return sessions_engine.lp_bound(prepare(instance), time_limit=time_limit_s)


def _from_sessions(prep: Prepared, outcome: sessions_engine.Outcome) -> tuple[IntArray, IntArray]:
    """Slots for the aggregated model's meetings, then a first-free-slot pass over the rest."""
    slot, _ = slots_engine.colour(prep, outcome.request, outcome.session, outcome.pinned)
    fill = _Fill(prep)
    for r, t in zip(outcome.request[slot >= 0].tolist(), slot[slot >= 0].tolist(), strict=True):
        fill.add(r, t)
    fill.first_free(_by_value(prep))
    return fill.arrays()


def solve(
    instance: Instance,
    time_limit_s: float = 60.0,
    seed: int = RANDOM_SEED,
    exact: bool = True,
) -> Schedule:
    """The best timetable found within `time_limit_s` seconds. `status`: "optimal" (within
    `MIP_GAP` of the bound), "feasible" (the gap is reported; too small, at most `EXACT_GAP`, to
    spend the exact stage on a large event), "time_limit" (the time ran out before the gap
    closed).
    `exact=False` skips the CP-SAT stage (step 4 of the module's description)."""
    started = time.perf_counter()
    deadline = started + float(time_limit_s)

    def left() -> float:
        return max(deadline - time.perf_counter(), 0.05)

    prep = prepare(instance)
    cols = sessions_engine.columns(prep)
    lp = sessions_engine.solve_sessions(prep, cols, integer=False, time_limit=left(), seed=seed)
    if lp.has_solution and lp.integral:  # the LP's vertex is 0/1: the MIP's optimum already
        mip = lp
    else:
        mip = sessions_engine.solve_sessions(prep, cols, integer=True, time_limit=left(), seed=seed)
    bound = min(lp.bound, mip.bound)
    fallback = greedy(instance)
    request, slot = fallback.request, fallback.slot
    if mip.has_solution:
        found = _from_sessions(prep, mip)
        if objective_of(prep, *found) >= fallback.objective:
            request, slot = found
    objective = objective_of(prep, request, slot)
    solvers = [solver_name()]
    parameters: dict[str, Any] = {
        "time_limit_s": float(time_limit_s),
        "seed": int(seed),
        "mip_gap": MIP_GAP,
        "exact": bool(exact),
        "exact_gap": EXACT_GAP,
    }
    n_vars = int(prep.common.sum())

    def gap() -> float:
        return 0.0 if bound - objective < 1 else (bound - objective) / max(bound, 1.0)

    status = "optimal" if gap() <= MIP_GAP else "feasible"
    if status == "feasible" and mip.status == "time_limit":
        status = "time_limit"
    worth = n_vars <= EXACT_ALWAYS_VARIABLES or gap() > EXACT_GAP
    if status == "feasible" and exact and worth and n_vars <= EXACT_MAX_VARIABLES and left() > 2.0:
        result = exact_engine.solve_exact(prep, request, slot, time_limit=left(), seed=seed)
        solvers.append(result.version)
        parameters["exact_workers"] = exact_engine.WORKERS
        if result.has_solution and objective_of(prep, result.request, result.slot) > objective:
            request, slot = result.request, result.slot
            objective = objective_of(prep, request, slot)
        bound = min(bound, result.bound)
        status = "optimal" if gap() <= MIP_GAP else "time_limit"
    return make_schedule(
        prep,
        request,
        slot,
        upper_bound=max(bound, float(objective)),
        lp_bound=lp.bound,
        status=status,
        solver=" + ".join(solvers),
        parameters=parameters,
        seconds=time.perf_counter() - started,
    )


def reschedule(instance: Instance, time_limit_s: float = 60.0, seed: int = RANDOM_SEED) -> Schedule:
    """`solve` for an instance with announced meetings: the fewest changes to them first."""
    return solve(instance, time_limit_s=time_limit_s, seed=seed)


def announce(instance: Instance, schedule: Schedule) -> Instance:
    """`instance` with `schedule`'s meetings as its announced meetings."""
    return dataclasses.replace(
        instance,
        announced_enterprise=schedule.enterprise.copy(),
        announced_institution=schedule.institution.copy(),
        announced_slot=schedule.slot.copy(),
    )
