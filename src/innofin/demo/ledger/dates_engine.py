"""Day numbers (days since 1970-01-01) in integer NumPy arithmetic: calendar parts, months
later, moments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from innofin.demo.engine import day_number
from innofin.demo.ledger.params import Array


def civil(days: Array) -> tuple[Array, Array, Array]:
    """(year, month, day) of day numbers since 1970-01-01, in integer arithmetic (the proleptic
    Gregorian algorithm of H. Hinnant; NumPy's datetime64 conversions are far slower)."""
    z = np.asarray(days, dtype=np.int64) + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def from_civil(year: Array, month: Array, day: Array) -> Array:
    """Day numbers of (year, month, day), the inverse of `civil`."""
    y = np.asarray(year, dtype=np.int64) - (np.asarray(month) <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((np.asarray(month) + 9) % 12) + 2) // 5 + np.asarray(day) - 1
    result: Array = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    return result


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def shift_months(year: Array, month: Array, day: Array, months: Array) -> Array:
    index = month - 1 + np.asarray(months, dtype=np.int64)
    y, m = year + index // 12, index % 12 + 1
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    length = _MONTH_DAYS[m - 1] + ((m == 2) & leap)
    return from_civil(y, m, np.minimum(day, length))


def add_months(days: Array, months: Array) -> Array:
    """`ledger.schedule_engine`'s month arithmetic on day numbers: the start's day of month,
    clamped to the last day of shorter months, counted from the start."""
    return shift_months(*civil(days), months)


def year_of(days: Array) -> Array:
    return civil(days)[0]


def day_of(year: int, month: int, day: int) -> int:
    return day_number(dt.date(year, month, day))


def half_up(numerator: Array, denominator: int | Array) -> Array:
    """numerator / denominator rounded half-up (both non-negative integers)."""
    result: Array = (2 * numerator + denominator) // (2 * np.asarray(denominator))
    return result


def moments(days: Array, hour: int) -> pl.Series:
    """Zone-aware UTC moments at `hour` on each day."""
    us = (np.asarray(days, dtype=np.int64) * 86_400 + hour * 3_600) * 1_000_000
    return pl.Series(us.astype("datetime64[us]")).dt.replace_time_zone("UTC")
