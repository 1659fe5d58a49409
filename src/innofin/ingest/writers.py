"""Writing an export file: CSV (UTF-8 with BOM, so Excel reads Chinese) or XLSX, streamed.

The file is written next to its destination under a temporary name and renamed at the end, so a
failed export never leaves half a file where a good one is expected.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from innofin.ingest.errors import IngestError
from innofin.ingest.exporting import cell_value, text_value
from innofin.ingest.formulas import neutralise
from innofin.ingest.readers import XLSX_SUFFIXES
from innofin.kernel.progress import ProgressCallback

_TICK = 1_000


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: text that a spreadsheet would run as a formula gets a quote
    (`innofin.ingest.formulas`); numbers and dates are written as they are (``-2500.50``)."""
    text = text_value(value)
    if isinstance(value, int | float | Decimal | dt.date) and not isinstance(value, bool):
        return text
    return neutralise(text)


def _csv(path: Path, header: list[str], rows: Iterable[Sequence[Any]], tick: Any) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise(h) for h in header])
        for row in rows:
            writer.writerow([csv_cell(v) for v in row])
            count += 1
            tick(count)
    return count


def _xlsx(
    path: Path, title: str, header: list[str], rows: Iterable[Sequence[Any]], tick: Any
) -> int:
    return write_workbook(path, [(title, header, rows)], tick)


def write_workbook(
    path: Path,
    sheets: Sequence[tuple[str, list[str], Iterable[Sequence[Any]]]],
    tick: Any = None,
) -> int:
    """An XLSX file of several sheets (title, header, rows); text that starts with ``=`` stays
    text, never a formula. Returns the number of rows written."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    count = 0
    for title, header, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(header)
        for row in rows:
            cells: list[Any] = []
            for value in row:
                shown = cell_value(value)
                if isinstance(shown, str) and shown.startswith("="):
                    cell = WriteOnlyCell(sheet, value=shown)
                    cell.data_type = "s"  # text, not a formula
                    shown = cell
                cells.append(shown)
            sheet.append(cells)
            count += 1
            if tick is not None:
                tick(count)
    book.save(path)
    return count


def write_table(
    path: Path,
    title: str,
    header: list[str],
    rows: Iterable[Sequence[Any]],
    progress: ProgressCallback | None = None,
) -> int:
    """Write `header` and `rows` to `path` by its extension; returns the number of rows."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", *XLSX_SUFFIXES):
        raise IngestError(f"{path.name}: export writes .csv or .xlsx files", field="file")
    if not path.parent.is_dir():
        raise IngestError(f"{path.parent}: no such directory", field="file")

    def tick(done: int) -> None:
        if progress is not None and done % _TICK == 0:
            progress(_TICK)

    partial = path.with_name(f".{path.name}.partial{suffix}")
    try:
        if suffix == ".csv":
            count = _csv(partial, header, rows, tick)
        else:
            count = _xlsx(partial, title, header, rows, tick)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(count % _TICK)
    return count
