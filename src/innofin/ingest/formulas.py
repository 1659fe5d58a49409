"""Formula injection in CSV files: text that a spreadsheet would run is written with a quote.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return, a line feed or NUL
is read by Excel and LibreOffice as a formula (``=cmd|' /C calc'!A0``), so CSV files innofin
writes prefix such text with a single quote, as OWASP advises. Only text is neutralised: numbers
and dates are written as they are (a negative amount stays ``-2500.50``).

The prefix must not cost data when an exported file is imported again, so the rule is a
bijection on text: a quote is added to text that starts with a formula character *or* with one
or more quotes followed by one; the importer removes one quote from exactly those cells. A
genuine ``'=x`` is written ``''=x`` and read back as ``'=x``; ``'hello`` is left alone both ways.
"""

from __future__ import annotations

import re

import polars as pl

#: the first characters that make a spreadsheet read a cell as a formula
FORMULA_START = "=+-@\t\r\n\x00"
_CLASS = "[=+\\-@\\t\\r\\n\\x00]"
#: text that gets (on export) or loses (on import) one quote
_QUOTED = re.compile(f"^'+{_CLASS}")


def needs_quote(text: str) -> bool:
    return bool(text) and (text[0] in FORMULA_START or _QUOTED.match(text) is not None)


def neutralise(text: str) -> str:
    """`text` as a CSV cell that no spreadsheet runs (see the module docstring)."""
    return "'" + text if needs_quote(text) else text


def restore(cell: str) -> str:
    """The text a neutralised cell stands for: one quote less where `neutralise` added one."""
    return cell[1:] if _QUOTED.match(cell) is not None else cell


def restore_expr(cell: pl.Expr) -> pl.Expr:
    """`restore` on a column of cells."""
    return pl.when(cell.str.contains(f"^'+{_CLASS}")).then(cell.str.slice(1)).otherwise(cell)
