"""The key-enterprise selection engine against brute force and hand-computable examples.

Expected values are worked out by hand or by enumerating every subset, never copied from a
solver run.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.kernel.errors import Infeasible, InvalidInput
from innofin.scoring.explain_engine import leave_out_reasons
from innofin.scoring.select_engine import (
    Quota,
    Selection,
    SelectionProblem,
    _solve,
    select,
)


def problem(
    points: Sequence[float],
    zones: Sequence[str],
    count: int,
    quotas: Sequence[Quota] = (),
    *,
    fields: Sequence[str] | None = None,
    provinces: Sequence[str] | None = None,
    eligible: Sequence[bool] | None = None,
) -> SelectionProblem:
    groups: dict[str, npt.NDArray[np.str_]] = {"zone": np.array(zones)}
    if fields is not None:
        groups["field"] = np.array(fields)
    if provinces is not None:
        groups["province"] = np.array(provinces)
    return SelectionProblem(
        points=np.array(points, dtype=np.float64),
        eligible=np.ones(len(points), dtype=np.bool_)
        if eligible is None
        else np.array(eligible, dtype=np.bool_),
        groups=groups,
        count=count,
        quotas=tuple(quotas),
    )


def in_group(p: SelectionProblem, q: Quota, members: npt.NDArray[np.bool_]) -> int:
    return int(np.count_nonzero(members & (np.asarray(p.groups[q.kind]) == q.key)))


def meets_quotas(p: SelectionProblem, members: npt.NDArray[np.bool_]) -> bool:
    return all(
        q.min <= in_group(p, q, members) and (q.max is None or in_group(p, q, members) <= q.max)
        for q in p.quotas
    )


def brute_force(p: SelectionProblem) -> float | None:
    """Best total points over every eligible subset of size `count` that meets every quota."""
    best: float | None = None
    n = p.points.size
    for subset in itertools.combinations(np.flatnonzero(p.eligible).tolist(), p.count):
        members = np.zeros(n, dtype=np.bool_)
        members[list(subset)] = True
        if meets_quotas(p, members):
            total = float(p.points[members].sum())
            best = total if best is None else max(best, total)
    return best


def assert_valid(p: SelectionProblem, result: Selection) -> None:
    chosen = result.chosen
    assert chosen.dtype == np.bool_ and chosen.shape == p.points.shape
    assert int(chosen.sum()) == p.count
    assert not np.any(chosen & ~p.eligible), "an ineligible enterprise was chosen"
    assert meets_quotas(p, chosen)
    assert result.objective == pytest.approx(float(p.points[chosen].sum()))
    assert result.cutoff == float(p.points[chosen].min())
    assert result.bound >= result.objective - 1e-6
    assert result.solver.startswith("HiGHS ")


# --------------------------------------------------------------------------------------------
# Properties


@st.composite
def small_problems(draw: st.DrawFn) -> SelectionProblem:
    n = draw(st.integers(1, 12))
    zone_keys = [f"Z00{i}" for i in range(1, draw(st.integers(2, 3)) + 1)]
    field_keys = ["bio_medicine", "new_energy"]
    codes = st.lists(st.sampled_from(zone_keys), min_size=n, max_size=n)
    zones = draw(codes)
    fields = draw(st.lists(st.sampled_from(field_keys), min_size=n, max_size=n))
    points = draw(st.lists(st.integers(0, 60).map(lambda v: v / 10), min_size=n, max_size=n))
    eligible = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    count = draw(st.integers(1, 4))
    quotas = []
    # "Z009" has no enterprise at all: with min > 0 it must make the problem infeasible.
    for kind, keys in (("zone", [*zone_keys, "Z009"]), ("field", field_keys)):
        for key in keys:
            if draw(st.booleans()):
                low = draw(st.integers(0, 2))
                high = draw(st.one_of(st.none(), st.integers(low, low + 3)))
                quotas.append(Quota(kind, key, min=low, max=high))
    return problem(points, zones, count, quotas, fields=fields, eligible=eligible)


@settings(max_examples=150, deadline=None)
@given(small_problems())
def test_select_equals_brute_force(p: SelectionProblem) -> None:
    best = brute_force(p)
    if best is None:
        with pytest.raises(Infeasible):
            select(p)
        return
    result = select(p)
    assert_valid(p, result)
    assert result.objective == pytest.approx(best, abs=1e-9)
    assert result.status == "optimal" and result.gap == 0.0
    plain = _solve(p, reduce=False)
    assert plain.objective == pytest.approx(best, abs=1e-9)


@st.composite
def medium_problems(draw: st.DrawFn) -> SelectionProblem:
    """Bigger cells, where the reduction and the pricing drop columns; provinces deliberately
    not nested in zones, so the matrix need not be totally unimodular."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 1500))
    count = int(rng.integers(5, 60))
    zones = np.array([f"Z{z:03d}" for z in range(int(rng.integers(3, 12)))])
    fields = np.array(["f0", "f1", "f2", "f3"])
    provinces = np.array(["P0", "P1", "P2"])
    quotas = [
        Quota("zone", str(z), min=int(rng.integers(0, 2)), max=int(rng.integers(3, 12)))
        for z in zones
    ]
    quotas += [Quota("field", str(f), max=int(rng.integers(count // 4 + 1, count))) for f in fields]
    quotas += [Quota("province", str(pr), min=int(rng.integers(0, 3))) for pr in provinces]
    return SelectionProblem(
        points=np.round(rng.gamma(2.0, 50.0, n), 0),
        eligible=rng.random(n) < 0.7,
        groups={
            "zone": zones[rng.integers(0, zones.size, n)],
            "field": fields[rng.integers(0, fields.size, n)],
            "province": provinces[rng.integers(0, provinces.size, n)],
        },
        count=count,
        quotas=quotas,
    )


@settings(max_examples=40, deadline=None)
@given(medium_problems())
def test_reductions_keep_the_optimum(p: SelectionProblem) -> None:
    try:
        plain = _solve(p, reduce=False)
    except Infeasible:
        with pytest.raises(Infeasible):
            select(p)
        return
    for result in (select(p), _solve(p, price=False)):
        assert_valid(p, result)
        assert result.status == "optimal"
        assert result.objective == pytest.approx(plain.objective, rel=1e-9)


# --------------------------------------------------------------------------------------------
# Hand-made examples


def test_no_quotas_takes_the_top_points() -> None:
    p = problem([5, 9, 1, 7, 3], ["Z001"] * 5, 2)
    result = select(p)
    assert np.flatnonzero(result.chosen).tolist() == [1, 3]
    assert result.objective == 16.0 and result.cutoff == 7.0
    assert result.status == "optimal" and result.gap == 0.0 and result.binding == ()


def test_ineligible_enterprises_are_never_chosen() -> None:
    p = problem([100, 2, 3], ["Z001"] * 3, 2, eligible=[False, True, True])
    assert np.flatnonzero(select(p).chosen).tolist() == [1, 2]


def test_zone_minimum_forces_a_lower_scoring_enterprise_in() -> None:
    # Without the quota the top two (10, 9) win; zone Z002 min 1 forces 1 point in for 9.
    quota = Quota("zone", "Z002", min=1)
    p = problem([10, 9, 8, 1], ["Z001", "Z001", "Z001", "Z002"], 2, [quota])
    result = select(p)
    assert np.flatnonzero(result.chosen).tolist() == [0, 3]
    assert result.objective == 11.0
    assert result.binding == ("zone Z002 (min 1)",)
    assert quota.name == "zone Z002 (min 1)"


def test_province_cap() -> None:
    # The three best are in 江苏, capped at 2: the third place goes to the best elsewhere.
    cap = Quota("province", "江苏", max=2)
    p = problem(
        [50, 40, 30, 20, 10],
        ["Z001", "Z001", "Z002", "Z003", "Z003"],
        3,
        [cap],
        provinces=["江苏", "江苏", "江苏", "浙江", "浙江"],
    )
    result = select(p)
    assert np.flatnonzero(result.chosen).tolist() == [0, 1, 3]
    assert result.objective == 110.0
    assert result.binding == ("province 江苏 (max 2)",)
    assert cap.name == "province 江苏 (max 2)"


def test_zone_and_field_quotas_together() -> None:
    # count 3, field bio max 1, zone Z002 min 2. By hand: {0, 4, 5} = 18 beats {2, 3, 4} = 17.5,
    # {3, 4, 5} = 15 and every other set meeting both quotas.
    quotas = [Quota("field", "bio", max=1), Quota("zone", "Z002", min=2, max=3)]
    p = problem(
        [9, 8, 6.5, 6, 5, 4],
        ["Z001", "Z001", "Z001", "Z002", "Z002", "Z002"],
        3,
        quotas,
        fields=["bio", "bio", "ict", "bio", "ict", "ict"],
    )
    result = select(p)
    assert np.flatnonzero(result.chosen).tolist() == [0, 4, 5]
    assert result.objective == 18.0
    assert set(result.binding) == {"field bio (max 1)", "zone Z002 (min 2, max 3)"}


def test_pricing_adds_columns_until_no_reduced_cost_is_positive() -> None:
    # Cells zone × field, 20 enterprises each: A×f1 at 100, B×f1 at 90, A×f2 at 80, B×f2 at 10.
    # count 30, zone A max 18, field f1 max 9. With x1..x4 taken from those cells the total is
    # 300 + 90·x1 + 80·x2 + 70·x3 under x1 + x2 ≤ 9 and x1 + x3 ≤ 18: best x1 = 0, x2 = 9,
    # x3 = 18, x4 = 3, i.e. 2280. The first restricted model cannot reach 30, so pricing has to
    # widen the B×f2 cell.
    cells = [("A", "f1", 100.0), ("B", "f1", 90.0), ("A", "f2", 80.0), ("B", "f2", 10.0)]
    zones = [z for z, _, _ in cells for _ in range(20)]
    fields = [f for _, f, _ in cells for _ in range(20)]
    points = [v for _, _, v in cells for _ in range(20)]
    quotas = [Quota("zone", "A", max=18), Quota("field", "f1", max=9)]
    p = problem(points, zones, 30, quotas, fields=fields)
    stats: dict[str, float] = {}
    result = _solve(p, stats=stats)
    assert stats["pricing_rounds"] >= 2
    assert stats["variables"] < 80
    assert result.objective == 2280.0 and result.status == "optimal" and result.gap == 0.0
    # Within each cell, ties go to the lowest indices.
    expected = [*range(20, 29), *range(40, 58), *range(60, 63)]
    assert np.flatnonzero(result.chosen).tolist() == expected
    assert _solve(p, reduce=False).objective == 2280.0


def test_fractional_relaxation_falls_back_to_the_integer_model() -> None:
    # Enterprises 0, 1, 2 pairwise share a capped group (zone Z1, field F1, province P1, each
    # max 1), so at most one of them can be chosen, while the LP relaxation takes half of each.
    # Enterprise 3 is unconstrained: the best pair is {0, 3} = 11.
    quotas = [
        Quota("zone", "Z1", max=1),
        Quota("field", "F1", max=1),
        Quota("province", "P1", max=1),
    ]
    p = problem(
        [10, 9, 8, 1],
        ["Z1", "Z1", "Z2", "Z3"],
        2,
        quotas,
        fields=["F2", "F1", "F1", "F3"],
        provinces=["P1", "P2", "P1", "P3"],
    )
    result = select(p)
    assert np.flatnonzero(result.chosen).tolist() == [0, 3]
    assert result.objective == 11.0 and result.status == "optimal" and result.gap == 0.0
    assert result.bound == pytest.approx(11.0)


def test_infeasible_when_minima_sum_above_count() -> None:
    quotas = [Quota("zone", "Z001", min=2), Quota("zone", "Z002", min=2)]
    p = problem([1, 2, 3, 4, 5], ["Z001", "Z001", "Z002", "Z002", "Z003"], 3, quotas)
    with pytest.raises(Infeasible) as caught:
        select(p)
    message = str(caught.value)
    assert "zone minima sum to 4 > count 3" in message
    assert "Z001 min 2" in message and "Z002 min 2" in message
    assert isinstance(caught.value, InvalidInput)


def test_infeasible_when_maxima_allow_fewer_than_count() -> None:
    quotas = [Quota("zone", "Z001", max=1), Quota("zone", "Z002", max=1)]
    p = problem([1, 2, 3, 4], ["Z001", "Z001", "Z002", "Z002"], 3, quotas)
    with pytest.raises(Infeasible) as caught:
        select(p)
    message = str(caught.value)
    assert "count 3 but the zone maxima allow at most 2" in message
    assert "Z001 max 1" in message and "Z002 max 1" in message


def test_infeasible_when_a_zone_has_too_few_eligible() -> None:
    zones = ["Z003"] * 6 + ["Z001"] * 20
    eligible = [True] * 4 + [False] * 2 + [True] * 20
    p = problem(list(range(26)), zones, 12, [Quota("zone", "Z003", min=10)], eligible=eligible)
    with pytest.raises(Infeasible, match="zone Z003 min 10 but only 4 eligible enterprises"):
        select(p)


def test_infeasible_when_too_few_are_eligible() -> None:
    p = problem([1, 2, 3], ["Z001"] * 3, 3, eligible=[True, False, True])
    with pytest.raises(Infeasible, match="count 3 but only 2 enterprises are eligible"):
        select(p)


def test_quota_key_missing_from_the_data() -> None:
    zones = ["Z001", "Z001", "Z002"]
    with pytest.raises(Infeasible, match="Z404 min 1 but no enterprise in the data has it"):
        select(problem([1, 2, 3], zones, 2, [Quota("zone", "Z404", min=1)]))
    # Without a minimum such a quota constrains nothing.
    result = select(problem([1, 2, 3], zones, 2, [Quota("zone", "Z404", max=5)]))
    assert result.objective == 5.0


def test_conflict_across_kinds_is_found_by_the_elastic_model() -> None:
    # Zone Z001 min 3 needs all of 0, 1, 2; field ict min 3 needs all of 1, 3, 5: together at
    # least 5 enterprises, but count is 3. No single-kind count shows it.
    quotas = [Quota("zone", "Z001", min=3), Quota("field", "ict", min=3)]
    p = problem(
        [6, 5, 4, 3, 2, 1],
        ["Z001", "Z001", "Z001", "Z002", "Z002", "Z002"],
        3,
        quotas,
        fields=["bio", "ict", "bio", "ict", "bio", "ict"],
    )
    with pytest.raises(Infeasible) as caught:
        select(p)
    message = str(caught.value)
    assert "conflict" in message
    for name in ("count 3", "zone Z001 (min 3)", "field ict (min 3)"):
        assert name in message
    # Each fix is the smallest change of that constraint: 5 places, or a minimum of 1.
    assert "count 5 instead of 3" in message
    assert "zone Z001 min 1 instead of 3" in message
    assert "field ict min 1 instead of 3" in message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"eligible": np.ones(3, dtype=np.bool_)}, "eligible", "lengths differ"),
        ({"groups": {"zone": np.array(["Z001"] * 3)}}, "groups", "lengths differ"),
        ({"quotas": (Quota("sector", "x", max=1),)}, "quotas", "'sector' is not in groups"),
        ({"quotas": (Quota("zone", "Z001", min=3, max=2),)}, "quotas", "min 3 > max 2"),
        ({"quotas": (Quota("zone", "Z001", max=-1),)}, "quotas", "max -1 is negative"),
        ({"quotas": (Quota("zone", "Z001", min=-1),)}, "quotas", "min -1 is negative"),
        ({"quotas": (Quota("zone", "Z001"), Quota("zone", "Z001"))}, "quotas", "second quota"),
        ({"count": 0}, "count", "count must be at least 1"),
        ({"points": np.array([1.0, np.nan, 2.0, 3.0])}, "points", "at index 1"),
        ({"points": np.array([[1.0, 2.0, 3.0, 4.0]])}, "points", "one-dimensional"),
        ({"eligible": np.ones(4)}, "eligible", "booleans"),
        ({"mip_gap": 1.5}, "mip_gap", "mip_gap"),
        ({"time_limit": 0}, "time_limit", "time_limit"),
    ],
)
def test_invalid_input_names_the_parameter(change: dict[str, Any], field: str, words: str) -> None:
    base = problem([1, 2, 3, 4], ["Z001", "Z001", "Z002", "Z002"], 2)
    bad = dataclasses.replace(base, **change)
    with pytest.raises(InvalidInput, match=words) as caught:
        select(bad)
    assert caught.value.field == field
    assert not isinstance(caught.value, Infeasible)


