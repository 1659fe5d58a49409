"""`innofin event …`: matchmaking meetings (银企对接会) — create an event, add institutions with
their desks, register and validate enterprises, enter requests, plan and announce the
timetable (`scheduling/commands`, listed here), write agendas and lists, record outcomes,
report.

Exit codes: 0 done; 2 invalid input (an option named); 3 an event, participant or credit line
that does not exist; 4 a conflict (a code taken, booking closed, no schedule to announce).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from innofin.cli_support import console, table
from innofin.events.cli_options import cli_write
from innofin.events.scheduling import commands as scheduling_commands
from innofin.kernel.errors import InvalidInput
from innofin.ledger.cli_options import REASON, amount_arg, day_arg

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(
    help="Matchmaking meetings: events, registrations, requests, the timetable, agendas, "
    "outcomes and the event report.",
    no_args_is_help=True,
)

_SESSION = re.compile(r"([0-2][0-9]):([0-5][0-9])x([0-9]{1,2})(m2o([0-9]{1,2})?)?")
SESSION_HELP = (
    "A session as HH:MMxSLOTS, e.g. 09:00x8 (eight slots from 9:00); add m2o for a "
    "many-to-one session (several institutions meet one firm; m2o4: four at once, 3 by "
    "default). Repeat for several sessions."
)


def _sessions(texts: list[str]) -> list[dict[str, Any]]:
    out = []
    for text in texts:
        found = _SESSION.fullmatch(text.strip())
        if found is None or int(found[1]) > 23 or int(found[3]) < 1:
            raise InvalidInput(
                f"--session must look like 09:00x8 (start, slots), not {text!r}", field="session"
            )
        out.append(
            {
                "starts": f"{int(found[1]):02d}:{found[2]}",
                "slots": int(found[3]),
                "kind": "many_to_one" if found[4] else "one_to_one",
                "group_size": int(found[5]) if found[5] else None,
            }
        )
    return out


def _validated(model: Any, values: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).replace("_", "-") if first["loc"] else "input"
        raise InvalidInput(f"--{name}: {first['msg']}", field=name) from None


@app.command("create")
def create(
    code: str = typer.Argument(..., help="A short code for the event, e.g. JS-2026-07."),
    name: str = typer.Option(..., help="The event's name (Chinese)."),
    name_en: str | None = typer.Option(None, help="Its name in English."),
    on: str = typer.Option(..., "--on", help="The day of the event, YYYY-MM-DD."),
    venue: str = typer.Option(..., help="Where it is held."),
    session: list[str] = typer.Option(..., "--session", help=SESSION_HELP),
    slot_minutes: int = typer.Option(30, min=20, max=30, help="Minutes a meeting (20–30)."),
    booking_opens: str = typer.Option(..., help="First day of booking, YYYY-MM-DD."),
    booking_closes: str = typer.Option(..., help="Last day of booking, YYYY-MM-DD."),
    max_requests: int = typer.Option(8, min=1, max=100, help="Requests a participant may make."),
    zone: int | None = typer.Option(None, help="The zone organising it (a zone's event)."),
    province: str | None = typer.Option(None, help="The province organising it."),
    reason: str | None = REASON,
) -> None:
    """Create a matchmaking event with its sessions of slots."""
    from innofin.events import service
    from innofin.events.schemas import EventCreate

    body = _validated(
        EventCreate,
        {
            "code": code,
            "name": name,
            "name_en": name_en,
            "held_on": day_arg(on, "on").isoformat(),
            "venue": venue,
            "slot_minutes": slot_minutes,
            "booking_opens": day_arg(booking_opens, "booking-opens").isoformat(),
            "booking_closes": day_arg(booking_closes, "booking-closes").isoformat(),
            "max_requests": max_requests,
            "zone_id": zone,
            "province": province,
            "sessions": _sessions(session),
        },
    )
    event_id = cli_write(lambda s: service.create_event(s, service.OPERATOR, body).id, reason)
    console.print(f"created event {event_id} ({code})")


@app.command("list")
def list_events(limit: int = typer.Option(20, min=1, help="How many (latest first).")) -> None:
    """List events."""
    from innofin.events import service
    from innofin.events.models import Event

    def read(s: Session) -> list[tuple[object, ...]]:
        stmt = service.events_query(service.OPERATOR).order_by(Event.held_on.desc()).limit(limit)
        return [
            (e.id, e.code, e.name, e.held_on.isoformat(), e.venue, e.status)
            for e in s.scalars(stmt)
        ]

    rows = cli_write(read)
    console.print(table("Events 对接会", ("id", "code", "name", "day", "venue", "status"), rows))


@app.command("institution")
def institution(
    event_id: int = typer.Argument(..., help="The event."),
    institution_id: int = typer.Argument(..., help="The institution taking part."),
    desks: int = typer.Option(1, min=1, max=50, help="Its desks (meetings at once)."),
    max_meetings: int | None = typer.Option(None, min=0, help="At most this many meetings."),
    cancel: bool = typer.Option(False, help="Cancel its participation instead."),
    reason: str | None = REASON,
) -> None:
    """Add an institution to an event with its desks (or cancel its participation)."""
    from innofin.events import service

    def act(s: Session) -> str:
        if cancel:
            service.set_institution_status(
                s, service.OPERATOR, event_id, institution_id, "cancelled"
            )
            return f"cancelled institution {institution_id} at event {event_id}"
        service.add_institution(s, service.OPERATOR, event_id, institution_id, desks, max_meetings)
        return f"institution {institution_id} at event {event_id} with {desks} desk(s)"

    console.print(cli_write(act, reason))


@app.command("register")
def register_enterprises(
    event_id: int = typer.Argument(..., help="The event."),
    enterprise_id: list[int] = typer.Argument(..., help="The enterprise(s) to register."),
    status: str = typer.Option(
        "validated", help="validated (the organiser registers), rejected or cancelled."
    ),
    max_meetings: int | None = typer.Option(None, min=0, help="At most this many meetings."),
    reason: str | None = REASON,
) -> None:
    """Register enterprises for an event as the organiser (validated), or reject or cancel
    their registration."""
    from innofin.events import service

    if status not in ("validated", "rejected", "cancelled"):
        raise InvalidInput(
            f"--status is validated, rejected or cancelled, not {status!r}", field="status"
        )

    def act(s: Session) -> int:
        for firm in enterprise_id:
            if status == "validated":
                service.register_enterprise(s, service.OPERATOR, event_id, firm, max_meetings)
            else:
                service.set_enterprise_status(s, service.OPERATOR, event_id, firm, status)
        return len(enterprise_id)

    count = cli_write(act, reason)
    console.print(f"{count} enterprise(s) {status} at event {event_id}")


@app.command("request")
def request(
    event_id: int = typer.Argument(..., help="The event."),
    enterprise: int | None = typer.Option(
        None, help="The enterprise asking; --target names institutions."
    ),
    institution: int | None = typer.Option(
        None, help="The institution asking; --target names enterprises."
    ),
    target: list[int] = typer.Option(
        [], "--target", help="Whom it wants to meet, most wanted first (repeat)."
    ),
    reason: str | None = REASON,
) -> None:
    """Enter one participant's meeting requests, most wanted first (replacing its earlier
    ones; none given: its requests are cleared and matching's recommendations stand in)."""
    from innofin.events import requests, service

    if (enterprise is None) == (institution is None):
        raise InvalidInput("give --enterprise or --institution (one of them)", field="enterprise")
    side, party = (
        ("enterprise", enterprise) if enterprise is not None else ("institution", institution)
    )
    assert party is not None
    made = cli_write(
        lambda s: len(requests.set_preferences(s, service.OPERATOR, event_id, side, party, target)),
        reason,
    )
    console.print(f"{side} {party}: {made} request(s) at event {event_id}")


