"""`innofin monitor …`: the monitoring group. Each part of the room adds its commands
(`cube.commands`: slice, cube, growth, quota, coverage, targets, backtest, snapshot;
`funnel.commands`: funnel, scorecard; `scenarios.commands`: scenario run|show|list);
`innofin report …` is the reports' group (`reports.commands`)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Monitoring: balances, growth, targets, funnels, institution scorecards, scenarios.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    from innofin.monitoring.cube import commands as cube_commands
    from innofin.monitoring.funnel import commands as funnel_commands
    from innofin.monitoring.reports import commands as report_commands
    from innofin.monitoring.scenarios import commands as scenario_commands

    cube_commands.add_to(app)
    funnel_commands.add_to(app)
    scenario_commands.add_to(app)
    root.add_typer(app, name="monitor")
    report_commands.add_to(root)
