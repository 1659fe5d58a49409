"""The tamper-evident chain of `ledger_event`, `limit_entry` and `audit_event` on SQLite and
PostgreSQL: every insert path joins it, a row rewritten below the application (by the owner,
with the triggers out of the way) is named by `innofin ledger check` / `innofin audit verify`
(exit 4), rows removed from the end are seen, and the migration's back-fill computes the hashes
the insert paths compute."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text

import ledger_world as lw
from innofin.audit.recorder import record
from innofin.db import append_only, chain
from innofin.db.base import Base
from innofin.db.engine import unit_of_work
from innofin.db.migrate import alembic_config, upgrade
from innofin.ledger import bulk
from innofin.ledger.journal import perform
from innofin.ledger.loans import service

D = dt.date


def _history(engine: Engine) -> int:
    """Events through the services (ORM), the bulk path and a bulk audit record; a loan id."""
    w = lw.build(engine)
    line_id = lw.line(w, limit="500000.00", revolving=True)
    loan_id = lw.draw(w, line_id, "300000.00", "LN-1")
    perform(engine, lambda s: service.repay(s, lw.MAKER, loan_id, principal=Decimal("90000.00"),
            paid_on=D(2024, 3, 1), key="R-1"), lw.MAKER)  # fmt: skip
    rows = [bulk.Repayment(loan_id, Decimal("1000.00"), Decimal("10.00"), D(2024, 4, i))
            for i in range(1, 4)]  # fmt: skip
    with unit_of_work(engine, actor=lw.MAKER) as s:
        assert not bulk.repay_many(s, lw.MAKER, rows).refused
        record(s, lw.MAKER, action="note", entity="loan", entity_id=loan_id, after={"x": "1"})
    return loan_id


def _verify(engine: Engine) -> dict[str, chain.Break | None]:
    with unit_of_work(engine) as s:
        return {t: chain.verify(s, Base.metadata.tables[t]) for t in chain.TABLES}


def _ids(engine: Engine, table: str) -> list[int]:
    with unit_of_work(engine) as s:
        return list(s.scalars(text(f"SELECT id FROM {table} ORDER BY id")))


class _Op:
    """Just enough of Alembic's `op` for `append_only`."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str) -> None:
        self.conn.exec_driver_sql(sql)

    def get_bind(self) -> Any:
        return self.conn


def _tamper(owner: Engine, table: str, sql: str, **params: Any) -> None:
    """Run `sql` as the tables' owner with the append-only triggers out of the way (what an
    attacker holding the owner's or a superuser's password could do)."""
    with owner.begin() as conn:
        if owner.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
            conn.execute(text(sql), params)
            conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
            return
        for verb in ("update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER {table}_no_{verb}")
        conn.execute(text(sql), params)
        append_only.create(_Op(conn), table)


