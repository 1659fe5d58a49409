"""CSV rows in batches, parsed by Polars' native reader in byte chunks cut at record ends.

Python's csv module plus building columns costs about 15 of the 60 seconds a million-row import
may take; Polars parses the same bytes in one. A chunk of about `CHUNK` bytes is cut after the last
newline that is not inside a quoted field (an even number of quote characters before it), decoded
from the file's encoding and parsed with a fixed schema, so a row's position in its chunk gives its
number in the file (Polars keeps blank lines as empty rows). In UTF-8, GBK and GB18030 the bytes
of ``\\n`` and ``"`` never occur inside a multi-byte character, so cutting bytes is safe there;
other encodings, chunks Polars refuses (rows with too many cells) and files whose quotes do not
balance are read by the csv module instead, with the same result, only slower. Encodings in which
ASCII is not one byte a character (UTF-16, UTF-32) are read as text by the csv module throughout.

The separator is sniffed from the header row: whichever of ``,`` ``;`` TAB ``|`` it holds most
often outside quotes (a comma when it holds none), so files saved with a European locale or as
Excel's "Unicode text" read as they are.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from innofin.ingest.errors import CorruptFile, EmptyFile, WrongEncoding
from innofin.ingest.tables import RawBatch, frame_from_rows

CHUNK = 4 << 20
MAX_PENDING = 32 << 20  # a record this long means unbalanced quotes: use the csv module
_SCAN = 2_000  # newlines tried from the end of a chunk before reading more


def record_end(buf: bytes, start: int = 0) -> int:
    """The offset just after the last complete record in `buf` (0 if none is found)."""
    quotes = buf.count(b'"', start)
    pos = len(buf)
    for _ in range(_SCAN):
        pos = buf.rfind(b"\n", start, pos)
        if pos < 0:
            return 0
        if (quotes - buf.count(b'"', pos)) % 2 == 0:
            return pos + 1
    return 0


SEPARATORS = (",", ";", "\t", "|")


def sniff_separator(line: str) -> str:
    """The separator a header line uses: the candidate it holds most often outside quotes."""
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(SEPARATORS, key=lambda c: counts[c])  # the first (a comma) on ties
    return best if counts[best] else ","


def _first_records(buf: bytes, count: int) -> int:
    """The offset after the first `count` records of `buf` (0 if it holds fewer)."""
    end, quotes = 0, 0
    for _ in range(count):
        while True:
            pos = buf.find(b"\n", end)
            if pos < 0:
                return 0
            quotes += buf.count(b'"', end, pos)
            end = pos + 1
            if quotes % 2 == 0:
                break
    return end


class CsvTable:
    """The header of a CSV file and its data rows, batch by batch (see the module docstring)."""

    def __init__(self, path: Path, encoding: str, header_row: int) -> None:
        self.path, self.name, self.encoding = path, path.name, encoding
        codec = codecs.lookup(encoding)
        self._utf8 = codec.name in ("utf-8", "utf-8-sig")
        plain = "utf-8" if self._utf8 else codec.name  # utf-8-sig would prefix a BOM
        self._bytewise = '\n"'.encode(plain) == b'\n"'
        if self._bytewise and not self._utf8:  # multi-byte codecs whose trail bytes avoid ASCII
            self._bytewise = codec.name in ("gbk", "gb18030", "gb2312", "big5", "latin-1") or (
                codec.name.startswith(("cp", "iso8859", "euc", "shift_jis"))
            )
        # ASCII one byte a character: rows can be cut as bytes (not so in UTF-16 or UTF-32)
        self._ascii = ',;\t|\n"'.encode(plain) == b',;\t|\n"'
        self._bytewise = self._bytewise and self._ascii
        if self._ascii:
            with path.open("rb") as fh:
                head = fh.read(CHUNK)
                while (end := _first_records(head, header_row)) == 0:
                    more = fh.read(CHUNK)
                    if not more:
                        end = len(head)
                        break
                    head += more
            lines = self._decode(head[:end], 1).splitlines() if end else []
            self.separator = sniff_separator(
                lines[header_row - 1] if len(lines) >= header_row else ""
            )
            records = self._python_rows(head[:end])
        else:
            end = 0
            with path.open(encoding=encoding, newline="") as text:
                lines = list(itertools.islice(text, header_row))
                self.separator = sniff_separator(lines[-1] if len(lines) == header_row else "")
                text.seek(0)
                records = list(itertools.islice(self._reader(text), header_row))
        if len(records) < header_row:
            where = f"on row {header_row}" if records else "(the file has no rows)"
            raise EmptyFile(f"{self.name} is empty: there is no header row {where}")
        self.header = [c.strip() for c in records[header_row - 1]]
        if not any(self.header):
            raise EmptyFile(f"{self.name}: the header row {header_row} is blank")
        self._offset, self._next = end, header_row + 1
        self._header_row = header_row
        self._schema = {f"c{i}": pl.Utf8 for i in range(len(self.header))}

    def _reader(self, text: Any) -> Any:
        return csv.reader(text, delimiter=self.separator)

    def _decode(self, data: bytes, first: int) -> str:
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            row = first + data[: exc.start].count(b"\n")
            raise WrongEncoding(
                f"{self.name} is not valid {self.encoding} text near row {row}: {exc.reason}"
            ) from None

    def _python_rows(self, data: bytes, first: int = 1) -> list[list[str]]:
        try:
            return list(self._reader(io.StringIO(self._decode(data, first), newline="")))
        except csv.Error as exc:
            raise CorruptFile(f"{self.name} near row {first}: not readable as CSV: {exc}") from None

    def _batch(self, rows: Sequence[Sequence[str]] | pl.DataFrame) -> RawBatch:
        """A batch of the rows that follow, numbered, blank ones dropped."""
        first = self._next
        overflow: list[int] = []
        if isinstance(rows, pl.DataFrame):
            frame = rows
        else:
            frame, overflow = frame_from_rows(rows, len(self.header), first)
        self._next += frame.height
        numbers = pl.int_range(first, first + frame.height, dtype=pl.Int64, eager=True)
        return RawBatch(numbers, frame, overflow).without_blank_rows()

    def _parse(self, data: bytes) -> RawBatch:
        text = data if self._utf8 else self._decode(data, self._next).encode("utf-8")
        try:
            frame = pl.read_csv(
                text,
                has_header=False,
                schema=self._schema,
                separator=self.separator,
                missing_columns="insert",
                raise_if_empty=False,
            )
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.NoDataError):
            return self._batch(self._python_rows(data, self._next))  # e.g. a row too long
        return self._batch(frame)

    def batches(self) -> Iterator[RawBatch]:
        if not self._ascii:
            with self.path.open(encoding=self.encoding, newline="") as text:
                reader = self._reader(text)
                for _ in itertools.islice(reader, self._header_row):
                    pass
                yield from self._reader_batches(reader)
            return
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            if not self._bytewise:
                yield from self._python_batches(fh)
                return
            pending = b""
            while True:
                chunk = fh.read(CHUNK)
                buf = pending + chunk
                if not chunk:
                    if buf.strip():
                        yield self._parse(buf)
                    return
                end = record_end(buf)
                if end == 0:
                    if len(buf) > MAX_PENDING:  # unbalanced quotes: leave it to the csv module
                        fh.seek(fh.tell() - len(buf))
                        yield from self._python_batches(fh)
                        return
                    pending = buf
                    continue
                pending = buf[end:]
                yield self._parse(buf[:end])

    def _python_batches(self, fh: BinaryIO) -> Iterator[RawBatch]:
        text = io.TextIOWrapper(fh, encoding=self.encoding, newline="")
        try:
            yield from self._reader_batches(self._reader(text))
        finally:
            text.detach()

    def _reader_batches(self, reader: Any, size: int = 20_000) -> Iterator[RawBatch]:
        rows: list[list[str]] = []
        try:
            for row in reader:
                rows.append(row)
                if len(rows) >= size:
                    yield self._batch(rows)
                    rows = []
        except csv.Error as exc:
            raise CorruptFile(
                f"{self.name} near row {self._next + len(rows)}: not readable as CSV: {exc}"
            ) from None
        except UnicodeDecodeError as exc:
            raise WrongEncoding(
                f"{self.name} is not valid {self.encoding} text near row "
                f"{self._next + len(rows)}: {exc.reason}"
            ) from None
        if rows:
            yield self._batch(rows)
