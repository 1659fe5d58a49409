"""The programme report as values: facts, charts and tables, independent of any format.

`monitoring.report` builds a `Report` from the monitoring figures; the renderers
(`reports.xlsx`, `reports.pdf`, `reports.html`) turn one into a file, each in Chinese or English
through `Words` (the reports' gettext catalogue, `monitoring.reports.text`). The model holds
English message ids (`N_`) for every title, and `Msg` for a cell whose text is a term to
translate (a loan class, a product kind); any other text (a zone's or an institution's name)
is data and shown as it is.

Amounts are exact `Decimal` yuan. Each amount column, chart or fact shows them in one unit,
万元 or 亿元 (元 only for small figures), chosen from its values (`kernel.money.column_unit`)
and named in its header; ratios and growth are fractions (0.187 for +18.7 %).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

from innofin.kernel.catalogues import N_
from innofin.kernel.money import AmountUnit, amount_header, column_unit, unit_label

__all__ = [
    "N_",
    "Cell",
    "Chart",
    "Column",
    "Fact",
    "Kind",
    "Line",
    "Msg",
    "Report",
    "Section",
    "Table",
    "Words",
]


class Msg(str):
    """A cell's text that is a term of the reports' catalogue (an English message id),
    translated where shown; a plain `str` cell is data, shown as it is."""

    __slots__ = ()


Cell = str | int | Decimal | float | dt.date | None


class Kind(StrEnum):
    """How a column's (or a fact's) values read and print."""

    TEXT = "text"
    AMOUNT = "amount"  # Decimal yuan, shown in the column's unit
    COUNT = "count"  # a whole number
    RATIO = "ratio"  # a fraction, shown as a percentage (0.187 → 18.70 %)
    NUMBER = "number"  # any other measure
    DATE = "date"


@dataclass(frozen=True)
class Column:
    title: str  # an English message id
    kind: Kind = Kind.TEXT
    #: amounts: the unit the user asked for; None → chosen from the column's values
    unit: AmountUnit | None = None


@dataclass(frozen=True)
class Table:
    key: str  # a short stable name (an anchor, a sheet's order)
    title: str  # an English message id
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    #: what a reader must know (an English message id), e.g. why a cell is blank
    note: str | None = None

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.key}: a row has {len(row)} cells for {len(self.columns)} columns"
                )

    def units(self) -> tuple[AmountUnit | None, ...]:
        """Each column's unit: one per amount column (from its values), None for the others."""
        return tuple(
            column_unit(
                (r[i] for r in self.rows if isinstance(r[i], Decimal)),  # type: ignore[misc]
                col.unit,
            )
            if col.kind is Kind.AMOUNT
            else None
            for i, col in enumerate(self.columns)
        )


@dataclass(frozen=True)
class Line:
    """One series of a chart; ``band`` marks the lower and upper edges of an interval, which
    the renderers draw as a shaded band rather than as lines."""

    name: str  # an English message id
    values: tuple[Decimal | None, ...]
    style: str = "solid"  # solid | dashed | lower | upper | bar


@dataclass(frozen=True)
class Chart:
    key: str
    title: str  # an English message id
    x: tuple[str, ...]  # the categories (months as YYYY-MM, or names)
    lines: tuple[Line, ...]
    unit: AmountUnit | None = None  # None → chosen from the values
    #: values of the title's placeholders (data: a date, a name)
    args: tuple[tuple[str, str], ...] = ()

    def value_unit(self) -> AmountUnit:
        return column_unit((v for line in self.lines for v in line.values), self.unit)


@dataclass(frozen=True)
class Fact:
    label: str  # an English message id
    value: Cell
    kind: Kind = Kind.TEXT
    unit: AmountUnit | None = None

    def value_unit(self) -> AmountUnit | None:
        if self.kind is not Kind.AMOUNT:
            return None
        return column_unit([self.value] if isinstance(self.value, Decimal) else [], self.unit)


@dataclass(frozen=True)
class Section:
    key: str
    title: str  # an English message id
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    text: str | None = None  # an English message id


@dataclass(frozen=True)
class Report:
    """One programme's report: what it is of, when its figures were taken, and its sections."""

    programme_code: str
    programme_name: str
    #: the as-of time of the ledger reading (or snapshot) every figure comes from
    as_of: dt.datetime
    #: the last month end the figures reach
    period_end: dt.date
    generated_at: dt.datetime
    facts: tuple[Fact, ...] = ()
    sections: tuple[Section, ...] = ()

    def tables(self) -> Iterable[Table]:
        for section in self.sections:
            yield from section.tables


#: the report's languages (English is the message ids themselves)
LANGS: Final = ("zh", "en")


@dataclass(frozen=True)
class Words:
    """A report's language: translated texts, unit names and headers, numbers as text."""

    lang: str
    gettext: Callable[[str], str] = field(repr=False)

    def __call__(self, text: str, **values: object) -> str:
        out = self.gettext(text)
        return out % values if values else out

    def cell(self, value: Cell) -> Cell:
        """A cell with its term translated (data passes through)."""
        return self.gettext(value) if isinstance(value, Msg) else value

    def unit(self, unit: AmountUnit) -> str:
        return unit_label(unit, self.lang)

    def header(self, column: Column, unit: AmountUnit | None) -> str:
        title = self.gettext(column.title)
        if unit is not None:
            return amount_header(title, unit, self.lang)
        if column.kind is Kind.RATIO:
            return f"{title}（%）" if self.lang == "zh" else f"{title} (%)"
        return title

    def titled(
        self, title: str, unit: AmountUnit | None, args: tuple[tuple[str, str], ...] = ()
    ) -> str:
        """A chart's or a fact's title (its placeholders filled) with its unit."""
        text = self.gettext(title) % dict(args) if args else self.gettext(title)
        return amount_header(text, unit, self.lang) if unit is not None else text


def amount_value(amount: Decimal, unit: AmountUnit) -> Decimal:
    """`amount` (yuan) as a number in `unit`, exactly (万元 with six places for a fen)."""
    return amount / unit.factor


def percent_text(value: float | Decimal, places: int = 2) -> str:
    """A fraction as a percentage: 0.1870 → ``18.70%``."""
    return f"{Decimal(str(value)) * 100:,.{places}f}%"


def text_of(value: Cell, kind: Kind, unit: AmountUnit | None, words: Words) -> str:
    """A cell as printed in the PDF and the HTML tables (the XLSX keeps numbers)."""
    from innofin.kernel.money import amount_in, format_number

    if value is None:
        return ""
    if isinstance(value, Msg):
        return words.gettext(value)
    if kind is Kind.AMOUNT and isinstance(value, Decimal) and unit is not None:
        return amount_in(value, unit)
    if kind is Kind.RATIO and isinstance(value, Decimal | float | int):
        return percent_text(value)
    if kind is Kind.COUNT and isinstance(value, int | Decimal):
        return f"{int(value):,}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | float) or (isinstance(value, int) and kind is Kind.NUMBER):
        return format_number(value, 2)
    return str(value)


def sheet_names(titles: Sequence[str]) -> list[str]:
    """XLSX sheet names from titles: at most 31 characters, none of ``[]:*?/\\``, unique."""
    seen: set[str] = set()
    out = []
    for title in titles:
        base = "".join(" " if c in "[]:*?/\\" else c for c in title).strip()[:31] or "Sheet"
        name, n = base, 2
        while name.lower() in seen:
            suffix = f" ({n})"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        seen.add(name.lower())
        out.append(name)
    return out
