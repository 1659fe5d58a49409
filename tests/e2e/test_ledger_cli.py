"""`innofin ledger` as a user runs it: history, a repayment, a reversal, check and rebuild; a
programme's pool, claims and subsidies — with the exit codes scripts rely on."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

import factories
import ledger_world as lw
from innofin.audit.models import AuditEvent
from innofin.db import make_engine
from innofin.db.engine import unit_of_work
from innofin.db.migrate import upgrade
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import Agreement, AgreementCommitment, RiskPool
from innofin.ledger.pools import service as pools

pytestmark = pytest.mark.slow  # dozens of CLI processes


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


PROGRAMME = """\
code: PRG-CLI
name: 命令行计划
sponsor: 示例省科学技术厅
starts_on: 2024-01-01
ends_on: 2026-12-31
zones: [Z001]
institutions: [B001]
targets:
  - {kind: new_credit, due_on: 2025-12-31, amount: {amount: "2", unit: 亿元}}
  - {kind: key_enterprises, due_on: 2025-12-31, count: 5}
agreements:
  - code: AG-CLI
    kind: government_bank
    institution: B001
    counterparty: 示例省科学技术厅
    signed_on: 2024-01-01
    starts_on: 2024-01-01
    ends_on: 2026-12-31
    commitments:
      - {amount: {amount: "1000", unit: 万元}, period_start: 2024-01-01, period_end: 2026-12-31}
pools:
  - code: POOL-CLI
    name: 命令行风险补偿资金池
    template: province_county
    rules: {coverage: "0.5"}
    opened_on: 2024-01-01
    contributions:
      - {contributor: province, amount: "700000", paid_on: 2024-01-01}
      - {contributor: county, amount: "300000", paid_on: 2024-01-01}
