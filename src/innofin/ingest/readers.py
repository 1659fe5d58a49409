"""Streaming readers for CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16) and XLSX.

A table gives the header row and then batches of data rows as text cells with the number a person
sees in the file (the first row is 1, as in Excel), so problems can be reported where the user
will look. Memory is one batch, whatever the size of the file.

CSV encodings are detected: a byte-order mark (UTF-8, UTF-16, UTF-32), else UTF-16 without one
by its NUL bytes (Excel's "Unicode text" is UTF-16LE with TAB separators), else UTF-8 if the
whole file decodes, else GB18030. An encoding given by the user must be a character set:
Python's bytes-to-bytes and text-to-text codecs (``rot13``, ``base64``, ``zlib``, ``hex``,
``uu``) and transfer codecs (``punycode``, ``idna``, ``unicode_escape``) are refused by name.

An XLSX is a zip of XML files, so a small upload can unpack to gigabytes: before openpyxl reads
it, the members' declared sizes are added up (`MAX_XLSX_MB`) and every XML member is streamed
once to check that no text — a cell — runs longer than `MAX_CELL_CHARS` (Excel's own limit is
32,767 characters), so a 300 MB cell is refused in the first megabytes it unpacks.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import itertools
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import numpy as np
import polars as pl

from innofin.ingest.csvread import CsvTable
from innofin.ingest.errors import CorruptFile, EmptyFile, IngestError, WrongEncoding
from innofin.ingest.tables import RawBatch, frame_from_rows
from innofin.kernel.settings import _int

CHUNK = 1 << 20
XLSX_SUFFIXES = (".xlsx", ".xlsm")
_BROKEN_XLSX = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ParseError, OSError, ValueError)
#: settings: the most an XLSX may unpack to (MB), and the longest cell (characters)
MAX_XLSX_MB = "INNOFIN_IMPORT_MAX_XLSX_MB"
MAX_CELL_CHARS = "INNOFIN_IMPORT_MAX_CELL_CHARS"
_ENCODINGS_HINT = "use e.g. utf-8, gbk, gb18030 or utf-16"
#: text codecs of Python that are not the character set of a file
_NOT_CHARSETS = {"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined"}


@dataclass(frozen=True)
class FileInfo:
    """What a first pass over the bytes learns: format, encoding (CSV), SHA-256."""

    path: Path
    format: str  # csv or xlsx
    encoding: str | None
    sha256: str


def canonical_encoding(name: str) -> str:
    """A Python codec name for `name`; UTF-8 always tolerates a BOM (Excel writes one).

    Refuses (naming the parameter) what is not a character set of text files."""
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        raise IngestError(
            f"unknown encoding {name!r}: {_ENCODINGS_HINT}", field="encoding"
        ) from None
    codec = info.name
    if not getattr(info, "_is_text_encoding", True) or codec in _NOT_CHARSETS:
        raise IngestError(
            f"encoding {name!r} is not a character set of text files: {_ENCODINGS_HINT}",
            field="encoding",
        )
    return "utf-8-sig" if codec in ("utf-8", "utf-8-sig") else codec


def detect_bom_or_nuls(head: bytes) -> str | None:
    """The encoding the first bytes of a file show: a BOM, or UTF-16 by its NUL pattern (ASCII
    text in UTF-16 has a NUL in every other byte); None when they show nothing."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    sample = head[: len(head[:4096]) // 2 * 2]
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        nul_even, nul_odd = even.count(0) / len(even), odd.count(0) / len(odd)
        # text files in other encodings hold no NULs; UTF-16 of CJK text holds fewer (only its
        # ASCII digits and separators), mostly on one side (some CJK code units end in 00: 开)
        if nul_odd >= 0.1 and nul_even <= nul_odd / 2:
            return "utf-16-le"
        if nul_even >= 0.1 and nul_odd <= nul_even / 2:
            return "utf-16-be"
    return None


def _runs_longer_than(stream: Any, limit: int) -> bool:
    """Whether the XML `stream` has a run of more than `limit` bytes without a ``<`` (a text
    node or attribute value), read in chunks without keeping more than one."""
    carry = 0  # bytes since the last "<", across chunks
    while chunk := stream.read(CHUNK):
        marks = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 0x3C)
        if marks.size == 0:
            carry += len(chunk)
        else:
            if carry + int(marks[0]) > limit:
                return True
            if marks.size > 1 and int(np.diff(marks).max()) - 1 > limit:
                return True
            carry = len(chunk) - int(marks[-1]) - 1
        if carry > limit:
            return True
    return False


def check_xlsx(path: Path) -> None:
    """Refuse an XLSX that unpacks to more than the setting allows, or holds a longer cell."""
    max_mb = _int(MAX_XLSX_MB, 2048)
    max_chars = _int(MAX_CELL_CHARS, 32_767)
    try:
        with zipfile.ZipFile(path) as book:
            members = book.infolist()
            total = sum(m.file_size for m in members)
            if total > max_mb << 20:
                raise IngestError(
                    f"{path.name} unpacks to {total / (1 << 20):,.0f} MB, more than the "
                    f"{max_mb:,} MB allowed ({MAX_XLSX_MB}); split it or save it as CSV",
                    field="file",
                )
            for member in members:
                if not member.filename.endswith((".xml", ".rels")):
                    continue
                with book.open(member) as stream:
                    if _runs_longer_than(stream, 4 * max_chars):  # UTF-8: up to 4 bytes a char
                        raise IngestError(
                            f"{path.name} holds a cell longer than {max_chars:,} characters "
                            f"(in {member.filename}; {MAX_CELL_CHARS}); nothing was read",
                            field="file",
                        )
    except _BROKEN_XLSX as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CorruptFile(
            f"{path.name} is not a readable XLSX workbook (damaged or truncated): {reason}"
        ) from None


