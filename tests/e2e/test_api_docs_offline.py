"""The API's documentation pages render offline: headless Chromium (Debian's `chromium`, driven
by Playwright with `executable_path`; Playwright's own browser is never downloaded) opens /docs
and /redoc from a real server, and every request the browser makes goes to that server.

Requests to any other host are refused and logged, so a page that needs a CDN or a font server
fails here as it would on an isolated network. Screenshots are kept in INNOFIN_TEST_ARTEFACTS
(default `test-artefacts/` in the repository). Skips when Chromium or Playwright is absent;
`.ci/run` installs Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from innofin.db import make_engine, migrate
from innofin.kernel.settings import Settings
from innofin.server.app import create_app

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("INNOFIN_TEST_CHROMIUM") or shutil.which("chromium")
ARTEFACTS = Path(os.environ.get("INNOFIN_TEST_ARTEFACTS") or ROOT / "test-artefacts")

NO_CHROMIUM = "Debian's chromium is not installed (apt-get install chromium)"
#: .ci/run sets it: there the browser tests must run
REQUIRED = bool(os.environ.get("INNOFIN_TEST_REQUIRE_CHROMIUM"))
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason=NO_CHROMIUM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API on a free port of 127.0.0.1, on a fresh SQLite database, in this process."""
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'docs.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    app = create_app(engine, Settings(database_url=url, api_threads=4))
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


class Visit:
    """A page whose requests to any host but the server are refused and recorded."""

    def __init__(self, browser: object, server: str) -> None:
        self.server = urlsplit(server).netloc
        self.context = browser.new_context(viewport={"width": 1280, "height": 1600})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))

    def _route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss"):
            self.requests.append(url)
            if parts.netloc != self.server:
                self.elsewhere.append(url)
                route.abort()  # type: ignore[attr-defined]
                return
        route.continue_()  # type: ignore[attr-defined]

    def screenshot(self, name: str) -> Path:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / name
        self.page.screenshot(path=str(path), full_page=False)
        return path


@pytest.mark.slow
@needs_chromium
def test_swagger_ui_lists_the_operations_offline(server: str, browser: object) -> None:
    visit = Visit(browser, server)
    try:
        visit.page.goto(f"{server}/docs", wait_until="networkidle")
        visit.page.wait_for_selector(".opblock-summary", timeout=30_000)
        operations = visit.page.locator(".opblock").count()
        shot = visit.screenshot("docs-swagger-ui.png")
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
    visit = Visit(browser, server)
    try:
        visit.page.goto(f"{server}/redoc", wait_until="networkidle")
        visit.page.wait_for_selector(".api-content h2", timeout=60_000)
        sections = visit.page.locator(".api-content h2").count()
        shot = visit.screenshot("docs-redoc.png")
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
