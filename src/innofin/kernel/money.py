"""Money: exact `Decimal` yuan with fen precision, its display in 元 / 万元 / 亿元, and the
exact-fen arithmetic every room shares.

Money never passes through `float`. Two ways in, for two kinds of input:

- **Arguments** — an amount a caller hands a service, an engine, a CLI option, an API field or a
  programme file — go through `money_arg` (or `fen_arg` in the pure engines): an amount with a
  part of a fen (``100.004``) is refused, never rounded, with an `InvalidArgument` naming the
  parameter. One policy for every path.
- **Conversions** — a figure in 万元 or a foreign currency read from an imported file, a value a
  column type binds — go through `to_money`, which quantises to the fen with half-up rounding
  (四舍五入), the convention of Chinese accounting.

Exact splits (`split_pro_rata`) and the fen helpers (`fraction_arg`, `fen_arg`, `fen_of`,
`round_half_up`, `yuan`) carry products and quotients as `fractions.Fraction` and round once.
`decimal_text` renders scaled integers (fen) as exact decimal text in Polars.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from innofin.kernel.errors import InvalidAmount, InvalidArgument
from innofin.kernel.numtext import fold_width, plain_decimal

if TYPE_CHECKING:
    import polars as pl

FEN: Final = Decimal("0.01")
#: The largest amount NUMERIC(20,2) holds.
MAX_AMOUNT: Final = Decimal("999999999999999999.99")


class AmountUnit(StrEnum):
    """Units in which amounts are written in files and reports."""

    YUAN = "yuan"  # 元
    WAN = "wan"  # 万元 = 10^4 yuan
    YI = "yi"  # 亿元 = 10^8 yuan

    @property
    def factor(self) -> Decimal:
        return _FACTORS[self]

    @classmethod
    def parse(cls, text: str) -> AmountUnit:
        """Read a unit as written in headers and mapping files: 元, 万元, 亿元, yuan, wan, yi."""
        key = text.strip().lower()
        try:
            return _UNIT_NAMES[key]
        except KeyError:
            raise InvalidAmount(
                f"unknown amount unit {text!r}: use 元/yuan, 万元/wan or 亿元/yi", field="unit"
            ) from None


#: Wide enough that no amount NUMERIC(20,2) holds is ever rounded before the fen.
_EXACT: Final = Context(prec=60, rounding=ROUND_HALF_UP)

_FACTORS: Final = {
    AmountUnit.YUAN: Decimal(1),
    AmountUnit.WAN: Decimal(10_000),
    AmountUnit.YI: Decimal(100_000_000),
}
_UNIT_NAMES: Final = {
    "元": AmountUnit.YUAN,
    "yuan": AmountUnit.YUAN,
    "cny": AmountUnit.YUAN,
    "rmb": AmountUnit.YUAN,
    "万元": AmountUnit.WAN,
    "wan": AmountUnit.WAN,
    "亿元": AmountUnit.YI,
    "yi": AmountUnit.YI,
}
_LABELS: Final = {
    ("zh", AmountUnit.YUAN): "元",
    ("zh", AmountUnit.WAN): "万元",
    ("zh", AmountUnit.YI): "亿元",
    ("en", AmountUnit.YUAN): "yuan",
    ("en", AmountUnit.WAN): "10k yuan",
    ("en", AmountUnit.YI): "100m yuan",
}


def to_money(value: Decimal | int | str, unit: AmountUnit = AmountUnit.YUAN) -> Decimal:
    """Return `value` (written in `unit`) as yuan, quantised to the fen.

    Accepts `Decimal`, `int` and numeric strings (thousands separators allowed, full-width
    forms folded: `innofin.kernel.numtext`); refuses `float`, NaN, infinities, ``1_000`` and
    amounts beyond NUMERIC(20,2).
    """
    if isinstance(value, (float, bool)):
        raise InvalidAmount(f"amounts must not be {type(value).__name__}: got {value!r}")
    if (
        type(value) is Decimal
        and unit is AmountUnit.YUAN
        and value.as_tuple().exponent == -2
        and abs(value) <= MAX_AMOUNT
    ):
        return value  # yuan to the fen already (the usual case of a stored or bound amount)
    if isinstance(value, str):
        text = fold_width(value).strip().replace(",", "")
        parsed = plain_decimal(text)
        if parsed is None:
            raise InvalidAmount(f"not an amount: {value!r}")
        number = parsed
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise InvalidAmount(f"not a finite amount: {value!r}")
    yuan = _EXACT.multiply(number, unit.factor)
    if abs(yuan) > MAX_AMOUNT:
        raise InvalidAmount(f"amount {value!r} {unit.value} is larger than NUMERIC(20,2) holds")
    return yuan.quantize(FEN, rounding=ROUND_HALF_UP, context=_EXACT)


def auto_unit(amount: Decimal) -> AmountUnit:
    """The unit a person would choose to read `amount`: 亿元 from 10^8, 万元 from 10^4."""
    size = abs(amount)
    if size >= _FACTORS[AmountUnit.YI]:
        return AmountUnit.YI
    if size >= _FACTORS[AmountUnit.WAN]:
        return AmountUnit.WAN
    return AmountUnit.YUAN


def format_amount(
    amount: Decimal,
    unit: AmountUnit | None = None,
    *,
    lang: str = "zh",
    places: int | None = None,
) -> str:
    """Render yuan as people read it: ``format_amount(Decimal("210000000000"))`` → ``2,100.00亿元``.

    `unit` defaults to the one `auto_unit` picks; `places` defaults to 2 (4 for 万元 and 亿元
    when the amount is small enough that two places would hide it). `lang` is ``zh`` or ``en``.
    """
    if isinstance(amount, float):
        raise InvalidAmount("format_amount takes Decimal, not float")
    chosen = unit or auto_unit(amount)
    if lang not in ("zh", "en"):
        raise InvalidAmount(f"unknown language {lang!r}: use zh or en", field="lang")
    scaled = Decimal(amount) / chosen.factor
    digits = 2 if places is None else places
    quantum = Decimal(1).scaleb(-digits)
    shown = scaled.quantize(quantum, rounding=ROUND_HALF_UP)
    text = f"{shown:,.{digits}f}"
    label = _LABELS[(lang, chosen)]
    return f"{text}{label}" if lang == "zh" else f"{text} {label}"


# --- display in columns: one unit per column ------------------------------------------------------

#: the smallest share of the column's unit a non-zero amount may have before a smaller unit is
#: chosen (below it, two places would show the amount as 0.00)
_VISIBLE: Final = Decimal("0.005")
_SMALLER: Final = {AmountUnit.YI: AmountUnit.WAN, AmountUnit.WAN: AmountUnit.YUAN}


def column_unit(amounts: Iterable[Decimal | None], unit: AmountUnit | None = None) -> AmountUnit:
    """The one unit of a column of amounts, so a column never mixes 元, 万元 and 亿元: `unit` when
    the user chose one; else the unit `auto_unit` picks for the largest amount, one step smaller
    while two places would show a non-zero amount of the column as 0.00."""
    if unit is not None:
        return unit
    sizes = [abs(Decimal(a)) for a in amounts if a is not None and a != 0]
    if not sizes:
        return AmountUnit.YUAN
    chosen = auto_unit(max(sizes))
    smallest = min(sizes)
    while chosen in _SMALLER and smallest / chosen.factor < _VISIBLE:
        chosen = _SMALLER[chosen]
    return chosen


def unit_label(unit: AmountUnit, lang: str = "zh") -> str:
    """The unit's name: 元 / 万元 / 亿元, or yuan / 10k yuan / 100m yuan."""
    return _LABELS[("en" if lang == "en" else "zh", unit)]


