"""Referrals in a real browser (headless Chromium, the session's one browser and live server): an
enterprise refers its need to a recommended bank with its consent, the bank declines it with a
reason code from its inbox, and the enterprise sees the reason in its words and the re-match the
decline led to. Screenshots of each page go to `test-artefacts/pages/`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from test_pages_browser import sign_in

from browser import Visit, needs_chromium
from innofin.db import unit_of_work
from innofin.matching.models import FinancingNeed, NeedReferral

pytestmark = [pytest.mark.slow, needs_chromium]


def _need(site: Any) -> int:
    """A need of e1 of its own (the site is shared by the browser tests)."""
    with unit_of_work(site.engine) as s:
        row = FinancingNeed(
            enterprise_id=site.world.ids["e1"],
            amount=Decimal("3000000.00"),
            term_months=12,
            purpose="working_capital",
            collateral_offered=["ip_pledge"],
            needed_by=dt.date(2026, 6, 30),
            posted_at=dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC),
        )
        s.add(row)
        s.flush()
        return row.id


def _referrals(site: Any, need_id: int) -> list[Any]:
    with site.engine.connect() as conn:
        stmt = select(NeedReferral).where(NeedReferral.need_id == need_id)
        return list(conn.execute(stmt.order_by(NeedReferral.id)).all())


def test_a_firm_refers_a_bank_declines_the_firm_sees_why_and_the_rematch(
    browser: Any, site: Any
) -> None:
    need_id = _need(site)
    firm = Visit(browser, site.url)
    sign_in(firm, "firm")
    firm.goto(f"/needs/{need_id}")
    firm.page.get_by_label("甲银行", exact=True).check()
    firm.page.get_by_label("企业同意向所勾选的金融机构共享其数据。").check()
    firm.screenshot("referral-need-form.png")
    firm.page.get_by_role("button", name="推荐", exact=True).click()
    firm.page.wait_for_load_state("networkidle")
    [sent] = _referrals(site, need_id)
    assert sent.institution_id == site.world.ids["a"] and sent.status == "referred"
    row = firm.page.locator(f"#referral-{sent.id}")
    assert "待答复" in row.inner_text()
    firm.assert_clean()

    bank = Visit(browser, site.url)
    sign_in(bank, "bank_a")
    bank.goto("/referrals")
    mine = bank.page.locator(f"#referral-{sent.id}")
    mine.get_by_text("拒绝…").click()  # the decline form opens under its summary
    mine.get_by_label("理由").select_option("amount_too_large")
    bank.screenshot("referral-inbox.png")
    mine.get_by_role("button", name="拒绝").click()
    bank.page.wait_for_load_state("networkidle")
    declined = {r.id: r for r in _referrals(site, need_id)}[sent.id]
    assert declined.status == "declined" and declined.decline_code == "amount_too_large"
    bank.assert_clean()
    bank.close()

    firm.goto(f"/needs/{need_id}")
    shown = firm.page.locator(f"#referral-{sent.id}").inner_text()
    assert "已拒绝" in shown and "金额过大" in shown
    rematched = [r for r in _referrals(site, need_id) if r.rematch_of_id == sent.id]
    assert rematched, "a decline re-matches the need"
    assert firm.page.locator(f"#referral-{rematched[0].id}").count() == 1
    firm.screenshot("referral-declined-rematch.png")
    firm.assert_clean()
    firm.close()
