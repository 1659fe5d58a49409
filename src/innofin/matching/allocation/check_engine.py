"""An allocation checked against its instance, from the rows alone: what a result gets wrong,
each named (an empty list: nothing). Independent of how the result was found, so the tests and
the allocation benchmark hold every solver path to the same rules (a balance assertion, in
beancount's sense)."""

from __future__ import annotations

import numpy as np

from innofin.matching.allocation.engine import WAN, Problem, Result, fundable


def violations(problem: Problem, result: Result, tolerance: float = 1e-6) -> list[str]:
    """Every rule of the model that `result` breaks: each need funded in full, or in part (at
    least the least share, in whole yuan), or not at all, exactly as its rows add up; each row
    from a commitment that covers the need's field and zone; commitments, field and zone quotas
    and the per-enterprise cap respected; a zone below its floor named in `unmet`; the objective
    the funded amounts weighted."""
    out: list[str] = []
    u = fundable(problem)
    n = u.size
    fen = result.funded_fen.astype(np.int64)
    per_need = np.bincount(result.row_need, weights=result.row_fen, minlength=n)
    per_need = per_need.astype(np.int64)
    out += [f"need {i}: rows give {per_need[i]} fen, funded {fen[i]}"
            for i in np.flatnonzero(per_need != fen)]  # fmt: skip
    least = np.ceil(u * min(problem.min_share, 1.0) - 1e-9)
    partial = (fen > 0) & (fen < u)
    bad = (fen < 0) | (fen > u) | (partial & ((fen < least) | (fen % 100 != 0)))
    out += [
        f"need {i}: {fen[i]} fen of {u[i]} is not a share it may get" for i in np.flatnonzero(bad)
    ]
    if (result.funded != (fen > 0)).any():
        out.append("funded flags disagree with the funded amounts")
    if (result.row_fen <= 0).any():
        out.append("a row of no money")
    c, i = result.row_commitment, result.row_need
    cf, cz = problem.commitment_field[c], problem.commitment_zone[c]
    covers = ((cf < 0) | (cf == problem.need_field[i])) & ((cz < 0) | (cz == problem.need_zone[i]))
    out += [
        f"row {r}: commitment {c[r]} does not cover need {i[r]}" for r in np.flatnonzero(~covers)
    ]
    used = np.bincount(c, weights=result.row_fen, minlength=problem.capacity.size)
    out += [f"commitment {k}: {used[k]:.0f} fen lent of {problem.capacity[k]}"
            for k in np.flatnonzero(used > problem.capacity)]  # fmt: skip
    for what, names, key, top in (
        ("field", problem.field_names, problem.need_field, problem.field_max),
        ("zone", problem.zone_names, problem.need_zone, problem.zone_max),
    ):
        got = np.bincount(key, weights=fen, minlength=top.size)
        out += [f"{what} {names[int(k)]}: {got[k]:.0f} fen funded over its quota {top[k]}"
                for k in np.flatnonzero((top >= 0) & (got > top))]  # fmt: skip
    if problem.enterprise_cap > 0:
        ids, ent = np.unique(problem.enterprise, return_inverse=True)
        got = np.bincount(ent, weights=fen, minlength=ids.size)
        out += [f"enterprise {ids[k]}: {got[k]:.0f} fen over the cap {problem.enterprise_cap}"
                for k in np.flatnonzero(got > problem.enterprise_cap)]  # fmt: skip
    got = np.bincount(problem.need_zone, weights=fen, minlength=problem.zone_floor.size)
    for z in np.flatnonzero(got < problem.zone_floor):
        name = problem.zone_names[int(z)]
        if not any(f"zone {name}:" in line for line in result.unmet):
            out.append(f"zone {name}: below its floor and not named")
    objective = float(((fen / WAN) * problem.weight).sum())
    if abs(objective - result.objective) > tolerance * max(1.0, abs(objective)):
        out.append(f"objective {result.objective} is not the funded amounts weighted ({objective})")
    return out
