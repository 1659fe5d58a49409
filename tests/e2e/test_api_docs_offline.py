"""The API's documentation pages render offline: headless Chromium (Debian's `chromium`, driven
by Playwright with `executable_path`; Playwright's own browser is never downloaded) opens /docs
and /redoc from a real server, and every request the browser makes goes to that server.

Requests to any other host are refused and logged, so a page that needs a CDN or a font server
fails here as it would on an isolated network (the browser, the server in a thread and the
recording page are the page tests' own, `tests/browser.py`). Screenshots are kept in
INNOFIN_TEST_ARTEFACTS/pages (default `test-artefacts/` in the repository). Skips when Chromium
or Playwright is absent; `.ci/run` installs Chromium.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator

import pytest

from browser import Visit, needs_chromium, serve_in_thread
from innofin.db import make_engine, migrate
from innofin.kernel.settings import Settings
from innofin.server.app import create_app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API on a free port of 127.0.0.1, on a fresh SQLite database, in this process."""
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'docs.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    try:
        with serve_in_thread(create_app(engine, Settings(database_url=url, api_threads=4))) as base:
            yield base
    finally:
        engine.dispose()


@pytest.mark.slow
@needs_chromium
def test_swagger_ui_lists_the_operations_offline(server: str, browser: object) -> None:
    visit = Visit(browser, server, height=1600)
    try:
        visit.page.goto(f"{server}/docs", wait_until="networkidle")
        visit.page.wait_for_selector(".opblock-summary", timeout=30_000)
        operations = visit.page.locator(".opblock").count()
        shot = visit.screenshot("docs-swagger-ui.png", full_page=False)
        assert operations >= 60  # every operation of the API, listed
        assert visit.page.get_by_text("Liveness").count() >= 1
        assert visit.elsewhere == [], f"requests to other hosts: {visit.elsewhere}"
        assert visit.errors == []
        assert any(u.endswith("/docs-assets/swagger-ui-bundle.js") for u in visit.requests)
        assert shot.stat().st_size > 10_000
    finally:
        visit.context.close()


@pytest.mark.slow
@needs_chromium
def test_redoc_renders_offline(server: str, browser: object) -> None:
    visit = Visit(browser, server, height=1600)
    try:
        visit.page.goto(f"{server}/redoc", wait_until="networkidle")
        visit.page.wait_for_selector(".api-content h2", timeout=60_000)
        sections = visit.page.locator(".api-content h2").count()
        shot = visit.screenshot("docs-redoc.png", full_page=False)
        assert sections >= 60  # one heading per operation
        assert visit.page.locator(".menu-content").get_by_text("Liveness").count() >= 1
        assert visit.elsewhere == [], f"requests to other hosts: {visit.elsewhere}"
        assert visit.errors == []
        assert any(u.endswith("/docs-assets/redoc.standalone.js") for u in visit.requests)
        assert shot.stat().st_size > 10_000
    finally:
        visit.context.close()


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_name_no_other_host(server: str, path: str) -> None:
    """Without a browser: the page loads its scripts, styles and icon from this server, and its
    Content-Security-Policy lets the browser load nothing from anywhere else."""
    status, headers, body = _get(server + path)
    assert status == 200
    page = body.decode()
    loaded = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', page)
    assert loaded and all(u.startswith("/docs-assets/") for u in loaded), loaded
    assert "fonts.googleapis" not in page and "cdn." not in page
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "http" not in policy
    for asset in loaded:
        assert _get(server + asset)[0] == 200
