"""An allocation in exact money: whole fen per need from a solver's shares (a share paid in
whole yuan, the solver's tolerance trimmed so every limit holds to the fen), whole fen per
commitment and group, the pieces (need, commitment, fen) by cumulative sums, and the greedy that
funds needs one by one — first-come-first-served, and the top-up of a solver's point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from innofin.matching.allocation.instance_engine import (
    WAN,
    FloatArray,
    IntArray,
    Problem,
    fundable,
    groups,
)


def fen_of_share(problem: Problem, u: IntArray, share: FloatArray) -> IntArray:
    """Whole fen funded per need from the solver's shares: all of it, or a share of at least
    `min_share` in whole yuan, or nothing."""
    part = (np.floor(share * u / 100 + 1e-6) * 100).astype(np.int64)
    part = np.minimum(part, u)
    full = share >= 1 - 1e-6
    least = np.ceil(u * min(problem.min_share, 1.0) - 1e-9)
    # a share within the solver's tolerance below the least one is the least one (in whole
    # yuan); what that puts over a limit `exact` trims
    least_yuan = np.minimum(np.ceil(least / 100) * 100, u)
    part = np.where((part < least) & (share * u >= least - 1e-6 * u), least_yuan, part)
    return np.where(full, u, np.where(part >= np.maximum(least, 1), part, 0)).astype(np.int64)


def to_fen(targets: FloatArray, caps: IntArray, pair_c: IntArray, pair_g: IntArray,
            totals: IntArray) -> tuple[IntArray, IntArray]:  # fmt: skip
    """Whole fen per (commitment, group) pair summing exactly to each group's funded total and
    staying within each commitment's capacity, and the fen per group it could not place (the
    solver's tolerance: `exact` funds those groups that much less)."""
    t = np.clip(np.floor(targets * WAN + 1e-6).astype(np.int64), 0, None)
    t = np.minimum(t, caps[pair_c])
    n_groups = totals.size
    sent = np.bincount(pair_g, weights=t, minlength=n_groups).astype(np.int64)
    short = totals - sent
    unplaced = np.zeros(n_groups, dtype=np.int64)
    if not short.any():
        return t, unplaced
    used = np.bincount(pair_c, weights=t, minlength=caps.size).astype(np.int64)
    for g in np.flatnonzero(short):  # a few fen per group left by rounding
        need = int(short[g])
        for p in np.flatnonzero(pair_g == g):
            c = int(pair_c[p])
            step = max(min(need, int(caps[c] - used[c])), 0) if need > 0 else -min(-need, int(t[p]))
            t[p] += step
            used[c] += step
            need -= step
            if need == 0:
                break
        unplaced[g] = need
    return t, unplaced


def trim(problem: Problem, u: IntArray, got: IntArray, key: IntArray, over: IntArray) -> None:
    """Fund the needs of each key (enterprise, field, zone or group) `over[key]` fen less, in
    place: a few fen or yuan over a limit left by the solver's tolerance. The least valuable
    need gives them up (down to its least share, in whole yuan), or, where none can, is left
    out until the key is within its limit."""
    least = np.ceil(u * min(problem.min_share, 1.0) - 1e-9).astype(np.int64)
    for k in np.flatnonzero(over > 0):
        left = int(over[k])
        members = np.flatnonzero((key == k) & (got > 0))
        for i in members[np.argsort(problem.weight[members], kind="stable")].tolist():
            new = (int(got[i]) - left) // 100 * 100
            if new >= least[i] and new > 0:
                left -= int(got[i]) - new
                got[i] = new
                break
        for i in members[np.argsort(problem.weight[members], kind="stable")].tolist():
            if left <= 0:
                break
            left -= int(got[i])
            got[i] = 0


def exact(
    problem: Problem,
    u: IntArray,
    group: IntArray,
    n_groups: int,
    share: FloatArray,
    flows: FloatArray,
    pair_c: IntArray,
    pair_g: IntArray,
) -> tuple[IntArray, IntArray]:
    """Whole fen per need and per (commitment, group) pair from a solver's shares and its flows
    (万元 per pair), every limit kept exactly: what the solver's tolerance puts over a limit is
    trimmed (`trim`)."""
    pairs = pair_c.size
    got = fen_of_share(problem, u, share)
    firm = np.unique(problem.enterprise, return_inverse=True)[1]
    limits = [(firm, None), (problem.need_field, problem.field_max),
              (problem.need_zone, problem.zone_max)]  # fmt: skip
    for key, top in limits:
        total = np.bincount(key, weights=got).astype(np.int64)
        if top is None:
            cap = problem.enterprise_cap if problem.enterprise_cap > 0 else np.iinfo(np.int64).max
            over = total - cap
        else:
            over = np.where(top[: total.size] >= 0, total - top[: total.size], 0)
        if (over > 0).any():
            trim(problem, u, got, key, over)
    while True:
        totals = np.bincount(group, weights=got, minlength=n_groups).astype(np.int64)
        t, unplaced = to_fen(flows[:pairs], problem.capacity, pair_c, pair_g, totals)
        if not unplaced.any():
            return got, t
        trim(problem, u, got, group, unplaced)


