"""Recommendations both ways: per need its best products and institutions (and near misses),
per institution its best-fitting needs. Pure and vectorised over blocks of needs × products.

The fit of an eligible (need, product) pair is a weighted sum of four parts in [0, 1] (weights
are defaults a programme can change, `Weights`):

* **track record** — the product's institution's affinity to the firm (`track_engine`), as a
  share of the best institution's for that need (1 for the most fitting lender);
* **terms** — the headroom between the firm's maximum rate (10 % a year when it named none)
  and the product's lowest rate, as a share of the maximum (0.5 for a product with no rate);
* **points** — the firm's innovation points as a percentile among the needs;
* **risk** — 1 minus the firm's risk signal (late payments, defaults in the ledger) for a
  product without collateral; a secured or guaranteed product does not lose by it.

Every ranking is decided by exact integer keys: the fit rounded to 10⁻⁶, then the position of
the product's (institution's, need's) id in id order, so the result does not depend on the order
of the rows handed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend.eligibility_engine import Needs, Products

Array = np.ndarray


#: the maximum rate assumed for a firm that named none (percent a year)
OPEN_CEILING = 10.0


@dataclass(frozen=True)
class Weights:
    track: float = 0.45
    terms: float = 0.15
    points: float = 0.2
    risk: float = 0.2


@dataclass(frozen=True)
class Recommendations:
    """Indices into the inputs (-1: none); scores in [0, 1] (NaN where none)."""

    products: Array  # (needs, k)
    product_scores: Array
    institutions: Array  # (needs, k)
    institution_scores: Array
    near_products: Array  # (needs, near)
    near_rules: Array  # (needs, near): index of `eligibility_engine.RULES` that failed
    eligible_count: Array  # (needs,)
    firms: Array  # (institutions, m): need indices, best first
    firm_scores: Array


def percentile(values: Array) -> Array:
    """Share of values at or below each value (NaN: 0); ties share their rank."""
    v = np.asarray(values, dtype=np.float64)
    known = ~np.isnan(v)
    ordered = np.sort(v[known])
    out = np.zeros(v.size)
    if ordered.size:
        out[known] = np.searchsorted(ordered, v[known], side="right") / ordered.size
    return out


def normalised_affinity(log_scores: Array) -> Array:
    """Each row's affinities as shares of its best: exp(score − max)."""
    if log_scores.size == 0:
        return log_scores.astype(np.float64)
    top = log_scores.max(axis=1, keepdims=True)
    result: Array = np.exp(log_scores - top)
    return result


def _take_top(scores: Array, k: int, in_place: bool = False) -> tuple[Array, Array]:
    """Column indices and values of the k largest scores per row, largest first; a tie goes to
    the smaller column (argmax takes the first). -inf scores are not taken (index -1). With
    `in_place` the chosen entries of `scores` are overwritten."""
    rows = np.arange(scores.shape[0])
    k = min(k, scores.shape[1])
    index = np.full((scores.shape[0], k), -1, dtype=np.int64)
    value = np.full((scores.shape[0], k), np.nan)
    work = scores if in_place or k <= 1 else scores.copy()
    for t in range(k):
        j = np.argmax(work, axis=1)
        v = work[rows, j]
        ok = v > -np.inf
        index[:, t] = np.where(ok, j, -1)
        value[:, t] = np.where(ok, v, np.nan)
        work[rows, j] = -np.inf
    return index, value


