"""Mappings: validation of the YAML, and matching headers (with their units) to fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from innofin.ingest.errors import MappingError, MissingColumn, UnitMismatch, UnknownColumn
from innofin.ingest.kinds import KINDS
from innofin.ingest.mapping import Mapping, bind, load_mapping
from innofin.ingest.units import split_unit
from innofin.kernel.money import AmountUnit


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_its_own_format_shipped(kind: str) -> None:
    mapping = load_mapping(None, kind)
    spec = KINDS[kind]
    assert {c.field for c in mapping.columns.values()} == set(spec.names)
    binding = bind(mapping, list(spec.names), f"{kind}.csv", {})
    assert [c.field for c in binding.columns] == list(spec.names)


@pytest.mark.parametrize(
    "name, kind", [("indicators-zh", "indicators"), ("enterprises-zh", "enterprises")]
)
def test_chinese_example_mappings_load_by_name(name: str, kind: str) -> None:
    mapping = load_mapping(Path(name), kind)
    assert mapping.kind == kind
    assert "统一社会信用代码" in mapping.columns


def test_headers_match_across_bracket_widths_and_units_come_along() -> None:
    mapping = load_mapping(Path("indicators-zh"), "indicators")
    header = ["序号", "统一社会信用代码", "年度", "营业收入(万元)", "Ⅰ类知识产权数", "研发人员数"]
    binding = bind(mapping, header, "f.csv", {})
    by_field = {c.field: c for c in binding.columns}
    assert by_field["revenue"].unit is AmountUnit.WAN
    assert by_field["revenue"].index == 3
    assert by_field["ip_class1"].index == 4
    assert "序号" not in {c.header for c in binding.columns}


def test_a_header_unit_that_contradicts_the_mapping_is_a_unit_mismatch() -> None:
    mapping = load_mapping(Path("indicators-zh"), "indicators")
    with pytest.raises(UnitMismatch, match=r"f\.csv row 1, column '营业收入（元）': unit mismatch"):
        bind(mapping, ["统一社会信用代码", "年度", "营业收入（元）"], "f.csv", {})


def test_the_unit_of_a_header_is_used_when_the_mapping_gives_none() -> None:
    mapping = Mapping.model_validate(
        {"kind": "indicators", "columns": {"代码": "identifier", "年度": "year", "收入": "revenue"}}
    )
    binding = bind(mapping, ["代码", "年度", "收入（亿元）"], "f.csv", {})
    assert binding.columns[2].unit is AmountUnit.YI


def test_missing_required_column_names_the_headers_it_would_take() -> None:
    mapping = load_mapping(Path("indicators-zh"), "indicators")
    with pytest.raises(MissingColumn, match="required column '年度' \\(year\\) is missing"):
        bind(mapping, ["统一社会信用代码", "营业收入（万元）"], "f.csv", {})


def test_own_format_refuses_unknown_columns_but_takes_registered_extensions() -> None:
    mapping = load_mapping(None, "indicators")
    with pytest.raises(UnknownColumn, match="column 'revenu' is not in the mapping"):
        bind(mapping, ["identifier", "year", "revenu"], "f.csv", {})
    binding = bind(mapping, ["identifier", "year", "rd_x"], "f.csv", {"rd_x": "percent"})
    assert binding.columns[2].indicator == "rd_x"
    assert binding.columns[2].unit == "percent"


def test_constants_fill_fields_the_file_lacks() -> None:
    mapping = Mapping.model_validate(
        {"kind": "indicators", "constants": {"year": 2023}, "columns": {"代码": "identifier"}}
    )
    binding = bind(mapping, ["代码"], "f.csv", {})
    assert [(c.field, c.constant) for c in binding.columns] == [
        ("identifier", None),
        ("year", "2023"),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("kind: indicators\ncolumns: {a: identifier}\ncolour: red\n", "colour: Extra inputs"),
        ("kind: indicators\ncolumns: {a: revenu}\n", "has no field 'revenu'"),
        ("kind: indicators\ncolumns: {a: {field: revenue, unit: 千元}}\n", "unknown unit"),
        ("kind: nothing\ncolumns: {}\n", "unknown kind"),
        ("kind: indicators\ncolumns: [\n", "not valid YAML"),
        ("kind: enterprises\ncolumns: {a: identifier}\n", "is for enterprises, not indicators"),
    ],
)
def test_bad_mapping_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError, match=message) as caught:
        load_mapping(path, "indicators")
    assert "\n" not in str(caught.value)


def test_units_that_do_not_suit_the_field_are_refused() -> None:
    mapping = Mapping.model_validate(
        {
            "kind": "indicators",
            "columns": {
                "a": "identifier",
                "b": "year",
                "c": {"field": "employees", "unit": "万元"},
            },
        }
    )
    with pytest.raises(MappingError, match="万元 does not suit field employees"):
        bind(mapping, ["a", "b", "c"], "f.csv", {})


def test_split_unit_reads_brackets_only_when_they_hold_a_unit() -> None:
    assert split_unit("营业收入（万元）") == ("营业收入", AmountUnit.WAN)
    assert split_unit("研发投入强度 (%)") == ("研发投入强度", "percent")
    assert split_unit("名称(简称)") == ("名称(简称)", None)
