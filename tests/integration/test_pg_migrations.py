"""The test fixtures migrate PostgreSQL schemas by replaying the first migration's statements
(tests/pg_migrations.py): a replayed schema must be the schema `upgrade` makes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from innofin.db import make_engine
from innofin.db.migrate import upgrade
from pg_migrations import MigrationReplay

PG_URL = os.environ.get("INNOFIN_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(not PG_URL, reason="needs INNOFIN_TEST_DATABASE_URL")

#: what a schema holds, schema names left out
CATALOG = {
    "columns": "SELECT table_name, column_name, ordinal_position, data_type, column_default,"
    " is_nullable, character_maximum_length, numeric_precision, numeric_scale"
    " FROM information_schema.columns WHERE table_schema = current_schema()",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = current_schema()",
    "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal",
    "functions": "SELECT proname, pg_get_functiondef(p.oid) FROM pg_proc p"
    " WHERE p.pronamespace = current_schema()::regnamespace",
    "sequences": "SELECT sequencename, data_type, start_value, increment_by, last_value"
    " FROM pg_sequences WHERE schemaname = current_schema()",
}
SEEDED = ("alembic_version", "tech_field", "growth_stage", "certification_kind")


@pytest.fixture
def schemas() -> Iterator[list[tuple[str, Engine]]]:
    assert PG_URL
    admin = make_engine(PG_URL)
    made: list[tuple[str, Engine]] = []
    try:
        for _ in range(3):
            name = f"t_{uuid.uuid4().hex[:12]}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{name}"'))
            made.append(
                (name, make_engine(PG_URL, connect_args={"options": f"-csearch_path={name}"}))
            )
        yield made
    finally:
        for name, eng in made:
            eng.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _describe(name: str, engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    described = {}
    with engine.connect() as conn:
        for what, query in CATALOG.items():
            rows = conn.execute(text(query)).all()
            described[what] = sorted(tuple(str(v).replace(name, "S") for v in r) for r in rows)
        for table in SEEDED:
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            described[table] = sorted(tuple(str(v) for v in r) for r in rows)
    return described


def test_a_replayed_migration_makes_the_schema_upgrade_makes(
    schemas: list[tuple[str, Engine]],
) -> None:
    (recorded, first), (replayed, second), (upgraded, third) = schemas
    replay = MigrationReplay()
    replay.migrate(first)  # records
    replay.migrate(second)  # replays
    upgrade(third)
    expected = _describe(upgraded, third)
    assert expected["columns"] and expected["triggers"] and expected["alembic_version"]
    assert _describe(replayed, second) == expected
    assert _describe(recorded, first) == expected