app.command("schedule")(scheduling_commands.schedule)
app.command("announce")(scheduling_commands.announce)


@app.command("agenda")
def agenda(
    event_id: int = typer.Argument(..., help="The event."),
    enterprise: int | None = typer.Option(None, help="The enterprise's agenda."),
    institution: int | None = typer.Option(None, help="The institution's agenda."),
    lang: str = typer.Option("zh", help="zh or en."),
    out: Path = typer.Option(Path("."), help="Folder for the .xlsx and .ics files."),
) -> None:
    """Write one participant's agenda as XLSX and iCalendar (.ics); print the paths."""
    from innofin.events import service

    if (enterprise is None) == (institution is None):
        raise InvalidInput("give --enterprise or --institution (one of them)", field="enterprise")
    party, party_id = (
        ("enterprise", enterprise) if enterprise is not None else ("institution", institution)
    )
    assert party_id is not None
    if lang not in ("zh", "en"):
        raise InvalidInput(f"--lang is zh or en, not {lang!r}", field="lang")
    paths = cli_write(
        lambda s: write_agenda(s, service.OPERATOR, event_id, party, party_id, lang, out)
    )
    for path in paths:
        console.print(str(path))


def write_agenda(
    s: Session, p: Any, event_id: int, party: str, party_id: int, lang: str, out: Path
) -> list[Path]:
    from innofin.events import agendas, service

    ag = agendas.agenda(s, p, event_id, party, party_id)
    ev = service.event(s, p, event_id)
    stem = f"agenda-{ev.code}-{party}-{party_id}-{lang}"
    xlsx, ics = _path(out, stem + ".xlsx"), _path(out, stem + ".ics")
    xlsx.write_bytes(agendas.agenda_xlsx(ag, lang))
    ics.write_bytes(agendas.agenda_ics(ag, ev, lang))
    return [xlsx, ics]


