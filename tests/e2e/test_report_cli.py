"""`innofin report programme` as a user runs it: the three formats from the database, in Chinese
and English, each file holding the ledger's figures, and the exit codes of its mistakes."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

import ledger_world as lw
from innofin.db import make_engine
from innofin.db.migrate import upgrade
from innofin.ledger.journal import perform
from innofin.ledger.loans import service

pytestmark = pytest.mark.slow  # CLI processes


def _innofin(args: list[str], db: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INNOFIN_DATABASE_URL": f"sqlite:///{db}", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _line(w: lw.World, ref: str, enterprise: int) -> int:
    """An approved credit line of the world's bank under its programme."""
    spec = service.LineSpec(
        institution_id=w.bank_id,
        external_ref=ref,
        enterprise_id=w.enterprise_ids[enterprise],
        limit_amount=Decimal("1000000.00"),
        opens_on=dt.date(2024, 1, 1),
        matures_on=dt.date(2026, 12, 31),
        rate=Decimal("0.0365"),
        commitment_id=w.commitment_id,
        programme_id=w.programme_id,
    )
    ev = perform(w.engine, lambda s: service.propose_line(s, lw.MAKER, spec), lw.MAKER)
    perform(w.engine, lambda s: service.approve_line(s, lw.CHECKER, ev.entity_id), lw.CHECKER)
    return ev.entity_id


def test_a_programme_report_in_each_format(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    w = lw.build(eng)
    lw.draw(w, _line(w, "L-1", 0), "300000.00", "LN-1")
    lw.draw(w, _line(w, "L-2", 1), "250000.00", "LN-2")
    eng.dispose()

    made = _innofin(["report", "programme", "PRG-1", "--format", "xlsx"], db, tmp_path)
    assert made.returncode == 0, made.stderr
    (xlsx,) = tmp_path.glob("report-PRG-1-*-zh.xlsx")
    assert str(xlsx.name) in made.stdout
    book = load_workbook(io.BytesIO(xlsx.read_bytes()))
    summary = book.worksheets[0]
    facts = {
        summary.cell(row=r, column=1).value: (
            summary.cell(row=r, column=2).value,
            summary.cell(row=r, column=3).value,
        )
        for r in range(4, 10)
    }
    assert facts["余额"] == (pytest.approx(55.0), "万元")  # 550,000 yuan drawn, none repaid

    pdf = tmp_path / "out" / "prog.pdf"
    pdf.parent.mkdir()
    made = _innofin(
        [
            "report",
            "programme",
            str(w.programme_id),
            "-f",
            "pdf",
            "--lang",
            "en",
            "--out",
            str(pdf),
        ],
        db,
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(pdf).pages))
    assert "示例科技信贷计划" in text and "Balance(10kyuan)" in text and "55.00" in text

    made = _innofin(["report", "programme", "PRG-1", "-f", "html", "-o", "r.html"], db, tmp_path)
    assert made.returncode == 0, made.stderr
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "示例银行" in html and "echarts" in html

    wrong = _innofin(["report", "programme", "PRG-1", "-f", "docx"], db, tmp_path)
    assert wrong.returncode == 2 and "xlsx, pdf or html" in wrong.stderr
    wrong = _innofin(["report", "programme", "PRG-1", "--lang", "fr"], db, tmp_path)
    assert wrong.returncode == 2 and "zh or en" in wrong.stderr
    missing = _innofin(["report", "programme", "NO-SUCH"], db, tmp_path)
    assert missing.returncode == 3 and "no programme" in missing.stderr
    assert "Traceback" not in wrong.stderr + missing.stderr
