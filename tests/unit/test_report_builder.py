"""The programme report built from a hand-made ledger: its figures against values computed in
the test, its slices summing to the total, the forecast band of a balance target, and the
files it renders holding those figures (XLSX cells read back, PDF text extracted) in both
languages."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import polars as pl
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from innofin.monitoring.cube.service import SCHEMAS, Cube
from innofin.monitoring.reports.model import Msg, Report, Table
from innofin.monitoring.reports.service import build_report, render
from innofin.monitoring.reports.text import words
from monitoring_frames import Ledger, Loan

D = dt.date
#: zone → name; institution → name
ZONES = {10: "苏州工业园区", 20: "南京高新区"}
BANKS = {1: "示例银行苏州分行", 2: "示例农商行"}


def _ledger() -> Ledger:
    """Two zones, two banks: a loan of 1,000,000 yuan drawn on the 10th of each month from
    January 2023 to December 2024, alternately in zone 10 with bank 1 and zone 20 with bank 2;
    loan 5 repaid 400,000 in June 2024; loan 7 classified substandard in November 2024."""
    loans, events = [], []
    day = D(2023, 1, 10)
    for i in range(1, 25):
        zone, bank = (10, 1) if i % 2 else (20, 2)
        loans.append(
            Loan(i, institution_id=bank, zone_id=zone, drawn_on=day, enterprise_id=500 + i)
        )
        events.append((i, "drawn", day, 100_000_000, None))
        day = D(day.year + (day.month == 12), day.month % 12 + 1, 10)
    events.append((5, "repaid", D(2024, 6, 20), 40_000_000, None))
    events.append((7, "classified", D(2024, 11, 5), None, "substandard"))
    ledger = Ledger(loans=loans, events=events)
    ledger.targets = [
        {"target_id": 1, "programme_id": 1, "kind": "financing_balance", "tech_field": None,
         "amount": 3_500_000_000, "count": None, "rate": None, "period_start": None,
         "due_on": D(2025, 12, 31)},
    ]  # fmt: skip
    return ledger


def _cube() -> Cube:
    frames = _ledger().frames()
    frames.tables["zones"] = pl.DataFrame(
        [(k, f"Z{k}", v, "江苏省") for k, v in ZONES.items()], schema=SCHEMAS["zones"], orient="row"
    )
    frames.tables["institutions"] = pl.DataFrame(
        [(k, f"B{k}", v, None) for k, v in BANKS.items()],
        schema=SCHEMAS["institutions"],
        orient="row",
    )
    return Cube(frames)


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(_cube(), 1, generated_at=dt.datetime(2025, 1, 6, tzinfo=dt.UTC))


def _table(report: Report, key: str) -> Table:
    return next(t for t in report.tables() if t.key == key)


#: the balance at the end of 2024, computed here: 24 loans of 1,000,000 less 400,000 repaid
BALANCE = Decimal(24 * 1_000_000 - 400_000)
#: at the end of 2023: 12 loans
BALANCE_2023 = Decimal(12 * 1_000_000)


def test_key_figures(report: Report) -> None:
    facts = {f.label: f.value for f in report.facts}
    assert report.period_end == D(2024, 12, 31) and report.programme_code == "P1"
    assert facts["Balance"] == BALANCE
    assert facts["Year on year"] == pytest.approx(BALANCE / BALANCE_2023 - 1, abs=Decimal("1e-4"))
    assert facts["New lending this year"] == Decimal(12_000_000)
    assert facts["NPL ratio"] == pytest.approx(Decimal(1_000_000) / BALANCE, abs=Decimal("1e-4"))


def test_slices_sum_to_the_total(report: Report) -> None:
    for key, names in (("zones", ZONES), ("institutions", BANKS)):
        table = _table(report, key)
        assert {r[0] for r in table.rows} == set(names.values())
        assert sum(r[1] for r in table.rows) == BALANCE  # type: ignore[misc]
    zones = {r[0]: r for r in _table(report, "zones").rows}
    # zone 10 holds the odd loans (12), less the 400,000 repaid on loan 5; a year earlier 6
    suzhou = zones["苏州工业园区"]
    assert suzhou[1] == Decimal(12_000_000 - 400_000)
    assert suzhou[2] == pytest.approx(
        Decimal(11_600_000) / Decimal(6_000_000) - 1, abs=Decimal("1e-4")
    )
    assert suzhou[3] == Decimal(6_000_000)  # lent this year: loans 13, 15, … 23
    assert suzhou[4] == Decimal(1_000_000)  # loan 7 (odd), substandard
    assert suzhou[5] == pytest.approx(Decimal(1_000_000) / Decimal(11_600_000), abs=Decimal("1e-4"))
    nanjing = zones["南京高新区"]
    assert nanjing[1] == Decimal(12_000_000) and nanjing[4] == Decimal(0)


def test_loan_classes_and_growth(report: Report) -> None:
    classes = {r[0]: r[1] for r in _table(report, "npl").rows}
    assert isinstance(next(iter(classes)), Msg)
    assert classes["Substandard"] == Decimal(1_000_000)
    assert classes["Pass"] == BALANCE - Decimal(1_000_000)
    growth = _table(report, "growth")
    last = growth.rows[-1]
    assert last[0] == "2024-12" and last[1] == BALANCE
    assert last[4] == Decimal(1_000_000)  # new lending in December


def test_balance_target_and_its_band(report: Report) -> None:
    targets = _table(report, "targets-amounts")
    (row,) = targets.rows
    assert row[3] == Decimal(35_000_000) and row[4] == BALANCE
    assert row[5] == pytest.approx(BALANCE / Decimal(35_000_000), abs=Decimal("1e-4"))
    forecast, lower, upper = row[6], row[7], row[8]
    assert lower <= forecast <= upper  # type: ignore[operator]
    # lending 1,000,000 a month for 12 more months: about 35.6 million at the end of 2025
    assert forecast == pytest.approx(Decimal(35_600_000), rel=Decimal("0.05"))
    (chart,) = report.sections[1].charts
    styles = {line.style: line for line in chart.lines}
    assert {"solid", "dashed", "lower", "upper"} <= set(styles)
    assert chart.x[0] == "2023-01" and chart.x[-1] == "2025-12"
    band_start = chart.x.index("2024-12")  # the band starts at the last balance
    assert styles["lower"].values[band_start] == BALANCE
    assert all(
        lo <= up  # type: ignore[operator]
        for lo, up in zip(styles["lower"].values, styles["upper"].values, strict=True)
        if lo is not None and up is not None
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_files_hold_the_figures(report: Report, lang: str) -> None:
    book = load_workbook(io.BytesIO(render(report, "xlsx", words(lang))))
    zones = next(
        ws for ws in book.worksheets if ws["A1"].value in ("分园区余额", "Balance by zone")
    )
    header = zones.cell(row=3, column=2).value
    assert ("万元" if lang == "zh" else "10k yuan") in header
    values = {zones.cell(row=r, column=1).value: zones.cell(row=r, column=2).value for r in (4, 5)}
    assert values["苏州工业园区"] == pytest.approx(1160.0) and values[
        "南京高新区"
    ] == pytest.approx(1200.0)
    pdf = PdfReader(io.BytesIO(render(report, "pdf", words(lang))))
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in pdf.pages))
    assert "示例计划" in text and "苏州工业园区" in text and "1,160.00" in text
    assert ("分园区余额" if lang == "zh" else "Balancebyzone") in text
    html = render(report, "html", words(lang)).decode()
    assert "1,160.00" in html and "band-height" in html