def recommend(
    needs: Needs,
    products: Products,
    affinity: Array,
    risk: Array,
    need_ids: Array,
    product_ids: Array,
    institution_ids: Array,
    k: int = 5,
    near: int = 3,
    per_institution: int = 10,
    weights: Weights = Weights(),
    block: int = 2048,
) -> Recommendations:
    """Rank products and institutions for every need and needs for every institution.

    `affinity` is needs × institutions in [0, 1] (`normalised_affinity`), `risk` per need in
    [0, 1]; ids order the ties. Needs are processed in blocks of `block` rows to bound memory.
    Internally needs are put in id order and products in (institution id, product id) order, so
    a tie goes to the smaller ids whatever the order of the rows handed in; results are indices
    into the inputs."""
    i_order = np.argsort(np.asarray(institution_ids), kind="stable")
    n_order = np.argsort(np.asarray(need_ids), kind="stable")
    i_rank = np.empty_like(i_order)
    i_rank[i_order] = np.arange(i_order.size)
    raw_inst = i_rank[np.asarray(products.institution, dtype=np.int64)]
    p_order = np.lexsort((np.asarray(product_ids), raw_inst))  # grouped by institution
    prods = _take_products(products, p_order)
    cat = elig.compile_products(prods)
    n, p_count, i_count = len(needs), len(prods), affinity.shape[1]
    p_inst = raw_inst[p_order]  # canonical institution of each canonical product
    starts = np.flatnonzero(np.r_[True, p_inst[1:] != p_inst[:-1]]) if p_count else p_inst
    inst_of_group = p_inst[starts]
    f32 = np.float32
    # the parts of the fit: the need's own (points, risk) is the same for all its products and
    # is added to the scores chosen, not to every pair
    aff = (np.asarray(affinity, dtype=f32) * f32(weights.track))[:, i_order]
    secured = (prods.collateral != 0).astype(f32)
    no_rate = np.isnan(prods.rate_min)
    rate_w = np.where(no_rate, 0.0, prods.rate_min * weights.terms).astype(f32)
    column = np.where(no_rate, -0.5 * weights.terms, 0.0).astype(f32)  # 0.5 for no rate
    risk = np.asarray(risk, dtype=np.float64)
    own = weights.points * percentile(needs.points) + weights.risk * (1.0 - risk)
    secured_gain = (weights.risk * risk).astype(f32)
    ceiling = np.where(np.isnan(needs.max_rate) | (needs.max_rate <= 0), OPEN_CEILING,
                       needs.max_rate)  # fmt: skip
    inverse_ceiling = (1.0 / ceiling).astype(f32)

    kk, kn, ki = min(k, p_count), min(near, p_count), min(k, i_count)
    top_p = np.full((n, kk), -1, dtype=np.int64)
    top_ps = np.full((n, kk), np.nan)
    top_i = np.full((n, ki), -1, dtype=np.int64)
    top_is = np.full((n, ki), np.nan)
    near_p = np.full((n, kn), -1, dtype=np.int64)
    near_r = np.full((n, kn), -1, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    m = min(per_institution, n)
    firm_scores = np.full((i_count, 0), -np.inf, dtype=f32)
    firm_rows = np.full((i_count, 0), -1, dtype=np.int64)
    for lo in range(0, n, block):
        rows = n_order[lo : lo + block]  # needs in id order
        checked = elig.packed_check(cat, needs.take(rows))
        count[rows] = elig.unpack(checked.eligible, p_count).sum(axis=1)
        # fit − the need's own part: track + terms (clipped headroom) + secured gain
        fit = np.multiply(inverse_ceiling[rows][:, None], rate_w[None, :])
        np.subtract(f32(weights.terms), fit, out=fit)
        np.clip(fit, f32(0), f32(weights.terms), out=fit)
        fit += column
        fit += aff[rows][:, p_inst]
        fit += np.multiply(secured_gain[rows][:, None], secured[None, :])
        jn, _ = _take_top(np.where(elig.unpack(checked.near, p_count), fit, f32(-np.inf)), kn)
        local = np.broadcast_to(np.arange(rows.size)[:, None], jn.shape)
        rule = elig.failed_rule(checked, local, np.maximum(jn, 0))
        near_p[rows] = np.where(jn >= 0, p_order[np.maximum(jn, 0)], -1)
        near_r[rows] = np.where(jn >= 0, rule, -1)
        np.copyto(fit, f32(-np.inf), where=elig.unpack(~checked.eligible, p_count))
        inst = np.full((rows.size, i_count), -np.inf, dtype=f32)
        if p_count:
            inst[:, inst_of_group] = np.maximum.reduceat(fit, starts, axis=1)
        inst += own[rows][:, None].astype(f32)
        j, v = _take_top(fit, kk, in_place=True)
        top_p[rows] = np.where(j >= 0, p_order[np.maximum(j, 0)], -1)
        top_ps[rows] = v + own[rows][:, None]
        ji, vi = _take_top(inst, ki)
        top_i[rows] = np.where(ji >= 0, i_order[np.maximum(ji, 0)], -1)
        top_is[rows] = vi
        # institutions' side: each institution's best m needs so far (ties: the smaller id,
        # which came first)
        merged = np.concatenate([firm_scores, inst.T], axis=1)
        merged_rows = np.concatenate([firm_rows, np.broadcast_to(rows, (i_count, rows.size))], 1)
        pick = np.argsort(-merged, axis=1, kind="stable")[:, :m]
        firm_scores = np.take_along_axis(merged, pick, axis=1)
        firm_rows = np.take_along_axis(merged_rows, pick, axis=1)
    firms = np.full((i_count, firm_rows.shape[1]), -1, dtype=np.int64)
    scores_out = np.full((i_count, firm_rows.shape[1]), np.nan)
    seen = firm_scores > -np.inf
    firms[i_order] = np.where(seen, firm_rows, -1)
    scores_out[i_order] = np.where(seen, firm_scores, np.nan)
    return Recommendations(
        products=top_p,
        product_scores=top_ps,
        institutions=top_i,
        institution_scores=top_is,
        near_products=near_p,
        near_rules=near_r,
        eligible_count=count,
        firms=firms,
        firm_scores=scores_out,
    )


def _take_products(p: Products, rows: Array) -> Products:
    values = {
        k: getattr(p, k)[rows] for k in p.__dataclass_fields__ if k not in ("zones", "stage_modes")
    }
    return Products(**values, zones=p.zones[:, rows], stage_modes=p.stage_modes)
