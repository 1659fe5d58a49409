"""The ledger, imports, consents and audit pages in a real browser (headless Chromium, the
session's one browser and live server): a bank officer approves a line another officer of its
bank entered and is refused on its own; an import with a bad row shows that row's error and
writes nothing, a good one is checked and then confirmed; an enterprise confirms a subsidy whose
notice has ended. Screenshots of each of these pages go to `test-artefacts/pages/`; the test of
the pages' tour also writes the small screenshots the README links
(`test-artefacts/pages/docs-*`, which `make screenshots` copies, shrunk, to
`docs/screenshots/`)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from sqlalchemy import func, select
from test_pages_browser import sign_in

from api_world import PASSWORD
from browser import Visit, needs_chromium
from innofin.access.service import OrgRef, create_user
from innofin.db import unit_of_work
from innofin.kernel.codes import OrgKind, Role
from innofin.ledger.models import CreditLine, InterestSubsidy
from innofin.registry.models import Zone

pytestmark = [pytest.mark.slow, needs_chromium]


def _post(site: Any, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        site.url + path, json.dumps(body).encode(), headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _api_line(site: Any, who: str, ref: str) -> int:
    """`who` enters a credit line of bank A to e1 through the API (it is the line's maker)."""
    token = _post(site, "/api/v1/auth/login", {"username": who, "password": PASSWORD})
    body = {
        "institution_id": site.world.ids["a"],
        "external_ref": ref,
        "enterprise_id": site.world.ids["e1"],
        "limit_amount": "3000000.00",
        "opens_on": "2025-01-01",
        "matures_on": "2026-12-31",
        "rate": "0.0345",
    }
    return int(_post(site, "/api/v1/credit-lines", body, token["access_token"])["id"])


def clean_but(visit: Visit, status: str) -> None:
    """Clean, but for the browser's one log line of the expected refusal's status."""
    assert visit.elsewhere == [] and visit.errors == [], (visit.elsewhere, visit.errors)
    assert [m for m in visit.console if m.startswith("error")] == [
        f"error: Failed to load resource: the server responded with a status of {status}"
    ]


def _status(site: Any, model: Any, row_id: int) -> str:
    with site.engine.connect() as conn:
        return str(conn.scalar(select(model.status).where(model.id == row_id)))


def test_a_bank_officer_approves_another_officers_line_not_its_own(browser: Any, site: Any) -> None:
    with unit_of_work(site.engine) as s:  # a second officer of bank A, the other line's maker
        create_user(
            s,
            username="bank_a_maker",
            password=PASSWORD,
            roles=[Role.INSTITUTION_OFFICER],
            org=OrgRef(OrgKind.INSTITUTION, "BANK-A"),
        )
    theirs = _api_line(site, "bank_a_maker", "LINE-BROWSER-THEIRS")
    mine = _api_line(site, "bank_a", "LINE-BROWSER-MINE")
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "bank_a")
        visit.goto("/ledger/credit-lines")
        visit.screenshot("ledger-credit-lines.png")
        row = visit.page.locator(f"#queue-{theirs}")
        row.get_by_role("button", name="批准").click()
        visit.page.wait_for_url(f"{site.url}/ledger/credit-lines/{theirs}")
        assert visit.page.locator("#line-status").inner_text() == "已批准"
        visit.screenshot("ledger-credit-line.png")
        assert _status(site, CreditLine, theirs) == "approved"
        visit.assert_clean()
        visit.goto(f"/ledger/credit-lines/{mine}")
        own = visit.page.locator("p.alert").inner_text()
        assert own == "此授信由您录入：须由本机构其他人员审批。"
        visit.page.get_by_role("button", name="批准").click()
        visit.page.wait_for_load_state("networkidle")
        assert visit.page.get_by_role("heading", level=1).inner_text() == "无权进行此操作"
        visit.screenshot("ledger-own-line-refused.png")
        assert _status(site, CreditLine, mine) == "pending"
        clean_but(visit, "403 (Forbidden)")
    finally:
        visit.close()


