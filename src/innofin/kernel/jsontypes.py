"""Exact decimals in JSON: amounts travel as strings ("1250000.00"), never as JSON numbers.

`MoneyJson` reads a string (or an integer) with at most two decimal places and refuses JSON floats
(the written form is checked here, the amount by `innofin.kernel.money.money_arg`, the one policy
of money arguments: a part of a fen is refused, never rounded),
so no amount ever passes through binary floating point; it writes the amount back as a string. The
OpenAPI schema says so with a pattern. Up to 16 integer digits (below 10^16 yuan) — what every
supported database stores exactly.

API input takes the stricter `MoneyIn`, `AmountIn` and `QuantityIn`: a string matching the
pattern and nothing else — no JSON numbers, padding, exponents (``"1e3"``), underscores
(``"1_000"``) or thousands separators — except that full-width digits, minus sign and point are
read as their ASCII forms, as in imported files (`innofin.kernel.numtext`). The `*Json` types,
for output and for YAML files, also take integers.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, PlainSerializer, StringConstraints, WithJsonSchema

from innofin.kernel.money import money_arg
from innofin.kernel.numtext import fold_width, plain_decimal

MONEY_PATTERN = r"^-?[0-9]{1,16}(\.[0-9]{1,2})?$"
AMOUNT_PATTERN = r"^[0-9]{1,16}(\.[0-9]{1,2})?$"
QUANTITY_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,4})?$"


def _exact(
    value: Any, what: str, places: int, digits: int, *, signed: bool, numbers: bool = True
) -> Decimal:
    """`value` as an exact Decimal. A string must be a plain decimal — an optional ``-`` (when
    `signed`), digits, and at most `places` decimal places — once full-width forms are folded
    (``１２５００００`` reads as 1250000); no padding, exponents (``1e3``), underscores
    (``1_000``), signs of other kinds or thousands separators. JSON numbers are refused; Python
    ints (YAML files, code) are taken only when `numbers`."""
    if isinstance(value, (bool, float)) or (isinstance(value, int) and not numbers):
        raise ValueError(f'{what} must be a string such as "1250000.00", not a number')
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        folded = fold_width(value)
        sign = "-?" if signed else ""
        pattern = rf"{sign}[0-9]{{1,{digits}}}(?:\.[0-9]{{1,{places}}})?"
        if re.fullmatch(pattern, folded) is None:
            example = "-1250000.00" if signed else "1250000.00"
            raise ValueError(
                f"{what} is written as a plain decimal such as {example!r} (at most {digits} "
                f"digits before the point and {places} after, no spaces, exponent or "
                f"separators): got {value!r}"
            )
        number = Decimal(folded)
    else:
        raise ValueError(f"{what} must be a string")
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise ValueError(f"at most {places} decimal places: {value!r}")
    if abs(number) >= Decimal(10) ** digits:
        raise ValueError(f"at most {digits} digits before the decimal point: {value!r}")
    if not signed and number < 0:
        raise ValueError(f"must not be negative: {value!r}")
    return number


def _money(value: Any) -> Decimal:
    return money_arg(_exact(value, "an amount", 2, 16, signed=True), "an amount", signed=True)


def _amount(value: Any) -> Decimal:
    return money_arg(_exact(value, "an amount", 2, 16, signed=False), "an amount", positive=False)


def _quantity(value: Any) -> Decimal:
    return _exact(value, "a quantity", 4, 12, signed=True).quantize(Decimal("0.0001"))


def _money_in(value: Any) -> Decimal:
    number = _exact(value, "an amount", 2, 16, signed=True, numbers=False)
    return money_arg(number, "an amount", signed=True)


def _amount_in(value: Any) -> Decimal:
    number = _exact(value, "an amount", 2, 16, signed=False, numbers=False)
    return money_arg(number, "an amount", positive=False)


def _quantity_in(value: Any) -> Decimal:
    number = _exact(value, "a quantity", 4, 12, signed=True, numbers=False)
    return number.quantize(Decimal("0.0001"))


def _as_text(value: Decimal) -> str:
    return format(value, "f")


_OUT = PlainSerializer(_as_text, return_type=str, when_used="json")

#: a signed amount of yuan with fen precision
MoneyJson = Annotated[
    Decimal,
    BeforeValidator(_money),
    _OUT,
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["1250000.00"]}),
]
#: a non-negative amount of yuan
AmountJson = Annotated[
    Decimal,
    BeforeValidator(_amount),
    _OUT,
    WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["5000000.00"]}),
]
#: a decimal quantity with up to four places (rates, shares, indicator values)
QuantityJson = Annotated[
    Decimal,
    BeforeValidator(_quantity),
    _OUT,
    WithJsonSchema({"type": "string", "pattern": QUANTITY_PATTERN, "examples": ["3.4500"]}),
]

_FULL_WIDTH = "full-width digits, minus sign and point are read as ASCII"

#: a signed amount of yuan with fen precision, as API input: a string only
MoneyIn = Annotated[
    Decimal,
    BeforeValidator(_money_in),
    _OUT,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "examples": ["-2500.50"],
            "description": f"yuan, at most 2 decimal places; {_FULL_WIDTH}",
        }
    ),
]
#: a non-negative amount of yuan, as API input: a string only
AmountIn = Annotated[
    Decimal,
    BeforeValidator(_amount_in),
    _OUT,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "examples": ["1250000.00"],
            "description": f"yuan, at most 2 decimal places; {_FULL_WIDTH}",
        }
    ),
]
#: a decimal quantity with up to four places, as API input: a string only
QuantityIn = Annotated[
    Decimal,
    BeforeValidator(_quantity_in),
    _OUT,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": QUANTITY_PATTERN,
            "examples": ["0.0345"],
            "description": f"at most 4 decimal places; {_FULL_WIDTH}",
        }
    ),
]


#: printable text: no NUL or other control characters (PostgreSQL refuses NUL in text)
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def _text(n: int) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=n, pattern=PRINTABLE)


# Bounded single-line strings for API input (the bounds match the database columns).
Text16 = Annotated[str, _text(16)]
Text20 = Annotated[str, _text(20)]
Text30 = Annotated[str, _text(30)]
Text40 = Annotated[str, _text(40)]
Text60 = Annotated[str, _text(60)]
Text64 = Annotated[str, _text(64)]
Text80 = Annotated[str, _text(80)]
Text120 = Annotated[str, _text(120)]
Text200 = Annotated[str, _text(200)]
Text500 = Annotated[str, _text(500)]


def _iso_date(value: Any) -> Any:
    """Only ISO dates (YYYY-MM-DD): pydantic would also read "0" or 0 as a Unix timestamp, and
    `date.fromisoformat` "20240101" or "2024-W01-1". Full-width digits and hyphens fold."""
    if isinstance(value, dt.date):
        return value
    folded = fold_width(value) if isinstance(value, str) else None
    if folded is None or re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", folded) is None:
        raise ValueError("a date is written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(folded)
    except ValueError:
        raise ValueError(f"not a date: {value!r} (YYYY-MM-DD)") from None


#: a calendar date, written YYYY-MM-DD
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2024-12-31"]}),
]


# --- shares, rates and tags of rule files --------------------------------------------------------

_RATE_PLACES: Final = 10
_RATE_LIMIT: Final = Decimal(10) ** 6


def _rate(value: object) -> Decimal:
    """A share or rate: a `Decimal`, an `int` or a numeric string; never a float."""
    if isinstance(value, bool | float):
        raise ValueError(
            f'write shares and rates as strings such as "0.30", not as {type(value).__name__} '
            f"({value!r}): binary floating point is not exact"
        )
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        parsed = plain_decimal(fold_width(value).strip())  # full-width digits read as ASCII
        if parsed is None:
            raise ValueError(f"not a decimal number: {value!r}")
        number = parsed
    else:
        raise ValueError(f'a share or rate is a string such as "0.30", not {type(value).__name__}')
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_RATE_PLACES:
        raise ValueError(f"at most {_RATE_PLACES} decimal places: {value!r}")
    if abs(number) >= _RATE_LIMIT:
        raise ValueError(f"out of range: {value!r}")
    return number


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _sorted_tags(value: frozenset[str]) -> list[str]:
    return sorted(value)


#: a share, coverage or rate (exact; written as a string in JSON)
Rate = Annotated[
    Decimal,
    BeforeValidator(_rate),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]{1,6}(\.[0-9]{1,10})?$"}),
]
#: a set of tags, written as a sorted list (so stored JSON is stable)
Tags = Annotated[
    frozenset[str], PlainSerializer(_sorted_tags, return_type=list[str], when_used="json")
]
