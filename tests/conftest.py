"""Fixtures: a migrated database per test, on SQLite always and on PostgreSQL when
`INNOFIN_TEST_DATABASE_URL` is set (each PostgreSQL test gets a schema of its own)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from innofin.access import passwords
from innofin.db import make_engine
from innofin.db.migrate import upgrade

# Argon2 at production cost takes ~0.5 s a hash or a sign-in on this machine; tests hash cheaply
# (tests/unit/test_passwords.py checks that production still hashes at full cost)
passwords.use_test_parameters()

PG_URL = os.environ.get("INNOFIN_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


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
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[Engine]:
    """A freshly migrated, empty database."""
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
    eng = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(eng)
        yield eng
    finally:
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
