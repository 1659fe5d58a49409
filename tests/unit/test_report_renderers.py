"""The programme report's renderers on a hand-made report: the XLSX read back with openpyxl
(number cells with number formats, frozen headers, filters), the PDF's text extracted with
pypdf (A4, Chinese extractable), the HTML standalone (ECharts inlined, no external URL), each
in Chinese and English."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from innofin.monitoring.reports import html as report_html
from innofin.monitoring.reports import pdf as report_pdf
from innofin.monitoring.reports import xlsx as report_xlsx
from innofin.monitoring.reports.model import Column, Kind, Table, sheet_names
from innofin.monitoring.reports.text import words
from report_sample import BALANCES, ZONES, sample_report

LANGS = ("zh", "en")


def _flat(text: str) -> str:
    """Extracted text without the spaces and line breaks a PDF text extractor puts between
    glyphs and cells."""
    return re.sub(r"\s+", "", text)


# --------------------------------------------------------------------------- XLSX


@pytest.mark.parametrize("lang", LANGS)
def test_xlsx_holds_numbers_in_the_unit_of_each_column(lang: str) -> None:
    book = load_workbook(io.BytesIO(report_xlsx.render_xlsx(sample_report(), words(lang))))
    zones = book.worksheets[2]  # summary, the balance chart, then the tables
    headers = [c.value for c in zones[3]]
    unit = "亿元" if lang == "zh" else "100m yuan"
    assert headers[1].endswith(f"（{unit}）" if lang == "zh" else f"({unit})")
    assert zones.freeze_panes == "A4"
    assert zones.auto_filter.ref == "A3:D6"
    name, balance, new, growth = ZONES[0]
    row = [c for c in zones[4]]
    assert row[0].value == name
    assert isinstance(row[1].value, float | int) and not isinstance(row[1].value, bool)
    assert row[1].value == pytest.approx(float(balance / Decimal(10**8)), abs=1e-9)
    assert row[1].number_format == "#,##0.00"
    assert row[2].value == pytest.approx(float(new / Decimal(10**8)), abs=1e-9)
    assert row[3].value == pytest.approx(growth) and row[3].number_format == "0.00%"
    assert [c.value for c in zones[6]][1:] == [None, None, None]  # hidden cells stay empty


@pytest.mark.parametrize("lang", LANGS)
def test_xlsx_summary_and_chart_series(lang: str) -> None:
    book = load_workbook(io.BytesIO(report_xlsx.render_xlsx(sample_report(), words(lang))))
    summary, chart = book.worksheets[0], book.worksheets[1]
    assert "江苏科技金融专项" in summary["A1"].value
    values = {
        summary.cell(row=r, column=1).value: summary.cell(row=r, column=2) for r in range(4, 9)
    }
    loans = values[words(lang)("Loans")]
    assert loans.value == 821 and loans.number_format == "#,##0"
    assert chart.freeze_panes == "A4"
    months = [chart.cell(row=r, column=1).value for r in range(4, 4 + 18)]
    assert months[0] == "2025-01" and months[-1] == "2026-06"
    first = chart.cell(row=4, column=2).value
    assert first == pytest.approx(float(BALANCES[0] / Decimal(10**8)))
    as_of = "数据截至" if lang == "zh" else "Figures as of"
    assert as_of in chart["A2"].value and "2026-01-05 08:30" in chart["A2"].value


def test_xlsx_keeps_amounts_exact_to_the_fen() -> None:
    table = Table(
        "t",
        "Balance by zone",
        (Column("Zone"), Column("Balance", Kind.AMOUNT)),
        (("a", Decimal("12345.67")), ("b", Decimal("20000.01"))),
    )
    report = sample_report()
    section = report.sections[1]
    from dataclasses import replace

    report = replace(report, sections=(replace(section, tables=(table,)),))
    book = load_workbook(io.BytesIO(report_xlsx.render_xlsx(report, words("zh"))))
    sheet = book.worksheets[1]
    assert sheet["B3"].value == "余额（万元）" or "万元" in sheet["B3"].value
    assert sheet["B4"].value == pytest.approx(1.234567, abs=1e-12)
    assert sheet["B5"].value == pytest.approx(2.000001, abs=1e-12)


def test_sheet_names_are_valid_and_unique() -> None:
    names = sheet_names(["a/b", "A/B", "x" * 40, "x" * 40, ""])
    assert names[0] == "a b" and names[1] == "A B (2)"
    assert len(names[2]) == 31 and len(names[3]) == 31 and names[2] != names[3]
    assert len({n.lower() for n in names}) == 5


# --------------------------------------------------------------------------- PDF


@pytest.mark.parametrize("lang", LANGS)
def test_pdf_prints_on_a4_with_the_numbers_and_chinese_text(lang: str) -> None:
    data = report_pdf.render_pdf(sample_report(), words(lang))
    reader = PdfReader(io.BytesIO(data))
    for page in reader.pages:
        assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (
            595,
            842,
        )
    text = _flat("".join(page.extract_text() for page in reader.pages))
    assert "江苏科技金融专项" in text and "苏州工业园区" in text  # data, in both languages
    assert "12.35" in text and "3.46" in text and "18.70%" in text  # 亿元, two places
    assert "0.13" in text and "812" in text
    if lang == "zh":
        assert "项目监测报告" in text and "主要指标" in text and "亿元" in text
        assert "数据截至2026-01-0508:30UTC" in text
    else:
        assert "Programmereport" in text and "100myuan" in text
    fonts = {
        str(f.get_object()["/BaseFont"])
        for page in reader.pages
        for f in page["/Resources"]["/Font"].values()
    }
    assert fonts and all("+" in f for f in fonts)  # embedded subsets, nothing left to the reader


def test_pdf_without_a_chinese_font_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report_pdf, "DEBIAN_FONTS", (("fonts-x", str(tmp_path / "none.ttc")),))
    with pytest.raises(report_pdf.ReportFontMissing, match="fonts-wqy-microhei"):
        report_pdf.find_font({})
    with pytest.raises(report_pdf.ReportFontMissing, match="no such font file"):
        report_pdf.find_font({report_pdf.FONT_ENV: str(tmp_path / "missing.ttf")})


def test_pdf_font_can_be_chosen() -> None:
    found = report_pdf.find_font({})
    chosen = report_pdf.find_font({report_pdf.FONT_ENV: f"{found.path}#0"})
    assert chosen == report_pdf.FontFile(found.path, 0)


# --------------------------------------------------------------------------- HTML

#: URLs ECharts' code holds as XML namespaces and licence notes: names, never fetched
NAMESPACES = {
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/2000/xmlns/",
    "http://www.w3.org/XML/1998/namespace",
    "http://www.apache.org/licenses/LICENSE-2.0",
    "https://github.com/ecomfe/zrender/blob/master/LICENSE",
}


@pytest.mark.parametrize("lang", LANGS)
def test_html_is_standalone_with_the_numbers(lang: str) -> None:
    html = report_html.render_html(sample_report(), words(lang)).decode("utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", html, re.I)
    urls = set(re.findall(r"https?://[^\s\"'<>)]*", html))
    assert urls <= NAMESPACES, urls - NAMESPACES
    assert "echarts.init" in html and len(html) > 500_000  # ECharts inlined
    assert "苏州工业园区" in html and "12.35" in html and "18.70%" in html
    title = "项目监测报告" if lang == "zh" else "Programme report"
    assert f"<h1>{title}</h1>" in html
    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in html


def test_html_chart_option_draws_the_band_and_the_lines() -> None:
    chart = sample_report().sections[0].charts[0]
    option = report_html.chart_option(chart, words("en"))
    ids = [s.get("id") for s in option["series"]]
    assert ids[:2] == ["band-base", "band-height"]
    base, height = option["series"][0]["data"], option["series"][1]["data"]
    assert base[11] is None and base[12] == pytest.approx(19.3)  # 1.93e9 yuan in 亿元
    assert height[12] == pytest.approx(0.6)
    assert option["yAxis"]["name"] == "100m yuan"
    balance = next(s for s in option["series"] if s["name"] == "Balance")
    assert balance["data"][0] == pytest.approx(10.0) and balance["data"][12] is None


def test_html_without_echarts_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(report_html.ReportAssetMissing, match="make setup"):
        report_html.echarts_source(tmp_path / "echarts.min.js")


def test_demo_reports_go_on_without_a_chinese_font(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from innofin.monitoring.reports.commands import write_demo_reports

    monkeypatch.setenv(report_pdf.FONT_ENV, str(tmp_path / "missing.ttf"))
    lines = write_demo_reports(sample_report(), tmp_path / "out")
    written = sorted(p.suffix for p in (tmp_path / "out").iterdir())
    assert written == [".html", ".xlsx"]  # the PDF is left out, the other two are written
    (pdf_line,) = [line for line in lines if "PDF" in line]
    assert "skipped" in pdf_line and "no such font file" in pdf_line
    monkeypatch.delenv(report_pdf.FONT_ENV)
    lines = write_demo_reports(sample_report(), tmp_path / "again")
    assert sorted(p.suffix for p in (tmp_path / "again").iterdir()) == [".html", ".pdf", ".xlsx"]
    assert not any("skipped" in line for line in lines)
