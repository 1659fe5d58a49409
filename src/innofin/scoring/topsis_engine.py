"""TOPSIS ranking of zones and the stability of its top N under weight changes (pure NumPy).

Classic TOPSIS (Hwang & Yoon, 1981): each column is vector-normalised, r_ij = x_ij / ||x_j||,
weighted, v_ij = w_j r_ij, and each row is measured by its Euclidean distance to the ideal point
(best value of every column: max for a benefit criterion, min for a cost criterion), d+, and to the
anti-ideal point (the worst values), d-. The relative closeness C_i = d- / (d+ + d-) lies in
[0, 1], 1 = the ideal itself. When d+ + d- = 0 (every zone equal on every weighted column) C = 0.5.

Numerical care, none of which changes the mathematical result:

- a column is divided by its largest magnitude before its norm is taken, so huge or tiny
  statistics neither overflow nor underflow; a column of zeros stays zeros and contributes nothing;
- squares are summed in sorted order and distances are accumulated criterion by criterion, so a
  zone's closeness is bit-for-bit independent of the order of the rows;
- weights are divided by their largest before their sum, so any positive finite weights work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from innofin.kernel.errors import InvalidInput

__all__ = [
    "Criterion",
    "Perturbation",
    "Ranking",
    "Sensitivity",
    "sensitivity",
    "topsis",
]


@dataclass(frozen=True)
class Criterion:
    """One column of the decision matrix."""

    id: str
    weight: float  # > 0; weights are normalised to sum 1
    benefit: bool = True  # False = lower is better (a cost criterion)


@dataclass(frozen=True, eq=False)
class Ranking:
    """The result of one TOPSIS run (arrays are read-only)."""

    closeness: npt.NDArray[np.float64]  # (m,) relative closeness C_i in [0, 1]
    order: npt.NDArray[np.intp]  # indices best first; ties broken by lower index
    rank: npt.NDArray[np.intp]  # (m,) 1 = best
    weights: npt.NDArray[np.float64]  # normalised weights used


@dataclass(frozen=True)
class Perturbation:
    """The top N when one criterion's weight is multiplied by `factor` (others renormalised)."""

    criterion: str
    factor: float  # e.g. 0.8 or 1.2
    top: tuple[int, ...]  # indices of the new top N, best first
    entered: tuple[int, ...]  # in the new top N but not the base top N (new order)
    left: tuple[int, ...]  # in the base top N but not the new one (base order)
    overlap: float  # |new ∩ base| / N


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """How stable the top N is when each weight moves by ±delta."""

    base_top: tuple[int, ...]
    perturbations: tuple[Perturbation, ...]  # 2 per criterion, (1 - delta) then (1 + delta)
    stable_share: float  # share of perturbations whose top-N set equals the base
    always_in: tuple[int, ...]  # in the top N under base and every perturbation (base order)
    rank_range: npt.NDArray[np.intp]  # (m, 2) min and max rank over base + perturbations


_Arr = TypeVar("_Arr", bound="np.ndarray[Any, Any]")


# --- validation ---------------------------------------------------------------------------------


