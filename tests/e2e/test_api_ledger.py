"""The programme-level ledger through the API: programmes and agreements, risk pools and their
claims (maker-checker), interest subsidies — amounts, statuses, who sees and does what, retries.

The world is `api_world`'s: programme 甲 (zone Z1, bank A, enterprise e1) and 乙 (zone Z2,
bank B, enterprise e3). The API's clock stands at 2026-03-01.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from api_world import Api, Clock, World, build_world, make_api
from innofin.audit.models import AuditEvent
from innofin.db import unit_of_work
from innofin.ledger.models import LedgerEvent

V1 = "/api/v1"


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api, Clock]]:
    clock = Clock()
    world = build_world(engine)
    yield world, make_api(engine, clock), clock


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _refused(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert {"code", "message"} <= set(body)
    if code is not None:
        assert body["code"] == code, body
    return body


def _audited(engine: Engine, entity: str, entity_id: int) -> list[tuple[str, str, str | None]]:
    with unit_of_work(engine) as s:
        rows = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id))
            .order_by(AuditEvent.id)
        )
        return [(e.actor, e.action, e.reason) for e in rows if e.channel == "api"]


def test_programmes_and_agreements(setup: tuple[World, Api, Clock]) -> None:
    w, api, _ = setup
    prog = _ok(api.call("province", "GET", f"{V1}/programmes/{w.ids['prg_jia']}"))
    assert prog["code"] == "PRG-JIA" and prog["zone_ids"] == [w.ids["z1"]]
    assert [(t["kind"], t["amount"], t["count"]) for t in prog["targets"]] == [
        ("new_credit", "1000000000.00", None),
        ("key_enterprises", None, 10),
    ]
    page = _ok(api.call("bank_a", "GET", f"{V1}/programmes?limit=1&offset=0"))
    assert (page["total"], page["limit"], page["offset"]) == (1, 1, 0)
    assert [p["code"] for p in page["items"]] == ["PRG-JIA"]
    _refused(api.call("bank_a", "GET", f"{V1}/programmes/{w.ids['prg_yi']}"), 404)
    _refused(api.call("firm", "GET", f"{V1}/programmes"), 403)

    listed = _ok(api.call("admin", "GET", f"{V1}/agreements?programme_id={w.ids['prg_yi']}"))
    assert [a["code"] for a in listed["items"]] == ["AG-YI"]
    agreement = _ok(api.call("bank_a", "GET", f"{V1}/agreements/{w.ids['ag_jia']}"))
    (commitment,) = agreement["commitments"]
    # the covered credit line of 100,000,000.00 consumes that much of the commitment
    assert (commitment["amount"], commitment["used"], commitment["available"]) == (
        "500000000.00",
        "100000000.00",
        "400000000.00",
    )
    _refused(api.call("bank_a", "GET", f"{V1}/agreements/{w.ids['ag_yi']}"), 404)
    _refused(api.call("zone", "GET", f"{V1}/agreements/{w.ids['ag_yi']}"), 404)


def test_pool_balances_positions_and_contributions(
    setup: tuple[World, Api, Clock], engine: Engine
) -> None:
    w, api, _ = setup
    path = f"{V1}/risk-pools/{w.ids['pool_jia']}"
    pool = _ok(api.call("zone", "GET", path))
    assert (pool["contributed"], pool["paid_out"], pool["balance"]) == (
        "100000000.00",
        "0.00",
        "100000000.00",
    )
    # nine defaulted loans of 1,000,000.00 and one of 12,000,000.00 on the covered line
    assert pool["covered_outstanding"] == "21000000.00"
    assert (pool["leverage"], pool["leverage_headroom"]) == (10, "979000000.00")
    assert [(x["contributor"], x["contributed"]) for x in pool["positions"]] == [
        ("county", "30000000.00"),
        ("province", "70000000.00"),
    ]
    body = {"contributor": "county", "amount": "1000000.50", "paid_on": "2026-02-28"}
    key = {"Idempotency-Key": "county-2026-02", "X-Audit-Reason": "county budget"}
    first = _ok(api.call("province", "POST", f"{path}/contributions", json=body, headers=key))
    again = api.call("province", "POST", f"{path}/contributions", json=body, headers=key)
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first
    assert first["contributed"] == "101000000.50" and first["balance"] == "101000000.50"
    assert first["positions"][0] == {
        "contributor": "county",
        "contributed": "31000000.50",
        "paid_out": "0.00",
        "recovered": "0.00",
        "balance": "31000000.50",
    }
    assert _ok(api.call("admin", "GET", path))["contributed"] == "101000000.50"  # only once
    assert ("api:province", "update", "county budget") in _audited(
        engine, "risk_pool", w.ids["pool_jia"]
    )
    unknown = _refused(
        api.call("province", "POST", f"{path}/contributions", json=body | {"contributor": "city"}),
        400,
    )
    assert unknown["field"] == "contributor"
    _refused(api.call("bank_a", "POST", f"{path}/contributions", json=body), 403)
    yi = f"{V1}/risk-pools/{w.ids['pool_yi']}/contributions"
    _refused(api.call("province", "POST", yi, json=body), 404)
    _refused(api.call("bank_a", "GET", f"{V1}/risk-pools/{w.ids['pool_yi']}"), 404)


def test_claim_filed_decided_by_another_user_and_paid(
    setup: tuple[World, Api, Clock], engine: Engine
) -> None:
    w, api, _ = setup
    pool = f"{V1}/risk-pools/{w.ids['pool_jia']}"
    body = {"loan_id": w.ids["loan_defaulted_bank_a"]}
    key = {"Idempotency-Key": "claim-1"}
    claim = _ok(api.call("bank_a", "POST", f"{pool}/claims", json=body, headers=key), 201)
    assert (claim["status"], claim["principal_loss"], claim["covered"]) == (
        "pending",
        "1000000.00",
        "500000.00",  # the pool covers half of the principal outstanding at default
    )
    assert claim["assessment"]["contributions"] == {"county": "150000.00", "province": "350000.00"}
    assert (claim["maker_id"], claim["claim_year"], claim["institution_id"]) == (
        "api:bank_a",
        2026,
        w.ids["a"],
    )
    again = api.call("bank_a", "POST", f"{pool}/claims", json=body, headers=key)
    assert again.status_code == 201 and again.json() == claim
    assert again.headers["idempotent-replayed"] == "true"
    _refused(api.call("bank_a", "POST", f"{pool}/claims", json=body), 409)  # one per loan
    _refused(api.call("bank_b", "POST", f"{pool}/claims", json=body), 404)
    other = {"loan_id": w.ids["loan_b"]}  # bank B's loan: bank A does not see it
    _refused(api.call("bank_a", "POST", f"{pool}/claims", json=other), 404)
    _refused(api.call("province", "POST", f"{pool}/claims", json=body), 403)

    one = f"{V1}/pool-claims/{claim['id']}"
    assert _ok(api.call("bank_a", "GET", one))["id"] == claim["id"]
    _refused(api.call("bank_b", "GET", one), 404)
    _refused(api.call("bank_a", "POST", f"{one}/decision", json={"approve": True}), 403)
    _refused(api.call("province", "POST", f"{one}/payment"), 409)  # not approved yet
    decided = _ok(api.call("province", "POST", f"{one}/decision", json={"approve": True}))
    assert (decided["status"], decided["checker_id"]) == ("approved", "api:province")
    _refused(api.call("national", "POST", f"{one}/decision", json={"approve": False}), 409)
    paid = _ok(api.call("province", "POST", f"{one}/payment", json={"paid_on": "2026-03-02"}))
    assert paid["status"] == "paid"
    after = _ok(api.call("admin", "GET", pool))
    assert (after["paid_out"], after["balance"]) == ("500000.00", "99500000.00")
    assert [(x["contributor"], x["paid_out"], x["balance"]) for x in after["positions"]] == [
        ("county", "150000.00", "29850000.00"),
        ("province", "350000.00", "69650000.00"),
    ]
    pending = _ok(api.call("bank_a", "GET", f"{V1}/pool-claims?status=paid"))
    assert [c["id"] for c in pending["items"]] == [claim["id"]]
    assert [a for a, *_ in _audited(engine, "pool_claim", claim["id"])] == [
        "api:bank_a",
        "api:province",
        "api:province",
    ]
    with unit_of_work(engine) as s:
        events = s.scalars(
            select(LedgerEvent.kind)
            .where(LedgerEvent.entity == "pool_claim", LedgerEvent.entity_id == claim["id"])
            .order_by(LedgerEvent.id)
        ).all()
    assert events == ["claim_filed", "claim_approved", "claim_paid"]


def test_the_filer_may_not_decide_its_own_claim(setup: tuple[World, Api, Clock]) -> None:
    w, api, _ = setup
    pool = f"{V1}/risk-pools/{w.ids['pool_jia']}"
    body = {"loan_id": w.ids["loan_defaulted_admin"]}  # a claim a bank sent on paper
    claim = _ok(api.call("admin", "POST", f"{pool}/claims", json=body), 201)
    decision = f"{V1}/pool-claims/{claim['id']}/decision"
    refused = _refused(
        api.call("admin", "POST", decision, json={"approve": True}), 403, "same_maker_and_checker"
    )
    assert "maker-checker" in refused["message"]
    assert _ok(api.call("admin", "GET", f"{V1}/pool-claims/{claim['id']}"))["status"] == "pending"
    key = {"Idempotency-Key": "decide-1"}
    first = _ok(api.call("national", "POST", decision, json={"approve": False}, headers=key))
    again = api.call("national", "POST", decision, json={"approve": False}, headers=key)
    assert first["status"] == "rejected" and again.json() == first
    assert again.headers["idempotent-replayed"] == "true"
    reused = api.call("national", "POST", decision, json={"approve": True}, headers=key)
    _refused(reused, 422, "idempotency_key_reused")


def test_a_province_runs_only_its_own_programmes_claims(setup: tuple[World, Api, Clock]) -> None:
    w, api, _ = setup
    yi = f"{V1}/pool-claims/{w.ids['claim_yi']}"
    _refused(api.call("province", "GET", yi), 404)
    _refused(api.call("province", "POST", f"{yi}/decision", json={"approve": True}), 404)
    assert _ok(api.call("national", "POST", f"{yi}/decision", json={"approve": True}))[
        "status"
    ] == ("approved")


def test_subsidy_published_objected_resolved_confirmed_and_paid(
    setup: tuple[World, Api, Clock], engine: Engine
) -> None:
    w, api, clock = setup
    body = {
        "programme_id": w.ids["prg_jia"],
        "period_start": "2025-08-01",
        "period_end": "2025-08-31",
        "notice_days": 7,
        "rules": {"share": "0.5"},
    }
    batch = _ok(api.call("province", "POST", f"{V1}/subsidies/publish", json=body), 201)
    assert (batch["count"], batch["amount"], batch["published_on"], batch["notice_until"]) == (
        1,
        "15000.00",
        "2026-03-01",
        "2026-03-08",
    )
    (sub,) = batch["items"]
    assert (sub["loan_id"], sub["enterprise_id"], sub["interest_paid"], sub["status"]) == (
        w.ids["loan_sub_jia"],
        w.ids["e1"],
        "30000.00",
        "published",
    )
    _refused(api.call("province", "POST", f"{V1}/subsidies/publish", json=body), 409)
    bad = body | {"period_start": "2025-09-01", "rules": {"share": "1.5"}}
    assert _refused(api.call("national", "POST", f"{V1}/subsidies/publish", json=bad), 400)[
        "field"
    ] == ("rules.share")
    yi = body | {"programme_id": w.ids["prg_yi"]}
    _refused(api.call("province", "POST", f"{V1}/subsidies/publish", json=yi), 404)
    _refused(api.call("bank_a", "POST", f"{V1}/subsidies/publish", json=body), 403)
    _refused(api.call("firm", "POST", f"{V1}/subsidies/publish", json=body), 403)

    one = f"{V1}/subsidies/{sub['id']}"
    assert _ok(api.call("firm", "GET", one))["amount"] == "15000.00"
    _refused(api.call("bank_b", "GET", one), 404)
    _refused(api.call("firm", "GET", f"{V1}/subsidies/{w.ids['sub_yi']}"), 404)
    _refused(api.call("firm", "POST", f"{one}/confirmation"), 409)  # under notice
    objection = {"text": "本期利息含罚息"}
    _refused(api.call("bank_b", "POST", f"{one}/objection", json=objection), 404)
    objected = _ok(api.call("firm", "POST", f"{one}/objection", json=objection))
    assert (objected["status"], objected["objection"]) == ("objected", "本期利息含罚息")
    _refused(api.call("firm", "POST", f"{one}/resolution", json={"upheld": False}), 403)
    dismissed = _ok(api.call("province", "POST", f"{one}/resolution", json={"upheld": False}))
    assert dismissed["status"] == "published"
    clock.advance(days=8)  # the notice period has passed (and the tokens have expired)
    for who in ("firm", "bank_a", "national"):
        api.headers(who, fresh=True)
    _refused(api.call("firm", "POST", f"{one}/objection", json=objection), 409)
    _refused(api.call("bank_a", "POST", f"{one}/confirmation"), 403)  # only the enterprise
    assert _ok(api.call("firm", "POST", f"{one}/confirmation"))["status"] == "confirmed"
    key = {"Idempotency-Key": "pay-sub-1"}
    paid = _ok(api.call("national", "POST", f"{one}/payment", headers=key))
    assert paid["status"] == "paid"
    again = api.call("national", "POST", f"{one}/payment", headers=key)
    assert again.json() == paid and again.headers["idempotent-replayed"] == "true"
    _refused(api.call("national", "POST", f"{one}/payment"), 409)  # paid once
    assert [a for a, *_ in _audited(engine, "interest_subsidy", sub["id"])] == [
        "api:province",
        "api:firm",
        "api:province",
        "api:firm",
        "api:national",
    ]
    listed = _ok(
        api.call("firm", "GET", f"{V1}/subsidies?programme_id={w.ids['prg_jia']}&status=paid")
    )
    assert [x["id"] for x in listed["items"]] == [sub["id"]]


def test_a_programme_subsidises_only_its_own_loans(setup: tuple[World, Api, Clock]) -> None:
    w, api, _ = setup
    # in July 2024 both programmes' loans paid interest; 乙's publication takes 乙's loan only
    body = {
        "programme_id": w.ids["prg_yi"],
        "period_start": "2024-07-01",
        "period_end": "2024-07-31",
        "rules": {"share": "0.4", "rate_cap": "0.0300"},
    }
    batch = _ok(api.call("national", "POST", f"{V1}/subsidies/publish", json=body), 201)
    # 30,000.00 of interest at 3.45 %, subsidised up to 3 %: 26,086.96, of which 40 %
    assert [(s["loan_id"], s["amount"]) for s in batch["items"]] == [
        (w.ids["loan_sub_yi"], "10434.78")
    ]
    assert batch["items"][0]["programme"] == "PRG-YI"
    mine = _ok(api.call("bank_b", "GET", f"{V1}/subsidies?status=published"))
    assert {s["loan_id"] for s in mine["items"]} == {w.ids["loan_sub_yi"]}
