"""The matchmaking timetable: every schedule the solver or greedy produces passes an independent
checker (tests/timetable_check.py) on random instances; the solver equals brute force on small
ones; greedy is feasible and never better; re-scheduling keeps announced meetings where it can;
requests beyond the slots are reported with their reason."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import timetable_check as check
from innofin.events.scheduling import engine as tt
from innofin.events.scheduling import exact_engine, sessions_engine
from innofin.events.scheduling.instance_engine import prepare
from innofin.kernel.errors import InvalidArgument

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instances(
    draw: st.DrawFn,
    max_enterprises: int = 8,
    max_institutions: int = 4,
    max_slots: int = 6,
    max_requests: int = 24,
) -> tt.Instance:
    n_e = draw(st.integers(1, max_enterprises))
    n_i = draw(st.integers(1, max_institutions))
    n_t = draw(st.integers(1, max_slots))
    cuts = sorted(draw(st.sets(st.integers(1, n_t - 1), max_size=2))) if n_t > 1 else []
    sessions = np.zeros(n_t, dtype=np.int64)
    for c in cuts:
        sessions[c:] += 1
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_e - 1), st.integers(0, n_i - 1)),
            unique=True,
            max_size=min(max_requests, n_e * n_i),
        )
    )
    n_r = len(pairs)
    ent = np.array([p[0] for p in pairs], dtype=np.int64)
    inst = np.array([p[1] for p in pairs], dtype=np.int64)
    weight = np.array(draw(st.lists(st.integers(1, 9), min_size=n_r, max_size=n_r)), dtype=np.int64)
    mutual = np.array(draw(st.lists(st.booleans(), min_size=n_r, max_size=n_r)), dtype=np.bool_)
    desks = np.array(draw(st.lists(st.integers(0, 2), min_size=n_i, max_size=n_i)), dtype=np.int64)

    def maybe_caps(n: int, high: int) -> Any:
        if not draw(st.booleans()):
            return None
        return np.array(draw(st.lists(st.integers(0, high), min_size=n, max_size=n)))

    def maybe_flags(n: int) -> Any:
        if not draw(st.booleans()):
            return None
        return np.array(
            draw(
                st.lists(
                    st.lists(st.booleans(), min_size=n_t, max_size=n_t), min_size=n, max_size=n
                )
            ),
            dtype=np.bool_,
        ).reshape(n, n_t)

    announced = draw(
        st.lists(
            st.tuples(st.integers(0, n_e - 1), st.integers(0, n_i - 1), st.integers(0, n_t - 1)),
            max_size=4,
            unique_by=lambda a: (a[0], a[1]),
        )
    )
    return tt.Instance(
        n_enterprises=n_e,
        n_institutions=n_i,
        n_slots=n_t,
        desks=desks,
        request_enterprise=ent,
        request_institution=inst,
        request_weight=weight,
        request_mutual=mutual,
        session_of_slot=sessions,
        enterprise_cap=maybe_caps(n_e, 4),
        institution_cap=maybe_caps(n_i, 6),
        enterprise_session_cap=maybe_caps(n_e, 3),
        institution_session_cap=maybe_caps(n_i, 4),
        enterprise_unavailable=maybe_flags(n_e),
        institution_unavailable=maybe_flags(n_i),
        announced_enterprise=np.array([a[0] for a in announced], dtype=np.int64),
        announced_institution=np.array([a[1] for a in announced], dtype=np.int64),
        announced_slot=np.array([a[2] for a in announced], dtype=np.int64),
        session_group_size=np.array(
            draw(
                st.lists(
                    st.sampled_from([1, 1, 2, 3]), min_size=len(cuts) + 1, max_size=len(cuts) + 1
                )
            )
        ),
    )


@SETTINGS
@given(instances())
def test_every_schedule_passes_the_independent_checker(instance: tt.Instance) -> None:
    solved = tt.solve(instance, time_limit_s=20)
    assert check.check_schedule(instance, solved) == []
    assert solved.status == "optimal"
    baseline = tt.greedy(instance)
    assert check.check_schedule(instance, baseline) == []
    assert baseline.objective <= solved.objective <= solved.upper_bound + 1e-6
    plain = tt.greedy(instance, mutual_first=False)
    assert check.check_schedule(instance, plain) == []
    assert plain.objective <= solved.objective
    assert solved.upper_bound <= solved.lp_bound + 1e-6


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_enterprises=4, max_institutions=3, max_slots=3, max_requests=6))
def test_the_solver_equals_brute_force(instance: tt.Instance) -> None:
    best = check.brute_force(instance)
    solved = tt.solve(instance, time_limit_s=20)
    assert solved.objective == best
    assert tt.upper_bound(instance) >= best - 1e-6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_enterprises=4, max_institutions=3, max_slots=3, max_requests=6))
def test_the_exact_model_alone_equals_brute_force(instance: tt.Instance) -> None:
    """The CP-SAT stage, from no hint: the checker's rules and brute force's optimum."""
    found = exact_engine.solve_exact(
        prepare(instance), np.zeros(0, np.int64), np.zeros(0, np.int64), time_limit=20, seed=1
    )
    assert found.status == "optimal"
    meetings = list(zip(found.request.tolist(), found.slot.tolist(), strict=True))
    assert check.violations(instance, meetings) == []
    assert check.value(instance, meetings) == check.brute_force(instance) == found.bound


@SETTINGS
@given(instances(max_enterprises=10, max_requests=30))
def test_the_sessions_model_as_an_integer_programme_meets_its_lp(instance: tt.Instance) -> None:
    """The aggregated model solved as a MIP (the path taken when its LP is fractional): no more
    than its LP, as much when the LP is 0/1, and within every session capacity."""
    prep = prepare(instance)
    cols = sessions_engine.columns(prep)
    lp = sessions_engine.solve_sessions(prep, cols, integer=False, time_limit=20, seed=1)
    mip = sessions_engine.solve_sessions(prep, cols, integer=True, time_limit=20, seed=1)
    assert mip.status == "optimal" and mip.has_solution
    assert mip.chosen is not None
    value = cols.cost[mip.chosen].sum()
    assert value <= lp.bound + 1e-6
    if lp.integral:
        assert value == pytest.approx(lp.bound)
    assert np.unique(mip.request).size == mip.request.size
    ent = instance.request_enterprise[mip.request]
    ins = instance.request_institution[mip.request]
    n_s = instance.n_sessions
    e_load = np.bincount(ent * n_s + mip.session, minlength=instance.n_enterprises * n_s)
    i_load = np.bincount(ins * n_s + mip.session, minlength=instance.n_institutions * n_s)
    assert (e_load <= prep.enterprise_session_room.reshape(-1)).all()
    assert (i_load <= prep.institution_session_room.reshape(-1)).all()


def test_the_exact_stage_settles_what_the_sessions_cannot() -> None:
    """Two enterprises both available in slot 0 only ask one institution with one desk in two
    slots: the aggregated model (one session of two slots) holds both, which no timetable can.
    The CP-SAT stage proves the one-meeting schedule optimal, and the bound comes down to it."""
    instance = tt.Instance(
        n_enterprises=3,
        n_institutions=1,
        n_slots=2,
        desks=np.array([1]),
        request_enterprise=np.array([0, 1, 2]),
        request_institution=np.array([0, 0, 0]),
        request_weight=np.array([5, 4, 1]),
        request_mutual=np.array([False, False, False]),
        enterprise_unavailable=np.array([[False, True], [False, True], [True, False]]),
    )
    assert tt.upper_bound(instance) == 9
    solved = tt.solve(instance, time_limit_s=20)
    assert check.check_schedule(instance, solved) == []
    assert "CP-SAT" in solved.solver
    assert solved.status == "optimal"
    assert solved.objective == check.brute_force(instance) == solved.upper_bound == 6
    assert dict(zip(solved.request.tolist(), solved.slot.tolist(), strict=True)) == {0: 0, 2: 1}
    assert dict(zip(solved.unscheduled.tolist(), solved.unscheduled_reason, strict=True)) == {
        1: "institution_full"
    }


def _without(instance: tt.Instance, cancelled: np.ndarray) -> tt.Instance:
    """The instance with the requests `cancelled` (a mask) withdrawn."""
    keep = ~cancelled
    return dataclasses.replace(
        instance,
        request_enterprise=instance.request_enterprise[keep],
        request_institution=instance.request_institution[keep],
        request_weight=instance.request_weight[keep],
        request_mutual=instance.request_mutual[keep],
    )


@SETTINGS
@given(instances(max_enterprises=10, max_requests=30), st.data())
def test_cancellations_keep_every_announced_meeting_that_stands(
    instance: tt.Instance, data: st.DataObject
) -> None:
    instance = dataclasses.replace(
        instance,
        announced_enterprise=np.zeros(0, np.int64),
        announced_institution=np.zeros(0, np.int64),
        announced_slot=np.zeros(0, np.int64),
    )
    first = tt.solve(instance, time_limit_s=20)
    announced = tt.announce(instance, first)
    mask = np.array(
        data.draw(
            st.lists(st.booleans(), min_size=instance.n_requests, max_size=instance.n_requests)
        ),
        dtype=np.bool_,
    )
    later = _without(announced, mask)
    again = tt.reschedule(later, time_limit_s=20)
    assert check.check_schedule(later, again) == []
    withdrawn = set(
        zip(
            instance.request_enterprise[mask].tolist(),
            instance.request_institution[mask].tolist(),
            strict=True,
        )
    )
    for e, i, outcome in zip(
        first.enterprise.tolist(), first.institution.tolist(), again.announced_outcome, strict=True
    ):
        assert outcome == ("cancelled" if (e, i) in withdrawn else "kept")
    assert again.objective >= check.value(
        later, [(int(r), int(t)) for r, t in zip(again.request, again.slot, strict=True)]
    )


def test_late_registrations_fill_around_announced_meetings() -> None:
    rng = np.random.default_rng(7)
    n_e, n_i, n_t = 30, 4, 6
    pairs = sorted({(int(rng.integers(n_e - 10)), int(rng.integers(n_i))) for _ in range(60)})
    ent = np.array([p[0] for p in pairs])
    ins = np.array([p[1] for p in pairs])
    base = tt.Instance(
        n_e,
        n_i,
        n_t,
        np.array([2, 1, 2, 1]),
        ent,
        ins,
        rng.integers(1, 6, ent.size),
        rng.random(ent.size) < 0.5,
    )
    first = tt.solve(base, time_limit_s=20)
    # ten late enterprises (20..29) each ask two institutions, mutually and with a high weight
    late = [(e, i) for e in range(20, 30) for i in (0, 2)]
    ent2 = np.r_[ent, [p[0] for p in late]]
    ins2 = np.r_[ins, [p[1] for p in late]]
    weight2 = np.r_[base.request_weight, np.full(len(late), 9)]
    mutual2 = np.r_[base.request_mutual, np.ones(len(late), dtype=bool)]
    later = tt.announce(
        dataclasses.replace(
            base,
            request_enterprise=ent2,
            request_institution=ins2,
            request_weight=weight2,
            request_mutual=mutual2,
        ),
        first,
    )
    again = tt.solve(later, time_limit_s=20)
    assert check.check_schedule(later, again) == []
    assert set(again.announced_outcome) == {"kept"}
    late_held = set(again.request.tolist()) & set(range(ent.size, ent2.size))
    assert late_held  # the late requests got what room was left


def test_desks_taken_away_move_or_drop_the_fewest_announced_meetings() -> None:
    """An institution with two desks loses one: of the two announced meetings in a slot one
    stays, the other moves to a free slot."""
    base = tt.Instance(
        2,
        1,
        2,
        np.array([2]),
        np.array([0, 1]),
        np.array([0, 0]),
        np.array([3, 3]),
        np.array([True, True]),
    )
    announced = dataclasses.replace(
        base,
        desks=np.array([1]),
        announced_enterprise=np.array([0, 1]),
        announced_institution=np.array([0, 0]),
        announced_slot=np.array([0, 0]),
    )
    again = tt.solve(announced, time_limit_s=20)
    assert check.check_schedule(announced, again) == []
    assert sorted(again.announced_outcome) == ["kept", "moved"]


def test_more_requests_than_slots_are_reported_with_their_reason() -> None:
    """Ten enterprises ask one institution with one desk in four slots; enterprise 0 also asks
    six other institutions; institution 7 is never available."""
    ent = list(range(10)) + [0] * 6 + [1]
    ins = [0] * 10 + [1, 2, 3, 4, 5, 6] + [7]
    instance = tt.Instance(
        n_enterprises=10,
        n_institutions=8,
        n_slots=4,
        desks=np.ones(8, dtype=np.int64),
        request_enterprise=np.array(ent),
        request_institution=np.array(ins),
        request_weight=np.array([10 - k for k in range(10)] + [1] * 7),
        request_mutual=np.zeros(len(ent), dtype=bool),
        institution_unavailable=np.array([[k == 7] * 4 for k in range(8)]),
    )
    for schedule in (tt.solve(instance, time_limit_s=20), tt.greedy(instance)):
        assert check.check_schedule(instance, schedule) == []
        why = dict(zip(schedule.unscheduled.tolist(), schedule.unscheduled_reason, strict=True))
        assert why[16] == "no_common_slot"
        assert sum(1 for r in range(10) if r in why) == 6
        assert all(why[r] == "institution_full" for r in range(10) if r in why)
        assert sum(1 for r in range(10, 16) if r in why) >= 3
        assert all(why[r] == "enterprise_full" for r in range(10, 16) if r in why)
        assert schedule.reasons()["no_common_slot"] == 1


def test_a_many_to_one_session_seats_several_institutions_with_one_firm() -> None:
    """Three institutions ask one firm; one slot in each of two sessions. In the one-to-one
    morning the firm meets one of them; in the afternoon, a many-to-one session of group size
    two, it meets two at once."""
    instance = tt.Instance(
        n_enterprises=1,
        n_institutions=3,
        n_slots=2,
        desks=np.array([1, 1, 1]),
        request_enterprise=np.array([0, 0, 0]),
        request_institution=np.array([0, 1, 2]),
        request_weight=np.array([3, 2, 1]),
        request_mutual=np.array([True, True, True]),
        session_of_slot=np.array([0, 1]),
        session_group_size=np.array([1, 2]),
    )
    for schedule in (tt.solve(instance), tt.greedy(instance)):
        assert check.check_schedule(instance, schedule) == []
        assert schedule.n_meetings == 3
        assert sorted(schedule.slot.tolist()) == [0, 1, 1]
    one_to_one = dataclasses.replace(instance, session_group_size=None)
    assert tt.solve(one_to_one).n_meetings == 2


def test_mutual_requests_come_first() -> None:
    """One slot, one desk: a mutual request of weight 1 beats a one-sided one of weight 9."""
    instance = tt.Instance(
        2,
        1,
        1,
        np.array([1]),
        np.array([0, 1]),
        np.array([0, 0]),
        np.array([9, 1]),
        np.array([False, True]),
    )
    assert tt.solve(instance).request.tolist() == [1]
    assert tt.greedy(instance).request.tolist() == [1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"request_weight": np.array([0])}, "request_weight"),
        ({"request_institution": np.array([3])}, "request_institution"),
        ({"desks": np.array([1, 1])}, "desks"),
        ({"session_of_slot": np.array([1, 0])}, "session_of_slot"),
        ({"enterprise_unavailable": np.zeros((1, 3), dtype=bool)}, "enterprise_unavailable"),
        ({"announced_slot": np.array([5])}, "announced_slot"),
        ({"session_group_size": np.array([0])}, "session_group_size"),
        (
            {
                "announced_enterprise": np.array([0, 0]),
                "announced_institution": np.array([0, 0]),
                "announced_slot": np.array([0, 1]),
            },
            "announced_institution",
        ),
    ],
)
def test_bad_instances_name_the_field(change: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {
        "n_enterprises": 1,
        "n_institutions": 1,
        "n_slots": 2,
        "desks": np.array([1]),
        "request_enterprise": np.array([0]),
        "request_institution": np.array([0]),
        "request_weight": np.array([1]),
        "request_mutual": np.array([True]),
        "announced_enterprise": np.array([0]),
        "announced_institution": np.array([0]),
        "announced_slot": np.array([1]),
    }
    with pytest.raises(InvalidArgument) as caught:
        tt.Instance(**(fields | change))
    assert caught.value.field == field


def test_a_pair_requested_twice_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="twice"):
        tt.Instance(
            1,
            1,
            1,
            np.array([1]),
            np.array([0, 0]),
            np.array([0, 0]),
            np.array([1, 1]),
            np.array([True, True]),
        )


def test_an_empty_event_has_an_empty_schedule() -> None:
    instance = tt.Instance(
        0,
        0,
        2,
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
        np.zeros(0, bool),
    )
    for schedule in (tt.solve(instance), tt.greedy(instance)):
        assert schedule.n_meetings == 0 and schedule.unscheduled.size == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_mid_sized_event_passes_the_checker(seed: int) -> None:
    """200 enterprises, 15 institutions, 12 slots in three sessions (the last many-to-one), caps,
    absences within sessions and announced meetings from an earlier plan: the alternating paths
    of the colouring at work on many meetings, and the first-free-slot pass after them."""
    rng = np.random.default_rng(seed)
    n_e, n_i, n_t = 200, 15, 12
    pairs = sorted({(int(rng.integers(n_e)), int(rng.integers(n_i))) for _ in range(1500)})
    ent = np.array([p[0] for p in pairs])
    ins = np.array([p[1] for p in pairs])
    instance = tt.Instance(
        n_enterprises=n_e,
        n_institutions=n_i,
        n_slots=n_t,
        desks=rng.integers(1, 5, n_i),
        request_enterprise=ent,
        request_institution=ins,
        request_weight=rng.integers(1, 10, ent.size),
        request_mutual=rng.random(ent.size) < 0.3,
        session_of_slot=np.repeat([0, 1, 2], 4),
        enterprise_cap=rng.integers(2, 8, n_e),
        institution_session_cap=rng.integers(4, 12, n_i),
        enterprise_unavailable=rng.random((n_e, n_t)) < 0.1,
        institution_unavailable=rng.random((n_i, n_t)) < 0.05,
        session_group_size=np.array([1, 1, 2]),
    )
    first = tt.solve(instance, time_limit_s=30, exact=False)
    assert check.check_schedule(instance, first) == []
    same = tt.solve(instance, time_limit_s=30, exact=False)  # the same seed: the same timetable
    assert np.array_equal(same.request, first.request) and np.array_equal(same.slot, first.slot)
    baseline = tt.greedy(instance)
    assert check.check_schedule(instance, baseline) == []
    assert baseline.objective <= first.objective
    assert first.gap <= 0.01
    later = dataclasses.replace(
        tt.announce(instance, first),
        desks=np.maximum(instance.desks - (rng.random(n_i) < 0.3), 1),
    )
    again = tt.solve(later, time_limit_s=30, exact=False)
    assert check.check_schedule(later, again) == []
    assert again.objective >= tt.greedy(later).objective
    assert again.announced_outcome.count("kept") >= 0.8 * first.n_meetings
