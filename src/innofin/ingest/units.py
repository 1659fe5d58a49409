"""Units of file columns and headers: amounts (元/万元/亿元), percentages, counts.

Government files state units in headers — 营业收入（万元）, 研发投入强度(%) — and sometimes
in cells. A unit stated twice must agree: a header that says 元 over a column the mapping
reads in 万元 is a unit mismatch, the classic way an import goes wrong ten-thousandfold.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from innofin.kernel.errors import InvalidAmount
from innofin.kernel.money import AmountUnit

Unit = AmountUnit | Literal["percent", "count"]

_PERCENT = {"%", "percent", "pct", "百分比", "百分点"}
_COUNT = {"count", "person", "persons", "人", "个", "项", "件", "家", "次", "名", "位"}
_TRAILING_UNIT = re.compile(r"^(?P<base>.*?)\s*\(\s*(?P<unit>[^()]*?)\s*\)\s*$")


def parse_unit(text: str) -> Unit:
    """Read a unit as written in a mapping or a header; raises `ValueError` for unknown ones."""
    key = unicodedata.normalize("NFKC", text).strip().lower()
    if key in _PERCENT:
        return "percent"
    if key in _COUNT:
        return "count"
    try:
        return AmountUnit.parse(key)
    except InvalidAmount:
        raise ValueError(
            f"unknown unit {text!r}: use 元/yuan, 万元/wan, 亿元/yi, % or count"
        ) from None


def unit_label(unit: Unit) -> str:
    """How a unit reads in messages."""
    if isinstance(unit, AmountUnit):
        return {AmountUnit.YUAN: "元", AmountUnit.WAN: "万元", AmountUnit.YI: "亿元"}[unit]
    return "%" if unit == "percent" else "count"


def normalise_header(text: str) -> str:
    """Compare headers as people do: full-width and half-width forms, case and spaces ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(folded.split())


def split_unit(header: str) -> tuple[str, Unit | None]:
    """Split 营业收入（万元） into its normalised base name and unit; (header, None) if none."""
    text = unicodedata.normalize("NFKC", header).strip()
    match = _TRAILING_UNIT.match(text)
    if match:
        try:
            return normalise_header(match["base"]), parse_unit(match["unit"])
        except ValueError:
            pass  # "名称(简称)": brackets that do not hold a unit
    return normalise_header(text), None
