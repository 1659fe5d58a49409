"""The scoring engine: every normalisation by hand, stage weights and group caps on a tiny system,
the missing-value policies, and properties (row order, monotonicity, determinism).

Expected numbers are worked out by hand in the comments (plain arithmetic, `math.log` at most),
never copied from a run of the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.kernel.indicators import REPORT_FIELDS
from innofin.kernel.yamlfile import load_yaml
from innofin.scoring.engine import (
    ReferenceTable,
    Scores,
    ScoringInput,
    build_reference,
    fingerprint_arrays,
    normalise,
    score,
)
from innofin.scoring.expressions import CERT, PREV
from innofin.scoring.system import NormalisationSpec, Step, System, compile_system, load_system

NAN = math.nan
F64 = npt.NDArray[np.float64]


def arr(*values: float) -> F64:
    return np.array(values, dtype=np.float64)


def one_group(n: int) -> dict[str, Any]:
    return {"codes": np.zeros(n, dtype=np.int64), "n_groups": 1}


def close(actual: F64, expected: Sequence[float]) -> None:
    """Equal to 1e-12, NaN where NaN is expected (and only there)."""
    np.testing.assert_allclose(actual, np.array(expected, dtype=np.float64), rtol=0, atol=1e-12)


# --- normalisation, method by method -------------------------------------------------------------


def test_ratio_higher_is_better() -> None:
    spec = NormalisationSpec(method="ratio", reference=0.1)
    v = arr(0.05, 0.1, 0.2, 0.0, -0.03, NAN)
    out = normalise(spec, v, higher=True, **one_group(6))
    # 0.05 / 0.1 = 0.5; at the reference 1; 0.2 / 0.1 = 2 capped at 1; 0 → 0;
    # a negative value is clipped to 0; missing stays missing
    close(out, [0.5, 1.0, 1.0, 0.0, 0.0, NAN])


def test_ratio_cap_below_one() -> None:
    spec = NormalisationSpec(method="ratio", reference=0.1, cap=0.8)
    out = normalise(spec, arr(0.05, 0.2), higher=True, **one_group(2))
    # 0.5 is under the cap; 2 is capped at 0.8
    close(out, [0.5, 0.8])


def test_ratio_lower_is_better() -> None:
    spec = NormalisationSpec(method="ratio", reference=0.1)
    v = arr(0.2, 0.4, 0.05, 0.0, NAN)
    out = normalise(spec, v, higher=False, **one_group(5))
    # reference ÷ value: 0.1 / 0.2 = 0.5, 0.1 / 0.4 = 0.25, 0.1 / 0.05 = 2 capped at 1;
    # 0 (nothing of the bad thing) earns the cap; missing stays missing
    close(out, [0.5, 0.25, 1.0, 1.0, NAN])


def test_ratio_with_a_per_row_table_reference() -> None:
    spec = NormalisationSpec(method="ratio", reference="table")
    v = arr(0.1, 0.1, 0.3, 0.0, -1.0)
    ref = arr(0.1, 0.2, 0.0, 0.0, 0.0)
    out = normalise(spec, v, higher=True, reference=ref, **one_group(5))
    # 0.1/0.1 = 1, 0.1/0.2 = 0.5; a reference of 0 (nobody in the reference group had any):
    # full marks for a positive value, 0 for none (nothing done earns nothing) or less
    close(out, [1.0, 0.5, 1.0, 0.0, 0.0])


# --- a reference of 0: a ratio cannot be formed ---------------------------------------------------

FINITE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
AMOUNTS = st.floats(min_value=0, max_value=1e12, allow_nan=False)
RATIO_SPECS = st.builds(
    NormalisationSpec,
    method=st.sampled_from(["ratio", "log_ratio"]),
    reference=st.just("table"),
    cap=st.floats(min_value=0.1, max_value=1.0),
)


@given(spec=RATIO_SPECS, values=st.lists(FINITE, min_size=1, max_size=30))
def test_against_a_zero_reference_only_a_positive_value_scores(
    spec: NormalisationSpec, values: list[float]
) -> None:
    v = np.array(values)
    zero = np.zeros_like(v)
    higher = normalise(spec, v, higher=True, reference=zero, **one_group(v.size))
    # higher is better: more than nothing is full marks, nothing (or less) is 0
    close(higher, np.where(v > 0, spec.cap, 0.0).tolist())
    lower = normalise(spec, v, higher=False, reference=zero, **one_group(v.size))
    # lower is better: at or below the reference of 0 is full marks, anything more is 0
    close(lower, np.where(v <= 0, spec.cap, 0.0).tolist())


@given(spec=RATIO_SPECS, refs=st.lists(AMOUNTS, min_size=1, max_size=30))
def test_a_zero_value_earns_nothing_when_higher_is_better(
    spec: NormalisationSpec, refs: list[float]
) -> None:
    ref = np.array(refs)  # 0 in most groups, as for equity financing, or positive
    out = normalise(spec, np.zeros_like(ref), higher=True, reference=ref, **one_group(ref.size))
    close(out, [0.0] * ref.size)


@given(
    spec=RATIO_SPECS,
    pairs=st.lists(st.tuples(AMOUNTS, AMOUNTS, AMOUNTS), min_size=1, max_size=30),
)
def test_scores_do_not_fall_as_a_value_rises_whatever_the_reference(
    spec: NormalisationSpec, pairs: list[tuple[float, float, float]]
) -> None:
    ref = np.array([p[0] for p in pairs])
    low = np.array([min(p[1], p[2]) for p in pairs])
    high = np.array([max(p[1], p[2]) for p in pairs])
    kw: dict[str, Any] = {"reference": ref, **one_group(ref.size)}
    assert np.all(
        normalise(spec, high, higher=True, **kw) >= normalise(spec, low, higher=True, **kw)
    )
    assert np.all(
        normalise(spec, high, higher=False, **kw) <= normalise(spec, low, higher=False, **kw)
    )


def test_percentile_ties_share_the_mid_rank() -> None:
    spec = NormalisationSpec(method="percentile")
    v = arr(3.0, 1.0, 2.0, 2.0, NAN)
    out = normalise(spec, v, higher=True, **one_group(5))
    # 4 valid values (the missing one is not counted). (below + (equal + 1) / 2) / count:
    # 1 → (0 + 1) / 4 = 0.25; the two 2s → (1 + 1.5) / 4 = 0.625; 3 → (3 + 1) / 4 = 1
    close(out, [1.0, 0.25, 0.625, 0.625, NAN])


def test_percentile_lower_is_better() -> None:
    spec = NormalisationSpec(method="percentile")
    out = normalise(spec, arr(3.0, 1.0, 2.0, 2.0, NAN), higher=False, **one_group(5))
    # the order is reversed: 3 is worst (0.25), 1 best (1.0), the 2s still share 0.625
    close(out, [0.25, 1.0, 0.625, 0.625, NAN])


def test_percentile_within_peer_groups() -> None:
    spec = NormalisationSpec(method="percentile")
    # rows interleaved: group 0 holds 10, 20, 30; group 1 holds 1, 2, 2 and a missing value
    v = arr(10.0, 1.0, 20.0, 2.0, 30.0, 2.0, NAN)
    codes = np.array([0, 1, 0, 1, 0, 1, 1], dtype=np.int64)
    out = normalise(spec, v, higher=True, codes=codes, n_groups=2)
    # group 0 (3 values): 10 → (0 + 1) / 3; 20 → (1 + 1) / 3; 30 → (2 + 1) / 3
    # group 1 (3 valid): 1 → 1/3; the 2s → (1 + 1.5) / 3 = 5/6. The small values of group 1 are
    # not ranked against group 0.
    close(out, [1 / 3, 1 / 3, 2 / 3, 5 / 6, 1.0, 5 / 6, NAN])


def test_percentile_of_a_lone_member_is_one() -> None:
    spec = NormalisationSpec(method="percentile")
    codes = np.array([0, 1], dtype=np.int64)
    out = normalise(spec, arr(5.0, 0.0), higher=True, codes=codes, n_groups=2)
    close(out, [1.0, 1.0])


def test_zscore_clipped_and_mapped_to_unit_interval() -> None:
    spec = NormalisationSpec(method="zscore", clip=2.0)
    v = arr(10.0, 12.0, 14.0, 20.0, 0.0, 6.0, 9.0, NAN)
    n = v.shape[0]
    mean, sd = np.full(n, 10.0), np.full(n, 2.0)
    out = normalise(spec, v, higher=True, mean=mean, sd=sd, **one_group(n))
    # z = (v − 10) / 2 = 0, 1, 2, 5 → 2, −5 → −2, −2, −0.5; score (z + 2) / 4
    close(out, [0.5, 0.75, 1.0, 1.0, 0.0, 0.0, 0.375, NAN])
    low = normalise(spec, v, higher=False, mean=mean, sd=sd, **one_group(n))
    # lower is better: z is negated, so 12 → (−1 + 2) / 4 = 0.25 and 0 → (2 + 2) / 4 = 1
    close(low, [0.5, 0.25, 0.0, 0.0, 1.0, 1.0, 0.625, NAN])


def test_zscore_default_clip_and_zero_spread() -> None:
    spec = NormalisationSpec(method="zscore")  # clip 3
    mean, sd = arr(10.0, 10.0, 5.0), arr(2.0, 2.0, 0.0)
    out = normalise(spec, arr(13.0, 7.0, 99.0), higher=True, mean=mean, sd=sd, **one_group(3))
    # z = 1.5 → (1.5 + 3) / 6 = 0.75; z = −1.5 → 0.25; sd 0: z counts as 0 → 0.5
    close(out, [0.75, 0.25, 0.5])


def test_steps_thresholds_are_inclusive() -> None:
    table = [(0.1, 0.2), (0.2, 0.6), (0.3, 1.0)]
    spec = NormalisationSpec(method="steps", steps=[Step(at_least=a, score=b) for a, b in table])
    v = arr(0.05, 0.1, 0.15, 0.2, 0.29, 0.3, 5.0, -1.0, NAN)
    out = normalise(spec, v, higher=True, **one_group(9))
    # below the first threshold 0; at_least is inclusive: 0.1 → 0.2, 0.2 → 0.6, 0.3 → 1.0
    close(out, [0.0, 0.2, 0.2, 0.6, 0.6, 1.0, 1.0, 0.0, NAN])


def test_steps_table_already_encodes_lower_is_better() -> None:
    # default.yaml's debt ratio: direction lower, a table that falls with the value. The table is
    # read as written whatever the direction (negating the value would break it).
    table = [(0.0, 1.0), (0.4, 0.7), (0.6, 0.4), (0.8, 0.1)]
    spec = NormalisationSpec(method="steps", steps=[Step(at_least=a, score=b) for a, b in table])
    v = arr(0.3, 0.4, 0.59, 0.6, 0.95, NAN)
    expected = [1.0, 0.7, 0.7, 0.4, 0.1, NAN]
    close(normalise(spec, v, higher=False, **one_group(6)), expected)
    close(normalise(spec, v, higher=True, **one_group(6)), expected)


def test_log_ratio() -> None:
    spec = NormalisationSpec(method="log_ratio", reference=9.0)
    v = arr(0.0, 9.0, 99.0, 2.0, -5.0, NAN)
    out = normalise(spec, v, higher=True, **one_group(6))
    # log1p(v) / log1p(9) = ln(1 + v) / ln 10: 0 → 0; 9 → 1; 99 → ln 100 / ln 10 = 2, capped 1;
    # 2 → ln 3 / ln 10; a negative value counts as 0
    close(out, [0.0, 1.0, 1.0, math.log(3) / math.log(10), 0.0, NAN])
    low = normalise(spec, v, higher=False, **one_group(6))
    # lower is better: ln 10 / ln(1 + v): 99 → ln 10 / ln 100 = 0.5, 2 → ln 10 / ln 3 capped 1,
    # 0 and below earn the cap
    close(low, [1.0, 1.0, 0.5, 1.0, 1.0, NAN])


def test_log_ratio_with_table_reference() -> None:
    spec = NormalisationSpec(method="log_ratio", reference="table")
    out = normalise(spec, arr(3.0, 3.0), higher=True, reference=arr(3.0, 15.0), **one_group(2))
    # ln 4 / ln 4 = 1; ln 4 / ln 16 = 0.5
    close(out, [1.0, 0.5])


# --- tiny systems, scored end to end -------------------------------------------------------------

TINY = """\
id: tiny
version: "1"
names: {zh: 小体系, en: Tiny}
scale: 100
stages: [startup, growth, stable]
groups:
  - {id: core, names: {zh: 核心, en: Core}}
  - {id: extra, kind: bonus, max_points: 15, names: {zh: 加分, en: Bonus}}
  - {id: minus, kind: negative, max_points: 25, names: {zh: 减分, en: Negative}}
