"""Periods: months, quarters, programme years and month ends, and the one month arithmetic.

`add_months` moves a date on by whole months and clamps the day to the last day of a shorter
month (31 January + 1 month = 29 February in a leap year, 28 February otherwise), so it does not
always undo itself (31 March − 1 month + 1 month = 28 or 29 March). Each step counts from the
start, never from the previous result: a schedule's instalments fall on the start's day. Every
room uses it: loan schedules and maturities, bank returns' terms, scoring's look-back windows.
`add_months_days` is the same rule over NumPy arrays of day numbers (days since 1970-01-01), for
engines that compute whole columns (the demo's ledger); a property test holds the two equal.

A programme year is twelve months from `start_month` (1: the calendar year, the usual case in
China); it is named by the calendar year in which it starts, so with `start_month=7` the
programme year 2024 runs from 2024-07-01 to 2025-06-30. Quarters are calendar quarters.

Pure standard library; NumPy is imported only by the array functions, so importing this module
stays cheap (the CLI's start-up, `tests/unit/test_cli_startup.py`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    Days = NDArray[np.int64]

__all__ = [
    "EPOCH",
    "add_months",
    "add_months_days",
    "civil_from_days",
    "days_from_civil",
    "days_in_month",
    "month_end",
    "month_index",
    "month_start",
    "programme_year",
    "programme_year_bounds",
    "quarter",
    "quarter_end",
    "quarter_start",
]

#: day number 0 of the array functions
EPOCH: Final = dt.date(1970, 1, 1)


def _month_arg(value: object, name: str = "start_month") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
        raise ValueError(f"{name} must be a month number 1–12, got {value!r}")
    return value


def days_in_month(year: int, month: int) -> int:
    """The number of days of `month` (1–12) in `year`."""
    return calendar.monthrange(year, _month_arg(month, "month"))[1]


def add_months(start: dt.date, months: int) -> dt.date:
    """`start` moved on (or back, for negative `months`) by whole months, the day clamped to the
    month's last day. Raises `ValueError` past the years 1–9999, as `datetime.date` does."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    if start.day <= 28:  # every month has the day: no calendar needed (the usual case)
        return dt.date(year, month, start.day)
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def month_index(day: dt.date) -> int:
    """Months since year 0 (``year × 12 + month − 1``): consecutive months differ by one."""
    return day.year * 12 + day.month - 1


def month_start(day: dt.date) -> dt.date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month (月末)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def quarter(day: dt.date) -> int:
    """The calendar quarter (1–4) `day` falls in."""
    return (day.month - 1) // 3 + 1


def quarter_start(day: dt.date) -> dt.date:
    """The first day of `day`'s calendar quarter."""
    return dt.date(day.year, 3 * quarter(day) - 2, 1)


def quarter_end(day: dt.date) -> dt.date:
    """The last day of `day`'s calendar quarter (季末)."""
    return month_end(dt.date(day.year, 3 * quarter(day), 1))


def programme_year(day: dt.date, start_month: int = 1) -> int:
    """The programme year `day` falls in: the calendar year in which that programme year starts
    (`start_month` 1: the calendar year itself)."""
    first = _month_arg(start_month)
    return day.year if day.month >= first else day.year - 1


def programme_year_bounds(year: int, start_month: int = 1) -> tuple[dt.date, dt.date]:
    """The first and last day of programme year `year` (named by the year it starts in)."""
    first = dt.date(year, _month_arg(start_month), 1)
    return first, add_months(first, 12) - dt.timedelta(days=1)


# --- the same calendar over arrays of day numbers -----------------------------------------------


def civil_from_days(days: ArrayLike) -> tuple[Days, Days, Days]:
    """(year, month, day) of day numbers since 1970-01-01, in integer arithmetic (the proleptic
    Gregorian algorithm of H. Hinnant; NumPy's datetime64 conversions are far slower)."""
    import numpy as np

    z = np.asarray(days, dtype=np.int64) + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def days_from_civil(year: ArrayLike, month: ArrayLike, day: ArrayLike) -> Days:
    """Day numbers of (year, month, day), the inverse of `civil_from_days`."""
    import numpy as np

    m = np.asarray(month, dtype=np.int64)
    y = np.asarray(year, dtype=np.int64) - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + np.asarray(day, dtype=np.int64) - 1
    result: Days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    return result


def add_months_days(days: ArrayLike, months: ArrayLike) -> Days:
    """`add_months` over arrays: day numbers moved on by whole months, each day clamped to the
    last day of a shorter month."""
    import numpy as np

    year, month, day = civil_from_days(days)
    index = month - 1 + np.asarray(months, dtype=np.int64)
    y, m = year + index // 12, index % 12 + 1
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    length = np.asarray(_MONTH_DAYS, dtype=np.int64)[m - 1] + ((m == 2) & leap)
    return days_from_civil(y, m, np.minimum(day, length))


#: days of each month of a common year, as the array functions index them
_MONTH_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
