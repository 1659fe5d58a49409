"""The rejects report: one CSV line per problem (row, column, value, reason), streamed to disk.

Written in UTF-8 with a BOM so that Excel shows the Chinese headers and reasons correctly; a cell
that a spreadsheet would run as a formula gets a quote first (`innofin.ingest.formulas`). The file
is only created when there is a problem to report, so a clean import leaves nothing behind.
"""

from __future__ import annotations

import csv
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


def read_rejects(path: Path) -> list[dict[str, str]]:
    """The lines of a rejects report (for tests and tools), with the quotes that neutralise
    formulas removed."""
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        return [{k: restore(v) for k, v in line.items()} for line in csv.DictReader(fh)]
