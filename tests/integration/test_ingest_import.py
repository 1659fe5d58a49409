"""Imports on SQLite and PostgreSQL: validation, all-or-nothing, upserts, lineage, encodings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ingest_helpers import (
    BAD_USCC,
    USCC,
    counts,
    seed_enterprises,
    seed_zone,
    snapshot,
    write_csv,
    write_xlsx,
)
from innofin.db.engine import unit_of_work
from innofin.ingest import (
    CorruptFile,
    EmptyFile,
    MissingColumn,
    RejectedRows,
    UnitMismatch,
    WrongEncoding,
    import_file,
)
from innofin.ingest.rejects import read_rejects
from innofin.registry.models import (
    Certification,
    DataSource,
    Enterprise,
    IndicatorDefinition,
    IndicatorReport,
    IndicatorValue,
    Institution,
    Zone,
)

ZH_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "年度",
    "营业收入（万元）",
    "研发费用（万元）",
    "研发人员数",
    "从业人员数",
    "有效发明专利数",
]


def reports(engine: Engine) -> dict[tuple[str, int], IndicatorReport]:
    with unit_of_work(engine) as s:
        rows = s.execute(select(Enterprise.identifier, IndicatorReport).join(Enterprise)).all()
        return {(ident, r.year): r for ident, r in rows}


# ----------------------------------------------------------------- one bad row, documented reason

U0, U1 = USCC[0], USCC[1]
BAD_ROWS = {
    "bad USCC": (
        "indicators",
        [["identifier", "year", "revenue"], [U0, 2023, 1], [BAD_USCC, 2023, 2]],
        (3, "identifier", "has a bad check character"),
    ),
    "unknown enterprise": (
        "indicators",
        [["identifier", "year"], [USCC[5], 2023]],
        (2, "identifier", "unknown enterprise: uscc"),
    ),
    "negative revenue": (
        "indicators",
        [["identifier", "year", "revenue"], [U0, 2023, "-1"]],
        (2, "revenue", "must not be negative"),
    ),
    "rd_staff > employees": (
        "indicators",
        [["identifier", "year", "rd_staff", "employees"], [U0, 2023, 11, 10]],
        (2, "rd_staff", "rd_staff (11) must not exceed employees (10)"),
    ),
    "unparsable number": (
        "indicators",
        [["identifier", "year", "revenue"], [U0, 2023, "1.2万"]],
        (2, "revenue", "not a number"),
    ),
    "duplicate key": (
        "indicators",
        [["identifier", "year"], [U0, 2023], [U1, 2023], [U0, 2023]],
        (4, "identifier", "duplicate: the same id_scheme + identifier + year as row 2"),
    ),
    "unit mismatch in a cell": (
        "indicators",
        [["identifier", "year", "revenue"], [U0, 2023, "5万元"]],
        (2, "revenue", "unit mismatch: the cell says 万元"),
    ),
    "unknown zone code": (
        "zone-stats",
        [["zone", "year"], ["Z9", 2023]],
        (2, "zone", "unknown zone code 'Z9'"),
    ),
    "unknown tech field": (
        "enterprises",
        [["identifier", "name", "tech_field"], [U0, "甲", "quantum"]],
        (2, "tech_field", "unknown tech_field 'quantum'"),
    ),
    "unknown growth stage": (
        "enterprises",
        [["identifier", "name", "growth_stage"], [U0, "甲", "mature"]],
        (2, "growth_stage", "unknown growth_stage 'mature'"),
    ),
    "unknown certification kind": (
        "certifications",
        [["identifier", "kind", "valid_from"], [U0, "iso9001", "2024-01-01"]],
        (2, "kind", "unknown kind 'iso9001'"),
    ),
    "unparsable date": (
        "certifications",
        [["identifier", "kind", "valid_from"], [U0, "hnte", "2024-13-01"]],
        (2, "valid_from", "not a date: '2024-13-01'"),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_each_bad_row_is_reported_and_nothing_is_written(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    kind, rows, (row, column, reason) = BAD_ROWS[case]
    seed_enterprises(engine, 2)
    before = counts(engine)
    path = write_csv(tmp_path / "data.csv", rows)
    with pytest.raises(RejectedRows, match=r"data\.csv: 1 of \d+ rows rejected, nothing imported"):
        import_file(engine, kind, path)
    assert counts(engine) == before
    lines = read_rejects(tmp_path / "data.rejects.csv")
    assert [(int(x["row"]), x["column"]) for x in lines] == [(row, column)]
    assert reason in lines[0]["reason"]


def test_rd_staff_is_checked_against_stored_employees(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 1)
    import_file(
        engine,
        "indicators",
        write_csv(tmp_path / "a.csv", [["identifier", "year", "employees"], [U0, 2023, 10]]),
    )
    with pytest.raises(RejectedRows):
        import_file(
            engine,
            "indicators",
            write_csv(tmp_path / "b.csv", [["identifier", "year", "rd_staff"], [U0, 2023, 11]]),
        )
    line = read_rejects(tmp_path / "b.rejects.csv")[0]
    assert line["reason"] == "rd_staff (11) must not exceed employees (10) as stored"


# ----------------------------------------------------------------- whole-file errors


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _xlsx_cut(path: Path) -> Path:
    write_xlsx(path, [["identifier", "year"], *([U0, 2000 + i % 50] for i in range(300))])
    path.write_bytes(path.read_bytes()[:-200])
    return path


FILE_ERRORS = {
    "empty file": (lambda p: _empty(p.with_suffix(".csv")), EmptyFile, "is empty"),
    "header only": (
        lambda p: write_csv(p.with_suffix(".csv"), [["identifier", "year"]]),
        EmptyFile,
        "has a header but no data rows",
    ),
    "missing column": (
        lambda p: write_csv(p.with_suffix(".csv"), [["identifier"], [U0]]),
        MissingColumn,
        "required column 'year' \\(year\\) is missing",
    ),
    "truncated xlsx": (
        lambda p: _xlsx_cut(p.with_suffix(".xlsx")),
        CorruptFile,
        "not a readable XLSX workbook",
    ),
    "unit mismatch": (
        lambda p: write_csv(
            p.with_suffix(".csv"), [["统一社会信用代码", "年度", "营业收入（元）"], [U0, 2023, 1]]
        ),
        UnitMismatch,
        "the header says 元 but the mapping reads revenue in 万元",
    ),
}


@pytest.mark.parametrize("case", sorted(FILE_ERRORS))
def test_unreadable_files_are_one_line_errors(engine: Engine, tmp_path: Path, case: str) -> None:
    make, error, message = FILE_ERRORS[case]
    seed_enterprises(engine, 1)
    before = counts(engine)
    path = make(tmp_path / "data")
    mapping = Path("indicators-zh") if case == "unit mismatch" else None
    with pytest.raises(error, match=message) as caught:
        import_file(engine, "indicators", path, mapping=mapping)
    assert "\n" not in str(caught.value)
    assert counts(engine) == before
    assert not list(tmp_path.glob("*.rejects.csv"))


def test_gbk_file_read_as_utf8_is_refused(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 1)
    path = write_csv(tmp_path / "gbk.csv", [ZH_HEADER, [U0, "甲", 2023, 1, 1, 1, 2, 0]], "gbk")
    with pytest.raises(WrongEncoding, match=r"gbk\.csv is not valid utf-8-sig text"):
        import_file(engine, "indicators", path, mapping=Path("indicators-zh"), encoding="utf-8")
    assert counts(engine)["indicator_report"] == 0


# ----------------------------------------------------------------- writing


def test_skip_invalid_writes_exactly_the_valid_rows(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 3)
    path = write_csv(
        tmp_path / "d.csv",
        [
            ["identifier", "year", "revenue"],
            [USCC[0], 2023, "1.00"],
            [BAD_USCC, 2023, "2"],
            [USCC[1], 2023, "-3"],
            [USCC[2], 2023, "4.00"],
            [USCC[0], 2023, "5"],
        ],
    )
    result = import_file(
        engine, "indicators", path, skip_invalid=True, rejects=tmp_path / "out" / "bad.csv"
    )
    assert (result.rows, result.written, result.rejected) == (5, 2, 3)
    assert {k: r.revenue for k, r in reports(engine).items()} == {
        (USCC[0], 2023): Decimal("1.00"),
        (USCC[2], 2023): Decimal("4.00"),
    }
    assert [int(x["row"]) for x in read_rejects(tmp_path / "out" / "bad.csv")] == [3, 4, 6]


def test_a_check_runs_the_whole_import_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    from innofin.audit.models import AuditEvent

    seed_enterprises(engine, 3)
    before, audit = counts(engine), _count(engine, AuditEvent)
    rows = [["identifier", "year", "revenue"], [USCC[0], 2023, "1.00"], [USCC[2], 2023, "4"]]
    path = write_csv(tmp_path / "d.csv", rows)
    checked = import_file(engine, "indicators", path, check_only=True)
    assert (checked.rows, checked.written, checked.rejected) == (2, 2, 0)
    assert checked.source_id is None and checked.rejects_path is None
    assert counts(engine) == before and _count(engine, AuditEvent) == audit  # not even the source
    bad = write_csv(tmp_path / "bad.csv", [*rows, [BAD_USCC, 2023, "2"], [USCC[1], 2023, "-3"]])
    with pytest.raises(RejectedRows, match="2 of 4 rows rejected") as refused:
        import_file(engine, "indicators", bad, check_only=True)
    assert [int(x["row"]) for x in read_rejects(refused.value.rejects_path)] == [4, 5]
    kept = import_file(engine, "indicators", bad, check_only=True, skip_invalid=True)
    assert (kept.rows, kept.written, kept.rejected) == (4, 2, 2)
    assert counts(engine) == before
    done = import_file(engine, "indicators", path)  # the import itself, as checked
    assert (done.rows, done.written, done.rejected) == (2, 2, 0) and done.source_id is not None
    assert counts(engine)["indicator_report"] == before["indicator_report"] + 2


def _count(engine: Engine, model: object) -> int:
    with unit_of_work(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_reimport_is_idempotent_and_updates_in_place(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 2)
    rows = [
        ["identifier", "year", "revenue", "employees"],
        [U0, 2023, "10.50", 5],
        [U1, 2022, "0", 1],
    ]
    path = write_csv(tmp_path / "d.csv", rows)
    import_file(engine, "indicators", path)
    first = snapshot(engine)
    import_file(engine, "indicators", path)
    assert snapshot(engine) == first
    rows[1][2] = "11"
    import_file(engine, "indicators", write_csv(path, rows))
    assert counts(engine)["indicator_report"] == 2
    assert reports(engine)[(U0, 2023)].revenue == Decimal("11.00")


def test_lineage_names_each_fields_source_and_merges(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 1)
    first = import_file(
        engine,
        "indicators",
        write_csv(
            tmp_path / "a.csv",
            [
                ["identifier", "year", "revenue", "rd_expense", "as_of"],
                [U0, 2023, 100, 10, "2024-03-31"],
            ],
        ),
    )
    second = import_file(
        engine,
        "indicators",
        write_csv(tmp_path / "b.csv", [["identifier", "year", "employees"], [U0, 2023, 7]]),
        as_of=dt.date(2024, 6, 30),
    )
    report = reports(engine)[(U0, 2023)]
    assert report.lineage == {
        "revenue": [first.source_id, "2024-03-31"],
        "rd_expense": [first.source_id, "2024-03-31"],
        "employees": [second.source_id, "2024-06-30"],
    }
    assert (report.revenue, report.employees) == (Decimal("100.00"), 7)
    assert (report.source_id, report.as_of) == (second.source_id, dt.date(2024, 6, 30))
    with unit_of_work(engine) as s:
        sources = s.execute(select(DataSource.kind, DataSource.name, DataSource.sha256)).all()
    assert [(k, n) for k, n, _ in sources] == [("import", "a.csv"), ("import", "b.csv")]
    assert all(len(sha) == 64 for _, _, sha in sources)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_chinese_headers_in_wan_from_any_encoding(
    engine: Engine, tmp_path: Path, encoding: str
) -> None:
    seed_enterprises(engine, 2)
    path = write_csv(
        tmp_path / "年度指标.csv",
        [
            ZH_HEADER,
            [U0, "北京甲科技", 2023, "1,234.5678", "0.000001", 5, 50, 2],
            [U1, "苏州乙生物", 2023, "12345678.123456", "", 0, 3, 0],
        ],
        encoding,
    )
    result = import_file(engine, "indicators", path, mapping=Path("indicators-zh"))
    assert result.encoding == ("utf-8-sig" if encoding == "utf-8-sig" else "gb18030")
    got = reports(engine)
    assert got[(U0, 2023)].revenue == Decimal("12345678.00")
    assert got[(U0, 2023)].rd_expense == Decimal("0.01")
    assert got[(U1, 2023)].revenue == Decimal("123456781234.56")
    assert got[(U1, 2023)].rd_expense is None
    assert (got[(U0, 2023)].rd_staff, got[(U0, 2023)].employees) == (5, 50)


def test_xlsx_with_chinese_headers_and_numeric_cells(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 1)
    path = write_xlsx(
        tmp_path / "指标.xlsx",
        [
            ["说明：金额单位万元"],
            [],
            [*ZH_HEADER, "数据截止日期"],
            [U0, "北京甲科技", 2023, 1234.56, 0.1 + 0.2, 5, 50, 2, dt.date(2024, 4, 30)],
        ],
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        Path(__file__)
        .parents[2]
        .joinpath("src/innofin/ingest/mappings/indicators-zh.yaml")
        .read_text(encoding="utf-8")
        + "header_row: 3\n",
        encoding="utf-8",
    )
    import_file(engine, "indicators", path, mapping=mapping)
    report = reports(engine)[(U0, 2023)]
    assert (report.revenue, report.rd_expense) == (Decimal("12345600.00"), Decimal("3000.00"))
    assert report.as_of == dt.date(2024, 4, 30)


def test_extension_indicators_are_written_with_their_source(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 1)
    with unit_of_work(engine) as s:
        s.add(IndicatorDefinition(code="pct_x", name_zh="强度", name_en="x", unit="percent"))
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "kind: indicators\ncolumns:\n  代码: identifier\n  年度: year\n"
        "  强度(%): {indicator: pct_x}\n",
        encoding="utf-8",
    )
    path = write_csv(tmp_path / "d.csv", [["代码", "年度", "强度(%)"], [U0, 2023, "4.35%"]])
    result = import_file(engine, "indicators", path, mapping=mapping)
    with unit_of_work(engine) as s:
        value = s.scalars(select(IndicatorValue)).one()
    assert (value.indicator_code, value.value, value.source_id) == (
        "pct_x",
        Decimal("4.3500"),
        result.source_id,
    )


def test_branches_name_parents_on_earlier_rows(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "inst.csv",
        [
            ["code", "name", "kind", "parent"],
            ["HQ", "总行", "bank", ""],
            ["BR", "支行", "bank", "HQ"],
            ["LATE", "支行2", "bank", "LAST"],
            ["LAST", "分行", "bank", ""],
            ["SELF", "x", "bank", "SELF"],
        ],
    )
    result = import_file(engine, "institutions", path, skip_invalid=True)
    assert result.rejected == 2
    with unit_of_work(engine) as s:
        parents = {c: p for c, p in s.execute(select(Institution.code, Institution.parent_id))}
        ids = {c: i for c, i in s.execute(select(Institution.code, Institution.id))}
    assert parents == {"HQ": None, "BR": ids["HQ"], "LAST": None}


def test_certifications_upsert_on_enterprise_kind_and_start(engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(engine, 1)
    rows = [
        ["identifier", "kind", "valid_from", "valid_until"],
        [U0.lower(), "高新技术企业", "2023/10/1", "2026-09-30"],
    ]
    import_file(engine, "certifications", write_csv(tmp_path / "c.csv", rows))
    rows[1][3] = "2026-10-31"
    import_file(engine, "certifications", write_csv(tmp_path / "c.csv", rows))
    with unit_of_work(engine) as s:
        cert = s.scalars(select(Certification)).one()
    assert (cert.kind, cert.valid_from, cert.valid_until) == (
        "hnte",
        dt.date(2023, 10, 1),
        dt.date(2026, 10, 31),
    )


def test_zone_file_then_enterprises_in_chinese(engine: Engine, tmp_path: Path) -> None:
    seed_zone(engine, "Z7")
    path = write_csv(
        tmp_path / "企业.csv",
        [
            ["统一社会信用代码", "企业名称", "所属高新区代码", "技术领域", "成长阶段", "成立日期"],
            [U0, "北京甲科技", "Z7", "电子信息", "成长期", "2015年3月1日"],
        ],
        "gbk",
    )
    import_file(engine, "enterprises", path, mapping=Path("enterprises-zh"))
    with unit_of_work(engine) as s:
        firm = s.scalars(select(Enterprise)).one()
    assert (firm.identifier, firm.tech_field, firm.growth_stage, firm.founded_on) == (
        U0,
        "electronic_information",
        "growth",
        dt.date(2015, 3, 1),
    )


def test_products_check_ranges_references_and_eligibility(engine: Engine, tmp_path: Path) -> None:
    import_file(
        engine,
        "institutions",
        write_csv(tmp_path / "i.csv", [["code", "name", "kind"], ["B1", "银行", "bank"]]),
    )
    path = write_csv(
        tmp_path / "p.csv",
        [
            [
                "code",
                "institution",
                "name",
                "kind",
                "financing_mode",
                "amount_min",
                "amount_max",
                "eligibility",
            ],
            ["P1", "B1", "贷", "points_loan", "indirect", "500", "100.5", ""],
            ["P2", "B9", "贷", "points_loan", "indirect", "", "", ""],
            ["P3", "B1", "贷", "points_loan", "indirect", "", "", '{"min_points": -1}'],
            ["P4", "B1", "贷", "pure_credit_loan", "indirect", "0", "3000000", '{"zones": ["Z1"]}'],
        ],
    )
    with pytest.raises(RejectedRows, match="3 of 4 rows rejected"):
        import_file(engine, "products", path)
    reasons = {
        (x["row"], x["column"]): x["reason"] for x in read_rejects(path.with_name("p.rejects.csv"))
    }
    assert reasons == {
        ("2", "amount_min"): "amount_min (500.00) must not exceed amount_max (100.50)",
        ("3", "institution"): "unknown institution 'B9'",
        ("4", "eligibility"): "not a valid eligibility: min_points: Input should be greater than "
        "or equal to 0",
    }
    assert counts(engine)["product"] == 0


def test_a_zone_registers_its_own_indicator_then_imports_values(
    engine: Engine, tmp_path: Path
) -> None:
    seed_enterprises(engine, 1)
    defs = write_csv(
        tmp_path / "defs.csv",
        [
            ["code", "name_zh", "name_en", "unit", "zone"],
            ["gazelle_score", "瞪羚指数", "", "%", "Z1"],
        ],
    )
    assert import_file(engine, "indicator-definitions", defs).written == 1
    values = write_csv(
        tmp_path / "values.csv", [["identifier", "year", "gazelle_score"], [USCC[0], 2024, "87.5"]]
    )
    assert import_file(engine, "indicators", values).written == 1
    with unit_of_work(engine) as s:
        owner = s.execute(
            select(Zone.code)
            .join(IndicatorDefinition, IndicatorDefinition.owner_zone_id == Zone.id)
            .where(IndicatorDefinition.code == "gazelle_score")
        ).scalar_one()
        value = s.execute(select(IndicatorValue.value)).scalar_one()
    assert owner == "Z1" and value == Decimal("87.5")


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (["revenue", "营收", "", "yuan", ""], "code", "'revenue' is a core report field"),
        (["x_score", "某指数", "", "percent", "Z404"], "zone", "unknown zone code 'Z404'"),
        (["x_score", "某指数", "", "furlongs", ""], "unit", "furlongs"),
    ],
)
def test_bad_indicator_definitions_are_refused(
    engine: Engine, tmp_path: Path, row: list[str], column: str, reason: str
) -> None:
    before = counts(engine)
    path = write_csv(tmp_path / "defs.csv", [["code", "name_zh", "name_en", "unit", "zone"], row])
    with pytest.raises(RejectedRows) as caught:
        import_file(engine, "indicator-definitions", path)
    assert caught.value.rejects_path is not None
    rejects = caught.value.rejects_path.read_text(encoding="utf-8-sig")
    assert column in rejects and reason in rejects
    assert counts(engine) == before
    with unit_of_work(engine) as s:
        assert s.execute(select(func.count(IndicatorDefinition.code))).scalar_one() == 17
