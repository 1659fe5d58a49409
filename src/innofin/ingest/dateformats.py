"""Date formats a mapping may declare for a column (``format: M/D/YYYY``), as the bank's own
system writes its dates: ``M/D/YYYY`` (3/7/2024), ``D-Mon-YY`` (7-Mar-24), ``DD.MM.YYYY``,
``YYYYMMDD`` … Several may be given; a cell is read by the first that fits.

Tokens: ``YYYY`` (four-digit year), ``YY`` (two digits: 69–99 are 1969–1999, 00–68 are
2000–2068, as POSIX ``strptime`` reads them), ``MM``/``M`` (month, two digits or one or two),
``DD``/``D`` (day), ``Mon`` (an English month abbreviation, any case: Jan … Dec) and ``月`` and the
like as literal text. Anything else is written literally. Each format needs a year, a month and a
day. A time of midnight after the date (``3/7/2024 0:00:00``) is accepted, as spreadsheets write it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

_TOKEN = re.compile(r"YYYY|YY|Mon|MM|M|DD|D")
_PARTS = {
    "YYYY": r"(?P<y>\d{4})",
    "YY": r"(?P<yy>\d{2})",
    "Mon": r"(?P<mon>[A-Za-z]{3})",
    "MM": r"(?P<m>\d{2})",
    "M": r"(?P<m>\d{1,2})",
    "DD": r"(?P<d>\d{2})",
    "D": r"(?P<d>\d{1,2})",
}
_MIDNIGHT = r"(?:[ T]0?0:00(?::00(?:\.0+)?)?)?"
MONTHS = {
    name: f"{n:02d}"
    for n, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
#: two-digit years up to this one are 20YY, later ones 19YY (POSIX)
PIVOT = 68


def format_pattern(fmt: str) -> str:
    """The regular expression of a declared format; ValueError names what is wrong with it."""
    out, at, seen = ["^"], 0, set()
    for match in _TOKEN.finditer(fmt):
        literal = fmt[at : match.start()]
        if any(c.isalpha() and c.isascii() for c in literal):
            raise ValueError(
                f"date format {fmt!r}: {literal!r} is not a token (use YYYY, YY, MM, M, DD, D, Mon)"
            )
        out.append(re.escape(literal))
        token = match.group()
        part = {"YYYY": "year", "YY": "year", "Mon": "month", "MM": "month", "M": "month"}.get(
            token, "day"
        )
        if part in seen:
            raise ValueError(f"date format {fmt!r} gives the {part} twice")
        seen.add(part)
        out.append(_PARTS[token])
        at = match.end()
    tail = fmt[at:]
    if any(c.isalpha() and c.isascii() for c in tail):
        raise ValueError(
            f"date format {fmt!r}: {tail!r} is not a token (use YYYY, YY, MM, M, DD, D, Mon)"
        )
    out.append(re.escape(tail))
    missing = {"year", "month", "day"} - seen
    if missing:
        raise ValueError(f"date format {fmt!r} has no {' or '.join(sorted(missing))}")
    return "".join(out) + _MIDNIGHT + "$"


def parse_dates(text: pl.Expr, formats: Sequence[str]) -> pl.Expr:
    """The dates of a text column written in one of `formats` (null where none fits)."""
    found: list[pl.Expr] = []
    for fmt in formats:
        pattern = format_pattern(fmt)
        parts = text.str.extract_groups(pattern)
        names = set(re.compile(pattern).groupindex)
        if "y" in names:
            year = parts.struct.field("y")
        else:
            yy = parts.struct.field("yy")
            century = pl.when(yy.cast(pl.Int32, strict=False) <= PIVOT).then(pl.lit("20"))
            year = pl.concat_str([century.otherwise(pl.lit("19")), yy])
        if "mon" in names:
            month = (
                parts.struct.field("mon")
                .str.to_lowercase()
                .replace_strict(MONTHS, default=None, return_dtype=pl.Utf8)
            )
        else:
            month = parts.struct.field("m").str.pad_start(2, "0")
        day = parts.struct.field("d").str.pad_start(2, "0")
        iso = pl.concat_str([year, month, day], separator="-")
        found.append(iso.str.to_date("%Y-%m-%d", strict=False))
    return pl.coalesce(found) if len(found) > 1 else found[0]
