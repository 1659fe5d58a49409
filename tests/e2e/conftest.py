"""Fixtures of the browser tests: one Chromium and one live server of the API world per test
process (session scope), shared by every browser test so the suite stays fast."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from api_world import Clock, World, build_world
from browser import chromium, serve_in_thread


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@dataclass
class Site:
    url: str
    world: World
    engine: Any  # the site's database, for tests that look behind the pages


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The API world (every role, two provinces, scoring, ledger) on SQLite, served with its
    pages on a loopback port of this process. Tests read it; those that write use rows of
    their own."""
    from innofin.api.app import create_app
    from innofin.db import make_engine, migrate
    from innofin.kernel.settings import Settings

    url = f"sqlite:///{tmp_path_factory.mktemp('site') / 'site.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    world = build_world(engine)
    app = create_app(
        engine, Settings(database_url=url, secret_key="k" * 40, api_threads=4), Clock()
    )
    try:
        with serve_in_thread(app) as base:
            yield Site(base, world, engine)
    finally:
        engine.dispose()
