"""Column parsers: the text cells of a batch to typed values, with a reason for every bad cell.

Parsing is columnar (Polars) because a file of a million rows with seventeen amounts each is too
many cells for per-cell `Decimal` arithmetic, and a whole batch is parsed in a few `select`s, not
one per column. Amounts become integers in the column's storage scale (fen for money,
ten-thousandths for quantities) by integer arithmetic on the digits, which equals
`innofin.kernel.money.to_money` (half-up at the last kept digit; a property test checks the two
agree). The few cells the fast pattern does not cover (exponents, very long numbers, full-width
digits) go through `to_money`/`Decimal` one by one. No value ever passes through a float.

Numbers and dates are read in ASCII after folding full-width forms (`innofin.kernel.numtext`).
The patterns say ``[0-9]``, not a digit class: in Polars that also matches other scripts' digits,
which the cast then turned into nothing. A typed cell that is not empty is either read or given a
reason (`_final` checks it), so no value is ever dropped without a word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple

import polars as pl
from pydantic import ValidationError

from innofin.ingest.dateformats import parse_dates
from innofin.ingest.formulas import restore_expr
from innofin.ingest.kinds import FieldSpec, FieldType
from innofin.ingest.units import Unit, parse_unit, unit_label
from innofin.kernel.errors import InvalidAmount
from innofin.kernel.money import AmountUnit, to_money
from innofin.kernel.numtext import WIDTH_FOLDS, fold_width, plain_decimal

_SUFFIX = re.compile(r"^(?P<number>.*?)(?P<unit>元|万元|亿元|%)?$")
_DATE = (
    r"^(?P<y>[0-9]{4})(?:[-/.年](?P<m>[0-9]{1,2})[-/.月](?P<d>[0-9]{1,2})日?"
    r"|(?P<m2>[0-9]{2})(?P<d2>[0-9]{2}))(?:[ T]00:00(?::00(?:\.0+)?)?)?$"
)
#: thousands grouped by one kind of separator, as in 1,250,000.50 or 1 250 000
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}([, ])[0-9]{3}(?:\1[0-9]{3})*(?:\.[0-9]*)?")
_TRUE = ["1", "t", "true", "y", "yes", "是", "有"]
_FALSE = ["0", "f", "false", "n", "no", "否", "无"]
_INT64 = 1 << 63
_DIGITS = {AmountUnit.YUAN: 0, AmountUnit.WAN: 4, AmountUnit.YI: 8}
_NUMERIC = (FieldType.INT, FieldType.YEAR, FieldType.MONEY, FieldType.QUANTITY)


class Column(NamedTuple):
    """A column of the batch to parse: its name in the frame, its field, unit and codes."""

    name: str
    spec: FieldSpec
    unit: Unit | None = None
    accepted: dict[str, str] | None = None  # CODE fields: lower-cased spelling -> code
    formats: tuple[str, ...] = ()  # DATE fields: the formats a mapping declares (`dateformats`)
    rate: Decimal | None = None  # MONEY fields in another currency: yuan per unit of it
    #: a CSV export may have put a quote before text starting like a formula (`formulas`)
    quoted: bool = False


#: the fields whose CSV cells may carry that quote (numbers and dates never do)
QUOTED_TYPES = (FieldType.TEXT, FieldType.CODE, FieldType.LIST, FieldType.JSON)


def storage_scale(spec: FieldSpec) -> int:
    """Decimal places kept: 2 (fen) for money, 4 for quantities, 0 for whole numbers."""
    return {FieldType.MONEY: 2, FieldType.QUANTITY: 4}.get(spec.type, 0)


def _exponent(spec: FieldSpec, unit: Unit | None) -> int:
    """Powers of ten from the written number to the stored integer."""
    return storage_scale(spec) + (_DIGITS[unit] if isinstance(unit, AmountUnit) else 0)


def _unit_words(unit: Unit | None) -> str:
    return f"is in {unit_label(unit)}" if unit is not None else "has no unit"


def slow_number(text: str, spec: FieldSpec, unit: Unit | None) -> tuple[int | None, str | None]:
    """One cell the fast pattern did not take: exponents, very long numbers, full-width forms,
    thousands separators, garbage. A comma or space must group thousands (``1,250,000.5``,
    ``1 250 000``): ``1,5`` — a decimal comma in some locales — is refused, not read as 15."""
    match = _SUFFIX.match(fold_width(text).strip())
    assert match is not None
    number, suffix = match["number"].strip(), match["unit"]
    if suffix is not None and parse_unit(suffix) != unit:
        return None, f"unit mismatch: the cell says {suffix} but the column {_unit_words(unit)}"
    if "," in number or " " in number:
        if _GROUPED.fullmatch(number) is None:
            return None, f"not a number: {text!r} (commas and spaces only group thousands)"
        number = number.replace(",", "").replace(" ", "")
    value = plain_decimal(number)
    if value is None:
        return None, f"not a number: {text!r}"
    if spec.type in (FieldType.INT, FieldType.YEAR) and value != value.to_integral_value():
        return None, f"not a whole number: {text!r}"
    try:
        if isinstance(unit, AmountUnit) and spec.type is FieldType.MONEY:
            scaled = int(to_money(value, unit).scaleb(2))
        else:
            shifted = value.scaleb(_exponent(spec, unit))
            scaled = int(shifted.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except (InvalidAmount, InvalidOperation):
        return None, f"too large: {text!r}"
    if abs(scaled) >= _INT64:  # SQLite keeps amounts as 64-bit integers of fen
        return None, f"too large: {text!r} (at most 92,233,720,368,547,758.07 yuan)"
    return scaled, None


def _number(c: Column, separators: bool = False) -> list[pl.Expr]:
    """Plain decimals with no more places than the storage scale — the usual cell — parse
    exactly in Polars; everything else (units in cells, exponents, more places, which need
    rounding, garbage and its reason) is left to `slow_number`. Full-width forms are folded and
    thousands separators removed (`separators`) only in columns that need it: the dearest step."""
    exp = _exponent(c.spec, c.unit)
    text = pl.col(f"{c.name}|t")
    cleaned = text
    grouped = pl.lit(True)
    if separators:  # and full-width forms folded (`parse_batch`), so such a column stays fast
        folded = pl.col(f"{c.name}|f")
        cleaned = folded.str.replace_all(",", "", literal=True)
        grouped = ~folded.str.contains(",", literal=True) | folded.str.contains(
            r"^[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?$"
        )
    if exp == 0:
        pattern = r"^[+-]?[0-9]{1,18}$"
        value = cleaned.cast(pl.Int64, strict=False)
    else:
        pattern = rf"^[+-]?(?:[0-9]{{1,{18 - exp}}}(?:\.[0-9]{{0,{exp}}})?|\.[0-9]{{1,{exp}}})$"
        value = (cleaned.cast(pl.Decimal(38, exp), strict=False) * 10**exp).cast(pl.Int64)
    fast = cleaned.str.contains(pattern) & grouped
    return [
        pl.when(fast).then(value).alias(f"{c.name}|v"),
        pl.lit(None, pl.Utf8).alias(f"{c.name}|r"),
        (~fast & (text != "")).alias(f"{c.name}|s"),
    ]


def _date(c: Column) -> list[pl.Expr]:
    text = pl.col(f"{c.name}|t")
    folded = text.str.replace_many(list(WIDTH_FOLDS), list(WIDTH_FOLDS.values()))
    if c.formats:
        value = parse_dates(folded, c.formats)
        hint = " or ".join(c.formats)
        message = pl.concat_str([pl.lit("not a date: '"), text, pl.lit(f"' (write {hint})")])
        return [
            value.alias(f"{c.name}|v"),
            pl.when(value.is_null() & (text != "")).then(message).alias(f"{c.name}|r"),
        ]
    parts = folded.str.extract_groups(_DATE)
    month = pl.coalesce(parts.struct.field("m"), parts.struct.field("m2")).str.pad_start(2, "0")
    day = pl.coalesce(parts.struct.field("d"), parts.struct.field("d2")).str.pad_start(2, "0")
    iso = pl.concat_str([parts.struct.field("y"), month, day], separator="-")
    value = iso.str.to_date("%Y-%m-%d", strict=False)
    message = pl.concat_str([pl.lit("not a date: '"), text, pl.lit("' (write YYYY-MM-DD)")])
    return [
        value.alias(f"{c.name}|v"),
        pl.when(value.is_null() & (text != "")).then(message).alias(f"{c.name}|r"),
    ]


def _code(c: Column) -> list[pl.Expr]:
    accepted = c.accepted or {}
    text = pl.col(f"{c.name}|t")
    value = text.str.to_lowercase().replace_strict(accepted, default=None, return_dtype=pl.Utf8)
    codes = sorted(set(accepted.values()))
    hint = f"': use one of {', '.join(codes)}" if codes else "' (none are registered)"
    message = pl.concat_str([pl.lit(f"unknown {c.spec.name} '"), text, pl.lit(hint)])
    return [
        value.alias(f"{c.name}|v"),
        pl.when(value.is_null() & (text != "")).then(message).alias(f"{c.name}|r"),
    ]


def _bool(c: Column) -> list[pl.Expr]:
    text = pl.col(f"{c.name}|t")
    lowered = text.str.to_lowercase()
    value = pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
    message = pl.concat_str([pl.lit("not a yes/no value: '"), text, pl.lit("'")])
    return [
        value.alias(f"{c.name}|v"),
        pl.when(value.is_null() & (text != "")).then(message).alias(f"{c.name}|r"),
    ]


def _text(c: Column) -> list[pl.Expr]:
    text = pl.col(f"{c.name}|t")
    return [
        pl.when(text != "").then(text).alias(f"{c.name}|v"),
        pl.lit(None, pl.Utf8).alias(f"{c.name}|r"),
    ]


def python_value(text: str, spec: FieldSpec) -> tuple[str | None, str | None]:
    """A list ("a;b") or a JSON document as JSON text; lists and JSON only occur in small kinds."""
    if not text:
        return None, None
    if spec.type is FieldType.LIST:
        items = [p.strip() for p in re.split(r"[;；、]", text)]
        return json.dumps([p for p in items if p], ensure_ascii=False), None
    try:
        document = json.loads(text)
        if spec.schema is not None:
            document = spec.schema.model_validate(document).model_dump(
                mode="json", exclude_defaults=True
            )
        return json.dumps(document, ensure_ascii=False, sort_keys=True), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at character {exc.pos}"
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return None, f"not a valid {spec.name}: {where + ': ' if where else ''}{first['msg']}"


def _final(c: Column) -> list[pl.Expr]:
    """The rules every field shares: required cells, lengths, signs, plausible years."""
    spec = c.spec
    text, value = pl.col(f"{c.name}|t"), pl.col(f"{c.name}|v")
    checks: list[pl.Expr] = [pl.col(f"{c.name}|r")]
    # the last guard against silent loss: a cell with text whose value is missing is refused
    lost = (text != "") & value.is_null()
    checks.append(pl.when(lost).then(pl.lit(f"not readable as {_NAMES[spec.type]}")))
    if spec.required:
        checks.append(pl.when(text == "").then(pl.lit("required value is missing")))
    if spec.max_length is not None and spec.type in (FieldType.TEXT, FieldType.CODE):
        too_long = text.str.len_chars() > spec.max_length
        checks.append(pl.when(too_long).then(pl.lit(f"longer than {spec.max_length} characters")))
    if spec.type in (FieldType.INT, FieldType.MONEY, FieldType.QUANTITY) and not spec.signed:
        checks.append(pl.when(value < 0).then(pl.lit("must not be negative")))
    if spec.type is FieldType.YEAR:
        out_of_range = (value < 1980) | (value > 2100)
        checks.append(pl.when(out_of_range).then(pl.lit("year must be 1980 to 2100")))
    reason = pl.coalesce(checks)
    final: pl.Expr = pl.when(reason.is_null()).then(value)
    if spec.empty is not None:
        final = pl.when(text == "").then(pl.lit(spec.empty)).otherwise(final)
    return [final.alias(c.name), reason.alias(f"{c.name}|reason")]


_NAMES = {
    FieldType.INT: "a whole number",
    FieldType.YEAR: "a year",
    FieldType.MONEY: "an amount",
    FieldType.QUANTITY: "a number",
    FieldType.DATE: "a date",
    FieldType.CODE: "a code",
    FieldType.BOOL: "a yes/no value",
    FieldType.TEXT: "text",
    FieldType.LIST: "a list",
    FieldType.JSON: "a JSON document",
}

_FIRST = {
    FieldType.DATE: _date,
    FieldType.CODE: _code,
    FieldType.BOOL: _bool,
    FieldType.TEXT: _text,
    FieldType.LIST: _text,
    FieldType.JSON: _text,
}


def _cell(c: Column) -> pl.Expr:
    """The cell as text, trimmed; then without the quote that neutralised a formula."""
    text = pl.col(c.name).fill_null("").str.strip_chars()
    return restore_expr(text) if c.quoted else text


def parse_batch(raw: pl.DataFrame, columns: Sequence[Column]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse the text columns of `raw`: typed values and reasons (both named by column)."""
    frame = raw.select(_cell(c).alias(f"{c.name}|t") for c in columns)
    frame = frame.with_columns(
        [
            e
            for c in columns
            for e in (_number(c) if c.spec.type in _NUMERIC else _FIRST[c.spec.type](c))
        ]
    )
    slow = [c for c in columns if c.spec.type in _NUMERIC and frame[f"{c.name}|s"].any()]
    if slow:  # formatted numbers (1,234.50, full-width): try again folded, without separators
        frame = frame.with_columns([_folded(frame, c) for c in slow])
        frame = frame.with_columns([e for c in slow for e in _number(c, separators=True)])
    updates = []
    for c in columns:
        if c in slow and frame[f"{c.name}|s"].any():
            updates.extend(_fix_numbers(frame, c))
        elif c.spec.type in (FieldType.LIST, FieldType.JSON):
            results = [python_value(t, c.spec) for t in frame[f"{c.name}|t"].to_list()]
            updates.append(pl.Series(f"{c.name}|v", [r[0] for r in results], dtype=pl.Utf8))
            updates.append(pl.Series(f"{c.name}|r", [r[1] for r in results], dtype=pl.Utf8))
    if updates:
        frame = frame.with_columns(updates)
    converted = [_converted(frame, c) for c in columns if c.rate is not None]
    if converted:
        frame = frame.with_columns(converted)
    final = frame.select([e for c in columns for e in _final(c)])
    values = final.select(c.name for c in columns)
    reasons = final.select(pl.col(f"{c.name}|reason").alias(c.name) for c in columns)
    return values, reasons


