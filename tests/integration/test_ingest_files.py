"""Files people actually have, through the real import on SQLite and PostgreSQL: UTF-16 (Excel's
"Unicode text"), UTF-32, `;` / TAB / `|` separators, extra columns, encodings that are not
character sets, and an XLSX whose one cell would unpack to 300 MB."""

from __future__ import annotations

import tracemalloc
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ingest_helpers import USCC, seed_enterprises, write_xlsx
from innofin.db.engine import unit_of_work
from innofin.ingest import IngestError, RejectedRows, UnknownColumn, import_file
from innofin.ingest.readers import inspect
from innofin.ingest.rejects import read_rejects
from innofin.registry.models import Enterprise, IndicatorReport

HEADER = ["统一社会信用代码", "年度", "营业收入（万元）", "企业名称"]


def text_file(path: Path, separator: str, newline: str = "\n") -> str:
    rows = [HEADER, [USCC[0], "2023", "120.5", "北京甲科技；有限公司"]]
    rows.append([USCC[1], "2024", "１，０００", "乙"])
    return newline.join(separator.join(r) for r in rows) + newline


def revenues(engine: Engine) -> dict[tuple[str, int], Decimal | None]:
    with unit_of_work(engine) as s:
        rows = s.execute(
            select(Enterprise.identifier, IndicatorReport.year, IndicatorReport.revenue).join(
                Enterprise
            )
        ).all()
    return {(ident, year): revenue for ident, year, revenue in rows}


FILES = {
    # Excel's "Unicode text": UTF-16LE with a BOM, TAB separators, CRLF
    "excel unicode text": ("utf-16", "\t", "\r\n", "utf-16"),
    "utf-16le without a BOM": ("utf-16-le", "\t", "\r\n", "utf-16-le"),
    "utf-16be without a BOM": ("utf-16-be", ",", "\n", "utf-16-be"),
    "utf-32 with a BOM": ("utf-32", ";", "\n", "utf-32"),
    "semicolons, utf-8": ("utf-8", ";", "\n", "utf-8-sig"),
    "tabs, gbk": ("gbk", "\t", "\r\n", "gb18030"),
    "pipes, utf-8 with BOM": ("utf-8-sig", "|", "\n", "utf-8-sig"),
    "commas, gb18030": ("gb18030", ",", "\n", "gb18030"),
}


@pytest.mark.parametrize("case", list(FILES))
def test_encodings_and_separators_are_detected(engine: Engine, tmp_path: Path, case: str) -> None:
    encoding, separator, newline, detected = FILES[case]
    seed_enterprises(engine, 2)
    path = tmp_path / "年度指标.csv"
    path.write_bytes(text_file(path, separator, newline).encode(encoding))
    result = import_file(engine, "indicators", path, mapping=Path("indicators-zh"))
    assert (result.encoding, result.written, result.rejected) == (detected, 2, 0)
    assert revenues(engine) == {
        (USCC[0], 2023): Decimal("1205000.00"),
        (USCC[1], 2024): Decimal("10000000.00"),
    }


def test_a_quoted_separator_does_not_fool_the_sniffer(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 2)
    path = tmp_path / "d.csv"
    path.write_text(
        f'identifier;year;"revenue"\n{USCC[0]};2023;"1,500"\n{USCC[1]};2023;"1,5"\n',
        encoding="utf-8",
    )
    result = import_file(engine, "indicators", path, skip_invalid=True)
    assert revenues(engine) == {(USCC[0], 2023): Decimal("1500.00")}
    # a decimal comma (European locales) is refused, never read as 15
    (line,) = read_rejects(result.rejects_path or Path())
    assert (line["row"], line["column"], line["value"]) == ("3", "revenue", "1,5")
    assert line["reason"] == "not a number: '1,5' (commas and spaces only group thousands)"


def test_an_extra_column_is_refused_with_the_option_that_ignores_it(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "zones.csv"
    path.write_text(
        "code,name_zh,province,city,level,备注\nZ9,示例园区,江苏,苏州,national,新设\n",
        encoding="utf-8",
    )
    with pytest.raises(
        UnknownColumn, match=r"column '备注' is not in the mapping; .*--ignore-extra"
    ):
        import_file(engine, "zones", path)
    result = import_file(engine, "zones", path, ignore_extra=True)
    assert (result.written, result.rejected) == (1, 0)


@pytest.mark.parametrize("encoding", ["rot13", "base64", "zlib", "hex", "uu", "punycode", "idna"])
def test_encodings_must_be_character_sets(engine: Engine, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text("identifier,year\n", encoding="utf-8")
    with pytest.raises(IngestError, match=f"encoding '{encoding}' is not a character set") as e:
        import_file(engine, "indicators", path, encoding=encoding)
    assert e.value.field == "encoding"


# ------------------------------------------------------------------ an XLSX that unpacks to 300 MB

CELL_MB = 300


@pytest.fixture(scope="module")
def huge_cell_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid workbook whose one cell is 300 MB of text: a few hundred KB on disk."""
    folder = tmp_path_factory.mktemp("bomb")
    small = write_xlsx(
        folder / "small.xlsx", [["identifier", "year", "revenue"], ["X", 2023, "@@"]]
    )
    target = folder / "bomb.xlsx"
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if b"@@" not in data:  # the cell is in the sheet or in the shared strings
                dst.writestr(item, data)
                continue
            before, after = data.split(b"@@")
            with dst.open(item.filename, "w", force_zip64=True) as out:
                out.write(before)
                block = b"A" * (1 << 20)
                for _ in range(CELL_MB):
                    out.write(block)
                out.write(after)
    return target


def test_a_300_mb_cell_is_refused_before_it_is_read(
    engine: Engine, huge_cell_xlsx: Path, tmp_path: Path
) -> None:
    assert huge_cell_xlsx.stat().st_size < 1 << 20  # the upload is small
    tracemalloc.start()
    try:
        with pytest.raises(IngestError, match="holds a cell longer than 32,767 characters") as e:
            import_file(engine, "indicators", huge_cell_xlsx, rejects=tmp_path / "r.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.value.field == "file"
    assert peak < 32 << 20, f"peak {peak / (1 << 20):.0f} MB"
    assert revenues(engine) == {}


def test_the_unpacked_size_is_bounded_by_a_setting(
    huge_cell_xlsx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INNOFIN_IMPORT_MAX_XLSX_MB", "100")
    with pytest.raises(IngestError, match=r"unpacks to 300 MB, more than the 100 MB allowed"):
        inspect(huge_cell_xlsx)
    monkeypatch.setenv("INNOFIN_IMPORT_MAX_XLSX_MB", "1000")
    monkeypatch.setenv("INNOFIN_IMPORT_MAX_CELL_CHARS", "100000000")
    inspect(huge_cell_xlsx)  # within both limits: read as usual


def test_a_row_longer_than_the_header_says_what_to_do(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 1)
    path = tmp_path / "d.csv"
    path.write_text(f"identifier;year;revenue\n{USCC[0]};2023;1;5\n", encoding="utf-8")
    with pytest.raises(RejectedRows) as exc:
        import_file(engine, "indicators", path)
    (line,) = read_rejects(exc.value.rejects_path)
    assert line["row"] == "2"
    assert line["reason"].endswith(
        "put a value that holds the separator in quotes, or remove the cells past the last column"
    )
