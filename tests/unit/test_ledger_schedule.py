"""Loan schedule engine: hand-computed schedules, day counts, days past due, the five categories.

Every expected amount is worked out in the comments with plain arithmetic (and rounded half-up to
the fen by hand), not with the engine's helpers, so a wrong formula cannot make its own test pass.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.kernel.errors import InvalidInput
from innofin.ledger.loans.engine import (
    CATEGORIES,
    NON_PERFORMING,
    ClassificationRules,
    DayCount,
    Instalment,
    RepaymentMethod,
    ScheduleInputError,
    accrue,
    build_schedule,
    classify,
    days_past_due,
    year_fraction,
)

D = Decimal
METHODS: tuple[RepaymentMethod, ...] = (
    "equal_instalment",
    "equal_principal",
    "interest_bullet",
    "revolving",
)
BASES: tuple[DayCount, ...] = ("ACT/360", "ACT/365", "30/360")


def _total(rows: tuple[Instalment, ...], attr: str) -> Decimal:
    return sum((getattr(r, attr) for r in rows), D("0"))


# --- equal principal (等额本金) -------------------------------------------------------------------


def test_equal_principal_hand_computed() -> None:
    # 120,000.00 at 3.65% over 12 months from 2024-01-15, ACT/360.
    # Principal per instalment: 120000 / 12 = 10,000.00. Interest = balance × 0.0365 × days / 360;
    # balance × 0.0365 = 4,380 for 120,000, 4,015 for 110,000, 3,650 for 100,000, ...
    rows = build_schedule(D("120000.00"), D("0.0365"), date(2024, 1, 15), 12, "equal_principal")
    assert len(rows) == 12
    assert [r.seq for r in rows] == list(range(1, 13))
    assert all(r.principal == D("10000.00") for r in rows)
    # Period 1, 2024-01-15 → 02-15 = 31 days: 4380 × 31 / 360 = 135780 / 360 = 377.1666… → 377.17
    assert rows[0].due == date(2024, 2, 15)
    assert rows[0].interest == D("377.17")
    assert rows[0].total == D("10377.17")
    assert rows[0].remaining == D("110000.00")
    # Period 2, 02-15 → 03-15 = 29 days (Feb 2024 has 29): 4015 × 29 / 360 = 116435 / 360
    # = 323.4305… → 323.43
    assert rows[1].due == date(2024, 3, 15)
    assert rows[1].interest == D("323.43")
    assert rows[1].remaining == D("100000.00")
    # Period 3, 03-15 → 04-15 = 31 days: 3650 × 31 / 360 = 113150 / 360 = 314.3055… → 314.31
    assert rows[2].interest == D("314.31")
    # Period 4, 04-15 → 05-15 = 30 days: 90000 × 0.0365 = 3285; 3285 × 30 / 360 = 273.75 exactly
    assert rows[3].interest == D("273.75")
    # Period 12, 2024-12-15 → 2025-01-15 = 31 days on 10,000: 365 × 31 / 360 = 11315 / 360
    # = 31.4305… → 31.43
    assert rows[11].due == date(2025, 1, 15)
    assert rows[11].interest == D("31.43")
    assert rows[11].total == D("10031.43")
    assert rows[11].remaining == D("0.00")
    # All twelve interests (balance/10,000 × 365 × days / 360):
    # 377.17 + 323.43 + 314.31 + 273.75 + 251.44 (8×365×31=90520/360=251.444)
    # + 212.92 (7×365×30=76650/360=212.916) + 188.58 (6×365×31=67890/360=188.583)
    # + 157.15 (5×365×31=56575/360=157.152) + 121.67 (4×365×30=43800/360=121.666)
    # + 94.29 (3×365×31=33945/360=94.291) + 60.83 (2×365×30=21900/360=60.833) + 31.43
    # = 2,406.97
    assert _total(rows, "interest") == D("2406.97")
    assert _total(rows, "principal") == D("120000.00")
    assert _total(rows, "total") == D("122406.97")


def test_equal_principal_last_instalment_takes_the_remainder() -> None:
    # 100,000.00 over 12 months: 100000 / 12 = 8,333.333… → 8,333.33; eleven of them repay
    # 91,666.63, so the last repays 100,000.00 − 91,666.63 = 8,333.37.
    rows = build_schedule(D("100000.00"), D("0"), date(2024, 1, 15), 12, "equal_principal")
    assert [r.principal for r in rows[:11]] == [D("8333.33")] * 11
    assert rows[11].principal == D("8333.37")
    assert all(r.interest == D("0.00") for r in rows)  # rate 0


def test_equal_principal_rounding_up_never_overpays() -> None:
    # 0.11 over 20 months: 0.11 / 20 = 0.0055 → 0.01 (half-up); 20 × 0.01 would be 0.20 > 0.11,
    # so the first eleven instalments repay 0.01 each and the rest nothing.
    rows = build_schedule(D("0.11"), D("0.05"), date(2024, 1, 15), 20, "equal_principal")
    assert [r.principal for r in rows] == [D("0.01")] * 11 + [D("0.00")] * 9
    assert rows[-1].remaining == D("0.00")


# --- interest only, principal at maturity (按月付息到期还本) --------------------------------------


def test_interest_bullet_act_365() -> None:
    # 1,000,000.00 at 4.2% over 3 months from 2024-03-10: a year's interest is 42,000.
    # 03-10 → 04-10 = 31 days: 42000 × 31 / 365 = 1302000 / 365 = 3567.1232… → 3567.12
    # 04-10 → 05-10 = 30 days: 42000 × 30 / 365 = 1260000 / 365 = 3452.0547… → 3452.05
    # 05-10 → 06-10 = 31 days: 3567.12 again
    rows = build_schedule(
        D("1000000.00"), D("0.042"), date(2024, 3, 10), 3, "interest_bullet", "ACT/365"
    )
    assert [r.due for r in rows] == [date(2024, 4, 10), date(2024, 5, 10), date(2024, 6, 10)]
    assert [r.interest for r in rows] == [D("3567.12"), D("3452.05"), D("3567.12")]
    assert [r.principal for r in rows] == [D("0.00"), D("0.00"), D("1000000.00")]
    assert [r.remaining for r in rows] == [D("1000000.00"), D("1000000.00"), D("0.00")]
    assert rows[2].total == D("1003567.12")
    assert _total(rows, "interest") == D("10586.29")  # 3567.12 + 3452.05 + 3567.12


def test_interest_bullet_act_360() -> None:
    # Same loan, ACT/360: 42000 × 31 / 360 = 1302000 / 360 = 3616.6666… → 3616.67;
    # 42000 × 30 / 360 = 3500.00 exactly.
    rows = build_schedule(D("1000000.00"), D("0.042"), date(2024, 3, 10), 3, "interest_bullet")
    assert [r.interest for r in rows] == [D("3616.67"), D("3500.00"), D("3616.67")]
    assert [r.principal for r in rows] == [D("0.00"), D("0.00"), D("1000000.00")]
    assert [r.total for r in rows] == [D("3616.67"), D("3500.00"), D("1003616.67")]
    assert _total(rows, "interest") == D("10733.34")


# --- equal instalments (等额本息) -----------------------------------------------------------------


def test_equal_instalment_level_payment_30_360() -> None:
    # 100,000.00 at 6% over 12 months: r = 0.06 / 12 = 0.005.
    # (1.005)^2 = 1.010025, ^4 = 1.020150500625, ^8 = 1.040707044…, ^12 = 1.0616778118645
    # A = 100000 × 0.005 × 1.0616778118645 / 0.0616778118645 = 530.83890593 / 0.0616778118645
    #   = 8606.6430… → 8,606.64
    rows = build_schedule(
        D("100000.00"), D("0.06"), date(2024, 1, 15), 12, "equal_instalment", "30/360"
    )
    # Under 30/360 (day 15, no 31st) every period is 30 days = 1/12 year, so interest = balance
    # × 0.005. Row 1: 100000 × 0.005 = 500.00; principal 8606.64 − 500.00 = 8106.64;
    # remaining 91,893.36.
    assert rows[0].interest == D("500.00")
    assert rows[0].principal == D("8106.64")
    assert rows[0].total == D("8606.64")
    assert rows[0].remaining == D("91893.36")
    # Row 2: 91893.36 × 0.005 = 459.4668 → 459.47; principal 8606.64 − 459.47 = 8147.17;
    # remaining 91893.36 − 8147.17 = 83,746.19.
    assert rows[1].interest == D("459.47")
    assert rows[1].principal == D("8147.17")
    assert rows[1].remaining == D("83746.19")
    assert all(r.total == D("8606.64") for r in rows[:11])
    # The last clears what remains; the fen rounding of eleven rows moves its total a few fen.
    assert rows[11].remaining == D("0.00")
    assert abs(rows[11].total - D("8606.64")) <= D("0.10")
    assert _total(rows, "principal") == D("100000.00")


def test_equal_instalment_act_360_first_row() -> None:
    # Same A = 8,606.64; ACT/360 from 2024-01-15, first period 31 days:
    # 100000 × 0.06 × 31 / 360 = 6000 × 31 / 360 = 186000 / 360 = 516.6666… → 516.67;
    # principal 8606.64 − 516.67 = 8089.97; remaining 91,910.03.
    rows = build_schedule(D("100000.00"), D("0.06"), date(2024, 1, 15), 12, "equal_instalment")
    assert rows[0].interest == D("516.67")
    assert rows[0].principal == D("8089.97")
    assert rows[0].remaining == D("91910.03")
    # Row 2, 29 days: 91910.03 × 0.06 × 29 / 360 = 5514.6018 × 29 / 360 = 159923.4522 / 360
    # = 444.2318… → 444.23; principal 8606.64 − 444.23 = 8162.41.
    assert rows[1].interest == D("444.23")
    assert rows[1].principal == D("8162.41")
    assert all(r.total == D("8606.64") for r in rows[:11])
    assert _total(rows, "principal") == D("100000.00")
    assert rows[-1].remaining == D("0.00")
    assert rows[-1].principal == rows[-2].remaining


def test_equal_instalment_rate_zero() -> None:
    # A = P / n = 100000 / 12 = 8,333.33; eleven rows repay 91,666.63, the last 8,333.37.
    rows = build_schedule(D("100000.00"), D("0"), date(2024, 1, 15), 12, "equal_instalment")
    assert [r.total for r in rows[:11]] == [D("8333.33")] * 11
    assert rows[11].principal == D("8333.37")
    assert all(r.interest == D("0.00") for r in rows)
    assert _total(rows, "principal") == D("100000.00")
    assert rows[11].remaining == D("0.00")


def test_equal_instalment_never_amortises_negatively() -> None:
    # 1,000,000 at 24% over 360 months, ACT/360: r = 0.02, (1.02)^360 ≈ 1247.56, so
    # A ≈ 1000000 × 0.02 × 1.0008 ≈ 20,016. The first period (31 days) costs
    # 1000000 × 0.24 × 31 / 360 = 20,666.67 > A, so that row is interest only.
    rows = build_schedule(D("1000000.00"), D("0.24"), date(2024, 1, 15), 360, "equal_instalment")
    assert rows[0].interest == D("20666.67")
    assert rows[0].principal == D("0.00")
    assert rows[0].remaining == D("1000000.00")
    assert _total(rows, "principal") == D("1000000.00")


# --- revolving (随借随还) -------------------------------------------------------------------------


def test_revolving_single_row() -> None:
    # 500,000.00 at 3.45% for 6 months from 2024-01-15, ACT/360. Maturity 2024-07-15;
    # days: 16 (rest of Jan) + 29 + 31 + 30 + 31 + 30 + 15 = 182.
    # 500000 × 0.0345 = 17,250 a year; 17250 × 182 / 360 = 3139500 / 360 = 8720.8333… → 8720.83
    rows = build_schedule(D("500000.00"), D("0.0345"), date(2024, 1, 15), 6, "revolving")
    assert rows == (
        Instalment(
            seq=1,
            due=date(2024, 7, 15),
            principal=D("500000.00"),
            interest=D("8720.83"),
            total=D("508720.83"),
            remaining=D("0.00"),
        ),
    )
    # The same as accruing the whole term on the full balance.
    assert accrue(D("500000.00"), D("0.0345"), date(2024, 1, 15), date(2024, 7, 15)) == D("8720.83")


# --- due dates ----------------------------------------------------------------------------------


def test_month_end_clamping_counts_from_the_start() -> None:
    rows = build_schedule(D("1200.00"), D("0.05"), date(2024, 1, 31), 5, "equal_principal")
    # Clamped to each month's last day, and back to the 31st in March (not chained from Feb 29).
    assert [r.due for r in rows] == [
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
    ]
    # A non-leap year clamps to the 28th.
    rows = build_schedule(D("1200.00"), D("0.05"), date(2023, 1, 31), 2, "equal_principal")
    assert [r.due for r in rows] == [date(2023, 2, 28), date(2023, 3, 31)]
    # The day of month is the start's: a loan drawn on Feb 29 falls due on the 29th.
    rows = build_schedule(D("1200.00"), D("0.05"), date(2024, 2, 29), 2, "equal_principal")
    assert [r.due for r in rows] == [date(2024, 3, 29), date(2024, 4, 29)]
    # Across a year end: Nov 30 → Dec 30 → Jan 30.
    rows = build_schedule(D("1200.00"), D("0.05"), date(2024, 11, 30), 2, "interest_bullet")
    assert [r.due for r in rows] == [date(2024, 12, 30), date(2025, 1, 30)]


# --- day counts ---------------------------------------------------------------------------------


def test_year_fraction_30_360() -> None:
    # 2024-01-15 → 2024-07-15: 6 × 30 = 180 days → 180/360 = 0.5
    assert year_fraction(date(2024, 1, 15), date(2024, 7, 15), "30/360") == D("0.5")
    # 2024-01-31 → 2024-02-29: d1 31 → 30; 30 × 1 + (29 − 30) = 29 days → 29/360 = 0.080555…
    yf = year_fraction(date(2024, 1, 31), date(2024, 2, 29), "30/360")
    assert yf.quantize(D("1e-12")) == D("0.080555555556")
    # 2024-03-31 → 2024-04-30: d1 31 → 30; 30 + (30 − 30) = 30 days → 1/12 = 0.083333…
    yf = year_fraction(date(2024, 3, 31), date(2024, 4, 30), "30/360")
    assert yf.quantize(D("1e-12")) == D("0.083333333333")
    # 2024-01-15 → 2024-03-31: d2 31 → 30 whatever d1 is; 2 × 30 + (30 − 15) = 75 days
    # → 75/360 = 0.208333…
    yf = year_fraction(date(2024, 1, 15), date(2024, 3, 31), "30/360")
    assert yf.quantize(D("1e-12")) == D("0.208333333333")
    # A whole year is 1: 2023-02-28 → 2024-02-28 = 360 days.
    assert year_fraction(date(2023, 2, 28), date(2024, 2, 28), "30/360") == 1


def test_year_fraction_act_365_and_act_360() -> None:
    # 2023-01-01 → 2024-01-01 = 365 actual days → 365/365 = 1
    assert year_fraction(date(2023, 1, 1), date(2024, 1, 1), "ACT/365") == 1
    # 2024 is a leap year: 366 days → 366/365 = 1.0027397260273…
    yf = year_fraction(date(2024, 1, 1), date(2025, 1, 1), "ACT/365")
    assert yf.quantize(D("1e-12")) == D("1.002739726027")
    # 2024-01-15 → 2024-07-15 = 182 days; ACT/365 182/365 = 0.4986301369863…,
    # ACT/360 182/360 = 0.5055…
    yf = year_fraction(date(2024, 1, 15), date(2024, 7, 15), "ACT/365")
    assert yf.quantize(D("1e-12")) == D("0.498630136986")
    yf = year_fraction(date(2024, 1, 15), date(2024, 7, 15), "ACT/360")
    assert yf.quantize(D("1e-12")) == D("0.505555555556")
    # An empty period is 0.
    assert year_fraction(date(2024, 5, 1), date(2024, 5, 1), "ACT/360") == 0


def test_accrue_rounds_half_up_to_the_fen() -> None:
    # 10,000 × 0.0365 × 1 / 365 = 1.00 exactly (ACT/365)
    assert accrue(D("10000"), D("0.0365"), date(2024, 1, 1), date(2024, 1, 2), "ACT/365") == D(
        "1.00"
    )
    # 1,000 × 0.036 × 5 / 360 = 0.50; 1,000 × 0.0369 × 5 / 360 = 184.5 / 360 = 0.5125 → 0.51
    assert accrue(D("1000"), D("0.036"), date(2024, 1, 1), date(2024, 1, 6)) == D("0.50")
    assert accrue(D("1000"), D("0.0369"), date(2024, 1, 1), date(2024, 1, 6)) == D("0.51")
    # A half fen rounds up: 90 × 0.02 × 1 / 360 = 1.8 / 360 = 0.005 → 0.01
    assert accrue(D("90"), D("0.02"), date(2024, 1, 1), date(2024, 1, 2)) == D("0.01")
    # 30/360 over 2024-01-31 → 2024-02-29 (29 days): 360000 × 0.05 × 29 / 360 = 1450.00
    got = accrue(D("360000"), D("0.05"), date(2024, 1, 31), date(2024, 2, 29), "30/360")
    assert got == D("1450.00")
    assert str(got) == "1450.00"


# --- refused input ------------------------------------------------------------------------------

GOOD: dict[str, object] = {
    "principal": D("1000.00"),
    "annual_rate": D("0.05"),
    "start": date(2024, 1, 15),
    "months": 12,
    "method": "equal_principal",
    "basis": "ACT/360",
}


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("principal", D("0")),
        ("principal", D("-100.00")),
        ("principal", 1000),
        ("principal", 1000.0),
        ("principal", "1000.00"),
        ("principal", D("NaN")),
        ("principal", D("100.005")),
        ("principal", D("1e30")),
        ("annual_rate", D("-0.0001")),
        ("annual_rate", 0.05),
        ("annual_rate", D("Infinity")),
        ("start", "2024-01-15"),
        ("months", 0),
        ("months", -3),
        ("months", True),
        ("months", 12.0),
        ("months", 10**6),
        ("method", "balloon"),
        ("basis", "ACT/ACT"),
    ],
)
def test_build_schedule_refuses_bad_input_naming_the_parameter(field: str, bad: object) -> None:
    kwargs = {**GOOD, field: bad}
    with pytest.raises(ValueError, match=rf"^{field}\b") as info:
        build_schedule(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ScheduleInputError)
    assert isinstance(info.value, InvalidInput)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("balance", lambda: accrue(D("-1"), D("0.05"), date(2024, 1, 1), date(2024, 2, 1))),
        ("balance", lambda: accrue(100, D("0.05"), date(2024, 1, 1), date(2024, 2, 1))),
        ("rate", lambda: accrue(D("100"), D("-0.05"), date(2024, 1, 1), date(2024, 2, 1))),
        ("rate", lambda: accrue(D("100"), 0.05, date(2024, 1, 1), date(2024, 2, 1))),
        ("end", lambda: accrue(D("100"), D("0.05"), date(2024, 2, 1), date(2024, 1, 1))),
        ("start", lambda: accrue(D("100"), D("0.05"), "2024-01-01", date(2024, 1, 1))),
        ("basis", lambda: accrue(D("100"), D("0.05"), date(2024, 1, 1), date(2024, 2, 1), "x")),
        ("basis", lambda: year_fraction(date(2024, 1, 1), date(2024, 2, 1), "ACT/ACT")),
        ("end", lambda: year_fraction(date(2024, 2, 1), date(2024, 1, 1), "ACT/360")),
        ("days_past_due", lambda: classify(-1)),
        ("days_past_due", lambda: classify(True)),
        ("floor", lambda: classify(0, floor="excellent")),
        ("rules", lambda: classify(0, rules={"loss_after": 400})),
        ("as_of", lambda: days_past_due((), (), "2024-01-01")),
        ("schedule", lambda: days_past_due(["row"], (), date(2024, 1, 1))),
        (
            "paid_principal_and_interest_by_date",
            lambda: days_past_due((), [(date(2024, 1, 1), D("-5"))], date(2024, 2, 1)),
        ),
        (
            "paid_principal_and_interest_by_date",
            lambda: days_past_due((), [(date(2024, 1, 1), 5.0)], date(2024, 2, 1)),
        ),
        (
            "paid_principal_and_interest_by_date",
            lambda: days_past_due((), [date(2024, 1, 1)], date(2024, 2, 1)),
        ),
    ],
)
def test_other_functions_refuse_bad_input_naming_the_parameter(field: str, call: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field}\b") as info:
        call()  # type: ignore[operator]
    assert isinstance(info.value, ScheduleInputError)
    assert info.value.field == field


# --- five-category classification (五级分类) ----------------------------------------------------


@pytest.mark.parametrize(
    ("dpd", "expected"),
    [
        (0, "pass"),
        (1, "special_mention"),
        (90, "special_mention"),
        (91, "substandard"),
        (270, "substandard"),
        (271, "doubtful"),
        (360, "doubtful"),
        (361, "loss"),
        (5000, "loss"),
    ],
)
def test_default_transitions(dpd: int, expected: str) -> None:
    assert classify(dpd) == expected


def test_non_performing_is_the_last_three() -> None:
    assert CATEGORIES == ("pass", "special_mention", "substandard", "doubtful", "loss")
    assert frozenset(CATEGORIES[2:]) == NON_PERFORMING
    assert classify(91) in NON_PERFORMING
    assert classify(90) not in NON_PERFORMING


def test_floor_downgrades_but_never_upgrades() -> None:
    assert classify(0, floor="substandard") == "substandard"  # worse than the rule: kept
    assert classify(100, floor="special_mention") == "substandard"  # better: ignored
    assert classify(400, floor="pass") == "loss"
    assert classify(300, floor="doubtful") == "doubtful"
    assert classify(5, floor=None) == "special_mention"


def test_custom_thresholds() -> None:
    rules = ClassificationRules.from_mapping({"substandard_after": 60, "doubtful_after": 180})
    assert rules == ClassificationRules(0, 60, 180, 360)
    assert classify(60, rules) == "special_mention"
    assert classify(61, rules) == "substandard"
    assert classify(181, rules) == "doubtful"
    assert classify(361, rules) == "loss"
    # A grace period: up to 7 days overdue is still pass.
    grace = ClassificationRules.from_mapping({"special_mention_after": 7})
    assert classify(7, grace) == "pass"
    assert classify(8, grace) == "special_mention"
    assert ClassificationRules.from_mapping({}) == ClassificationRules()


@pytest.mark.parametrize(
    ("mapping", "key"),
    [
        ({"doubtful_after": 80}, "doubtful_after"),  # not above substandard_after (90)
        ({"substandard_after": 300}, "substandard_after"),  # not below doubtful_after (270)
        ({"loss_after": 270}, "loss_after"),  # equal to doubtful_after
        ({"special_mention_after": -1}, "special_mention_after"),
        ({"substandard_after": "90"}, "substandard_after"),
        ({"substandard_after": 90.0}, "substandard_after"),
        ({"loss_after": True}, "loss_after"),
        ({"lost_after": 400}, "lost_after"),  # unknown key
    ],
)
def test_invalid_thresholds_are_refused(mapping: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=rf"^{key}\b") as info:
        ClassificationRules.from_mapping(mapping)
    assert isinstance(info.value, ScheduleInputError)
    assert info.value.field == key


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match=r"^doubtful_after") as info:
        ClassificationRules(0, 90, 90, 360)
    assert info.value.field == "doubtful_after"  # type: ignore[attr-defined]


# --- days past due ------------------------------------------------------------------------------

# 120,000.00 at 3.65% from 2024-01-15, equal principal: totals 10,377.17 due 2024-02-15,
# 10,323.43 due 2024-03-15, 10,314.31 due 2024-04-15 (see test_equal_principal_hand_computed).
LOAN = build_schedule(D("120000.00"), D("0.0365"), date(2024, 1, 15), 12, "equal_principal")


def test_no_payment_counts_from_the_first_due_date() -> None:
    assert LOAN[0].total == D("10377.17")
    # 2024-02-15 → 2024-03-01: 14 days to Feb 29 + 1 = 15
    assert days_past_due(LOAN, [], date(2024, 3, 1)) == 15
    # 2024-02-15 → 2024-04-01: 29 (to Mar 15) + 17 = 46
    assert days_past_due(LOAN, [], date(2024, 4, 1)) == 46
    # Not overdue before or on the due date itself.
    assert days_past_due(LOAN, [], date(2024, 2, 1)) == 0
    assert days_past_due(LOAN, [], date(2024, 2, 15)) == 0
    assert days_past_due(LOAN, [], date(2024, 2, 16)) == 1


def test_partial_payment_is_still_overdue_from_its_due_date() -> None:
    paid = [(date(2024, 2, 15), D("5000.00")), (date(2024, 2, 20), D("5377.16"))]  # 1 fen short
    assert days_past_due(LOAN, paid, date(2024, 3, 1)) == 15
    # The missing fen keeps the first instalment overdue even after the second falls due:
    # 2024-02-15 → 2024-03-20 = 14 + 20 = 34.
    assert days_past_due(LOAN, paid, date(2024, 3, 20)) == 34


def test_paying_the_first_in_full_moves_to_the_second() -> None:
    paid = [(date(2024, 2, 15), D("5000.00")), (date(2024, 2, 20), D("5377.17"))]
    assert days_past_due(LOAN, paid, date(2024, 3, 1)) == 0  # second not due until 03-15
    assert days_past_due(LOAN, paid, date(2024, 3, 20)) == 5  # 2024-03-15 → 03-20
    # An overpayment of the first goes to the second: 10,377.17 + 10,323.43 = 20,700.60 clears
    # both, so on 2024-04-20 only the third (due 04-15) is overdue: 5 days.
    paid_two = [(date(2024, 2, 10), D("20700.60"))]
    assert days_past_due(LOAN, paid_two, date(2024, 4, 20)) == 5
    assert days_past_due(LOAN, [(date(2024, 2, 10), D("20700.59"))], date(2024, 4, 20)) == 36


def test_prepayment_before_due_is_not_overdue() -> None:
    paid = [(date(2024, 2, 10), D("10377.17"))]
    assert days_past_due(LOAN, paid, date(2024, 2, 12)) == 0
    assert days_past_due(LOAN, paid, date(2024, 2, 16)) == 0
    # Paying everything up front leaves nothing overdue ever.
    everything = [(date(2024, 1, 20), _total(LOAN, "total"))]
    assert days_past_due(LOAN, everything, date(2026, 1, 1)) == 0


def test_payments_after_as_of_do_not_count() -> None:
    paid = [(date(2024, 3, 5), D("10377.17"))]
    assert days_past_due(LOAN, paid, date(2024, 3, 1)) == 15
    assert days_past_due(LOAN, paid, date(2024, 3, 5)) == 0


# --- properties ---------------------------------------------------------------------------------

principals = st.integers(min_value=1, max_value=10**11).map(lambda fen: D(fen).scaleb(-2))
rates = st.integers(min_value=0, max_value=2400).map(lambda bp: D(bp).scaleb(-4))
starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


def _places(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


@settings(max_examples=300, deadline=None)
@given(
    principal=principals,
    rate=rates,
    start=starts,
    months=st.integers(min_value=1, max_value=360),
    method=st.sampled_from(METHODS),
    basis=st.sampled_from(BASES),
)
def test_schedule_invariants(
    principal: Decimal,
    rate: Decimal,
    start: date,
    months: int,
    method: RepaymentMethod,
    basis: DayCount,
) -> None:
    rows = build_schedule(principal, rate, start, months, method, basis)
    assert len(rows) == (1 if method == "revolving" else months)
    assert _total(rows, "principal") == principal
    previous = principal
    previous_due = start
    for seq, row in enumerate(rows, start=1):
        assert row.seq == seq
        assert row.due > previous_due
        for amount in (row.principal, row.interest, row.total, row.remaining):
            assert _places(amount) <= 2
        assert row.interest >= 0
        assert row.principal >= 0
        assert row.total == row.principal + row.interest
        assert 0 <= row.remaining <= previous
        assert row.remaining == previous - row.principal
        previous = row.remaining
        previous_due = row.due
    assert rows[-1].remaining == 0
    assert rows[-1].due == build_schedule(principal, rate, start, months, "revolving")[0].due


@settings(max_examples=300, deadline=None)
@given(
    dpd=st.integers(min_value=0, max_value=2000),
    extra=st.integers(min_value=0, max_value=2000),
    gaps=st.lists(st.integers(min_value=1, max_value=400), min_size=3, max_size=3),
    first=st.integers(min_value=0, max_value=60),
    floor=st.none() | st.sampled_from(CATEGORIES),
)
def test_classification_is_monotone(
    dpd: int, extra: int, gaps: list[int], first: int, floor: str | None
) -> None:
    severity = CATEGORIES.index
    rules = ClassificationRules(
        first, first + gaps[0], first + gaps[0] + gaps[1], first + sum(gaps)
    )
    for r in (ClassificationRules(), rules):
        assert severity(classify(dpd, r)) <= severity(classify(dpd + extra, r))
        floored = classify(dpd, r, floor)  # type: ignore[arg-type]
        assert severity(floored) >= severity(classify(dpd, r))
        if floor is not None:
            assert severity(floored) >= severity(floor)
            assert severity(floored) == max(severity(floor), severity(classify(dpd, r)))