def split(
    funded_fen: IntArray,
    group: IntArray,
    pair_c: IntArray,
    pair_g: IntArray,
    t: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Pieces (need, commitment, fen): each group's funded needs, in order, filled from its
    commitments' amounts, by cumulative sums over all groups at once."""
    needs = np.flatnonzero(funded_fen > 0)
    needs = needs[np.lexsort((needs, group[needs]))]
    pairs = np.flatnonzero(t > 0)
    pairs = pairs[np.lexsort((pair_c[pairs], pair_g[pairs]))]
    need_end = np.cumsum(funded_fen[needs])
    pair_end = np.cumsum(t[pairs])
    if need_end.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    points = np.union1d(need_end, pair_end)
    lengths = np.diff(np.concatenate([[0], points]))
    keep = lengths > 0
    points, lengths = points[keep], lengths[keep]
    which_need = needs[np.searchsorted(need_end, points, side="left")]
    which_pair = pairs[np.searchsorted(pair_end, points, side="left")]
    return which_need, pair_c[which_pair], lengths.astype(np.int64)


@dataclass
class State:
    """What is left while needs are added one by one."""

    field_left: IntArray
    zone_left: IntArray
    cap_left: IntArray  # per commitment
    ent_used: dict[int, int]
    sent: IntArray  # fen per commitment × group


def new_state(problem: Problem, n_groups: int) -> State:
    big = np.iinfo(np.int64).max
    return State(
        field_left=np.where(problem.field_max >= 0, problem.field_max, big).astype(np.int64),
        zone_left=np.where(problem.zone_max >= 0, problem.zone_max, big).astype(np.int64),
        cap_left=problem.capacity.astype(np.int64).copy(),
        ent_used={},
        sent=np.zeros((problem.capacity.size, n_groups), dtype=np.int64),
    )


def greedy(
    problem: Problem,
    u: IntArray,
    group: IntArray,
    order: IntArray,
    state: State,
    funded: IntArray,
) -> None:
    """Fund the needs of `order` in turn where every quota, the enterprise's cap and some
    commitments covering the need (field- and zone-specific ones first) still have room.
    Sequential by definition: one step per need (first-come-first-served, and the repair of
    the LP's rounding)."""
    cf, cz = problem.commitment_field, problem.commitment_zone
    specific = (cf >= 0).astype(np.int64) + (cz >= 0).astype(np.int64)
    cap = int(problem.enterprise_cap)
    covers_of: dict[int, IntArray] = {}
    least = np.ceil(u * min(problem.min_share, 1.0)).astype(np.int64)
    for i in order:
        f, z, g = int(problem.need_field[i]), int(problem.need_zone[i]), int(group[i])
        e = int(problem.enterprise[i])
        covers = covers_of.get(g)
        if covers is None:
            covers = np.flatnonzero(((cf < 0) | (cf == f)) & ((cz < 0) | (cz == z)))
            covers = covers[np.argsort(-specific[covers], kind="stable")]
            covers_of[g] = covers
        room = state.cap_left[covers]
        have = int(funded[i])
        a = min(
            int(u[i]) - have,
            int(state.field_left[f]),
            int(state.zone_left[z]),
            int(room.sum()),
            cap - state.ent_used.get(e, 0) if cap > 0 else int(u[i]),
        )
        if have + a < int(u[i]):
            a -= (have + a) % 100  # a share is funded in whole yuan
        if have + a < least[i] or a <= 0:
            continue
        take = np.minimum(room, np.maximum(a - (np.cumsum(room) - room), 0))
        state.cap_left[covers] -= take
        state.sent[covers, g] += take
        state.field_left[f] -= a
        state.zone_left[z] -= a
        state.ent_used[e] = state.ent_used.get(e, 0) + a
        funded[i] = have + a


def fcfs(problem: Problem) -> tuple[IntArray, float]:
    """First come, first served: each need in arrival order is funded if every quota, the
    enterprise's cap and some commitment covering it still have room. Zone floors are not known
    to it."""
    u = fundable(problem)
    group, gf, _gz = groups(problem)
    funded = np.zeros(u.size, dtype=np.int64)
    greedy(problem, u, group, np.arange(u.size), new_state(problem, gf.size), funded)
    return funded, float(((funded / WAN) * problem.weight).sum())
