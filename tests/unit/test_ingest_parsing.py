"""Column parsers: exact amounts in every unit, and a reason for every bad cell."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from innofin.ingest.kinds import FieldSpec, FieldType
from innofin.ingest.parsing import Column, parse_batch
from innofin.kernel.money import AmountUnit, to_money

REVENUE = FieldSpec("revenue", FieldType.MONEY)
PROFIT = FieldSpec("net_profit", FieldType.MONEY, signed=True)
STAFF = FieldSpec("employees", FieldType.INT)
YEAR = FieldSpec("year", FieldType.YEAR, required=True)


def parse(spec: FieldSpec, cells: list[str], unit=None, accepted=None):  # type: ignore[no-untyped-def]
    raw = pl.DataFrame({spec.name: pl.Series(cells, dtype=pl.Utf8)})
    values, reasons = parse_batch(raw, [Column(spec.name, spec, unit, accepted)])
    return values[spec.name].to_list(), reasons[spec.name].to_list()


def test_amounts_in_yuan_become_fen_exactly() -> None:
    values, reasons = parse(
        REVENUE,
        ["1234.56", "1,234.5", " 7 ", "0.01", ".5", "", "1e3", "12.345", "12.355"],
        AmountUnit.YUAN,
    )
    assert values == [123456, 123450, 700, 1, 50, None, 100000, 1235, 1236]
    assert reasons == [None] * 9


def test_wan_and_yi_convert_to_yuan_without_floats() -> None:
    values, _ = parse(REVENUE, ["1.23", "0.000001", "12345.678901"], AmountUnit.WAN)
    assert values == [1230000, 1, 12345678901]
    values, _ = parse(REVENUE, ["2.1"], AmountUnit.YI)
    assert values == [21000000000]


def test_bad_numbers_are_reported_not_guessed() -> None:
    values, reasons = parse(REVENUE, ["abc", "-5", "1.2.3", "NaN"], AmountUnit.YUAN)
    assert values == [None] * 4
    assert reasons == [
        "not a number: 'abc'",
        "must not be negative",
        "not a number: '1.2.3'",
        "not a number: 'NaN'",
    ]


def test_signed_fields_take_negative_amounts() -> None:
    values, reasons = parse(PROFIT, ["-2500.50", "(5)"], AmountUnit.YUAN)
    assert values[0] == -250050
    assert reasons == [None, "not a number: '(5)'"]


def test_a_unit_in_a_cell_must_match_the_column() -> None:
    values, reasons = parse(REVENUE, ["3万元", "3元", "3亿元"], AmountUnit.WAN)
    assert values == [3_000_000, None, None]  # 3万元 = 30,000.00 yuan
    assert reasons[1] == "unit mismatch: the cell says 元 but the column is in 万元"
    assert reasons[2] == "unit mismatch: the cell says 亿元 but the column is in 万元"


def test_whole_numbers_and_years() -> None:
    values, reasons = parse(STAFF, ["12", "12.0", "12.5", "-1", "1,200"])
    assert values == [12, 12, None, None, 1200]
    assert reasons[2] == "not a whole number: '12.5'"
    assert reasons[3] == "must not be negative"
    values, reasons = parse(YEAR, ["2023", "1979", ""])
    assert values == [2023, None, None]
    assert reasons == [None, "year must be 1980 to 2100", "required value is missing"]


def test_percentages_keep_four_places() -> None:
    spec = FieldSpec("rate_min", FieldType.QUANTITY, signed=True)
    values, reasons = parse(spec, ["4.35", "4.35%", "-0.00005"], "percent")
    assert values == [43500, 43500, -1]
    assert reasons == [None, None, None]


def test_dates_in_the_usual_spellings() -> None:
    spec = FieldSpec("valid_from", FieldType.DATE)
    values, reasons = parse(
        spec, ["2024-01-05", "2024/1/5", "2024年1月5日", "20240105", "2024-02-30", "5.1.2024"]
    )
    assert values[:4] == [dt.date(2024, 1, 5)] * 4
    assert values[4:] == [None, None]
    assert reasons[4] == "not a date: '2024-02-30' (write YYYY-MM-DD)"


def test_codes_accept_names_and_list_the_choices() -> None:
    spec = FieldSpec("tech_field", FieldType.CODE)
    accepted = {
        "electronic_information": "electronic_information",
        "电子信息": "electronic_information",
    }
    values, reasons = parse(spec, ["电子信息", "Electronic_Information", "biotech"], None, accepted)
    assert values == ["electronic_information", "electronic_information", None]
    assert reasons[2] == "unknown tech_field 'biotech': use one of electronic_information"


def test_texts_have_a_maximum_length_and_empty_defaults() -> None:
    spec = FieldSpec("name_en", FieldType.TEXT, max_length=3, empty="")
    values, reasons = parse(spec, ["abc", "abcd", "  "])
    assert values == ["abc", None, ""]
    assert reasons == [None, "longer than 3 characters", None]


def test_lists_and_json_documents() -> None:
    regions = FieldSpec("regions_served", FieldType.LIST)
    values, _ = parse(regions, ["北京;江苏", "苏州； 无锡、常州", ""])
    assert values == ['["北京", "江苏"]', '["苏州", "无锡", "常州"]', None]
    from innofin.registry.schemas import Eligibility

    spec = FieldSpec("eligibility", FieldType.JSON, schema=Eligibility)
    values, reasons = parse(spec, ['{"zones": ["Z1"]}', "{bad", '{"colour": 1}'])
    assert values[0] == '{"zones": ["Z1"]}'
    assert reasons[1].startswith("not valid JSON")
    assert reasons[2].startswith("not a valid eligibility: colour")


@settings(max_examples=300, deadline=None)
@given(
    whole=st.integers(min_value=0, max_value=10**9),
    places=st.integers(min_value=0, max_value=6),
    digits=st.integers(min_value=0, max_value=999_999),
    negative=st.booleans(),
    unit=st.sampled_from(list(AmountUnit)),
)
def test_parsing_equals_to_money(
    whole: int, places: int, digits: int, negative: bool, unit: AmountUnit
) -> None:
    """Any amount written with up to six places, in any unit, is the fen `to_money` gives."""
    fraction = str(digits).zfill(6)[:places]
    text = ("-" if negative else "") + str(whole) + ("." + fraction if places else "")
    assume(abs(to_money(text, unit)) < Decimal(2**63 - 1).scaleb(-2))  # SQLite's INTEGER fen
    values, reasons = parse(PROFIT, [text], unit)
    assert reasons == [None]
    assert Decimal(values[0]).scaleb(-2) == to_money(text, unit)


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=Decimal("99999999"), places=6, allow_nan=False))
def test_wan_with_six_places_is_exact_in_fen(amount: Decimal) -> None:
    """万元 with six places is a whole number of fen: nothing is rounded on the way."""
    values, _ = parse(REVENUE, [f"{amount:f}"], AmountUnit.WAN)
    assert values == [int(amount * 1_000_000)]


@pytest.mark.parametrize("cell", ["1e400", "9" * 30, "92233720368547758.08"])
def test_amounts_too_large_for_the_database(cell: str) -> None:
    values, reasons = parse(REVENUE, [cell], AmountUnit.YUAN)
    assert values == [None]
    assert reasons[0] is not None
    assert "too large" in reasons[0] or "larger than" in reasons[0]
