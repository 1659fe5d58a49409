"""A programme report as one standalone HTML file with interactive charts (Apache ECharts).

The file works offline and alone: ECharts (the copy the web pages serve, which `make setup`
places in the package) and the styles are inlined, each chart's option is JSON beside it, and
nothing is loaded from anywhere. Tables show amounts in the unit named in their header.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Final

from markupsafe import Markup

from innofin.kernel.errors import InnofinError
from innofin.kernel.money import AmountUnit
from innofin.monitoring.reports.model import (
    N_,
    Chart,
    Report,
    Table,
    Words,
    amount_value,
    text_of,
)

#: the ECharts build the web pages serve (copied there from the npm package by `make setup`)
ECHARTS: Final = Path(__file__).parents[2] / "web" / "static" / "vendor" / "echarts.min.js"
TEMPLATES: Final = Path(__file__).parent / "templates"
COLOURS: Final = ("#1f4e8c", "#c85a1e", "#288c46", "#783c96", "#5a5a5a")
BAND: Final = "#cddcf0"

TITLE = N_("Programme report")
AS_OF = N_("Figures as of %(as_of)s (ledger reading), month ends to %(period_end)s")
GENERATED = N_("Generated at %(moment)s")
KEY_FIGURES = N_("Key figures")
CONTENTS = N_("Contents")
NO_ROWS = N_("No figures.")


class ReportAssetMissing(InnofinError):
    """The ECharts file the HTML report inlines is not installed."""

    exit_code = 1


def echarts_source(path: Path = ECHARTS) -> str:
    """ECharts' code, to inline in the report."""
    if not path.is_file():
        raise ReportAssetMissing(
            f"the HTML report inlines ECharts from {path}, which is missing: run `make setup` "
            "(it copies the pinned ECharts build from the npm package into innofin)"
        )
    return path.read_text(encoding="utf-8")


def _moment(value: dt.datetime) -> str:
    return (value.astimezone(dt.UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M UTC")


def _script_json(value: Any) -> Markup:
    """JSON safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _number(value: Decimal | None, unit: AmountUnit) -> float | None:
    # a chart's coordinates: floats in the chart's unit (the tables keep the exact figures)
    return None if value is None else round(float(amount_value(value, unit)), 4)


def chart_option(chart: Chart, words: Words) -> dict[str, Any]:
    """The ECharts option of a chart: lines, bars, and the band between ``lower`` and
    ``upper`` as a shaded area (an invisible base plus the band's height, stacked)."""
    unit = chart.value_unit()
    series: list[dict[str, Any]] = []
    legend: list[str] = []
    lower = next((ln for ln in chart.lines if ln.style == "lower"), None)
    upper = next((ln for ln in chart.lines if ln.style == "upper"), None)
    if lower is not None and upper is not None:
        base = [_number(v, unit) for v in lower.values]
        top = [_number(v, unit) for v in upper.values]
        height = [
            None if b is None or t is None else round(t - b, 4)
            for b, t in zip(base, top, strict=False)
        ]
        band_name = f"{words(lower.name)} – {words(upper.name)}"
        series.append({"id": "band-base", "name": band_name, "type": "line", "data": base,
                       "stack": "band", "symbol": "none", "lineStyle": {"opacity": 0},
                       "silent": True})  # fmt: skip
        series.append({"id": "band-height", "name": band_name, "type": "line", "data": height,
                       "stack": "band", "symbol": "none", "lineStyle": {"opacity": 0},
                       "areaStyle": {"color": BAND, "opacity": 0.8}, "silent": True,
                       "itemStyle": {"color": BAND}})  # fmt: skip
        series.append({"id": "band-lower", "name": words(lower.name), "type": "line",
                       "data": base, "symbol": "none", "lineStyle": {"width": 0}})  # fmt: skip
        series.append({"id": "band-upper", "name": words(upper.name), "type": "line",
                       "data": top, "symbol": "none", "lineStyle": {"width": 0}})  # fmt: skip
        legend.append(band_name)
    colour = 0
    for line in chart.lines:
        if line.style in ("lower", "upper"):
            continue
        name = words(line.name)
        item: dict[str, Any] = {
            "name": name,
            "type": "bar" if line.style == "bar" else "line",
            "data": [_number(v, unit) for v in line.values],
            "itemStyle": {"color": COLOURS[colour % len(COLOURS)]},
            "connectNulls": False,
        }
        if line.style == "dashed":
            item["lineStyle"] = {"type": "dashed"}
        series.append(item)
        legend.append(name)
        colour += 1
    return {
        "animation": False,
        "legend": {"data": legend, "bottom": 0},
        "grid": {"left": 70, "right": 20, "top": 30, "bottom": 60},
        "xAxis": {"type": "category", "data": list(chart.x)},
        "yAxis": {"type": "value", "name": words.unit(unit)},
        "dataZoom": [{"type": "inside"}],
        "series": series,
    }


def _table_view(table: Table, words: Words) -> dict[str, Any]:
    units = table.units()
    return {
        "key": table.key,
        "title": words(table.title),
        "headers": [words.header(c, u) for c, u in zip(table.columns, units, strict=True)],
        "numeric": [c.kind.value != "text" for c in table.columns],
        "rows": [
            [text_of(v, c.kind, u, words) for v, c, u in zip(r, table.columns, units, strict=True)]
            for r in table.rows
        ],
        "note": words(table.note) if table.note else None,
    }


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_html(report: Report, words: Words, echarts: str | None = None) -> bytes:
    """The report as a standalone HTML file's bytes (UTF-8)."""
    code = echarts if echarts is not None else echarts_source()
    sections = []
    for section in report.sections:
        sections.append(
            {
                "key": section.key,
                "title": words(section.title),
                "text": words(section.text) if section.text else None,
                "charts": [
                    {
                        "key": chart.key,
                        "title": words.titled(chart.title, chart.value_unit(), chart.args),
                        "option": _script_json(chart_option(chart, words)),
                    }
                    for chart in section.charts
                ],
                "tables": [_table_view(t, words) for t in section.tables],
            }
        )
    facts = [
        (words.titled(f.label, f.value_unit()), text_of(f.value, f.kind, f.value_unit(), words))
        for f in report.facts
    ]
    html: str = (
        _environment()
        .get_template("report.html")
        .render(
            lang="zh-CN" if words.lang == "zh" else "en",
            title=words(TITLE),
            programme=f"{report.programme_name} ({report.programme_code})",
            as_of=words(
                AS_OF, as_of=_moment(report.as_of), period_end=report.period_end.isoformat()
            ),
            generated=words(GENERATED, moment=_moment(report.generated_at)),
            key_figures=words(KEY_FIGURES),
            contents=words(CONTENTS),
            no_rows=words(NO_ROWS),
            facts=facts,
            sections=sections,
            echarts=Markup(code.replace("</script", "<\\/script")),
        )
    )
    return html.encode("utf-8")
