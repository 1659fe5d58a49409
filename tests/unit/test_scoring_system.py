"""Indicator systems: the tech-SME rule set on worked examples, errors that name the YAML line,
the content hash and extensions, and the expression language.

Points are worked out by hand from the official description of the technology-based SME evaluation
(科技型中小企业评价办法, 2017, revised 2022): S&T staff share 20 points, R&D investment 50 (the
better of share of revenue and share of costs), IP 30 (class I 30; class II 6 / 12 / 18 / 24);
qualified with at least 60 points and more than 0 for achievements, within ≤ 500 employees,
revenue ≤ 200 million yuan and total assets ≤ 200 million yuan; some conditions qualify directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from innofin.kernel.errors import InvalidInput
from innofin.kernel.indicators import REPORT_FIELDS
from innofin.kernel.yamlfile import YamlError
from innofin.scoring.engine import Scores, ScoringInput, score
from innofin.scoring.expressions import ExpressionError, parse
from innofin.scoring.system import load_system

NAN = math.nan
F64 = npt.NDArray[np.float64]
STAGES = ["startup", "growth", "stable"]


def make_input(rows: Sequence[Mapping[str, Any]]) -> ScoringInput:
    """Rows of {"id", <column>: value}; every report field is a column, NaN where not given
    (also a ``cert:`` column given for some rows only: missing must count as no certificate)."""
    n = len(rows)
    names = sorted({*REPORT_FIELDS, *(k for r in rows for k in r)} - {"id"})
    zero = np.zeros(n, dtype=np.int64)
    return ScoringInput(
        enterprise_id=np.array([r["id"] for r in rows], dtype=np.int64),
        codes={"zone": zero, "province": zero, "field": zero, "stage": zero + 1, "size": zero},
        labels={
            "zone": ["Z1"],
            "province": ["P1"],
            "field": ["ict"],
            "stage": STAGES,
            "size": ["micro", "small", "medium", "large"],
        },
        columns={c: np.array([float(r.get(c, NAN)) for r in rows]) for c in names},
    )


# --- the tech-SME rule set -----------------------------------------------------------------------

TECH_SME = load_system("tech-sme")

# a small firm within every size limit; each case below changes what it needs
SMALL = {"employees": 100, "revenue": 1e7, "total_assets": 5e7, "rd_platforms": 0}

# (id, columns, expected (staff, rd, achievements) points, qualified, verdict)
CASES: list[tuple[int, dict[str, float], tuple[float, float, float], bool, str]] = [
    # 30 / 100 = 0.30 → 20; 600k / 10M = 6% → 50; one class I IP → 30. 100 points
    (1, {**SMALL, "rd_staff": 30, "rd_expense": 6e5, "ip_class1": 1, "ip_class2": 0},
     (20, 50, 30), True, "pass"),
    # 12% → 4 (10–15%); 2.5% → 10 (2–3%); two class II → 12. 26 < 60
    (2, {**SMALL, "rd_staff": 12, "rd_expense": 2.5e5, "ip_class1": 0, "ip_class2": 2},
     (4, 10, 12), False, "below_pass"),
    # 20 + 50 = 70 ≥ 60, but no IP at all: achievements 0, so not qualified
    (3, {**SMALL, "rd_staff": 30, "rd_expense": 6e5, "ip_class1": 0, "ip_class2": 0},
     (20, 50, 0), False, "below_pass"),
    # 600 employees, 180 in R&D (0.30 → 20), 6% → 50, class I → 30: 100 points, too big
    (4, {**SMALL, "employees": 600, "rd_staff": 180, "rd_expense": 6e5, "ip_class1": 2},
     (20, 50, 30), False, "fails:employees_limit"),
    # 10% → 4 (inclusive at 10%); 1% → 0; one class II → 6. 10 points, but a valid HNTE
    # certificate qualifies directly
    (5, {**SMALL, "rd_staff": 10, "rd_expense": 1e5, "ip_class1": 0, "ip_class2": 1,
         "cert:hnte": 1}, (4, 0, 6), True, "direct:hnte"),
    # exactly 60: 20% → 12, 4% → 30, three class II → 18
    (6, {**SMALL, "rd_staff": 20, "rd_expense": 4e5, "ip_class1": 0, "ip_class2": 3},
     (12, 30, 18), True, "pass"),
    # just short: 25% → 16, 4% → 30, two class II → 12 = 58
    (7, {**SMALL, "rd_staff": 25, "rd_expense": 4e5, "ip_class1": 0, "ip_class2": 2},
     (16, 30, 12), False, "below_pass"),
    # R&D: 2% of revenue → 10, but 25% of costs (200k / 800k) → 40, the better counts;
    # seven class II count as four → 24. 16 + 40 + 24 = 80
    (8, {**SMALL, "rd_staff": 25, "rd_expense": 2e5, "ext:total_costs": 8e5, "ip_class1": 0,
         "ip_class2": 7}, (16, 40, 24), True, "pass"),
    # every limit met exactly: 500 employees, revenue and assets of 200 million;
    # 150 / 500 = 0.30 → 20, 12M / 200M = 6% → 50, class I → 30
    (9, {"employees": 500, "revenue": 2e8, "total_assets": 2e8, "rd_staff": 150,
         "rd_expense": 1.2e7, "ip_class1": 1}, (20, 50, 30), True, "pass"),
    # revenue 250 million: fails its limit whatever the points (15M / 250M = 6% → 50)
    (10, {**SMALL, "revenue": 2.5e8, "rd_staff": 30, "rd_expense": 1.5e7, "ip_class1": 1},
     (20, 50, 30), False, "fails:revenue_limit"),
    # assets one yuan over 200 million
    (11, {**SMALL, "total_assets": 2e8 + 1, "rd_staff": 30, "rd_expense": 6e5, "ip_class1": 1},
     (20, 50, 30), False, "fails:assets_limit"),
    # an HNTE certificate does not lift the size limits (direct qualification presumes them)
    (12, {**SMALL, "employees": 800, "rd_staff": 8, "rd_expense": 0, "cert:hnte": 1},
     (0, 0, 0), False, "fails:employees_limit"),
    # a provincial R&D institution qualifies directly; a national award too; with both the
    # verdict names the first direct rule of the file (hnte, national_award, rd_institution, …)
    (13, {**SMALL, "rd_platforms": 1, "rd_staff": 0, "rd_expense": 0},
     (0, 0, 0), True, "direct:rd_institution"),
    (14, {**SMALL, "rd_platforms": 2, "ext:national_sti_award": 1, "rd_staff": 0,
          "rd_expense": 0}, (0, 0, 0), True, "direct:national_award"),
    # total assets not reported: the limit cannot be shown to be met
    (15, {"employees": 100, "revenue": 1e7, "rd_staff": 30, "rd_expense": 6e5, "ip_class1": 1},
     (20, 50, 30), False, "fails:assets_limit"),
    # over two limits: the first failing condition of the file names the verdict;
    # 30 / 900 < 10% → 0, 18M / 300M = 6% → 50, no IP → 0
    (16, {**SMALL, "employees": 900, "revenue": 3e8, "rd_staff": 30, "rd_expense": 1.8e7},
     (0, 50, 0), False, "fails:employees_limit"),
]  # fmt: skip


@pytest.fixture(scope="module")
def tech_sme_scores() -> Scores:
    return score(TECH_SME, make_input([{"id": cid, **cols} for cid, cols, *_ in CASES]))


@pytest.mark.parametrize(("row", "case"), list(enumerate(CASES)), ids=[str(c[0]) for c in CASES])
def test_tech_sme_worked_examples(tech_sme_scores: Scores, row: int, case: Any) -> None:
    cid, _cols, groups, qualified, verdict = case
    out = tech_sme_scores
    assert out.enterprise_id[row] == cid
    assert out.group_ids == ("staff", "rd", "achievements")
    np.testing.assert_allclose(out.group_points[row], groups, rtol=0, atol=1e-9)
    assert out.points[row] == pytest.approx(sum(groups), abs=1e-9)
    assert out.qualified is not None and out.verdict is not None
    assert bool(out.qualified[row]) is qualified
    assert out.verdict[row] == verdict


def test_tech_sme_sixty_points_is_exactly_enough(tech_sme_scores: Scores) -> None:
    # 12 + 30 + 18: the boundary of "不低于60分" must not be lost to rounding
    assert tech_sme_scores.points[5] >= 60.0
    assert tech_sme_scores.points[5] == 60.0


def test_tech_sme_weights_are_the_official_ones() -> None:
    # staff 20, R&D 50, achievements 30 at every stage, on a 100-point scale
    assert TECH_SME.spec.scale == 100
    assert [ind.id for ind in TECH_SME.indicators] == [
        "staff_share",
        "rd_investment",
        "achievements_ip",
    ]
    np.testing.assert_array_equal(TECH_SME.weights, [[20.0] * 3, [50.0] * 3, [30.0] * 3])


RULES = """\
id: rules
version: "1"
names: {zh: 规则, en: Rules}
scale: 10
groups:
  - {id: core, names: {zh: 核心, en: Core}}
