"""`innofin match …`: the matching group. Each sub-room brings its commands — needs/ (`post`,
`needs`), recommend/ (`precheck`, `recommend`, `institution`, `backtest`), referrals/ (`refer`,
`respond`, `step`, `referrals`, `alternatives`, `overdue`, `funnel`), allocation/ (`allocate`,
`accept`) — and this module lists them in the group, and runs `make demo`'s matching part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from innofin.matching.allocation import commands as allocation_commands
from innofin.matching.needs import commands as need_commands
from innofin.matching.recommend import commands as recommend_commands
from innofin.matching.referrals import commands as referral_commands

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="Matching: financing needs, eligibility pre-checks, recommendations, back-test.",
    no_args_is_help=True,
)

app.command("post")(need_commands.post)
app.command("needs")(need_commands.needs)
app.command("precheck")(recommend_commands.precheck)
app.command("recommend")(recommend_commands.recommend)
app.command("institution")(recommend_commands.institution)
app.command("backtest")(recommend_commands.backtest)
app.command("refer")(referral_commands.refer)
app.command("respond")(referral_commands.respond)
app.command("step")(referral_commands.step)
app.command("referrals")(referral_commands.list_referrals)
app.command("alternatives")(referral_commands.alternatives)
app.command("overdue")(referral_commands.overdue)
app.command("allocate")(allocation_commands.allocate)
app.command("accept")(allocation_commands.accept)
app.command("funnel")(referral_commands.funnel)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="match")


def print_demo(eng: Engine, last_year: int) -> None:
    """`make demo`'s matching part: recommendations both ways and the back-test; a need referred,
    declined and re-matched; the special-credit allocation; the funnel."""
    recommend_commands.print_demo(eng, last_year)
    referral_commands.print_demo(eng)
    allocation_commands.print_demo(eng)
    referral_commands.print_demo_funnel(eng)