indicators:
  - id: intensity
    names: {zh: 研发强度, en: RD intensity}
    group: core
    expr: rd_expense / revenue
    normalise: {method: ratio, reference: 0.1}
    weights: {startup: 70, growth: 50, stable: 30}
  - id: patents
    names: {zh: 发明专利, en: Patents}
    group: core
    expr: invention_patents
    normalise: {method: log_ratio, reference: 9}
    weights: {startup: 30, growth: 50, stable: 70}
  - id: platforms
    names: {zh: 研发平台, en: Platforms}
    group: extra
    expr: rd_platforms
    normalise: {method: steps, steps: [{at_least: 1, score: 0.5}, {at_least: 2, score: 1.0}]}
    weights: 10
  - id: standards
    names: {zh: 标准, en: Standards}
    group: extra
    expr: standards_drafted
    normalise: {method: steps, steps: [{at_least: 1, score: 1.0}]}
    weights: 10
  - id: loss
    names: {zh: 亏损, en: Loss}
    group: minus
    expr: net_profit < 0
    normalise: {method: steps, steps: [{at_least: 1, score: 1.0}]}
    weights: 20
  - id: insolvent
    names: {zh: 资不抵债, en: Insolvent}
    group: minus
    expr: total_liabilities > total_assets
    normalise: {method: steps, steps: [{at_least: 1, score: 1.0}]}
    weights: 20
