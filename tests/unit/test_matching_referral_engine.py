"""Referral deadlines over weekends, holidays and make-up working days; decline reasons; the
order of alternatives after each reason."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.matching import referral_engine as ref

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
