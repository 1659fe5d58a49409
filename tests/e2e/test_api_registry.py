"""Registry endpoints as clients use them: exact amounts, pages, filters and sorting, uploads
(GBK, Chinese headers, 万元) with per-row errors, and one error body for every failure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

import factories
from api_world import Api, World, build_world, make_api
from innofin.access.passwords import verify_password
from innofin.access.service import ensure_first_admin
from innofin.db import unit_of_work
from innofin.registry.models import IndicatorReport, User, Zone


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


def test_amounts_travel_as_exact_strings_and_floats_are_refused(
    setup: tuple[World, Api], engine: Engine
) -> None:
    w, api = setup
    path = f"/api/v1/enterprises/{w.ids['e1']}/reports/2025"
    body = {"revenue": "12345678901234.56", "net_profit": "-0.01", "rd_staff": 3, "employees": 9}
    response = api.call("firm", "PUT", path, json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["revenue"] == "12345678901234.56" and out["net_profit"] == "-0.01"
    assert out["lineage"]["revenue"][1] == "2026-03-01"  # the application's clock
    with unit_of_work(engine) as s:
        stored = s.scalar(select(IndicatorReport.revenue).where(IndicatorReport.year == 2025))
    assert str(stored) == "12345678901234.56"
    for bad, field in (
        ({"revenue": 0.1}, "revenue"),  # a JSON number: refused, never read through float
        ({"revenue": "1.234"}, "revenue"),  # more than fen precision: refused, not rounded
        ({"revenue": "-5"}, "revenue"),  # revenue cannot be negative
        ({"rd_staff": 10, "employees": 9}, None),  # more R&D staff than employees
    ):
        refused = api.call("firm", "PUT", path, json=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["code"] == "invalid_request"
        if field:
            assert refused.json()["field"] == field
    # a PUT changes only the fields it names
    api.call("firm", "PUT", path, json={"employees": 12})
    again = api.call("firm", "GET", f"/api/v1/enterprises/{w.ids['e1']}/reports").json()
    latest = next(r for r in again if r["year"] == 2025)
    assert latest["revenue"] == "12345678901234.56" and latest["employees"] == 12


def test_pages_filters_and_sorting(setup: tuple[World, Api], engine: Engine) -> None:
    w, api = setup
    with unit_of_work(engine) as s:
        s.add_all(
            factories.enterprise(10 + i, zone_id=w.ids["z2"], name=f"批量{i:02d}")
            for i in range(30)
        )
    first = api.call("admin", "GET", "/api/v1/enterprises?limit=10&offset=0&sort=-name").json()
    second = api.call("admin", "GET", "/api/v1/enterprises?limit=10&offset=10&sort=-name").json()
    assert first["total"] == second["total"] == 33
    names = [e["name"] for e in first["items"] + second["items"]]
    assert names == sorted(names, reverse=True) and len(set(names)) == 20
    z2 = api.call("admin", "GET", f"/api/v1/enterprises?zone_id={w.ids['z2']}&q=批量0").json()
    assert z2["total"] == 10 and all(e["zone_id"] == w.ids["z2"] for e in z2["items"])
    percent = api.call("admin", "GET", "/api/v1/enterprises?q=%25").json()
    assert percent["total"] == 0  # a literal '%', not a wildcard
    bad_sort = api.call("admin", "GET", "/api/v1/enterprises?sort=password")
    assert bad_sort.status_code == 422 and bad_sort.json()["field"] == "sort"
    typo = api.call("admin", "GET", "/api/v1/enterprises?zone=1")
    assert typo.status_code == 422 and typo.json()["field"] == "zone"


def test_create_and_update_with_clear_errors(setup: tuple[World, Api]) -> None:
    w, api = setup
    body = {
        "identifier": factories.uscc(77),
        "name": "新创科技",
        "zone_id": w.ids["z1"],
        "tech_field": "aerospace",
    }
    created = api.call("zone", "POST", "/api/v1/enterprises", json=body)
    assert created.status_code == 201 and created.json()["identifier"] == factories.uscc(77)
    dup = api.call("zone", "POST", "/api/v1/enterprises", json=body)
    assert dup.status_code == 409 and dup.json()["code"] == "conflict"
    real = factories.uscc(78)
    wrong = real[:-1] + ("1" if real[-1] != "1" else "2")  # a wrong check character
    bad = api.call("zone", "POST", "/api/v1/enterprises", json=body | {"identifier": wrong})
    assert bad.status_code == 400 and bad.json()["field"] == "identifier"
    unknown = api.call(
        "zone",
        "POST",
        "/api/v1/enterprises",
        json=body | {"identifier": factories.uscc(79), "tech_field": "astrology"},
    )
    assert unknown.status_code == 400 and unknown.json()["field"] == "tech_field"
    product = api.call(
        "bank_a", "PATCH", f"/api/v1/products/{w.ids['pa']}", json={"amount_min": "9000000.00"}
    )  # above amount_max: refused by the DB
    assert product.status_code == 409


def test_upload_gbk_chinese_headers_in_wan(setup: tuple[World, Api], engine: Engine) -> None:
    w, api = setup
    header = "统一社会信用代码,年度,营业收入（万元）,研发费用（万元）,从业人员数\n"
    rows = f"{w.codes['e3']},2023,120.5,10.25,30\n"
    files = {"file": ("年度指标.csv", (header + rows).encode("gb18030"), "text/csv")}
    response = api.call(
        "admin",
        "POST",
        "/api/v1/imports/indicators",
        files=files,
        data={"mapping": "indicators-zh"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["written"] == 1 and response.json()["encoding"] == "gb18030"
    reports = api.call("admin", "GET", f"/api/v1/enterprises/{w.ids['e3']}/reports").json()
    assert next(r for r in reports if r["year"] == 2023)["revenue"] == "1205000.00"


def test_upload_with_bad_rows_writes_nothing_and_names_them(
    setup: tuple[World, Api], engine: Engine
) -> None:
    _, api = setup
    csv = (
        "code,name_zh,name_en,province,city,level\n"
        "ZA,好区,Good,丙省,某市,national\n"
        "ZB,坏区,Bad,丙省,某市,galactic\n"
    )
    files = {"file": ("zones.csv", csv.encode(), "text/csv")}
    response = api.call("admin", "POST", "/api/v1/imports/zones", files=files)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "import_rejected"
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "level")]
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Zone).where(Zone.code == "ZA")) == 0
    kept = api.call(
        "admin", "POST", "/api/v1/imports/zones", files=files, data={"skip_invalid": "true"}
    )
    assert kept.status_code == 200 and kept.json()["written"] == 1
    assert kept.json()["errors"][0]["column"] == "level"
    wrong_type = api.call(
        "admin", "POST", "/api/v1/imports/zones", files={"file": ("zones.txt", b"x", "text/plain")}
    )
    assert wrong_type.status_code == 415


def test_error_bodies_are_uniform(setup: tuple[World, Api]) -> None:
    _, api = setup
    for response, status in (
        (api.call("admin", "GET", "/api/v1/nowhere"), 404),
        (api.call("admin", "DELETE", "/api/v1/zones"), 405),
        (api.call("admin", "GET", "/api/v1/enterprises/0"), 422),
        (api.call("anon", "GET", "/api/v1/zones"), 401),
        (api.call("firm", "GET", "/api/v1/users"), 403),
    ):
        assert response.status_code == status
        assert set(response.json()) <= {"code", "message", "field"} and response.json()["message"]
        assert "Traceback" not in response.text
    assert "POST" in api.call("admin", "DELETE", "/api/v1/zones").headers["allow"]


def test_first_run_creates_one_admin(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        password = ensure_first_admin(s)
    assert password is not None and len(password) >= 10
    with unit_of_work(engine) as s:
        assert ensure_first_admin(s) is None  # only once
        admin = s.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and verify_password(admin.password_hash, password)
