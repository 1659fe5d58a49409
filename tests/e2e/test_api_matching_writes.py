"""Matching's writes through the API: referrals with the firm's consent, answers with reason
codes and the re-match they lead to (the alternatives kept and shown to each caller as it may
see them), the funnel's steps, overdue flags, special-credit allocation runs and their
acceptance into proposed credit lines (maker-checker as usual) — fields named in every refusal,
amounts as exact strings, retries answered once.

The world is `api_world`'s: e1 (zone Z1, consented to bank A and its branch A1) and e3 (zone
Z2), programme 甲 (zone Z1, bank A, a published interest subsidy) and 乙 (zone Z2, bank B). The
API's clock stands at 2026-03-01.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from api_world import T0, Api, Clock, World, build_world, make_api
from innofin.db import unit_of_work
from innofin.ledger.models import CreditLine
from innofin.matching.models import AllocationRun, NeedReferral, NeedRematch
from innofin.registry.models import Enterprise

V1 = "/api/v1"


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api, Clock]]:
    clock = Clock()
    world = build_world(engine)
    yield world, make_api(engine, clock), clock


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _refused(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert {"code", "message"} <= set(body)
    if field is not None:
        assert body.get("field") == field or field in str(body), body
    return body


def test_the_firm_refers_its_need_the_bank_declines_and_the_firm_sees_the_alternatives(
    setup: tuple[World, Api, Clock],
) -> None:
    w, api, _ = setup
    need = w.ids["need_e1_refer_firm"]
    [made] = _ok(
        api.call(
            "firm", "POST", f"{V1}/needs/{need}/referrals", json={"institution_ids": [w.ids["a"]]}
        ),
        201,
    )
    assert made["status"] == "referred" and made["deadline"] == "2026-03-03"  # 2 business days
    answer = {"answer": "decline", "code": "risk"}
    path = f"{V1}/need-referrals/{made['id']}/response"
    out = _ok(api.call("bank_a", "POST", path, json=answer, headers={"Idempotency-Key": "d-1"}))
    assert out["referral"]["status"] == "declined" and out["referral"]["decline_code"] == "risk"
    seen_by_bank = out["rematch"]
    # bank A is shown only its own tree's offers: not bank B's product, nor 甲's subsidy
    assert all(
        a["institution_id"] in (w.ids["a"], w.ids["a1"]) for a in seen_by_bank["alternatives"]
    )
    assert seen_by_bank["withheld"] >= 1
    again = api.call("bank_a", "POST", path, json=answer, headers={"Idempotency-Key": "d-1"})
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == out
    with unit_of_work(w.engine) as s:  # the retry did not decline twice
        assert s.scalar(select(func.count()).where(NeedRematch.referral_id == made["id"])) == 1
    [doc] = _ok(api.call("firm", "GET", f"{V1}/needs/{need}/alternatives"))
    assert doc["decline_code"] == "risk" and doc["withheld"] == 0
    kinds = [a["instrument"] for a in doc["alternatives"]]
    assert kinds[-1] == "subsidy"
    subsidy = doc["alternatives"][-1]
    assert subsidy["programme_code"] == "PRG-JIA" and subsidy["facts"]["share"] == "0.5"
    assert [a["rank"] for a in doc["alternatives"]] == list(range(1, len(kinds) + 1))
    officer = _ok(api.call("zone", "GET", f"{V1}/needs/{need}/alternatives"))
    assert officer == [doc]  # the zone officer sees what the firm sees
    _refused(api.call("bank_b", "GET", f"{V1}/needs/{need}/alternatives"), 404)


def test_refusals_name_their_field(setup: tuple[World, Api, Clock]) -> None:
    w, api, _ = setup
    need = w.ids["need_e1_refer_firm"]
    # e1 has not consented to bank B: nothing is referred
    _refused(
        api.call(
            "firm", "POST", f"{V1}/needs/{need}/referrals", json={"institution_ids": [w.ids["b"]]}
        ),
        400,
        "institution_ids",
    )
    _refused(
        api.call("firm", "POST", f"{V1}/needs/{need}/referrals", json={"institution_ids": []}),
        422,
        "institution_ids",
    )
    with unit_of_work(w.engine) as s:
        assert s.scalar(select(func.count()).where(NeedReferral.need_id == need)) == 0
    path = f"{V1}/need-referrals/{w.ids['nref_respond_bank_a']}/response"
    _refused(api.call("bank_a", "POST", path, json={"answer": "decline"}), 400, "code")
    _refused(
        api.call("bank_a", "POST", path, json={"answer": "decline", "code": "other"}), 400, "text"
    )
    _refused(
        api.call("bank_a", "POST", path, json={"answer": "decline", "code": "bored"}), 422, "code"
    )
    _refused(
        api.call("bank_a", "POST", path, json={"answer": "opt_in", "code": "risk"}), 400, "code"
    )
    steps = f"{V1}/need-referrals/{w.ids['nref_step_bank_a']}/steps"
    line = w.ids["line_a"]
    _refused(
        api.call("bank_a", "POST", steps, json={"step": "contacted", "credit_line_id": line}),
        400,
        "credit_line_id",
    )
    other_firm = {"step": "approved", "credit_line_id": w.ids["line_p"]}  # bank A's line to e2
    _refused(api.call("bank_a", "POST", steps, json=other_firm), 400, "credit_line_id")
    # the steps go forward only
    _ok(api.call("bank_a", "POST", steps, json={"step": "applied"}))
    _refused(api.call("bank_a", "POST", steps, json={"step": "contacted"}), 409)
    # a bank may not answer for the firm, nor the firm for the bank
    _refused(api.call("firm", "POST", path, json={"answer": "opt_in"}), 403)


def test_the_funnel_steps_end_in_a_credit_line(setup: tuple[World, Api, Clock]) -> None:
    w, api, clock = setup
    path = f"{V1}/need-referrals/{w.ids['nref_respond_bank_a']}/response"
    _ok(api.call("bank_a", "POST", path, json={"answer": "opt_in"}))
    steps = f"{V1}/need-referrals/{w.ids['nref_respond_bank_a']}/steps"
    for step in ("contacted", "applied"):
        clock.advance(days=1)
        moved = api.call("bank_a", "POST", steps, json={"step": step}, fresh=True)
        assert _ok(moved)["status"] == step
    clock.advance(days=3)
    approved = {"step": "approved", "credit_line_id": w.ids["line_a"]}
    done = _ok(api.call("bank_a", "POST", steps, json=approved, fresh=True))
    assert done["status"] == "approved" and done["credit_line_id"] == w.ids["line_a"]
    assert done["approved_at"].startswith("2026-03-06")
    funnel = _ok(api.call("bank_a", "GET", f"{V1}/matching/funnel", fresh=True))
    [mine] = [r for r in funnel["institutions"] if r["institution_id"] == w.ids["a"]]
    assert mine["approved"] >= 1 and mine["credit_lines"] >= 1


def test_overdue_flags_cover_the_needs_the_officer_sees(setup: tuple[World, Api, Clock]) -> None:
    w, api, clock = setup
    [late] = _ok(api.call("province", "POST", f"{V1}/matching/overdue-flags"))
    assert late["id"] == w.ids["nref_overdue"]
    assert late["overdue_flagged_at"].startswith("2026-03-01")
    clock.advance(days=3)  # past the deadline of 2026-03-03 in Beijing
    flags = f"{V1}/matching/overdue-flags"
    province = {r["id"] for r in _ok(api.call("province", "POST", flags, fresh=True))}
    national = {r["id"] for r in _ok(api.call("national", "POST", flags, fresh=True))}
    assert w.ids["nref_respond_bank_a"] in province
    assert w.ids["nref_respond_yi_bank_b"] not in province  # e3 is in 乙省
    assert province | {w.ids["nref_respond_yi_bank_b"]} <= national
    with unit_of_work(w.engine) as s:
        flagged = s.get(NeedReferral, w.ids["nref_respond_bank_a"])
        assert flagged is not None and flagged.overdue_flagged_at is not None
        assert flagged.overdue_flagged_at.replace(tzinfo=T0.tzinfo) == T0 + (clock.now - T0)


def test_an_allocation_is_run_read_and_accepted_into_proposed_lines(
    setup: tuple[World, Api, Clock],
) -> None:
    w, api, _ = setup
    with unit_of_work(w.engine) as s:  # the allocation funds needs of firms in a key field
        firm = s.get(Enterprise, w.ids["e1"])
        assert firm is not None
        firm.tech_field = "electronic_information"
    body = {
        "programme_id": w.ids["prg_jia"],
        "zone_floor": {"Z1": "1000000.00"},
        "enterprise_cap": "3000000.00",
        "time_limit": 10.0,
    }
    run = _ok(api.call("province", "POST", f"{V1}/allocation-runs", json=body), 201)
    assert run["status"] == "proposed" and run["solver"] == "HiGHS"
    assert run["parameters"]["quotas"]["enterprise_cap"] == "3000000.00"
    assert run["parameters"]["on"] == "2026-03-01"  # the API's day
    assert run["funded"] == "3000000.00"  # e1's needs, capped at 3 m
    assert sum(int(float(r["amount"]) * 100) for r in run["rows"]) == 300000000
    assert all(isinstance(r["amount"], str) for r in run["rows"])
    assert run["fcfs_funded"] and run["fcfs_objective"] is not None
    assert _ok(api.call("national", "GET", f"{V1}/allocation-runs/{run['id']}")) == run
    accepted = _ok(
        api.call(
            "province",
            "POST",
            f"{V1}/allocation-runs/{run['id']}/acceptance",
            json={"opens_on": "2026-03-02"},
        )
    )
    assert accepted["status"] == "accepted" and len(accepted["credit_line_ids"]) == len(run["rows"])
    with unit_of_work(w.engine) as s:
        lines = s.scalars(
            select(CreditLine).where(CreditLine.id.in_(accepted["credit_line_ids"]))
        ).all()
        assert {line.status for line in lines} == {"pending"}  # waiting for the bank's checker
        assert {line.maker_id for line in lines} == {"api:province"}
    line_id = accepted["credit_line_ids"][0]
    decision = f"{V1}/credit-lines/{line_id}/decision"
    _refused(api.call("province", "POST", decision, json={"approve": True}), 403)
    assert _ok(api.call("bank_a", "POST", decision, json={"approve": True}))["status"] == "approved"
    again = api.call(
        "province",
        "POST",
        f"{V1}/allocation-runs/{run['id']}/acceptance",
        json={"opens_on": "2026-03-02"},
    )
    _refused(again, 409)


def test_allocation_inputs_are_exact_and_named(setup: tuple[World, Api, Clock]) -> None:
    w, api, _ = setup
    base = {"programme_id": w.ids["prg_jia"]}
    cases = [
        ({"enterprise_cap": "1000.001"}, 422, "enterprise_cap"),  # a part of a fen
        ({"enterprise_cap": 1000}, 422, "enterprise_cap"),  # a JSON number
        ({"field_max": {"astrology": "1.00"}}, 422, "field_max"),
        ({"zone_max": {"Z9": "1.00"}}, 400, "zone_max"),
        ({"floor_share": "1.5"}, 422, "floor_share"),
    ]
    for extra, status, field in cases:
        _refused(
            api.call("national", "POST", f"{V1}/allocation-runs", json=base | extra), status, field
        )
    _refused(
        api.call(
            "province", "POST", f"{V1}/allocation-runs", json={"programme_id": w.ids["prg_yi"]}
        ),
        404,
    )
    accept = f"{V1}/allocation-runs/{w.ids['run_jia']}/acceptance"
    for rate in ("1.5", "0", "0.03101"):
        _refused(
            api.call("national", "POST", accept, json={"opens_on": "2026-03-02", "rate": rate}),
            422,
            "rate",
        )
    with unit_of_work(w.engine) as s:  # nothing was accepted
        assert s.get(AllocationRun, w.ids["run_jia"]).status == "proposed"  # type: ignore[union-attr]
