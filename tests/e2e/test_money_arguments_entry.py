"""Money arguments through the API follow the one policy (`kernel.money.money_arg`): an amount
with a part of a fen answers 422 naming the field — refused, never rounded, and nothing is
written. The command line's refusal (exit 2 naming the option) is in test_ledger_cli_numbers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from api_world import Api, World, build_world, make_api
from innofin.db import unit_of_work
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
