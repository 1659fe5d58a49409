"""A batch of rows as read from a file: text cells by position, with the rows' numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class RawBatch:
    """`frame` holds the cells as text in columns c0, c1, … (one per header column); `rows` the
    number of each row in the file (the first row of the file is 1, as in Excel); `overflow` the
    rows that have non-empty cells beyond the header's width."""

    rows: pl.Series
    frame: pl.DataFrame
    overflow: list[int]

    @property
    def height(self) -> int:
        return self.frame.height

    def without_blank_rows(self) -> RawBatch:
        """Blank rows separate blocks in spreadsheets; they are not data."""
        if self.frame.width == 0:
            return self
        filled = pl.concat_str(pl.all().fill_null(""), separator="").str.strip_chars() != ""
        keep = self.frame.select(filled.alias("keep")).to_series()
        if keep.all():
            return self
        return RawBatch(self.rows.filter(keep), self.frame.filter(keep), self.overflow)


def frame_from_rows(
    rows: Sequence[Sequence[str]], width: int, first: int
) -> tuple[pl.DataFrame, list[int]]:
    """Rows of unequal length as a frame of `width` text columns, and the overflowing rows."""
    overflow = [
        first + i
        for i, row in enumerate(rows)
        if len(row) > width and any(c.strip() for c in row[width:])
    ]
    fitted = [list(row[:width]) + [""] * (width - len(row)) for row in rows]
    schema = {f"c{i}": pl.Utf8 for i in range(width)}
    return pl.DataFrame(fitted, schema=schema, orient="row"), overflow
