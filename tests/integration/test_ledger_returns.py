"""Bank returns on SQLite and PostgreSQL: rows go through the ledger's rules, all or nothing,
every bad row named; a re-sent return changes nothing; Chinese headers in 万元, GBK."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import ledger_world as lw
from innofin.db.engine import unit_of_work
from innofin.ingest.errors import RejectedRows
from innofin.ingest.rejects import read_rejects
from innofin.ledger import replay, returns
from innofin.ledger.models import LedgerEvent, Loan

HEADER = ["institution", "loan_ref", "event", "date", "line_ref", "principal", "interest", "months"]


def _write(
    path: Path, rows: list[list[str]], header: list[str] = HEADER, enc: str = "utf-8"
) -> Path:
    with path.open("w", newline="", encoding=enc) as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _events(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        return int(s.scalar(select(func.count()).select_from(LedgerEvent)) or 0)


def _loans(engine: Engine) -> dict[str, Loan]:
    with unit_of_work(engine) as s:
        return {loan.external_ref: loan for loan in s.scalars(select(Loan))}


def _return_rows(n_loans: int) -> list[list[str]]:
    rows = []
    for i in range(n_loans):
        rows.append(["B001", f"LN-{i}", "drawdown", "2024-02-01", "L-1", "1000.00", "", "12"])
    for i in range(n_loans):
        rows.append(["B001", f"LN-{i}", "repayment", "2024-03-01", "", "100.00", "3.05", ""])
    return rows


def test_a_return_applies_once_and_a_resent_one_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    w = lw.build(engine)
    lw.line(w, limit="1000000.00", commitment=False)
    path = _write(tmp_path / "return.csv", _return_rows(20))
    first = returns.import_return(engine, path, actor=lw.MAKER)
    assert (first.rows, first.applied, first.replayed, first.rejected) == (40, 40, 0, 0)
    loans = _loans(engine)
    assert len(loans) == 20
    assert loans["LN-7"].outstanding_principal == Decimal("900.00")
    assert loans["LN-7"].interest_paid == Decimal("3.05")
    before = _events(engine)
    again = returns.import_return(engine, path, actor=lw.MAKER)
    assert (again.applied, again.replayed) == (0, 40)
    assert _events(engine) == before
    with unit_of_work(engine) as s:
        assert replay.check(s) == []


def test_one_bad_row_among_thousands_rejects_the_whole_return(
    engine: Engine, tmp_path: Path
) -> None:
    w = lw.build(engine)
    lw.line(w, limit="10000000.00", commitment=False)
    rows = _return_rows(1000)
    rows[1500][5] = "1000.01"  # a repayment larger than the balance, at file row 1502
    rows.append(["B001", "LN-NONE", "repayment", "2024-03-01", "", "1.00", "", ""])
    path = _write(tmp_path / "return.csv", rows)
    before = _events(engine)
    with pytest.raises(RejectedRows, match="2 of 2,001 rows rejected, nothing applied") as exc:
        returns.import_return(engine, path, actor=lw.MAKER)
    assert _events(engine) == before and _loans(engine) == {}
    found = read_rejects(exc.value.rejects_path)
    assert [(r["row"], r["column"]) for r in found] == [("1502", "principal"), ("2002", "loan_ref")]
    assert "exceeds the outstanding principal 1000.00" in found[0]["reason"]
    assert "unknown loan 'LN-NONE'" in found[1]["reason"]


def test_ledger_rules_are_checked_row_by_row(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine)
    lw.line(w, limit="1500.00", commitment=False)
    rows = [
        ["B001", "A", "drawdown", "2024-02-01", "L-1", "1000.00", "", "12"],
        ["B001", "B", "drawdown", "2024-02-01", "L-1", "600.00", "", "12"],  # over the limit
        ["B001", "A", "repayment", "2024-05-01", "", "10.00", "", ""],
        ["B001", "A", "default", "2024-04-01", "", "", "", ""],  # before the last row's date
        ["B001", "C", "drawdown", "2024-02-01", "L-9", "10.00", "", "12"],  # unknown line
        ["XXXX", "A", "repayment", "2024-06-01", "", "1.00", "", ""],  # unknown institution
    ]
    with pytest.raises(RejectedRows) as exc:
        returns.import_return(engine, _write(tmp_path / "r.csv", rows), actor=lw.MAKER)
    found = {r["row"]: (r["column"], r["reason"]) for r in read_rejects(exc.value.rejects_path)}
    assert found["3"][0] == "principal" and "available 500.00" in found["3"][1]
    assert found["5"][0] == "date" and "dates out of order" in found["5"][1]
    assert found["6"][0] == "line_ref" and "unknown credit line 'L-9'" in found["6"][1]
    assert found["7"][0] == "institution"
    assert set(found) == {"3", "5", "6", "7"}
    assert _loans(engine) == {}
    # with skip_invalid the good rows are applied and the bad ones reported
    done = returns.import_return(engine, tmp_path / "r.csv", actor=lw.MAKER, skip_invalid=True)
    assert (done.applied, done.rejected) == (2, 4)
    assert set(_loans(engine)) == {"A"}
    with unit_of_work(engine) as s:
        assert replay.check(s) == []


def test_chinese_headers_in_wan_yuan_gbk(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine)
    lw.line(w, limit="5000000.00", commitment=False)
    header = ["序号", "机构代码", "借据编号", "业务类型", "业务日期", "授信编号", "本金（万元）",
              "利息（万元）", "期限月数", "还款方式", "五级分类"]  # fmt: skip
    rows = [
        ["1", "B001", "JJ-1", "放款", "2024-02-01", "L-1", "150", "", "24", "等额本金", ""],
        ["2", "B001", "JJ-1", "还款", "2024-03-01", "", "6.25", "0.4712", "", "", ""],
        ["3", "B001", "JJ-1", "五级分类", "2024-03-31", "", "", "", "", "", "关注"],
    ]
    path = _write(tmp_path / "贷款报送.csv", rows, header, enc="gbk")
    done = returns.import_return(engine, path, mapping="loan-events-zh", actor=lw.MAKER)
    assert done.applied == 3
    loan = _loans(engine)["JJ-1"]
    assert loan.principal == Decimal("1500000.00")
    assert loan.principal_repaid == Decimal("62500.00")
    assert loan.interest_paid == Decimal("4712.00")
    assert loan.method == "equal_principal" and loan.months == 24
    assert loan.category == "special_mention"  # the bank's class is a floor