@app.command("timetable")
def timetable(
    event_id: int = typer.Argument(..., help="The event."),
    xlsx: Path | None = typer.Option(None, help="Also write it to this .xlsx file."),
    lang: str = typer.Option("zh", help="zh or en (the file's headers)."),
) -> None:
    """The master timetable of the announced schedule, per desk."""
    from innofin.events import agendas, service

    grid = cli_write(lambda s: agendas.master_timetable(s, service.OPERATOR, event_id))
    console.print(
        table(
            f"Master timetable 总日程 (schedule {grid['schedule_id']})",
            ("desk", "institution", *grid["slots"]),
            [(r["desk"], r["institution_name"], *r["cells"]) for r in grid["rows"]],
        )
    )
    if xlsx is not None:
        xlsx.write_bytes(agendas.master_xlsx(grid, lang))
        console.print(str(xlsx))


@app.command("badges")
def badges(
    event_id: int = typer.Argument(..., help="The event."),
    xlsx: Path | None = typer.Option(None, help="Also write it to this .xlsx file."),
    reminders: bool = typer.Option(
        False, help="Only the participants without a meeting (the reminders list)."
    ),
) -> None:
    """The name-badge list (or, with --reminders, who has no meeting yet)."""
    from innofin.events import agendas, service

    pick = agendas.reminders if reminders else agendas.participants
    rows = cli_write(lambda s: pick(s, service.OPERATOR, event_id))
    title = "Reminders 待提醒" if reminders else "Badges 胸牌"
    console.print(
        table(
            title,
            ("badge", "kind", "name", "meetings", "requests"),
            [(r["badge"], r["kind"], r["name"], r["meetings"], r["requests"]) for r in rows],
        )
    )
    if xlsx is not None:
        xlsx.write_bytes(agendas.list_xlsx(rows))
        console.print(str(xlsx))