indicators:
  - id: platforms
    names: {zh: 平台, en: Platforms}
    group: core
    expr: rd_platforms
    normalise: {method: steps, steps: [{at_least: 1, score: 1.0}]}
    weights: 10
qualification:
  conditions:
    - {id: licensed, names: {zh: 许可, en: Licensed}, expr: ext("licence")}
  pass: points
  direct:
    - {id: award, names: {zh: 获奖, en: Award}, expr: ext("award")}
"""


def test_rules_treat_a_missing_value_as_false(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    system = load_system(path)
    data = make_input(
        [
            {"id": 1, "ext:licence": 1, "rd_platforms": 1},  # 10 points: passes
            {"id": 2, "ext:licence": 1, "rd_platforms": 0},  # 0 points, award missing: no
            {"id": 3, "rd_platforms": 1},  # licence missing: the condition is not met
            {"id": 4, "ext:licence": 1, "rd_platforms": 0, "ext:award": 2},  # direct
            {"id": 5, "ext:licence": 0, "rd_platforms": 1, "ext:award": 1},  # no licence
        ]
    )
    out = score(system, data)
    assert out.points.tolist() == [10.0, 0.0, 10.0, 0.0, 10.0]
    assert out.verdict is not None and out.qualified is not None
    assert out.verdict.tolist() == [
        "pass",
        "below_pass",
        "fails:licensed",
        "direct:award",
        "fails:licensed",
    ]
    assert out.qualified.tolist() == [True, False, False, True, False]


# --- malformed systems: errors name the file and the line ----------------------------------------

VALID = """\
id: broken
version: "1"
names: {zh: 测试, en: Test}
scale: 100
groups:
  - {id: core, names: {zh: 核心, en: Core}}
