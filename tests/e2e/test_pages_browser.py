"""The pages in a real browser (headless Chromium): sign-in for every role, what an enterprise
sees of its own points, the language switch changing every visible label, and no request to any
host but the server. Screenshots of each page are kept in `test-artefacts/pages/`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from api_world import CALLERS, KEY_LIST, PASSWORD
from browser import Visit, needs_chromium
from innofin.access.policy import may
from innofin.web.nav import NAV

pytestmark = [pytest.mark.slow, needs_chromium]

#: the home page's role tag of each caller (Chinese)
ROLE_TAGS = {
    "admin": "平台管理员",
    "national": "项目主管部门人员",
    "province": "项目主管部门人员",
    "zone": "园区管理人员",
    "bank_a": "金融机构人员",
    "bank_b": "金融机构人员",
    "firm": "企业用户",
}
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

#: the visible texts of a page that are not data: text nodes outside elements marked
#: translate="no" (data: names, codes, numbers), plus the labels assistive technology reads
LABELS_JS = """() => {
  const out = [];
  const skip = (e) => !e || e.closest('[translate="no"], script, style, noscript');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, text = node.textContent.trim();
    if (!text || skip(node.parentElement)) continue;
    const style = getComputedStyle(node.parentElement);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    out.push(text);
  }
  for (const e of document.querySelectorAll('[aria-label], [placeholder], [title]')) {
    if (skip(e)) continue;
    for (const a of ['aria-label', 'placeholder', 'title']) {
      if (e.getAttribute(a)) out.push(e.getAttribute(a).trim());
    }
  }
  out.push(document.title);
  return out;
}"""


#: what assistive technology and keyboards need, checked on every page: one h1; every form
#: control with a label; every button and link with a name; text contrast of at least 4.5:1
#: (WCAG AA) against the first opaque background behind it
ACCESSIBILITY_JS = """() => {
  const problems = [];
  if (document.querySelectorAll('h1').length !== 1) problems.push('h1 count');
  for (const c of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const named = (c.id && document.querySelector(`label[for="${c.id}"]`)) || c.closest('label')
      || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby');
    if (!named) problems.push('unlabelled ' + (c.name || c.outerHTML.slice(0, 60)));
  }
  for (const b of document.querySelectorAll('button, a[href]')) {
    if (!(b.innerText || b.getAttribute('aria-label') || '').trim()) {
      problems.push('nameless ' + b.outerHTML.slice(0, 60));
    }
  }
  const rgb = (t) => (t.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const e = walker.currentNode.parentElement;
    const text = walker.currentNode.textContent.trim();
    if (!text || !e || e.closest('.chart, script, .skip, .sr')) continue;
    const style = getComputedStyle(e);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)}: ${text.slice(0, 30)}`);
  }
  return problems;
}"""


def assert_accessible(visit: Visit) -> None:
    problems: list[str] = visit.page.evaluate(ACCESSIBILITY_JS)
    assert problems == [], problems
    visit.page.keyboard.press("Tab")  # the first stop of the keyboard: the skip link
    assert visit.page.evaluate("document.activeElement.className") == "skip"


def sign_in(visit: Visit, who: str) -> None:
    visit.goto("/sign-in")
    visit.page.get_by_label("用户名").fill(who)
    visit.page.get_by_label("密码").fill(PASSWORD)
    visit.page.get_by_role("button", name="登录").click()
    visit.page.wait_for_url(visit.base + "/", wait_until="networkidle")


def labels(visit: Visit) -> list[str]:
    texts: list[str] = visit.page.evaluate(LABELS_JS)
    return texts


def test_every_role_signs_in_and_sees_its_menu(browser: Any, site: Any) -> None:
    for who in CALLERS:
        visit = Visit(browser, site.url)
        try:
            sign_in(visit, who)
            page = visit.page
            assert page.get_by_role("heading", level=1).inner_text() == "下一步工作"
            assert ROLE_TAGS[who] in page.locator(".lead").inner_text()
            menu = page.get_by_role("navigation", name="主菜单")
            shown = menu.get_by_role("link").all_inner_texts()
            assert len(shown) == sum(may(_principal(site, who), item.action) for item in NAV)
            visit.screenshot(f"home-{who}.png")
            visit.assert_clean()
            page.get_by_role("button", name="退出登录").click()
            page.wait_for_url(re.compile(r".*/sign-in$"))
        finally:
            visit.close()


def _principal(site: Any, who: str) -> Any:
    from innofin.access.service import principal_for

    with site.engine.connect() as conn:
        return principal_for(conn, site.world.ids[f"user:{who}"])


def test_the_sign_in_page_in_both_languages(browser: Any, site: Any) -> None:
    visit = Visit(browser, site.url)
    try:
        visit.goto("/sign-in")
        visit.screenshot("sign-in.png")
        assert_accessible(visit)
        zh = labels(visit)
        visit.page.get_by_role("button", name="English").click()
        visit.page.wait_for_load_state("networkidle")
        en = labels(visit)
        visit.screenshot("sign-in-en.png")
        assert_translated(zh, en)
        visit.assert_clean()
    finally:
        visit.close()


def assert_translated(zh: list[str], en: list[str]) -> None:
    """Every label changed: the same number of texts, none of the English one in Chinese
    script, and each Chinese text different from its English one (unless it has no letters)."""
    assert len(zh) == len(en), (zh, en)
    assert not [t for t in en if CJK.search(t)], [t for t in en if CJK.search(t)]
    same = [a for a, b in zip(zh, en, strict=True) if a == b and re.search(r"[A-Za-z]", a)]
    assert not same, same


def pages_of(site: Any) -> list[tuple[str, str]]:
    """Every page of an officer, as (screenshot name, path)."""
    ids = site.world.ids
    return [
        ("home", "/"),
        ("enterprises", "/enterprises"),
        ("enterprise-profile", f"/enterprises/{ids['e1']}"),
        ("scoring-runs", "/scoring/runs"),
        ("key-lists", "/key-lists"),
        ("key-list", f"/key-lists/{KEY_LIST}"),
        ("zone-ranking", "/zone-rankings"),
        ("needs", "/needs"),
        ("need", f"/needs/{ids['need_e1']}"),
        ("institution-matches", f"/institutions/{ids['a']}/matches"),
    ]


def open_page(visit: Visit, path: str) -> None:
    visit.goto(path)
    charts = visit.page.locator("[data-chart]")
    for k in range(charts.count()):  # ECharts drew into each chart box
        charts.nth(k).locator("svg").first.wait_for(timeout=10_000)


def test_every_page_in_chinese_and_then_in_english(browser: Any, site: Any) -> None:
    """Each page is screenshot in both languages; the switch changes every visible label (the
    page's own texts, not its data), and no page asks another host for anything."""
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "admin")
        chinese = {}
        for name, path in pages_of(site):
            open_page(visit, path)
            assert visit.page.locator("html").get_attribute("lang") == "zh-CN"
            chinese[name] = labels(visit)
            visit.screenshot(f"{name}.png")
            assert_accessible(visit)
        visit.page.get_by_role("button", name="English").click()
        visit.page.wait_for_load_state("networkidle")
        for name, path in pages_of(site):
            open_page(visit, path)
            assert visit.page.locator("html").get_attribute("lang") == "en"
            assert_translated(chinese[name], labels(visit))
            visit.screenshot(f"{name}-en.png")
        visit.assert_clean()
        served = {urlsplit(u).path for u in visit.requests}
        assert {"/static/vendor/htmx.min.js", "/static/vendor/echarts.min.js"} <= served
    finally:
        visit.close()


def test_an_enterprise_sees_its_breakdown_and_improvements(browser: Any, site: Any) -> None:
    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "firm")
        visit.page.get_by_role("link", name="查看本企业创新积分").click()
        visit.page.wait_for_load_state("networkidle")
        page = visit.page
        assert page.get_by_role("heading", level=1).inner_text() == "甲一科技"
        improvements = page.locator("ol.improvements > li")
        assert improvements.count() == 3
        gains = [float(t.strip("+")) for t in improvements.locator(".value").all_inner_texts()]
        assert gains == sorted(gains, reverse=True) and gains[-1] > 0
        breakdown = page.locator(
            "table", has=page.locator("caption", has_text="积分构成及同类对标")
        )
        assert breakdown.locator("tbody tr").count() >= 10
        page.locator("#breakdown svg").first.wait_for()
        visit.screenshot("enterprise-profile-firm.png")
        visit.assert_clean()
        visit.goto(f"/enterprises/{site.world.ids['e2']}")  # another enterprise: as if absent
        assert page.get_by_role("heading", level=1).inner_text() == "未找到"
    finally:
        visit.close()


def test_on_a_phone(browser: Any, site: Any) -> None:
    """At 390 px the pages fit the screen's width (wide tables scroll inside their box)."""
    visit = Visit(browser, site.url, width=390, height=844)
    try:
        sign_in(visit, "zone")
        for name, path in pages_of(site)[:3]:
            open_page(visit, path)
            width = visit.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
            visit.screenshot(f"{name}-phone.png")
        visit.assert_clean()
    finally:
        visit.close()


def test_the_enterprise_filters_update_the_list_in_place(browser: Any, site: Any) -> None:
    from playwright.sync_api import expect

    visit = Visit(browser, site.url)
    try:
        sign_in(visit, "admin")
        open_page(visit, "/enterprises")
        page = visit.page
        rows = page.locator("#results tbody tr")
        assert rows.count() == 3
        page.get_by_label("名称或统一社会信用代码").fill("甲")
        page.wait_for_url(re.compile(r".*/enterprises\?q=%E7%94%B2(&.*)?$"))
        expect(rows).to_have_count(2)
        page.get_by_label("名称或统一社会信用代码").fill(site.world.codes["e3"])
        expect(rows).to_have_count(1)
        assert "乙三科技" in rows.first.inner_text()
        page.go_back()  # the Back button shows the whole page again, with the earlier results
        expect(page.get_by_role("heading", level=1)).to_have_count(1)
        expect(rows).to_have_count(2)
        page.keyboard.press("Tab")  # the filters are reachable by keyboard, in order
        assert page.evaluate("document.activeElement.id") == "f-zone"
        visit.assert_clean()
    finally:
        visit.close()
