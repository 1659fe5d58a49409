"""The instance of a special-credit allocation and its result, without the solver: needs,
commitments, quotas, floors and the cap as index arrays (`Problem`), what each need could
receive (`fundable`), what input is malformed (`check`), and the needs' groups (key technology
field × zone) with the commitments that may fund each. The model itself is in
`allocate_engine`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
WAN = 1_000_000  # fen in 1 万元
#: objective weight of one 万元 of unmet floor, as a multiple of the largest weight
PENALTY = 1000.0


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
    #: LP re-solves of each dive tried (see `_dives`)
    dive_rounds: list[int] = field(default_factory=list)
    #: valid inequalities of the per-enterprise cap added to the LP (see `_pair_cuts`)
    cuts: int = 0

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
            "dive_rounds": list(self.dive_rounds),
            "cuts": self.cuts,
        }


def fundable(problem: Problem) -> IntArray:
    """What each need would receive if funded: its amount, within the per-enterprise cap."""
    cap = int(problem.enterprise_cap)
    return np.minimum(problem.amount, cap) if cap > 0 else problem.amount.copy()


def covers(problem: Problem, group_field: IntArray, group_zone: IntArray) -> tuple[IntArray, ...]:
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


def groups(problem: Problem) -> tuple[IntArray, IntArray, IntArray]:
    """Group index per need and the groups' field and zone."""
    n_zone = max(len(problem.zone_names), 1)
    key = problem.need_field * n_zone + problem.need_zone
    uniq, group = np.unique(key, return_inverse=True)
    return (
        group.astype(np.int64),
        (uniq // n_zone).astype(np.int64),
        (uniq % n_zone).astype(np.int64),
    )
