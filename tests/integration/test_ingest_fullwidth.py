"""Numbers and dates as people type them, through the real import into a real database.

Files typed with a Chinese input method hold full-width digits (``１２５００００``); they used to
pass the digit check, come out empty and be stored as NULL with exit code 0. The property test
below drives cells of every column type of an annual report through `import_file`: each cell that
is not empty is stored with the value it shows or named in the rejects report with its row,
column and reason — never stored as empty.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from ingest_helpers import USCC, seed_enterprises, write_csv, write_xlsx
from innofin.db.engine import unit_of_work
from innofin.ingest import RejectedRows, import_file
from innofin.ingest.rejects import read_rejects
from innofin.kernel.codes import ProductKind
from innofin.kernel.numtext import fold_width
from innofin.registry.models import Enterprise, IndicatorReport, Institution, Product

ZH = ["统一社会信用代码", "年度", "营业收入（万元）", "净利润（万元）", "有效发明专利数"]
ZH.append("数据截止日期")
FULL = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def full_width(text: str) -> str:
    return text.translate(FULL)


def stored(engine: Engine) -> dict[int, IndicatorReport]:
    with unit_of_work(engine) as s:
        rows = s.scalars(select(IndicatorReport).join(Enterprise)).all()
        s.expunge_all()
        return {r.year: r for r in rows}


def test_the_reported_cell_is_not_stored_as_empty(engine: Engine, tmp_path: Path) -> None:
    """As reported: ``１２５００００`` passed the digit check and was stored as NULL, exit 0."""
    seed_enterprises(engine, 1)
    path = write_csv(
        tmp_path / "d.csv", [["identifier", "year", "revenue"], [USCC[0], 2023, "１２５００００"]]
    )
    result = import_file(engine, "indicators", path)
    assert (result.written, result.rejected) == (1, 0)
    assert stored(engine)[2023].revenue == Decimal("1250000.00")


def test_full_width_digits_are_stored_with_their_value(engine: Engine, tmp_path: Path) -> None:
    """The reported loss: ``１２５００００`` stored as empty with exit 0."""
    seed_enterprises(engine, 1)
    path = write_csv(
        tmp_path / "年度指标.csv",
        [
            ZH,
            [USCC[0], "２０２３", "１２５００００", "－１２．５", "１２", "２０２４年４月３０日"],
            [
                USCC[0],
                "2022",
                "１，２５０．５０",
                "\u2212３",
                "\u3000７\u3000",
                "２０２３－０４－３０",
            ],
        ],
    )
    result = import_file(engine, "indicators", path, mapping=Path("indicators-zh"))
    assert (result.written, result.rejected) == (2, 0)
    got = stored(engine)
    assert got[2023].revenue == Decimal("12500000000.00")  # 1,250,000 万元
    assert got[2023].net_profit == Decimal("-125000.00")
    assert got[2023].invention_patents == 12
    assert got[2023].as_of == dt.date(2024, 4, 30)
    assert got[2022].revenue == Decimal("12505000.00")
    assert got[2022].net_profit == Decimal("-30000.00")
    assert got[2022].invention_patents == 7
    assert got[2022].as_of == dt.date(2023, 4, 30)


@pytest.mark.parametrize(
    "cell",
    ["10²", "①②", "٣٤", "1_000", "१२", "𝟏𝟐", "Infinity", "nan"],
)
def test_look_alike_digits_are_refused_not_guessed(
    engine: Engine, tmp_path: Path, cell: str
) -> None:
    """Superscripts, circled numbers, other scripts' digits: refused with row, column, reason."""
    seed_enterprises(engine, 1)
    path = write_csv(tmp_path / "d.csv", [["identifier", "year", "revenue"], [USCC[0], 2023, cell]])
    with pytest.raises(RejectedRows):
        import_file(engine, "indicators", path)
    (line,) = read_rejects(tmp_path / "d.rejects.csv")
    assert (line["row"], line["column"], line["value"]) == ("2", "revenue", cell)
    assert line["reason"] == f"not a number: {cell!r}"
    assert stored(engine) == {}


# ------------------------------------------------------------------ the property over the parser

WAN = Decimal(10_000)
DIGITS = "0123456789"
LOOK_ALIKES = "０１２３４５６７８９²³¹①②٣४𝟏"
SIGNS = "+-－＋\u2212"
SEPARATORS = ",，.．  \u3000\u00a0_eE"
JUNK = "元万亿%％年月日/-abcxyz是"


