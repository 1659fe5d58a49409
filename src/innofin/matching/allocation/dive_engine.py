"""From the LP relaxation of special-credit allocation to whole-fen integer points, without the
database: the dives and the enterprises' pair inequalities of `engine.solve`.

The LP's point funds some needs below their least share — mostly where an enterprise's cap
binds and the LP fills it with a sliver of another need, which costs the LP nothing when the
firm's needs share one weight (its points). A dive (`_dive`) settles those needs, each held at
its least share or left out, re-solving the LP from its basis until no need is below its least
share; the point, rounded down (`_round_down`), in whole fen and topped up greedily (`_repair`),
is an integer solution whose gap is measured against the LP bound. `_dives` tries the holds of
`DIVE_HOLD` in turn until one is within the gap. Where a firm's needs are weighted differently,
`_pair_cuts` tightens the relaxation with valid inequalities of the per-enterprise cap first.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import highspy
import numpy as np

from innofin.kernel.highs import HIGHS_INT
from innofin.matching.allocation.instance_engine import WAN, FloatArray, IntArray, Problem
from innofin.matching.allocation.money_engine import exact, greedy, new_state

if TYPE_CHECKING:
    from innofin.matching.allocation.engine import _Model

#: the most times the LP is solved again while a dive settles needs funded below the least share
DIVE_ROUNDS = 50
#: the dives tried in turn (until one is within the gap): a need the LP funds below its least
#: share is held at that share if the LP funds at least this fraction of it (else left out)
DIVE_HOLD = (0.0, 0.3, 0.5)
#: the most rounds of the enterprises' pair inequalities added to the LP (`_pair_cuts`)
CUT_ROUNDS = 8


def _round_down(
    problem: Problem, model: _Model, u: IntArray, group: IntArray, n_groups: int, x: FloatArray
) -> FloatArray:
    """A feasible point from the LP relaxation: fractional needs dropped, each group's
    transport scaled down to what its remaining needs take, floors' slack refilled."""
    n, pairs = model.n, model.pair_c.size
    out = x.copy()
    share = x[:n]
    y = np.where(share >= 1 - 1e-6, 1.0, np.where(share >= problem.min_share - 1e-9, share, 0.0))
    out[:n] = y
    uw = u / WAN
    before = np.bincount(group, weights=uw * x[:n], minlength=n_groups)
    after = np.bincount(group, weights=uw * y, minlength=n_groups)
    scale = np.divide(after, before, out=np.zeros(n_groups), where=before > 0)
    z = x[n : n + pairs] * scale[model.pair_g]
    # the transport must send exactly what each group takes (rounding left aside)
    sent = np.bincount(model.pair_g, weights=z, minlength=n_groups)
    fix = np.divide(after, sent, out=np.zeros(n_groups), where=sent > 0)
    out[n : n + pairs] = z * fix[model.pair_g]
    per_zone = np.bincount(problem.need_zone, weights=uw * y, minlength=len(problem.zone_names))
    floor = problem.zone_floor[model.slack_zone] / WAN
    out[n + pairs :] = np.clip(floor - per_zone[model.slack_zone], 0.0, floor)
    return out


def _least(problem: Problem, u: IntArray) -> FloatArray:
    """Per need, the least share funded when it is funded at all, rounded up to whole yuan."""
    share = min(problem.min_share, 1.0)
    least = np.ceil(u * share / 100 - 1e-9) * 100 / np.maximum(u, 1)
    return np.minimum(least, 1.0)


