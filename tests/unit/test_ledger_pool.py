"""Risk-pool engine: the shipped templates on worked examples, caps, eligibility, exact splits,
leverage, payouts, interest subsidies, rule validation, and Hypothesis properties.

Every expected amount is worked out by hand in the comments (plain arithmetic, not the engine's
helpers), so a wrong formula in the engine cannot make its own test pass.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from fractions import Fraction

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from innofin.kernel.errors import InvalidInput
from innofin.ledger.pools.engine import (
    FIRST_LOAN,
    IP_PLEDGE,
    PURE_CREDIT,
    ClaimCap,
    ClaimInput,
    ClaimReason,
    PoolInputError,
    PoolRules,
    assess_claim,
    check_payout,
    early_province_county_rules,
    leverage_headroom,
    province_direct_guaranteed_bonus_rules,
    split_pro_rata,
    split_recovery,
    zone_pool_rules,
)
from innofin.ledger.subsidies.engine import (
    SubsidyCap,
    SubsidyReason,
    SubsidyRules,
    compute_subsidy,
)

D = Decimal
MILLION = D("1000000.00")


def claim(loss: Decimal = MILLION, **facts: object) -> ClaimInput:
    """A claim from an enterprise in the candidate pool (all shipped templates require it)."""
    return ClaimInput.model_validate({"principal_loss": loss, "in_candidate_pool": True, **facts})


# --- the 30 % direct / 20 % guaranteed / +5 points / ≤ 80 % province --------------------------


def test_province_direct_first_loan_is_35_percent() -> None:
    rules = province_direct_guaranteed_bonus_rules()
    result = assess_claim(rules, claim(tags={FIRST_LOAN}))
    # 30 % + 5 points for the first loan = 35 %; 1,000,000.00 × 0.35 = 350,000.00
    assert result.eligible and result.reasons == ()
    assert result.nominal_rate == D("0.35")
    assert result.coverage_rate == D("0.35")
    assert result.bonuses == {FIRST_LOAN: D("0.05")}
    assert result.covered == D("350000.00")
    assert result.retained == D("650000.00")  # 1,000,000.00 − 350,000.00
    assert result.contributions == {"province": D("350000.00")}
    assert result.binding_cap is None


def test_province_guaranteed_loan_is_20_percent() -> None:
    rules = province_direct_guaranteed_bonus_rules()
    result = assess_claim(rules, claim(guaranteed=True))
    # guaranteed: 20 % of 1,000,000.00 = 200,000.00
    assert result.coverage_rate == D("0.20")
    assert result.covered == D("200000.00")
    assert result.retained == D("800000.00")
    # The bonus adds to the guaranteed rate as well: 20 % + 5 = 25 % → 250,000.00
    assert assess_claim(rules, claim(guaranteed=True, tags={FIRST_LOAN})).covered == D("250000.00")


def test_province_bonuses_add_once_each() -> None:
    rules = province_direct_guaranteed_bonus_rules()
    tags = {FIRST_LOAN, PURE_CREDIT, IP_PLEDGE, "green"}  # "green" earns nothing here
    result = assess_claim(rules, claim(tags=tags))
    # 30 % + 5 + 5 + 5 = 45 %; 1,000,000.00 × 0.45 = 450,000.00
    assert result.nominal_rate == D("0.45")
    assert list(result.bonuses) == [FIRST_LOAN, IP_PLEDGE, PURE_CREDIT]  # sorted
    assert result.covered == D("450000.00")
    assert result.retained == D("550000.00")


def test_max_coverage_clips_the_rate() -> None:
    # A later rule covering 70 % of a first loan: 70 % + 15 points = 85 % > 80 % → 80 %.
    rules = province_direct_guaranteed_bonus_rules(base_coverage=D("0.70"))
    result = assess_claim(rules, claim(tags={FIRST_LOAN, PURE_CREDIT, IP_PLEDGE}))
    assert result.nominal_rate == D("0.85")
    assert result.coverage_rate == D("0.80")
    assert result.covered == D("800000.00")  # 1,000,000.00 × 0.80
    assert result.retained == D("200000.00")  # the bank keeps 20 %
    assert result.binding_cap is ClaimCap.MAX_COVERAGE


def test_cap_per_loan_binds() -> None:
    rules = province_direct_guaranteed_bonus_rules(cap_per_loan=D("300000.00"))
    result = assess_claim(rules, claim(tags={FIRST_LOAN}))
    # 35 % of 1,000,000.00 = 350,000.00, capped at 300,000.00 a loan
    assert result.covered == D("300000.00")
    assert result.retained == D("700000.00")
    assert result.binding_cap is ClaimCap.CAP_PER_LOAN


# --- the early 70 % / 30 % province-county rule -------------------------------------------------


def test_early_rule_splits_70_30() -> None:
    rules = early_province_county_rules(D("0.50"))
    assert rules.leverage == D(10)
    result = assess_claim(rules, claim())
    # 50 % of 1,000,000.00 = 500,000.00; province 70 % = 350,000.00, county 30 % = 150,000.00
    assert result.covered == D("500000.00")
    assert result.contributions == {"province": D("350000.00"), "county": D("150000.00")}


def test_early_rule_awkward_loss_rounds_in_the_banks_favour_at_the_maximum() -> None:
    rules = early_province_county_rules(D("0.50"))
    result = assess_claim(rules, claim(D("123456.79")))
    # 123,456.79 × 0.5 = 61,728.395: half-up would give 61,728.40, but that is above
    # loss × max_coverage (61,728.395), so the maximum, rounded down, sets it: 61,728.39.
    assert result.covered == D("61728.39")
    assert result.retained == D("61728.40")  # the bank keeps at least half
    assert result.binding_cap is ClaimCap.MAX_COVERAGE
    # Split of 6,172,839 fen: province 0.7 × = 4,320,987.3, county 0.3 × = 1,851,851.7;
    # floors 4,320,987 + 1,851,851 = 6,172,838, one fen left → county (remainder 0.7 > 0.3).
    assert result.contributions == {"province": D("43209.87"), "county": D("18518.52")}
    assert sum(result.contributions.values()) == result.covered


def test_early_rule_tie_goes_to_the_first_name() -> None:
    rules = early_province_county_rules(D("0.50"))
    result = assess_claim(rules, claim(D("0.10")))
    # covered 0.05 = 5 fen; province 3.5, county 1.5 → floors 3 + 1, one fen left, remainders
    # tie at 0.5 → "county" sorts before "province"
    assert result.covered == D("0.05")
    assert result.contributions == {"province": D("0.03"), "county": D("0.02")}


# --- the zone pool ------------------------------------------------------------------------------


def test_zone_pool_covers_30_percent_and_the_bank_keeps_at_least_20() -> None:
    rules = zone_pool_rules()
    assert rules.min_bank_share == D("0.20")
    result = assess_claim(rules, claim(D("2000000.00"), tags={FIRST_LOAN}))
    # 30 % of 2,000,000.00 = 600,000.00; no bonus in this rule
    assert result.covered == D("600000.00")
    assert result.retained == D("1400000.00")
    assert result.contributions == {"zone": D("600000.00")}


def test_zone_pool_cap_per_institution_year_binds() -> None:
    rules = zone_pool_rules(cap_per_institution_year=D("1000000.00"))
    loss = D("2000000.00")
    # 600,000.00 due, but the bank already had 500,000.00 this year: 500,000.00 left of the cap
    result = assess_claim(rules, claim(loss, already_claimed_this_year_by_institution="500000"))
    assert result.covered == D("500000.00")
    assert result.retained == D("1500000.00")
    assert result.binding_cap is ClaimCap.CAP_PER_INSTITUTION_YEAR
    # The cap used up: eligible, but nothing covered
    spent = assess_claim(rules, claim(loss, already_claimed_this_year_by_institution="1000000"))
    assert spent.eligible and spent.covered == D("0.00") and spent.retained == loss
    assert spent.contributions == {"zone": D("0.00")}
    assert spent.binding_cap is ClaimCap.CAP_PER_INSTITUTION_YEAR


# --- eligibility --------------------------------------------------------------------------------


def _restricted() -> PoolRules:
    return province_direct_guaranteed_bonus_rules(
        eligible_enterprise_kinds={"tech_sme"}, eligible_product_tags={"tech_loan", "ip_loan"}
    )


def test_ineligible_claim_names_each_failed_rule() -> None:
    facts = ClaimInput(
        principal_loss=D("500000.00"),
        tags=frozenset({FIRST_LOAN}),
        enterprise_kind="large",
        product_tags=frozenset({"mortgage"}),
        in_candidate_pool=False,
    )
    result = assess_claim(_restricted(), facts)
    assert not result.eligible
    assert result.reasons == (
        ClaimReason.ENTERPRISE_KIND_NOT_ELIGIBLE,
        ClaimReason.PRODUCT_NOT_ELIGIBLE,
        ClaimReason.NOT_IN_CANDIDATE_POOL,
    )
    assert result.coverage_rate == 0
    assert result.covered == D("0.00")
    assert result.retained == D("500000.00")
    assert result.contributions == {"province": D("0.00")}
    assert json.loads(result.model_dump_json())["reasons"] == [
        "enterprise_kind_not_eligible",
        "product_not_eligible",
        "not_in_candidate_pool",
    ]


def test_eligibility_needs_a_kind_and_one_matching_product_tag() -> None:
    rules = _restricted()
    no_kind = assess_claim(rules, claim(product_tags={"ip_loan"}))
    assert no_kind.reasons == (ClaimReason.ENTERPRISE_KIND_NOT_ELIGIBLE,)
    ok = assess_claim(rules, claim(enterprise_kind="tech_sme", product_tags={"ip_loan", "x"}))
    assert ok.eligible and ok.covered == D("300000.00")  # 30 % of 1,000,000.00


# --- split_pro_rata -----------------------------------------------------------------------------


def test_one_fen_among_three() -> None:
    # 1 fen × 1/3 each = 0.333 fen: floors 0, 0, 0; the one fen goes to the first name
    assert split_pro_rata(D("0.01"), {"c": D(1), "a": D(1), "b": D(1)}) == {
        "c": D("0.00"),
        "a": D("0.01"),
        "b": D("0.00"),
    }


def test_hundred_among_thirds() -> None:
    third = D(1) / 3
    parts = split_pro_rata(D("100.00"), {"a": third, "b": third, "c": third})
    # 10,000 fen / 3 = 3,333.33 each: floors 3 × 3,333 = 9,999, the last fen to "a"
    assert parts == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    reordered = split_pro_rata(D("100.00"), {"province": D(1), "county": D(1), "city": D(1)})
    assert reordered == {"province": D("33.33"), "county": D("33.33"), "city": D("33.34")}


def test_largest_remainder_comes_before_name() -> None:
    # 100 fen × 2/3 = 66.67, × 1/3 = 33.33: floors 66 + 33, the fen to the larger remainder
    assert split_pro_rata(D("1.00"), {"a": D(1), "b": D(2)}) == {"a": D("0.33"), "b": D("0.67")}


def test_zero_weight_gets_nothing_and_zero_amount_splits_to_zeros() -> None:
    assert split_pro_rata(D("0.05"), {"a": D(0), "b": D(1)}) == {"a": D("0.00"), "b": D("0.05")}
    assert split_pro_rata(D(0), {"a": D(1), "b": D(3)}) == {"a": D("0.00"), "b": D("0.00")}


@pytest.mark.parametrize(
    ("amount", "weights", "field"),
    [
        (D("-0.01"), {"a": D(1)}, "amount"),
        (D("0.005"), {"a": D(1)}, "amount"),
        (0.5, {"a": D(1)}, "amount"),
        (D("1.00"), {}, "weights"),
        (D("1.00"), {"a": D(1), "b": D(-1)}, "weights"),
        (D("1.00"), {"a": D(0), "b": D(0)}, "weights"),
        (D("1.00"), {"a": 0.5}, "weights"),
        (D("1.00"), {"a": D("NaN")}, "weights"),
    ],
)
def test_split_refuses_bad_input(amount: object, weights: object, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field} ") as info:
        split_pro_rata(amount, weights)  # type: ignore[arg-type]
    assert isinstance(info.value, PoolInputError) and isinstance(info.value, InvalidInput)
    assert info.value.field == field


def test_recovery_flows_back_by_what_each_paid() -> None:
    paid = {"province": D("43209.87"), "county": D("18518.52")}  # 61,728.39 paid in all
    # 10,000.00 recovered: province 10,000 × 43,209.87 / 61,728.39 = 6,999.999514… → 6,999.99
    # (remainder 0.9514 fen), county 3,000.000486… → 3,000.00 (0.0486); one fen left → province
    assert split_recovery(D("10000.00"), paid) == {
        "province": D("7000.00"),
        "county": D("3000.00"),
    }
    with pytest.raises(ValueError, match=r"^recovery .*more than the contributors paid"):
        split_recovery(D("61728.40"), paid)
    assert split_recovery(D(0), {"zone": D("0.00")}) == {"zone": D("0.00")}


# --- leverage and payouts -----------------------------------------------------------------------


def test_leverage_headroom() -> None:
    # 10 × 10,000,000.00 = 100,000,000.00 allowed, 60,000,000.00 used → 40,000,000.00 left
    assert leverage_headroom(D("10000000.00"), D("60000000.00"), D(10)) == D("40000000.00")
    # over the limit already: never negative
    assert leverage_headroom(D("10000000.00"), D("120000000.00"), D(10)) == D("0.00")
    # 2.5 × 0.03 = 0.075 → rounded down to 0.07 (the limit must not be exceeded)
    assert leverage_headroom(D("0.03"), D(0), D("2.5")) == D("0.07")
    with pytest.raises(ValueError, match=r"^leverage "):
        leverage_headroom(D("1.00"), D(0), D(0))
    with pytest.raises(ValueError, match=r"^covered_outstanding "):
        leverage_headroom(D("1.00"), D("-1.00"), D(10))


def test_payout_must_not_take_the_pool_below_zero() -> None:
    check_payout(D("100.00"), D("100.00"))  # down to exactly zero is fine
    with pytest.raises(ValueError, match=r"^payout 100\.01 .*below zero \(short by 0\.01\)"):
        check_payout(D("100.00"), D("100.01"))
    with pytest.raises(ValueError, match=r"^payout must not be negative"):
        check_payout(D("100.00"), D("-1.00"))
    with pytest.raises(ValueError, match=r"^payout "):
        check_payout(D("-5.00"), D(0))  # already overdrawn


# --- subsidies ----------------------------------------------------------------------------------


def test_subsidy_rate_cap() -> None:
    rules = SubsidyRules(share=D("0.5"), rate_cap=D("0.03"))
    result = compute_subsidy(rules, D("40000.00"), None, D("0.04"))
    # 40,000.00 × min(1, 0.03 / 0.04) = 30,000.00 subsidisable; × 50 % = 15,000.00
    assert result.eligible
    assert result.subsidisable_interest == D("30000.00")
    assert result.amount == D("15000.00")
    assert result.binding_cap is SubsidyCap.RATE_CAP
    # At 2.8 %, below the cap: the whole interest, 40,000.00 × 0.5 = 20,000.00
    below = compute_subsidy(rules, D("40000.00"), None, D("0.028"))
    assert below.amount == D("20000.00") and below.binding_cap is None


def test_subsidy_principal_days_limit_the_capped_interest() -> None:
    rules = SubsidyRules(share=D("0.5"), rate_cap=D("0.03"))
    # 45,000.00 paid (5,000.00 of it penalty interest) at 4 %: 45,000 × 0.75 = 33,750.00,
    # but 1,000,000.00 outstanding for 360 days earns 360,000,000 × 0.03 / 360 = 30,000.00 at
    # the capped rate → 30,000.00 × 0.5 = 15,000.00
    result = compute_subsidy(rules, D("45000.00"), D("360000000"), D("0.04"))
    assert result.subsidisable_interest == D("30000.00")
    assert result.amount == D("15000.00")
    # without the balance: 33,750.00 × 0.5 = 16,875.00
    assert compute_subsidy(rules, D("45000.00"), None, D("0.04")).amount == D("16875.00")


def test_subsidy_rounds_half_up_twice() -> None:
    rules = SubsidyRules(share=D("0.5"), rate_cap=D("0.0345"))
    # 3 fen × 0.0345 / 0.0435 = 3 × 23/29 = 2.379 fen → 0.02; × 0.5 = 1 fen → 0.01
    result = compute_subsidy(rules, D("0.03"), None, D("0.0435"))
    assert result.subsidisable_interest == D("0.02")
    assert result.amount == D("0.01")


def test_subsidy_caps() -> None:
    rules = SubsidyRules(
        share=D("0.5"), cap_per_loan=D("10000.00"), cap_per_enterprise_year=D("50000.00")
    )
    # 50 % of 40,000.00 = 20,000.00, capped at 10,000.00 a loan
    per_loan = compute_subsidy(rules, D("40000.00"), None, D("0.04"))
    assert per_loan.amount == D("10000.00") and per_loan.binding_cap is SubsidyCap.CAP_PER_LOAN
    # 8,000.00 already paid on the loan: 2,000.00 left
    again = compute_subsidy(
        rules, D("40000.00"), None, D("0.04"), already_paid_for_loan=D("8000.00")
    )
    assert again.amount == D("2000.00")
    # 45,000.00 already paid to the enterprise this year: 5,000.00 left of 50,000.00
    year = compute_subsidy(
        rules,
        D("40000.00"),
        None,
        D("0.04"),
        already_paid_to_enterprise_this_year=D("45000.00"),
    )
    assert year.amount == D("5000.00")
    assert year.binding_cap is SubsidyCap.CAP_PER_ENTERPRISE_YEAR


def test_subsidy_eligibility_by_product_tag() -> None:
    rules = SubsidyRules(share=D("0.5"), eligible_product_tags=frozenset({"tech_loan"}))
    out = compute_subsidy(rules, D("1000.00"), None, D("0.04"), product_tags={"consumer"})
    assert not out.eligible and out.reasons == (SubsidyReason.PRODUCT_NOT_ELIGIBLE,)
    assert out.amount == D("0.00")
    ok = compute_subsidy(rules, D("1000.00"), None, D("0.04"), product_tags=["tech_loan"])
    assert ok.eligible and ok.amount == D("500.00")


def test_subsidy_refuses_bad_input() -> None:
    rules = SubsidyRules(share=D("0.5"))
    with pytest.raises(ValueError, match=r"^loan_rate "):
        compute_subsidy(rules, D("1.00"), None, D(0))
    with pytest.raises(ValueError, match=r"^interest_paid "):
        compute_subsidy(rules, D("-1.00"), None, D("0.04"))
    with pytest.raises(ValidationError, match="share must be in"):
        SubsidyRules(share=D(0))
    with pytest.raises(ValidationError, match="rate_cap must be in"):
        SubsidyRules(share=D("0.5"), rate_cap=D("1.5"))


# --- rule validation ----------------------------------------------------------------------------


def _rules(**fields: object) -> PoolRules:
    base: dict[str, object] = {
        "contributors": {"province": "0.7", "county": "0.3"},
        "base_coverage": "0.30",
        "max_coverage": "0.80",
    }
    return PoolRules.model_validate({**base, **fields})


def test_shares_must_sum_to_one() -> None:
    message = r"contributors: shares must sum to exactly 1, got 0\.9"
    with pytest.raises(ValidationError, match=message):
        _rules(contributors={"province": "0.6", "county": "0.3"})
    with pytest.raises(ValidationError, match="contributors: the share of county"):
        _rules(contributors={"province": "1", "county": "0"})  # sums to 1, but a zero share
    with pytest.raises(ValidationError, match="contributors: the share of province"):
        _rules(contributors={"province": "1.1", "county": "-0.1"})
    with pytest.raises(ValidationError, match="contributors must name at least one"):
        _rules(contributors={})


def test_coverages_must_be_in_the_unit_interval() -> None:
    with pytest.raises(ValidationError, match=r"base_coverage must be between 0 and 1, got 1\.5"):
        _rules(base_coverage="1.5")
    with pytest.raises(ValidationError, match="guaranteed_coverage must be between 0 and 1"):
        _rules(guaranteed_coverage="-0.1")
    with pytest.raises(ValidationError, match="bonus: the bonus for first_loan"):
        _rules(bonus={"first_loan": "2"})
    with pytest.raises(ValidationError, match="max_coverage must be in"):
        _rules(base_coverage="0", max_coverage="0")


def test_max_coverage_must_not_be_below_base() -> None:
    with pytest.raises(ValidationError, match=r"max_coverage .* below base_coverage"):
        _rules(base_coverage="0.50", max_coverage="0.40")
    with pytest.raises(ValidationError, match=r"max_coverage .* below guaranteed_coverage"):
        _rules(guaranteed_coverage="0.90")


def test_bank_min_share_must_fit_with_max_coverage() -> None:
    with pytest.raises(ValidationError, match="bank_min_share"):
        _rules(bank_min_share="0.30")  # 0.80 + 0.30 > 1
    assert _rules(bank_min_share="0.20").min_bank_share == D("0.20")
    assert _rules().min_bank_share == D("0.20")  # 1 − 0.80


def test_floats_extra_fields_and_bad_caps_are_refused() -> None:
    with pytest.raises(ValidationError, match="not as float"):
        _rules(base_coverage=0.3)
    with pytest.raises(ValidationError, match="extra"):
        _rules(max_coverge="0.80")
    with pytest.raises(ValidationError, match="cap_per_loan must be positive"):
        _rules(cap_per_loan="0")
    with pytest.raises(ValidationError, match="leverage must be positive"):
        _rules(leverage="-1")
    with pytest.raises(ValidationError, match="extra"):
        zone_pool_rules(cap_per_year="1000000")  # a misspelt override
    rules = _rules()
    with pytest.raises(ValidationError, match="frozen"):
        rules.base_coverage = D("0.5")


def test_rules_round_trip_through_json_and_load_from_yaml() -> None:
    for rules in (
        early_province_county_rules(D("0.50")),
        zone_pool_rules(cap_per_institution_year=D("5000000.00")),
        province_direct_guaranteed_bonus_rules(eligible_product_tags={"b", "a"}),
    ):
        text = rules.model_dump_json()
        assert PoolRules.model_validate_json(text) == rules
        assert '"0.30"' in text or '"0.5' in text  # rates travel as strings
    dumped = json.loads(
        province_direct_guaranteed_bonus_rules(eligible_product_tags={"b", "a"}).model_dump_json()
    )
    assert dumped["eligible_product_tags"] == ["a", "b"]  # sorted: stable stored JSON
    document = """
