"""`innofin ledger` as a user runs it: history, a repayment, a reversal, check and rebuild, with
the exit codes scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

import ledger_world as lw
from innofin.db import make_engine
from innofin.db.engine import unit_of_work
from innofin.db.migrate import upgrade


def _innofin(args: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INNOFIN_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_history_repay_reverse_check_and_rebuild(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    w = lw.build(eng)
    line_id = lw.line(w, limit="200000.00")
    loan_id = lw.draw(w, line_id, "100000.00", "LN-1")
    eng.dispose()

    too_much = _innofin(
        ["ledger", "repay", str(loan_id), "--principal", "100000.01", "--on", "2024-03-01"], db
    )
    assert too_much.returncode == 2
    assert "exceeds the outstanding principal 100000.00" in too_much.stderr
    paid = _innofin(
        ["ledger", "repay", str(loan_id), "--principal", "25000", "--interest", "300.50",
         "--on", "2024-03-01", "--reason", "bank return 2024-03"],
        db,
    )  # fmt: skip
    assert paid.returncode == 0, paid.stderr
    event_id = int(paid.stdout.split()[1].rstrip(":"))

    shown = _innofin(["ledger", "history", "loan", str(loan_id), "--json"], db)
    assert shown.returncode == 0, shown.stderr
    events = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [e["kind"] for e in events] == ["drawn", "repaid"]
    assert events[1]["principal"] == "25000.00" and events[1]["interest"] == "300.50"
    assert events[1]["reason"] == "bank return 2024-03"
    table = _innofin(["ledger", "history", "credit-line", str(line_id)], db)
    assert "line_approved" in table.stdout and "repaid" in table.stdout

    no_reason = _innofin(["ledger", "reverse", str(event_id)], db)
    assert no_reason.returncode == 2  # --reason is required
    undone = _innofin(["ledger", "reverse", str(event_id), "--reason", "wrong loan"], db)
    assert undone.returncode == 0, undone.stderr
    loan = _innofin(["ledger", "loan", str(loan_id), "--as-of", "2024-03-01"], db)
    assert "outstanding 10.00万元" in loan.stdout, loan.stdout  # the reversal restored it

    assert _innofin(["ledger", "check"], db).returncode == 0
    eng = make_engine(f"sqlite:///{db}")
    with unit_of_work(eng) as s:  # a cache that no longer matches its history
        s.execute(text("UPDATE credit_line SET used = used - 100 WHERE id = :i"), {"i": line_id})
    eng.dispose()
    broken = _innofin(["ledger", "check"], db)
    assert broken.returncode == 4
    assert f"credit_line {line_id}: used" in broken.stdout
    assert _innofin(["ledger", "rebuild", "--reason", "repair"], db).returncode == 0
    assert _innofin(["ledger", "check"], db).returncode == 0
    missing = _innofin(["ledger", "history", "loan", "999"], db)
    assert missing.returncode == 3
