"""Money arguments through the entry points follow the one policy (`kernel.money.money_arg`): an
amount with a part of a fen answers 422 naming the field in the API, and exit 2 naming the option
on the command line (README, exit codes) — refused, never rounded, and nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import ledger_world as lw
from api_world import Api, World, build_world, make_api
from innofin.db import make_engine, unit_of_work
from innofin.db.migrate import upgrade
from innofin.ledger.models import LedgerEvent


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


def _events(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        return int(s.scalar(select(func.count()).select_from(LedgerEvent)) or 0)


def test_the_api_answers_422_naming_the_field(setup: tuple[World, Api], engine: Engine) -> None:
    w, api = setup
    before = _events(engine)
    calls = [
        (
            f"/api/v1/risk-pools/{w.ids['pool_jia']}/contributions",
            {"contributor": "province", "amount": "100.004", "paid_on": "2025-01-15"},
            "amount",
            "admin",
        ),
        (
            f"/api/v1/loans/{w.ids['loan_a']}/repayments",
            {"principal": "1.00", "interest": "0.001", "paid_on": "2025-01-15"},
            "interest",
            "bank_a",
        ),
        (
            f"/api/v1/credit-lines/{w.ids['line_a']}/drawdowns",
            {"amount": "１００.００４", "drawn_on": "2025-01-15", "external_ref": "X", "months": 6},
            "amount",
            "bank_a",
        ),
    ]
    for path, body, field, caller in calls:
        response = api.call(caller, "POST", path, json=body)
        assert response.status_code == 422, (path, response.text)
        answer = response.json()
        assert (answer["code"], answer["field"]) == ("invalid_request", field), answer
    assert _events(engine) == before


def _innofin(args: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INNOFIN_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_exits_2_naming_the_option(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    w = lw.build(eng)
    loan_id = lw.draw(w, lw.line(w, limit="200000.00"), "100000.00", "LN-1")
    before = _events(eng)
    refused = _innofin(
        ["ledger", "repay", str(loan_id), "--principal", "100.004", "--on", "2024-03-01"], db
    )
    assert refused.returncode == 2, refused.stderr
    assert "--principal" in refused.stderr and "100.004" in refused.stderr
    assert _events(eng) == before
    eng.dispose()