"""


def _programme_world(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """`ledger_world` with PRG-CLI loaded through the CLI, and on a line its pool covers
    (drawing on its commitment): two defaulted loans, one claimed by the bank's maker, and a
    loan that paid 3,650.00 of interest in June 2024."""
    db = tmp_path / "ledger.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    w = lw.build(eng)
    eng.dispose()
    (tmp_path / "programme.yaml").write_text(PROGRAMME, encoding="utf-8")
    loaded = _innofin(["ledger", "programme", "load", str(tmp_path / "programme.yaml")], db)
    assert loaded.returncode == 0, loaded.stderr
    eng = make_engine(f"sqlite:///{db}")
    with unit_of_work(eng) as s:
        pool_id = s.scalars(select(RiskPool.id).where(RiskPool.code == "POOL-CLI")).one()
        commitment_id = s.scalars(
            select(AgreementCommitment.id)
            .join(Agreement, Agreement.id == AgreementCommitment.agreement_id)
            .where(Agreement.code == "AG-CLI")
        ).one()
    covered = dataclasses.replace(w, pool_id=pool_id, commitment_id=commitment_id)
    line_id = lw.line(covered, "L-CLI", limit="5000000.00", pool=True)
    ids = {"pool": pool_id, "firm": w.enterprise_ids[0]}
    for name in ("claimed", "defaulted", "paying"):
        ids[name] = lw.draw(covered, line_id, "1000000.00", f"LN-{name}", months=24)

    def act(s: Any) -> None:
        for name in ("claimed", "defaulted"):
            service.mark_default(s, lw.MAKER, ids[name], on=dt.date(2024, 12, 1))
        ev = pools.file_claim(s, lw.MAKER, pool_id, ids["claimed"], on=dt.date(2025, 1, 5))
        ids["claim"] = ev.entity_id
        service.repay(
            s, lw.MAKER, ids["paying"], principal=Decimal(0), interest=Decimal("3650.00"),
            paid_on=dt.date(2024, 6, 15),
        )  # fmt: skip

    perform(eng, act, lw.MAKER)
    eng.dispose()
    return db, ids


def test_programme_pool_claim_and_subsidy_commands(tmp_path: Path) -> None:
    db, ids = _programme_world(tmp_path)
    listed = _innofin(["ledger", "programme", "list", "--json"], db)
    assert listed.returncode == 0, listed.stderr
    listed_codes = {
        json.loads(line)["code"]: json.loads(line) for line in listed.stdout.splitlines()
    }
    assert set(listed_codes) == {"PRG-1", "PRG-CLI"}  # PRG-1 is `ledger_world`'s
    assert listed_codes["PRG-CLI"]["targets"] == 2
    shown = _innofin(["ledger", "programme", "show", "PRG-CLI"], db)
    assert shown.returncode == 0, shown.stderr
    # the covered line of 5,000,000.00 consumes that much of the 10,000,000.00 commitment;
    # each amount column has one unit, named in its header, not beside each amount
    assert "amount（亿元）" in shown.stdout and "used（万元）" in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if "AG-CLI" in line)
    assert "1,000.00" in row and row.count("500.00") == 2 and "元" not in row, row
    in_yuan = _innofin(["ledger", "programme", "show", "PRG-CLI", "--unit", "元"], db)
    assert "used（元）" in in_yuan.stdout and "200,000,000.00" in in_yuan.stdout
    assert (
        _innofin(["ledger", "programme", "show", "PRG-CLI", "--unit", "千元"], db).returncode == 2
    )
    assert _innofin(["ledger", "programme", "show", "NONE"], db).returncode == 3

    pool = str(ids["pool"])
    wrong = _innofin(["ledger", "pool", "contribute", pool, "--contributor", "city",
                      "--amount", "5"], db)  # fmt: skip
    assert wrong.returncode == 2 and "--contributor" in wrong.stderr
    paid_in = ["ledger", "pool", "contribute", pool, "--contributor", "county",
               "--amount", "100000", "--on", "2024-06-01", "--key", "county-1"]  # fmt: skip
    assert _innofin(paid_in, db).returncode == 0
    assert _innofin(paid_in, db).returncode == 0  # a retry with the key changes nothing
    pool_text = _innofin(["ledger", "pool", "show", pool], db).stdout
    assert "contributed 110.00万元" in pool_text, pool_text

    filed = _innofin(["ledger", "claim", "file", pool, str(ids["defaulted"]),
                      "--on", "2025-01-10"], db)  # fmt: skip
    assert filed.returncode == 0, filed.stderr
    assert "pending, loss 100.00万元, covered 50.00万元" in filed.stdout
    mine = filed.stdout.split()[1]
    own = _innofin(["ledger", "claim", "decide", mine, "--approve"], db)
    assert own.returncode == 5 and "maker-checker" in own.stderr  # the filer may not decide
    assert _innofin(["ledger", "claim", "decide", mine], db).returncode == 2  # no decision
    claim = str(ids["claim"])  # filed by the bank's maker
    assert _innofin(["ledger", "claim", "pay", claim], db).returncode == 4  # not approved
    decided = _innofin(["ledger", "claim", "decide", claim, "--approve", "--on", "2025-02-01"], db)
    assert decided.returncode == 0 and "approved" in decided.stdout, decided.stderr
    pay = ["ledger", "claim", "pay", claim, "--on", "2025-02-10", "--key", "pay-1"]
    assert _innofin(pay, db).returncode == 0
    assert _innofin(pay, db).returncode == 0  # replayed
    assert _innofin(["ledger", "claim", "pay", claim], db).returncode == 4  # paid already
    pool_text = _innofin(["ledger", "pool", "show", pool], db).stdout
    assert "paid out 50.00万元" in pool_text and "balance 60.00万元" in pool_text, pool_text

    publish = ["ledger", "subsidy", "publish", "--programme", "PRG-CLI", "--from", "2024-06-01",
               "--to", "2024-06-30", "--share", "0.5", "--on", "2024-07-01"]  # fmt: skip
    bad = _innofin([*publish[:-4], "--share", "2"], db)
    assert bad.returncode == 2 and "--share" in bad.stderr, bad.stderr
    published = _innofin(publish, db)
    assert published.returncode == 0, published.stderr
    assert "1 subsidies of PRG-CLI for 2024-06-01–2024-06-30 published" in published.stdout
    assert _innofin(publish, db).returncode == 4  # the period is published already
    (sub,) = [
        json.loads(line)
        for line in _innofin(["ledger", "subsidy", "list", "--json"], db).stdout.splitlines()
    ]
    # 3,650.00 of interest, half of it, for the paying loan only
    assert (sub["loan_id"], sub["amount"], sub["status"]) == (ids["paying"], "1825.00", "published")
    confirm = ["ledger", "subsidy", "confirm", str(sub["id"]), "--enterprise", str(ids["firm"])]
    assert _innofin([*confirm, "--on", "2024-07-05"], db).returncode == 4  # under notice
    other = _innofin([*confirm[:-1], str(ids["firm"] + 1), "--on", "2024-07-09"], db)
    assert other.returncode == 5
    assert _innofin([*confirm, "--on", "2024-07-09"], db).returncode == 0
    paying = _innofin(["ledger", "subsidy", "pay", str(sub["id"]), "--on", "2024-07-20"], db)
    assert paying.returncode == 0 and "paid 1,825.00元" in paying.stdout, paying.stdout
    paid = _innofin(["ledger", "subsidy", "list", "--status", "paid", "--json"], db)
    assert [json.loads(line)["id"] for line in paid.stdout.splitlines()] == [sub["id"]]
    assert _innofin(["ledger", "subsidy", "list", "--status", "done"], db).returncode == 2
    story = _innofin(["ledger", "history", "subsidy", str(sub["id"]), "--json"], db)
    kinds = [json.loads(line)["kind"] for line in story.stdout.splitlines()]
    assert kinds == ["subsidy_published", "subsidy_confirmed", "subsidy_paid"]
    assert _innofin(["ledger", "check"], db).returncode == 0

    eng = make_engine(f"sqlite:///{db}")
    with unit_of_work(eng) as s:
        audited = {
            (e.entity, e.channel)
            for e in s.scalars(select(AuditEvent).where(AuditEvent.actor.like("cli:%")))
        }
    eng.dispose()
    assert {("interest_subsidy", "cli"), ("pool_claim", "cli"), ("risk_pool", "cli")} <= audited
    helped = _innofin(["ledger", "subsidy", "--help"], db)
    assert all(word in helped.stdout for word in ("publish", "confirm", "pay", "list"))


def test_import_a_historical_book_then_summary_by_year(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    lw.build(eng, enterprises=1)
    with unit_of_work(eng, actor=lw.MAKER) as s:
        s.add(factories.enterprise(50, id_scheme="ein", identifier="12-3456789"))
    eng.dispose()
    book = tmp_path / "book.csv"
    book.write_text(
        "Bank,LoanNr,Event,Date,LineNr,IdType,BorrowerId,ApprovalNr,Approved,EndDate,Term,"
        "Principal,Rate\n"
        "B001,,credit_line,3/7/2021,BL1,ein,12-3456789,SBA-9,300000,3/6/2024,,,6.5\n"
        "B001,BN1,drawdown,15-Mar-21,BL1,,,,,,36,250000,\n"
        "B001,BN1,repayment,4/15/2021,,,,,,,,10000.50,\n"
        "B001,BN1,default,1/2/2022,,,,,,,,,\n"
        "B001,BN1,write_off,2/1/2022,,,,,,,,100000,\n",
        encoding="utf-8",
    )
    load = ["ledger", "import", str(book), "--mapping", "loan-book-example", "--historical"]
    checked = _innofin([*load, "--check"], db)  # every row applied, then rolled back
    assert checked.returncode == 0, checked.stderr
    assert "5 rows, 5 would be applied" in checked.stdout
    assert "checked only, nothing was written" in checked.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(book.read_text(encoding="utf-8").replace(",100000,", ",900000,"), "utf-8")
    refused = _innofin([*load[:2], str(bad), *load[3:], "--check"], db)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "1 of 5 rows rejected, nothing applied" in refused.stderr
    loaded = _innofin(load, db)
    assert loaded.returncode == 0, loaded.stderr
    assert "5 rows, 5 applied" in loaded.stdout  # the checks kept nothing
    shown = _innofin(["ledger", "summary", "--by", "year"], db)
    assert shown.returncode == 0, shown.stderr
    line = next(x for x in shown.stdout.splitlines() if "2021" in x)
    cells = [c.strip() for c in line.split("│") if c.strip()]
    assert cells == ["2021", "1", "250,000.00", "10,000.50", "100,000.00", "0.00",
                     "139,999.50", "1", "100.00%"]  # fmt: skip
    assert "drawn（元）" in shown.stdout  # to the fen, the unit in the header
    in_wan = _innofin(["ledger", "summary", "--by", "year", "--unit", "万元"], db)
    assert "drawn（万元）" in in_wan.stdout and "25.00" in in_wan.stdout, in_wan.stdout
    assert _innofin(["ledger", "check"], db).returncode == 0
    exported = _innofin(["export", "loans", str(tmp_path / "loans.csv")], db)
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "loans.csv").open(encoding="utf-8-sig", newline="") as fh:
        (loan,) = list(csv.DictReader(fh))
    assert (loan["loan_ref"], loan["line_ref"], loan["id_scheme"], loan["enterprise"]) == (
        "BN1", "BL1", "ein", "12-3456789",
    )  # fmt: skip
    assert (loan["principal"], loan["outstanding_principal"], loan["status"]) == (
        "250000.00", "139999.50", "active",
    )  # fmt: skip
    lines = _innofin(["export", "credit-lines", str(tmp_path / "lines.xlsx")], db)
    assert lines.returncode == 0 and "exported 1 credit-lines rows" in lines.stdout