"""

STAGES = ["startup", "growth", "stable"]


def make_input(
    rows: Sequence[Mapping[str, Any]],
    *,
    zones: Sequence[str] = ("Z1", "Z2"),
    fields: Sequence[str] = ("bio", "ict", "energy"),
) -> ScoringInput:
    """Rows of {"id", "stage", "zone", "field", <column>: value}; every report field is a column
    (as the database reader gives), NaN where not given."""
    n = len(rows)
    given = {k for r in rows for k in r} - {"id", "stage", "zone", "field"}
    names = sorted({*REPORT_FIELDS, *given})
    return ScoringInput(
        enterprise_id=np.array([r["id"] for r in rows], dtype=np.int64),
        codes={
            "zone": np.array([zones.index(r.get("zone", zones[0])) for r in rows], dtype=np.int64),
            "province": np.zeros(n, dtype=np.int64),
            "field": np.array(
                [fields.index(r.get("field", fields[0])) for r in rows], dtype=np.int64
            ),
            "stage": np.array([STAGES.index(r.get("stage", "growth")) for r in rows], np.int64),
            "size": np.zeros(n, dtype=np.int64),
        },
        labels={
            "zone": list(zones),
            "province": ["P1"],
            "field": list(fields),
            "stage": STAGES,
            "size": ["micro", "small", "medium", "large"],
        },
        columns={c: np.array([float(r.get(c, NAN)) for r in rows]) for c in names},
    )


def write_system(tmp_path: Path, text: str, name: str = "tiny.yaml") -> System:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_system(path)


def points_of(scores: Scores) -> dict[int, float]:
    return dict(zip(scores.enterprise_id.tolist(), scores.points.tolist(), strict=True))


def test_stage_weights_bonus_cap_and_negative_cap(tmp_path: Path) -> None:
    system = write_system(tmp_path, TINY)
    healthy = {"net_profit": 1e5, "total_assets": 1e7, "total_liabilities": 1e6}
    data = make_input(
        [
            # startup: intensity 50k / 1M = 0.05 → 0.5 × 70 = 35; patents 9 → 1 × 30 = 30;
            # bonus: one platform 0.5 × 10 = 5; no negatives. 35 + 30 + 5 = 70
            {"id": 101, "stage": "startup", "revenue": 1e6, "rd_expense": 5e4,
             "invention_patents": 9, "rd_platforms": 1, "standards_drafted": 0, **healthy},
            # growth: intensity 0.2 → capped 1 × 50 = 50; no patents 0 × 50;
            # bonus 10 (two platforms) + 10 (standards) = 20, capped at 15;
            # a loss −20. 50 + 15 − 20 = 45
            {"id": 102, "stage": "growth", "revenue": 1e6, "rd_expense": 2e5,
             "invention_patents": 0, "rd_platforms": 2, "standards_drafted": 3,
             "net_profit": -1e5, "total_assets": 1e7, "total_liabilities": 1e6},
            # stable: intensity 0.1 → 1 × 30; patents 99 → capped 1 × 70; no bonus;
            # loss −20 and insolvent −20 = −40, capped at −25. 30 + 70 − 25 = 75
            {"id": 103, "stage": "stable", "revenue": 1e6, "rd_expense": 1e5,
             "invention_patents": 99, "rd_platforms": 0, "standards_drafted": 0,
             "net_profit": -1e5, "total_assets": 1e6, "total_liabilities": 2e6},
            # stable: intensity 0.05 → 0.5 × 30 = 15; patents 2 → ln 3 / ln 10 × 70
            {"id": 104, "stage": "stable", "revenue": 1e6, "rd_expense": 5e4,
             "invention_patents": 2, "rd_platforms": 0, "standards_drafted": 0, **healthy},
        ]
    )  # fmt: skip
    out = score(system, data)
    p4 = 15 + 70 * math.log(3) / math.log(10)  # ≈ 48.40
    np.testing.assert_allclose(out.points, [70.0, 45.0, 75.0, p4], rtol=0, atol=1e-9)
    assert out.group_ids == ("core", "extra", "minus")
    np.testing.assert_allclose(
        out.group_points,
        [[65.0, 5.0, 0.0], [50.0, 15.0, -20.0], [100.0, 0.0, -25.0], [p4, 0.0, 0.0]],
        rtol=0,
        atol=1e-9,
    )
    # contributions before the caps: 102's bonus items are 10 + 10, 103's negatives −20 − 20
    contrib = out.contribution
    np.testing.assert_allclose(contrib[1, 2:4], [10.0, 10.0], atol=1e-12)
    np.testing.assert_allclose(contrib[2, 4:6], [-20.0, -20.0], atol=1e-12)
    # ranks: 75 > 70 > 48.4 > 45 nationally; stage ranks within startup / growth / stable
    assert out.rank["national"].tolist() == [2, 4, 1, 3]
    assert out.rank["stage"].tolist() == [1, 1, 1, 2]
    # national percentile: (below + 1) / 4 with no ties
    assert out.percentile is not None
    close(out.percentile, [75.0, 25.0, 100.0, 50.0])
    assert out.qualified is None and out.verdict is None  # no qualification rules


def test_same_values_different_stage_different_points(tmp_path: Path) -> None:
    system = write_system(tmp_path, TINY)
    firm = {"revenue": 1e6, "rd_expense": 5e4, "invention_patents": 0}
    data = make_input([{"id": i, "stage": s, **firm} for i, s in enumerate(STAGES, start=1)])
    # only intensity scores (0.5): 0.5 × 70, 0.5 × 50, 0.5 × 30
    assert points_of(score(system, data)) == pytest.approx({1: 35.0, 2: 25.0, 3: 15.0}, abs=1e-9)


MEDIAN = """\
id: median
version: "1"
names: {zh: 中位数, en: Median}
scale: 100
groups:
  - {id: core, names: {zh: 核心, en: Core}}
