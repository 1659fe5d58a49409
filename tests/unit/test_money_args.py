"""Money arguments follow one policy (`innofin.kernel.money.money_arg`, `fen_arg`): an amount with
a part of a fen is refused with an error naming the parameter, never rounded; and the exact-fen
helpers every room shares (splits to the fen, decimal text of fen columns)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.kernel.errors import InvalidArgument, InvalidInput
from innofin.kernel.money import (
    MAX_AMOUNT,
    AmountUnit,
    decimal_text,
    fen_arg,
    money_arg,
    round_half_up,
    split_pro_rata,
    yuan,
)

D = Decimal
fen_amounts = st.integers(min_value=-(10**20) + 1, max_value=10**20 - 1)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (D("100.00"), D("100.00")),
        (D("100"), D("100.00")),
        (D("100.000"), D("100.00")),  # a whole number of fen, however it is written
        (100, D("100.00")),
        ("1,234.5", D("1234.50")),
        ("１２３.４５", D("123.45")),  # full-width digits and point
        (" 7 ", D("7.00")),
    ],
)
def test_whole_fen_amounts_are_taken(value: object, want: Decimal) -> None:
    got = money_arg(value, "amount")
    assert got == want and got.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (D("100.004"), "whole number of fen"),  # refused, not rounded to 100.00
        ("100.005", "whole number of fen"),
        (D("-0.001"), "whole number of fen"),
        (100.5, "not a float"),
        (True, "not a bool"),
        ("abc", "not an amount"),
        ("1e3x", "not an amount"),
        (D("NaN"), "finite"),
        (D("Infinity"), "finite"),
        (MAX_AMOUNT + 1, "NUMERIC"),
        (D(0), "positive"),
        (D("-1.00"), "positive"),
        ([1], "must be an amount"),
    ],
)
def test_bad_amounts_are_refused_naming_the_parameter(value: object, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=f"^limit_amount .*{reason}") as info:
        money_arg(value, "limit_amount")
    assert info.value.field == "limit_amount"
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)
    assert info.value.exit_code == 2


def test_sign_rules() -> None:
    assert money_arg(D(0), "interest", positive=False) == D("0.00")
    with pytest.raises(InvalidArgument, match=r"^interest must be ≥ 0"):
        money_arg(D("-0.01"), "interest", positive=False)
    assert money_arg(D("-0.01"), "delta", signed=True) == D("-0.01")


def test_units_convert_exactly_or_are_refused() -> None:
    assert money_arg("1.234567", "amount", unit=AmountUnit.WAN) == D("12345.67")
    assert money_arg("2100", "amount", unit=AmountUnit.YI) == D("210000000000.00")
    with pytest.raises(InvalidArgument, match=r"^amount .*got 1\.2345678 wan"):
        money_arg("1.2345678", "amount", unit=AmountUnit.WAN)


@given(fen_amounts)
def test_every_whole_fen_amount_comes_back_unchanged(fen: int) -> None:
    amount = yuan(fen)
    assert money_arg(amount, "x", signed=True) == amount
    assert money_arg(str(amount), "x", signed=True) == amount
    assert fen_arg(amount, "x", signed=True) == fen


@given(fen_amounts, st.integers(min_value=1, max_value=9), st.integers(min_value=3, max_value=8))
def test_no_amount_with_a_part_of_a_fen_is_ever_rounded(fen: int, digit: int, place: int) -> None:
    amount = yuan(fen) + D(digit).scaleb(-place)  # a non-zero digit past the fen
    with pytest.raises(InvalidArgument, match=r"^x "):
        money_arg(amount, "x", signed=True)
    with pytest.raises(InvalidArgument, match=r"^x "):
        fen_arg(amount, "x", signed=True)


def test_fen_arg_takes_only_decimals_and_ints() -> None:
    assert fen_arg(D("1.23"), "payout") == 123
    for bad in ("1.23", 1.23, None):
        with pytest.raises(InvalidArgument, match=r"^payout must be a Decimal"):
            fen_arg(bad, "payout")
    with pytest.raises(InvalidArgument, match=r"^payout must not be negative"):
        fen_arg(D("-1"), "payout")


def test_round_half_up_to_the_fen() -> None:
    assert round_half_up(Fraction(1, 2)) == 1
    assert round_half_up(Fraction(49, 100)) == 0
    assert round_half_up(Fraction(5, 2)) == 3


@given(
    st.integers(min_value=0, max_value=10**14),
    st.dictionaries(
        st.text(min_size=1, max_size=5), st.integers(min_value=0, max_value=10**6), min_size=1
    ).filter(lambda w: sum(w.values()) > 0),
)
def test_splits_add_up_exactly_and_each_part_is_within_a_fen(
    fen: int, weights: dict[str, int]
) -> None:
    amount = yuan(fen)
    shares = {k: D(v) for k, v in weights.items()}
    parts = split_pro_rata(amount, shares)
    assert list(parts) == list(shares)  # the order of the weights
    assert sum(parts.values(), D(0)) == amount
    total = sum(weights.values())
    for name, part in parts.items():
        exact = Fraction(fen * weights[name], total)
        assert abs(Fraction(part) * 100 - exact) < 1
    # the result never depends on the order of the mapping
    assert split_pro_rata(amount, dict(reversed(list(shares.items())))) == parts


def test_split_errors_name_the_argument() -> None:
    with pytest.raises(InvalidArgument, match=r"^amount .*whole number of fen"):
        split_pro_rata(D("0.005"), {"a": D(1)})
    with pytest.raises(InvalidArgument, match=r"^weights must not all be zero"):
        split_pro_rata(D("1.00"), {"a": D(0)})


@given(st.lists(st.integers(min_value=-(10**17), max_value=10**17), min_size=1, max_size=30))
def test_decimal_text_is_exact(fen: list[int]) -> None:
    frame = pl.DataFrame({"amount": fen}, schema={"amount": pl.Int64})
    text = frame.select(decimal_text("amount", 2))["amount"].to_list()
    assert [D(t) for t in text] == [yuan(f) for f in fen]
    assert all(t.count(".") == 1 and len(t.split(".")[1]) == 2 for t in text)


@given(fen_amounts, st.sampled_from(list(AmountUnit)))
def test_the_fast_path_of_amounts_in_fen_agrees_with_the_general_one(
    fen: int, unit: AmountUnit
) -> None:
    amount = yuan(fen)  # exponent -2: the fast path when in yuan
    general = Decimal(f"{amount}0")  # the same amount written with three places
    if abs(amount * unit.factor) > MAX_AMOUNT:
        return
    assert money_arg(amount, "x", signed=True, unit=unit) == money_arg(
        general, "x", signed=True, unit=unit
    )
    assert money_arg(amount, "x", signed=True, unit=unit) == amount * unit.factor
