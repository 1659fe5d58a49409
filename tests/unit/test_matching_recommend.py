"""Recommendations: only eligible products, best first, whatever the order of the rows; empty
inputs give empty answers, not errors."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import engine as rec
from matching_tables import catalogues, needs, products

INSTITUTIONS = 5


def _inputs(
    case: tuple[elig.Needs, elig.Products], seed: int
) -> tuple[elig.Needs, elig.Products, np.ndarray, np.ndarray]:
    n, p = case
    rng = np.random.default_rng(seed)
    # coarse values, so that ties happen and must be broken by ids
    affinity = rng.choice([0.25, 0.5, 1.0], size=(len(n), INSTITUTIONS))
    risk = rng.choice([0.0, 0.5], size=len(n))
    return n, p, affinity, risk


def _run(n: elig.Needs, p: elig.Products, aff: np.ndarray, risk: np.ndarray,
         need_ids: np.ndarray, product_ids: np.ndarray, inst_ids: np.ndarray,
         block: int = 7) -> rec.Recommendations:  # fmt: skip
    return rec.recommend(n, p, aff, risk, need_ids, product_ids, inst_ids, k=4, near=3,
                         per_institution=5, block=block)  # fmt: skip


def _named(r: rec.Recommendations, need_ids: np.ndarray, product_ids: np.ndarray,
           inst_ids: np.ndarray) -> dict[str, object]:  # fmt: skip
    """The result keyed by ids, so two runs on permuted rows compare equal."""

    def ids(index: np.ndarray, book: np.ndarray) -> list[int]:
        return [int(book[i]) if i >= 0 else -1 for i in index]

    by_need = {
        int(need_ids[row]): (
            ids(r.products[row], product_ids),
            ids(r.institutions[row], inst_ids),
            ids(r.near_products[row], product_ids),
            r.near_rules[row].tolist(),
            int(r.eligible_count[row]),
            [None if np.isnan(v) else round(float(v), 6) for v in r.product_scores[row]],
        )
        for row in range(len(need_ids))
    }
    by_inst = {int(inst_ids[i]): ids(r.firms[i], need_ids) for i in range(len(inst_ids))}
    return {"needs": by_need, "institutions": by_inst}


@settings(max_examples=40)
@given(catalogues(), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_recommendations_do_not_depend_on_row_order(
    case: tuple[elig.Needs, elig.Products], seed: int, shuffle: int
) -> None:
    n, p, aff, risk = _inputs(case, seed)
    need_ids = np.arange(len(n)) * 3 + 10
    product_ids = np.arange(len(p)) * 7 + 5
    inst_ids = np.arange(INSTITUTIONS) * 11 + 1
    first = _named(_run(n, p, aff, risk, need_ids, product_ids, inst_ids),
                   need_ids, product_ids, inst_ids)  # fmt: skip
    rng = np.random.default_rng(shuffle)
    pn, pp, pi = rng.permutation(len(n)), rng.permutation(len(p)), rng.permutation(INSTITUTIONS)
    inverse_i = np.argsort(pi)
    p2 = elig.Products(
        **{
            k: getattr(p, k)[pp]
            for k in p.__dataclass_fields__
            if k not in ("zones", "stage_modes", "institution")
        },
        institution=inverse_i[p.institution[pp]],
        zones=p.zones[:, pp],
        stage_modes=p.stage_modes,
    )
    second = _named(
        _run(n.take(pn), p2, aff[pn][:, pi], risk[pn], need_ids[pn], product_ids[pp],
             inst_ids[pi], block=5),
        need_ids[pn], product_ids[pp], inst_ids[pi],
    )  # fmt: skip
    assert first == second


@settings(max_examples=40)
@given(catalogues(), st.integers(0, 2**32 - 1))
def test_only_eligible_products_best_first(
    case: tuple[elig.Needs, elig.Products], seed: int
) -> None:
    n, p, aff, risk = _inputs(case, seed)
    r = _run(n, p, aff, risk, np.arange(len(n)) + 1, np.arange(len(p)) + 1,
             np.arange(INSTITUTIONS) + 1)  # fmt: skip
    plain = elig.check(n, p)
    for row in range(len(n)):
        chosen = [j for j in r.products[row] if j >= 0]
        assert len(chosen) == min(4, int(plain.eligible[row].sum()))
        assert all(plain.eligible[row, j] for j in chosen)
        scores = r.product_scores[row][: len(chosen)]
        assert (np.diff(scores) <= 1e-9).all()
        for j, rule in zip(r.near_products[row], r.near_rules[row], strict=True):
            if j >= 0:
                assert plain.failures[row, j] == 1
                assert plain.failed_rule[row, j] == rule
        for i, score in zip(r.institutions[row], r.institution_scores[row], strict=True):
            if i >= 0:  # an institution's score is its best eligible product's
                mine = [k for k in range(len(p)) if p.institution[k] == i]
                assert any(plain.eligible[row, k] for k in mine)
                assert np.isfinite(score)


def test_a_better_track_record_ranks_first() -> None:
    p = products(2, institution=np.array([0, 1]))
    aff = np.array([[0.2, 1.0]])
    r = rec.recommend(needs(), p, aff, np.zeros(1), np.array([1]), np.array([1, 2]),
                      np.array([1, 2]))  # fmt: skip
    assert r.products[0, :2].tolist() == [1, 0]
    assert r.institutions[0, :2].tolist() == [1, 0]
    assert r.firms[1, 0] == 0


def test_empty_inputs_give_empty_answers() -> None:
    none = products(0)
    r = rec.recommend(needs(2), none, np.ones((2, 1)), np.zeros(2), np.array([1, 2]),
                      np.zeros(0, dtype=np.int64), np.array([1]))  # fmt: skip
    assert r.products.shape == (2, 0) and r.eligible_count.tolist() == [0, 0]
    assert (r.institutions == -1).all() and (r.firms == -1).all()
    shut = products(1, min_points=99.0)
    r = rec.recommend(needs(1), shut, np.ones((1, 1)), np.zeros(1), np.array([1]),
                      np.array([1]), np.array([1]))  # fmt: skip
    assert r.products.tolist() == [[-1]] and r.near_rules.tolist() == [[0]]
    r = rec.recommend(needs(0), shut, np.ones((0, 1)), np.zeros(0), np.zeros(0, dtype=np.int64),
                      np.array([1]), np.array([1]))  # fmt: skip
    assert r.products.shape == (0, 1) and r.firms.tolist() == [[]]