indicators:
  - id: by_median
    names: {zh: 研发强度, en: RD intensity (peer median)}
    group: core
    expr: rd_expense / revenue
    normalise: {method: ratio, reference: 0.1}
    missing: peer_median
    peer: [field]
    weights: 50
  - id: by_zero
    names: {zh: 研发强度, en: RD intensity (zero)}
    group: core
    expr: rd_expense / revenue
    normalise: {method: ratio, reference: 0.1}
    weights: 50
"""


def test_missing_peer_median_and_zero(tmp_path: Path) -> None:
    system = write_system(tmp_path, MEDIAN, "median.yaml")
    rev = 1e6
    rows = [
        # field bio: 0.02, 0.04, 0.08 and one missing → median 0.04 → 0.4
        {"id": 1, "field": "bio", "revenue": rev, "rd_expense": 2e4},
        {"id": 2, "field": "bio", "revenue": rev, "rd_expense": 4e4},
        {"id": 3, "field": "bio", "revenue": rev, "rd_expense": 8e4},
        {"id": 4, "field": "bio", "revenue": rev},
        # field ict: 0.05, 0.09 and two missing → median (0.05 + 0.09) / 2 = 0.07 → 0.7
        {"id": 5, "field": "ict", "revenue": rev, "rd_expense": 5e4},
        {"id": 6, "field": "ict", "revenue": rev},
        {"id": 7, "field": "ict", "revenue": rev, "rd_expense": 9e4},
        {"id": 8, "field": "ict", "revenue": 0.0, "rd_expense": 1e4},  # ÷ 0 is missing too
        # field energy: only a missing value → no median → nothing
        {"id": 9, "field": "energy", "revenue": rev},
    ]
    out = score(system, make_input(rows))
    med, zero = out.normalised[:, 0], out.normalised[:, 1]
    close(med, [0.2, 0.4, 0.8, 0.4, 0.5, 0.7, 0.9, 0.7, 0.0])
    close(zero, [0.2, 0.4, 0.8, 0.0, 0.5, 0.0, 0.9, 0.0, 0.0])
    # points: 50 × both scores
    close(out.points, [20.0, 40.0, 80.0, 20.0, 50.0, 35.0, 90.0, 35.0, 0.0])
    # the raw value is still reported as missing, whatever stood in for it
    assert out.missing[:, 0].tolist() == [False, False, False, True, False, True, False, True, True]
    assert np.array_equal(out.missing[:, 0], out.missing[:, 1])


def test_best_of_alternatives_takes_the_better_score() -> None:
    system = load_system("tech-sme")
    i = [ind.id for ind in system.indicators].index("rd_investment")
    data = make_input(
        [
            # share of revenue 0.05 → 0.8; share of costs 0.1 → 0.2: the first wins
            {"id": 1, "revenue": 1e6, "rd_expense": 5e4, "ext:total_costs": 5e5},
            # share of revenue 3e5 / 3e7 = 0.01 → 0; share of costs 3e5 / 1e6 = 0.3 → 1.0: the
            # second wins
            {"id": 2, "revenue": 3e7, "rd_expense": 3e5, "ext:total_costs": 1e6},
            # no cost figure: only the revenue share (0.02 → 0.2) counts
            {"id": 3, "revenue": 1e6, "rd_expense": 2e4},
        ]
    )
    out = score(system, data)
    close(out.normalised[:, i], [0.8, 1.0, 0.2])
    assert out.alternative[:, i].tolist() == [0, 1, 0]
    close(out.raw[:, i], [0.05, 0.3, 0.02])
    close(out.contribution[:, i], [40.0, 50.0, 10.0])


# --- properties ----------------------------------------------------------------------------------

DEFAULT = load_system("default")
# the default system with small reference groups, so that per-group reference values are used
DEFAULT_SMALL_GROUPS = compile_system(
    load_yaml(
        """\
