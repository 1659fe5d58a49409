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
split across the funded needs of each group by cumulative sums, so every row is exact money.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import numpy.typing as npt

from innofin.kernel.highs import HIGHS_INT, highs, solver_name

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
WAN = 1_000_000  # fen in 1 万元
#: objective weight of one 万元 of unmet floor, as a multiple of the largest weight
PENALTY = 1000.0
#: how many times the LP is solved again after leaving out needs funded below the least share
ROUNDS = 6

STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
}


@dataclass(frozen=True)
class Problem:
    """One allocation instance. Needs are in arrival order (first-come-first-served reads it).
    Fields and zones are indices into `field_names` / `zone_names`; -1 in a commitment's field or
    zone means "any"."""

    amount: IntArray  # fen per need
    weight: FloatArray  # per need (innovation points; 0 when unknown)
    need_field: IntArray
    need_zone: IntArray
    enterprise: IntArray
    capacity: IntArray  # fen per commitment
    commitment_field: IntArray
    commitment_zone: IntArray
    field_names: Sequence[str]
    zone_names: Sequence[str]
    #: per field / per zone: the most that may be funded (fen; -1: no quota)
    field_max: IntArray
    zone_max: IntArray
    #: per zone: the least the programme wants funded there (fen; 0: none)
    zone_floor: IntArray
    #: the most one enterprise's needs may receive together (fen; 0: no cap)
    enterprise_cap: int = 0
    #: the least share of a need that is funded when it is funded at all (1: all or nothing)
    min_share: float = 0.5
    mip_gap: float = 0.001
    time_limit: float = 60.0

    def parameters(self) -> dict[str, object]:
        return {
            "mip_rel_gap": self.mip_gap,
            "min_share": self.min_share,
            "time_limit": self.time_limit,
            "enterprise_cap_fen": int(self.enterprise_cap),
            "penalty_per_wan_unmet_floor": PENALTY,
        }


@dataclass(frozen=True)
class Binding:
    kind: str  # field_quota, zone_quota, zone_floor, commitment, enterprise_cap
    key: str  # the field code, zone code or commitment index
    bound_fen: int
    activity_fen: int
    dual: float  # objective per 万元 more of the bound (LP relaxation)

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "key": self.key,
            "bound_fen": self.bound_fen,
            "activity_fen": self.activity_fen,
            "dual_per_wan": round(self.dual, 6),
        }


@dataclass
class Result:
    status: str
    solver: str
    objective: float  # Σ funded 万元 × weight (penalties left out)
    gap: float
    lp_bound: float
    funded: npt.NDArray[np.bool_]  # per need
    funded_fen: IntArray  # per need (u[i] if funded, else 0)
    #: one row per piece: need index, commitment index, fen
    row_need: IntArray
    row_commitment: IntArray
    row_fen: IntArray
    binding: list[Binding] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    fcfs_objective: float = 0.0
    fcfs_funded_fen: int = 0
    seconds: float = 0.0
    fcfs_seconds: float = 0.0
    variables: int = 0
    constraints: int = 0

    def summary(self) -> dict[str, object]:
        return {
            "status": self.status,
            "solver": self.solver,
            "objective": self.objective,
            "gap": self.gap,
            "lp_bound": self.lp_bound,
            "funded_needs": int(self.funded.sum()),
            "funded_fen": int(self.funded_fen.sum()),
            "fcfs_objective": self.fcfs_objective,
            "fcfs_funded_fen": self.fcfs_funded_fen,
            "binding": [b.as_json() for b in self.binding],
            "unmet": list(self.unmet),
            "seconds": round(self.seconds, 3),
            "variables": self.variables,
            "constraints": self.constraints,
        }


def fundable(problem: Problem) -> IntArray:
    """What each need would receive if funded: its amount, within the per-enterprise cap."""
    cap = int(problem.enterprise_cap)
    return np.minimum(problem.amount, cap) if cap > 0 else problem.amount.copy()


def _covers(problem: Problem, group_field: IntArray, group_zone: IntArray) -> tuple[IntArray, ...]:
    """Pairs (commitment, group) where the commitment may fund the group's needs."""
    cf = problem.commitment_field[:, None]
    cz = problem.commitment_zone[:, None]
    ok = ((cf < 0) | (cf == group_field[None, :])) & ((cz < 0) | (cz == group_zone[None, :]))
    c, g = np.nonzero(ok)
    return c.astype(np.int64), g.astype(np.int64)