def _converted(frame: pl.DataFrame, c: Column) -> pl.Series:
    """Amounts of a column in another currency as fen of yuan, at the mapping's rate (half-up
    at the fen, in `Decimal`)."""
    assert c.rate is not None
    rate = c.rate
    one = Decimal(1)
    values = [
        None if v is None else int((v * rate).quantize(one, rounding=ROUND_HALF_UP))
        for v in frame[f"{c.name}|v"].to_list()
    ]
    return pl.Series(f"{c.name}|v", values, dtype=pl.Int64)


def _folded(frame: pl.DataFrame, c: Column) -> pl.Series:
    """The text of a column with its slow cells' full-width forms folded (`fold_width`, in
    Python: Polars' replace_many is slower for these 111 single characters)."""
    text = frame[f"{c.name}|t"]
    positions = frame[f"{c.name}|s"].arg_true()
    folded = [fold_width(cell) for cell in text.gather(positions).to_list()]
    return text.scatter(positions, pl.Series(folded, dtype=pl.Utf8)).alias(f"{c.name}|f")


def _fix_numbers(frame: pl.DataFrame, c: Column) -> list[pl.Series]:
    """Values and reasons of the cells the fast pattern left to `slow_number`."""
    positions = frame[f"{c.name}|s"].arg_true()
    cells = frame[f"{c.name}|t"].gather(positions).to_list()
    results = [slow_number(cell, c.spec, c.unit) for cell in cells]
    values = frame[f"{c.name}|v"].scatter(
        positions, pl.Series([r[0] for r in results], dtype=pl.Int64)
    )
    reasons = (
        frame[f"{c.name}|r"]
        .cast(pl.Utf8)
        .scatter(positions, pl.Series([r[1] for r in results], dtype=pl.Utf8))
    )
    return [values, reasons]
