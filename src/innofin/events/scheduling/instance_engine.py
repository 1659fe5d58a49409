"""The timetable's input and output as plain values (`Instance`, `Schedule`), the values of
meetings, and what the solvers share: the arrays derived once from an instance (`Prepared`), the
objective of a set of meetings, desk numbers, and the reason each request left out was left out.

`innofin.events.scheduling.engine` is the public face; it re-exports `Instance`, `Schedule`,
`REASONS` and `OUTCOMES` from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from innofin.kernel.errors import InvalidArgument

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: why a request has no meeting, in the order they are tested (the first that applies is given)
REASONS = (
    "no_common_slot",  # the two parties are never both available (or the institution has no desk)
    "institution_full",  # no slot has a free desk within the institution's caps
    "enterprise_full",  # no slot is free for the enterprise within its caps
    "no_common_free_slot",  # both have room, but never in the same slot
    "left_out",  # a common free slot remains: a better schedule could hold it (time limit, greedy)
)
#: what became of each announced meeting when re-scheduling
OUTCOMES = (
    "kept",  # the same pair in the same slot
    "moved",  # the same pair in another slot
    "dropped",  # the request stands but the meeting could not be held
    "cancelled",  # the request is gone (a party or the request was withdrawn)
)


def _empty() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _ints(name: str, value: Any, size: int | None, low: int = 0) -> IntArray:
    array = np.asarray(value)
    if array.dtype == np.bool_ or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InvalidArgument(f"{name}: integers expected", field=name)
    array = array.astype(np.int64).reshape(-1)
    if size is not None and array.size != size:
        raise InvalidArgument(f"{name}: {size} values expected, not {array.size}", field=name)
    if array.size and int(array.min()) < low:
        raise InvalidArgument(f"{name}: values must be at least {low}", field=name)
    return array


def _below(name: str, array: IntArray, bound: int) -> None:
    if array.size and int(array.max()) >= bound:
        raise InvalidArgument(f"{name}: values must be below {bound}", field=name)


def _flags(name: str, value: Any, shape: tuple[int, ...]) -> BoolArray:
    array = np.asarray(value, dtype=np.bool_)
    if array.shape != shape:
        raise InvalidArgument(f"{name}: shape {shape} expected, not {array.shape}", field=name)
    return array


@dataclass(frozen=True, eq=False)
class Instance:
    """One event's timetabling problem; participants and slots are numbered from 0.

    - `desks[i]`: tables of institution i (its meetings in one slot; 0: it holds none);
    - `request_*`: one row per requested pair (enterprise, institution), each pair once: its
      preference `weight` (an integer ≥ 1, the caller combines both sides' ranks into it) and
      whether both sides asked (`mutual`);
    - `session_of_slot[t]`: the session of slot t (0, 1, …, non-decreasing; default one session);
    - caps, each optional: meetings per enterprise / institution in the whole event, and per
      session;
    - `*_unavailable[p, t]`: participant p cannot meet in slot t;
    - `announced_*`: meetings already announced (enterprise, institution, slot), kept where
      possible when the instance is solved again after late registrations or cancellations;
    - `session_group_size[s]`: how many institutions may meet one enterprise at once in session
      s (default 1: one-to-one; more for a many-to-one session, as zone service centres run
      them — each institution still counts one meeting at one of its desks).
    """

    n_enterprises: int
    n_institutions: int
    n_slots: int
    desks: IntArray
    request_enterprise: IntArray
    request_institution: IntArray
    request_weight: IntArray
    request_mutual: BoolArray
    session_of_slot: IntArray | None = None
    enterprise_cap: IntArray | None = None
    institution_cap: IntArray | None = None
    enterprise_session_cap: IntArray | None = None
    institution_session_cap: IntArray | None = None
    enterprise_unavailable: BoolArray | None = None
    institution_unavailable: BoolArray | None = None
    announced_enterprise: IntArray = field(default_factory=_empty)
    announced_institution: IntArray = field(default_factory=_empty)
    announced_slot: IntArray = field(default_factory=_empty)
    session_group_size: IntArray | None = None

    def __post_init__(self) -> None:
        n_e, n_i, n_t = int(self.n_enterprises), int(self.n_institutions), int(self.n_slots)
        if n_e < 0 or n_i < 0 or n_t < 1:
            raise InvalidArgument("n_slots: at least one slot is needed", field="n_slots")
        put = object.__setattr__
        put(self, "n_enterprises", n_e)
        put(self, "n_institutions", n_i)
        put(self, "n_slots", n_t)
        put(self, "desks", _ints("desks", self.desks, n_i))
        ent = _ints("request_enterprise", self.request_enterprise, None)
        n_r = ent.size
        _below("request_enterprise", ent, n_e)
        inst = _ints("request_institution", self.request_institution, n_r)
        _below("request_institution", inst, n_i)
        put(self, "request_enterprise", ent)
        put(self, "request_institution", inst)
        put(self, "request_weight", _ints("request_weight", self.request_weight, n_r, low=1))
        put(self, "request_mutual", _flags("request_mutual", self.request_mutual, (n_r,)))
        keys = ent * max(n_i, 1) + inst
        if np.unique(keys).size != n_r:
            raise InvalidArgument(
                "request_institution: a pair is requested twice", field="request_institution"
            )
        sessions = (
            np.zeros(n_t, dtype=np.int64)
            if self.session_of_slot is None
            else _ints("session_of_slot", self.session_of_slot, n_t)
        )
        if sessions[0] != 0 or np.any(np.diff(sessions) < 0) or np.any(np.diff(sessions) > 1):
            raise InvalidArgument(
                "session_of_slot: sessions are numbered 0, 1, … in slot order",
                field="session_of_slot",
            )
        put(self, "session_of_slot", sessions)
        for name, size in (
            ("enterprise_cap", n_e),
            ("institution_cap", n_i),
            ("enterprise_session_cap", n_e),
            ("institution_session_cap", n_i),
        ):
            if getattr(self, name) is not None:
                put(self, name, _ints(name, getattr(self, name), size))
        for name, size in (("enterprise_unavailable", n_e), ("institution_unavailable", n_i)):
            if getattr(self, name) is not None:
                put(self, name, _flags(name, getattr(self, name), (size, n_t)))
        a_ent = _ints("announced_enterprise", self.announced_enterprise, None)
        _below("announced_enterprise", a_ent, n_e)
        a_inst = _ints("announced_institution", self.announced_institution, a_ent.size)
        _below("announced_institution", a_inst, n_i)
        a_slot = _ints("announced_slot", self.announced_slot, a_ent.size)
        _below("announced_slot", a_slot, n_t)
        if np.unique(a_ent * max(n_i, 1) + a_inst).size != a_ent.size:
            raise InvalidArgument(
                "announced_institution: a pair is announced twice", field="announced_institution"
            )
        put(self, "announced_enterprise", a_ent)
        put(self, "announced_institution", a_inst)
        put(self, "announced_slot", a_slot)
        n_s = int(sessions[-1]) + 1
        groups = (
            np.ones(n_s, dtype=np.int64)
            if self.session_group_size is None
            else _ints("session_group_size", self.session_group_size, n_s, low=1)
        )
        put(self, "session_group_size", groups)

    @property
    def n_requests(self) -> int:
        return int(self.request_enterprise.size)

    @property
    def n_sessions(self) -> int:
        assert self.session_of_slot is not None
        return int(self.session_of_slot[-1]) + 1

    @property
    def seats(self) -> IntArray:
        """(T,) meetings one enterprise may hold at once in each slot (its session's group)."""
        assert self.session_of_slot is not None and self.session_group_size is not None
        return self.session_group_size[self.session_of_slot]


@dataclass(frozen=True, eq=False)
class Schedule:
    """A timetable: one row per meeting (sorted by slot, institution, desk), with what the solve
    knows of its quality and the requests it could not place.

    `objective` is the schedule's value (`meeting_values`, plus `keep_bonus` per announced meeting
    kept in its slot); `upper_bound` a proven bound on any schedule's value and `gap` =
    (bound − objective) / bound (NaN for greedy, which proves nothing); `lp_bound` the LP
    relaxation's value. `unscheduled` lists the requests without a meeting, each with a reason of
    `REASONS`; `announced_outcome` one of `OUTCOMES` per announced meeting of the instance.
    """

    request: IntArray
    enterprise: IntArray
    institution: IntArray
    slot: IntArray
    desk: IntArray
    weight: IntArray
    mutual: BoolArray
    objective: int
    upper_bound: float
    lp_bound: float
    gap: float
    status: str
    solver: str
    parameters: dict[str, Any]
    unscheduled: IntArray
    unscheduled_reason: tuple[str, ...]
    announced_outcome: tuple[str, ...]
    seconds: float

    @property
    def n_meetings(self) -> int:
        return int(self.request.size)

    @property
    def n_mutual(self) -> int:
        return int(self.mutual.sum())

    @property
    def total_weight(self) -> int:
        return int(self.weight.sum())

    def reasons(self) -> dict[str, int]:
        """How many requests were left out for each reason."""
        return {
            r: self.unscheduled_reason.count(r) for r in REASONS if r in self.unscheduled_reason
        }


def meeting_values(instance: Instance) -> IntArray:
    """The value of holding each request: its weight, plus for a mutual request twice the largest
    weight — so a mutual meeting outweighs any two one-sided ones ("mutual requests first")."""
    w = instance.request_weight
    bonus = 2 * int(w.max()) if w.size else 0
    return w + bonus * instance.request_mutual.astype(np.int64)


def keep_bonus(instance: Instance) -> int:
    """The value of keeping an announced meeting in its slot: more than any two meetings, so a
    schedule gives one up only where it cannot be kept (a kept meeting, put back, displaces at
    most one meeting at each party)."""
    v = meeting_values(instance)
    return 2 * int(v.max()) + 1 if v.size else 1


@dataclass(frozen=True, eq=False)
class Prepared:
    """What every solver derives from an instance, once."""

    instance: Instance
    value: IntArray  # (R,) meeting values
    keep: int  # keep bonus
    enterprise_free: BoolArray  # (E, T) available
    institution_free: BoolArray  # (I, T) available and with desks
    common: BoolArray  # (R, T) both parties available
    session_first: IntArray  # (S,) first slot of each session
    session_size: IntArray  # (S,) slots in each session
    enterprise_session_room: IntArray  # (E, S) meetings an enterprise can have in a session
    institution_session_room: IntArray  # (I, S) meetings an institution can have in a session
    enterprise_room: IntArray  # (E,) in the event
    institution_room: IntArray  # (I,)
    announced_request: IntArray  # (A,) request of each announced meeting, -1 when cancelled
    keepable: BoolArray  # (A,) its request stands and both are available in its slot


BIG = 1 << 40


def prepare(instance: Instance) -> Prepared:
    n_e, n_i, n_t = instance.n_enterprises, instance.n_institutions, instance.n_slots
    e_free = np.ones((n_e, n_t), dtype=np.bool_)
    if instance.enterprise_unavailable is not None:
        e_free &= ~instance.enterprise_unavailable
    i_free = np.repeat((instance.desks > 0)[:, None], n_t, axis=1)
    if instance.institution_unavailable is not None:
        i_free &= ~instance.institution_unavailable
    ent, inst = instance.request_enterprise, instance.request_institution
    common = e_free[ent] & i_free[inst]
    sessions = instance.session_of_slot
    assert sessions is not None
    n_s = instance.n_sessions
    first = np.searchsorted(sessions, np.arange(n_s)).astype(np.int64)
    size = np.bincount(sessions, minlength=n_s).astype(np.int64)
    e_seat_slots = e_free.astype(np.int64) * instance.seats[None, :]
    e_room_s = np.add.reduceat(e_seat_slots, first, axis=1) if n_e else np.zeros((0, n_s), np.int64)
    i_desk_slots = i_free.astype(np.int64) * instance.desks[:, None]
    i_room_s = np.add.reduceat(i_desk_slots, first, axis=1) if n_i else np.zeros((0, n_s), np.int64)
    if instance.enterprise_session_cap is not None:
        e_room_s = np.minimum(e_room_s, instance.enterprise_session_cap[:, None])
    if instance.institution_session_cap is not None:
        i_room_s = np.minimum(i_room_s, instance.institution_session_cap[:, None])
    e_room = e_room_s.sum(axis=1)
    i_room = i_room_s.sum(axis=1)
    if instance.enterprise_cap is not None:
        e_room = np.minimum(e_room, instance.enterprise_cap)
    if instance.institution_cap is not None:
        i_room = np.minimum(i_room, instance.institution_cap)
    # announced meetings → requests (by pair)
    keys = ent * max(n_i, 1) + inst
    a_keys = instance.announced_enterprise * max(n_i, 1) + instance.announced_institution
    a_req = np.full(a_keys.size, -1, dtype=np.int64)
    if keys.size and a_keys.size:
        order = np.argsort(keys, kind="stable")
        pos = np.searchsorted(keys[order], a_keys).clip(0, keys.size - 1)
        a_req = np.where(keys[order][pos] == a_keys, order[pos], -1).astype(np.int64)
    keepable = a_req >= 0
    if keepable.any():
        keepable[keepable] = common[a_req[keepable], instance.announced_slot[keepable]]
    return Prepared(
        instance=instance,
        value=meeting_values(instance),
        keep=keep_bonus(instance),
        enterprise_free=e_free,
        institution_free=i_free,
        common=common,
        session_first=first,
        session_size=size,
        enterprise_session_room=e_room_s.astype(np.int64),
        institution_session_room=i_room_s.astype(np.int64),
        enterprise_room=e_room.astype(np.int64),
        institution_room=i_room.astype(np.int64),
        announced_request=a_req,
        keepable=keepable,
    )


def kept_in_place(prep: Prepared, request: IntArray, slot: IntArray) -> BoolArray:
    """(A,) whether each announced meeting is held by the same pair in the same slot."""
    a_req = prep.announced_request
    at = np.full(prep.instance.n_requests + 1, -1, dtype=np.int64)  # the last: no request
    at[request] = slot
    held_slot = at[a_req]
    kept: BoolArray = (a_req >= 0) & (held_slot == prep.instance.announced_slot) & prep.keepable
    return kept


def objective_of(prep: Prepared, request: IntArray, slot: IntArray) -> int:
    kept = kept_in_place(prep, request, slot)
    return int(prep.value[request].sum()) + prep.keep * int(kept.sum())


def desks_of(prep: Prepared, request: IntArray, slot: IntArray, first: BoolArray) -> IntArray:
    """Desk numbers 0, 1, … within each (institution, slot), the meetings marked `first` (kept
    announced ones) taking the lowest."""
    inst = prep.instance.request_institution[request]
    order = np.lexsort((request, ~first, slot, inst))
    group = inst[order] * prep.instance.n_slots + slot[order]
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1] if group.size else _empty()
    rank = np.arange(group.size) - np.repeat(starts, np.diff(np.r_[starts, group.size]))
    desk = np.empty(request.size, dtype=np.int64)
    desk[order] = rank
    return desk


def reasons_for(
    prep: Prepared, request: IntArray, slot: IntArray
) -> tuple[IntArray, tuple[str, ...]]:
    """The requests without a meeting, each with the first reason of `REASONS` that applies."""
    inst = prep.instance
    n_r, n_t = inst.n_requests, inst.n_slots
    held = np.zeros(n_r, dtype=np.bool_)
    held[request] = True
    left = np.flatnonzero(~held)
    ent, ins = inst.request_enterprise, inst.request_institution
    e_load = np.zeros((inst.n_enterprises, n_t), dtype=np.int64)
    np.add.at(e_load, (ent[request], slot), 1)
    i_load = np.zeros((inst.n_institutions, n_t), dtype=np.int64)
    np.add.at(i_load, (ins[request], slot), 1)
    e_count = np.bincount(ent[request], minlength=inst.n_enterprises)
    i_count = np.bincount(ins[request], minlength=inst.n_institutions)
    sessions = inst.session_of_slot
    assert sessions is not None
    e_count_s = np.zeros((inst.n_enterprises, inst.n_sessions), dtype=np.int64)
    np.add.at(e_count_s, (ent[request], sessions[slot]), 1)
    i_count_s = np.zeros((inst.n_institutions, inst.n_sessions), dtype=np.int64)
    np.add.at(i_count_s, (ins[request], sessions[slot]), 1)
    e_l, i_l = ent[left], ins[left]
    # room per slot: free now, and its session and the event not at their caps
    e_ok = prep.enterprise_free[e_l] & (e_load[e_l] < inst.seats[None, :])
    e_ok &= (e_count_s[e_l] < prep.enterprise_session_room[e_l])[:, sessions]
    e_ok &= (e_count[e_l] < prep.enterprise_room[e_l])[:, None]
    i_ok = prep.institution_free[i_l] & (i_load[i_l] < inst.desks[i_l][:, None])
    i_ok &= (i_count_s[i_l] < prep.institution_session_room[i_l])[:, sessions]
    i_ok &= (i_count[i_l] < prep.institution_room[i_l])[:, None]
    code = np.full(left.size, 4, dtype=np.int64)
    code[~(e_ok & i_ok).any(axis=1)] = 3
    code[~e_ok.any(axis=1)] = 2
    code[~i_ok.any(axis=1)] = 1
    code[~prep.common[left].any(axis=1)] = 0
    return left, tuple(REASONS[c] for c in code)


def outcomes(prep: Prepared, request: IntArray, slot: IntArray) -> tuple[str, ...]:
    kept = kept_in_place(prep, request, slot)
    held = np.zeros(prep.instance.n_requests, dtype=np.bool_)
    held[request] = True
    a_req = prep.announced_request
    result = []
    for k, r in zip(kept.tolist(), a_req.tolist(), strict=True):
        if r < 0:
            result.append("cancelled")
        elif k:
            result.append("kept")
        elif held[r]:
            result.append("moved")
        else:
            result.append("dropped")
    return tuple(result)


def make_schedule(
    prep: Prepared,
    request: IntArray,
    slot: IntArray,
    *,
    upper_bound: float,
    lp_bound: float,
    status: str,
    solver: str,
    parameters: dict[str, Any],
    seconds: float,
) -> Schedule:
    inst = prep.instance
    request = np.asarray(request, dtype=np.int64)
    slot = np.asarray(slot, dtype=np.int64)
    kept = kept_in_place(prep, request, slot)
    first = np.zeros(request.size, dtype=np.bool_)
    at = {r: i for i, r in enumerate(request.tolist())}
    for a in np.flatnonzero(kept).tolist():
        first[at[int(prep.announced_request[a])]] = True
    desk = desks_of(prep, request, slot, first)
    order = np.lexsort((desk, inst.request_institution[request], slot))
    request, slot, desk = request[order], slot[order], desk[order]
    objective = objective_of(prep, request, slot)
    gap = (upper_bound - objective) / upper_bound if upper_bound > 0 else 0.0
    if not np.isfinite(upper_bound):
        gap = float("nan")
    left, why = reasons_for(prep, request, slot)
    return Schedule(
        request=request,
        enterprise=inst.request_enterprise[request],
        institution=inst.request_institution[request],
        slot=slot,
        desk=desk,
        weight=inst.request_weight[request],
        mutual=inst.request_mutual[request],
        objective=objective,
        upper_bound=float(upper_bound),
        lp_bound=float(lp_bound),
        gap=float(max(gap, 0.0)) if np.isfinite(gap) else gap,
        status=status,
        solver=solver,
        parameters=parameters,
        unscheduled=left,
        unscheduled_reason=why,
        announced_outcome=outcomes(prep, request, slot),
        seconds=seconds,
    )
