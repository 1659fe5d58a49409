"""A programme report as an XLSX workbook (openpyxl).

A summary sheet (the programme, the as-of time, the facts), then a sheet per chart (its series,
month by month) and per table. Each sheet: its title and the as-of time on rows 1–2, the header
on row 3, frozen, with an auto-filter over the rows. Every figure is a number cell with a number
format — amounts in the unit named in their header (万元 / 亿元, exact: 万元 carry six places so a
fen is kept), ratios as percentages, counts as whole numbers — so the sheet adds them up.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from innofin.kernel.money import AmountUnit
from innofin.monitoring.reports.model import (
    N_,
    Cell,
    Chart,
    Column,
    Kind,
    Report,
    Table,
    Words,
    amount_value,
    sheet_names,
)

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

FORMATS: Final = {
    Kind.AMOUNT: "#,##0.00",
    Kind.COUNT: "#,##0",
    Kind.RATIO: "0.00%",
    Kind.NUMBER: "#,##0.00",
    Kind.DATE: "yyyy-mm-dd",
}
HEADER_ROW: Final = 3
MONTH = N_("Month")
SUMMARY = N_("Summary")
AS_OF = N_("Figures as of %(as_of)s (ledger reading), month ends to %(period_end)s")
GENERATED = N_("Generated at %(moment)s")
FACT = N_("Figure")
VALUE = N_("Value")
UNIT = N_("Unit")


def _width(text: str) -> int:
    """Columns a text takes in a spreadsheet (a CJK character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _moment(value: dt.datetime) -> str:
    return (value.astimezone(dt.UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M UTC")


def _value(value: Cell, kind: Kind, unit: AmountUnit | None, words: Words) -> Cell:
    """What a cell holds: amounts as numbers in the column's unit, terms translated."""
    if kind is Kind.AMOUNT and isinstance(value, Decimal) and unit is not None:
        return amount_value(value, unit)
    return words.cell(value)


def _heading(ws: Worksheet, title: str, report: Report, words: Words) -> None:
    from openpyxl.styles import Font  # type: ignore[import-untyped]

    ws.cell(row=1, column=1, value=title).font = Font(bold=True, size=13)
    ws.cell(
        row=2,
        column=1,
        value=words(AS_OF, as_of=_moment(report.as_of), period_end=report.period_end.isoformat()),
    ).font = Font(italic=True, color="555555")


def _grid(
    ws: Worksheet,
    columns: Sequence[Column],
    units: Sequence[AmountUnit | None],
    rows: Sequence[Sequence[Cell]],
    words: Words,
) -> None:
    """The header on `HEADER_ROW`, the rows under it, frozen header, filter, widths."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    header_fill = PatternFill("solid", fgColor="DDE4EE")
    widths = []
    for j, (col, unit) in enumerate(zip(columns, units, strict=True), start=1):
        text = words.header(col, unit)
        cell = ws.cell(row=HEADER_ROW, column=j, value=text)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        widths.append(min(max(_width(text), 8), 40))
    for i, row in enumerate(rows, start=HEADER_ROW + 1):
        for j, (value, col, unit) in enumerate(zip(row, columns, units, strict=True), start=1):
            shown = _value(value, col.kind, unit, words)
            cell = ws.cell(row=i, column=j, value=shown)
            if col.kind in FORMATS and shown is not None and not isinstance(shown, str):
                cell.number_format = FORMATS[col.kind]
            elif isinstance(shown, str):
                widths[j - 1] = min(max(widths[j - 1], _width(shown) + 1), 50)
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(width + 2, 12)
    last = get_column_letter(len(columns))
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + max(len(rows), 1)}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1


def _chart_table(chart: Chart) -> tuple[list[Column], list[AmountUnit | None], list[list[Cell]]]:
    unit = chart.value_unit()
    columns = [Column(MONTH)] + [Column(line.name, Kind.AMOUNT, unit) for line in chart.lines]
    units: list[AmountUnit | None] = [None] + [unit] * len(chart.lines)
    rows: list[list[Cell]] = [
        [x, *(line.values[i] if i < len(line.values) else None for line in chart.lines)]
        for i, x in enumerate(chart.x)
    ]
    return columns, units, rows


def render_xlsx(report: Report, words: Words) -> bytes:
    """The report as an XLSX file's bytes."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font

    charts: list[Chart] = [c for s in report.sections for c in s.charts]
    tables: list[Table] = list(report.tables())
    names = sheet_names(
        [words(SUMMARY)]
        + [words.titled(c.title, None, c.args) for c in charts]
        + [words(t.title) for t in tables]
    )
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = names[0]
    ws.cell(
        row=1, column=1, value=f"{report.programme_name} ({report.programme_code})"
    ).font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=words(GENERATED, moment=_moment(report.generated_at)))
    fact_rows: list[list[Cell]] = []
    for fact in report.facts:
        unit = fact.value_unit()
        value = _value(fact.value, fact.kind, unit, words)
        fact_rows.append([words(fact.label), value, words.unit(unit) if unit else None])
    _grid(ws, [Column(FACT), Column(VALUE), Column(UNIT)], [None, None, None], fact_rows, words)
    for i, fact in enumerate(report.facts, start=HEADER_ROW + 1):  # each value its own format
        if fact.kind in FORMATS and not isinstance(ws.cell(row=i, column=2).value, str):
            ws.cell(row=i, column=2).number_format = FORMATS[fact.kind]
    ws.cell(
        row=HEADER_ROW + len(fact_rows) + 2,
        column=1,
        value=words(AS_OF, as_of=_moment(report.as_of), period_end=report.period_end.isoformat()),
    )
    for name, chart in zip(names[1 : 1 + len(charts)], charts, strict=True):
        sheet = wb.create_sheet(name)
        _heading(sheet, words.titled(chart.title, None, chart.args), report, words)
        columns, units, rows = _chart_table(chart)
        _grid(sheet, columns, units, rows, words)
    for name, table in zip(names[1 + len(charts) :], tables, strict=True):
        sheet = wb.create_sheet(name)
        _heading(sheet, words(table.title), report, words)
        _grid(sheet, table.columns, table.units(), table.rows, words)
        if table.note:
            sheet.cell(row=HEADER_ROW + len(table.rows) + 2, column=1, value=words(table.note))
    wb.properties.title = f"{report.programme_name} ({report.programme_code})"
    wb.properties.creator = "innofin"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