def check(problem: Problem) -> list[str]:
    """What the input gets wrong, each named (empty: fine)."""
    n = problem.amount.size
    errors: list[str] = []
    for name in ("weight", "need_field", "need_zone", "enterprise"):
        if getattr(problem, name).size != n:
            errors.append(f"{name} has {getattr(problem, name).size} entries for {n} needs")
    if (problem.amount <= 0).any():
        errors.append(f"need {int(np.argmax(problem.amount <= 0))}: amount must be positive")
    if (problem.capacity < 0).any():
        errors.append("a commitment's capacity is negative")
    for what, names, floor, top in (
        ("zone", problem.zone_names, problem.zone_floor, problem.zone_max),
    ):
        bad = (top >= 0) & (floor > top)
        errors += [
            f"{what} {names[int(k)]}: floor {floor[k] / 100:,.2f} yuan is above its quota "
            f"{top[k] / 100:,.2f} yuan"
            for k in np.flatnonzero(bad)
        ]
    return errors


def _groups(problem: Problem) -> tuple[IntArray, IntArray, IntArray]:
    """Group index per need and the groups' field and zone."""
    n_zone = max(len(problem.zone_names), 1)
    key = problem.need_field * n_zone + problem.need_zone
    uniq, group = np.unique(key, return_inverse=True)
    return (
        group.astype(np.int64),
        (uniq // n_zone).astype(np.int64),
        (uniq % n_zone).astype(np.int64),
    )


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
    pair_c, pair_g = _covers(problem, gf, gz)
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
    fixed: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None = None,
) -> highspy.Highs:
    h = highs(time_limit, problem.mip_gap)
    num_cols = model.cost.size
    integrality = np.zeros(num_cols, dtype=HIGHS_INT)
    col_lower = model.col_lower.copy()
    if integer:  # semi-continuous: 0, or a share in [min_share, 1]
        integrality[: model.n] = 1 if problem.min_share >= 1 else 2
        col_lower[: model.n] = 0.0 if problem.min_share >= 1 else problem.min_share
    col_upper = model.col_upper.copy()
    if fixed is not None:  # needs the LP funds in full stay funded, those it leaves out stay out
        ones, zeros = fixed
        if integer:
            integrality[: model.n][ones | zeros] = 0
        col_lower[: model.n][ones] = 1.0
        col_lower[: model.n][zeros] = 0.0
        col_upper[: model.n][zeros] = 0.0
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


def _fen_of_share(problem: Problem, u: IntArray, share: FloatArray) -> IntArray:
    """Whole fen funded per need from the solver's shares: all of it, or a share of at least
    `min_share` in whole yuan, or nothing."""
    part = (np.floor(share * u / 100 + 1e-6) * 100).astype(np.int64)
    part = np.minimum(part, u)
    full = share >= 1 - 1e-6
    least = np.ceil(u * min(problem.min_share, 1.0) - 1e-6 * u)
    return np.where(full, u, np.where(part >= np.maximum(least, 1), part, 0)).astype(np.int64)


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


def _to_fen(targets: FloatArray, caps: IntArray, pair_c: IntArray, pair_g: IntArray,
            totals: IntArray) -> IntArray:  # fmt: skip
    """Whole fen per (commitment, group) pair summing exactly to each group's funded total and
    staying within each commitment's capacity."""
    t = np.clip(np.floor(targets * WAN + 1e-6).astype(np.int64), 0, None)
    t = np.minimum(t, caps[pair_c])
    n_groups = totals.size
    sent = np.bincount(pair_g, weights=t, minlength=n_groups).astype(np.int64)
    short = totals - sent
    if not short.any():
        return t
    used = np.bincount(pair_c, weights=t, minlength=caps.size).astype(np.int64)
    for g in np.flatnonzero(short):  # a few fen per group left by rounding
        need = int(short[g])
        for p in np.flatnonzero(pair_g == g):
            c = int(pair_c[p])
            step = min(need, int(caps[c] - used[c])) if need > 0 else -min(-need, int(t[p]))
            t[p] += step
            used[c] += step
            need -= step
            if need == 0:
                break
        if need:
            raise RuntimeError(f"group {g}: {need} fen could not be placed (solver tolerance)")
    return t


