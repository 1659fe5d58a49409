"""Export → import into an emptied registry gives the same data, for every kind, CSV and XLSX."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from ingest_helpers import USCC, clear_registry, counts, seed_registry, snapshot
from innofin.ingest import KINDS, export_file, import_file
from innofin.ingest.exporting import text_value
from innofin.ingest.kinds import FieldSpec, FieldType
from innofin.ingest.parsing import Column, parse_batch
from innofin.kernel.money import AmountUnit

#: Import order: what a kind refers to comes first.
ORDER = [
    "zones",
    "zone-stats",
    "enterprises",
    "certifications",
    "indicator-definitions",
    "indicators",
    "institutions",
    "products",
]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_into_an_empty_registry(
    engine: Engine, tmp_path: Path, suffix: str
) -> None:
    assert sorted(ORDER) == sorted(KINDS)
    seed_registry(engine)
    before = snapshot(engine)
    assert all(before.values()), "every table has rows to carry"
    files = {}
    for kind in ORDER:
        files[kind] = tmp_path / f"{kind}{suffix}"
        export_file(engine, kind, files[kind])
    clear_registry(engine)
    assert not any(counts(engine).values())
    for kind in ORDER:
        result = import_file(engine, kind, files[kind])
        assert result.rejected == 0
    assert snapshot(engine) == before
    if suffix == ".csv":  # and the second export is the first, byte for byte
        for kind in ORDER:
            again = tmp_path / f"again-{kind}.csv"
            export_file(engine, kind, again)
            assert again.read_bytes() == files[kind].read_bytes(), kind


def test_exported_csv_is_utf8_with_bom_and_yuan(engine: Engine, tmp_path: Path) -> None:
    seed_registry(engine)
    path = tmp_path / "indicators.csv"
    result = export_file(engine, "indicators", path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",as_of,rd_intensity_zone")
    assert result.rows == len(lines) - 1 == 3
    assert (
        lines[1].startswith("lei,5493001KJTIIGC8Y1R12,2023,") and "987654321098765.43" in lines[1]
    )
    assert lines[2].startswith(f"uscc,{USCC[0]},2022,12345678.90,")
    assert "-2500.50" in lines[2]
    assert lines[2].endswith(",2023-04-30,8.1")


def test_export_refuses_other_formats(engine: Engine, tmp_path: Path) -> None:
    from innofin.ingest import IngestError

    with pytest.raises(IngestError, match=r"export writes \.csv or \.xlsx"):
        export_file(engine, "zones", tmp_path / "zones.json")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_exported_amounts_parse_back_to_the_same_fen(fen: int) -> None:
    """parse(export(x)) == x for every amount the database can hold."""
    spec = FieldSpec("net_profit", FieldType.MONEY, signed=True)
    text = text_value(Decimal(fen).scaleb(-2))
    raw = pl.DataFrame({"net_profit": [text]})
    values, reasons = parse_batch(raw, [Column("net_profit", spec, AmountUnit.YUAN)])
    assert reasons["net_profit"].to_list() == [None]
    assert values["net_profit"].to_list() == [fen]
