from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.kernel.errors import InvalidAmount
from innofin.kernel.money import (
    AmountUnit,
    amount_header,
    amount_in,
    auto_unit,
    column_unit,
    format_amount,
    format_number,
    parse_unit_option,
    to_money,
)


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


# --- a column of amounts: one unit, named in the header ---------------------------------------


def test_a_column_takes_one_unit_for_all_its_amounts() -> None:
    # the column the CLI once printed as 1.09亿元, 1,000.00万元 and 0.00元
    column = [Decimal("109000000"), Decimal("10000000"), Decimal("0"), None]
    unit = column_unit(column)
    assert unit is AmountUnit.YI
    assert [amount_in(a, unit) for a in column] == ["1.09", "0.10", "0.00", ""]
    assert amount_header("本金", unit) == "本金（亿元）"
    assert amount_header("principal", AmountUnit.WAN, "en") == "principal (10k yuan)"
    # a small amount that 亿元 would show as 0.00 takes the column down to 万元
    assert column_unit([Decimal("109000000"), Decimal("3000")]) is AmountUnit.WAN
    assert column_unit([None, Decimal(0)]) is AmountUnit.YUAN
    assert column_unit(column, AmountUnit.YUAN) is AmountUnit.YUAN  # --unit 元


FEN_AMOUNTS = st.decimals(min_value=-(10**14), max_value=10**14, places=2)


@given(st.lists(FEN_AMOUNTS, min_size=1, max_size=20))
def test_a_chosen_column_unit_hides_no_amount(amounts: list[Decimal]) -> None:
    unit = column_unit(amounts)
    for amount in amounts:
        shown = amount_in(amount, unit)
        assert "元" not in shown and "e" not in shown.lower()
        if amount != 0:
            assert shown.lstrip("-") != "0.00", (amount, unit)
        # what is shown is the amount, rounded to two places of the unit
        value = Decimal(shown.replace(",", "")) * unit.factor
        assert abs(value - amount) <= unit.factor / 200


def test_units_on_the_command_line() -> None:
    assert parse_unit_option("万元") is AmountUnit.WAN
    assert parse_unit_option("yi") is AmountUnit.YI
    assert parse_unit_option(None) is None
    with pytest.raises(InvalidAmount, match="--unit must be 元, 万元 or 亿元"):
        parse_unit_option("千元")


def test_numbers_that_are_not_money_never_show_an_exponent() -> None:
    assert format_number(18430000.0) == "18,430,000"
    assert format_number(0.0523) == "0.0523"
    assert format_number(12.0) == "12"
    assert format_number(1.5e-7) == "0"
    assert format_number(-2.5) == "-2.5"
    assert format_number(None) == "" and format_number(float("nan")) == ""


@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_format_number_is_plain(value: float) -> None:
    shown = format_number(value)
    assert "e" not in shown.lower() and shown != "-0"
    assert abs(float(shown.replace(",", "")) - value) <= 0.00005 + abs(value) * 1e-12
