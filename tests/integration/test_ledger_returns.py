"""Bank returns on SQLite and PostgreSQL: rows go through the ledger's rules, all or nothing,
every bad row named; a re-sent return changes nothing; Chinese headers in 万元, GBK; new credit
lines entered by their maker and checker, drawn on by later rows of the same return."""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import ledger_world as lw
from factories import enterprise, uscc
from innofin.audit.models import AuditEvent
from innofin.db.engine import unit_of_work
from innofin.ingest.errors import RejectedRows
from innofin.ingest.rejects import read_rejects
from innofin.ledger import portfolio, replay, returns
from innofin.ledger.models import AgreementCommitment, CreditLine, LedgerEvent, Loan
from innofin.ledger.programmes import service as programme_service
from innofin.registry.models import Enterprise, IndicatorReport, Institution, User

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


# --------------------------------------------------------------------------- credit lines

LINE_HEADER = [*HEADER, "enterprise", "limit", "end_date", "rate", "rate_kind", "spread_bp",
               "revolving", "product", "programme", "agreement", "pool", "tags", "maker",
               "checker"]  # fmt: skip


def _row(**cells: str) -> list[str]:
    return [cells.get(name, "") for name in LINE_HEADER]


def _new_line(ref: str, firm: int, **over: str) -> list[str]:
    cells = {
        "institution": "B001",
        "event": "credit_line",
        "date": "2024-01-15",
        "line_ref": ref,
        "enterprise": uscc(firm),
        "limit": "500000.00",
        "end_date": "2025-01-14",
        "rate": "3.45",
        "maker": "alice",
        "checker": "bob",
    }
    return _row(**{**cells, **over})


def _loan_row(ref: str, event: str, date: str, **cells: str) -> list[str]:
    return _row(institution="B001", loan_ref=ref, event=event, date=date, **cells)


def _lines(engine: Engine) -> dict[str, CreditLine]:
    with unit_of_work(engine) as s:
        return {line.external_ref: line for line in s.scalars(select(CreditLine))}


def _lines_and_loans() -> list[list[str]]:
    lpr = {"rate": "3.10", "rate_kind": "lpr_spread", "spread_bp": "-20", "revolving": "是"}
    draw = {"principal": "200000.00", "months": "12"}
    return [
        _new_line("LINE-1", 0, agreement="AG-1", revolving="no", pool="POOL-1", tags="首贷;纯信用"),
        _new_line("LINE-2", 1, date="2024-01-20", end_date="", months="24", **lpr),
        _loan_row("LN-1", "drawdown", "2024-02-01", line_ref="LINE-1", **draw),
        _loan_row("LN-2", "提款", "2024-02-01", line_ref="LINE-2", **draw),
        _loan_row("LN-1", "repayment", "2024-03-01", principal="10000.00", interest="575.00"),
        _loan_row("LN-2", "repayment", "2024-03-01", principal="5000.00", interest="240.00"),
    ]


