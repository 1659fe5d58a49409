"""The import pipeline: one file read, checked and handed on in batches, in one transaction.

Every import runs through `run_pipeline`: the file is inspected (format, encoding, SHA-256), its
header bound to the mapping, and each batch checked (`BatchValidator`: cells, references, the
kind's rules, duplicate keys) before a *row handler* takes the good rows. The registry's kinds
upsert them (`innofin.ingest.service`); bank returns apply them through the ledger's rules
(`innofin.ledger.returns`). Problems the checks and the handler find go to one rejects report
(row, column, value, reason), and a progress callback hears of every batch.

All or nothing: when a row is rejected and `skip_invalid` is off, `run_pipeline` raises
`RejectedRows` once every batch has been read (so the report names every bad row), and the
handler's transaction rolls back; with `skip_invalid` the good rows are kept. A file with no data
rows, or any other failure, rolls back and leaves no report behind.

A check (`check_only`) is the same run, writes and all — so the database's own refusals are
found too — ending in a rollback instead of a commit: what the import would do and every row it
would reject, with nothing kept (`RowHandler.finish` is not called).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl
from sqlalchemy import Connection, Engine

from innofin.ingest import lookups
from innofin.ingest.errors import EmptyFile, RejectedRows
from innofin.ingest.formulas import restore
from innofin.ingest.mapping import Binding, Mapping, bind
from innofin.ingest.readers import FileInfo, inspect, open_table
from innofin.ingest.rejects import (
    RejectsWriter,
    default_rejects_path,
    problem_kinds,
    summary_path,
    write_kinds,
)
from innofin.ingest.tables import RawBatch
from innofin.ingest.validate import BatchValidator, Checked
from innofin.kernel.progress import ProgressCallback


@dataclass(frozen=True)
class BoundFile:
    """A file whose header is bound to its mapping, inside the import's transaction."""

    path: Path
    info: FileInfo
    binding: Binding
    conn: Connection


@dataclass(frozen=True)
class PipelineOutcome:
    """What `run_pipeline` read: rows, rejected rows, and where the rejects report is (if any)."""

    path: Path
    encoding: str | None  # of a CSV file
    sha256: str
    rows: int
    rejected: int
    rejects_path: Path | None
    #: with `by_kind`: the problems grouped by kind, with counts (`rejects.problem_kinds`)
    problem_kinds: list[str] = field(default_factory=list)


@contextmanager
def _connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


class RowHandler(Protocol):
    """What an import does with the rows that passed the checks (subclass it to inherit the
    defaults: a Core connection's transaction, nothing to start or finish)."""

    def begin(self, engine: Engine) -> AbstractContextManager[Connection]:
        """The import's one transaction: committed when `run_pipeline` returns, rolled back when
        it raises."""
        return _connection(engine)

    def start(self, file: BoundFile) -> None:
        """Called once the header is bound, before the first batch."""

    def take(self, batch: RawBatch, checked: Checked, doomed: bool) -> pl.DataFrame | None:
        """Write or apply `checked.good`; the problems found doing so (rows of
        `validate.PROBLEM_SCHEMA`, merged into the batch's), or None. `doomed`: rows are already
        rejected and `skip_invalid` is off, so the transaction will roll back."""
        ...

    def finish(self, file: BoundFile, rows: int, rejected: int) -> None:
        """The import is kept (no rejected rows, or `skip_invalid`): record it."""


class _CheckOnly(Exception):
    """Raised at the end of a check to roll its transaction back."""


def run_pipeline(
    engine: Engine,
    path: Path,
    mapping: Mapping,
    handler: RowHandler,
    *,
    encoding: str | None = None,
    skip_invalid: bool = False,
    check_only: bool = False,
    ignore_extra: bool = False,
    rejects: Path | None = None,
    progress: ProgressCallback | None = None,
    csv_quotes: bool = True,
    by_kind: bool = False,
    verb: str = "imported",
) -> PipelineOutcome:
    """Read `path` with `mapping` and hand its checked batches to `handler` (module docstring).

    `csv_quotes`: a CSV's text cells and headers may carry the quote innofin's exports put before
    text a spreadsheet would run as a formula (`formulas`), removed on reading. `by_kind`: the
    problems are also grouped by kind, beside the report (`rejects.summary_path`) and in the
    message of `RejectedRows`. `verb` says in that message what did not happen ("nothing
    imported"). `check_only`: roll back at the end (module docstring). Raises `RejectedRows`
    (after writing the report), `EmptyFile`, and the other `IngestError`s of files that cannot
    be read.
    """
    path = Path(path)
    info = inspect(path, encoding or mapping.encoding)
    report = RejectsWriter(Path(rejects) if rejects else default_rejects_path(path))
    rows = rejected = 0
    kinds: list[tuple[int, str, str]] = []
    try:
        with handler.begin(engine) as conn:
            with open_table(info, sheet=mapping.sheet, header_row=mapping.header_row) as table:
                # extension indicators: their units, so that a header's unit can be checked
                units = lookups.extension_units(conn) if mapping.kind == "indicators" else {}
                quoted = csv_quotes and info.format == "csv"
                header = [restore(h) for h in table.header] if quoted else table.header
                binding = bind(mapping, header, path.name, units, ignore_extra=ignore_extra)
                file = BoundFile(path, info, binding, conn)
                handler.start(file)
                validator = BatchValidator(conn, binding, quoted_text=quoted)
                for batch in table.batches():
                    checked = validator.check(batch)
                    doomed = not skip_invalid and rejected + checked.rejected > 0
                    found = handler.take(batch, checked, doomed)
                    problems, bad = checked.problems, checked.rejected
                    if found is not None:
                        problems = pl.concat([problems, found]).sort("row", "order")
                        bad = problems["row"].n_unique()
                    report.add(problems)
                    if by_kind:
                        kinds.extend(problems.select("row", "column", "reason").iter_rows())
                    rows, rejected = rows + checked.rows, rejected + bad
                    if progress is not None:
                        progress(checked.rows)
            if rows == 0:
                raise EmptyFile(f"{path.name} has a header but no data rows")
            if kinds:
                write_kinds(summary_path(report.path), kinds)
            if rejected and not skip_invalid:
                report.close()
                message = _refusal(path, rows, rejected, report.path, verb, kinds)
                raise RejectedRows(message, rejected=rejected, rejects_path=report.path, rows=rows)
            if check_only:
                raise _CheckOnly  # out of the handler's transaction: rolled back
            handler.finish(file, rows, rejected)
    except RejectedRows:
        raise
    except _CheckOnly:
        pass
    except BaseException:
        report.discard()
        if by_kind:
            summary_path(report.path).unlink(missing_ok=True)
        raise
    finally:
        report.close()
    return PipelineOutcome(
        path,
        info.encoding,
        info.sha256,
        rows,
        rejected,
        report.path if report.lines else None,
        problem_kinds(kinds) if by_kind else [],
    )


def _refusal(
    path: Path, rows: int, rejected: int, report: Path, verb: str, kinds: list[tuple[int, str, str]]
) -> str:
    message = f"{path.name}: {rejected:,} of {rows:,} rows rejected, nothing {verb}; see {report}"
    if not kinds:
        return message
    return f"{message} (by kind: {summary_path(report).name})\n" + "\n".join(
        f"  {line}" for line in problem_kinds(kinds)
    )
