"""Referral deadlines over weekends, holidays and make-up working days; decline reasons; the
order of alternatives after each reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.matching.referrals import engine as ref

FRI, SAT, SUN, MON = (dt.date(2025, 1, d) for d in (10, 11, 12, 13))


def test_two_business_days_from_a_friday_is_tuesday() -> None:
    assert ref.deadline(FRI, 2) == dt.date(2025, 1, 14)
    assert ref.deadline(SAT, 2) == dt.date(2025, 1, 14)  # Monday and Tuesday
    assert ref.deadline(dt.date(2025, 1, 13), 1) == dt.date(2025, 1, 14)


def test_a_holiday_on_monday_moves_it_to_wednesday() -> None:
    assert ref.deadline(FRI, 2, holidays={MON}) == dt.date(2025, 1, 15)


def test_spring_festival_2025_with_its_make_up_working_days() -> None:
    # holidays 28 Jan – 4 Feb 2025 (the weekdays of it); Sunday 26 January and Saturday
    # 8 February are worked (调休)
    holidays = {dt.date(2025, 1, d) for d in (28, 29, 30, 31)} | {
        dt.date(2025, 2, 3),
        dt.date(2025, 2, 4),
    }
    workdays = {dt.date(2025, 1, 26), dt.date(2025, 2, 8)}
    friday = dt.date(2025, 1, 24)
    # the make-up Sunday counts, then Monday 27; Tuesday 28 is a holiday
    assert ref.deadline(friday, 2, holidays, workdays) == dt.date(2025, 1, 27)
    # from Monday 27: the next business days are Wednesday 5 February and Thursday 6
    assert ref.deadline(dt.date(2025, 1, 27), 2, holidays, workdays) == dt.date(2025, 2, 6)
    # from Thursday 6: Friday 7, then the make-up Saturday 8
    assert ref.deadline(dt.date(2025, 2, 6), 2, holidays, workdays) == dt.date(2025, 2, 8)


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
    days=st.integers(1, 10),
    holidays=st.sets(st.dates(dt.date(2024, 1, 1), dt.date(2027, 3, 31)), max_size=30),
    workdays=st.sets(st.dates(dt.date(2024, 1, 1), dt.date(2027, 3, 31)), max_size=5),
)
def test_the_deadline_is_the_nth_business_day(
    start: dt.date, days: int, holidays: set[dt.date], workdays: set[dt.date]
) -> None:
    end = ref.deadline(start, days, holidays, workdays)
    assert ref.is_business_day(end, holidays, workdays)
    assert ref.business_days_between(start, end, holidays, workdays) == days
    assert end > start
    if days > 1:
        assert ref.deadline(start, days - 1, holidays, workdays) < end


def test_days_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="between 1 and 60"):
        ref.deadline(FRI, 0)


def test_overdue_is_unanswered_past_the_deadline() -> None:
    day = (dt.date(2025, 1, 14) - dt.date(1970, 1, 1)).days
    got = ref.overdue(
        np.array([day, day, day + 1]), np.array([False, True, False]), MON + dt.timedelta(days=2)
    )
    assert got.tolist() == [True, False, False]


def test_decline_reasons_are_checked() -> None:
    ref.check_decline("risk", None)
    with pytest.raises(ValueError, match="unknown decline reason 'late'"):
        ref.check_decline("late", None)
    with pytest.raises(ValueError, match="needs a text"):
        ref.check_decline("other", "  ")


KINDS = ["pure_credit_loan", "guarantee", "equity_investment", "pure_credit_loan"]
INST = np.array([1, 2, 3, 4])
SCORES = np.array([0.9, 0.5, 0.4, 0.6])
AMOUNT = np.array([1e6, 5e6, np.nan, 3e7])


@pytest.mark.parametrize(
    ("code", "first"),
    [
        ("too_young", "equity"),
        ("revenue_too_low", "equity"),
        ("risk", "guaranteed"),
        ("outside_fields", "loan"),
        ("incomplete_documents", "loan"),
        ("amount_too_large", "loan"),
        ("other", "loan"),
    ],
)
def test_every_reason_orders_the_alternatives_and_leaves_out_those_tried(
    code: str, first: str
) -> None:
    alt = ref.rematch_order(code, KINDS, INST, SCORES, AMOUNT, excluded={1})
    assert 0 not in alt.order.tolist()  # institution 1 declined
    assert sorted(alt.order.tolist()) == [1, 2, 3]
    assert alt.instruments[0] == first
    if code == "amount_too_large":
        assert alt.order.tolist()[0] == 3  # the loan that lends the most (30 m)


def test_nothing_left_when_every_institution_was_tried() -> None:
    alt = ref.rematch_order("risk", KINDS, INST, SCORES, AMOUNT, excluded={1, 2, 3, 4})
    assert alt.order.size == 0


# --------------------------------------------------------------------------- subsidies


def _scheme(pid: int, **kw: object) -> ref.SubsidyScheme:
    base: dict[str, object] = {
        "programme_id": pid,
        "code": f"P{pid}",
        "name": f"计划{pid}",
        "zone_ids": frozenset({1}),
        "fields": frozenset(),
        "starts_on": dt.date(2025, 1, 1),
        "ends_on": dt.date(2025, 12, 31),
        "share": Decimal("0.5"),
    }
    return ref.SubsidyScheme(**{**base, **kw})  # type: ignore[arg-type]


DAY = dt.date(2025, 6, 1)


def test_a_subsidy_needs_the_zone_the_dates_and_an_earmarked_field() -> None:
    schemes = [
        _scheme(1),
        _scheme(2, zone_ids=frozenset({2})),  # another zone
        _scheme(3, ends_on=dt.date(2025, 5, 31)),  # ended the day before
        _scheme(4, starts_on=dt.date(2025, 6, 2)),  # starts the day after
        _scheme(5, fields=frozenset({"new_materials"})),  # earmarked for another field
        _scheme(6, fields=frozenset({"aerospace", "electronic_information"})),
        _scheme(7, starts_on=DAY, ends_on=DAY),  # its one day
    ]
    found = ref.qualifying_subsidies(1, "electronic_information", DAY, schemes)
    assert [s.programme_id for s in found] == [1, 6, 7]
    assert ref.qualifying_subsidies(None, "electronic_information", DAY, schemes) == []
    assert [s.programme_id for s in ref.qualifying_subsidies(1, None, DAY, schemes)] == [1, 7]


def test_the_largest_share_comes_first_then_the_programme() -> None:
    schemes = [_scheme(3, share=Decimal("0.3")), _scheme(2), _scheme(1, share=Decimal("0.3"))]
    assert [s.programme_id for s in ref.qualifying_subsidies(1, "x", DAY, schemes)] == [2, 1, 3]


def test_a_subsidy_is_worded_with_its_terms() -> None:
    zh, en = ref.subsidy_words(_scheme(1, rate_cap=Decimal("0.031")))
    assert "50%" in zh and "3.1%" in zh and "计划1" in zh
    assert en.startswith("计划1: 50% of a loan's interest paid back by the programme")
    assert en.endswith(", on interest up to 3.1% a year")


def test_the_api_knows_every_decline_reason() -> None:
    from typing import get_args

    from innofin.matching.schemas import DeclineCode

    assert set(get_args(DeclineCode)) == set(ref.DECLINE_REASONS)


_schemes = st.lists(
    st.builds(
        lambda pid, zones, fields, start, days, share: _scheme(
            pid,
            zone_ids=frozenset(zones),
            fields=frozenset(fields),
            starts_on=DAY + dt.timedelta(days=start),
            ends_on=DAY + dt.timedelta(days=start + days),
            share=Decimal(share) / 100,
        ),
        st.integers(1, 10_000),
        st.sets(st.integers(1, 3), max_size=3),
        st.sets(st.sampled_from(["aerospace", "new_materials"]), max_size=2),
        st.integers(-5, 5),
        st.integers(0, 5),
        st.integers(1, 100),
    ),
    max_size=8,
    unique_by=lambda s: s.programme_id,
)


@settings(max_examples=200, deadline=None)
@given(_schemes, st.sampled_from([None, 1, 2]), st.sampled_from([None, "aerospace", "bio"]))
def test_subsidies_offered_are_exactly_those_the_firm_belongs_to(
    schemes: list[ref.SubsidyScheme], zone: int | None, field: str | None
) -> None:
    found = ref.qualifying_subsidies(zone, field, DAY, schemes)

    def belongs(s: ref.SubsidyScheme) -> bool:
        in_zone = zone is not None and zone in s.zone_ids
        in_field = not s.fields or field in s.fields
        return in_zone and in_field and s.starts_on <= DAY <= s.ends_on

    assert {s.programme_id for s in found} == {s.programme_id for s in schemes if belongs(s)}
    keys = [(-s.share, s.programme_id) for s in found]
    assert keys == sorted(keys)