def test_a_return_enters_credit_lines_that_its_drawdowns_use_once(
    engine: Engine, tmp_path: Path
) -> None:
    w = lw.build(engine)
    ids = lw.officers(w, "alice", "bob")
    path = _write(tmp_path / "return.csv", _lines_and_loans(), LINE_HEADER)
    first = returns.import_return(engine, path, actor=lw.MAKER)
    assert (first.rows, first.applied, first.replayed, first.rejected) == (6, 6, 0, 0)
    lines, loans = _lines(engine), _loans(engine)
    one, two = lines["LINE-1"], lines["LINE-2"]
    assert (one.status, one.maker_id, one.checker_id) == ("approved", "return:alice", "return:bob")
    assert one.limit_amount == Decimal("500000.00") and one.used == Decimal("200000.00")
    assert (one.opens_on, one.matures_on) == (lw.D(2024, 1, 15), lw.D(2025, 1, 14))
    assert (one.rate_kind, one.rate, one.revolving) == ("fixed", Decimal("0.0345"), False)
    assert one.commitment_id == w.commitment_id and two.commitment_id is None
    assert one.risk_pool_id == w.pool_id and one.tags == ["first_loan", "pure_credit"]
    assert (two.rate_kind, two.rate, two.spread_bp) == ("lpr_spread", Decimal("0.0310"), -20)
    assert two.revolving and two.matures_on == lw.D(2026, 1, 20)
    assert loans["LN-1"].outstanding_principal == Decimal("190000.00")
    assert loans["LN-2"].annual_rate == Decimal("0.0290")
    with unit_of_work(engine) as s:
        commitment = s.get(AgreementCommitment, w.commitment_id)
        assert commitment is not None and commitment.used == Decimal("500000.00")
        proposed = s.scalars(
            select(LedgerEvent).where(
                LedgerEvent.kind == "line_proposed", LedgerEvent.entity_id == one.id
            )
        ).one()
        assert (proposed.actor, proposed.user_id) == ("return:alice", ids["alice"])
        assert proposed.reason is not None and "sent by api:maker" in proposed.reason
    # re-sent: nothing changes, the lines are found again by (institution, line_ref)
    before = _events(engine)
    again = returns.import_return(engine, path, actor=lw.MAKER)
    assert (again.applied, again.replayed, again.rejected) == (0, 6, 0)
    assert _events(engine) == before and _lines(engine)["LINE-1"].used == Decimal("200000.00")
    with unit_of_work(engine) as s:
        assert replay.check(s) == []
    # re-sent with other terms: refused, naming the columns
    changed = _lines_and_loans()
    changed[0] = _new_line("LINE-1", 0, agreement="AG-1", pool="POOL-1", tags="纯信用;首贷",
                           limit="600000.00", rate="3.50")  # fmt: skip
    with pytest.raises(RejectedRows, match="1 of 6 rows rejected") as exc:
        returns.import_return(engine, _write(tmp_path / "r2.csv", changed, LINE_HEADER),
                              actor=lw.MAKER)  # fmt: skip
    found = read_rejects(exc.value.rejects_path)
    assert [(r["row"], r["column"]) for r in found] == [("2", "limit"), ("2", "rate")]
    assert "exists already with a different limit (500000.00)" in found[0]["reason"]
    assert "(3.45 %)" in found[1]["reason"]
    assert _events(engine) == before


def test_a_bad_credit_line_row_rejects_the_whole_return(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine)
    lw.officers(w, "alice", "bob")
    with unit_of_work(engine, actor=lw.MAKER) as s:
        other_bank = Institution(code="B002", name="另一银行", kind="bank")
        s.add(other_bank)
        s.flush()
        other_id = other_bank.id
    lw.officers(w, "carol", institution=other_id)
    rows = [
        *_lines_and_loans(),
        _new_line("BAD-1", 2, limit="0"),  # row 8
        _new_line("BAD-2", 99),  # row 9: no such enterprise
        _new_line("BAD-3", 2, end_date="2023-12-31"),  # row 10: ends before it starts
        _new_line("BAD-4", 2, product="NO-SUCH", programme="NO-PRG"),  # row 11
        _new_line("BAD-5", 2, checker="alice"),  # row 12: maker = checker
        _new_line("BAD-6", 2, maker="carol"),  # row 13: another bank's officer
        _new_line("BAD-7", 2, limit="", principal="100.00"),  # row 14
        _new_line("LINE-1", 2),  # row 15: the same line_ref again
    ]
    before = _events(engine)
    with pytest.raises(RejectedRows, match="8 of 14 rows rejected, nothing applied") as exc:
        returns.import_return(engine, _write(tmp_path / "r.csv", rows, LINE_HEADER),
                              actor=lw.MAKER)  # fmt: skip
    assert _events(engine) == before and _lines(engine) == {} and _loans(engine) == {}
    found = [(r["row"], r["column"], r["reason"]) for r in read_rejects(exc.value.rejects_path)]
    assert [(row, column) for row, column, _ in found] == [
        ("8", "limit"),
        ("9", "enterprise"),
        ("10", "end_date"),
        ("11", "product"),
        ("11", "programme"),
        ("12", "checker"),
        ("13", "maker"),
        ("14", "limit"),
        ("15", "line_ref"),
    ]
    reasons = [reason for _, _, reason in found]
    assert "limit must be positive" in reasons[0]
    assert f"no enterprise with USCC {uscc(99)}" in reasons[1]
    assert "must be after the line's start" in reasons[2]
    assert "unknown product code 'NO-SUCH'" in reasons[3]
    assert "unknown programme code 'NO-PRG'" in reasons[4]
    assert "maker-checker" in reasons[5]
    assert "not an officer of this institution" in reasons[6]
    assert "principal is for drawdowns" in reasons[7]
    assert "duplicate" in reasons[8] and "row 2" in reasons[8]


