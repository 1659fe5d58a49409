"""The rejects report: one CSV line per problem (row, column, value, reason), streamed to disk.

Written in UTF-8 with a BOM so that Excel shows the Chinese headers and reasons correctly; a cell
that a spreadsheet would run as a formula gets a quote first (`innofin.ingest.formulas`). The file
is only created when there is a problem to report, so a clean import leaves nothing behind.
A large report can be summarised by kind (`problem_kinds`, `write_kinds`: the reason with its
values left out, its count and first row), as bank returns do.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import IO, Any

import polars as pl

from innofin.ingest.formulas import neutralise, restore

HEADER = ("row", "column", "value", "reason")


def default_rejects_path(source: Path) -> Path:
    """``data/report.xlsx`` → ``data/report.rejects.csv``."""
    return source.with_name(f"{source.stem}.rejects.csv")


class RejectsWriter:
    """Appends problems batch by batch; `discard` removes a report left incomplete by a failure."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._fh: IO[str] | None = None
        self._writer: Any = None

    def add(self, problems: pl.DataFrame) -> None:
        if problems.height == 0:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._fh)
            self._writer.writerow(HEADER)
        for row in problems.select(*HEADER).iter_rows():  # the file's cells, as written
            self._writer.writerow([neutralise(v) if isinstance(v, str) else v for v in row])
        self.lines += problems.height

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        if self._writer is not None:
            self.path.unlink(missing_ok=True)
            self._writer = None


def summary_path(rejects: Path) -> Path:
    """``return.rejects.csv`` → ``return.rejects-by-kind.csv``: the problems grouped by kind."""
    return rejects.with_name(f"{rejects.stem}-by-kind.csv")


def write_kinds(path: Path, problems: list[tuple[int, str, str]]) -> None:
    """The rejects grouped by kind: one line per kind (column, reason without its values), its
    number of rows and its first row, most frequent first."""
    rows: dict[tuple[str, str], list[int]] = {}
    for row, column, reason in problems:
        rows.setdefault((column, _VALUES.sub("…", reason)), []).append(row)
    ordered = sorted(rows.items(), key=lambda item: (-len(set(item[1])), item[0]))
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(("rows", "column", "problem", "first_row"))
        for (column, kind), found in ordered:
            out.writerow((len(set(found)), column, kind, min(found)))


_VALUES = re.compile(r"'[^']*'|\d{4}-\d{2}-\d{2}|-?\d[\d,]*(?:\.\d+)?")


def problem_kinds(problems: list[tuple[int, str, str]]) -> list[str]:
    """The problems of an import grouped by kind, most frequent first: "412 rows: date:
    disbursement after the line's end: drawn_on … is after …". A kind is the column and the
    reason with its values (numbers, dates, quoted cells) left out."""
    rows: dict[str, set[int]] = {}
    for row, column, reason in problems:
        kind = f"{column}: {_VALUES.sub('…', reason)}" if column else _VALUES.sub("…", reason)
        rows.setdefault(kind, set()).add(row)
    ordered = sorted(rows.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        f"{len(found):,} row{'s' if len(found) != 1 else ''}: {kind} (first: row {min(found)})"
        for kind, found in ordered
    ]


def read_rejects(path: Path) -> list[dict[str, str]]:
    """The lines of a rejects report (for tests and tools), with the quotes that neutralise
    formulas removed."""
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        return [{k: restore(v) for k, v in line.items()} for line in csv.DictReader(fh)]
