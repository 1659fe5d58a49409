"""Headless Chromium for the page tests: Debian's `chromium` driven by Playwright with
`executable_path` (Playwright's own browser is never downloaded), and a page whose requests to any
host but the server are refused and recorded, so a page that needs a CDN fails here as it would
on an isolated network. Screenshots go to INNOFIN_TEST_ARTEFACTS (default `test-artefacts/`).
`.ci/run` installs Chromium and sets INNOFIN_TEST_REQUIRE_CHROMIUM, so there the tests run."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("INNOFIN_TEST_CHROMIUM") or shutil.which("chromium")
ARTEFACTS = Path(os.environ.get("INNOFIN_TEST_ARTEFACTS") or ROOT / "test-artefacts")
NO_CHROMIUM = "Debian's chromium is not installed (apt-get install chromium)"
REQUIRED = bool(os.environ.get("INNOFIN_TEST_REQUIRE_CHROMIUM"))
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not REQUIRED, reason=NO_CHROMIUM)


@contextmanager
def chromium() -> Iterator[Any]:
    assert CHROMIUM is not None, NO_CHROMIUM
    if REQUIRED:
        import playwright.sync_api as sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        # root in a container has no user namespaces for Chromium's sandbox
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """`app` under uvicorn on a free port of 127.0.0.1, in this process; yields its base URL."""
    import uvicorn

    from live_server import free_port

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Visit:
    """A browser context (its own cookies) whose requests to any host but the server are
    refused and recorded, with the page's script errors and console messages."""

    def __init__(self, browser: Any, server: str, width: int = 1280, height: int = 900) -> None:
        self.base = server
        self.server = urlsplit(server).netloc
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))

    def _route(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss"):
            self.requests.append(url)
            if parts.netloc != self.server:
                self.elsewhere.append(url)
                route.abort()
                return
        route.continue_()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path, wait_until="networkidle")

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        folder = ARTEFACTS / "pages"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_clean(self) -> None:
        """Nothing was asked of another host; no script error; no console error (a refused
        asset or a Content-Security-Policy violation shows there)."""
        assert self.elsewhere == [], f"requests to other hosts: {self.elsewhere}"
        assert self.errors == [], self.errors
        problems = [m for m in self.console if m.startswith("error")]
        assert problems == [], problems

    def close(self) -> None:
        self.context.close()
