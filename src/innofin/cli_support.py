"""What every CLI sub-command shares: the engine, progress bars, amounts, errors → exit codes.

Start-up stays fast because this module, `cli.py` and every room's `commands.py` import only
Typer, Rich and `innofin.kernel` at module level; services, models, SQLAlchemy, Polars, HiGHS
and FastAPI are imported inside the command that needs them (a test keeps it so).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console

from innofin.kernel.progress import ProgressCallback

if TYPE_CHECKING:
    from sqlalchemy import Engine

console = Console()
err_console = Console(stderr=True)


def engine(url: str | None = None) -> Engine:
    from innofin.db import make_engine
    from innofin.kernel.settings import Settings

    return make_engine(url or Settings.from_env().database_url)


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
