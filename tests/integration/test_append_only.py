"""The append-only tables (`ledger_event`, `limit_entry`, `audit_event`) refuse every way of
rewriting a row, on both databases: UPDATE and DELETE (see the ledger and audit tests), SQLite's
INSERT OR REPLACE (whose implicit delete fires no delete trigger unless recursive triggers are
on) and PostgreSQL's TRUNCATE and INSERT … ON CONFLICT DO UPDATE."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

import ledger_world as lw
from innofin.audit.models import AuditEvent
from innofin.db import make_engine, roles
from innofin.db.engine import unit_of_work
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import LedgerEvent, LimitEntry

D = dt.date
TABLES = ("ledger_event", "limit_entry", "audit_event")


def _repaid(engine: Engine) -> int:
    """A world with a repayment of 90,000.00; its event's id."""
    w = lw.build(engine)
    line_id = lw.line(w, limit="500000.00", commitment=False)
    loan_id = lw.draw(w, line_id, "300000.00", "LN-1")
    ev = perform(
        engine,
        lambda s: service.repay(
            s, lw.MAKER, loan_id, principal=Decimal("90000.00"), paid_on=D(2024, 3, 1), key="R-1"
        ),
        lw.MAKER,
    )
    return ev.id


def _rewrite_sql(columns: list[str], table: str, column: str, value: str, verb: str) -> str:
    """`verb INTO table` a copy of row :id with `column` set to `value` (same id, same keys)."""
    chosen = ", ".join(value if c == column else c for c in columns)
    return f"{verb} INTO {table} ({', '.join(columns)}) SELECT {chosen} FROM {table} WHERE id = :id"


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _counts(engine: Engine) -> dict[str, int]:
    with unit_of_work(engine) as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (LedgerEvent, LimitEntry, AuditEvent)
        }


def _principal(engine: Engine, event_id: int) -> Decimal | None:
    with unit_of_work(engine) as s:
        return s.scalar(select(LedgerEvent.principal).where(LedgerEvent.id == event_id))


@pytest.mark.parametrize("raw", [False, True], ids=["innofin-connection", "bare-sqlite3"])
def test_sqlite_insert_or_replace_cannot_rewrite_a_repayment(
    sqlite_engine: Engine, raw: bool
) -> None:
    """The attack: INSERT OR REPLACE with the repayment's id and 190,000.00. Refused through
    innofin's connections (recursive triggers on) and through a bare sqlite3 shell (an insert
    that collides with an existing row's id or unique key is refused by a trigger)."""
    event_id = _repaid(sqlite_engine)
    before = _counts(sqlite_engine)
    path = sqlite_engine.url.database
    assert path
    fairy = None if raw else sqlite_engine.raw_connection()
    conn: sqlite3.Connection = (
        sqlite3.connect(path, isolation_level=None) if fairy is None else fairy.driver_connection
    )
    try:
        cols = _columns(conn, "ledger_event")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(
                _rewrite_sql(cols, "ledger_event", "principal", "19000000", "INSERT OR REPLACE"),
                {"id": event_id},
            )
        # a fresh id but the repayment's idempotency key: REPLACE would delete the original
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(
                _rewrite_sql(cols, "ledger_event", "id", "NULL", "INSERT OR REPLACE"),
                {"id": event_id},
            )
        for table in ("limit_entry", "audit_event"):
            first = conn.execute(f"SELECT min(id) FROM {table}").fetchone()[0]
            cols = _columns(conn, table)
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(_rewrite_sql(cols, table, cols[1], cols[1], "REPLACE"), {"id": first})
        # limit_entry's unique key, under a fresh id
        first = conn.execute("SELECT min(id) FROM limit_entry").fetchone()[0]
        cols = _columns(conn, "limit_entry")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(
                _rewrite_sql(cols, "limit_entry", "id", "NULL", "INSERT OR REPLACE"),
                {"id": first},
            )
        conn.rollback()
    finally:
        (conn if fairy is None else fairy).close()
    assert _principal(sqlite_engine, event_id) == Decimal("90000.00")
    assert _counts(sqlite_engine) == before


