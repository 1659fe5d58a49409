"""What every CLI sub-command shares: the engine, progress bars, amounts, errors → exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine

from innofin.db import make_engine
from innofin.kernel.progress import ProgressCallback
from innofin.kernel.settings import Settings

console = Console()
err_console = Console(stderr=True)


def engine(url: str | None = None) -> Engine:
    return make_engine(url or Settings.from_env().database_url)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[ProgressCallback]:
    """A Rich progress bar on stderr; yields the callback to advance it."""
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