def _render_number(value: Decimal, places: int, style: int) -> str:
    """`value` written as people do: plain, grouped, full-width, padded, signed."""
    text = f"{value:,.{places}f}" if style in (1, 3) else f"{value:.{places}f}"
    if style == 4 and value >= 0:
        text = "+" + text
    if style in (2, 3, 4):
        text = full_width(text)
    if style == 5:
        text = "\u3000" + text.replace("-", "\u2212") + " "
    return text


@st.composite
def amount_cells(draw: Any, signed: bool, places: int) -> tuple[str, Decimal | None]:
    """A cell and the number it shows (None: any junk, whose value the oracle decides)."""
    if draw(st.integers(0, 4)) == 0:
        alphabet = DIGITS + LOOK_ALIKES + SIGNS + SEPARATORS + JUNK
        return draw(st.text(alphabet, min_size=1, max_size=8)), None
    low = -(10**9) if signed else 0
    units = draw(st.integers(low, 10**9))
    value = Decimal(units).scaleb(-places)
    return _render_number(value, places, draw(st.integers(0, 5))), value


@st.composite
def date_cells(draw: Any) -> tuple[str, dt.date | None]:
    if draw(st.integers(0, 4)) == 0:
        alphabet = DIGITS + LOOK_ALIKES + "-/.年月日 \u3000－／．"
        return draw(st.text(alphabet, min_size=1, max_size=12)), None
    day = draw(st.dates(dt.date(1990, 1, 1), dt.date(2099, 12, 31)))
    style = draw(st.integers(0, 3))
    text = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
    ][style]
    return (full_width(text) if draw(st.booleans()) else text), day


def _oracle_number(cell: str, unit: Decimal, whole: bool) -> Decimal | None:
    """What a junk cell shows, read independently: ASCII after width folding, or nothing."""
    text = fold_width(cell).strip().replace(",", "").replace(" ", "")
    if unit == WAN and text.endswith("万元"):
        text = text[:-2]
    if unit == 1 and text.endswith("元") and not text.endswith(("万元", "亿元")):
        text = text[:-1]
    if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", text):
        return None
    value = Decimal(text) * unit
    if whole and value != value.to_integral_value():
        return None
    return value.quantize(Decimal("0.01") if not whole else Decimal(1), rounding=ROUND_HALF_UP)


