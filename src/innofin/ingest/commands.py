"""`innofin import` and `innofin export`: parse the command line, call the service, report.

The commands turn innofin's errors into their exit codes themselves (after closing the progress
bar), so the codes hold however the commands are run, including under Typer's test runner.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from innofin.cli_support import console, engine, err_console, progress_bar
from innofin.kernel.errors import InnofinError
from innofin.kernel.progress import ProgressCallback

if TYPE_CHECKING:
    from sqlalchemy import Engine

_PREVIEW = 10


class ExportKind(StrEnum):
    """What `innofin export` writes: the registry's kinds, and the ledger's loans and lines."""

    ZONES = "zones"
    ZONE_STATS = "zone-stats"
    ENTERPRISES = "enterprises"
    CERTIFICATIONS = "certifications"
    INDICATORS = "indicators"
    INSTITUTIONS = "institutions"
    PRODUCTS = "products"
    LOANS = "loans"
    CREDIT_LINES = "credit-lines"


#: the ledger's kinds: exported here, read in by `innofin ledger import` (bank returns)
_LEDGER_KINDS = (ExportKind.LOANS, ExportKind.CREDIT_LINES)

if TYPE_CHECKING:
    Kind = ExportKind
else:
    #: what `innofin import` reads: the same list without the ledger's kinds (one list, so that a
    #: registry kind is never importable but not exportable, or the other way round)
    Kind = StrEnum("Kind", [(k.name, k.value) for k in ExportKind if k not in _LEDGER_KINDS])


#: how many rows a kind has, and the export of them to a file (returning the rows written)
Count = Callable[["Engine", str], int]
Write = Callable[["Engine", str, Path, ProgressCallback | None], int]
#: the exporters of the kinds other rooms hold (the ledger's loans and lines), added by their
#: commands' `register` as the CLI is assembled: ingest does not import the rooms above it
_EXPORTERS: dict[str, tuple[Count, Write]] = {}


def register_exporter(kind: ExportKind, count: Count, write: Write) -> None:
    """Let `innofin export KIND` write a kind another room holds."""
    _EXPORTERS[kind.value] = (count, write)


def _fail(exc: InnofinError) -> typer.Exit:
    # soft_wrap: the message stays on one line however narrow the terminal (or a pipe) is
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _preview(path: Path) -> None:
    """The first problems of a rejects report, so the user sees the kind of fault at once."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(itertools.islice(csv.DictReader(fh), _PREVIEW))
    for line in lines:
        err_console.print(
            f"  row {line['row']}, {line['column'] or 'row'} {line['value']!r}: {line['reason']}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def import_(
    kind: Kind = typer.Argument(..., metavar="KIND", help="What the file holds."),
    file: Path = typer.Argument(
        ..., metavar="FILE", help="A CSV (UTF-8 or GBK/GB18030) or XLSX file."
    ),
    mapping: Path | None = typer.Option(
        None,
        "--mapping",
        help="YAML mapping of the file's headers to fields and units, or the name of a "
        "shipped one: indicators-zh, enterprises-zh (default: innofin's own export format).",
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="CSV encoding, e.g. utf-8 or gb18030 (default: detected)."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows and report the others."
    ),
    ignore_extra: bool = typer.Option(
        False, "--ignore-extra", help="Leave out columns the mapping does not know."
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Where to write the rejects report (default: FILE.rejects.csv)."
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Run the whole import and roll it back: report what it would import and every "
        "row it would reject, write nothing to the database (the rejects report is written).",
    ),
) -> None:
    """Import FILE as KIND: all rows or none (unless --skip-invalid); re-importing updates.

    Exit codes: 0 when the file is imported (with --check: the file is valid and would import
    the rows it counts); 2 when rows are rejected (nothing imported; every bad row is in the
    rejects report, the first ones printed) or the file cannot be read; any other code means
    the import did not run (the database, say).
    """
    from innofin.audit.recorder import Actor
    from innofin.ingest import service
    from innofin.ingest.errors import RejectedRows
    from innofin.ingest.readers import count_rows

    doing = "checking" if check else "importing"
    try:
        with progress_bar(f"{doing} {file.name}", count_rows(file)) as advance:
            result = service.import_file(
                engine(),
                kind.value,
                file,
                mapping=mapping,
                encoding=encoding,
                skip_invalid=skip_invalid,
                check_only=check,
                ignore_extra=ignore_extra,
                rejects=rejects,
                progress=advance,
                actor=Actor.cli(),
            )
    except RejectedRows as exc:
        _preview(exc.rejects_path)
        raise _fail(exc) from None
    except InnofinError as exc:
        raise _fail(exc) from None
    if check:
        console.print(
            f"checked {file.name}: {result.written:,} {kind.value} rows would be imported "
            f"({result.seconds:.1f} s); nothing was written"
        )
    else:
        console.print(
            f"imported {result.written:,} {kind.value} rows from {file.name} "
            f"(data source {result.source_id}) in {result.seconds:.1f} s"
        )
    if result.rejected:
        would = " would be" if check else ""
        err_console.print(
            f"[yellow]{result.rejected:,} rows{would} rejected[/] (see {result.rejects_path})",
            highlight=False,
            soft_wrap=True,
        )


def export(
    kind: ExportKind = typer.Argument(..., metavar="KIND", help="What to export."),
    file: Path = typer.Argument(
        ..., metavar="FILE", help="The file to write: .csv (UTF-8 with BOM) or .xlsx."
    ),
) -> None:
    """Export every KIND record to FILE: the registry's kinds in innofin's own format
    (re-importable as is); loans and credit-lines with their balances, the bank's numbers and
    the borrower's identifier."""
    try:
        eng = engine()
        if kind.value in _EXPORTERS:
            count, write = _EXPORTERS[kind.value]
            with progress_bar(f"exporting {kind.value}", count(eng, kind.value)) as tick:
                rows = write(eng, kind.value, file, tick)
        else:
            from innofin.ingest import service

            with progress_bar(
                f"exporting {kind.value}", service.export_count(eng, kind.value)
            ) as tick:
                rows = service.export_file(eng, kind.value, file, progress=tick).rows
    except InnofinError as exc:
        raise _fail(exc) from None
    console.print(f"exported {rows:,} {kind.value} rows to {file}")


def register(root: typer.Typer) -> None:
    """Add `import` and `export` to the root command."""
    root.command("import")(import_)
    root.command("export")(export)