indicators:
  - id: first
    names: {zh: 一, en: First}
    group: core
    expr: rd_expense / revenue
    normalise: {method: ratio, reference: 0.1}
    weights: {startup: 60, growth: 50, stable: 40}
  - id: second
    names: {zh: 二, en: Second}
    group: core
    expr: invention_patents
    normalise: {method: log_ratio, reference: 9}
    weights: {startup: 40, growth: 50, stable: 60}
"""


def write(tmp_path: Path, text: str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_no(text: str, needle: str) -> int:
    """The 1-based line of the one line holding `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def edit(old: str, new: str) -> str:
    assert VALID.count(old) == 1, old
    return VALID.replace(old, new)


def test_the_valid_base_loads(tmp_path: Path) -> None:
    system = load_system(write(tmp_path, VALID))
    assert [i.id for i in system.indicators] == ["first", "second"]
    np.testing.assert_array_equal(system.weights, [[60, 50, 40], [40, 50, 60]])


BROKEN: list[tuple[str, str, str, str, str]] = [
    # (name, text, the line to be named, what the message says, the field path)
    (
        "unknown field in an indicator",
        edit("    expr: invention_patents\n", "    expr: invention_patents\n    colour: red\n"),
        "colour: red",
        "unknown field 'colour'",
        "indicators.1.colour",
    ),
    (
        "unknown top-level field",
        edit("scale: 100\n", "scale: 100\nweight_total: 100\n"),
        "weight_total",
        "unknown field 'weight_total'",
        "weight_total",
    ),
    (
        "unknown field in a normalisation",
        edit("reference: 9}", "reference: 9, ceiling: 2}"),
        "ceiling: 2",
        "unknown field 'ceiling'",
        "indicators.1.normalise.ceiling",
    ),
    (
        "misspelt key: its own line, and the key meant",
        edit("    normalise: {method: log_ratio", "    normalize: {method: log_ratio"),
        "normalize:",
        "unknown field 'normalize' (did you mean 'normalise'?)",
        "indicators.1.normalize",
    ),
    (
        "misspelt key of a block: the key's line, not its first child's",
        edit(
            "    normalise: {method: ratio, reference: 0.1}\n",
            "    normalize:\n      method: ratio\n      reference: 0.1\n",
        ),
        "normalize:",
        "unknown field 'normalize' (did you mean 'normalise'?)",
        "indicators.0.normalize",
    ),
    (
        "misspelt optional key",
        edit("reference: 9}", "refrence: 9}"),
        "refrence: 9",
        "unknown field 'refrence' (did you mean 'reference'?)",
        "indicators.1.normalise.refrence",
    ),
    (
        "syntax error",
        edit("expr: rd_expense / revenue", "expr: rd_expense / / revenue"),
        "rd_expense / / revenue",
        "cannot read 'rd_expense / / revenue'",
        "indicators.0.expr",
    ),
    (
        "attribute access",
        edit("expr: invention_patents", "expr: revenue.real"),
        "revenue.real",
        "Attribute is not allowed",
        "indicators.1.expr",
    ),
    (
        "subscript",
        edit("expr: invention_patents", "expr: revenue[0]"),
        "revenue[0]",
        "Subscript is not allowed",
        "indicators.1.expr",
    ),
    (
        "a function that is not listed",
        edit("expr: invention_patents", "expr: exec(revenue)"),
        "exec(revenue)",
        "unknown function 'exec'",
        "indicators.1.expr",
    ),
    (
        "power operator",
        edit("expr: invention_patents", "expr: revenue ** 2"),
        "revenue ** 2",
        "operator Pow is not allowed",
        "indicators.1.expr",
    ),
    (
        "unknown name",
        edit("expr: rd_expense / revenue", "expr: rd_expense / turnover"),
        "rd_expense / turnover",
        "unknown name 'turnover'",
        "indicators.0.expr",
    ),
    (
        "two indicators reading each other",
        edit("expr: rd_expense / revenue", "expr: second + 1").replace(
            "expr: invention_patents", "expr: first * 2"
        ),
        "second + 1",  # the first of the cycle in file order
        "cycle: first → second → first",
        "indicators.0.expr",
    ),
    (
        "an indicator reading itself",
        edit("expr: invention_patents", "expr: second + revenue"),
        "second + revenue",
        "cycle: second → second",
        "indicators.1.expr",
    ),
    (
        "a cycle through a derived value",
        edit("indicators:\n", "derived:\n  level: second + 1\nindicators:\n").replace(
            "expr: invention_patents", "expr: level * 2"
        ),
        "level: second + 1",
        "cycle: level → second → level",
        "derived.level",
    ),
    (
        "weights missing for a stage",
        edit("{startup: 60, growth: 50, stable: 40}", "{startup: 60, growth: 50}"),
        "{startup: 60, growth: 50}",
        "indicator 'first' has no weight for stage 'stable'",
        "indicators.0.weights",
    ),
    (
        "weight for an unknown stage",
        edit("stable: 60}", "stable: 60, mature: 10}"),
        "mature: 10",
        "unknown stage 'mature'",
        "indicators.1.weights",
    ),
    (
        "core weights that do not add up to the scale",
        edit("scale: 100", "scale: 120"),
        "scale: 120",
        "core weights for stage 'startup' add up to 100, not the scale 120",
        "scale",
    ),
    (
        "an indicator of an unknown group",
        edit("    group: core\n    expr: invention", "    group: cores\n    expr: invention"),
        "group: cores",
        "unknown group 'cores'",
        "indicators.1.group",
    ),
    (
        "a steps table out of order",
        edit(
            "{method: log_ratio, reference: 9}",
            "{method: steps, steps: [{at_least: 2, score: 1}, {at_least: 1, score: 0.5}]}",
        ),
        "at_least: 2",
        "steps must be in increasing order of at_least",
        "indicators.1.normalise",
    ),
]


@pytest.mark.parametrize(
    ("text", "needle", "message", "field"),
    [b[1:] for b in BROKEN],
    ids=[b[0] for b in BROKEN],
)
def test_malformed_system_names_file_and_line(
    tmp_path: Path, text: str, needle: str, message: str, field: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(YamlError) as info:
        load_system(path)
    err = info.value
    assert isinstance(err, InvalidInput)
    assert str(err).startswith(f"{path}, line {line_no(text, needle)} ({field}): "), str(err)
    assert message in str(err)
    assert err.field == field


def test_duplicate_key_and_broken_yaml_name_the_line(tmp_path: Path) -> None:
    text = edit(
        "    group: core\n    expr: invention", "    group: core\n    group: x\n    expr: invention"
    )
    path = write(tmp_path, text)
    with pytest.raises(YamlError, match=rf"line {line_no(text, 'group: x')}: 'group' is given"):
        load_system(path)
    text = VALID.replace("names: {zh: 测试, en: Test}", "names: {zh: 测试, en: Test")
    path = write(tmp_path, text, "unclosed.yaml")
    with pytest.raises(YamlError, match=r"unclosed\.yaml, line \d+: not valid YAML"):
        load_system(path)


def test_unknown_system_name() -> None:
    with pytest.raises(
        YamlError, match=r"no indicator system 'nonesuch': not a file, nor one of: default, "
    ):
        load_system("nonesuch")


# --- the content hash and extensions -------------------------------------------------------------


def test_hash_depends_on_the_content_not_the_layout(tmp_path: Path) -> None:
    a = load_system(write(tmp_path, VALID, "a.yaml"))
    assert load_system(write(tmp_path, VALID, "b.yaml")).sha256 == a.sha256
    # comments, block style and another key order: the same document
    relaid = "# a comment\n" + VALID.replace(
        "    weights: {startup: 60, growth: 50, stable: 40}\n",
        "    weights:  # per stage\n      stable: 40\n      startup: 60\n      growth: 50\n",
    ).replace('id: broken\nversion: "1"\n', 'version: "1"\nid: broken\n')
    assert load_system(write(tmp_path, relaid, "c.yaml")).sha256 == a.sha256
    # one weight moved between the two indicators (the scale still holds): another hash
    changed = edit("{startup: 60,", "{startup: 61,").replace("{startup: 40,", "{startup: 39,")
    assert load_system(write(tmp_path, changed, "d.yaml")).sha256 != a.sha256
    assert len(a.sha256) == 64 and int(a.sha256, 16) >= 0


def test_shipped_system_hash_is_stable() -> None:
    assert load_system("default").sha256 == load_system("default").sha256
    assert load_system("default").sha256 != load_system("zone-example").sha256


def test_zone_extension_includes_its_base() -> None:
    base, zone = load_system("default"), load_system("zone-example")
    base_ids = [i.id for i in base.indicators]
    zone_ids = [i.id for i in zone.indicators]
    # the base's indicators first, in their order, then the zone's three
    assert zone_ids == [*base_ids, "ip_pledge_financing", "talent_programmes", "export_share"]
    assert [g.id for g in zone.groups] == [*(g.id for g in base.groups), "characteristic"]
    assert zone.spec.extends == "default" and zone.spec.scale == 1200
    # the base's weights are kept
    np.testing.assert_array_equal(zone.weights[: len(base_ids)], base.weights)
    # core weights: the default's 1,000 plus the zone's 80+70+50, 70+60+70, 60+50+90 = 200
    core = np.array([i.group.kind == "core" for i in zone.indicators])
    np.testing.assert_allclose(zone.weights[core].sum(axis=0), [1200.0] * 3)
    assert sorted(zone.needs("ext:")) == [
        "export_revenue",
        "ip_pledge_amount",
        "talent_programme_people",
    ]


def test_extension_may_not_redefine_a_base_indicator(tmp_path: Path) -> None:
    text = """\
id: zone-bad
version: "1"
extends: default
names: {zh: 坏, en: Bad}
scale: 1040
groups:
  - {id: extra, kind: core, names: {zh: 特色, en: Extra}}
indicators:
  - id: rd_intensity
    names: {zh: 重复, en: Again}
    group: extra
    expr: rd_expense / revenue
    normalise: {method: ratio, reference: 0.1}
    weights: 40
"""
    path = write(tmp_path, text, "zone-bad.yaml")
    with pytest.raises(YamlError) as info:
        load_system(path)
    assert str(info.value).startswith(f"{path}, line {line_no(text, 'id: rd_intensity')} ")
    assert "'rd_intensity' is already defined by default" in str(info.value)


def test_extension_of_an_unknown_base(tmp_path: Path) -> None:
    text = VALID.replace('version: "1"\n', 'version: "1"\nextends: nonesuch\n')
    path = write(tmp_path, text)
    with pytest.raises(YamlError) as info:
        load_system(path)
    assert str(info.value).startswith(f"{path}, line {line_no(text, 'extends')} (extends): ")
    assert "cannot load 'nonesuch'" in str(info.value)


# --- the expression language ---------------------------------------------------------------------

FIELDS = frozenset({"x", "y", "revenue"})


def run(text: str, **columns: Sequence[float]) -> F64:
    env = {k.replace("__", ":"): np.array(v, dtype=np.float64) for k, v in columns.items()}
    return parse(text, fields=FIELDS)(env)


def same(actual: F64, expected: Sequence[float]) -> None:
    np.testing.assert_allclose(actual, np.array(expected, dtype=np.float64), rtol=0, atol=1e-12)


def test_division_by_zero_is_missing() -> None:
    # 6 / 3 = 2; ÷ 0, ÷ −0 and 0 ÷ 0 are missing; ÷ missing is missing
    same(run("x / y", x=[6, 1, 1, 0, 1], y=[3, 0, -0.0, 0, NAN]), [2, NAN, NAN, NAN, NAN])


def test_arithmetic_on_missing_is_missing() -> None:
    same(run("x + 1", x=[1, NAN]), [2, NAN])
    same(run("x * y - 2", x=[2, NAN, 2], y=[3, 3, NAN]), [4, NAN, NAN])
    same(run("-x", x=[1, NAN]), [-1, NAN])


def test_growth_missing_unless_last_year_positive() -> None:
    # 110 / 100 − 1 = 0.1; last year 0, negative or missing: no growth figure
    out = run("growth(x)", x=[110, 5, 5, 5, NAN], prev__x=[100, 0, -50, NAN, 100])
    same(out, [0.1, NAN, NAN, NAN, NAN])
    assert parse("growth(x)", fields=FIELDS).names == {"x", "prev:x"}
    same(run("prev(x)", x=[1, 2], prev__x=[7, NAN]), [7, NAN])


def test_coalesce_takes_the_first_value_present() -> None:
    out = run("coalesce(x, y, 7)", x=[1, NAN, NAN], y=[2, 3, NAN])
    same(out, [1, 3, 7])


def test_where_and_conditional() -> None:
    # a missing condition is false
    out = run("where(x > 1, x, y)", x=[2, 0, NAN], y=[10, 20, 30])
    same(out, [2, 20, 30])
    same(run("x if x > 1 else y", x=[2, 0, NAN], y=[10, 20, 30]), [2, 20, 30])


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_with_missing_are_false(op: str) -> None:
    # x missing, y missing, both missing: false for every operator, != included
    same(run(f"x {op} y", x=[NAN, 1, NAN], y=[1, NAN, NAN]), [0, 0, 0])


def test_comparisons_and_logic_give_one_or_zero() -> None:
    same(run("x != y", x=[1, 1], y=[1, 2]), [0, 1])
    same(run("0 < x <= 2", x=[0, 1, 2, 3]), [0, 1, 1, 0])
    same(run("x > 0 and y > 0", x=[1, 1, NAN], y=[1, 0, 1]), [1, 0, 0])
    same(run("x > 0 or y > 0", x=[1, 0, NAN], y=[0, 0, 1]), [1, 0, 1])


def test_functions() -> None:
    same(run("log(x)", x=[math.e, 1, 0, -1, NAN]), [1, 0, NAN, NAN, NAN])
    same(run("present(x)", x=[0, NAN]), [1, 0])
    same(run("clip(x, 0, 1)", x=[-2, 0.5, 3]), [0, 0.5, 1])
    same(run("abs(x)", x=[-2, 3]), [2, 3])
    same(run("max(x, y, 0)", x=[-5, 4], y=[-1, 9]), [0, 9])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x +", "cannot read 'x +'"),
        ("x.real", "Attribute is not allowed"),
        ("y[0]", "Subscript is not allowed"),
        ("z + 1", "unknown name 'z'"),
        ("x ** 2", "operator Pow is not allowed"),
        ("x // 2", "operator FloorDiv is not allowed"),
        ("True", "only numbers may be written as constants"),
        ("round(x)", "unknown function 'round'"),
        ("clip(x, 1)", "clip() takes 3 arguments"),
        ("growth(2)", "growth() takes one report field"),
        ('cert("unicorn")', "unknown certification kind 'unicorn'"),
        ("(lambda: 1)()", "only the listed functions may be called"),
        ("   ", "empty expression"),
    ],
)
def test_expression_errors(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text, fields=FIELDS, certifications=frozenset({"hnte"}))
    assert message in str(info.value)


def test_names_read_by_an_expression() -> None:
    expr = parse('x / revenue + cert("hnte") + ext("k")', fields=FIELDS)
    assert expr.names == {"x", "revenue", "cert:hnte", "ext:k"}