def test_chinese_header_credit_line_in_wan_yuan_gbk(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine)
    lw.officers(w, "张经办", "李复核")
    header = [
        *("序号", "机构代码", "借据编号", "业务类型", "业务日期", "授信编号", "统一社会信用代码"),
        *("企业名称", "授信额度（万元）", "授信到期日", "年利率（%）", "利率类型", "加点基点"),
        *("是否循环", "合作协议编号", "经办人", "复核人", "本金（万元）", "期限月数", "还款方式"),
    ]
    rows = [
        f"1|B001||新增授信|2024-03-01|SX-1|{uscc(0)}|示例企业0|500|2027-02-28|3.45|LPR加点|-15|"
        "否|AG-1|张经办|李复核|||",
        "2|B001|JJ-1|放款|2024-03-05|SX-1||||||||||||150|24|等额本金",
    ]
    path = _write(tmp_path / "贷款报送.csv", [r.split("|") for r in rows], header, enc="gbk")
    done = returns.import_return(engine, path, mapping="loan-events-zh", actor=lw.MAKER)
    assert (done.applied, done.rejected) == (2, 0)
    line = _lines(engine)["SX-1"]
    assert line.limit_amount == Decimal("5000000.00") and line.used == Decimal("1500000.00")
    assert (line.rate_kind, line.rate, line.spread_bp) == ("lpr_spread", Decimal("0.0345"), -15)
    assert line.matures_on == lw.D(2027, 2, 28) and not line.revolving
    assert (line.maker_id, line.checker_id) == ("return:张经办", "return:李复核")
    assert line.commitment_id == w.commitment_id
    assert _loans(engine)["JJ-1"].annual_rate == Decimal("0.0330")


# --------------------------------------------------------------------------- a bank's own book

BOOK_HEADER = ["Bank", "LoanNr", "Event", "Date", "LineNr", "IdType", "BorrowerId",
               "ApprovalNr", "Approved", "EndDate", "Term", "Rate", "Principal", "Interest",
               "Branch"]  # fmt: skip