def _decodes(path: Path, encoding: str, digest: Any | None) -> tuple[int, int] | None:
    """Decode the file in chunks (updating `digest`); None if it decodes, else (row, bad byte)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    newlines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            if digest is not None:
                digest.update(chunk)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                start = max(exc.start - pending, 0)
                return newlines + chunk[:start].count(b"\n") + 1, exc.object[exc.start]
            newlines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return newlines + 1, exc.object[exc.start]
    return None


def inspect(path: Path, encoding: str | None = None) -> FileInfo:
    """Check the file is there and not empty, hash it, and settle the CSV encoding.

    Without `encoding`, the encoding is detected (see the module docstring). Either way the
    whole file is decoded once here, so a wrong encoding is refused before anything is written;
    an XLSX is checked for its unpacked size and the length of its cells (`check_xlsx`).
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file", field="file")
    if path.stat().st_size == 0:
        raise EmptyFile(f"{path.name} is empty: there is no header row")
    if path.suffix.lower() == ".xls":
        raise IngestError(f"{path.name}: XLS (Excel 97-2003) is not supported; save as XLSX or CSV")
    digest = hashlib.sha256()
    if path.suffix.lower() in XLSX_SUFFIXES:
        check_xlsx(path)
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        return FileInfo(path, "xlsx", None, digest.hexdigest())
    with path.open("rb") as fh:
        detected = detect_bom_or_nuls(fh.read(4096))
    chosen = canonical_encoding(encoding) if encoding else (detected or "utf-8-sig")
    failure = _decodes(path, chosen, digest)
    if failure is not None and encoding is None and detected is None:
        chosen = "gb18030"
        failure = _decodes(path, chosen, None)
    if failure is not None:
        row, byte = failure
        hint = (
            "give the right --encoding (e.g. gb18030 or utf-16)"
            if encoding
            else "give its --encoding (e.g. big5, shift_jis or latin-1)"
        )
        raise WrongEncoding(
            f"{path.name} is not valid {chosen} text (byte 0x{byte:02x} near row {row}); {hint}"
        )
    return FileInfo(path, "csv", chosen, digest.hexdigest())


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a person sees; floats through 15 significant digits, as Excel."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


class XlsxTable:
    """The header and the data rows of one worksheet, batch by batch, in read-only mode."""

    def __init__(self, ws: Any, name: str, header_row: int, size: int = 10_000) -> None:
        self.name, self._size = name, size
        self._rows = self._values(ws)
        skipped = list(itertools.islice(self._rows, header_row - 1))
        header = next(self._rows, None)
        if header is None:
            where = f"on row {header_row}" if skipped else "(the sheet has no rows)"
            raise EmptyFile(f"{name} is empty: there is no header row {where}")
        self.header = [c.strip() for c in header]
        if not any(self.header):
            raise EmptyFile(f"{name}: the header row {header_row} is blank")
        self._next = header_row + 1

    def _values(self, ws: Any) -> Iterator[list[str]]:
        try:
            for values in ws.iter_rows(values_only=True):
                yield [cell_text(v) for v in values]
        except _BROKEN_XLSX as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise CorruptFile(f"{self.name} is damaged or truncated: {reason}") from None

    def batches(self) -> Iterator[RawBatch]:
        while chunk := list(itertools.islice(self._rows, self._size)):
            first, self._next = self._next, self._next + len(chunk)
            frame, overflow = frame_from_rows(chunk, len(self.header), first)
            numbers = pl.int_range(first, first + len(chunk), dtype=pl.Int64, eager=True)
            yield RawBatch(numbers, frame, overflow).without_blank_rows()


Table = CsvTable | XlsxTable


@contextmanager
def open_table(info: FileInfo, *, sheet: str | None = None, header_row: int = 1) -> Iterator[Table]:
    """Open the file for streaming: CSV in byte chunks, XLSX in openpyxl's read-only mode."""
    name = info.path.name
    if info.format == "csv":
        assert info.encoding is not None
        yield CsvTable(info.path, info.encoding, header_row)
        return
    from openpyxl import load_workbook  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # style and extension notices
            book = load_workbook(info.path, read_only=True, data_only=True)
    except (*_BROKEN_XLSX, InvalidFileException) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CorruptFile(
            f"{name} is not a readable XLSX workbook (damaged or truncated): {reason}"
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise IngestError(f"{name} has no sheet {sheet!r}; it has {', '.join(book.sheetnames)}")
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        yield XlsxTable(ws, name, header_row)
    finally:
        book.close()


def count_rows(path: Path) -> int | None:
    """A quick estimate of the data rows (for a progress bar): lines for CSV, XLSX dimensions."""
    path = Path(path)
    try:
        if path.suffix.lower() in XLSX_SUFFIXES:
            return None
        lines = 0
        last = b"\n"
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        return max(lines - (1 if last == b"\n" else 0), 0)
    except OSError:
        return None
