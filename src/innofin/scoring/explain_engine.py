"""Explanations of a key-list selection: why a problem is infeasible, and why an eligible
enterprise was left out.

Infeasible problems raise `Infeasible` naming the conflict in plain words: cheap arithmetic
checks first (too few eligible, a group with fewer eligible than its min, minima of one kind
summing above `count`, maxima of one kind allowing fewer than `count`); if HiGHS still finds the
model infeasible, an elastic model on cell counts (a slack per constraint, minimise total slack)
names every constraint that has to give, with the limit that would make it fit; the relaxed
constraints are then made rigid and the elastic model solved again, so the other side of the
conflict is named too, each round giving one alternative fix.
"""

from __future__ import annotations

import highspy
import numpy as np
import numpy.typing as npt

from innofin.kernel.errors import InvalidInput
from innofin.kernel.highs import HIGHS_INT, highs
from innofin.scoring.quota_engine import (
    BoolArray,
    IntArray,
    Labels,
    Selection,
    SelectionProblem,
    csr,
    fmt,
    group_counts,
    in_group_of,
    listed,
    quota_labels,
    validate,
)

__all__ = ["cheap_conflicts", "elastic_conflicts", "leave_out_reasons"]


# --------------------------------------------------------------------------------------------
# Infeasibility: cheap arithmetic, then an elastic model


def cheap_conflicts(
    problem: SelectionProblem, labels: Labels, eligible_rows: IntArray
) -> list[str]:
    """Conflicts visible by counting, without a solver; empty when none."""
    count, quotas = problem.count, problem.quotas
    problems: list[str] = []
    if eligible_rows.size < count:
        problems.append(f"count {count} but only {eligible_rows.size} enterprises are eligible")
    available = group_counts(labels, quotas, eligible_rows)
    for i, q in enumerate(quotas):
        if q.min > 0 and not labels.present[i]:
            problems.append(f"{q.kind} {q.key} min {q.min} but no enterprise in the data has it")
        elif q.min > available[i]:
            problems.append(
                f"{q.kind} {q.key} min {q.min} but only {available[i]} eligible enterprises"
            )
    for kind in labels.kinds:
        idx = [i for i, q in enumerate(quotas) if q.kind == kind]
        with_min = [i for i in idx if quotas[i].min > 0]
        total_min = sum(quotas[i].min for i in with_min)
        if total_min > count:
            detail = listed(
                [f"{quotas[i].kind} {quotas[i].key} min {quotas[i].min}" for i in with_min]
            )
            problems.append(f"{kind} minima sum to {total_min} > count {count} ({detail})")
        # At most: each capped group gives min(max, eligible in it); other groups all they have.
        lab = labels.by_kind[kind][eligible_rows]
        capped = [i for i in idx if quotas[i].max is not None]
        capped_positions = labels.position[capped] if capped else np.zeros(0, dtype=np.intp)
        uncapped = int(np.count_nonzero(~np.isin(lab, capped_positions)))
        room = uncapped + sum(min(int(quotas[i].max or 0), int(available[i])) for i in capped)
        if capped and room < count and eligible_rows.size >= count:
            detail = listed(
                [f"{quotas[i].kind} {quotas[i].key} max {quotas[i].max}" for i in capped]
            )
            problems.append(f"count {count} but the {kind} maxima allow at most {room} ({detail})")
    return problems


def elastic_conflicts(
    problem: SelectionProblem,
    labels: Labels,
    cell_size: IntArray,
    cell_labels: dict[str, IntArray],
    rounds: int = 6,
) -> tuple[list[str], list[str]]:
    """The conflicting constraints, and fixes that would each make the problem feasible.

    Elastic model: cells are interchangeable for feasibility, so the variables are
    y_c ∈ {0..size_c}, the number taken from cell c, and row r reads
    lower_r ≤ Σ y + under_r − over_r ≤ upper_r with both slacks ≥ 0; minimise the total slack.
    Every constraint with a non-zero slack is named. A minimum-slack solution relaxes only one
    side of a conflict, so the rows it relaxed are then made rigid and the model solved again,
    which names the other side, until the rigid rows alone are infeasible (at most `rounds`).
    """
    quotas, count = problem.quotas, problem.count
    cells = cell_size.size
    rows = 1 + len(quotas)
    row_parts = [np.zeros(cells, dtype=np.intp)]
    col_parts = [np.arange(cells, dtype=np.intp)]
    for i, q in enumerate(quotas):
        members = np.flatnonzero(cell_labels[q.kind] == labels.position[i])
        row_parts.append(np.full(members.size, 1 + i, dtype=np.intp))
        col_parts.append(members)
    slack_rows = np.arange(rows, dtype=np.intp)
    under = cells + 2 * slack_rows  # column of each row's "under" slack, "over" is next
    row_of = np.concatenate([*row_parts, slack_rows, slack_rows])
    col_of = np.concatenate([*col_parts, under, under + 1])
    value = np.concatenate(
        [np.ones(sum(p.size for p in col_parts)), np.ones(rows), -np.ones(rows)]
    ).astype(np.float64)
    start, index, values = csr(row_of, col_of, value, rows)
    lower = np.array([count] + [q.min for q in quotas], dtype=np.float64)
    upper = np.array(
        [count] + [highspy.kHighsInf if q.max is None else q.max for q in quotas], dtype=np.float64
    )
    num_cols = cells + 2 * rows
    cost = np.concatenate([np.zeros(cells), np.ones(2 * rows)]).astype(np.float64)
    col_upper = np.concatenate([cell_size.astype(np.float64), np.full(2 * rows, highspy.kHighsInf)])
    integrality = np.concatenate(
        [np.ones(cells, dtype=HIGHS_INT), np.zeros(2 * rows, dtype=HIGHS_INT)]
    )
    h = highs(problem.time_limit, 0.0)
    h.passModel(
        num_cols,
        rows,
        int(index.size),
        int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        cost,
        np.zeros(num_cols),
        col_upper,
        lower,
        upper,
        start,
        index,
        values,
        integrality,
    )
    names = [f"count {count}"] + [q.name for q in quotas]
    conflicting: list[int] = []
    fixes: list[str] = []
    for _ in range(rounds):
        h.run()
        solution = h.getSolution()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal or not solution.value_valid:
            break
        slack = np.rint(np.asarray(solution.col_value)[cells:]).astype(np.intp)
        change = slack[1::2] - slack[0::2]  # how far each row's limit has to move
        relaxed = np.flatnonzero(change)
        if relaxed.size == 0:
            break
        parts = []
        for r in relaxed.tolist():
            if r not in conflicting:
                conflicting.append(r)
            if r == 0:
                parts.append(f"count {count + change[0]} instead of {count}")
            else:
                q = quotas[r - 1]
                side, old = ("max", int(q.max or 0)) if change[r] > 0 else ("min", q.min)
                parts.append(f"{q.kind} {q.key} {side} {old + change[r]} instead of {old}")
        fixes.append(" and ".join(parts))
        rigid = (under[relaxed][:, None] + np.arange(2)).reshape(-1).astype(HIGHS_INT)
        h.changeColsBounds(rigid.size, rigid, np.zeros(rigid.size), np.zeros(rigid.size))
    return [names[r] for r in sorted(conflicting)], fixes