def amount_header(title: str, unit: AmountUnit, lang: str = "zh") -> str:
    """A column's header with its unit: ``本金（万元）``, ``principal (10k yuan)``."""
    label = unit_label(unit, lang)
    return f"{title}（{label}）" if lang == "zh" else f"{title} ({label})"


def amount_in(amount: Decimal | None, unit: AmountUnit, places: int = 2) -> str:
    """`amount` as a number in `unit`, without the unit's name (its column's header carries it):
    ``amount_in(Decimal("10900000"), AmountUnit.WAN)`` → ``1,090.00``; "" for no amount."""
    if amount is None:
        return ""
    if isinstance(amount, float):
        raise InvalidAmount("amount_in takes Decimal, not float")
    quantum = Decimal(1).scaleb(-places)
    shown = (Decimal(amount) / unit.factor).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{shown:,.{places}f}"


def parse_unit_option(text: str | None, option: str = "--unit") -> AmountUnit | None:
    """The unit a user asked for on the command line (元, 万元, 亿元, yuan, wan, yi), or None."""
    if text is None:
        return None
    try:
        return AmountUnit.parse(text)
    except InvalidAmount:
        raise InvalidAmount(
            f"{option} must be 元, 万元 or 亿元 (or yuan, wan, yi), not {text!r}", field="unit"
        ) from None


