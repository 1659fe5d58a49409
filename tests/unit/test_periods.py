"""Periods (`innofin.kernel.periods`): the one month arithmetic, month and quarter ends,
programme years, and the same calendar over arrays of day numbers."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.kernel.periods import (
    EPOCH,
    add_months,
    add_months_days,
    civil_from_days,
    days_from_civil,
    days_in_month,
    month_end,
    month_index,
    month_start,
    programme_year,
    programme_year_bounds,
    quarter,
    quarter_end,
    quarter_start,
)

D = dt.date
dates = st.dates(min_value=D(1800, 1, 1), max_value=D(2400, 12, 31))
month_steps = st.integers(min_value=-1200, max_value=1200)


@pytest.mark.parametrize(
    ("start", "months", "want"),
    [
        (D(2024, 1, 31), 1, D(2024, 2, 29)),  # leap year: clamped to the 29th
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2100, 1, 31), 1, D(2100, 2, 28)),  # a century is not a leap year…
        (D(2000, 1, 31), 1, D(2000, 2, 29)),  # …unless it is divisible by 400
        (D(2024, 3, 31), 1, D(2024, 4, 30)),
        (D(2024, 3, 31), -1, D(2024, 2, 29)),
        (D(2024, 1, 15), 0, D(2024, 1, 15)),
        (D(2024, 11, 30), 3, D(2025, 2, 28)),  # across the year end
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
        (D(2024, 12, 31), -13, D(2023, 11, 30)),
        (D(2024, 5, 28), 9, D(2025, 2, 28)),  # the fast path (day ≤ 28) needs no clamp
    ],
)
def test_add_months_clamps_the_day_to_the_month_end(
    start: dt.date, months: int, want: dt.date
) -> None:
    assert add_months(start, months) == want


def test_add_months_past_the_calendar_is_refused_as_date_does() -> None:
    with pytest.raises(ValueError, match="year"):
        add_months(D(9999, 12, 1), 1)
    with pytest.raises(ValueError, match="year"):
        add_months(D(1, 1, 1), -1)


@given(dates, month_steps)
def test_add_months_moves_whole_months_and_keeps_the_day_when_it_exists(
    start: dt.date, months: int
) -> None:
    got = add_months(start, months)
    assert month_index(got) - month_index(start) == months
    last = calendar.monthrange(got.year, got.month)[1]
    assert got.day == min(start.day, last)  # the start's day, or the month's last when shorter


@given(dates, st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=600))
def test_add_months_counted_from_a_day_that_every_month_has_composes(
    start: dt.date, a: int, b: int
) -> None:
    first = start.replace(day=min(start.day, 28))
    assert add_months(add_months(first, a), b) == add_months(first, a + b)
    assert add_months(add_months(first, a), -a) == first


@given(dates, month_steps)
def test_add_months_is_monotone(start: dt.date, months: int) -> None:
    later = add_months(start, months + 1)
    assert add_months(start, months) < later


@given(dates)
def test_month_and_quarter_bounds(day: dt.date) -> None:
    assert month_start(day) <= day <= month_end(day)
    assert month_start(day).day == 1
    assert month_end(day) + dt.timedelta(days=1) == month_start(add_months(month_start(day), 1))
    assert month_end(day).day == days_in_month(day.year, day.month)
    q = quarter(day)
    assert 1 <= q <= 4
    assert quarter_start(day) <= day <= quarter_end(day)
    assert quarter(quarter_start(day)) == quarter(quarter_end(day)) == q
    assert quarter_start(day) == add_months(quarter_end(day), -2).replace(day=1)
    assert quarter(quarter_end(day) + dt.timedelta(days=1)) == q % 4 + 1


def test_quarters_and_month_ends_worked_out() -> None:
    assert [quarter(D(2024, m, 1)) for m in range(1, 13)] == [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert quarter_end(D(2024, 2, 10)) == D(2024, 3, 31)
    assert quarter_start(D(2024, 8, 31)) == D(2024, 7, 1)
    assert quarter_end(D(2024, 11, 1)) == D(2024, 12, 31)
    assert month_end(D(2024, 2, 1)) == D(2024, 2, 29)
    assert month_end(D(2023, 2, 1)) == D(2023, 2, 28)
    assert days_in_month(2024, 4) == 30
    with pytest.raises(ValueError, match="month"):
        days_in_month(2024, 13)


def test_programme_years_start_in_a_configurable_month() -> None:
    assert programme_year(D(2024, 1, 1)) == programme_year(D(2024, 12, 31)) == 2024
    assert programme_year_bounds(2024) == (D(2024, 1, 1), D(2024, 12, 31))
    # a programme year from July is named by the year it starts in
    assert programme_year(D(2024, 6, 30), start_month=7) == 2023
    assert programme_year(D(2024, 7, 1), start_month=7) == 2024
    assert programme_year_bounds(2024, start_month=7) == (D(2024, 7, 1), D(2025, 6, 30))
    assert programme_year_bounds(2023, start_month=3) == (D(2023, 3, 1), D(2024, 2, 29))
    for bad in (0, 13, True, "7"):
        with pytest.raises(ValueError, match="start_month"):
            programme_year(D(2024, 1, 1), start_month=bad)  # type: ignore[arg-type]


@given(dates, st.integers(min_value=1, max_value=12))
def test_a_day_lies_in_its_programme_year(day: dt.date, start_month: int) -> None:
    year = programme_year(day, start_month)
    first, last = programme_year_bounds(year, start_month)
    assert first <= day <= last
    assert first.month == start_month and first.day == 1
    assert programme_year_bounds(year + 1, start_month)[0] == last + dt.timedelta(days=1)


# --- arrays of day numbers ----------------------------------------------------------------------


@given(st.lists(st.tuples(dates, month_steps), min_size=1, max_size=50))
def test_the_array_calendar_agrees_with_the_date_one(pairs: list[tuple[dt.date, int]]) -> None:
    days = np.array([(d - EPOCH).days for d, _ in pairs], dtype=np.int64)
    months = np.array([m for _, m in pairs], dtype=np.int64)
    year, month, day = civil_from_days(days)
    assert [D(*ymd) for ymd in zip(year.tolist(), month.tolist(), day.tolist(), strict=True)] == [
        d for d, _ in pairs
    ]
    assert days_from_civil(year, month, day).tolist() == days.tolist()
    got = add_months_days(days, months)
    want = [add_months(d, m) for d, m in pairs]
    assert [EPOCH + dt.timedelta(days=g) for g in got.tolist()] == want


def test_the_array_calendar_on_a_whole_column() -> None:
    days = np.arange((D(1999, 12, 1) - EPOCH).days, (D(2001, 3, 31) - EPOCH).days + 1)
    got = add_months_days(days, np.full(days.shape, 1))
    want = [add_months(EPOCH + dt.timedelta(days=int(d)), 1) for d in days]
    assert [EPOCH + dt.timedelta(days=int(g)) for g in got] == want