def _split(
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
class _State:
    """What is left while needs are added one by one."""

    field_left: IntArray
    zone_left: IntArray
    cap_left: IntArray  # per commitment
    ent_used: dict[int, int]
    sent: IntArray  # fen per commitment × group


def _state(problem: Problem, n_groups: int) -> _State:
    big = np.iinfo(np.int64).max
    return _State(
        field_left=np.where(problem.field_max >= 0, problem.field_max, big).astype(np.int64),
        zone_left=np.where(problem.zone_max >= 0, problem.zone_max, big).astype(np.int64),
        cap_left=problem.capacity.astype(np.int64).copy(),
        ent_used={},
        sent=np.zeros((problem.capacity.size, n_groups), dtype=np.int64),
    )


def _greedy(
    problem: Problem,
    u: IntArray,
    group: IntArray,
    order: IntArray,
    state: _State,
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
    group, gf, _gz = _groups(problem)
    funded = np.zeros(u.size, dtype=np.int64)
    _greedy(problem, u, group, np.arange(u.size), _state(problem, gf.size), funded)
    return funded, float(((funded / WAN) * problem.weight).sum())


def _repair(
    problem: Problem, model: _Model, u: IntArray, group: IntArray, n_groups: int, x: FloatArray
) -> FloatArray:
    """The rounded LP point with the needs it dropped (and any other) added back greedily by
    weight while commitments, quotas and caps have room."""
    n, pairs = model.n, model.pair_c.size
    got = _fen_of_share(problem, u, x[:n])
    funded = got.copy()
    totals = np.bincount(group, weights=got, minlength=n_groups).astype(np.int64)
    fen_used = _to_fen(x[n : n + pairs], problem.capacity, model.pair_c, model.pair_g, totals)
    state = _state(problem, n_groups)
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
    _greedy(problem, u, group, rest, state, funded)
    out = x.copy()
    out[:n] = funded / np.maximum(u, 1)
    out[n : n + pairs] = state.sent[model.pair_c, model.pair_g] / WAN
    per_zone = np.bincount(
        problem.need_zone, weights=funded / WAN, minlength=len(problem.zone_names)
    )
    floor = problem.zone_floor[model.slack_zone] / WAN
    out[n + pairs :] = np.clip(floor - per_zone[model.slack_zone], 0.0, floor)
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
    group, gf, gz = _groups(problem)
    model = _build(problem, u, group, gf, gz)
    lp = _solve(problem, model, integer=False, time_limit=problem.time_limit / 2)
    binding = _binding(problem, model, lp)
    lp_bound = float(lp.getInfo().objective_function_value)
    lp_x = np.asarray(lp.getSolution().col_value, dtype=np.float64)
    x = _repair(
        problem, model, u, group, gf.size, _round_down(problem, model, u, group, gf.size, lp_x)
    )
    found = float(model.cost @ x)
    gap = (lp_bound - found) / max(abs(lp_bound), 1e-9)
    status = "optimal" if gap <= 1e-9 else "within_gap"
    if gap > problem.mip_gap:
        # LP rounding in rounds: needs the LP funds below the least share are left out and the
        # LP solved again, so the money they held goes where it is worth most
        out = lp_x[:n] <= 1e-6
        for _round in range(ROUNDS):
            share = lp_x[:n]
            low = (share > 1e-6) & (share < problem.min_share - 1e-9)
            if not low.any() or time.perf_counter() - started > problem.time_limit / 2:
                break
            out |= low
            none = np.zeros(n, dtype=bool)
            again = _solve(problem, model, integer=False, time_limit=problem.time_limit / 4,
                           fixed=(none, out))  # fmt: skip
            lp_x = np.asarray(again.getSolution().col_value, dtype=np.float64)
            y = _repair(problem, model, u, group, gf.size,
                        _round_down(problem, model, u, group, gf.size, lp_x))  # fmt: skip
            if float(model.cost @ y) > found:
                x, found = y, float(model.cost @ y)
        gap = (lp_bound - found) / max(abs(lp_bound), 1e-9)
        status = "within_gap" if gap > 1e-9 else "optimal"
    if gap > problem.mip_gap:
        left = max(problem.time_limit - (time.perf_counter() - started), 1.0)
        h = _solve(problem, model, integer=True, time_limit=left, start=x)
        status = STATUS.get(h.getModelStatus(), str(h.getModelStatus()))
        mip_x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        if mip_x.size == x.size and float(model.cost @ mip_x) >= found:
            x, found = mip_x, float(model.cost @ mip_x)
        info = h.getInfo()
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else lp_bound
        gap = (min(bound, lp_bound) - found) / max(abs(found), 1e-9)
    funded_fen = _fen_of_share(problem, u, x[:n])
    funded = funded_fen > 0
    totals = np.bincount(group, weights=funded_fen, minlength=gf.size).astype(np.int64)
    # the transport amounts for these needs, exact: re-solve the pairs' flows on the chosen needs
    t = _to_fen(x[n : n + model.pair_c.size], problem.capacity, model.pair_c, model.pair_g, totals)
    row_need, row_c, row_fen = _split(funded_fen, group, model.pair_c, model.pair_g, t)
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
    )