def format_number(value: float | Decimal | None, places: int = 4) -> str:
    """A measured value that is not money (a ratio, a count, yuan per person) as people read it:
    thousands separators, at most `places` decimals, no trailing zeros and never an exponent
    (``18430000.0`` → ``18,430,000``, ``0.052300`` → ``0.0523``); "" for none."""
    if value is None or value != value:  # None or NaN
        return ""
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    text = f"{number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


# --- arguments: whole fen or refused ------------------------------------------------------------


def _fail(name: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{name} {message}", field=name)


def fraction_arg(value: object, name: str) -> Fraction:
    """A `Decimal` or `int` argument as an exact fraction; floats, strings and non-finite numbers
    are refused (`InvalidArgument` naming `name`)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise _fail(name, f"must be a Decimal, not {type(value).__name__} ({value!r})")
    number = Decimal(value)
    if not number.is_finite():
        raise _fail(name, f"must be a finite number, got {value}")
    return Fraction(number)


def fen_arg(value: object, name: str, *, signed: bool = False) -> int:
    """A yuan amount argument (`Decimal` or `int`) as a whole number of fen: a part of a fen is
    refused, never rounded; so is a negative amount unless `signed`."""
    exact = fraction_arg(value, name) * 100
    if exact.denominator != 1:
        raise _fail(name, f"must be a whole number of fen (0.01 yuan), got {value}")
    fen = exact.numerator
    if fen < 0 and not signed:
        raise _fail(name, f"must not be negative, got {value}")
    return fen


def money_arg(
    value: object,
    name: str,
    *,
    positive: bool = True,
    signed: bool = False,
    unit: AmountUnit = AmountUnit.YUAN,
) -> Decimal:
    """An amount argument as yuan to the fen — the one policy of every path that takes money.

    Takes a `Decimal`, an `int` or a numeric string (full-width forms folded, thousands
    separators allowed) written in `unit`; refuses floats, text that is not a number, non-finite
    amounts, amounts beyond NUMERIC(20,2) and — never rounding — any with a part of a fen once in
    yuan (``100.004``; ``100.000`` is 100.00). The amount must be positive (`positive`), else
    at least 0, unless `signed`. Errors are `InvalidArgument` whose message starts with `name`.
    """
    if (
        type(value) is Decimal
        and unit is AmountUnit.YUAN
        and value.as_tuple().exponent == -2
        and abs(value) <= MAX_AMOUNT
    ):
        amount = value  # yuan to the fen already (the usual case): only the sign to check
    else:
        amount = _whole_fen(value, name, unit)
    if not signed and (amount < 0 or (positive and amount == 0)):
        raise _fail(name, f"must be {'positive' if positive else '≥ 0'}")
    return amount


def _whole_fen(value: object, name: str, unit: AmountUnit) -> Decimal:
    if isinstance(value, bool | float):
        raise _fail(name, f"must be a decimal amount, not a {type(value).__name__} ({value!r})")
    if isinstance(value, str):
        number = plain_decimal(fold_width(value).strip().replace(",", ""))
        if number is None:
            raise _fail(name, f"is not an amount: {value!r}")
    elif isinstance(value, Decimal | int):
        number = Decimal(value)
    else:
        raise _fail(name, f"must be an amount, not {type(value).__name__}")
    if not number.is_finite():
        raise _fail(name, f"must be a finite amount, got {value!r}")
    if unit is not AmountUnit.YUAN:
        number = _EXACT.multiply(number, unit.factor)
    if abs(number) > MAX_AMOUNT:
        raise _fail(name, f"is larger than NUMERIC(20,2) holds, got {value}")
    if number != number.quantize(FEN, context=_EXACT):
        shown = f"{value} {unit.value}" if unit is not AmountUnit.YUAN else f"{value}"
        raise _fail(
            name,
            f"must be a whole number of fen (at most 2 decimal places in yuan), got {shown}: "
            "amounts are refused, never rounded",
        )
    return number.quantize(FEN, context=_EXACT)


def fen_of(value: Decimal) -> int:
    """An amount already checked to be whole fen, as fen."""
    return int(Fraction(value) * 100)


def round_half_up(fen: Fraction) -> int:
    """A non-negative fractional number of fen rounded half-up (四舍五入) to whole fen."""
    return math.floor(fen + Fraction(1, 2))


def yuan(fen: int) -> Decimal:
    """Whole fen as yuan with two places (12345 → 123.45)."""
    return Decimal(f"{fen}E-2")


# --- exact splits --------------------------------------------------------------------------------


def split_pro_rata(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Split `amount` (whole fen, ≥ 0) in proportion to `weights`, exactly to the fen.

    Largest remainder: each part is its exact share rounded down to the fen, and the fen left over
    go one each to the largest remainders, ties to the name that sorts first. The parts add up to
    `amount` exactly and each is within one fen of its exact share. A weight may be 0 (that part
    is 0.00) but none may be negative, and they must not all be 0. The result keeps the order of
    `weights`. Bad input raises `InvalidArgument` naming ``amount`` or ``weights``.
    """
    total = fen_arg(amount, "amount")
    if not weights:
        raise _fail("weights", "must name at least one part")
    exact: dict[str, Fraction] = {}
    for name, weight in weights.items():
        value = fraction_arg(weight, "weights")
        if value < 0:
            raise _fail("weights", f"must not be negative: {name} has {weight}")
        exact[name] = value
    weight_sum = sum(exact.values(), Fraction(0))
    if weight_sum <= 0:
        raise _fail("weights", "must not all be zero")
    parts: dict[str, int] = {}
    remainders: list[tuple[Fraction, str]] = []
    for name, value in exact.items():
        share = total * value / weight_sum
        floor = math.floor(share)
        parts[name] = floor
        remainders.append((floor - share, name))  # most negative = largest remainder
    leftover = total - sum(parts.values())
    for _, name in sorted(remainders)[:leftover]:
        parts[name] += 1
    return {name: yuan(fen) for name, fen in parts.items()}


# --- frames --------------------------------------------------------------------------------------


def decimal_text(name: str, scale: int) -> pl.Expr:
    """A Polars column of scaled integers as exact decimal text (fen 12345 → "123.45"), without
    floats. Polars is imported here, not with the module, so the CLI starts without it."""
    import polars as pl

    value = pl.col(name)
    whole = (value.abs() // 10**scale).cast(pl.Utf8)
    part = (value.abs() % 10**scale).cast(pl.Utf8).str.pad_start(scale, "0")
    sign = pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str([sign, whole, pl.lit("."), part]).alias(name)
