"""TOPSIS engine: a hand-computed example, invariance properties, weight sensitivity, bad input.

The expected closeness values are worked out below with plain arithmetic, not with the engine's
own helpers, so a wrong formula in the engine cannot make its own test pass.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.kernel.errors import InvalidInput
from innofin.scoring.topsis_engine import Criterion, sensitivity, topsis

# --- hand-computed example -----------------------------------------------------------------------

# 4 zones × 3 criteria: gdp (benefit), tax (benefit), cost (cost: lower is better).
# Raw weights 5 : 3 : 2, so the normalised weights are 0.5, 0.3, 0.2.
HAND = np.array(
    [
        [1.0, 4.0, 1.0],  # zone A
        [2.0, 2.0, 5.0],  # zone B
        [4.0, 2.0, 5.0],  # zone C
        [2.0, 1.0, 7.0],  # zone D
    ]
)
HAND_CRITERIA = [Criterion("gdp", 5), Criterion("tax", 3), Criterion("cost", 2, benefit=False)]


def _hand_closeness() -> list[float]:
    # Step 1, column norms: gdp sqrt(1+4+16+4) = 5, tax sqrt(16+4+4+1) = 5,
    # cost sqrt(1+25+25+49) = 10.
    # Step 2, normalised matrix r = x / norm:
    #   gdp  0.2 0.4 0.8 0.4 | tax 0.8 0.4 0.4 0.2 | cost 0.1 0.5 0.5 0.7
    # Step 3, weighted v = w r with w = (0.5, 0.3, 0.2):
    #   gdp  0.10 0.20 0.40 0.20 | tax 0.24 0.12 0.12 0.06 | cost 0.02 0.10 0.10 0.14
    # Step 4, ideal (max, max, min) = (0.40, 0.24, 0.02); anti-ideal = (0.10, 0.06, 0.14).
    # Step 5, distances:
    a_plus = math.sqrt(0.30**2 + 0.00**2 + 0.00**2)
    a_minus = math.sqrt(0.00**2 + 0.18**2 + 0.12**2)
    b_plus = math.sqrt(0.20**2 + 0.12**2 + 0.08**2)
    b_minus = math.sqrt(0.10**2 + 0.06**2 + 0.04**2)
    c_plus = math.sqrt(0.00**2 + 0.12**2 + 0.08**2)
    c_minus = math.sqrt(0.30**2 + 0.06**2 + 0.04**2)
    d_plus = math.sqrt(0.20**2 + 0.18**2 + 0.12**2)
    d_minus = math.sqrt(0.10**2 + 0.00**2 + 0.00**2)
    # Step 6, closeness C = d- / (d+ + d-).
    return [
        a_minus / (a_plus + a_minus),  # ≈ 0.418980
        b_minus / (b_plus + b_minus),  # = 1/3 exactly (b_plus = 2 b_minus)
        c_minus / (c_plus + c_minus),  # ≈ 0.681465
        d_minus / (d_plus + d_minus),  # ≈ 0.253409
    ]


def test_hand_computed_example() -> None:
    result = topsis(HAND, HAND_CRITERIA)
    expected = _hand_closeness()
    np.testing.assert_allclose(result.closeness, expected, rtol=0, atol=1e-12)
    assert result.closeness[1] == pytest.approx(1 / 3, abs=1e-12)
    np.testing.assert_allclose(result.weights, [0.5, 0.3, 0.2], rtol=0, atol=1e-15)
    assert result.order.tolist() == [2, 0, 1, 3]  # C, A, B, D
    assert result.rank.tolist() == [2, 3, 1, 4]


def test_cost_criterion_reverses_the_order() -> None:
    x = np.array([[3.0], [1.0], [2.0]])
    assert topsis(x, [Criterion("gdp", 1)]).order.tolist() == [0, 2, 1]
    assert topsis(x, [Criterion("cost", 1, benefit=False)]).order.tolist() == [1, 2, 0]
    # With a single column the best is the ideal (C = 1) and the worst the anti-ideal (C = 0).
    np.testing.assert_allclose(topsis(x, [Criterion("gdp", 1)]).closeness, [1.0, 0.0, 0.5])


def test_all_zones_equal_get_one_half_and_keep_index_order() -> None:
    x = np.full((4, 2), 7.0)
    result = topsis(x, [Criterion("gdp", 1), Criterion("tax", 2)])
    assert result.closeness.tolist() == [0.5, 0.5, 0.5, 0.5]
    assert result.order.tolist() == [0, 1, 2, 3]
    assert result.rank.tolist() == [1, 2, 3, 4]


def test_ties_are_broken_by_lower_index() -> None:
    x = np.array([[1.0, 1.0], [5.0, 5.0], [3.0, 3.0], [5.0, 5.0]])
    result = topsis(x, [Criterion("gdp", 1), Criterion("tax", 1)])
    assert result.closeness[1] == result.closeness[3]
    assert result.order.tolist() == [1, 3, 2, 0]
    assert result.rank.tolist() == [4, 1, 3, 2]


def test_zero_column_contributes_nothing() -> None:
    with_zeros = np.column_stack([HAND, np.zeros(4)])
    criteria = [*HAND_CRITERIA, Criterion("patents", 4)]
    result = topsis(with_zeros, criteria)  # filterwarnings=error: no division warning either
    np.testing.assert_allclose(result.closeness, _hand_closeness(), rtol=0, atol=1e-12)
    assert result.order.tolist() == [2, 0, 1, 3]


def test_huge_and_tiny_statistics_do_not_overflow() -> None:
    result = topsis(HAND * 1e300, HAND_CRITERIA)
    np.testing.assert_allclose(result.closeness, _hand_closeness(), rtol=0, atol=1e-12)
    result = topsis(HAND * 1e-310, HAND_CRITERIA)  # subnormal inputs
    np.testing.assert_allclose(result.closeness, _hand_closeness(), rtol=0, atol=1e-6)


def test_results_are_read_only() -> None:
    result = topsis(HAND, HAND_CRITERIA)
    with pytest.raises(ValueError, match="read-only"):
        result.closeness[0] = 1.0


# --- properties ----------------------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn, min_rows: int = 1) -> tuple[npt.NDArray[np.float64], list[Criterion]]:
    m = draw(st.integers(min_rows, 12))
    n = draw(st.integers(1, 5))
    cells = st.one_of(st.just(0.0), st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False))
    x = np.array(draw(st.lists(st.lists(cells, min_size=n, max_size=n), min_size=m, max_size=m)))
    weights = draw(st.lists(st.floats(0.01, 100.0), min_size=n, max_size=n))
    benefit = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    criteria = [
        Criterion(f"c{j}", w, b) for j, (w, b) in enumerate(zip(weights, benefit, strict=True))
    ]
    return x, criteria


@settings(max_examples=100, deadline=None)
@given(problems())
def test_closeness_lies_in_unit_interval_and_order_is_consistent(
    problem: tuple[npt.NDArray[np.float64], list[Criterion]],
) -> None:
    x, criteria = problem
    result = topsis(x, criteria)
    m = x.shape[0]
    assert result.closeness.shape == (m,)
    assert np.all(result.closeness >= 0.0) and np.all(result.closeness <= 1.0)
    assert sorted(result.order.tolist()) == list(range(m))
    assert np.all(np.diff(result.closeness[result.order]) <= 0.0)  # best first
    assert result.rank[result.order].tolist() == list(range(1, m + 1))
    assert math.isclose(float(result.weights.sum()), 1.0, rel_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(problems(), st.data())
def test_row_order_never_changes_a_zones_value(
    problem: tuple[npt.NDArray[np.float64], list[Criterion]], data: st.DataObject
) -> None:
    x, criteria = problem
    perm = np.array(data.draw(st.permutations(range(x.shape[0]))), dtype=np.intp)
    base = topsis(x, criteria)
    permuted = topsis(x[perm], criteria)
    # Bit for bit: the engine sums in an order that does not depend on the rows.
    np.testing.assert_array_equal(permuted.closeness, base.closeness[perm])


@settings(max_examples=100, deadline=None)
@given(problems(), st.data())
def test_scaling_a_column_changes_nothing(
    problem: tuple[npt.NDArray[np.float64], list[Criterion]], data: st.DataObject
) -> None:
    x, criteria = problem
    j = data.draw(st.integers(0, x.shape[1] - 1))
    factor = data.draw(st.floats(1e-3, 1e3))
    scaled = x.copy()
    scaled[:, j] *= factor
    np.testing.assert_allclose(
        topsis(scaled, criteria).closeness, topsis(x, criteria).closeness, rtol=0, atol=1e-9
    )


@settings(max_examples=100, deadline=None)
@given(problems(), st.floats(1e-3, 1e3))
def test_multiplying_all_weights_changes_nothing(
    problem: tuple[npt.NDArray[np.float64], list[Criterion]], factor: float
) -> None:
    x, criteria = problem
    scaled = [Criterion(c.id, c.weight * factor, c.benefit) for c in criteria]
    base, other = topsis(x, criteria), topsis(x, scaled)
    np.testing.assert_allclose(other.weights, base.weights, rtol=1e-12, atol=0)
    np.testing.assert_allclose(other.closeness, base.closeness, rtol=0, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_dominating_zone_ranks_first(data: st.DataObject) -> None:
    m = data.draw(st.integers(2, 12))
    n = data.draw(st.integers(1, 5))
    x = np.array(
        data.draw(
            st.lists(st.lists(st.integers(1, 1000), min_size=n, max_size=n), min_size=m, max_size=m)
        ),
        dtype=np.float64,
    )
    benefit = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    weights = data.draw(st.lists(st.floats(0.01, 10.0), min_size=n, max_size=n))
    criteria = [
        Criterion(f"c{j}", w, bool(b))
        for j, (w, b) in enumerate(zip(weights, benefit, strict=True))
    ]
    winner = data.draw(st.integers(0, m - 1))
    strict = data.draw(st.integers(0, n - 1))
    others = np.delete(x, winner, axis=0)
    # ≥ every other zone on each benefit criterion, ≤ on each cost criterion ...
    x[winner] = np.where(benefit, others.max(axis=0), others.min(axis=0))
    # ... and strictly better than all of them on one criterion.
    x[winner, strict] += 1.0 if benefit[strict] else -1.0
    result = topsis(x, criteria)
    assert result.order[0] == winner
    assert result.rank[winner] == 1
    assert result.closeness[winner] == 1.0  # it is the ideal point
    assert np.all(np.delete(result.closeness, winner) < 1.0)


# --- sensitivity ---------------------------------------------------------------------------------


def test_one_dominating_weight_gives_a_stable_top_n() -> None:
    rng = np.random.default_rng(7)
    m = 15
    gdp = rng.permutation(np.arange(1, m + 1)) * 100.0  # well separated
    x = np.column_stack([gdp, rng.uniform(0, 1, m), rng.uniform(0, 1, m), rng.uniform(0, 1, m)])
    criteria = [
        Criterion("gdp", 100),
        Criterion("tax", 1),
        Criterion("rd", 1),
        Criterion("debt", 1, benefit=False),
    ]
    result = sensitivity(x, criteria, top_n=5)
    expected_top = tuple(int(i) for i in np.argsort(-gdp)[:5])
    assert result.base_top == expected_top
    assert result.stable_share == 1.0
    assert result.always_in == expected_top
    assert len(result.perturbations) == 8
    assert [p.criterion for p in result.perturbations] == [
        c for c in ("gdp", "tax", "rd", "debt") for _ in range(2)
    ]
    assert [round(p.factor, 12) for p in result.perturbations] == [0.8, 1.2] * 4
    for p in result.perturbations:
        assert set(p.top) == set(expected_top)
        assert p.entered == () and p.left == () and p.overlap == 1.0
    # The top five by gdp keep ranks 1–5 throughout.
    assert np.all(result.rank_range[list(expected_top), 1] <= 5)


# Zones 0 and 1 are clearly best; zone 2 (more gdp) and zone 3 (more tax) are nearly tied for 3rd.
TRADE_OFF = np.array(
    [
        [10.0, 10.0],
        [9.0, 9.5],
        [7.05, 4.0],
        [4.0, 7.0],
        [2.0, 2.0],
        [1.0, 1.5],
    ]
)
TRADE_OFF_CRITERIA = [Criterion("gdp", 1), Criterion("tax", 1)]


def test_near_tie_flips_when_a_weight_moves() -> None:
    result = sensitivity(TRADE_OFF, TRADE_OFF_CRITERIA, top_n=3, delta=0.2)
    assert result.base_top == (0, 1, 2)
    by_move = {(p.criterion, round(p.factor, 6)): p for p in result.perturbations}
    assert set(by_move) == {("gdp", 0.8), ("gdp", 1.2), ("tax", 0.8), ("tax", 1.2)}

    flipped = by_move[("tax", 1.2)]  # more weight on tax favours zone 3 over zone 2
    assert flipped.top == (0, 1, 3)
    assert flipped.entered == (3,)
    assert flipped.left == (2,)
    assert flipped.overlap == pytest.approx(2 / 3)
    # Less weight on gdp is the same relative move once the weights are renormalised.
    assert by_move[("gdp", 0.8)].entered == (3,) and by_move[("gdp", 0.8)].left == (2,)
    for key in [("gdp", 1.2), ("tax", 0.8)]:
        assert by_move[key].top == (0, 1, 2)
        assert by_move[key].entered == () and by_move[key].left == ()
        assert by_move[key].overlap == 1.0

    assert result.stable_share == 0.5
    assert result.always_in == (0, 1)
    assert result.rank_range.tolist() == [[1, 1], [2, 2], [3, 4], [3, 4], [5, 5], [6, 6]]


def test_perturbations_match_a_rerun_with_the_moved_weight() -> None:
    result = sensitivity(TRADE_OFF, TRADE_OFF_CRITERIA, top_n=3, delta=0.2)
    for p in result.perturbations:
        moved = [
            Criterion(c.id, c.weight * p.factor if c.id == p.criterion else c.weight, c.benefit)
            for c in TRADE_OFF_CRITERIA
        ]
        assert p.top == tuple(int(i) for i in topsis(TRADE_OFF, moved).order[:3])


def test_a_small_delta_does_not_flip_the_near_tie() -> None:
    result = sensitivity(TRADE_OFF, TRADE_OFF_CRITERIA, top_n=3, delta=0.01)
    assert result.stable_share == 1.0
    assert result.always_in == (0, 1, 2)


@settings(max_examples=100, deadline=None)
@given(problems(min_rows=1), st.data())
def test_sensitivity_report_is_consistent(
    problem: tuple[npt.NDArray[np.float64], list[Criterion]], data: st.DataObject
) -> None:
    x, criteria = problem
    m = x.shape[0]
    top_n = data.draw(st.integers(1, m))
    delta = data.draw(st.floats(0.01, 0.99))
    base = topsis(x, criteria)
    result = sensitivity(x, criteria, top_n=top_n, delta=delta)

    assert result.base_top == tuple(int(i) for i in base.order[:top_n])
    assert len(result.perturbations) == 2 * len(criteria)
    lo, hi = result.rank_range[:, 0], result.rank_range[:, 1]
    assert np.all(lo <= base.rank) and np.all(base.rank <= hi)  # contains the base rank
    assert np.all(lo >= 1) and np.all(hi <= m)
    stable = 0
    for p in result.perturbations:
        assert len(p.top) == top_n
        assert set(p.entered) == set(p.top) - set(result.base_top)
        assert set(p.left) == set(result.base_top) - set(p.top)
        assert p.overlap == pytest.approx(1 - len(p.left) / top_n)
        assert set(result.always_in) <= set(p.top)
        assert np.all(lo[list(p.top)] <= top_n)
        stable += set(p.top) == set(result.base_top)
    assert result.stable_share == pytest.approx(stable / len(result.perturbations))
    assert set(result.always_in) <= set(result.base_top)


# --- bad input -----------------------------------------------------------------------------------


def test_nan_cell_names_the_criterion_and_the_row() -> None:
    x = HAND.copy()
    x[3, 1] = np.nan
    with pytest.raises(InvalidInput, match=r"^criterion tax is missing for row 3$") as err:
        topsis(x, HAND_CRITERIA)
    assert err.value.field == "tax"


def test_infinite_cell_names_the_criterion_and_the_row() -> None:
    x = HAND.copy()
    x[2, 0] = -np.inf
    with pytest.raises(InvalidInput, match=r"criterion gdp is not finite .*row 2") as err:
        sensitivity(x, HAND_CRITERIA, top_n=2)
    assert err.value.field == "gdp"


@pytest.mark.parametrize("weight", [0.0, -1.0, math.nan, math.inf])
def test_non_positive_or_non_finite_weight_is_refused(weight: float) -> None:
    criteria = [HAND_CRITERIA[0], Criterion("tax", weight), HAND_CRITERIA[2]]
    with pytest.raises(InvalidInput, match="criterion tax weight") as err:
        topsis(HAND, criteria)
    assert err.value.field == "tax"


def test_duplicate_ids_no_criteria_and_shape_mismatch_are_refused() -> None:
    with pytest.raises(InvalidInput, match="criterion gdp is given twice") as err:
        topsis(HAND, [Criterion("gdp", 1), Criterion("gdp", 1), Criterion("cost", 1, False)])
    assert err.value.field == "gdp"
    with pytest.raises(InvalidInput, match="at least one criterion"):
        topsis(HAND, [])
    with pytest.raises(InvalidInput, match=r"3 column.*2 criteria") as err:
        topsis(HAND, HAND_CRITERIA[:2])
    assert err.value.field == "matrix"
    with pytest.raises(InvalidInput, match="2-dimensional"):
        topsis(HAND[0], HAND_CRITERIA)
    with pytest.raises(InvalidInput, match="no rows"):
        topsis(np.empty((0, 3)), HAND_CRITERIA)


@pytest.mark.parametrize("top_n", [0, 5, -1])
def test_top_n_out_of_range_is_refused(top_n: int) -> None:
    with pytest.raises(InvalidInput, match="top_n must be between 1 and 4") as err:
        sensitivity(HAND, HAND_CRITERIA, top_n=top_n)
    assert err.value.field == "top_n"


def test_default_top_n_of_ten_is_refused_for_four_zones() -> None:
    with pytest.raises(InvalidInput, match="top_n") as err:
        sensitivity(HAND, HAND_CRITERIA)
    assert err.value.field == "top_n"


@pytest.mark.parametrize("delta", [0.0, 1.0, -0.2, 1.5, math.nan])
def test_delta_outside_the_open_unit_interval_is_refused(delta: float) -> None:
    with pytest.raises(InvalidInput, match="delta") as err:
        sensitivity(HAND, HAND_CRITERIA, top_n=2, delta=delta)
    assert err.value.field == "delta"
