"""Slots for meetings already given a session: a bipartite edge colouring (König).

Each institution is split into its desks (and an enterprise into its seats, in a many-to-one
session); a seat and a desk are vertices, a meeting an edge, a slot a colour. When every
enterprise has at most as many meetings in a session as it has seats × slots there, and every
institution at most desks × slots, König's theorem says the meetings fit; the alternating-path
(Kempe chain) construction below finds the colouring: put the meeting in a slot free at both
ends, else swap two slots along an alternating path from the desk, which frees one. An
unavailable slot, and an announced meeting kept in its slot, are edges that never move; a swap
that would move one is refused and another pair of slots tried. A meeting that finds no slot is
returned unplaced (only unavailability or kept meetings can cause it).

"""

from __future__ import annotations

import numpy as np

from innofin.events.scheduling.instance_engine import IntArray, Prepared

FREE = -1
BLOCKED = -2


class _Board:
    """Who meets whom in which slot: `occ[v][t]` is the meeting (edge) of vertex v in slot t,
    FREE or BLOCKED. Vertices are the enterprises' seats (one, or a session's group size in a
    many-to-one session: the seats beyond it are blocked elsewhere), then every desk of every
    institution."""

    def __init__(self, prep: Prepared) -> None:
        inst = prep.instance
        assert inst.session_group_size is not None
        self.n_slots = inst.n_slots
        g = int(inst.session_group_size.max())
        self.group = g
        n_seats = inst.n_enterprises * g
        self.desk_start = np.r_[0, np.cumsum(inst.desks)].astype(np.int64) + n_seats
        seat_free = prep.enterprise_free[:, None, :] & (np.arange(g)[:, None] < inst.seats)[None]
        blocked_e = np.where(seat_free.reshape(n_seats, inst.n_slots), FREE, BLOCKED)
        blocked_i = np.repeat(np.where(prep.institution_free, FREE, BLOCKED), inst.desks, axis=0)
        n_vertices = n_seats + int(inst.desks.sum())
        self.occ: list[list[int]] = np.vstack([blocked_e, blocked_i]).tolist() if n_vertices else []
        self.ends: list[tuple[int, int]] = []  # edge → (seat vertex, desk vertex)
        self.colour: list[int] = []
        self.fixed: list[bool] = []
        self.request: list[int] = []

    def seats(self, enterprise: int) -> range:
        return range(enterprise * self.group, (enterprise + 1) * self.group)

    def desks(self, institution: int) -> range:
        return range(int(self.desk_start[institution]), int(self.desk_start[institution + 1]))

    def free_pair(self, enterprise: int, institution: int, t: int) -> tuple[int, int] | None:
        """A seat and a desk both free in slot t."""
        e = next((e for e in self.seats(enterprise) if self.occ[e][t] == FREE), None)
        d = next((d for d in self.desks(institution) if self.occ[d][t] == FREE), None)
        return None if e is None or d is None else (e, d)

    def put(self, request: int, e: int, d: int, t: int, fixed: bool) -> None:
        edge = len(self.ends)
        self.ends.append((e, d))
        self.colour.append(t)
        self.fixed.append(fixed)
        self.request.append(request)
        self.occ[e][t] = edge
        self.occ[d][t] = edge

    def first_fit(self, request: int, enterprise: int, institution: int, slots: range) -> bool:
        for t in slots:
            pair = self.free_pair(enterprise, institution, t)
            if pair is not None:
                self.put(request, pair[0], pair[1], t, False)
                return True
        return False

    def _swap(self, start: int, a: int, b: int) -> bool:
        """Swaps slots a and b along the alternating path that leaves `start` by its slot-a
        meeting; False (nothing changed) when the path meets a meeting or slot that cannot move."""
        path: list[int] = []
        v, want, other = start, a, b
        while True:
            edge = self.occ[v][want]
            if edge == FREE:
                break
            if edge == BLOCKED or self.fixed[edge]:
                return False
            path.append(edge)
            e, d = self.ends[edge]
            v = d if v == e else e
            want, other = other, want
        for edge in path:
            e, d = self.ends[edge]
            c = self.colour[edge]
            self.occ[e][c] = FREE
            self.occ[d][c] = FREE
        for edge in path:
            e, d = self.ends[edge]
            c = b if self.colour[edge] == a else a
            self.colour[edge] = c
            self.occ[e][c] = edge
            self.occ[d][c] = edge
        return True

    def place(self, request: int, enterprise: int, institution: int, slots: range) -> bool:
        if self.first_fit(request, enterprise, institution, slots):
            return True
        for e in self.seats(enterprise):
            free_e = [t for t in slots if self.occ[e][t] == FREE]
            for d in self.desks(institution):
                free_d = [t for t in slots if self.occ[d][t] == FREE]
                for a in free_e:
                    for b in free_d:
                        if self._swap(d, a, b):
                            assert self.occ[e][a] == FREE and self.occ[d][a] == FREE
                            self.put(request, e, d, a, False)
                            return True
        return False


def colour(
    prep: Prepared,
    request: IntArray,
    session: IntArray,
    pinned: IntArray,
) -> tuple[IntArray, IntArray]:
    """Slots for the meetings `request` in their `session`s; `pinned[k]` ≥ 0 asks for that slot
    (an announced meeting kept in place: tried first, then never moved). Returns (slot of each
    meeting, or -1 where none was found, in the order given) and the pinned meetings that could
    not have their slot."""
    inst = prep.instance
    board = _Board(prep)
    ent, ins = inst.request_enterprise, inst.request_institution
    first = prep.session_first
    size = prep.session_size
    slot = np.full(request.size, -1, dtype=np.int64)
    lost_pin: list[int] = []
    for k in np.flatnonzero(pinned >= 0).tolist():
        r, t = int(request[k]), int(pinned[k])
        pair = board.free_pair(int(ent[r]), int(ins[r]), t)
        if pair is not None:
            board.put(r, pair[0], pair[1], t, True)
            slot[k] = t
            continue
        lost_pin.append(k)
    rest = np.flatnonzero(slot < 0)
    rest = rest[np.argsort(-prep.value[request[rest]], kind="stable")]
    for k in rest.tolist():
        r, s = int(request[k]), int(session[k])
        slots = range(int(first[s]), int(first[s] + size[s]))
        if board.place(r, int(ent[r]), int(ins[r]), slots):
            slot[k] = -2  # placed; its slot may still change by later swaps
    # read the slots back (swaps move meetings after they are placed)
    at = dict(zip(board.request, board.colour, strict=True))
    for k in np.flatnonzero(slot == -2).tolist():
        slot[k] = at[int(request[k])]
    return slot, np.asarray(lost_pin, dtype=np.int64)
