"""`innofin monitor …`: the monitoring group. Each part of the room adds its commands
(`funnel_commands`: funnel, scorecard)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Monitoring: balances, growth, targets, funnels, institution scorecards, scenarios.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    from innofin.monitoring import funnel_commands

    funnel_commands.add_to(app)
    root.add_typer(app, name="monitor")
