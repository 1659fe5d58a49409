from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.kernel.errors import InvalidAmount
from innofin.kernel.money import AmountUnit, auto_unit, format_amount, to_money


def test_units_scale_to_yuan_exactly() -> None:
    assert to_money("1.2345", AmountUnit.WAN) == Decimal("12345.00")
    assert to_money("2100", AmountUnit.YI) == Decimal("210000000000.00")
    assert to_money("0.005") == Decimal("0.01")  # half-up to the fen
    assert to_money("-0.005") == Decimal("-0.01")
    assert to_money("1,234.5") == Decimal("1234.50")


@pytest.mark.parametrize("bad", [0.1, True, "abc", "NaN", "Infinity", "1e30"])
def test_refuses_float_and_garbage(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        to_money(bad)  # type: ignore[arg-type]


def test_unit_names_in_chinese_and_english() -> None:
    assert AmountUnit.parse("万元") is AmountUnit.WAN
    assert AmountUnit.parse(" YI ") is AmountUnit.YI
    assert AmountUnit.parse("元") is AmountUnit.YUAN
    with pytest.raises(InvalidAmount, match="unknown amount unit"):
        AmountUnit.parse("美元")


def test_format_picks_the_unit_people_read() -> None:
    assert format_amount(Decimal("210000000000")) == "2,100.00亿元"
    assert format_amount(Decimal("1000000000000"), lang="en") == "10,000.00 100m yuan"
    assert format_amount(Decimal("35000")) == "3.50万元"
    assert format_amount(Decimal("999.99")) == "999.99元"
    assert format_amount(Decimal("12345678"), AmountUnit.YUAN) == "12,345,678.00元"
    assert format_amount(Decimal("-25000"), lang="en") == "-2.50 10k yuan"
    assert auto_unit(Decimal("99999999.99")) is AmountUnit.WAN


def test_format_refuses_float() -> None:
    with pytest.raises(InvalidAmount):
        format_amount(1.5)  # type: ignore[arg-type]


@given(
    fen=st.integers(min_value=-(10**19) + 1, max_value=10**19 - 1),
    unit=st.sampled_from(list(AmountUnit)),
)
def test_amount_written_in_any_unit_reads_back_exactly(fen: int, unit: AmountUnit) -> None:
    yuan = Decimal(fen).scaleb(-2)
    written = yuan / unit.factor  # exact: factors are powers of ten
    assert to_money(str(written), unit) == yuan


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2))
def test_formatting_in_yuan_keeps_every_fen(amount: Decimal) -> None:
    text = format_amount(amount, AmountUnit.YUAN)
    assert to_money(text.removesuffix("元")) == amount
