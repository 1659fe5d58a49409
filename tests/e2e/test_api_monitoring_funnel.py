"""The funnel, scorecards and scenarios through the API on `api_world`'s two programmes (甲: zone
Z1 with bank A, 乙: zone Z2 with bank B): what each caller is shown — officers every
institution by name, a bank only its own rows and no other bank's name or figures, however it
asks — and a scenario run stored, read back and recomputed from its seed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from api_world import Api, World, build_world, make_api
from innofin.db import unit_of_work
from innofin.matching.scopes import OPERATOR
from innofin.monitoring.scenarios import service as scenario

V1 = "/api/v1/monitoring"


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_officers_see_every_institution_and_a_bank_only_its_own(
    setup: tuple[World, Api],
) -> None:
    w, api = setup
    cards = _ok(api.call("national", "GET", f"{V1}/scorecards"))
    names = {c["institution_name"] for c in cards["cards"]}
    assert {"甲银行", "乙银行"} <= names and not cards["own_only"]
    a = next(c for c in cards["cards"] if c["institution_name"] == "甲银行")
    assert a["loans"] > 0 and a["drawn"].endswith(".00")  # amounts as decimal strings
    for who, own, other in (("bank_a", "甲银行", "乙银行"), ("bank_b", "乙银行", "甲银行")):
        for path in ("/scorecards", "/funnel", f"/scorecards?programme_id={w.ids['prg_yi']}"):
            response = api.call(who, "GET", V1 + path)
            if response.status_code == 404:  # a programme the bank does not take part in
                assert who == "bank_a"
                continue
            body = _ok(response)
            assert other not in response.text and body["own_only"]
        mine = _ok(api.call(who, "GET", f"{V1}/scorecards"))
        assert {c["institution_name"] for c in mine["cards"]} <= {own, "甲银行科技支行"}
        # two other lenders at most: too few to show their pooled figures
        assert mine["peers"]["default_rate"] is None and mine["peers"]["approval_rate"] is None


def test_a_scenario_through_the_api(setup: tuple[World, Api]) -> None:
    w, api = setup
    body = {
        "programme_id": w.ids["prg_jia"],
        "levers": {"risk_share": "0.6", "quota": "50000000.00", "key_list_size": 20},
        "months": 12,
        "paths": 200,
        "seed": 99,
        "name": "更高补偿",
    }
    run = _ok(api.call("province", "POST", f"{V1}/scenarios", json=body), 201)
    assert run["seed"] == 99 and run["levers"]["risk_share"] == 0.6
    assert len(run["projection"]) == 12
    first = run["projection"][0]
    assert float(first["balance_low"]) <= float(first["balance"]) <= float(first["balance_high"])
    again = _ok(api.call("zone", "GET", f"{V1}/scenarios/{run['id']}"))
    assert again["projection"] == run["projection"]
    listed = _ok(api.call("national", "GET", f"{V1}/scenarios?programme_id={w.ids['prg_jia']}"))
    assert run["id"] in [r["id"] for r in listed]
    with unit_of_work(w.engine) as s:
        assert scenario.replay(s, OPERATOR, run["id"])
    refused = api.call("province", "POST", f"{V1}/scenarios", json={**body, "paths": True})
    assert refused.status_code == 422
    bad = api.call("province", "POST", f"{V1}/scenarios", json={**body, "levers": {"x": "1"}})
    assert bad.status_code == 422