def _dive(
    problem: Problem, model: _Model, u: IntArray, h: highspy.Highs, deadline: float, hold: float
) -> tuple[FloatArray | None, int]:
    """A point of the integer programme from the LP relaxation solved in `h`, and the rounds it
    took (None when the time ran out first). The LP funds some needs below their least share
    (where an enterprise's cap binds, the LP fills it with a sliver of another need); each
    round settles them: a need is held at its least share or more (lower bound) if the LP
    funds at least `hold` of that share and its enterprise's held needs fit the cap, else held
    at nothing, and the LP is solved again from its last basis. Settled needs stay settled, so
    the rounds end, and the last LP's point has no need below its least share. With one weight
    per enterprise (its points) the LP is highly degenerate — which of a capped firm's needs
    takes the money changes nothing — and holding the slivers costs nothing or little: on the
    benchmark the point reaches the LP bound."""
    n = model.n
    least = _least(problem, u)
    lower = np.zeros(n)
    upper = np.ones(n)
    cap = float(problem.enterprise_cap) if problem.enterprise_cap > 0 else math.inf
    _ids, ent = np.unique(problem.enterprise, return_inverse=True)
    for rounds in range(DIVE_ROUNDS + 1):
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None, rounds
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        share = x[:n]
        low = np.flatnonzero((share > 1e-7) & (share < least - 1e-7) & (upper > 0))
        if low.size == 0:
            return x, rounds
        left = deadline - time.perf_counter()
        if left <= 0 or rounds == DIVE_ROUNDS:
            return None, rounds
        held = np.bincount(ent, weights=lower * u, minlength=_ids.size)
        order = low[np.argsort(-share[low] / least[low], kind="stable")]
        on: list[int] = []
        for i in order.tolist():  # the needs the LP funds most first
            need = least[i] * u[i]
            if share[i] >= hold * least[i] and held[ent[i]] + need <= cap:
                held[ent[i]] += need
                on.append(i)
        on_ = np.array(on, dtype=np.int64)
        off = np.setdiff1d(low, on_)
        lower[on_] = least[on_]
        upper[off] = 0.0
        h.setOptionValue("time_limit", float(left))
        _bounds(h, low, lower, upper)
        h.run()
        if on_.size and h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
            lower[on_] = 0.0  # holding them all does not fit: leave them out instead
            upper[on_] = 0.0
            _bounds(h, on_, lower, upper)
            h.run()
    return None, DIVE_ROUNDS


def _dives(
    problem: Problem,
    model: _Model,
    u: IntArray,
    group: IntArray,
    n_groups: int,
    h: highspy.Highs,
    lp_bound: float,
    started: float,
    holds: tuple[float, ...] = DIVE_HOLD,
) -> tuple[FloatArray | None, float, list[int]]:
    """The best point of the dives of `DIVE_HOLD` (each from the LP's basis, its shares turned
    into whole fen and topped up by `_repair`), trying them in turn until one is within the
    gap; its objective; the rounds each dive took."""
    n = model.n
    basis = h.getBasis()
    everything = np.arange(n, dtype=np.int64)
    best: FloatArray | None = None
    found = -math.inf
    rounds: list[int] = []
    for k, hold in enumerate(holds):
        if k:  # back to the relaxation and its basis
            _bounds(h, everything, np.zeros(n), np.ones(n))
            h.setBasis(basis)
            h.run()
        x, taken = _dive(problem, model, u, h, started + problem.time_limit * 0.75, hold)
        rounds.append(taken)
        if x is None:
            break
        x = _repair(problem, model, u, group, n_groups,
                    _round_down(problem, model, u, group, n_groups, x))  # fmt: skip
        value = float(model.cost @ x)
        if value > found:
            best, found = x, value
        if _gap(lp_bound, found) <= problem.mip_gap:
            break
    return best, found, rounds


