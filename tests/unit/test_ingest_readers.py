"""Readers: encodings, row numbers across chunks, damaged files, duplicate-key tracking."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.ingest import csvread
from innofin.ingest.errors import CorruptFile, EmptyFile, WrongEncoding
from innofin.ingest.readers import cell_text, inspect, open_table
from innofin.ingest.seen import SeenKeys

HEADER = "统一社会信用代码,企业名称,年度\n"


def rows_of(path: Path, encoding: str | None = None) -> list[tuple[int, list[str | None]]]:
    info = inspect(path, encoding)
    with open_table(info) as table:
        out = []
        for batch in table.batches():
            for number, row in zip(batch.rows.to_list(), batch.frame.rows(), strict=True):
                out.append((number, list(row)))
        return out


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes((HEADER + "9111,北京甲科技,2023\n").encode(encoding))
    info = inspect(path)
    assert info.encoding == ("utf-8-sig" if encoding.startswith("utf") else "gb18030")
    with open_table(info) as table:
        assert table.header == ["统一社会信用代码", "企业名称", "年度"]
        assert [b.frame.rows() for b in table.batches()] == [[("9111", "北京甲科技", "2023")]]


def test_gb18030_characters_outside_gbk(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes((HEADER + "9111,𠀾科技,2023\n").encode("gb18030"))
    assert rows_of(path) == [(2, ["9111", "𠀾科技", "2023"])]


def test_a_wrong_encoding_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes((HEADER + "9111,北京甲科技,2023\n").encode("gbk"))
    with pytest.raises(WrongEncoding, match=r"f\.csv is not valid utf-8-sig text .*near row 1"):
        inspect(path, "utf-8")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty: there is no header row"),
        (b"\n", "header row 1 is blank"),
    ],
)
def test_empty_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(EmptyFile, match=message):
        rows_of(path)


def test_row_numbers_survive_chunks_quotes_and_blank_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvread, "CHUNK", 16)  # cut the file every few bytes
    path = tmp_path / "f.csv"
    path.write_bytes(
        b'a,b\r\n1,"x\r\n\r\ny"\r\n\r\n2,"q""r"\r\n3\r\n4,5,6\r\n,\r\n5,"long, long field"'
    )
    assert rows_of(path) == [
        (2, ["1", "x\r\n\r\ny"]),
        (4, ["2", 'q"r']),
        (5, ["3", None]),
        (6, ["4", "5"]),
        (8, ["5", "long, long field"]),
    ]


def test_rows_longer_than_the_header_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2,3\n4,5,\n", encoding="utf-8")
    info = inspect(path)
    with open_table(info) as table:
        batch = next(table.batches())
    assert batch.overflow == [2]
    assert batch.frame.rows() == [("1", "2"), ("4", "5")]


def test_unbalanced_quotes_fall_back_to_the_csv_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvread, "CHUNK", 8)
    monkeypatch.setattr(csvread, "MAX_PENDING", 32)
    path = tmp_path / "f.csv"
    path.write_text('a,b\n1,12" screen\n' + "".join(f"{i},x\n" for i in range(2, 12)), "utf-8")
    rows = rows_of(path)
    assert rows[0] == (2, ["1", '12" screen'])
    assert [r[0] for r in rows] == list(range(2, 13))


def test_xlsx_rows_numbered_as_in_excel(tmp_path: Path) -> None:
    from ingest_helpers import write_xlsx

    path = write_xlsx(tmp_path / "f.xlsx", [["a", "b"], [1, 2.5], [], ["x", dt.date(2024, 1, 5)]])
    assert rows_of(path) == [(2, ["1", "2.5"]), (4, ["x", "2024-01-05"])]


def test_truncated_xlsx_is_a_one_line_error(tmp_path: Path) -> None:
    from ingest_helpers import write_xlsx

    path = write_xlsx(tmp_path / "f.xlsx", [["a", "b"], *([i, i] for i in range(500))])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptFile, match=r"f\.xlsx is not a readable XLSX workbook") as caught:
        rows_of(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "value, text",
    [
        (None, ""),
        (True, "true"),
        (3, "3"),
        (3.0, "3"),
        (0.1 + 0.2, "0.3"),
        (1234567.891, "1234567.891"),
        (dt.datetime(2024, 1, 5), "2024-01-05"),
    ],
)
def test_cell_text_is_what_excel_shows(value: object, text: str) -> None:
    assert cell_text(value) == text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=40), max_size=6))
def test_seen_keys_find_exactly_the_repeats(batches: list[list[int]]) -> None:
    seen, first_row, row = SeenKeys(), {}, 1
    for keys in batches:
        rows = np.arange(row, row + len(keys), dtype=np.int64)
        found = seen.check_and_add(np.asarray(keys, dtype=np.int64), rows)
        for key, number, earlier in zip(keys, rows, found, strict=True):
            assert earlier == first_row.get(key, 0)
            first_row.setdefault(key, int(number))
        row += len(keys)
    assert len(seen) == len(first_row)


def test_seen_keys_work_with_text_keys_of_any_width() -> None:
    seen = SeenKeys()
    seen.check_and_add(np.array([b"abc", b"abcdefghij"]), np.array([2, 3]))
    found = seen.check_and_add(np.array([b"abcdefghijXYZ", b"abc"]), np.array([4, 5]))
    assert found.tolist() == [0, 2]


def test_frame_cells_stay_text() -> None:
    from innofin.ingest.tables import frame_from_rows

    frame, overflow = frame_from_rows([["1"], ["1", "2", "3"]], 2, 10)
    assert frame.schema == pl.Schema({"c0": pl.Utf8, "c1": pl.Utf8})
    assert overflow == [11]


NAME = "北京甲科技有限公司苏州高新技术产业开发区研发中心第一分公司" * 2


@pytest.mark.parametrize("codec, name", [("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be")])
def test_utf16_without_a_bom_is_found_by_its_nuls_even_in_chinese_text(
    tmp_path: Path, codec: str, name: str
) -> None:
    """Mostly CJK text: only the separators and digits put NULs on one side of each pair."""
    path = tmp_path / "f.csv"
    text = "统一社会信用代码\t企业名称\t年度\n" + "".join(
        f"9111\t{NAME}{i}\t2023\n" for i in range(20)
    )
    path.write_bytes(text.encode(codec))
    info = inspect(path)
    assert info.encoding == name
    with open_table(info) as table:
        assert table.header == ["统一社会信用代码", "企业名称", "年度"]
        rows = [r for b in table.batches() for r in b.frame.rows()]
    assert rows[0] == ("9111", f"{NAME}0", "2023")
    assert len(rows) == 20