@app.command("outcome")
def outcome(
    event_id: int = typer.Argument(..., help="The event."),
    enterprise: int = typer.Option(..., help="The enterprise met."),
    institution: int = typer.Option(..., help="The institution that met it."),
    kind: str = typer.Option(
        ..., "--outcome", help="follow_up, agreement, credit_line, no_interest or no_show."
    ),
    why: str | None = typer.Option(
        None,
        "--why",
        help="For no_interest: outside_fields, too_early, amount_mismatch, risk, terms, "
        "already_financed, other.",
    ),
    why_text: str | None = typer.Option(None, help="In words (needed for other)."),
    amount: str | None = typer.Option(None, help="The amount agreed, in yuan."),
    credit_line: int | None = typer.Option(None, help="The ledger's credit line, once granted."),
    note: str | None = typer.Option(None, help="A note."),
    reason: str | None = REASON,
) -> None:
    """Record what came of a meeting."""
    from innofin.events import outcomes, service
    from innofin.events.schemas import OutcomeIn

    body = _validated(
        OutcomeIn,
        {
            "enterprise_id": enterprise,
            "institution_id": institution,
            "outcome": kind,
            "reason_code": why,
            "reason_text": why_text,
            "amount": _amount(amount),
            "credit_line_id": credit_line,
            "note": note,
        },
    )
    cli_write(lambda s: outcomes.record_outcome(s, service.OPERATOR, event_id, body), reason)
    console.print(f"recorded {kind} for enterprise {enterprise} and institution {institution}")


@app.command("report")
def report(event_id: int = typer.Argument(..., help="The event.")) -> None:
    """The event's results by institution: meetings held, agreements, credit within 30/90
    days."""
    from innofin.events import outcomes

    rep = cli_write(lambda s: outcomes.event_report(s, event_id))
    console.print(
        table(
            f"Event {event_id} ({rep.held_on}) 对接会成效",
            (
                "institution",
                "scheduled",
                "held",
                "agreements",
                "no interest",
                "lines 30d",
                "credit 30d",
                "lines 90d",
                "credit 90d",
                "linked",
            ),
            [
                (
                    r.institution_name,
                    r.meetings_scheduled,
                    r.meetings_held,
                    r.agreements,
                    r.no_interest,
                    r.credit_lines_30d,
                    r.credit_30d,
                    r.credit_lines_90d,
                    r.credit_90d,
                    r.linked_credit_lines,
                )
                for r in rep.institutions
            ],
            money=("credit 30d", "credit 90d"),
        )
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="event")


def _amount(text: str | None) -> str | None:
    return None if text is None else str(amount_arg(text, "amount"))


def _path(out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    return out / name


def print_demo(eng: Any, out: Path) -> Path | None:
    """`make demo`'s matchmaking part: a meeting in the zone with most open needs — its
    institutions' desks, firms that asked and firms for whom the recommendations stand in —
    planned beside greedy, announced, and one firm's agenda written (XLSX and .ics)."""
    from innofin.cli_support import section
    from innofin.db.engine import unit_of_work
    from innofin.events import demo_event

    section("[bold]12. Matchmaking meeting (银企对接会): requests, the timetable, an agenda")
    with unit_of_work(eng, immediate=True) as s:
        made = demo_event.make(s)
        if made is None:
            console.print("  no zone has open financing needs: no meeting to plan")
            return None
        event_id, firm = made
        planned = demo_event.schedule(s, event_id)
        view = scheduling_commands.schedule_view(planned)
        firm = demo_event.busiest_firm(s, planned.id) or firm
        paths = write_agenda(s, demo_event.OP, event_id, "enterprise", firm, "zh", out)
        paths += write_agenda(s, demo_event.OP, event_id, "enterprise", firm, "en", out)
    scheduling_commands.print_schedule(view, unscheduled_shown=5)
    console.print(f"  agenda of enterprise {firm}: {paths[0]} (and .ics, zh and en)")
    return paths[0]