def _pair_cuts(
    problem: Problem, model: _Model, u: IntArray, h: highspy.Highs, deadline: float
) -> int:
    """Tighten the LP relaxation solved in `h` with valid inequalities of the per-enterprise
    cap, in rounds while some are violated; how many were added. For two needs i, j of one
    enterprise (amounts funded ``x = u · y``, least amounts ``l``, cap ``C``) where i in full
    leaves no room for j's least amount (``a = u_i + l_j - C > 0``), every integer point
    satisfies ``l_j · x_i + a · x_j <= l_j · u_i`` (it joins (u_i, 0) and (C - l_j, l_j); the
    points with x_i = 0 keep it since u_i, u_j <= C). The LP's sliver (x_i = u_i, 0 < x_j < l_j)
    breaks it, so each round adds the inequalities its slivers break. The bound stays valid and
    gets closer to the integer optimum where a firm's needs are weighted differently."""
    if problem.enterprise_cap <= 0:
        return 0
    n = model.n
    least = _least(problem, u)
    low_amount = least * u
    cap = float(problem.enterprise_cap)
    _ids, ent = np.unique(problem.enterprise, return_inverse=True)
    order = np.argsort(ent, kind="stable")
    first = np.searchsorted(ent[order], np.arange(_ids.size))
    last = np.searchsorted(ent[order], np.arange(_ids.size), side="right")
    added: set[tuple[int, int]] = set()
    for _round in range(CUT_ROUNDS):
        if time.perf_counter() > deadline:
            break
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        y = np.asarray(h.getSolution().col_value, dtype=np.float64)[:n]
        rows: list[tuple[int, int, float]] = []
        for j in np.flatnonzero((y > 1e-7) & (y < least - 1e-7)).tolist():
            e = int(ent[j])
            for i in order[first[e] : last[e]].tolist():
                a = float(u[i]) + float(low_amount[j]) - cap
                if i == j or a <= 0 or (i, j) in added:
                    continue
                # divided by l_j · u_i: y_i + (a · u_j / (l_j · u_i)) · y_j <= 1
                c = a * float(u[j]) / (float(low_amount[j]) * float(u[i]))
                if y[i] + c * y[j] > 1 + 1e-7:
                    rows.append((i, j, c))
                    added.add((i, j))
        if not rows:
            break
        k = len(rows)
        index = np.array([(i, j) for i, j, _c in rows], dtype=HIGHS_INT).ravel()
        value = np.array([(1.0, c) for _i, _j, c in rows]).ravel()
        starts = np.arange(0, 2 * k, 2, dtype=HIGHS_INT)
        h.addRows(k, np.full(k, -highspy.kHighsInf), np.ones(k), 2 * k, starts, index, value)
        h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 1.0))
        h.run()
    return len(added)


def _bounds(h: highspy.Highs, cols: IntArray, lower: FloatArray, upper: FloatArray) -> None:
    index = cols.astype(HIGHS_INT)
    h.changeColsBounds(int(index.size), index, lower[cols], upper[cols])


def _gap(bound: float, found: float) -> float:
    """Relative gap as HiGHS reports it: (bound - found) / |found|."""
    return max(bound - found, 0.0) / max(abs(found), 1e-9)


def _repair(
    problem: Problem, model: _Model, u: IntArray, group: IntArray, n_groups: int, x: FloatArray
) -> FloatArray:
    """The rounded LP point with the needs it dropped (and any other) added back greedily by
    weight while commitments, quotas and caps have room."""
    n, pairs = model.n, model.pair_c.size
    got, fen_used = exact(
        problem, u, group, n_groups, x[: model.n], x[model.n :], model.pair_c, model.pair_g
    )
    funded = got.copy()
    state = new_state(problem, n_groups)
    np.add.at(state.sent, (model.pair_c, model.pair_g), fen_used)
    state.cap_left -= state.sent.sum(axis=1)
    state.field_left -= np.bincount(problem.need_field, weights=got,
                                    minlength=state.field_left.size).astype(np.int64)  # fmt: skip
    state.zone_left -= np.bincount(problem.need_zone, weights=got,
                                   minlength=state.zone_left.size).astype(np.int64)  # fmt: skip
    for e, a in zip(problem.enterprise[got > 0].tolist(), got[got > 0].tolist(), strict=True):
        state.ent_used[e] = state.ent_used.get(e, 0) + a
    value = (u / WAN) * problem.weight
    # first the needs funded in part (topped up), then the others, the most valuable first
    part = np.flatnonzero((got > 0) & (got < u))
    part = part[np.argsort(-problem.weight[part], kind="stable")]
    rest = np.flatnonzero((got == 0) & (value > 0))
    rest = rest[np.argsort(-(x[rest] + 1e-3 * value[rest] / max(value.max(), 1e-9)), kind="stable")]
    rest = np.concatenate([part, rest])
    greedy(problem, u, group, rest, state, funded)
    out = x.copy()
    out[:n] = funded / np.maximum(u, 1)
    out[n : n + pairs] = state.sent[model.pair_c, model.pair_g] / WAN
    per_zone = np.bincount(
        problem.need_zone, weights=funded / WAN, minlength=len(problem.zone_names)
    )
    floor = problem.zone_floor[model.slack_zone] / WAN
    out[n + pairs :] = np.clip(floor - per_zone[model.slack_zone], 0.0, floor)
    return out
