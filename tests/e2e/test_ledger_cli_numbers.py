"""Amount and date options of `innofin ledger`: full-width forms are read, loose forms refused."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import ledger_world as lw
from innofin.db import make_engine
from innofin.db.migrate import upgrade
from innofin.kernel.errors import InvalidInput
from innofin.ledger.cli_options import amount_arg, day_arg


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


@pytest.mark.parametrize(
    "text, value",
    [
        ("25000", "25000.00"),
        ("25,000.5", "25000.50"),
        ("２５，０００．５", "25000.50"),
        ("０", "0.00"),
    ],
)
def test_amount_options_read_full_width(text: str, value: str) -> None:
    assert amount_arg(text, "principal") == Decimal(value)


@pytest.mark.parametrize("text", ["1e3", "1_000", "12.345", "1,00", "NaN", "10²", ""])
def test_amount_options_refuse_loose_forms_naming_the_option(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^--principal ") as caught:
        amount_arg(text, "principal")
    assert caught.value.field == "principal"


def test_date_options_read_full_width_and_refuse_the_rest() -> None:
    assert day_arg("２０２４－０３－０１", "on") == dt.date(2024, 3, 1)
    for text in ("20240301", "2024-W09-5", "2024-3-1"):
        with pytest.raises(InvalidInput, match=r"^--on must be a date YYYY-MM-DD"):
            day_arg(text, "on")


def _loan(tmp_path: Path) -> tuple[Path, int]:
    """A database file with one loan of 100,000.00 under a line of 200,000.00."""
    db = tmp_path / "ledger.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    w = lw.build(eng)
    loan_id = lw.draw(w, lw.line(w, limit="200000.00"), "100000.00", "LN-1")
    eng.dispose()
    return db, loan_id


@pytest.mark.slow
def test_a_full_width_repayment_through_the_command(tmp_path: Path) -> None:
    db, loan_id = _loan(tmp_path)
    refused = _innofin(
        ["ledger", "repay", str(loan_id), "--principal", "1e3", "--on", "2024-03-01"], db
    )
    assert refused.returncode == 2, refused.stderr
    assert "--principal must be an amount in yuan" in refused.stderr
    paid = _innofin(
        [
            "ledger",
            "repay",
            str(loan_id),
            "--principal",
            "２５，０００",
            "--on",
            "２０２４－０３－０１",
        ],
        db,
    )
    assert paid.returncode == 0, paid.stderr
    shown = _innofin(["ledger", "history", "loan", str(loan_id), "--json"], db)
    events = [json.loads(line) for line in shown.stdout.splitlines()]
    assert (events[-1]["principal"], events[-1]["effective_on"]) == ("25000.00", "2024-03-01")


@pytest.mark.slow
def test_an_amount_with_a_part_of_a_fen_exits_2_naming_the_option(tmp_path: Path) -> None:
    """The one policy of money arguments (`kernel.money.money_arg`): refused, never rounded."""
    db, loan_id = _loan(tmp_path)
    before = _innofin(["ledger", "history", "loan", str(loan_id), "--json"], db).stdout
    refused = _innofin(
        ["ledger", "repay", str(loan_id), "--principal", "100.004", "--on", "2024-03-01"], db
    )
    assert refused.returncode == 2, refused.stderr
    assert "--principal" in refused.stderr and "100.004" in refused.stderr
    after = _innofin(["ledger", "history", "loan", str(loan_id), "--json"], db).stdout
    assert after == before  # nothing was written
