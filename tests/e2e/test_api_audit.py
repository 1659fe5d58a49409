"""The audit trail: every write through the API or the CLI leaves who, when, what and why —
and the trail itself cannot be changed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from test_api_matrix import OK, WRITES, Case

from api_world import Api, World, build_world, make_api
from innofin.audit.models import AuditEvent
from innofin.db import unit_of_work
from innofin.db.engine import make_engine
from innofin.db.migrate import upgrade


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


def _api_events(engine: Engine) -> list[AuditEvent]:
    with unit_of_work(engine) as s:
        return list(
            s.scalars(select(AuditEvent).where(AuditEvent.channel == "api").order_by(AuditEvent.id))
        )


def _first_allowed(case: Case) -> str | None:
    return next((who for who, outcome in case.expect.items() if outcome == OK), None)


# Some matrix cases are refusals for every caller (a line naming another programme's pool): they
# write nothing. Every write endpoint still has at least one case some caller may make.
ALLOWED_WRITES = [case for case in WRITES if _first_allowed(case) is not None]


def test_every_write_endpoint_has_an_allowed_case() -> None:
    endpoints = {(case.method, case.template) for case in WRITES}
    assert endpoints == {(case.method, case.template) for case in ALLOWED_WRITES}


def test_every_write_endpoint_is_audited_with_actor_and_reason(
    setup: tuple[World, Api], engine: Engine
) -> None:
    w, api = setup
    reason = "年度核查 / annual check"
    for case in ALLOWED_WRITES:
        who = _first_allowed(case)
        assert who is not None
        api.headers(who)  # sign in first: the login has its own audit row
        seen = len(_api_events(engine))
        kwargs = {}
        if case.body is not None:
            kwargs["json"] = case.body(w, who)
        if case.files is not None:
            kwargs["files"] = case.files(w, who)
        response = api.call(
            who,
            case.method,
            case.url(w, who),
            fresh=False,
            headers={"X-Audit-Reason": quote(reason)},
            **kwargs,
        )
        assert 200 <= response.status_code < 300, (case.template, response.text)
        new = _api_events(engine)[seen:]
        assert new, f"{case.method} {case.template} left no audit row"
        assert {e.actor for e in new} == {f"api:{who}"}, case.template
        assert {e.user_id for e in new} == {w.ids[f"user:{who}"]}
        assert {e.reason for e in new} == {reason}, case.template


def test_updates_record_before_and_after(setup: tuple[World, Api], engine: Engine) -> None:
    w, api = setup
    path = f"/api/v1/products/{w.ids['pa']}"
    response = api.call("bank_a", "PATCH", path, json={"amount_max": "7500000.50", "name": "新名"})
    assert response.status_code == 200
    (event,) = [e for e in _api_events(engine) if e.entity == "product"]
    assert event.action == "update" and event.entity_id == str(w.ids["pa"])
    assert event.before == {"amount_max": "5000000.00", "name": "甲银行科创贷"}
    assert event.after == {"amount_max": "7500000.50", "name": "新名"}
    # the admin endpoint shows the same story
    listed = api.call(
        "admin", "GET", f"/api/v1/audit?entity=product&entity_id={w.ids['pa']}"
    ).json()
    assert [i["after"] for i in listed["items"] if i["channel"] == "api"] == [event.after]


def test_passwords_never_reach_the_trail(setup: tuple[World, Api], engine: Engine) -> None:
    _, api = setup
    body = {
        "username": "newcomer",
        "password": "a-secret-password",
        "roles": ["programme_officer"],
        "org_kind": "government",
    }
    assert api.call("admin", "POST", "/api/v1/users", json=body).status_code == 201
    with unit_of_work(engine) as s:
        texts = [str(e.after) for e in s.scalars(select(AuditEvent))]
    assert not any("a-secret-password" in t or "$argon2" in t for t in texts)
    assert any("'password_hash': '***'" in t for t in texts)


def test_audit_rows_cannot_be_changed_or_deleted(
    setup: tuple[World, Api], engine: Engine, owner_engine: Engine
) -> None:
    with unit_of_work(engine) as s:
        count = s.scalar(select(func.count()).select_from(AuditEvent))
    assert count and count > 0
    for statement in (update(AuditEvent).values(reason="rewritten"), delete(AuditEvent)):
        # the trigger refuses even the owner (the application role has no such privilege)
        with pytest.raises(DBAPIError, match="append-only"), unit_of_work(owner_engine) as s:
            s.execute(statement)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == count
        assert s.scalar(select(func.count()).where(AuditEvent.reason == "rewritten")) == 0


def _cli(args: list[str], db: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INNOFIN_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        input=stdin,
    )


@pytest.mark.slow
def test_cli_writes_are_audited_and_shown(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    csv = tmp_path / "zones.csv"
    csv.write_text("code,name_zh,name_en,province,city,level\nZC1,命令区,Cli,戊省,某市,national\n")
    assert _cli(["import", "zones", str(csv)], db).returncode == 0
    made = _cli(
        [
            "user",
            "create",
            "officer1",
            "--role",
            "zone_officer",
            "--org-kind",
            "zone",
            "--org",
            "ZC1",
            "--password-stdin",
            "--reason",
            "onboarding",
        ],
        db,
        stdin="a-long-password\n",
    )
    assert made.returncode == 0, made.stderr
    with unit_of_work(eng) as s:
        rows = s.execute(
            select(AuditEvent.entity, AuditEvent.action, AuditEvent.actor, AuditEvent.reason)
        ).all()
        user_id = s.scalar(text("SELECT id FROM app_user WHERE username = 'officer1'"))
    eng.dispose()
    assert ("data_source", "import") in {(r.entity, r.action) for r in rows}
    assert {r.actor.split(":")[0] for r in rows} == {"cli"}
    assert ("app_user", "create", "onboarding") in {(r.entity, r.action, r.reason) for r in rows}
    shown = _cli(["audit", "show", "app_user", str(user_id)], db)
    assert shown.returncode == 0 and "officer1" in shown.stdout and "onboarding" in shown.stdout
    as_json = _cli(["audit", "show", "app_user", str(user_id), "--json"], db)
    assert '"action": "create"' in as_json.stdout and "***" in as_json.stdout
    missing = _cli(["audit", "show", "zone", "999"], db)
    assert missing.returncode == 3 and "no audit events" in missing.stderr
