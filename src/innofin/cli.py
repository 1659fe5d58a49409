"""The `innofin` command: one sub-command group per capability.

Exit codes: 0 success; 1 unexpected failure; 2 invalid input or usage; 3 not found; 4 conflict;
5 not allowed. No mistake of a user's prints a traceback: innofin's own errors print their
message, and anything else a one-line summary (INNOFIN_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from innofin import __version__
from innofin.access import commands as access_commands
from innofin.audit import commands as audit_commands
from innofin.cli_support import err_console
from innofin.db import commands as db_commands
from innofin.demo import commands as demo_commands
from innofin.events import commands as event_commands
from innofin.ingest import commands as ingest_commands
from innofin.kernel.errors import InnofinError
from innofin.ledger import commands as ledger_commands
from innofin.matching import commands as matching_commands
from innofin.monitoring import commands as monitoring_commands
from innofin.registry import commands as registry_commands
from innofin.scoring import commands as scoring_commands
from innofin.server import commands as api_commands

#: set to 1 to see the traceback of an unexpected error
DEBUG_ENV = "INNOFIN_DEBUG"


def _error(message: str) -> None:
    # soft_wrap: the message stays on one line however narrow the terminal (or a pipe) is
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def explain_failure(exc: Exception) -> tuple[str, int]:
    """The message and exit code for an error that escaped a command."""
    if isinstance(exc, InnofinError):
        return str(exc), exc.exit_code
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or type(exc).__name__
        return f"{exc.filename}: {reason}", 2
    if type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
        original = getattr(exc, "orig", None) or exc
        first = str(original).strip().splitlines()[0] if str(original).strip() else ""
        return (
            f"the database refused or could not be reached: {type(original).__name__}: {first} "
            f"(set {DEBUG_ENV}=1 to see the traceback)",
            1,
        )
    return (
        f"unexpected {type(exc).__name__}: {exc} (a fault of innofin's; set {DEBUG_ENV}=1 to "
        "see the traceback and report it)",
        1,
    )


class InnofinGroup(TyperGroup):
    """The root group: turns any error a command lets escape into a message and an exit code,
    however the command runs (the console script, `python -m innofin`, Typer's test runner)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # usage errors, --help, explicit exits: Typer reports them
        except Exception as exc:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0") and not isinstance(exc, InnofinError):
                raise
            message, code = explain_failure(exc)
            _error(message)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=InnofinGroup,
    help="innofin — sci-tech finance programmes: registry, points, matching, ledger, monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """innofin — sci-tech finance programmes: registry, points, matching, ledger, monitoring."""


for _capability in (
    db_commands,
    registry_commands,
    demo_commands,
    ingest_commands,
    access_commands,
    audit_commands,
    scoring_commands,
    ledger_commands,
    matching_commands,
    event_commands,
    monitoring_commands,
    api_commands,
):
    _capability.register(app)


def main() -> None:
    try:
        app()
    except InnofinError as exc:  # raised while reading the options, before any command runs
        _error(str(exc))
        raise SystemExit(exc.exit_code) from None
