"""Day numbers (days since 1970-01-01): the year of each, the day of a date, moments. The
calendar itself (months later, calendar parts) is `innofin.kernel.periods`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from innofin.demo.engine import day_number
from innofin.demo.ledger.params import Array
from innofin.kernel.periods import civil_from_days


def year_of(days: Array) -> Array:
    return civil_from_days(days)[0]


def day_of(year: int, month: int, day: int) -> int:
    return day_number(dt.date(year, month, day))


def moments(days: Array, hour: int) -> pl.Series:
    """Zone-aware UTC moments at `hour` on each day."""
    us = (np.asarray(days, dtype=np.int64) * 86_400 + hour * 3_600) * 1_000_000
    return pl.Series(us.astype("datetime64[us]")).dt.replace_time_zone("UTC")
