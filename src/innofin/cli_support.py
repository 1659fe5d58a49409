"""What every CLI sub-command shares: the engine, progress bars, amounts, errors → exit codes.

Start-up stays fast because this module, `cli.py` and every room's `commands.py` import only
Typer, Rich and `innofin.kernel` at module level; services, models, SQLAlchemy, Polars, HiGHS
and FastAPI are imported inside the command that needs them (a test keeps it so).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from innofin.kernel.money import AmountUnit, amount_header, amount_in, column_unit
from innofin.kernel.progress import ProgressCallback

if TYPE_CHECKING:
    from sqlalchemy import Engine

#: the width of output to a file or a pipe: wide enough that no line or table is wrapped (a
#: terminal's own width applies on a terminal, and COLUMNS wherever it is set)
UNWRAPPED = 1000


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not (hasattr(stream, "isatty") and stream.isatty())
    width = UNWRAPPED if piped and not os.environ.get("COLUMNS", "").isdigit() else None
    return Console(stderr=stderr, width=width)


console = _console(stderr=False)
err_console = _console(stderr=True)


def section(title: str) -> None:
    """A titled rule between the parts of a long output (at most 100 columns wide)."""
    from rich.rule import Rule

    console.print(Rule(title), width=min(console.width, 100))


def engine(url: str | None = None) -> Engine:
    """The database of INNOFIN_DATABASE_URL, for every command that reads or changes one.

    Its schema must be the latest migration: otherwise the command stops (exit 2) with
    "run `innofin db upgrade`", and nothing is created — not even an empty SQLite file.
    """
    from innofin.db import migrate
    from innofin.db.engine import database_url, make_engine, sqlite_file
    from innofin.kernel.errors import NotMigrated
    from innofin.kernel.settings import Settings

    url = url or Settings.from_env().database_url
    parsed = database_url(url)
    path = sqlite_file(parsed)
    if path is not None and not path.is_file():
        _directory_exists(path)
        raise NotMigrated(
            f"there is no database at {path}: run `innofin db upgrade` first "
            "(or `innofin demo run` for a demo database), or set INNOFIN_DATABASE_URL",
            field="INNOFIN_DATABASE_URL",
        )
    eng = make_engine(url)
    try:
        migrate.require_latest(eng)
    except BaseException:
        eng.dispose()
        raise
    return eng


def setup_engine(url: str | None = None) -> Engine:
    """The database of INNOFIN_DATABASE_URL for the commands that set one up (`db upgrade`,
    `demo`, `serve`): a new SQLite file may be created, in a directory that exists."""
    from innofin.db.engine import database_url, make_engine, sqlite_file
    from innofin.kernel.settings import Settings

    url = url or Settings.from_env().database_url
    path = sqlite_file(database_url(url))
    if path is not None:
        _directory_exists(path)
    return make_engine(url)


def _directory_exists(path: Path) -> None:
    from innofin.kernel.errors import InvalidInput

    folder = path.absolute().parent
    if not folder.is_dir():
        raise InvalidInput(
            f"the folder {folder} of the database {path} does not exist: create it, or set "
            "INNOFIN_DATABASE_URL to a database in a folder that does",
            field="INNOFIN_DATABASE_URL",
        )


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr; yields the callback to advance it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


UNIT = typer.Option(
    None,
    "--unit",
    help="Show every amount column in 元, 万元 or 亿元 (default: one unit for each column, "
    "chosen for its amounts).",
)


def table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    money: Collection[str] = (),
    unit: AmountUnit | None = None,
    lang: str = "zh",
) -> Table:
    """A Rich table; each column named in `money` holds Decimal yuan (or None) and is shown in
    one unit (`unit`, else `column_unit`'s choice), named in its header, never beside each
    amount — so the amounts of a column can be compared at a glance."""
    units = {
        i: column_unit((_yuan(row[i]) for row in rows), unit)
        for i, name in enumerate(columns)
        if name in money
    }
    out = Table(title=title)
    for i, name in enumerate(columns):
        if i in units:
            out.add_column(amount_header(name, units[i], lang), justify="right")
        else:
            out.add_column(name)
    for row in rows:
        out.add_row(
            *(
                amount_in(_yuan(v), units[i]) if i in units else ("" if v is None else str(v))
                for i, v in enumerate(row)
            )
        )
    return out


def _yuan(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    raise TypeError(f"an amount column holds Decimal yuan, not {type(value).__name__}")