# --------------------------------------------------------------------------------------------
# Left out


def leave_out_reasons(
    problem: SelectionProblem, result: Selection, candidates: npt.NDArray[np.intp]
) -> list[str]:
    """For eligible, not-chosen enterprises (indices), why each was left out, e.g.
    "zone Z001 is at its maximum (20)" or "points 612.3 below the cut-off 640.1".

    Work is per quota over the candidates (vectorised), never a loop over all enterprises. An
    enterprise above the cut-off that no full group blocks was displaced by minima of groups it
    is not in; those are named.
    """
    points, eligible, n = validate(problem)
    chosen = np.asarray(result.chosen)
    if chosen.dtype != np.bool_ or chosen.shape != (n,):
        raise InvalidInput(
            f"result.chosen must be {n} booleans, got {chosen.dtype} of shape {chosen.shape}",
            field="result",
        )
    cand = np.asarray(candidates)
    if cand.ndim != 1 or (cand.size and cand.dtype.kind not in "iu"):
        raise InvalidInput(
            "candidates must be a one-dimensional array of indices", field="candidates"
        )
    cand = cand.astype(np.intp)
    outside = cand[(cand < 0) | (cand >= n)]
    if outside.size:
        raise InvalidInput(
            f"candidates: index {outside[0]} is out of range 0..{n - 1}", field="candidates"
        )
    not_eligible = cand[~eligible[cand]]
    if not_eligible.size:
        raise InvalidInput(
            f"candidates: enterprise {not_eligible[0]} is not eligible", field="candidates"
        )
    was_chosen = cand[chosen[cand]]
    if was_chosen.size:
        raise InvalidInput(f"candidates: enterprise {was_chosen[0]} was chosen", field="candidates")

    quotas = problem.quotas
    labels = quota_labels(problem)
    in_group = group_counts(labels, quotas, np.flatnonzero(chosen))
    reasons: list[list[str]] = [[] for _ in range(cand.size)]
    blocked = np.zeros(cand.size, dtype=np.bool_)
    minima_met: list[tuple[int, BoolArray]] = []
    for i, q in enumerate(quotas):
        member = in_group_of(labels, q, i, cand)
        if q.max is not None and in_group[i] >= q.max:
            blocked |= member
            text = f"{q.kind} {q.key} is at its maximum ({q.max})"
            for j in np.flatnonzero(member):
                reasons[j].append(text)
        if q.min > 0 and in_group[i] == q.min:
            minima_met.append((i, member))
    cut = result.cutoff
    p = points[cand]
    for j in np.flatnonzero(p < cut):
        reasons[j].append(f"points {fmt(p[j])} below the cut-off {fmt(cut)}")
    for j in np.flatnonzero((p == cut) & ~blocked):
        reasons[j].append(
            f"points {fmt(p[j])} equal the cut-off {fmt(cut)}; the tie went to another enterprise"
        )
    above = np.flatnonzero((p > cut) & ~blocked)
    for j in above:
        needed = [quotas[i].name for i, member in minima_met if not member[j]]
        if needed:
            reasons[j].append(
                f"points {fmt(p[j])} above the cut-off {fmt(cut)}, but the places went to "
                f"meet the minima of {listed(needed)}"
            )
        else:
            reasons[j].append(
                f"points {fmt(p[j])} above the cut-off {fmt(cut)}; the solver stopped with "
                f"status {result.status}, gap {result.gap:.2%}"
            )
    return ["; ".join(r) for r in reasons]
