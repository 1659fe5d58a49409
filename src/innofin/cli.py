"""The `innofin` command: one sub-command group per capability.

Exit codes: 0 success; 1 unexpected failure; 2 invalid input or usage; 3 not found; 4 conflict.
"""

from __future__ import annotations

import sys

import typer

from innofin import __version__
from innofin.access import commands as access_commands
from innofin.api import commands as api_commands
from innofin.audit import commands as audit_commands
from innofin.cli_support import err_console
from innofin.db import commands as db_commands
from innofin.demo import commands as demo_commands
from innofin.ingest import commands as ingest_commands
from innofin.kernel.errors import InnofinError
from innofin.ledger import commands as ledger_commands
from innofin.registry import commands as registry_commands
from innofin.scoring import commands as scoring_commands

app = typer.Typer(
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
    api_commands,
):
    _capability.register(app)


def main() -> None:
    try:
        app()
    except InnofinError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
