"""Fixtures: a migrated database per test, on SQLite always and on PostgreSQL when
`INNOFIN_TEST_DATABASE_URL` is set (each PostgreSQL test gets a schema of its own).

With `INNOFIN_TEST_APP_ROLE` set too (CI sets it), a PostgreSQL test's schema is migrated by the
URL's user (the owner) and the test connects as that application role: not a superuser, no
UPDATE, DELETE or TRUNCATE on the append-only tables (`innofin.db.roles`). A test that must act
as the owner (tampering with history below the application) asks for `owner_engine`."""

from __future__ import annotations

import os
import shutil
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy import Engine, make_url, text

from innofin.access import passwords
from innofin.db import make_engine, roles
from innofin.db.migrate import upgrade
from pg_migrations import MigrationReplay

# Argon2 at production cost takes ~0.5 s a hash or a sign-in on this machine; tests hash cheaply
# (tests/unit/test_passwords.py checks that production still hashes at full cost)
passwords.use_test_parameters()

PG_URL = os.environ.get("INNOFIN_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
APP_ROLE = os.environ.get("INNOFIN_TEST_APP_ROLE") if PG_URL else None
#: the application role's engine → the owner's engine on the same schema
_OWNERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
#: migrates each PostgreSQL test's schema (replaying the first schema's migration)
_PG_MIGRATIONS = MigrationReplay()

# Property tests judge behaviour, not speed: no per-example deadline (the machine is shared and
# its timings vary several times over; a test that sets its own settings keeps them).
settings.register_profile("innofin", deadline=None)
settings.load_profile("innofin")


@pytest.fixture(scope="session")
def _app_role() -> str | None:
    """The application role, created once per cluster (other runs may be creating it too)."""
    if APP_ROLE is None:
        return None
    assert PG_URL
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        roles.apply(conn.connection.driver_connection, [roles.create_role(APP_ROLE, app=True)])
    admin.dispose()
    return APP_ROLE


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "innofin.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path


def _sqlite_engine(template: Path, tmp_path: Path) -> Engine:
    target = tmp_path / "innofin.db"
    shutil.copyfile(template, target)
    return make_engine(f"sqlite:///{target}")


@pytest.fixture(params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path, _app_role: str | None
) -> Iterator[Engine]:
    """A freshly migrated, empty database (as the application role, when there is one)."""
    if request.param == "sqlite":
        eng = _sqlite_engine(_sqlite_template, tmp_path)
        yield eng
        eng.dispose()
        return
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = {"options": f"-csearch_path={schema}"}
    eng = make_engine(PG_URL, connect_args=options)
    app = None
    try:
        _PG_MIGRATIONS.migrate(eng)
        if _app_role is not None:
            with eng.begin() as conn:
                roles.apply(conn.connection.driver_connection, roles.grants(_app_role, schema))
            url = make_url(PG_URL).set(username=_app_role, password=None)
            app = make_engine(url.render_as_string(hide_password=False), connect_args=options)
            _OWNERS[app] = eng
        yield app or eng
    finally:
        if app is not None:
            app.dispose()
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, _sqlite_template: Path) -> Iterator[Engine]:
    """A migrated SQLite database, for tests whose subject is not the backend."""
    eng = _sqlite_engine(_sqlite_template, tmp_path)
    yield eng
    eng.dispose()


def owner_of(engine: Engine) -> Engine:
    """The owner's engine on `engine`'s database (the same engine unless tests run as the
    application role)."""
    return _OWNERS.get(engine, engine)


@pytest.fixture
def owner_engine(engine: Engine) -> Engine:
    """`owner_of(engine)`: for tests that tamper with the history below the application."""
    return owner_of(engine)


# --------------------------------------------------------------------------- browser tests
# One Chromium and one live server of the API world per test process (session scope), shared by
# every browser test so the suite stays fast (tests/browser.py drives them).


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from browser import chromium

    with chromium() as launched:
        yield launched


@dataclass
class Site:
    url: str
    world: Any  # api_world.World
    engine: Any  # the site's database, for tests that look behind the pages


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The API world (every role, two provinces, scoring, ledger) on SQLite, served with its
    pages on a loopback port of this process. Tests read it; those that write use rows of
    their own."""
    from api_world import UPLOADS, Clock, build_world
    from browser import serve_in_thread
    from innofin.db import make_engine, migrate
    from innofin.kernel.settings import Settings
    from innofin.server.app import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('site') / 'site.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    world = build_world(engine)
    app = create_app(
        engine,
        Settings(database_url=url, secret_key="k" * 40, api_threads=4, upload_dir=UPLOADS.name),
        Clock(),
    )
    try:
        with serve_in_thread(app) as base:
            yield Site(base, world, engine)
    finally:
        engine.dispose()
