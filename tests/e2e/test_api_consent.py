"""Consent: an institution sees an enterprise's indicator details only while it has consent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from api_world import Api, World, build_world, make_api


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


def test_grant_and_withdraw_decide_what_the_bank_sees(setup: tuple[World, Api]) -> None:
    w, api = setup
    e1 = w.ids["e1"]
    detail, reports = f"/api/v1/enterprises/{e1}", f"/api/v1/enterprises/{e1}/reports"
    # bank B: no consent, no referral — the enterprise does not exist for it
    assert api.call("bank_b", "GET", detail).status_code == 404
    assert api.call("bank_b", "GET", reports).status_code == 404
    # an officer refers e1 to bank B: now it sees the record and aggregates, not the indicators
    referral = api.call(
        "zone",
        "POST",
        "/api/v1/referrals",
        json={"enterprise_id": e1, "institution_id": w.ids["b"]},
    )
    assert referral.status_code == 201
    shown = api.call("bank_b", "GET", detail)
    assert shown.status_code == 200 and shown.json()["indicators_visible"] is False
    refused = api.call("bank_b", "GET", reports)
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    # the enterprise grants consent
    granted = api.call("firm", "POST", "/api/v1/consents", json={"institution_id": w.ids["b"]})
    assert granted.status_code == 201
    consent = granted.json()
    assert consent["enterprise_id"] == e1 and consent["withdrawn_at"] is None
    assert api.call("bank_b", "GET", detail).json()["indicators_visible"] is True
    rows = api.call("bank_b", "GET", reports)
    assert rows.status_code == 200 and [r["year"] for r in rows.json()] == [2024]
    assert rows.json()[0]["revenue"] == "1234567.89"  # an amount as an exact string
    # granting again while in force is a conflict; the bank cannot withdraw for the firm
    again = api.call("firm", "POST", "/api/v1/consents", json={"institution_id": w.ids["b"]})
    assert again.status_code == 409
    withdraw = f"/api/v1/consents/{consent['id']}/withdraw"
    assert api.call("bank_b", "POST", withdraw).status_code == 403
    # withdrawn: back to record-only
    gone = api.call("firm", "POST", withdraw)
    assert gone.status_code == 200 and gone.json()["withdrawn_at"] is not None
    assert api.call("bank_b", "GET", reports).json()["code"] == "consent_required"
    assert api.call("firm", "POST", withdraw).status_code == 409
    # the history stays: both the bank and the firm still list the withdrawn consent
    listed = api.call("bank_b", "GET", "/api/v1/consents").json()
    assert [c["id"] for c in listed["items"]] == [consent["id"]]
    active = api.call("bank_b", "GET", "/api/v1/consents?active=true").json()
    assert active["total"] == 0


def test_consent_to_a_head_office_covers_its_branches_not_the_reverse(
    setup: tuple[World, Api],
) -> None:
    w, api = setup
    # world: e1 consents to bank A (head) and to branch A1; bank A's officer sees e1's reports
    assert (
        api.call("bank_a", "GET", f"/api/v1/enterprises/{w.ids['e1']}/reports").status_code == 200
    )
    # the firm withdraws both; bank A loses the details
    for key in ("c1", "c2"):
        assert (
            api.call("firm", "POST", f"/api/v1/consents/{w.ids[key]}/withdraw").status_code == 200
        )
    assert api.call("bank_a", "GET", f"/api/v1/enterprises/{w.ids['e1']}").status_code == 404


def test_only_an_enterprise_grants(setup: tuple[World, Api]) -> None:
    w, api = setup
    body = {"institution_id": w.ids["b"]}
    for who in ("admin", "zone", "bank_b"):
        assert api.call(who, "POST", "/api/v1/consents", json=body).status_code == 403
    unknown = api.call("firm", "POST", "/api/v1/consents", json={"institution_id": 999999})
    assert unknown.status_code == 400 and unknown.json()["field"] == "institution_id"
