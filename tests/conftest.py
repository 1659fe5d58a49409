"""Fixtures: a migrated database per test, on SQLite always and on PostgreSQL when
`INNOFIN_TEST_DATABASE_URL` is set (each PostgreSQL test gets a schema of its own)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from innofin.db import make_engine
from innofin.db.migrate import upgrade

PG_URL = os.environ.get("INNOFIN_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _sqlite_engine(tmp_path) -> Engine:  # type: ignore[no-untyped-def]
    return make_engine(f"sqlite:///{tmp_path / 'innofin.db'}")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A freshly migrated, empty database."""
    if request.param == "sqlite":
        eng = _sqlite_engine(tmp_path)
        upgrade(eng)
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
def sqlite_engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A migrated SQLite database, for tests whose subject is not the backend."""
    eng = _sqlite_engine(tmp_path)
    upgrade(eng)
    yield eng
    eng.dispose()
