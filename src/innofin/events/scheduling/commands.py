"""`innofin event schedule|announce`: plan an event's timetable (beside greedy; re-planning keeps
announced meetings) and announce a schedule.

Exit codes: 0 done; 2 invalid input; 3 an event or schedule that does not exist; 4 a conflict
(no schedule to announce).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from innofin.cli_support import console, table
from innofin.events.cli_options import cli_write
from innofin.ledger.cli_options import REASON

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def schedule(
    event_id: int = typer.Argument(..., help="The event."),
    time_limit: float = typer.Option(10.0, min=0.1, max=600, help="Seconds for the solver."),
    seed: int = typer.Option(0, min=0, help="The solver's random seed."),
    announce: bool = typer.Option(False, help="Announce the schedule at once."),
    reason: str | None = REASON,
) -> None:
    """Plan the timetable (re-plan it, keeping announced meetings, after late registrations or
    cancellations); show it beside the greedy schedule and what could not be placed."""
    from innofin.events import service
    from innofin.events.scheduling import service as scheduling

    def act(s: Session) -> dict[str, Any]:
        row = scheduling.plan(
            s, service.OPERATOR, event_id, time_limit_s=time_limit, seed=seed,
            announce_it=announce,
        )  # fmt: skip
        return schedule_view(row)

    view = cli_write(act, reason)
    print_schedule(view)


def schedule_view(row: Any) -> dict[str, Any]:
    return {
        name: getattr(row, name)
        for name in (
            "id", "event_id", "base_id", "solver", "solver_status", "objective", "bound", "gap",
            "meetings", "mutual_meetings", "greedy_objective", "greedy_meetings",
            "greedy_mutual_meetings", "requested_pairs", "moved", "dropped", "result", "seconds",
            "status",
        )
    }  # fmt: skip


def print_schedule(view: dict[str, Any], unscheduled_shown: int = 15) -> None:
    """A stored schedule: the solver's and greedy's figures, changes, what was left out."""
    gap = "" if view["gap"] is None else f"{view['gap']:.2%}"
    console.print(
        f"schedule {view['id']} of event {view['event_id']} ({view['status']}): "
        f"{view['solver']} — {view['solver_status']}, {view['seconds']:.1f} s"
    )
    console.print(
        table(
            "Timetable 对接日程",
            ("", "meetings", "mutual", "objective", "bound", "gap"),
            [
                (
                    "solver",
                    view["meetings"],
                    view["mutual_meetings"],
                    f"{view['objective']:.0f}",
                    f"{view['bound']:.0f}",
                    gap,
                ),
                (
                    "greedy",
                    view["greedy_meetings"],
                    view["greedy_mutual_meetings"],
                    f"{view['greedy_objective']:.0f}",
                    "",
                    "",
                ),
            ],
        )
    )
    result = view["result"]
    console.print(
        f"{view['requested_pairs']} requested pairs, {view['meetings']} placed; "
        f"stand-ins from recommendations: {result.get('stand_ins', {})}"
    )
    if view["base_id"] is not None:
        console.print(
            f"re-plans schedule {view['base_id']}: announced meetings {result.get('announced')}"
        )
    left = result.get("unscheduled", [])
    if left:
        console.print(
            table(
                f"Requests not placed 未能安排的意向 ({len(left)}; by reason {result['reasons']})",
                ("enterprise", "institution", "mutual", "weight", "reason"),
                [
                    (
                        x["enterprise_name"],
                        x["institution_name"],
                        "yes" if x["mutual"] else "",
                        x["weight"],
                        x["reason"],
                    )
                    for x in left[:unscheduled_shown]
                ],
            )
        )


def announce(
    event_id: int = typer.Argument(..., help="The event."),
    schedule_id: int = typer.Argument(..., help="The draft schedule to announce."),
    reason: str | None = REASON,
) -> None:
    """Announce a draft schedule: agendas show it from now on."""
    from innofin.events import service
    from innofin.events.scheduling import service as scheduling

    cli_write(lambda s: scheduling.announce(s, service.OPERATOR, event_id, schedule_id), reason)
    console.print(f"announced schedule {schedule_id} of event {event_id}")
