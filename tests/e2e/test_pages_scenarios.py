"""The scenario pages' form and run page: an officer who runs programme 甲 runs a scenario from
the form (levers in per cent and 万元, horizon, paths, seed) and the run is stored as the API
would store it — the same levers, assumptions and seed, so the same figures —; the run page shows
the projection's band around the median month by month, each column in one unit; what the API
refuses the form refuses (a role, a programme not run, a horizon out of range, a form without the
visitor's CSRF token) and then stores nothing; the same form sent twice runs once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api_world import PASSWORD, World, build_world, make_api
from innofin.monitoring.scenarios.models import ScenarioRun

BASE = "http://127.0.0.1"


class Visitor:
    def __init__(self, app: Any, who: str) -> None:
        self.client = TestClient(app, base_url=BASE, follow_redirects=False)
        answer = self.client.post(
            "/sign-in",
            data={"username": who, "password": PASSWORD, "csrf": self.token("/sign-in")},
        )
        assert answer.status_code == 303, answer.text[:300]

    def token(self, path: str = "/") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert found
        return found[1]

    def post(self, path: str, data: dict[str, Any], csrf: bool = True) -> Any:
        form = {**({"csrf": self.token()} if csrf else {}), **data}
        return self.client.post(path, data=form, headers={"Origin": BASE})

    def get(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        return str(answer.text)


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[World, Any]]:
    w = build_world(engine)
    yield w, make_api(engine)


def _runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ScenarioRun)) or 0)


FORM = {
    "risk_share_pct": "45",
    "rate_cap_pct": "5.5",
    "quota_wan": "1,200",
    "key_list_size": "40",
    "months": "18",
    "paths": "200",
    "seed": "7",
    "name": "压力测试",
}


def _cells(html: str) -> list[list[str]]:
    """The projection table's rows, as the texts of their cells."""
    table = html.split('class="scenario-band"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_an_officer_runs_a_scenario_from_the_form(world: tuple[World, Any], engine: Engine) -> None:
    w, api = world
    jia, yi = w.ids["prg_jia"], w.ids["prg_yi"]
    path = f"/monitoring/programmes/{jia}/scenarios"
    province = Visitor(api.app, "province")
    before = _runs(engine)
    # refused as the API refuses, and nothing stored: a zone officer may not run scenarios, a
    # province not 乙 (not seen), a horizon past 36 months, a lever that is not a number, and
    # a form without the visitor's CSRF token
    assert Visitor(api.app, "zone").post(path, FORM).status_code == 403
    assert province.post(f"/monitoring/programmes/{yi}/scenarios", FORM).status_code == 404
    assert province.post(path, {**FORM, "months": "40"}).status_code == 400
    assert province.post(path, {**FORM, "quota_wan": "lots"}).status_code == 400
    assert province.post(path, FORM, csrf=False).status_code == 403
    assert _runs(engine) == before
    page = province.get(path)
    assert "运行情景" in page and 'name="risk_share_pct"' in page
    once = re.search(r'name="once" value="([^"]+)"', page)
    assert once
    made = province.post(path, {**FORM, "once": once[1]})
    assert made.status_code == 303, made.text[:300]
    run_path = made.headers["location"]
    run_id = int(run_path.rsplit("/", 1)[1])
    again = province.post(path, {**FORM, "once": once[1]})  # the same form sent again
    assert again.status_code == 303 and again.headers["location"] == path
    assert _runs(engine) == before + 1
    with Session(engine) as s:
        row = s.get_one(ScenarioRun, run_id)
    assert row.levers == {
        "risk_share": 0.45, "rate_cap": 0.055, "quota": 12_000_000.0, "key_list_size": 40,
    }  # fmt: skip
    assert (row.months, row.paths, row.seed, row.name) == (18, 200, 7, "压力测试")
    assert row.created_by.endswith("province")
    # the API reads the same run: the page's table is its band, month by month
    api_run = province.client.get(f"/api/v1/monitoring/scenarios/{run_id}").json()
    html = province.get(run_path)
    for label in ("预计余额", "中位数", "第5百分位", "第95百分位", "本次运行", "基线"):
        assert label in html, label
    assert html.count("data-chart=") == 3
    rows = _cells(html)
    assert len(rows) == 18 == len(api_run["projection"])
    header = html.split('class="scenario-band"', 1)[1].split("</thead>", 1)[0]
    units = re.findall(r'<span class="unit">（(.*?)）</span>', header)
    assert len(units) == 10  # new lending, then low, median and high of three figures
    factor = {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)}
    for month, cells in zip(api_run["projection"], rows, strict=True):
        assert cells[0] == month["month_end"]
        keys = ["new_lending"] + [
            f"{k}_{edge}"
            for k in ("balance", "defaults", "payouts")
            for edge in ("low", "median", "high")
        ]
        for key, unit, text in zip(keys, units, cells[1:], strict=True):
            shown = Decimal(text.replace(",", "")) * factor[unit]
            assert abs(shown - Decimal(month[key])) <= factor[unit] / 100, (key, text)
        assert Decimal(month["balance_low"]) <= Decimal(month["balance_median"])
        assert Decimal(month["balance_median"]) <= Decimal(month["balance_high"])
    # the stored runs list it with its seed and who ran it
    listed = province.get(path)
    assert f'href="/monitoring/scenarios/{run_id}"' in listed and "压力测试" in listed
    # an officer who reads but does not run 甲 sees the runs without the form
    zone_view = Visitor(api.app, "zone").get(path)
    assert f'href="/monitoring/scenarios/{run_id}"' in zone_view
    assert 'name="risk_share_pct"' not in zone_view


def test_the_dashboard_links_its_scenarios_for_officers_only(world: tuple[World, Any]) -> None:
    w, api = world
    dashboard = f"/monitoring/programmes/{w.ids['prg_jia']}"
    link = f'href="/monitoring/programmes/{w.ids["prg_jia"]}/scenarios"'
    assert link in Visitor(api.app, "zone").get(dashboard)
    assert link not in Visitor(api.app, "bank_a").get(dashboard)


def test_the_run_page_in_english(world: tuple[World, Any]) -> None:
    w, api = world
    admin = Visitor(api.app, "admin")
    admin.post("/language", {"lang": "en", "next": "/"})
    html = admin.get(f"/monitoring/scenarios/{w.ids['scenario_jia']}")
    for label in ("Projected balance", "Median", "P5", "P95", "Baseline", "Projection by month"):
        assert label in html, label
    assert "预计余额" not in html
