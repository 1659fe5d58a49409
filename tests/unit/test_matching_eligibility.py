"""Each eligibility rule at its boundaries, on hand-made one-row tables; the fast bit-set path
equals the plain definition on random catalogues; the pre-check speaks both languages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from innofin.matching.recommend import eligibility_engine as elig
from matching_tables import NAN, catalogues, needs, passes, products

FIELD_BIT = 1 << elig.FIELDS.index("electronic_information")


@pytest.mark.parametrize(
    ("need", "product", "rule", "expected"),
    [
        # points: at least the minimum; an unscored firm fails a product that sets one
        ({"points": 60.0}, {"min_points": 60.0}, "points", True),
        ({"points": 59.99}, {"min_points": 60.0}, "points", False),
        ({"points": NAN}, {"min_points": 60.0}, "points", False),
        ({"points": NAN}, {}, "points", True),
        # field: one of the product's fields; an unknown field passes only an open product
        ({"field": 0}, {"field_mask": FIELD_BIT}, "field", True),
        ({"field": 1}, {"field_mask": FIELD_BIT}, "field", False),
        ({"field": -1}, {"field_mask": FIELD_BIT}, "field", False),
        ({"field": -1}, {}, "field", True),
        # stage
        ({"stage": 0}, {"stage_mask": 0b001}, "stage", True),
        ({"stage": 2}, {"stage_mask": 0b011}, "stage", False),
        ({"stage": -1}, {"stage_mask": 0b111}, "stage", False),
        # certifications: every one required must be held
        ({"certs": 0b011}, {"cert_mask": 0b011}, "certifications", True),
        ({"certs": 0b001}, {"cert_mask": 0b011}, "certifications", False),
        ({"certs": 0b000}, {}, "certifications", True),
        # amount band, inclusive at both ends
        ({"amount": 100_000.0}, {"amount_min": 100_000.0}, "amount", True),
        ({"amount": 99_999.99}, {"amount_min": 100_000.0}, "amount", False),
        ({"amount": 5e6}, {"amount_max": 5e6}, "amount", True),
        ({"amount": 5_000_000.01}, {"amount_max": 5e6}, "amount", False),
        # term band
        ({"term": 6}, {"term_min": 6, "term_max": 36}, "term", True),
        ({"term": 5}, {"term_min": 6, "term_max": 36}, "term", False),
        ({"term": 36}, {"term_min": 6, "term_max": 36}, "term", True),
        ({"term": 37}, {"term_min": 6, "term_max": 36}, "term", False),
        # collateral: pure credit passes all; otherwise the firm must offer the kind asked
        ({"collateral": 0}, {"collateral": 0}, "collateral", True),
        ({"collateral": 1 << 1}, {"collateral": 1}, "collateral", True),
        ({"collateral": 1 << 2}, {"collateral": 1}, "collateral", False),
        # revenue band; unknown revenue fails a product that sets one
        ({"revenue": 1e6}, {"revenue_min": 1e6}, "revenue", True),
        ({"revenue": 999_999.99}, {"revenue_min": 1e6}, "revenue", False),
        ({"revenue": 2e8}, {"revenue_max": 2e8}, "revenue", True),
        ({"revenue": 2.0000001e8}, {"revenue_max": 2e8}, "revenue", False),
        ({"revenue": NAN}, {"revenue_min": 1e6}, "revenue", False),
        # firm age
        ({"age": 2.0}, {"age_min": 2.0}, "age", True),
        ({"age": 1.99}, {"age_min": 2.0}, "age", False),
        ({"age": 10.0}, {"age_max": 10.0}, "age", True),
        ({"age": 10.01}, {"age_max": 10.0}, "age", False),
        # equity: an equity investment needs a firm that accepts equity
        ({"equity": True}, {"equity": True, "direct": True}, "equity", True),
        ({"equity": False}, {"equity": True, "direct": True}, "equity", False),
        ({"equity": False}, {}, "equity", True),
        # rate: the product's lowest rate at most the firm's maximum; unknown either side passes
        ({"max_rate": 4.0}, {"rate_min": 4.0}, "rate", True),
        ({"max_rate": 3.99}, {"rate_min": 4.0}, "rate", False),
        ({"max_rate": NAN}, {"rate_min": 9.0}, "rate", True),
        ({"max_rate": 2.0}, {}, "rate", True),
        # active period, inclusive
        ({"day": 100}, {"active_from": 100, "active_until": 200}, "active", True),
        ({"day": 99}, {"active_from": 100, "active_until": 200}, "active", False),
        ({"day": 200}, {"active_from": 100, "active_until": 200}, "active", True),
        ({"day": 201}, {"active_from": 100, "active_until": 200}, "active", False),
    ],
)
def test_rule_at_its_boundary(
    need: dict[str, object], product: dict[str, object], rule: str, expected: bool
) -> None:
    assert passes(needs(**need), products(**product), rule) is expected


def test_zone_rule_reads_the_zone_table() -> None:
    table = np.array([[True], [False], [False], [False]])  # zones 0..2, then unknown
    p = products(zones=table)
    assert passes(needs(zone=0), p, "zone")
    assert not passes(needs(zone=1), p, "zone")
    assert not passes(needs(zone=-1), p, "zone")
    assert passes(needs(zone=-1), products(), "zone")


def test_financing_mode_by_growth_stage() -> None:
    modes = elig.stage_modes_table({"startup": ("direct",), "stable": ("indirect",)})
    direct = products(direct=True, stage_modes=modes)
    indirect = products(direct=False, stage_modes=modes)
    assert passes(needs(stage=0), direct, "mode")
    assert not passes(needs(stage=0), indirect, "mode")
    assert not passes(needs(stage=2), direct, "mode")
    assert passes(needs(stage=2), indirect, "mode")
    assert passes(needs(stage=1), direct, "mode")  # a stage the rule does not name: every mode


def test_a_need_with_one_failing_rule_is_a_near_miss_naming_it() -> None:
    checked = elig.check(needs(amount=50.0), products(amount_min=100.0, min_points=90.0))
    assert not checked.eligible[0, 0]
    assert checked.failures[0, 0] == 2
    one = elig.check(needs(amount=50.0), products(amount_min=100.0))
    assert one.failures[0, 0] == 1
    assert elig.RULES[int(one.failed_rule[0, 0])].code == "amount"


def test_precheck_speaks_chinese_and_english() -> None:
    n = needs(points=55.0, amount=200_000.0)
    p = products(min_points=60.0, amount_min=100_000.0, amount_max=3_000_000.0)
    outcomes = elig.explain(n, p, 0, 0, ("hnte",), ("Z1", "Z2", "Z3"))
    by_code = {o.code: o for o in outcomes}
    assert [o.code for o in outcomes] == [r.code for r in elig.RULES]
    assert not by_code["points"].passed
    assert "55" in by_code["points"].zh and "60" in by_code["points"].zh
    assert "innovation points 55" in by_code["points"].en
    assert by_code["amount"].passed and "20 万元" in by_code["amount"].zh


# --------------------------------------------------------------------------- fast == plain


@settings(max_examples=60)
@given(catalogues())
def test_fast_path_equals_the_definition(case: tuple[elig.Needs, elig.Products]) -> None:
    n, p = case
    plain = elig.check(n, p)
    fast = elig.packed_check(elig.compile_products(p), n)
    for index, (matrix, packed) in enumerate(
        zip(elig.rule_matrices(n, p), fast.rules, strict=True)
    ):
        assert (elig.unpack(packed, len(p)) == matrix).all(), elig.RULES[index].code
    assert (elig.unpack(fast.eligible, len(p)) == plain.eligible).all()
    assert (elig.unpack(fast.near, len(p)) == (plain.failures == 1)).all()
    rows, cols = np.nonzero(plain.failures == 1)
    assert (elig.failed_rule(fast, rows, cols) == plain.failed_rule[rows, cols]).all()


def test_stage_modes_are_a_setting() -> None:
    from innofin.kernel.errors import InvalidInput
    from innofin.kernel.settings import stage_modes

    rule = stage_modes("startup=direct+indirect; stable=indirect")
    assert rule == (("startup", ("direct", "indirect")), ("stable", ("indirect",)))
    table = elig.stage_modes_table(dict(rule))
    assert table[elig.STAGES.index("stable")].tolist() == [True, False]  # indirect, direct
    assert stage_modes("") == ()
    with pytest.raises(InvalidInput, match="INNOFIN_MATCH_STAGE_MODES"):
        stage_modes("stable=loans")
