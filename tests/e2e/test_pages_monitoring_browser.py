"""The monitoring pages in a real browser (headless Chromium, the session's live server on the
test world): a programme's dashboard with its ECharts charts and report downloads, in Chinese
and English; a bank's view of its own figures beside the other institutions' anonymous ones; a
zone officer's zone. Screenshots go to `test-artefacts/pages/monitoring-*.png`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from test_pages_browser import sign_in

import ledger_world as lw
from browser import Visit, needs_chromium
from innofin.db import unit_of_work
from innofin.ledger.loans import service as ledger
from innofin.monitoring import records

pytestmark = [pytest.mark.slow, needs_chromium]


def _charts(visit: Visit) -> int:
    """Charts ECharts drew (an SVG in each chart box)."""
    count: int = visit.page.locator("[data-chart] svg").count()
    return count


def _lend_under_the_programme(site: Any) -> None:
    """Bank A lends to e1 under programme 甲 (a line naming the programme), a drawdown a month
    from March 2024 to August 2025, so the dashboard has a series to chart and forecast."""
    ids = site.world.ids
    with unit_of_work(site.engine) as s:
        spec = ledger.LineSpec(
            institution_id=ids["a"], external_ref="LINE-MONITOR-JIA", enterprise_id=ids["e1"],
            limit_amount=Decimal("900000000.00"), opens_on=dt.date(2024, 1, 1),
            matures_on=dt.date(2030, 12, 31), rate=Decimal("0.0345"),
            programme_id=ids["prg_jia"],
        )  # fmt: skip
        line_id = ledger.propose_line(s, lw.MAKER, spec).entity_id
        ledger.approve_line(s, lw.CHECKER, line_id)
        for k in range(18):
            month = 3 + k
            day = dt.date(2024 + (month - 1) // 12, (month - 1) % 12 + 1, 10)
            ledger.draw(
                s, lw.MAKER, line_id, amount=Decimal(2_000_000 + 150_000 * k), drawn_on=day,
                external_ref=f"LOAN-MONITOR-{k}", months=36,
            )  # fmt: skip
    records.forget()  # the pages' kept reading of the ledger


def test_a_programme_dashboard_and_its_report(browser: Any, site: Any) -> None:
    programme = site.world.ids["prg_jia"]
    _lend_under_the_programme(site)
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "province")
        visit.goto("/monitoring")
        visit.page.locator(f'a[href="/monitoring/programmes/{programme}"]').click()
        visit.page.wait_for_load_state("networkidle")
        assert visit.page.url == f"{site.url}/monitoring/programmes/{programme}"
        assert "PRG-JIA" in visit.page.get_by_role("heading", level=1).inner_text()
        assert visit.page.get_by_role("heading", name="目标", exact=True).count() == 1
        assert _charts(visit) >= 1
        visit.screenshot("monitoring-programme.png")
        visit.assert_clean()
        links = visit.page.locator("nav.downloads a")
        assert links.count() == 6
        for fmt, kind in (("xlsx", "spreadsheetml"), ("pdf", "application/pdf")):
            answer = visit.page.request.get(
                f"{site.url}/monitoring/programmes/{programme}/report/{fmt}?lang=zh"
            )
            assert answer.status == 200 and kind in answer.headers["content-type"]
            assert len(answer.body()) > 1000
        visit.page.get_by_role("button", name="English").click()
        visit.page.wait_for_load_state("networkidle")
        visit.goto(f"/monitoring/programmes/{programme}")
        assert visit.page.get_by_role("heading", name="Targets", exact=True).count() == 1
        assert _charts(visit) >= 1
        visit.screenshot("monitoring-programme-en.png")
        visit.assert_clean()
    finally:
        visit.close()


def test_a_bank_sees_its_figures_and_the_others_only_together(browser: Any, site: Any) -> None:
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "bank_a")
        visit.goto(f"/monitoring/institutions/{site.world.ids['a']}")
        assert visit.page.get_by_role("heading", level=1).inner_text().startswith("甲银行")
        body = visit.page.locator("main").inner_text()
        assert "其他机构分技术领域（匿名）" in body and "乙银行" not in body
        assert _charts(visit) == 1
        visit.screenshot("monitoring-institution.png")
        visit.goto(f"/monitoring/programmes/{site.world.ids['prg_jia']}")
        assert visit.page.locator("nav.downloads").count() == 0  # reports: the programme offices
        visit.screenshot("monitoring-programme-bank.png")
        visit.assert_clean()
    finally:
        visit.close()


def test_a_zone_officer_sees_its_zone(browser: Any, site: Any) -> None:
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "zone")
        visit.goto(f"/monitoring/zones/{site.world.ids['z1']}")
        assert "甲高新区" in visit.page.get_by_role("heading", level=1).inner_text()
        assert visit.page.get_by_role("table").count() >= 2
        visit.screenshot("monitoring-zone.png")
        visit.assert_clean()
    finally:
        visit.close()


def test_a_scenario_run_from_its_form(browser: Any, site: Any) -> None:
    """A provincial officer opens 甲's scenarios (the dashboard links them: test_pages_scenarios),
    runs one from the form and reads its band: three charts drawn and a row a month; the same
    pages in English."""
    programme = site.world.ids["prg_jia"]
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "province")
        visit.goto(f"/monitoring/programmes/{programme}/scenarios")
        assert visit.page.get_by_role("heading", name="运行情景").count() == 1
        visit.page.get_by_label("风险补偿分担比例（%）").fill("50")
        visit.page.get_by_label("年度额度（万元）").fill("800")
        visit.page.get_by_label("预测期（12–36个月）").fill("12")
        visit.page.get_by_label("模拟路径数（100–20000）").fill("200")
        visit.page.get_by_label("随机种子（留空：随机抽取）").fill("11")
        visit.page.get_by_role("button", name="运行此情景").click()
        visit.page.wait_for_url(f"{site.url}/monitoring/scenarios/*", wait_until="networkidle")
        assert "情景运行" in visit.page.get_by_role("heading", level=1).inner_text()
        assert visit.page.get_by_role("heading", name="预计余额").count() == 1
        assert _charts(visit) == 3
        table = visit.page.locator("table.scenario-band")
        assert table.locator("tbody tr").count() == 12
        levers = visit.page.get_by_role("table").nth(0).inner_text()
        assert "50.0 %" in levers and "本次运行" in levers and "基线" in levers
        visit.screenshot("monitoring-scenario.png")
        visit.assert_clean()
        run_path = visit.page.url.removeprefix(site.url)
        visit.page.get_by_role("button", name="English").click()
        visit.page.wait_for_load_state("networkidle")
        visit.goto(run_path)
        for name in ("Levers", "Projected balance", "Defaults in the month"):
            assert visit.page.get_by_role("heading", name=name).count() == 1, name
        assert "P5" in table.locator("thead").inner_text()
        assert _charts(visit) == 3
        visit.screenshot("monitoring-scenario-en.png")
        visit.goto(f"/monitoring/programmes/{programme}/scenarios")
        assert visit.page.get_by_label("Risk-compensation share (%)").count() == 1
        assert visit.page.get_by_role("button", name="Run the scenario").count() == 1
        visit.assert_clean()
        visit.page.get_by_role("button", name="中文").click()  # the session's site stays Chinese
        visit.page.wait_for_load_state("networkidle")
    finally:
        visit.close()