def _cli(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        url += f"?options=-csearch_path%3D{schema}"
    env = {**os.environ, "INNOFIN_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_insert_path_joins_the_chain(engine: Engine) -> None:
    _history(engine)
    assert _verify(engine) == dict.fromkeys(chain.TABLES)
    with unit_of_work(engine) as s:
        heads = chain.heads(s)
        for table in chain.TABLES:
            t = Base.metadata.tables[table]
            count = s.scalar(select(func.count()).select_from(t))
            last = s.scalar(select(t.c.chain_hash).order_by(t.c.id.desc()).limit(1))
            assert count and heads[table].length == count, table
            assert heads[table].last_hash == last, table
            assert s.scalar(select(func.count()).where(t.c.chain_hash.is_(None))) == 0


@pytest.mark.parametrize("table", chain.TABLES)
def test_a_rewritten_event_is_named(engine: Engine, owner_engine: Engine, table: str) -> None:
    _history(engine)
    ids = _ids(engine, table)
    victim = ids[len(ids) // 2]
    column = {"ledger_event": "reason", "limit_entry": "source", "audit_event": "actor"}[table]
    _tamper(owner_engine, table, f"UPDATE {table} SET {column} = 'x' WHERE id = :i", i=victim)
    found = _verify(engine)
    assert found[table] is not None and found[table].event_id == victim, found
    assert all(found[t] is None for t in chain.TABLES if t != table)


@pytest.mark.slow
def test_the_attack_rewrites_a_repayment_and_its_caches_and_the_check_names_it(
    engine: Engine, owner_engine: Engine
) -> None:
    """The issue's attack: the repayment of 90,000.00 becomes 190,000.00 and the cached
    balances are edited to agree; the replay of the caches passes, the chain does not."""
    loan_id = _history(engine)
    with unit_of_work(engine) as s:
        event_id = s.scalar(text("SELECT id FROM ledger_event WHERE idempotency_key = 'R-1'"))
    fen = 100 if engine.dialect.name == "sqlite" else 1  # money is INTEGER fen on SQLite
    rewrite = "UPDATE ledger_event SET principal = :p WHERE id = :i"
    _tamper(owner_engine, "ledger_event", rewrite, p=190000 * fen, i=event_id)
    with owner_engine.begin() as conn:  # the caches, to agree (loan is not append-only)
        conn.execute(
            text(
                "UPDATE loan SET principal_repaid = principal_repaid + :d,"
                " outstanding_principal = outstanding_principal - :d WHERE id = :i"
            ),
            {"d": 100000 * fen, "i": loan_id},
        )
    checked = _cli(engine, "ledger", "check")
    assert checked.returncode == 4, checked.stdout + checked.stderr
    assert f"ledger_event {event_id}:" in checked.stdout + checked.stderr
    audit = _cli(engine, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "chain audit_event:" in audit.stdout


@pytest.mark.slow
def test_audit_verify_names_a_rewritten_audit_event(engine: Engine, owner_engine: Engine) -> None:
    _history(engine)
    victim = _ids(engine, "audit_event")[2]
    rewrite = "UPDATE audit_event SET reason = 'nothing happened' WHERE id = :i"
    _tamper(owner_engine, "audit_event", rewrite, i=victim)
    verified = _cli(engine, "audit", "verify")
    assert verified.returncode == 4, verified.stdout + verified.stderr
    assert f"audit_event {victim}:" in verified.stdout + verified.stderr
    clean = _cli(engine, "ledger", "check")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "chain ledger_event:" in clean.stdout


def test_removed_events_are_seen(engine: Engine, owner_engine: Engine) -> None:
    _history(engine)
    ids = _ids(engine, "audit_event")
    _tamper(owner_engine, "audit_event", "DELETE FROM audit_event WHERE id >= :i", i=ids[-2])
    found = _verify(engine)["audit_event"]
    assert found is not None and found.event_id == ids[-3] and "removed" in found.reason
    _tamper(owner_engine, "audit_event", "DELETE FROM audit_event WHERE id = :i", i=ids[1])
    found = _verify(engine)["audit_event"]
    assert found is not None and found.event_id == ids[2]


def test_the_migration_back_fills_the_chain_as_the_insert_paths_compute_it(
    owner_engine: Engine,
) -> None:
    """Back to the revision before the chain (hashes dropped), then up again: the back-filled
    hashes equal the ones the insert paths wrote."""
    _history(owner_engine)

    def hashes() -> dict[str, list[str]]:
        with unit_of_work(owner_engine) as s:
            return {t: list(s.scalars(text(f"SELECT chain_hash FROM {t} ORDER BY id")))
                    for t in chain.TABLES}  # fmt: skip

    written = hashes()
    command.downgrade(alembic_config(owner_engine), "0007")
    upgrade(owner_engine)
    assert hashes() == written
    assert _verify(owner_engine) == dict.fromkeys(chain.TABLES)


def test_canonical_text_is_the_same_from_python_values_and_stored_frames() -> None:
    import polars as pl

    assert chain.field_text(Decimal("90000")) == "90000.00"
    assert chain.field_text(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == (
        "2024-01-02 03:04:05.000000"
    )
    assert chain.field_text({"b": 1, "a": "元"}) == '{"a":"元","b":1}'
    assert chain.content([None, "", "ab"]) == "~0:2:ab"
    table = Base.metadata.tables["limit_entry"]
    frame = pl.DataFrame(
        {"account": ["credit_line"], "account_id": [7], "kind": ["consume"],
         "amount": [12345], "source": ["loan"], "source_id": [3], "event_id": [9]}
    )  # fmt: skip
    row = dict(frame.row(0, named=True), amount=Decimal("123.45"))
    texts = [chain._text(table, frame, c).alias(c) for c in chain.COLUMNS["limit_entry"]]
    assert frame.select(texts).row(0) == tuple(
        chain.field_text(row[c]) for c in chain.COLUMNS["limit_entry"]
    )
