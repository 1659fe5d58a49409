"""`innofin report programme ID`: a programme's report as XLSX, PDF or HTML, in Chinese or
English — the figures of one reading of the ledger (or of a Parquet snapshot of it), with their
as-of time on every sheet and page. Exit codes as for every command: 2 invalid input (a format
or language not offered), 3 no such programme; 1 when the PDF's Chinese font or the HTML's
ECharts is not installed (the message says what to install)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from innofin.monitoring.reports.model import Report

FORMATS = ("xlsx", "pdf", "html")

report_app = typer.Typer(
    help="Reports people circulate: a programme's report as XLSX, PDF or HTML (zh or en).",
    no_args_is_help=True,
)


@report_app.command("programme")
def programme_report(
    programme: str = typer.Argument(help="The programme's id or code."),
    fmt: str = typer.Option("xlsx", "--format", "-f", help="xlsx, pdf or html."),
    lang: str = typer.Option("zh", "--lang", help="zh (Chinese) or en (English)."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="The file to write (default: report-CODE-YYYY-MM-LANG.FORMAT in this folder).",
        dir_okay=False,
    ),
    snapshot: Path | None = typer.Option(
        None,
        "--snapshot",
        help="Read the figures from this Parquet snapshot of the ledger instead of the database.",
        file_okay=False,
    ),
) -> None:
    """Write the report of a programme: balance against its targets with the forecast band,
    balances by zone and institution, growth, quota use, NPL, the funnel, the risk pools."""
    from innofin.kernel.errors import InvalidInput

    if fmt not in FORMATS:
        raise InvalidInput(f"--format must be xlsx, pdf or html, not {fmt!r}", field="format")
    from innofin.cli_support import console, engine, err_console
    from innofin.db.engine import unit_of_work
    from innofin.ledger.cli_options import programme_by_ref
    from innofin.monitoring.cube.service import load
    from innofin.monitoring.reports.service import programme_report as make
    from innofin.monitoring.reports.service import render
    from innofin.monitoring.reports.text import words

    chosen = words(lang)  # refuses a language not offered before any work
    eng = engine()
    try:
        with unit_of_work(eng) as session:
            programme_id = programme_by_ref(session, programme).id
        with err_console.status("reading the ledger and computing the figures…"):
            cube = load(snapshot=snapshot) if snapshot is not None else load(eng)
            report = make(eng, programme_id, cube=cube)
    finally:
        eng.dispose()
    with err_console.status(f"writing the {fmt.upper()} file…"):
        data = render(report, fmt, chosen)
    path = out or Path(f"report-{report.programme_code}-{report.period_end:%Y-%m}-{lang}.{fmt}")
    path.write_bytes(data)
    console.print(
        f"{fmt.upper()} report ({lang}) of {report.programme_code}: {path}", highlight=False
    )


def add_to(root: typer.Typer) -> None:
    root.add_typer(report_app, name="report")


def _figure(value: object, kind: str) -> str:
    """A target's figure as the summary prints it: amounts in 亿元, growth as a percentage."""
    from decimal import Decimal

    if value is None:
        return ""
    if kind == "balance_growth":
        return f"{float(value):.2%}"  # type: ignore[arg-type]
    if isinstance(value, Decimal):
        return f"{value / 10**8:,.2f}"
    return f"{value:,}"


def print_demo(eng: Engine, out: Path) -> None:
    """The demo's last step: every programme's summary (targets, progress, forecast on the due
    date with its interval, probability) and one report in each format, paths printed."""
    from rich.table import Table

    from innofin.cli_support import console, section
    from innofin.monitoring.cube.service import load
    from innofin.monitoring.reports.service import programme_report
    from innofin.monitoring.targets.service import programme_summaries

    cube = load(eng)
    summaries = programme_summaries(cube)
    as_of = f"{cube.as_of:%Y-%m-%d %H:%M} UTC"
    section(f"[bold]Programme monitoring (month ends to {cube.last_month}, as of {as_of})")
    table = Table(
        title="targets: progress, forecast on the due date (10–90 %), probability; amounts in 亿元"
    )
    for col in (
        "programme",
        "target",
        "field",
        "due",
        "goal",
        "now",
        "progress",
        "forecast",
        "interval",
        "probability",
    ):
        table.add_column(
            col, justify="right" if col not in ("programme", "target", "field") else "left"
        )
    for summary in summaries:
        for t in summary.targets:
            interval = (
                "" if t.lower is None else f"{_figure(t.lower, t.kind)}–{_figure(t.upper, t.kind)}"
            )
            table.add_row(
                summary.code, t.kind, t.tech_field or "", str(t.due_on), _figure(t.goal, t.kind),
                _figure(t.current, t.kind), "" if t.progress is None else f"{t.progress:.1%}",
                _figure(t.forecast, t.kind), interval,
                "" if t.probability is None else f"{t.probability:.0%}",
            )  # fmt: skip
    console.print(table)
    if not summaries:
        return
    first = summaries[0]
    report = programme_report(eng, first.programme_id, cube=cube)
    for line in write_demo_reports(report, out):
        console.print(line, highlight=False, soft_wrap=True)


def write_demo_reports(report: Report, out: Path) -> list[str]:
    """The demo's three reports (XLSX in Chinese, PDF in Chinese, HTML in English) written to
    `out`, one line each saying where. Without a Chinese font (a machine set up without root) the
    demo goes on without its PDF and the line says what to install; `innofin report … --format
    pdf` refuses with the same words."""
    from innofin.monitoring.reports.pdf import ReportFontMissing
    from innofin.monitoring.reports.service import render
    from innofin.monitoring.reports.text import words

    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for fmt, lang in (("xlsx", "zh"), ("pdf", "zh"), ("html", "en")):
        path = out / f"report-{report.programme_code}-{report.period_end:%Y-%m}-{lang}.{fmt}"
        try:
            path.write_bytes(render(report, fmt, words(lang)))
        except ReportFontMissing as exc:
            lines.append(f"  {fmt.upper()} report skipped: {exc}")
            continue
        lines.append(f"  {fmt.upper()} report ({lang}): {path}")
    return lines