def test_ties_go_to_the_lower_index() -> None:
    p = problem([5.0] * 6, ["Z001", "Z002"] * 3, 3, [Quota("zone", "Z001", max=2)])
    first = select(p)
    # Two from Z001 (indices 0, 2, 4: the lowest two) and one from Z002 (1, 3, 5: the lowest).
    assert np.flatnonzero(first.chosen).tolist() == [0, 1, 2]
    for _ in range(3):
        assert np.array_equal(select(p).chosen, first.chosen)


def test_object_and_str_group_codes_give_the_same_selection() -> None:
    p = problem([3, 1, 2, 5], ["Z001", "Z002", "Z002", "Z001"], 2, [Quota("zone", "Z002", min=1)])
    as_object = SelectionProblem(
        points=p.points,
        eligible=p.eligible,
        groups={"zone": np.asarray(p.groups["zone"], dtype=object)},
        count=2,
        quotas=p.quotas,
    )
    assert np.flatnonzero(select(p).chosen).tolist() == [2, 3]
    assert np.array_equal(select(as_object).chosen, select(p).chosen)


# --------------------------------------------------------------------------------------------
# Why an enterprise was left out


def test_leave_out_reasons() -> None:
    # Z001 max 1: 0 (10) is in, 1 (9) is blocked by the zone; 2 (8) and 3 (7) from Z002 fill
    # the rest; 4 (1) is simply below the cut-off 7.
    quota = Quota("zone", "Z001", max=1)
    p = problem([10, 9, 8, 7, 1], ["Z001", "Z001", "Z002", "Z002", "Z002"], 3, [quota])
    result = select(p)
    assert np.flatnonzero(result.chosen).tolist() == [0, 2, 3]
    assert result.cutoff == 7.0
    reasons = leave_out_reasons(p, result, np.array([1, 4], dtype=np.intp))
    assert reasons == ["zone Z001 is at its maximum (1)", "points 1 below the cut-off 7"]


def test_leave_out_reasons_names_minima_that_displaced_a_higher_score() -> None:
    quota = Quota("zone", "Z002", min=1)
    p = problem([10, 9, 8, 1.5], ["Z001", "Z001", "Z001", "Z002"], 2, [quota])
    result = select(p)
    assert result.cutoff == 1.5
    (reason,) = leave_out_reasons(p, result, np.array([1], dtype=np.intp))
    assert "points 9 above the cut-off 1.5" in reason and "zone Z002 (min 1)" in reason


def test_leave_out_reasons_rejects_chosen_or_ineligible_candidates() -> None:
    p = problem([3, 2, 1], ["Z001"] * 3, 1, eligible=[True, True, False])
    result = select(p)
    with pytest.raises(InvalidInput, match="was chosen") as caught:
        leave_out_reasons(p, result, np.array([0], dtype=np.intp))
    assert caught.value.field == "candidates"
    with pytest.raises(InvalidInput, match="not eligible"):
        leave_out_reasons(p, result, np.array([2], dtype=np.intp))
    with pytest.raises(InvalidInput, match="out of range"):
        leave_out_reasons(p, result, np.array([7], dtype=np.intp))
