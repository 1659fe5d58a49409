"""Matchmaking meetings through the API: an agenda downloaded as .ics parses with the icalendar
library and as XLSX reads back, in both languages; a firm books, the organiser re-plans and the
announced meetings stay; a bank links its meeting's outcome to the ledger's credit line and the
event report counts it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlalchemy import Engine

from api_world import Api, World, build_world, make_api


@pytest.fixture
def world(sqlite_engine: Engine) -> Iterator[tuple[World, Api]]:
    w = build_world(sqlite_engine)
    yield w, make_api(sqlite_engine)


def test_agenda_downloads_parse_in_both_languages(world: tuple[World, Api]) -> None:
    w, api = world
    base = f"/api/v1/events/{w.ids['event']}/agenda?party=enterprise&party_id={w.ids['e1']}"
    shown = api.call("firm", "GET", base).json()
    assert len(shown["items"]) == 2
    for lang, word in (("zh", "对接"), ("en", "Meeting")):
        ics = api.call("firm", "GET", f"{base}&format=ics&lang={lang}")
        assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
        events = Calendar.from_ical(ics.content).walk("VEVENT")
        assert sorted(str(e.get("summary")) for e in events) == sorted(
            f"{'对接：' if lang == 'zh' else 'Meeting: '}{i['institution_name']}"
            for i in shown["items"]
        )
        assert all(str(e.get("summary")).startswith(word) for e in events)
        xlsx = api.call("firm", "GET", f"{base}&format=xlsx&lang={lang}")
        rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
        assert {r[3] for r in rows[2:]} == {i["institution_name"] for i in shown["items"]}


def test_a_replan_keeps_the_announced_meetings_and_outcomes_reach_the_report(
    world: tuple[World, Api],
) -> None:
    w, api = world
    event = f"/api/v1/events/{w.ids['event']}"
    before = api.call("admin", "GET", f"{event}/timetable").json()
    planned = api.call("province", "POST", f"{event}/schedules", json={"time_limit_s": 5})
    assert planned.status_code == 201, planned.text
    body = planned.json()
    assert body["base_id"] == w.ids["schedule"]
    assert body["result"]["announced"]["kept"] == body["meetings"] > 0
    assert body["greedy_meetings"] is not None and body["bound"] >= body["objective"]
    announced = api.call("province", "POST", f"{event}/schedules/{body['id']}/announce")
    assert announced.status_code == 200 and announced.json()["status"] == "announced"
    after = api.call("admin", "GET", f"{event}/timetable").json()
    assert after["rows"] == before["rows"]
    # bank A's line to e1 (approved in 2024) is the credit line of their meeting
    outcome = {
        "enterprise_id": w.ids["e1"],
        "institution_id": w.ids["a"],
        "outcome": "credit_line",
        "credit_line_id": w.ids["line_a"],
    }
    made = api.call("bank_a", "POST", f"{event}/outcomes", json=outcome)
    assert made.status_code == 200, made.text
    assert made.json()["credit_line_id"] == w.ids["line_a"]
    wrong = api.call(
        "bank_a", "POST", f"{event}/outcomes", json={**outcome, "credit_line_id": w.ids["line_b"]}
    )
    assert wrong.status_code == 404  # bank B's line is not bank A's to name
    report = api.call("bank_a", "GET", f"{event}/report").json()
    (row,) = report["institutions"]
    assert row["institution_id"] == w.ids["a"] and row["linked_credit_lines"] == 1
