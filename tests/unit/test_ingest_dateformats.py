"""Mappings that declare a column's date format(s) and an amount column's currency: dates as a
bank's own system writes them, and amounts in another currency only with a stated rate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.ingest.dateformats import format_pattern
from innofin.ingest.errors import MappingError
from innofin.ingest.kinds import FieldSpec, FieldType
from innofin.ingest.mapping import bind, load_mapping
from innofin.ingest.parsing import Column, parse_batch
from innofin.kernel.money import AmountUnit

DATE = FieldSpec("date", FieldType.DATE)
AMOUNT = FieldSpec("principal", FieldType.MONEY)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def dates(cells: list[str], *formats: str) -> tuple[list[object], list[object]]:
    raw = pl.DataFrame({"date": pl.Series(cells, dtype=pl.Utf8)})
    values, reasons = parse_batch(raw, [Column("date", DATE, formats=formats)])
    return values["date"].to_list(), reasons["date"].to_list()


def test_declared_formats_read_a_banks_dates() -> None:
    values, reasons = dates(
        ["3/7/2024", "12/31/1999", "03/07/2024 0:00:00", "7-Mar-24", "28-FEB-97", "", "2024-03-07"],
        "M/D/YYYY",
        "D-Mon-YY",
    )
    D = dt.date
    assert values == [D(2024, 3, 7), D(1999, 12, 31), D(2024, 3, 7), D(2024, 3, 7),
                      D(1997, 2, 28), None, None]  # fmt: skip
    assert reasons[:6] == [None] * 6
    assert reasons[6] == "not a date: '2024-03-07' (write M/D/YYYY or D-Mon-YY)"


def test_impossible_dates_are_refused_not_rolled_over() -> None:
    values, reasons = dates(["2/30/2024", "13/1/2024", "1-Foo-24"], "M/D/YYYY", "D-Mon-YY")
    assert values == [None, None, None]
    assert all(r is not None and r.startswith("not a date") for r in reasons)


@given(st.dates(dt.date(1969, 1, 1), dt.date(2068, 12, 31)))
def test_every_date_written_in_a_format_reads_back(day: dt.date) -> None:
    cells = [
        f"{day.month}/{day.day}/{day.year}",
        f"{day.day}-{MONTHS[day.month - 1]}-{day.year % 100:02d}",
        f"{day.day:02d}.{day.month:02d}.{day.year}",
    ]
    for cell, fmt in zip(cells, ("M/D/YYYY", "D-Mon-YY", "DD.MM.YYYY"), strict=True):
        assert dates([cell], fmt) == ([day], [None])


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("M/D", "has no year"),
        ("YYYY-MM-DD-MM", "gives the month twice"),
        ("MM/DD/YYYY hh", "is not a token"),
    ],
)
def test_bad_formats_are_refused(fmt: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        format_pattern(fmt)


def test_an_amount_in_another_currency_needs_a_rate(tmp_path: Path) -> None:
    head = "kind: indicators\ncolumns:\n  USCC: identifier\n  Year: year\n"
    with pytest.raises(MappingError, match="amounts in USD are not read as yuan; give rates"):
        path = tmp_path / "m.yaml"
        path.write_text(head + "  Revenue: {field: revenue, currency: USD}\n")
        load_mapping(path, "indicators")
    with pytest.raises(MappingError, match="only date columns take a format"):
        path.write_text(head + "  Revenue: {field: revenue, format: M/D/YYYY}\n")
        load_mapping(path, "indicators")
    path.write_text(
        head + "  Revenue: {field: revenue, currency: USD, unit: 万元}\n"
        "rates:\n  USD: {rate: '7.1268', date: 2024-06-28, source: PBOC central parity}\n"
    )
    mapping = load_mapping(path, "indicators")
    assert mapping.rates["USD"].rate == Decimal("7.1268")
    assert mapping.rates["USD"].date == dt.date(2024, 6, 28)
    bound = {c.field: c for c in bind(mapping, ["USCC", "Year", "Revenue"], "f.csv", {}).columns}
    assert (bound["revenue"].currency, bound["revenue"].rate) == ("USD", Decimal("7.1268"))


def test_converted_amounts_are_exact_fen_of_yuan() -> None:
    raw = pl.DataFrame({"principal": pl.Series(["1000.00", "0.01", "1,234.57", ""], dtype=pl.Utf8)})
    column = Column("principal", AMOUNT, AmountUnit.YUAN, rate=Decimal("7.1268"))
    values, reasons = parse_batch(raw, [column])
    # 1,000 USD = 7,126.80 yuan; 0.01 USD = 0.071268 yuan → 0.07; 1,234.57 × 7.1268 = 8798.53…
    assert values["principal"].to_list() == [712680, 7, 879853, None]
    assert reasons["principal"].to_list() == [None] * 4
