"""The pages' browser libraries are installed where innofin serves them from (`make setup`
copies them from the npm packages that package-lock.json pins), and the pages name no other
host."""

from __future__ import annotations

import json
import re
from pathlib import Path

from innofin.web.app import STATIC

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = STATIC.parent / "templates"


def test_the_pinned_libraries_are_installed() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = {
        k.removeprefix("node_modules/"): v["version"] for k, v in lock["packages"].items() if k
    }
    assert pinned["htmx.org"].startswith("2.") and pinned["echarts"]
    assert all("resolved" not in v for v in lock["packages"].values())  # no download address
    for name, marker in (("htmx.min.js", "htmx"), ("echarts.min.js", "echarts")):
        path = STATIC / "vendor" / name
        assert path.exists(), f"{path} is missing: run `make setup` (npm ci copies it there)"
        assert marker in path.read_text(encoding="utf-8", errors="replace")[:5000].lower()


def test_templates_load_only_from_this_server() -> None:
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for url in re.findall(r'(?:src|href|action)="([^"{]+)', text):
            assert url.startswith(("/", "?", "#")) and not url.startswith("//"), f"{path}: {url}"
