"""A programme report as a PDF that prints on A4 (fpdf2), Chinese text embedded as a subset of a
TrueType CJK font.

The font: the file ``INNOFIN_REPORT_FONT`` names (a ``.ttf`` or ``.ttc``; ``path#2`` picks the
third face of a collection), else the first of Debian's Chinese TrueType fonts that is
installed (``fonts-wqy-microhei``, which `make setup` installs when it can, ``fonts-wqy-zenhei``,
``fonts-arphic-uming``, ``fonts-droid-fallback``). Without one the report stops with a message
saying what to install. Only TrueType outlines are taken: fpdf2 embeds them as CID fonts with a
ToUnicode map, so the text can be searched and copied in every reader.

Charts are drawn as vectors (lines, the forecast band as a shaded polygon); tables repeat their
header on each page; every page names the programme and the as-of time of its figures.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from innofin.kernel.errors import InnofinError
from innofin.kernel.money import amount_in
from innofin.monitoring.reports.model import (
    N_,
    Chart,
    Kind,
    Report,
    Section,
    Table,
    Words,
    amount_value,
    text_of,
)

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_ENV: Final = "INNOFIN_REPORT_FONT"
#: Debian's Chinese TrueType fonts, in order of preference (package → file)
DEBIAN_FONTS: Final = (
    ("fonts-wqy-microhei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    ("fonts-wqy-zenhei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    ("fonts-arphic-uming", "/usr/share/fonts/truetype/arphic/uming.ttc"),
    ("fonts-droid-fallback", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
FAMILY: Final = "cjk"
PAGE_WIDTH: Final = 180.0  # mm between the margins of an A4 page
COLOURS: Final = ((31, 78, 140), (200, 90, 30), (40, 140, 70), (120, 60, 150), (90, 90, 90))
BAND: Final = (205, 220, 240)

TITLE = N_("Programme report")
AS_OF = N_("Figures as of %(as_of)s (ledger reading), month ends to %(period_end)s")
PAGE = N_("Page %(page)s of %(pages)s")
GENERATED = N_("Generated at %(moment)s")
KEY_FIGURES = N_("Key figures")
NO_ROWS = N_("No figures.")


class ReportFontMissing(InnofinError):
    """No Chinese TrueType font for the PDF report."""

    exit_code = 1


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int = 0  # the face of a collection (.ttc)


def find_font(environ: dict[str, str] | None = None) -> FontFile:
    """The CJK font the PDF embeds (see the module's documentation), or a clear error."""
    env = os.environ if environ is None else environ
    chosen = env.get(FONT_ENV, "").strip()
    if chosen:
        path, _, index = chosen.partition("#")
        font = FontFile(Path(path), int(index) if index.isdigit() else 0)
        if not font.path.is_file():
            raise ReportFontMissing(f"{FONT_ENV}={chosen}: there is no such font file")
        return font
    for _package, path in DEBIAN_FONTS:
        if Path(path).is_file():
            return FontFile(Path(path))
    raise ReportFontMissing(
        "the PDF report needs a Chinese TrueType font and none is installed: install Debian's "
        "fonts-wqy-microhei (`apt-get install fonts-wqy-microhei`; `make setup` does it when run "
        f"as root), or set {FONT_ENV} to a .ttf/.ttc file with Chinese glyphs"
    )


def _moment(value: dt.datetime) -> str:
    return (value.astimezone(dt.UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M UTC")


def _width(text: str) -> float:
    return float(sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text))


def _document(report: Report, words: Words, font: FontFile) -> FPDF:
    from fpdf import FPDF

    as_of = words(AS_OF, as_of=_moment(report.as_of), period_end=report.period_end.isoformat())
    title = f"{report.programme_name} ({report.programme_code})"

    class Document(FPDF):
        def header(self) -> None:
            if self.page_no() == 1:
                return
            self.set_font(FAMILY, size=7)
            self.set_text_color(90, 90, 90)
            self.cell(0, 4, f"{title} · {as_of}", new_x="LMARGIN", new_y="NEXT")
            self.ln(2)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FAMILY, size=7)
            self.set_text_color(90, 90, 90)
            # fpdf2 puts the number of pages in place of {nb} when the document is done
            self.cell(0, 5, words(PAGE, page=self.page_no(), pages="{nb}"), align="C")
            self.set_text_color(0, 0, 0)

    pdf = Document(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font(FAMILY, "", str(font.path), collection_font_number=font.index)
    pdf.set_title(f"{words(TITLE)}: {title}")
    pdf.set_creator("innofin")
    pdf.set_lang("zh-CN" if words.lang == "zh" else "en")
    return pdf


def _heading(pdf: FPDF, text: str, size: float) -> None:
    pdf.set_font(FAMILY, size=size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def _facts(pdf: FPDF, report: Report, words: Words) -> None:
    from fpdf.fonts import FontFace

    if not report.facts:
        return
    _heading(pdf, words(KEY_FIGURES), 12)
    pdf.set_font(FAMILY, size=9)
    with pdf.table(
        col_widths=(110, 70),
        text_align=("LEFT", "RIGHT"),
        first_row_as_headings=False,
        line_height=5.5,
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(),
    ) as grid:
        for fact in report.facts:
            unit = fact.value_unit()
            row = grid.row()
            row.cell(words.titled(fact.label, unit))
            row.cell(text_of(fact.value, fact.kind, unit, words))
    pdf.ln(4)


def _column_needs(headers: list[str], cells: list[list[str]]) -> list[float]:
    """Each column's width in half-ems: its longest cell (numbers and dates never wrap), and at
    least its header's longest word (headers wrap; Chinese between any two characters)."""
    needs = []
    for j, header in enumerate(headers):
        longest_cell = max((_width(r[j]) for r in cells), default=0.0)
        longest_word = max((_width(w) for w in header.split()), default=0.0)
        if any(unicodedata.east_asian_width(c) in "WF" for c in header):
            longest_word = min(longest_word, 4.0)
        needs.append(max(longest_cell, longest_word, _width(header) / 3, 4.0) + 1.5)
    return needs


def _font_size(total: float) -> float:
    """The largest size (5.5–8.5 pt) at which `total` half-ems fit the page's width."""
    half_em = 0.3528 / 2 * 1.08  # mm per point, with room for the cells' padding
    return max(5.5, min(8.5, PAGE_WIDTH / (total * half_em)))


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text` cut to `width` (mm) with an ellipsis (a long name; numbers are given room)."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _lines(pdf: FPDF, text: str, width: float, height: float) -> int:
    """How many lines `text` takes wrapped in `width` mm."""
    found: Any = pdf.multi_cell(width, height, text, dry_run=True, output="LINES")
    return max(len(found), 1) if isinstance(found, list) else 1


def _header_row(
    pdf: FPDF, headers: list[str], widths: tuple[float, ...], aligns: tuple[str, ...], size: float
) -> None:
    """The header: each title wrapped in its column, on a shaded band."""
    line = size * 0.45
    lines = [_lines(pdf, h, w - 1, line) for h, w in zip(headers, widths, strict=True)]
    height = max(lines) * line + 1.5
    if pdf.will_page_break(height + 6):
        pdf.add_page()
    x, y = pdf.l_margin, pdf.get_y()
    pdf.set_fill_color(221, 228, 238)
    pdf.rect(x, y, sum(widths), height, style="F")
    for text, w, align in zip(headers, widths, aligns, strict=True):
        pdf.set_xy(x + 0.5, y + 0.75)
        pdf.multi_cell(w - 1, line, text, align=align)
        x += w
    pdf.set_xy(pdf.l_margin, y + height)


def _table(pdf: FPDF, table: Table, words: Words, titled: bool = True) -> None:
    """A table drawn cell by cell (fpdf2's own tables take milliseconds a cell): the header
    repeated on each page, rows shaded in turn, text cells cut to their column."""
    units = table.units()
    headers = [words.header(c, u) for c, u in zip(table.columns, units, strict=True)]
    cells = [
        [text_of(v, c.kind, u, words) for v, c, u in zip(row, table.columns, units, strict=True)]
        for row in table.rows
    ]
    need = _column_needs(headers, cells)
    total = sum(need)
    widths = tuple(PAGE_WIDTH * n / total for n in need)
    size = _font_size(total)
    if pdf.will_page_break(30):  # a title and a few rows stay together
        pdf.add_page()
    if titled:
        _heading(pdf, words(table.title), 11)
    if not table.rows:
        pdf.set_font(FAMILY, size=8)
        pdf.multi_cell(0, 4.5, words(NO_ROWS), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        return
    pdf.set_font(FAMILY, size=size)
    aligns = tuple("L" if c.kind is Kind.TEXT else "R" for c in table.columns)
    _header_row(pdf, headers, widths, aligns, size)
    height = size * 0.45 + 1.3
    for i, values in enumerate(cells):
        if pdf.will_page_break(height):
            pdf.add_page()
            _header_row(pdf, headers, widths, aligns, size)
        x, y = pdf.l_margin, pdf.get_y()
        if i % 2:
            pdf.set_fill_color(246, 248, 251)
            pdf.rect(x, y, PAGE_WIDTH, height, style="F")
        for text, w, align, kind in zip(values, widths, aligns, table.columns, strict=True):
            pdf.set_xy(x + 0.5, y)
            shown = _fit(pdf, text, w - 1) if kind.kind is Kind.TEXT else text
            pdf.cell(w - 1, height, shown, align=align)
            x += w
        pdf.set_xy(pdf.l_margin, y + height)
    pdf.set_draw_color(180, 180, 180)
    pdf.set_line_width(0.2)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + PAGE_WIDTH, pdf.get_y())
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)
    if table.note:
        pdf.ln(1)
        pdf.set_font(FAMILY, size=7)
        pdf.multi_cell(0, 4, words(table.note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _nice_step(span: float) -> float:
    if span <= 0:
        return 1.0
    raw = span / 5
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def _chart(pdf: FPDF, chart: Chart, words: Words) -> None:
    """A line chart: x the categories, the band between the `lower` and `upper` lines shaded."""
    unit = chart.value_unit()
    height, left_pad = 62.0, 16.0
    if pdf.will_page_break(height + 24):  # the title stays with its chart
        pdf.add_page()
    _heading(pdf, words.titled(chart.title, unit, chart.args), 11)
    values = [
        float(amount_value(v, unit)) for line in chart.lines for v in line.values if v is not None
    ]
    if not values or not chart.x:
        return
    low, high = min(0.0, min(values)), max(values)
    step = _nice_step(high - low)
    top = step * (int(high / step) + 1) if high > 0 else step
    bottom = -step * (int(-low / step) + 1) if low < 0 else 0.0
    x0, y0 = pdf.l_margin + left_pad, pdf.get_y() + 2
    w, h = PAGE_WIDTH - left_pad - 2, height
    n = len(chart.x)

    def px(i: int) -> float:
        return x0 + (w * i / (n - 1) if n > 1 else w / 2)

    def py(v: float) -> float:
        return y0 + h - (v - bottom) / (top - bottom) * h

    pdf.set_font(FAMILY, size=6.5)
    pdf.set_draw_color(220, 220, 220)
    pdf.set_line_width(0.1)
    tick = bottom
    while tick <= top + step / 2:
        pdf.line(x0, py(tick), x0 + w, py(tick))
        label = amount_in(Decimal(str(round(tick, 6))) * unit.factor, unit, 0)
        pdf.text(x0 - 1.5 - pdf.get_string_width(label), py(tick) + 1, label)
        tick += step
    every = max(1, n // 8)
    pdf.set_text_color(80, 80, 80)
    for i in range(0, n, every):
        label = chart.x[i]
        pdf.text(px(i) - pdf.get_string_width(label) / 2, y0 + h + 4, label)
    pdf.set_text_color(0, 0, 0)
    lower = next((ln for ln in chart.lines if ln.style == "lower"), None)
    upper = next((ln for ln in chart.lines if ln.style == "upper"), None)
    if lower is not None and upper is not None:
        pts = [
            (i, lo, up)
            for i, (lo, up) in enumerate(zip(lower.values, upper.values, strict=False))
            if lo is not None and up is not None
        ]
        if len(pts) > 1:
            poly = [(px(i), py(float(amount_value(up, unit)))) for i, _lo, up in pts]
            poly += [(px(i), py(float(amount_value(lo, unit)))) for i, lo, _up in reversed(pts)]
            pdf.set_fill_color(*BAND)
            pdf.polygon(poly, style="F")
    legend: list[tuple[str, tuple[int, int, int], str]] = []
    colour_index = 0
    for line in chart.lines:
        if line.style in ("lower", "upper"):
            continue
        colour = COLOURS[colour_index % len(COLOURS)]
        colour_index += 1
        pdf.set_draw_color(*colour)
        pdf.set_line_width(0.45)
        if line.style == "dashed":
            pdf.set_dash_pattern(dash=1.5, gap=1.0)
        pts2 = [
            (px(i), py(float(amount_value(v, unit))))
            for i, v in enumerate(line.values)
            if v is not None
        ]
        for a, b in itertools.pairwise(pts2):
            pdf.line(a[0], a[1], b[0], b[1])
        if len(pts2) == 1:
            pdf.circle(pts2[0][0], pts2[0][1], 0.8, style="D")
        pdf.set_dash_pattern()
        legend.append((words(line.name), colour, line.style))
    if lower is not None and upper is not None:
        legend.append((f"{words(lower.name)} – {words(upper.name)}", BAND, "band"))
    pdf.set_draw_color(0, 0, 0)
    lx, ly = x0, y0 + h + 8
    pdf.set_font(FAMILY, size=7)
    for name, colour, style in legend:
        if style == "band":
            pdf.set_fill_color(*colour)
            pdf.rect(lx, ly - 2, 6, 2.5, style="F")
        else:
            pdf.set_draw_color(*colour)
            pdf.set_line_width(0.45)
            if style == "dashed":
                pdf.set_dash_pattern(dash=1.5, gap=1.0)
            pdf.line(lx, ly - 0.8, lx + 6, ly - 0.8)
            pdf.set_dash_pattern()
        pdf.text(lx + 7.5, ly, name)
        lx += 12 + pdf.get_string_width(name)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_y(ly + 5)


def _section(pdf: FPDF, section: Section, words: Words) -> None:
    if pdf.will_page_break(110 if section.charts else 40):  # the title stays with what follows
        pdf.add_page()
    _heading(pdf, words(section.title), 13)
    if section.text:
        pdf.set_font(FAMILY, size=9)
        pdf.multi_cell(0, 4.5, words(section.text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    for chart in section.charts:
        _chart(pdf, chart, words)
        pdf.set_fill_color(255, 255, 255)
    for table in section.tables:
        _table(pdf, table, words, titled=table.title != section.title)


def render_pdf(report: Report, words: Words, font: FontFile | None = None) -> bytes:
    """The report as a PDF file's bytes (A4, portrait)."""
    pdf = _document(report, words, font or find_font())
    pdf.add_page()
    _heading(pdf, words(TITLE), 18)
    _heading(pdf, f"{report.programme_name} ({report.programme_code})", 14)
    pdf.set_font(FAMILY, size=9)
    as_of = words(AS_OF, as_of=_moment(report.as_of), period_end=report.period_end.isoformat())
    pdf.multi_cell(0, 5, as_of, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(
        0, 5, words(GENERATED, moment=_moment(report.generated_at)), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(4)
    _facts(pdf, report, words)
    for section in report.sections:
        _section(pdf, section, words)
    out: Any = pdf.output()
    return bytes(out)
