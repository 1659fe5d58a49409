"""What can go wrong with a file as a whole.

Each of these is an `InvalidInput` (exit code 2) whose message is one line naming the file and,
where it helps, the row and column, so the CLI can print it without a traceback. Problems with
single rows are not exceptions: they go to the rejects report (see `validate`).
"""

from __future__ import annotations

from pathlib import Path

from innofin.kernel.errors import InvalidInput


class IngestError(InvalidInput):
    """A file that cannot be imported as a whole."""


class EmptyFile(IngestError):
    """No header row, or a header and no data rows."""


class MissingColumn(IngestError):
    """A required column is not in the file (under any name the mapping gives it)."""


class UnknownColumn(IngestError):
    """A strict mapping met a header it does not know (a typo, or the wrong kind of file)."""


class CorruptFile(IngestError):
    """A damaged or truncated file: a broken XLSX archive, a CSV with NUL bytes."""


class WrongEncoding(IngestError):
    """The bytes do not decode with the encoding given (or detected)."""


class UnitMismatch(IngestError):
    """A header states a unit that contradicts the unit the mapping reads the column in."""


class MappingError(IngestError):
    """A mapping file that is unreadable or does not fit the kind of data being imported."""


class RejectedRows(IngestError):
    """Rows failed validation, so (by default) nothing was written: see the rejects report."""

    def __init__(self, message: str, *, rejected: int, rejects_path: Path, rows: int = 0) -> None:
        super().__init__(message)
        self.rejected = rejected
        self.rejects_path = rejects_path
        #: data rows read (0 where not counted)
        self.rows = rows
