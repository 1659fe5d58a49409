"""Money: exact `Decimal` yuan with fen precision, and its display in 元 / 万元 / 亿元.

Money never passes through `float`: `to_money` refuses floats outright, and every amount is
quantised to the fen (0.01 yuan) with half-up rounding (四舍五入), the convention of Chinese
accounting.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import Final

from innofin.kernel.errors import InvalidAmount
from innofin.kernel.numtext import fold_width, plain_decimal

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