def test_an_import_is_checked_then_confirmed_and_a_bad_row_writes_nothing(
    browser: Any, site: Any, tmp_path: Any
) -> None:
    """Upload → the check (every rejected row with row, column, value and reason; nothing
    written, no confirm button) → a good file's check → confirm → imported."""
    head = "code,name_zh,province,city,level\n"
    upload = tmp_path / "zones.csv"
    upload.write_text(
        head + "ZB1,一园,江苏,苏州,national\nZB2,二园,江苏,苏州,galactic\n", encoding="utf-8"
    )
    good = tmp_path / "zones-good.csv"
    good.write_text(
        head + "ZB1,一园,江苏,苏州,national\nZB2,二园,江苏,苏州,provincial\n", encoding="utf-8"
    )
    with site.engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(Zone))
    visit = Visit(browser, site.url)
    page = visit.page
    try:
        sign_in(visit, "admin")
        visit.goto("/imports")
        visit.screenshot("imports.png")
        visit.assert_clean()
        page.get_by_label("文件所含数据").select_option("zones")
        page.get_by_label("文件（UTF-8 或 GBK 编码的 CSV，或 XLSX）").set_input_files(str(upload))
        page.get_by_role("button", name="检查文件").click()
        page.wait_for_load_state("networkidle")
        rows = page.locator("#rejected-rows tbody tr")
        assert rows.count() == 1
        cells = rows.first.locator("td").all_inner_texts()
        assert cells[:3] == ["3", "level", "galactic"], cells
        assert "galactic" in cells[3]
        assert page.get_by_role("button", name="确认并导入").count() == 0
        visit.screenshot("imports-rejected.png")
        with site.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Zone)) == before

        page.get_by_label("文件所含数据").select_option("zones")
        page.get_by_label("文件（UTF-8 或 GBK 编码的 CSV，或 XLSX）").set_input_files(str(good))
        page.get_by_role("button", name="检查文件").click()
        page.wait_for_load_state("networkidle")
        assert "2 行" in page.locator("#import-checked").inner_text()
        visit.screenshot("imports-checked.png")
        with site.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Zone)) == before
        page.get_by_role("button", name="确认并导入").click()
        page.wait_for_load_state("networkidle")
        assert "2" in page.locator("#import-result").inner_text()
        visit.screenshot("imports-confirmed.png")
        clean_but(visit, "422 (Unprocessable Entity)")
    finally:
        visit.close()
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Zone)) == before + 2


def test_an_enterprise_confirms_its_subsidy(browser: Any, site: Any) -> None:
    sub = site.world.ids["sub_confirm"]  # its notice ended on 2026-02-08; the site's day is later
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "firm")
        visit.goto("/ledger/subsidies")
        visit.screenshot("ledger-subsidies.png")
        row = visit.page.locator(f"#subsidy-{sub}")
        row.get_by_role("button", name="确认").click()
        visit.page.wait_for_load_state("networkidle")
        assert visit.page.locator(f"#subsidy-{sub} .status").inner_text() == "已确认"
        assert _status(site, InterestSubsidy, sub) == "confirmed"
        visit.goto("/consents")
        visit.screenshot("consents.png")
        visit.assert_clean()
    finally:
        visit.close()


#: the ledger's read pages an administrator opens, with their screenshots' names
TOUR = (
    ("/ledger", "ledger.png"),
    ("/ledger/programmes", "ledger-programmes.png"),
    ("/ledger/agreements/{ag_jia}", "ledger-agreement.png"),
    ("/ledger/loans/{loan_sub_jia}", "ledger-loan.png"),
    ("/ledger/risk-pools", "ledger-risk-pools.png"),
    ("/ledger/risk-pools/{pool_jia}", "ledger-risk-pool.png"),
    ("/audit?entity=credit_line&entity_id={line_a}", "audit.png"),
)


def test_the_ledger_pages_in_both_languages(browser: Any, site: Any) -> None:
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "admin")
        visit.screenshot("docs-home.png", full_page=False)
        for path, name in TOUR:
            answer = visit.goto(path.format(**site.world.ids))
            assert answer.status == 200, path
            visit.screenshot(name)
        visit.goto(f"/ledger/loans/{site.world.ids['loan_sub_jia']}")
        visit.screenshot("docs-ledger-loan.png", full_page=False)
        visit.goto(f"/enterprises/{site.world.ids['e1']}")
        visit.screenshot("docs-enterprise-profile.png", full_page=False)
        visit.page.get_by_role("button", name="English").click()
        visit.page.wait_for_load_state("networkidle")
        visit.goto("/ledger/credit-lines")
        assert visit.page.get_by_role("heading", level=1).inner_text() == "Credit lines and loans"
        visit.screenshot("ledger-credit-lines-en.png")
        visit.assert_clean()
    finally:
        visit.close()