def _book(n_loans: int, seed: int) -> tuple[list[list[str]], dict[str, Decimal]]:
    """A historical book as a bank's system exports it: each loan's events together (line,
    disbursement, payments, perhaps a default and a charge-off), M/D/YYYY and D-Mon-YY dates,
    borrowers by EIN; and its control totals, computed here row by row."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    totals = dict.fromkeys(("drawn", "repaid", "written_off", "outstanding"), Decimal(0))
    totals["loans"] = totals["defaulted"] = Decimal(0)
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

    def us(day: dt.date) -> str:
        if rng.random() < 0.3:
            return f"{day.day}-{months[day.month - 1]}-{day.year % 100:02d}"
        return f"{day.month}/{day.day}/{day.year}"

    for n in range(n_loans):
        opens = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(0, 900))
        limit = Decimal(rng.randrange(50, 500) * 1000)
        line, loan = f"BL{n:04d}", f"BN{n:04d}"
        ein = f"{10 + n % 7:02d}-{1000000 + n % 23:07d}"  # borrowers with several loans
        rows.append(["B001", "", "credit_line", us(opens), line, "ein", ein, f"SBA-{n}",
                     str(limit), us(opens + dt.timedelta(days=3 * 365)), "", "6.25", "", "",
                     "Fresno"])  # fmt: skip
        drawn_on = opens + dt.timedelta(days=rng.randrange(0, 60))
        amount = limit - Decimal(rng.randrange(0, 40) * 1000)
        rows.append(["B001", loan, "drawdown", us(drawn_on), line, "", "", "", "", "",
                     str(rng.choice((24, 36, 60))), "", str(amount), "", ""])  # fmt: skip
        outstanding, day = amount, drawn_on
        for _ in range(rng.randrange(1, 5)):
            if outstanding == 0:
                break
            day += dt.timedelta(days=30)
            paid = min(outstanding, Decimal(rng.randrange(1000, 30000)))
            rows.append(["B001", loan, "repayment", us(day), "", "", "", "", "", "", "", "",
                         str(paid), "123.45", ""])  # fmt: skip
            outstanding -= paid
            totals["repaid"] += paid
        if outstanding > 0 and rng.random() < 0.35:
            day += dt.timedelta(days=120)
            rows.append(["B001", loan, "default", us(day)] + [""] * 11)
            charged = outstanding if rng.random() < 0.5 else outstanding // 2
            rows.append(["B001", loan, "write_off", us(day), "", "", "", "", "", "", "", "",
                         str(charged), "", ""])  # fmt: skip
            outstanding -= charged
            totals["written_off"] += charged
            totals["defaulted"] += 1
        totals["drawn"] += amount
        totals["outstanding"] += outstanding
        totals["loans"] += 1
    return rows, totals


def test_a_banks_own_book_loads_historically_and_matches_its_control_totals(
    engine: Engine, tmp_path: Path
) -> None:
    w = lw.build(engine, enterprises=1)
    with unit_of_work(engine, actor=lw.MAKER) as s:
        for n in range(7 * 23):  # the borrowers, registered by EIN (no invented USCC)
            ein = f"{10 + n % 7:02d}-{1000000 + n % 23:07d}"
            s.add(enterprise(n + 100, id_scheme="ein", identifier=ein, zone_id=w.zone_id))
    rows, totals = _book(60, seed=16)
    path = _write(tmp_path / "book.csv", rows, BOOK_HEADER)
    done = returns.import_return(
        engine, path, mapping="loan-book-example", historical=True, actor=lw.MAKER
    )
    assert (done.rows, done.applied, done.rejected) == (len(rows), len(rows), 0)
    with unit_of_work(engine) as s:
        assert replay.check(s) == []
        (whole,) = portfolio.summary(s)
        by_year = portfolio.summary(s, "year")
        line = s.scalars(select(CreditLine).where(CreditLine.external_ref == "BL0003")).one()
        loaded = s.scalars(select(LedgerEvent).where(LedgerEvent.kind == "line_loaded")).all()
        users = s.scalar(select(func.count()).select_from(User))
    assert whole.loans == totals["loans"] and whole.defaulted == totals["defaulted"]
    assert (whole.drawn, whole.repaid, whole.written_off, whole.outstanding) == (
        totals["drawn"], totals["repaid"], totals["written_off"], totals["outstanding"],
    )  # fmt: skip
    assert sum(t.loans for t in by_year) == whole.loans
    assert sum((t.outstanding for t in by_year), Decimal(0)) == whole.outstanding
    # recorded as a historical load, by the uploading officer, with the bank's approval number
    assert (line.status, line.maker_id, line.checker_id) == ("approved", "historical:api:maker",
                                                            None)  # fmt: skip
    assert len(loaded) == 60 and all(e.actor == lw.MAKER.label for e in loaded)
    assert {e.data["approval_ref"] for e in loaded} == {f"SBA-{n}" for n in range(60)}
    assert users == 0  # no officers were invented
    # a re-sent book changes nothing
    before = _events(engine)
    again = returns.import_return(
        engine, path, mapping="loan-book-example", historical=True, actor=lw.MAKER
    )
    assert (again.applied, again.replayed, again.rejected) == (0, len(rows), 0)
    assert _events(engine) == before
    with unit_of_work(engine) as s:
        assert replay.check(s) == []


def test_the_mistakes_of_a_real_file_are_grouped_by_kind_and_skip_invalid_is_safe(
    engine: Engine, tmp_path: Path
) -> None:
    w = lw.build(engine, enterprises=1)
    with unit_of_work(engine, actor=lw.MAKER) as s:
        for n in range(7 * 23):
            ein = f"{10 + n % 7:02d}-{1000000 + n % 23:07d}"
            s.add(enterprise(n + 100, id_scheme="ein", identifier=ein, zone_id=w.zone_id))
    rows, _totals = _book(30, seed=3)
    drawdowns = [i for i, r in enumerate(rows) if r[2] == "drawdown"]
    rows[drawdowns[0]][10] = "0"  # a term of 0 months
    rows[drawdowns[1]][3] = ""  # a blank disbursement date
    for i in drawdowns[2:5]:  # disbursed after the line's end
        rows[i][3] = "1/1/2030"
    rows[drawdowns[5]][3] = "1/1/2000"  # before the approval
    broken = {rows[i][1] for i in drawdowns[:6]}
    write_offs = [i for i, r in enumerate(rows) if r[2] == "write_off" and r[1] not in broken]
    rows[write_offs[0]][12] = "99999999"  # a charge-off above the principal
    rows[write_offs[1]][3] = ""  # a charge-off with no date
    repaid = [i for i, r in enumerate(rows) if r[2] == "repayment" and r[1] not in broken]
    twice = next(
        i for i in repaid if rows[i + 1][2] == "repayment" and rows[i + 1][1] == rows[i][1]
    )
    rows[twice][3] = ""  # a blank payment date, with a later payment of the same loan
    path = _write(tmp_path / "book.csv", rows, BOOK_HEADER)
    before = _events(engine)
    with pytest.raises(RejectedRows) as exc:
        returns.import_return(engine, path, mapping="loan-book-example", historical=True,
                              actor=lw.MAKER)  # fmt: skip
    assert _events(engine) == before
    message = str(exc.value)
    with returns.summary_path(exc.value.rejects_path).open(encoding="utf-8-sig") as fh:
        by_kind = list(csv.DictReader(fh))
    after_end = next(k for k in by_kind if k["problem"].startswith("disbursement after"))
    assert (after_end["rows"], after_end["column"]) == ("3", "Date")
    later = f"an earlier row of loan {rows[twice][1]} was rejected (row {twice + 2})"
    assert later in {r["reason"] for r in read_rejects(exc.value.rejects_path)}
    assert "3 rows: Date: disbursement after the line's end" in message
    for kind in ("Term: a term of … months", "disbursement before the line's start",
                 "Principal: a charge-off above the loan's principal",
                 "Date: required value is missing", "an earlier row of loan"):  # fmt: skip
        assert kind in message
    # skip-invalid applies every other loan whole and no loan in part
    done = returns.import_return(engine, path, mapping="loan-book-example", historical=True,
                                 actor=lw.MAKER, skip_invalid=True)  # fmt: skip
    assert done.rejected > 0 and done.problem_kinds
    with unit_of_work(engine) as s:
        assert replay.check(s) == []
        refs = set(s.scalars(select(Loan.external_ref)))
        assert not refs & broken
        paid_twice = s.scalars(select(Loan).where(Loan.external_ref == rows[twice][1])).one()
        assert paid_twice.principal_repaid == 0  # neither the bad payment nor the one after it
        for ref in {rows[i][1] for i in write_offs[:2]}:
            loan = s.scalars(select(Loan).where(Loan.external_ref == ref)).one()
            assert loan.written_off == 0  # the bad charge-off and nothing after it


def test_a_return_registers_borrowers_only_for_a_programme_that_allows_it(
    engine: Engine, tmp_path: Path
) -> None:
    lw.build(engine, enterprises=1)
    with unit_of_work(engine, actor=lw.MAKER) as s:
        for code, allowed in (("OPEN", True), ("SHUT", False)):
            programme_service.create_programme(
                s, lw.MAKER, code=code, name=code, sponsor="示例省科技厅",
                starts_on=dt.date(2019, 1, 1), ends_on=dt.date(2030, 12, 31),
                register_borrowers=allowed,
            )  # fmt: skip
    header = [*BOOK_HEADER, "Programme", "BorrowerName", "State", "NAICS", "NoEmp"]
    line = ["B001", "", "credit_line", "3/7/2021", "BL1", "lei", "529900T8BM49AURSDO55",
            "A-1", "300000", "3/6/2024", "", "5", "", "", "", "OPEN", "Acme Robotics LLC", "CA",
            "333249", "42"]  # fmt: skip
    draw = ["B001", "BN1", "drawdown", "3/9/2021", "BL1", "", "", "", "", "", "24", "",
            "100000", "", "", "", "", "", "", ""]  # fmt: skip
    shut = [*line[:4], "BL2", "lei", "5493001KJTIIGC8Y1R12", *line[7:15], "SHUT",
            *line[16:]]  # fmt: skip
    nameless = [*line[:4], "BL3", "lei", "5493001KJTIIGC8Y1R13", *line[7:16], "", *line[17:]]
    path = _write(tmp_path / "book.csv", [line, draw, shut, nameless], header)
    with pytest.raises(RejectedRows) as exc:
        returns.import_return(engine, path, mapping="loan-book-example", historical=True,
                              actor=lw.MAKER)  # fmt: skip
    found = {r["row"]: (r["column"], r["reason"]) for r in read_rejects(exc.value.rejects_path)}
    assert (
        found["4"][0] == "BorrowerId"
        and "programme SHUT does not let returns register" in (found["4"][1])
    )
    assert found["5"][0] == "BorrowerName" and "give enterprise_name" in found["5"][1]
    with unit_of_work(engine) as s:  # nothing half-written: not even the borrower
        assert s.scalars(select(Enterprise).where(Enterprise.id_scheme == "lei")).all() == []
    path = _write(tmp_path / "book2.csv", [line, draw], header)
    done = returns.import_return(engine, path, mapping="loan-book-example", historical=True,
                                 actor=lw.MAKER)  # fmt: skip
    assert (done.applied, done.rejected) == (2, 0)
    with unit_of_work(engine) as s:
        firm = s.scalars(select(Enterprise).where(Enterprise.id_scheme == "lei")).one()
        assert (firm.identifier, firm.name, firm.region_code, firm.industry_code) == (
            "529900T8BM49AURSDO55", "Acme Robotics LLC", "CA", "333249",
        )  # fmt: skip
        report = s.scalars(select(IndicatorReport)).one()
        assert (report.enterprise_id, report.year, report.employees) == (firm.id, 2021, 42)
        loan = s.scalars(select(Loan)).one()
        assert loan.enterprise_id == firm.id
        assert replay.check(s) == []
    again = returns.import_return(engine, path, mapping="loan-book-example", historical=True,
                                  actor=lw.MAKER)  # fmt: skip
    assert (again.applied, again.replayed) == (0, 2)


def test_amounts_in_another_currency_need_the_mappings_rate(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine, enterprises=1)
    with unit_of_work(engine, actor=lw.MAKER) as s:
        s.add(enterprise(50, id_scheme="ein", identifier="12-3456789", zone_id=w.zone_id))
    header = [*BOOK_HEADER, "Currency"]
    rows = [
        ["B001", "", "credit_line", "3/7/2021", "BL1", "ein", "12-3456789", "A-1", "100000",
         "3/6/2024", "", "5", "", "", "", "USD"],
        ["B001", "BN1", "drawdown", "3/9/2021", "BL1", "", "", "", "", "", "24", "", "50000.50",
         "", "", "USD"],
    ]  # fmt: skip
    path = _write(tmp_path / "usd.csv", rows, header)
    with pytest.raises(RejectedRows) as exc:
        returns.import_return(engine, path, mapping="loan-book-example", historical=True,
                              actor=lw.MAKER)  # fmt: skip
    found = read_rejects(exc.value.rejects_path)
    assert [(r["row"], r["column"]) for r in found] == [("2", "Currency"), ("3", "Currency")]
    assert "amounts in USD, but the mapping reads this file's amounts as CNY" in found[0]["reason"]
    assert _lines(engine) == {}
    # a mapping that says how to convert: the rate and its date
    text = (returns.shipped_mapping_path("loan-book-example")).read_text(encoding="utf-8")
    text = text.replace("  Approved: limit ", "  Approved: {field: limit, currency: USD}")
    text = text.replace("  Principal: principal", "  Principal: {field: principal, currency: USD}")
    text += "rates:\n  USD: {rate: '7.1268', date: 2021-03-01, source: PBOC central parity}\n"
    mapping = tmp_path / "usd.yaml"
    mapping.write_text(text, encoding="utf-8")
    done = returns.import_return(engine, path, mapping=mapping, historical=True, actor=lw.MAKER)
    assert (done.applied, done.rejected) == (2, 0)
    assert _lines(engine)["BL1"].limit_amount == Decimal("712680.00")
    assert _loans(engine)["BN1"].principal == Decimal("356343.56")  # 50,000.50 × 7.1268
    with unit_of_work(engine) as s:
        audit = s.scalars(select(AuditEvent).where(AuditEvent.entity == "bank_return")).one()
        assert audit.after["rates"] == {"USD": {"rate": "7.1268", "date": "2021-03-01"}}


def test_a_check_applies_every_row_then_keeps_nothing(engine: Engine, tmp_path: Path) -> None:
    """`check_only`: the return's rows go through the ledger's rules and are rolled back — the
    same rejects as the return itself, the same counts for a good one, and no table changed."""
    from ingest_helpers import every_table

    w = lw.build(engine)
    lw.line(w, limit="1500.00", commitment=False)
    rows = [
        ["B001", "A", "drawdown", "2024-02-01", "L-1", "1000.00", "", "12"],
        ["B001", "B", "drawdown", "2024-02-01", "L-1", "600.00", "", "12"],  # over the limit
        ["B001", "A", "repayment", "2024-05-01", "", "10.00", "", ""],
        ["B001", "C", "drawdown", "2024-02-01", "L-9", "10.00", "", "12"],  # unknown line
    ]
    bad = _write(tmp_path / "bad.csv", rows)
    before = every_table(engine)
    with pytest.raises(RejectedRows, match="2 of 4 rows rejected, nothing applied") as checked:
        returns.import_return(
            engine, bad, actor=lw.MAKER, check_only=True, rejects=tmp_path / "checked.csv"
        )
    assert every_table(engine) == before
    with pytest.raises(RejectedRows) as applied:
        returns.import_return(engine, bad, actor=lw.MAKER, rejects=tmp_path / "applied.csv")
    assert read_rejects(checked.value.rejects_path) == read_rejects(applied.value.rejects_path)
    assert [r["row"] for r in read_rejects(checked.value.rejects_path)] == ["3", "5"]
    assert every_table(engine) == before
    good = _write(tmp_path / "good.csv", [rows[0], rows[2]])
    check = returns.import_return(engine, good, actor=lw.MAKER, check_only=True)
    assert (check.rows, check.applied, check.replayed, check.rejected) == (2, 2, 0, 0)
    assert every_table(engine) == before
    done = returns.import_return(engine, good, actor=lw.MAKER)
    assert (done.applied, done.rejected) == (check.applied, 0)
    assert set(_loans(engine)) == {"A"}
    after = every_table(engine)
    again = returns.import_return(engine, good, actor=lw.MAKER, check_only=True)
    assert (again.applied, again.replayed) == (0, 2)  # a re-send would change nothing
    assert every_table(engine) == after