contributors: {province: "0.7", county: "0.3"}
base_coverage: "0.30"
guaranteed_coverage: "0.20"
bonus: {first_loan: "0.05", pure_credit: "0.05", ip_pledge: "0.05"}
max_coverage: "0.80"
cap_per_institution_year: "5000000.00"
require_candidate_pool: true
"""
    rules = PoolRules.model_validate(yaml.safe_load(document))
    assert rules.cap_per_institution_year == D("5000000.00")
    assert assess_claim(rules, claim(tags={FIRST_LOAN})).contributions == {
        "province": D("245000.00"),  # 350,000.00 × 0.7
        "county": D("105000.00"),  # 350,000.00 × 0.3
    }


# --- properties ---------------------------------------------------------------------------------

names = st.text(alphabet="abcxyz", min_size=1, max_size=3)
weights = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from([D(1) / 3, D(2) / 3, D(1) / 7]),
)
amounts = st.integers(0, 10**14).map(lambda fen: D(fen).scaleb(-2))


@settings(max_examples=300, deadline=None)
@given(amounts, st.dictionaries(names, weights, min_size=1, max_size=6))
def test_split_is_exact_and_close(amount: Decimal, parts: dict[str, Decimal]) -> None:
    total_weight = sum((Fraction(w) for w in parts.values()), Fraction(0))
    if total_weight == 0:
        parts = {**parts, "zzz": D(1)}
        total_weight += 1
    result = split_pro_rata(amount, parts)
    assert list(result) == list(parts)
    assert sum(result.values(), D(0)) == amount
    for name, value in result.items():
        assert value >= 0 and value == value.quantize(D("0.01"))
        exact = Fraction(amount) * Fraction(parts[name]) / total_weight
        assert abs(Fraction(value) - exact) < Fraction(1, 100)
    # the same split whatever the order of the mapping
    assert split_pro_rata(amount, dict(reversed(parts.items()))) == result


@st.composite
def pool_rules(draw: st.DrawFn) -> PoolRules:
    k = draw(st.integers(1, 4))
    cuts = sorted(draw(st.sets(st.integers(1, 9999), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, 10000]
    contributors = {
        f"c{i}": D(hi - lo).scaleb(-4) for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
    }
    pct = st.integers(0, 100).map(lambda n: D(n).scaleb(-2))
    base = draw(pct)
    guaranteed = draw(st.none() | pct)
    floor = max(base, guaranteed or D(0), D("0.01"))
    max_coverage = D(draw(st.integers(int(floor * 100), 100))).scaleb(-2)
    bonus = draw(st.dictionaries(st.sampled_from([FIRST_LOAN, PURE_CREDIT, IP_PLEDGE]), pct))
    cap = st.none() | st.integers(1, 10**10).map(lambda fen: D(fen).scaleb(-2))
    return PoolRules(
        contributors=contributors,
        base_coverage=base,
        guaranteed_coverage=guaranteed,
        bonus=bonus,
        max_coverage=max_coverage,
        cap_per_loan=draw(cap),
        cap_per_institution_year=draw(cap),
        require_candidate_pool=draw(st.booleans()),
    )


claims = st.builds(
    ClaimInput,
    principal_loss=st.integers(0, 10**12).map(lambda fen: D(fen).scaleb(-2)),
    tags=st.frozensets(st.sampled_from([FIRST_LOAN, PURE_CREDIT, IP_PLEDGE, "other"])),
    guaranteed=st.booleans(),
    in_candidate_pool=st.booleans(),
    already_claimed_this_year_by_institution=st.integers(0, 10**10).map(
        lambda fen: D(fen).scaleb(-2)
    ),
)


@settings(max_examples=300, deadline=None)
@given(pool_rules(), claims)
def test_claim_invariants(rules: PoolRules, facts: ClaimInput) -> None:
    result = assess_claim(rules, facts)
    loss = facts.principal_loss
    assert result.covered + result.retained == loss
    assert result.covered >= 0 and result.retained >= 0
    assert Fraction(result.covered) <= Fraction(loss) * Fraction(rules.max_coverage)
    assert Fraction(result.retained) >= Fraction(loss) * Fraction(rules.min_bank_share)
    assert sum(result.contributions.values(), D(0)) == result.covered
    assert set(result.contributions) == set(rules.contributors)
    assert result.coverage_rate <= rules.max_coverage
    if rules.cap_per_loan is not None:
        assert result.covered <= rules.cap_per_loan
    if rules.cap_per_institution_year is not None:
        left = rules.cap_per_institution_year - facts.already_claimed_this_year_by_institution
        assert result.covered <= max(D(0), left)
    if not result.eligible:
        assert result.covered == 0 and result.reasons


@settings(max_examples=300, deadline=None)
@given(pool_rules(), claims, st.data())
def test_recovery_splits_back_exactly(
    rules: PoolRules, facts: ClaimInput, data: st.DataObject
) -> None:
    paid = assess_claim(rules, facts).contributions
    covered_fen = int(sum(paid.values(), D(0)) * 100)
    recovery = D(data.draw(st.integers(0, covered_fen))).scaleb(-2)
    back = split_recovery(recovery, paid)
    assert sum(back.values(), D(0)) == recovery
    for name, value in back.items():
        assert D(0) <= value <= paid[name]