def test_sqlite_connections_turn_recursive_triggers_on(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA recursive_triggers").scalar() == 1


def test_sqlite_ordinary_duplicate_key_still_fails_naming_the_key(sqlite_engine: Engine) -> None:
    event_id = _repaid(sqlite_engine)
    with unit_of_work(sqlite_engine) as s:
        key = s.scalar(select(LedgerEvent.idempotency_key).where(LedgerEvent.id == event_id))
    assert key
    cols = [c.name for c in LedgerEvent.__table__.columns]
    with pytest.raises(DBAPIError, match="idempotency_key"), unit_of_work(sqlite_engine) as s:
        s.execute(
            text(_rewrite_sql(cols, "ledger_event", "id", "NULL", "INSERT")), {"id": event_id}
        )


@pytest.mark.parametrize("table", TABLES)
def test_truncate_and_upsert_are_refused(engine: Engine, owner_engine: Engine, table: str) -> None:
    """PostgreSQL: TRUNCATE (which fires no row trigger) and INSERT … ON CONFLICT DO UPDATE,
    refused by triggers even to the tables' owner; SQLite has no TRUNCATE, and its
    `DELETE FROM t` (the truncate optimisation) is refused."""
    event_id = _repaid(engine)
    before = _counts(engine)
    if engine.dialect.name == "postgresql":
        engine = owner_engine
        # (a plain TRUNCATE of ledger_event stops at limit_entry's foreign key already)
        for sql in (f"TRUNCATE {table}", f"TRUNCATE {table} CASCADE"):
            with (
                pytest.raises(DBAPIError, match=r"append-only|foreign key"),
                unit_of_work(engine) as s,
            ):
                s.execute(text(sql))
        with pytest.raises(DBAPIError, match="append-only"), unit_of_work(engine) as s:
            s.execute(text(f"TRUNCATE {table} CASCADE"))
        with unit_of_work(engine) as s:
            first = s.scalar(text(f"SELECT min(id) FROM {table}"))
            cols = [r[0] for r in s.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t"
                " AND table_schema = current_schema() ORDER BY ordinal_position"
            ), {"t": table})]  # fmt: skip
        upsert = _rewrite_sql(cols, table, cols[1], cols[1], "INSERT")
        upsert += f" ON CONFLICT (id) DO UPDATE SET {cols[1]} = EXCLUDED.{cols[1]}"
        with pytest.raises(DBAPIError, match="append-only"), unit_of_work(engine) as s:
            s.execute(text(upsert), {"id": first})
    else:
        with pytest.raises(DBAPIError, match="append-only"), unit_of_work(engine) as s:
            s.execute(text(f"DELETE FROM {table}"))
    assert _counts(engine) == before
    assert _principal(engine, event_id) == Decimal("90000.00")


def test_the_application_role_may_not_rewrite_history(engine: Engine, owner_engine: Engine) -> None:
    """The production application role (`innofin db roles`): not a superuser, and no UPDATE,
    DELETE or TRUNCATE on the append-only tables — refused by privilege before any trigger, so
    it could not switch the triggers off either. Ordinary writes still work."""
    if engine.dialect.name != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    app_role = "innofin_test_app"
    with owner_engine.begin() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        assert schema
        driver = conn.connection.driver_connection
        roles.apply(
            driver, [roles.create_role(app_role, app=True), *roles.grants(app_role, schema)]
        )
    url = owner_engine.url.set(username=app_role, password=None)
    app = make_engine(
        url.render_as_string(hide_password=False),
        connect_args={"options": f"-csearch_path={schema}"},
    )
    try:
        event_id = _repaid(app)
        with app.connect() as conn:
            assert (
                conn.exec_driver_sql(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                ).scalar()
                is False
            )
        for table in TABLES:
            for sql in (
                f"UPDATE {table} SET id = id",
                f"DELETE FROM {table}",
                f"TRUNCATE {table} CASCADE",
                f"ALTER TABLE {table} DISABLE TRIGGER ALL",
            ):
                with (
                    pytest.raises(DBAPIError, match=r"permission denied|must be owner"),
                    app.begin() as conn,
                ):
                    conn.exec_driver_sql(sql)
        assert _principal(app, event_id) == Decimal("90000.00")
    finally:
        app.dispose()


def test_db_roles_prints_and_applies_the_production_roles(
    engine: Engine, owner_engine: Engine
) -> None:
    from typer.testing import CliRunner

    from innofin.cli import app as cli

    runner = CliRunner()
    printed = runner.invoke(cli, ["db", "roles", "--app", "innofin_test_app"])
    assert printed.exit_code == 0, printed.output
    assert "NOSUPERUSER" in printed.output
    assert "REVOKE UPDATE, DELETE, TRUNCATE ON %I.%I FROM PUBLIC, %I" in printed.output
    bad = runner.invoke(cli, ["db", "roles", "--app", "Robert'); DROP"])
    # the CLI prints an InvalidInput as one line and exits 2 (no traceback)
    assert bad.exit_code == 2 and "error:" in bad.output and "Traceback" not in bad.output
    if engine.dialect.name != "postgresql":
        sqlite_url = engine.url.render_as_string(hide_password=False)
        refused = runner.invoke(cli, ["db", "roles", "--apply", "--owner-url", sqlite_url])
        assert refused.exit_code == 2 and "PostgreSQL" in refused.output, refused.output
        return
    with owner_engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
    url = owner_engine.url.render_as_string(hide_password=False)
    args = ["db", "roles", "--apply", "--owner-url", url, "--schema", str(schema),
            "--owner", "innofin_test_owner", "--app", "innofin_test_app"]  # fmt: skip
    for _ in range(2):  # idempotent
        applied = runner.invoke(cli, args)
        assert applied.exit_code == 0, applied.output
    with owner_engine.connect() as conn:

        def may(table: str, privilege: str) -> bool:
            return bool(conn.exec_driver_sql(
                f"SELECT has_table_privilege('innofin_test_app', '{schema}.{table}', '{privilege}')"
            ).scalar())  # fmt: skip

        for table in TABLES:
            assert may(table, "SELECT") and may(table, "INSERT"), table
            for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
                assert not may(table, privilege), (table, privilege)
        assert may("loan", "UPDATE") and may("chain_head", "UPDATE")
        assert not may("chain_head", "DELETE")
        flags = conn.exec_driver_sql(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'innofin_test_app'"
        ).one()
        assert tuple(flags) == (False, False)