id: default-small
version: "1"
extends: default
names: {zh: 小参照组, en: Small reference groups}
scale: 1000
reference: {percentile: 75, by: [field], min_count: 2}
""",
        "default-small.yaml",
    )
)
TECH_SME = load_system("tech-sme")

MONEY = [NAN, 0.0, 1e5, 2.5e5, 1e6, 4e6, 2e7]
SIGNED = [NAN, -1e6, -1e5, 0.0, 1e5, 3e6]
COUNT = [NAN, 0.0, 1.0, 2.0, 3.0, 5.0, 12.0]
PEOPLE = [NAN, 0.0, 5.0, 20.0, 50.0, 150.0, 600.0]


def _choices(field: str) -> list[float]:
    if field == "net_profit":
        return SIGNED
    unit = REPORT_FIELDS[field].unit
    return MONEY if unit == "yuan" else PEOPLE if unit == "person" else COUNT


@st.composite
def populations(draw: st.DrawFn) -> ScoringInput:
    """Up to 10 enterprises with values from small sets (so ties, zeros and missing values are
    common), drawn from a seed: generating hundreds of values one by one would dominate the run."""
    n = draw(st.integers(1, 10))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def column(choices: Sequence[float]) -> F64:
        return np.asarray(rng.choice(np.array(choices), n), dtype=np.float64)

    columns = {f: column(_choices(f)) for f in REPORT_FIELDS}
    for f in ("main_revenue", "employees", "net_profit"):
        columns[PREV + f] = column(_choices(f))
    for kind in ("hnte", "little_giant", "gazelle"):
        columns[CERT + kind] = column([0.0, 1.0])
    columns["ext:total_costs"] = column(MONEY)
    columns["age"] = column([NAN, 1.0, 4.0, 12.0])
    sizes = {"zone": 2, "province": 2, "field": 3, "stage": 3, "size": 4}
    codes = {k: rng.integers(0, m, n).astype(np.int64) for k, m in sizes.items()}
    ids = rng.choice(10**6, n, replace=False).astype(np.int64) + 1
    labels = {
        "zone": ["Z1", "Z2"],
        "province": ["P1", "P2"],
        "field": ["bio", "ict", "energy"],
        "stage": STAGES,
        "size": ["micro", "small", "medium", "large"],
    }
    return ScoringInput(ids, codes, labels, columns)


def _by_id(scores: Scores) -> dict[str, bytes]:
    """Every per-enterprise result in enterprise-id order, as bytes (bit-identical comparison)."""
    o = np.argsort(scores.enterprise_id)
    out: dict[str, npt.NDArray[Any]] = {
        "points": scores.points[o],
        "group_points": scores.group_points[o],
        "raw": scores.raw[o],
        "normalised": scores.normalised[o],
        "contribution": scores.contribution[o],
        "percentile": scores.percentile[o] if scores.percentile is not None else np.zeros(0),
        **{f"rank:{k}": v[o] for k, v in scores.rank.items()},
    }
    if scores.qualified is not None and scores.verdict is not None:
        out["qualified"] = scores.qualified[o]
        out["verdict"] = np.array("|".join(scores.verdict[o].tolist()).encode())
    return {k: np.ascontiguousarray(v).tobytes() for k, v in out.items()}


def _reference_equal(a: ReferenceTable, b: ReferenceTable) -> bool:
    if (a.keys, a.labels) != (b.keys, b.labels) or a.values.keys() != b.values.keys():
        return False
    return all(
        getattr(a, m)[k].tobytes() == getattr(b, m)[k].tobytes()
        for m in ("values", "means", "sds", "counts")
        for k in a.values
    )


@settings(max_examples=50, deadline=None)
@given(
    populations(),
    st.sampled_from([DEFAULT, DEFAULT_SMALL_GROUPS, TECH_SME]),
    st.randoms(use_true_random=False),
)
def test_row_order_never_changes_any_result(data: ScoringInput, system: System, rnd: Any) -> None:
    perm = np.arange(data.n)
    rnd.shuffle(perm)
    shuffled = data.take(perm)
    ref, ref_shuffled = build_reference(system, data), build_reference(system, shuffled)
    assert _reference_equal(ref, ref_shuffled)
    assert _by_id(score(system, data, ref)) == _by_id(score(system, shuffled, ref_shuffled))


MONOTONE_FIELDS = [
    "rd_expense",  # rd_intensity (ratio) and rd_expense_total (log_ratio)
    "invention_patents",  # patent_count (log_ratio)
    "ip_class1",  # class1_ip (percentile) and the many_class1_ip bonus
    "ip_class2",
    "tech_contract_turnover",
    "hightech_revenue",
    "equity_financing",
    "rd_platforms",
    "tax_paid",
]


@settings(max_examples=50, deadline=None)
@given(
    populations(),
    st.sampled_from([DEFAULT, DEFAULT_SMALL_GROUPS]),
    st.sampled_from(MONOTONE_FIELDS),
    st.integers(0, 9),
    st.sampled_from([0.5, 1.0, 3.0, 1e5, 5e6]),
)
def test_more_of_a_good_thing_never_lowers_points(
    data: ScoringInput, system: System, field: str, row: int, delta: float
) -> None:
    row %= data.n
    ref = build_reference(system, data)  # held fixed
    before = score(system, data, ref)
    col = data.columns[field].copy()
    col[row] = (0.0 if np.isnan(col[row]) else col[row]) + delta
    more = ScoringInput(data.enterprise_id, data.codes, data.labels, {**data.columns, field: col})
    after = score(system, more, ref)
    assert after.points[row] >= before.points[row]
    # and the indicators reading the field did not lose score either
    assert np.all(after.normalised[row] >= before.normalised[row])


@settings(max_examples=20, deadline=None)
@given(populations(), st.sampled_from([DEFAULT, DEFAULT_SMALL_GROUPS, TECH_SME]))
def test_same_inputs_give_bit_identical_results(data: ScoringInput, system: System) -> None:
    runs = []
    for _ in range(2):
        out = score(system, data, build_reference(system, data))
        runs.append(fingerprint_arrays(out.points, out.group_points, out.normalised))
    assert runs[0] == runs[1]


def test_fingerprint_changes_with_one_value(tmp_path: Path) -> None:
    system = write_system(tmp_path, TINY)
    rows = [{"id": 1, "revenue": 1e6, "rd_expense": 5e4}, {"id": 2, "revenue": 1e6}]
    a = score(system, make_input(rows)).points
    rows[1]["rd_expense"] = 1e4  # 0.01 → 0.1 × 50 = 5 points more for firm 2
    b = score(system, make_input(rows)).points
    assert b[1] == pytest.approx(a[1] + 5.0, abs=1e-9)
    assert fingerprint_arrays(a) != fingerprint_arrays(b)
    assert fingerprint_arrays(a) == fingerprint_arrays(a.copy())