ROWS = st.lists(
    st.tuples(
        amount_cells(signed=False, places=2),
        amount_cells(signed=True, places=2),
        amount_cells(signed=False, places=0),
        date_cells(),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=ROWS, wan=st.booleans(), xlsx=st.booleans())
def test_every_cell_is_stored_as_shown_or_rejected_with_a_reason(
    engine: Engine, tmp_path: Path, rows: list[Any], wan: bool, xlsx: bool
) -> None:
    with unit_of_work(engine) as s:
        s.execute(delete(IndicatorReport))
        seeded = s.scalar(select(Enterprise.id)) is not None
    if not seeded:
        seed_enterprises(engine, 1)
    unit = WAN if wan else Decimal(1)
    header = ZH if wan else ["identifier", "year", "revenue", "net_profit", "invention_patents"]
    header = header if wan else [*header, "as_of"]
    table = [header] + [
        [USCC[0], str(2001 + i), *(cell for cell, _ in row)] for i, row in enumerate(rows)
    ]
    path = tmp_path / ("d.xlsx" if xlsx else "d.csv")
    (write_xlsx if xlsx else write_csv)(path, table)
    rejects = tmp_path / "d.rejects.csv"
    rejects.unlink(missing_ok=True)
    import_file(
        engine,
        "indicators",
        path,
        mapping=Path("indicators-zh") if wan else None,
        skip_invalid=True,
        rejects=rejects,
    )
    refused: dict[tuple[int, str], str] = {}
    if rejects.exists():
        for line in read_rejects(rejects):
            assert line["reason"], line
            refused[(int(line["row"]), line["column"])] = line["value"]
    got = stored(engine)
    names = ["revenue", "net_profit", "invention_patents", "as_of"]
    for i, row in enumerate(rows):
        number = i + 2
        report = got.get(2001 + i)
        row_refused = any(r == number for r, _ in refused)
        assert (report is None) == row_refused, (number, row, refused)
        for (cell, shown), name, head in zip(row, names, header[2:], strict=True):
            if (number, head) in refused:
                assert refused[(number, head)] == cell
                assert shown is None, f"row {number} {head}: {cell!r} refused"
                continue
            if report is None:
                continue  # another cell of the row was refused; the row was not written
            value = getattr(report, name)
            if not cell.strip():  # an empty as_of is the import's own date
                assert value is None or name == "as_of"
                continue
            assert value is not None, f"row {number} {head}: {cell!r} stored as empty"
            if name == "as_of":
                if shown is not None:
                    assert value == shown
                continue
            whole = name == "invention_patents"
            expected = (
                _oracle_number(cell, unit if not whole else Decimal(1), whole)
                if shown is None
                else (shown * (1 if whole else unit)).quantize(Decimal("0.01"))
            )
            assert expected is not None, f"row {number} {head}: {cell!r} stored as {value}"
            assert value == expected, (cell, value, expected)


# ------------------------------------------------------------------ the other column types

KINDS = [k.value for k in ProductKind]


@st.composite
def code_cells(draw: Any) -> tuple[str, str | None]:
    """A product kind as written (any case, padded), or junk."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.text(DIGITS + JUNK + "_ ＡＢＣ", min_size=1, max_size=10)), None
    code = draw(st.sampled_from(KINDS))
    text = draw(st.sampled_from([code, code.upper(), code.title(), f" {code} "]))
    return text, code


@st.composite
def text_cells(draw: Any) -> tuple[str, str]:
    alphabet = st.characters(
        codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"], exclude_characters="'\ufeff"
    )
    text = draw(st.text(alphabet, min_size=1, max_size=30))
    return text, text.strip()


@st.composite
def json_cells(draw: Any) -> tuple[str, bool]:
    if draw(st.booleans()):
        return '{"min_points": "60", "fields": ["bio_medicine"]}', True
    return draw(st.text('{}[]":,0123456789 abc', min_size=1, max_size=12)), False


PRODUCT_ROWS = st.lists(
    st.tuples(
        text_cells(),
        code_cells(),
        amount_cells(signed=False, places=2),
        amount_cells(signed=False, places=0),
        amount_cells(signed=True, places=4),
        json_cells(),
        date_cells(),
    ),
    min_size=1,
    max_size=5,
)
PRODUCT_HEADER = ["code", "institution", "financing_mode", "name", "kind", "amount_min"]
PRODUCT_HEADER += ["term_min_months", "rate_min", "eligibility", "active_from"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.slow
@given(rows=PRODUCT_ROWS, xlsx=st.booleans())
def test_text_code_quantity_and_json_cells_are_stored_as_shown_or_rejected(
    engine: Engine, tmp_path: Path, rows: list[Any], xlsx: bool
) -> None:
    with unit_of_work(engine) as s:
        s.execute(delete(Product))
        seeded = s.scalar(select(Institution.id).where(Institution.code == "B1")) is not None
    if not seeded:
        with unit_of_work(engine) as s:
            s.add(Institution(code="B1", name="某银行", kind="bank"))
    table = [PRODUCT_HEADER] + [
        [f"P{i}", "B1", "indirect", *(cell for cell, _ in row)] for i, row in enumerate(rows)
    ]
    path = tmp_path / ("p.xlsx" if xlsx else "p.csv")
    (write_xlsx if xlsx else write_csv)(path, table)
    rejects = tmp_path / "p.rejects.csv"
    rejects.unlink(missing_ok=True)
    import_file(engine, "products", path, skip_invalid=True, rejects=rejects)
    refused = set()
    if rejects.exists():
        for line in read_rejects(rejects):
            assert line["reason"], line
            refused.add((int(line["row"]), line["column"]))
    with unit_of_work(engine) as s:
        got = {p.code: p for p in s.scalars(select(Product))}
        s.expunge_all()
    names = PRODUCT_HEADER[3:]
    for i, row in enumerate(rows):
        number, product = i + 2, got.get(f"P{i}")
        assert (product is None) == any(r == number for r, _ in refused), (row, refused)
        for (cell, shown), name in zip(row, names, strict=True):
            valid = shown is not None and shown is not False
            if (number, name) in refused:
                # only junk is refused (and a text whose stripped form is empty or too long)
                assert not valid or name == "name", (name, cell)
                continue
            if product is None:
                continue
            value = getattr(product, name)
            if not cell.strip():  # an empty eligibility is no rule at all: {}
                assert value in (None, "{}", {}), (name, cell, value)
                continue
            assert value is not None, f"row {number} {name}: {cell!r} stored as empty"
            exact = name in ("name", "kind") or (name != "eligibility" and shown is not None)
            if exact:  # a valid cell: the value it shows
                assert value == shown, (name, cell, value)
