"""Full-width folding and the strict API input types, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from innofin.kernel.jsontypes import AmountIn, AmountJson, IsoDate, MoneyIn, QuantityIn
from innofin.kernel.money import to_money
from innofin.kernel.numtext import fold_width, plain_decimal
from innofin.ledger.subsidies.engine import SubsidyRules

FULL = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2))
def test_full_width_amounts_read_as_their_ascii_forms(value: Decimal) -> None:
    text = f"{value:.2f}"
    assert TypeAdapter(MoneyIn).validate_python(text.translate(FULL)) == value
    assert to_money(f"{value:,.2f}".translate(FULL)) == value


def test_fold_width_changes_only_width_and_spaces() -> None:
    assert fold_width("１２，３４５．６７") == "12,345.67"
    assert fold_width("\u3000－５\u00a0") == " -5 "
    assert fold_width("\u22125") == "-5"
    assert fold_width("10²①٣") == "10²①٣"  # look-alikes are left for the parser to refuse


@pytest.mark.parametrize("text", ["1_000", "NaN", "Infinity", "٣", "1e", "", "+"])
def test_plain_decimal_refuses_what_decimal_would_take(text: str) -> None:
    assert plain_decimal(text) is None


@pytest.mark.parametrize("value", [1000, "1e3", "1_000", " 1", "1,000", 1.5, True])
def test_input_amounts_are_strings_of_the_documented_form(value: object) -> None:
    for kind in (AmountIn, MoneyIn, QuantityIn):
        with pytest.raises(ValidationError):
            TypeAdapter(kind).validate_python(value)


def test_output_and_yaml_amounts_still_take_integers() -> None:
    assert TypeAdapter(AmountJson).validate_python(3000000) == Decimal("3000000.00")


def test_dates_fold_full_width_and_are_iso_only() -> None:
    adapter = TypeAdapter(IsoDate)
    assert adapter.validate_python("２０２５－０１－１５") == dt.date(2025, 1, 15)
    for bad in ("20250115", "2025-W03-3", "2025-1-15", "2025-02-30"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


def test_shares_and_rates_fold_full_width_and_refuse_loose_forms() -> None:
    assert SubsidyRules(share="０．５").share == Decimal("0.5")
    for bad in ("1_0", "٠.٥", "NaN", "0.5e0x"):
        with pytest.raises(ValidationError):
            SubsidyRules(share=bad)
