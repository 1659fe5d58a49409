"""Killing the process in the middle of a bank return leaves no partial batch (SQLite and
PostgreSQL): the return is one transaction, and a killed one is rolled back."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, func, select, text

import ledger_world as lw
from innofin.db.engine import unit_of_work
from innofin.ledger import replay
from innofin.ledger.models import LedgerEvent

APP = "innofin-crash-test"  # the killed import's connections, by name


def _url(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    base = engine.url.render_as_string(hide_password=False)
    return f"{base}?options={quote(f'-csearch_path={schema}')}&application_name={APP}"


def _writing(engine: Engine) -> bool:
    """Whether another connection holds an open write transaction on the database."""
    if engine.dialect.name == "sqlite":
        raw = sqlite3.connect(engine.url.database or "", timeout=0)
        try:
            raw.execute("BEGIN IMMEDIATE")  # refused while the importer holds the write lock
            raw.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            raw.close()
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :app AND backend_xid IS NOT NULL"
            ),
            {"app": APP},
        ).scalar_one()
    return bool(found)


@pytest.mark.slow
def test_a_killed_import_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="10000000.00", commitment=False)
    loans = 50
    for i in range(loans):
        lw.draw(w, line_id, "100000.00", f"LN-{i}")
    path = tmp_path / "repayments.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["institution", "loan_ref", "event", "date", "principal"])
        for day in range(3000):  # 150,000 repayments of 0.01: many seconds of work
            on = (dt.date(2025, 1, 1) + dt.timedelta(days=day)).isoformat()
            for i in range(loans):
                out.writerow(["B001", f"LN-{i}", "repayment", on, "0.01"])
    env = {**os.environ, "INNOFIN_DATABASE_URL": _url(engine)}
    log = (tmp_path / "import.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "innofin", "ledger", "import", str(path)],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not _writing(engine):  # the import's transaction has begun
            assert proc.poll() is None, (tmp_path / "import.log").read_text()
            assert time.monotonic() < deadline, "the import never started"
            time.sleep(0.05)
        time.sleep(1.5)  # rows are being applied
        assert proc.poll() is None, "the import finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    with unit_of_work(engine) as s:
        repaid = s.scalar(
            select(func.count()).select_from(LedgerEvent).where(LedgerEvent.kind == "repaid")
        )
        assert repaid == 0
        assert replay.check(s) == []
