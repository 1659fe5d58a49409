"""Access holes found when the platform was attacked, each reproduced through the API:

* a bank attached another programme's risk pool (and another bank's product) to its credit line,
  and so read the pool;
* a zone officer moved its own zone to another province (out of one provincial office's reach
  and into another's);
* anonymous aggregates showed one firm's exact revenue (the small-cell rule counted enterprises,
  not the ones that reported the value that year);
* a score read without consent showed group points and the rule set's verdict.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, update

import factories
from api_world import Api, World, build_world, make_api
from innofin.access.service import OrgRef, create_user
from innofin.audit.recorder import Actor
from innofin.db import unit_of_work
from innofin.kernel.codes import OrgKind, Role
from innofin.ledger.models import CreditLine
from innofin.registry.models import IndicatorReport, Institution
from innofin.scoring import service as scoring

V1 = "/api/v1"


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[World, Api]]:
    w = build_world(engine)
    yield w, make_api(engine)


def _line(w: World, ref: str, **named: str) -> dict[str, Any]:
    return {
        "institution_id": w.ids["a"],
        "external_ref": ref,
        "enterprise_id": w.ids["e1"],
        "limit_amount": "500000.00",
        "opens_on": "2025-01-01",
        "matures_on": "2026-12-31",
        "rate": "0.0365",
        **{field: w.ids[key] for field, key in named.items()},
    }


def test_a_line_names_only_its_programmes_pools_and_its_own_products(
    world: tuple[World, Api],
) -> None:
    w, api = world
    pool_yi = f"{V1}/risk-pools/{w.ids['pool_yi']}"
    assert api.call("bank_a", "GET", pool_yi).status_code == 404
    for ref, named in (
        ("ATTACK-POOL", {"risk_pool_id": "pool_yi"}),  # 乙's pool: bank A is not in 乙
        ("ATTACK-PRODUCT", {"product_id": "pb"}),  # bank B's product
        ("ATTACK-BOTH", {"risk_pool_id": "pool_yi", "product_id": "pa"}),
    ):
        refused = api.call("bank_a", "POST", f"{V1}/credit-lines", json=_line(w, ref, **named))
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "not_found"
    # answered as for a pool that does not exist
    missing = api.call(
        "bank_a",
        "POST",
        f"{V1}/credit-lines",
        json=_line(w, "MISSING") | {"risk_pool_id": 2_000_000_000},
    )
    assert missing.status_code == 404
    assert missing.json()["message"] == "risk pool 2000000000 does not exist"
    # nothing was entered, and 乙's pool is still invisible to bank A
    lines = api.call("bank_a", "GET", f"{V1}/credit-lines?limit=500").json()["items"]
    assert not [x for x in lines if x["external_ref"].startswith(("ATTACK", "MISSING"))]
    assert api.call("bank_a", "GET", pool_yi).status_code == 404
    # its own programme's pool and its own product are fine
    own = api.call(
        "bank_a",
        "POST",
        f"{V1}/credit-lines",
        json=_line(w, "OWN", risk_pool_id="pool_jia", product_id="pa"),
    )
    assert own.status_code == 201, own.text
    assert own.json()["risk_pool_id"] == w.ids["pool_jia"]


def test_naming_a_pool_never_opens_it(world: tuple[World, Api]) -> None:
    """A line that names another programme's pool (entered before the rule, or behind the
    application's back) does not make the pool readable to the line's bank."""
    w, api = world
    with unit_of_work(w.engine) as s:
        s.execute(
            update(CreditLine)
            .where(CreditLine.id == w.ids["line_a"])
            .values(risk_pool_id=w.ids["pool_yi"])
        )
    assert api.call("bank_a", "GET", f"{V1}/risk-pools/{w.ids['pool_yi']}").status_code == 404
    listed = api.call("bank_a", "GET", f"{V1}/risk-pools?limit=500").json()["items"]
    assert [p["id"] for p in listed] == [w.ids["pool_jia"]]
    claims = api.call("bank_a", "GET", f"{V1}/pool-claims?pool_id={w.ids['pool_yi']}").json()
    assert claims["items"] == []


def _enterprise_ids(api: Api, who: str) -> set[int]:
    body = api.call(who, "GET", f"{V1}/enterprises?limit=500").json()
    return {item["id"] for item in body["items"]}


def test_who_sees_a_row_is_changed_only_from_above(world: tuple[World, Api]) -> None:
    w, api = world
    z1, e1 = f"{V1}/zones/{w.ids['z1']}", f"{V1}/enterprises/{w.ids['e1']}"
    reach = {who: _enterprise_ids(api, who) for who in ("province", "zone")}
    assert reach["province"] == {w.ids["e1"], w.ids["e2"]}
    # the attack: Z1's zone officer moves its zone to 乙省 (out of 甲省's reach)
    for who in ("zone", "province"):
        moved = api.call(who, "PATCH", z1, json={"province": "乙省"})
        assert moved.status_code == 403, (who, moved.text)
        assert (moved.json()["code"], moved.json()["field"]) == ("reach_field", "province")
        # refused as a whole: the other fields sent are not changed either
        both = api.call(who, "PATCH", z1, json={"city": "某地", "province": "乙省"})
        assert both.status_code == 403
    zone = api.call("admin", "GET", z1).json()
    assert (zone["province"], zone["city"]) == ("甲省", "苏州")
    assert {who: _enterprise_ids(api, who) for who in reach} == reach
    # a zone officer still changes what decides no one's reach
    assert api.call("zone", "PATCH", z1, json={"city": "新市"}).status_code == 200
    # an enterprise's zone: not the zone officer, not the enterprise; a provincial office may,
    # within its province (the write is checked again after the change)
    for who in ("zone", "firm"):
        refused = api.call(who, "PATCH", e1, json={"zone_id": w.ids["z1"]})
        assert refused.status_code == 403 and refused.json()["field"] == "zone_id", who
    assert api.call("province", "PATCH", e1, json={"zone_id": w.ids["z1"]}).status_code == 200
    assert api.call("province", "PATCH", e1, json={"zone_id": w.ids["z2"]}).status_code == 403
    # the national office moves the zone; 甲省 loses Z1's enterprises, as it should
    assert api.call("national", "PATCH", z1, json={"province": "乙省"}).status_code == 200
    assert _enterprise_ids(api, "province") == set()


def test_a_score_without_consent_shows_points_and_ranks_only(world: tuple[World, Api]) -> None:
    w, api = world
    scoring.run(w.engine, "tech-sme", 2024, Actor.cli("test"))
    for system in ("default", "tech-sme"):
        path = "{}/enterprises/{}/score?year=2024&system=" + system
        with_consent = api.call("bank_a", "GET", path.format(V1, w.ids["e1"])).json()
        assert with_consent["details_visible"] is True
        assert with_consent["groups"] and with_consent["items"]
        if system == "tech-sme":
            assert with_consent["verdict"] is not None
        referred = api.call("bank_a", "GET", path.format(V1, w.ids["e2"]))
        assert referred.status_code == 200, referred.text
        shown = referred.json()
        assert shown["details_visible"] is False
        assert shown["points"] is not None and shown["ranks"]
        assert (shown["groups"], shown["verdict"], shown["items"]) == ({}, None, [])
        assert (shown["missing_cost"], shown["improvements"]) == ({}, [])
        officer = api.call("zone", "GET", path.format(V1, w.ids["e2"])).json()
        assert officer["groups"] and officer["details_visible"] is True


# --------------------------------------------------------------------------- aggregates

TARGET_REVENUE = Decimal("7654321.09")
TARGET_RD = Decimal("765432.19")
GROUPS = ("zone", "tech_field", "growth_stage", "province")
YEARS = (2022, 2023, 2024, 2025)


def _aggregate_world(engine: Engine) -> dict[str, Any]:
    """Province 甲省 with zones ZA and ZB, 乙省 with ZC. In ZA a target firm is the only one of
    its zone, field (aerospace) and stage (startup) to report for 2024, among five firms that
    reported only for 2023; ZB holds twelve firms reporting both years; in ZC six firms of one
    field report 2024, one of them with nearly all the revenue."""
    with unit_of_work(engine) as s:
        za = factories.zone("ZA", province="甲省")
        zb = factories.zone("ZB", province="甲省")
        zc = factories.zone("ZC", province="乙省")
        s.add_all([za, zb, zc])
        s.flush()
        firms = []
        reports: list[tuple[int, int, Decimal, Decimal | None]] = []  # (firm, year, revenue, rd)

        def firm(zone_id: int, field: str, stage: str) -> int:
            made = factories.enterprise(
                len(firms) + 1, zone_id=zone_id, tech_field=field, growth_stage=stage
            )
            s.add(made)
            s.flush()
            firms.append(made.id)
            return made.id

        target = firm(za.id, "aerospace", "startup")
        reports.append((target, 2024, TARGET_REVENUE, TARGET_RD))
        for i in range(5):
            other = firm(za.id, "aerospace", "startup")
            reports.append((other, 2023, Decimal(2_000_000 + 1000 * i), None))
        expected: dict[str, Decimal] = {}
        for i in range(12):
            field = ("electronic_information", "bio_medicine")[i % 2]
            other = firm(zb.id, field, ("growth", "stable")[i % 2])
            value = Decimal("1000000.00") + Decimal("37000.13") * i
            reports.append((other, 2024, value, value / 10))
            reports.append((other, 2023, value - 1, None))
            expected[field] = expected.get(field, Decimal(0)) + value
        for i in range(6):
            other = firm(zc.id, "new_materials", "growth")
            reports.append((other, 2024, Decimal("90000000.00" if i == 0 else "100000.00"), None))
        s.add_all(
            IndicatorReport(enterprise_id=f, year=y, revenue=r, rd_expense=rd, lineage={})
            for f, y, r, rd in reports
        )
        totals: dict[tuple[int, str], Decimal] = {}
        for _, year, revenue, rd in reports:
            for name, value in (("revenue", revenue), ("rd_expense", rd)):
                if value is not None:
                    totals[(year, name)] = totals.get((year, name), Decimal(0)) + value
        bank = Institution(code="BANK-X", name="某银行", kind="bank", regions_served=[])
        s.add(bank)
        s.flush()
        create_user(
            s,
            username="bank_x",
            password="correct-horse-battery",
            roles=[Role.INSTITUTION_OFFICER],
            org=OrgRef(OrgKind.INSTITUTION, "BANK-X"),
        )
    return {"target": target, "expected": expected, "totals": totals}


def _cells(api: Api, group_by: str, year: int) -> list[dict[str, Any]]:
    response = api.call(
        "bank_x", "GET", f"{V1}/aggregates/enterprises?year={year}&group_by={group_by}"
    )
    assert response.status_code == 200, response.text
    cells: list[dict[str, Any]] = response.json()
    return cells


def test_a_lone_reporter_never_shows_under_any_grouping_or_year(engine: Engine) -> None:
    made = _aggregate_world(engine)
    api = make_api(engine)
    secrets = {"revenue": TARGET_REVENUE, "rd_expense": TARGET_RD}
    tables = {(g, y): _cells(api, g, y) for g, y in itertools.product(GROUPS, YEARS)}
    for (group_by, year), cells in tables.items():
        text = str(cells)
        for value in secrets.values():
            assert str(value) not in text, (group_by, year)
        for name, secret in secrets.items():
            shown = [Decimal(c[name]) for c in cells if c[name] is not None]
            assert secret not in shown, (group_by, year, name)
            # nor by subtraction from the grand total (public, or shown by another grouping)
            total = made["totals"].get((year, name), Decimal(0))
            assert total - sum(shown, Decimal(0)) != secret, (group_by, year, name, cells)
    # by zone, a province's total (shown by province) less its shown zones reveals nothing
    for year, (name, secret) in itertools.product(YEARS, secrets.items()):
        provinces = {c["key"]: c[name] for c in tables[("province", year)]}
        zones = {c["key"]: c[name] for c in tables[("zone", year)]}
        if provinces.get("甲省") is not None:
            rest = Decimal(provinces["甲省"]) - sum(
                (Decimal(zones[z]) for z in ("ZA", "ZB") if zones.get(z) is not None), Decimal(0)
            )
            assert rest != secret, (year, name)
    # the rule is not blind: well-spread cells are shown exactly, a dominated one is not
    by_field = {c["key"]: c for c in tables[("tech_field", 2024)]}
    for field, total in made["expected"].items():
        assert Decimal(by_field[field]["revenue"]) == total
    assert by_field["new_materials"]["revenue"] is None  # one firm holds ~99 %
    assert by_field["aerospace"]["enterprises"] == 6 and by_field["aerospace"]["revenue"] is None