def _check_criteria(
    criteria: Sequence[Criterion],
) -> tuple[list[str], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Ids, raw weights and benefit mask; refuses empty, duplicate or non-positive input."""
    if len(criteria) == 0:
        raise InvalidInput("at least one criterion is required", field="criteria")
    ids: list[str] = []
    weights: list[float] = []
    seen: set[str] = set()
    for c in criteria:
        if c.id in seen:
            raise InvalidInput(f"criterion {c.id} is given twice", field=c.id)
        seen.add(c.id)
        try:
            w = float(c.weight)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"criterion {c.id} weight must be a number, got {c.weight!r}", field=c.id
            ) from None
        if not math.isfinite(w) or w <= 0.0:
            raise InvalidInput(
                f"criterion {c.id} weight must be positive and finite, got {c.weight!r}",
                field=c.id,
            )
        ids.append(c.id)
        weights.append(w)
    benefit = np.array([bool(c.benefit) for c in criteria], dtype=np.bool_)
    return ids, np.array(weights, dtype=np.float64), benefit


def _check_matrix(matrix: npt.ArrayLike, ids: Sequence[str]) -> npt.NDArray[np.float64]:
    try:
        x = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"matrix is not numeric: {exc}", field="matrix") from None
    if x.ndim != 2:
        raise InvalidInput(
            f"matrix must be 2-dimensional (zones × criteria), got {x.ndim} dimension(s)",
            field="matrix",
        )
    m, n = x.shape
    if n != len(ids):
        raise InvalidInput(
            f"matrix has {n} column(s) but {len(ids)} criteria are given", field="matrix"
        )
    if m == 0:
        raise InvalidInput("matrix has no rows (no zones to rank)", field="matrix")
    bad = ~np.isfinite(x)
    if bad.any():
        rows, cols = np.nonzero(bad)  # row-major: the first bad cell of the first bad row
        row, col = int(rows[0]), int(cols[0])
        what = "missing" if math.isnan(x[row, col]) else f"not finite ({x[row, col]})"
        raise InvalidInput(f"criterion {ids[col]} is {what} for row {row}", field=ids[col])
    return x


def _normalise_weights(raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    scaled = raw / raw.max()
    out: npt.NDArray[np.float64] = scaled / scaled.sum()
    return out


# --- core ---------------------------------------------------------------------------------------


def _vector_normalise(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """r_ij = x_ij / sqrt(sum_i x_ij^2); a column of zeros stays zeros."""
    peak = np.abs(x).max(axis=0)
    y = x / np.where(peak > 0.0, peak, 1.0)
    # Sorting the squares makes the sum independent of the row order, bit for bit.
    norm = np.sqrt(np.sort(y * y, axis=0).sum(axis=0))
    r: npt.NDArray[np.float64] = y / np.where(norm > 0.0, norm, 1.0)
    return r


def _closeness(
    r: npt.NDArray[np.float64], w: npt.NDArray[np.float64], benefit: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    v = r * w
    top = v.max(axis=0)
    bottom = v.min(axis=0)
    ideal = np.where(benefit, top, bottom)
    anti = np.where(benefit, bottom, top)
    m, n = v.shape
    d_plus = np.zeros(m, dtype=np.float64)
    d_minus = np.zeros(m, dtype=np.float64)
    for j in range(n):  # per criterion, so each row's sum is computed the same way
        d_plus += (v[:, j] - ideal[j]) ** 2
        d_minus += (v[:, j] - anti[j]) ** 2
    d_plus = np.sqrt(d_plus)
    d_minus = np.sqrt(d_minus)
    total = d_plus + d_minus
    c: npt.NDArray[np.float64] = np.divide(
        d_minus, total, out=np.full(m, 0.5, dtype=np.float64), where=total > 0.0
    )
    return c


def _order(closeness: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Best first; a stable sort keeps the lower index first among equal closeness."""
    order: npt.NDArray[np.intp] = np.argsort(-closeness, kind="stable")
    return order


def _ranks(order: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    rank = np.empty(order.shape[0], dtype=np.intp)
    rank[order] = np.arange(1, order.shape[0] + 1, dtype=np.intp)
    return rank


def _frozen(a: _Arr) -> _Arr:
    a.flags.writeable = False
    return a


def topsis(matrix: npt.NDArray[np.float64], criteria: Sequence[Criterion]) -> Ranking:
    """Rank the rows of `matrix` (zones × criteria, columns in the order of `criteria`)."""
    ids, raw, benefit = _check_criteria(criteria)
    x = _check_matrix(matrix, ids)
    w = _normalise_weights(raw)
    closeness = _closeness(_vector_normalise(x), w, benefit)
    order = _order(closeness)
    return Ranking(
        closeness=_frozen(closeness),
        order=_frozen(order),
        rank=_frozen(_ranks(order)),
        weights=_frozen(w),
    )


def sensitivity(
    matrix: npt.NDArray[np.float64],
    criteria: Sequence[Criterion],
    top_n: int = 10,
    delta: float = 0.2,
) -> Sensitivity:
    """Re-rank with each criterion's weight × (1 - delta) and × (1 + delta), the others
    renormalised so the weights still sum to 1, and compare each top N with the base top N."""
    ids, raw, benefit = _check_criteria(criteria)
    x = _check_matrix(matrix, ids)
    m = x.shape[0]
    if isinstance(top_n, bool) or not isinstance(top_n, int | np.integer):
        raise InvalidInput(f"top_n must be an integer, got {top_n!r}", field="top_n")
    if not 1 <= top_n <= m:
        raise InvalidInput(
            f"top_n must be between 1 and {m} (the zones), got {top_n}", field="top_n"
        )
    try:
        d = float(delta)
    except (TypeError, ValueError):
        raise InvalidInput(f"delta must be a number, got {delta!r}", field="delta") from None
    if not (math.isfinite(d) and 0.0 < d < 1.0):
        raise InvalidInput(f"delta must be strictly between 0 and 1, got {delta!r}", field="delta")
    n_top = int(top_n)

    r = _vector_normalise(x)
    w = _normalise_weights(raw)
    base_order = _order(_closeness(r, w, benefit))
    base_top = tuple(int(i) for i in base_order[:n_top])
    base_set = set(base_top)

    ranks = [_ranks(base_order)]
    always = set(base_top)
    perturbations: list[Perturbation] = []
    for j, cid in enumerate(ids):
        for factor in (1.0 - d, 1.0 + d):
            w2 = w.copy()
            w2[j] *= factor
            w2 /= w2.sum()
            order = _order(_closeness(r, w2, benefit))
            ranks.append(_ranks(order))
            top = tuple(int(i) for i in order[:n_top])
            top_set = set(top)
            always &= top_set
            perturbations.append(
                Perturbation(
                    criterion=cid,
                    factor=factor,
                    top=top,
                    entered=tuple(i for i in top if i not in base_set),
                    left=tuple(i for i in base_top if i not in top_set),
                    overlap=len(top_set & base_set) / n_top,
                )
            )

    stacked = np.stack(ranks)  # (1 + 2k, m)
    rank_range = np.stack([stacked.min(axis=0), stacked.max(axis=0)], axis=1).astype(np.intp)
    stable = sum(1 for p in perturbations if set(p.top) == base_set)
    return Sensitivity(
        base_top=base_top,
        perturbations=tuple(perturbations),
        stable_share=stable / len(perturbations),
        always_in=tuple(i for i in base_top if i in always),
        rank_range=_frozen(rank_range),
    )
