"""Forecasts and targets: the forecaster recovers the trend of a known series, the naive baseline
carries last year's growth, and a target's probability behaves (reached → 1, impossible → about
0); a programme's summary on a hand-made ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from innofin.monitoring.targets import forecast_engine as fe
from innofin.monitoring.targets import service as tg
from monitoring_frames import D, Ledger, Loan


def test_forecast_recovers_the_trend_of_a_known_series() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(48)
    y = 1_000 + 25 * t + rng.normal(0, 10, t.size)
    f = fe.forecast(y, 12)
    truth = 1_000 + 25 * np.arange(48, 60)
    slope = np.polyfit(np.arange(12), f.mean, 1)[0]
    assert slope == pytest.approx(25, rel=0.15)
    assert np.all(np.abs(f.mean - truth) < 0.03 * truth)
    # the interval holds the trend, and widens with the horizon
    assert np.all((f.lower <= truth + 30) & (truth - 30 <= f.upper))
    assert f.upper[-1] - f.lower[-1] > f.upper[0] - f.lower[0]
    assert f.model in fe.CANDIDATES and f.errors  # chosen by back-test


def test_a_seasonal_series_chooses_a_seasonal_model() -> None:
    t = np.arange(48)
    y = 1_000 + 10 * t + np.where(t % 12 == 11, -300.0, 0.0)
    model, errors = fe.choose(y)
    assert model == "seasonal_drift"
    assert errors["seasonal_drift"] < errors["drift"]


def test_naive_carries_last_years_growth_forward() -> None:
    y = 100 * 1.2 ** (np.arange(30) / 12)
    assert fe.naive(y, 12) == pytest.approx(100 * 1.2 ** (np.arange(30, 42) / 12))
    flows = np.tile(np.arange(1.0, 13.0), 2) * np.repeat([1.0, 1.5], 12)
    assert fe.naive(flows, 3, flow=True) == pytest.approx([1.5 * 1.5, 2 * 1.5 * 1.5, 3 * 2.25])
    error = fe.backtest(y, lambda history, h: fe.naive(history, h), origins=6)
    assert error == pytest.approx(0, abs=1e-9)


def test_probability_and_growth_needed() -> None:
    assert fe.probability(np.array([1.0, 2.0, 3.0, 4.0]), 3.0) == 0.5
    assert fe.monthly_growth_needed(100, 121, 2) == pytest.approx(0.1)
    assert fe.monthly_growth_needed(100, 90, 2) == 0.0
    assert fe.monthly_growth_needed(100, 121, 0) is None


def growing_ledger() -> Ledger:
    """A programme that lends 100,000 yuan on the 10th of each month from January 2022 to
    December 2024 (nothing repaid): a straight rising balance."""
    loans, events = [], []
    day = D(2022, 1, 10)
    for i in range(1, 37):
        loans.append(Loan(i, drawn_on=day, enterprise_id=2000 + i % 7))
        events.append((i, "drawn", day, 10_000_000, None))
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 10)
    return Ledger(loans=loans, events=events)


def target(kind: str, due: dt.date, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "target_id": len(values) + 1,
        "programme_id": 1,
        "kind": kind,
        "tech_field": None,
        "amount": None,
        "count": None,
        "rate": None,
        "period_start": None,
        "due_on": due,
    }
    row.update(values)
    return row


def test_target_probability_reached_impossible_and_likely() -> None:
    ledger = growing_ledger()
    ledger.targets = [
        # 3.6 million yuan by the end of 2025: the balance is 3.6 million already
        target("financing_balance", D(2025, 12, 31), target_id=1, amount=360_000_000),
        # 100 million by March 2025: impossible at 100,000 a month
        target("financing_balance", D(2025, 3, 31), target_id=2, amount=10_000_000_000),
        # 4.5 million by the end of 2025: the trend gives 4.8 million
        target("financing_balance", D(2025, 12, 31), target_id=3, amount=450_000_000),
        # new credit in 2024: 1.2 million lent, 1 million wanted — reached
        target(
            "new_credit",
            D(2025, 6, 30),
            target_id=4,
            amount=100_000_000,
            period_start=D(2024, 1, 1),
        ),
        # new credit of 2025 by June: 50 million wanted, about 0.6 million coming
        target(
            "new_credit",
            D(2025, 6, 30),
            target_id=5,
            amount=5_000_000_000,
            period_start=D(2025, 1, 1),
        ),
        # a balance due last June: 3 million wanted, 3.0 million then — settled, reached
        target("financing_balance", D(2024, 6, 30), target_id=6, amount=300_000_000),
        # a balance due last June: 5 million wanted — settled, missed
        target("financing_balance", D(2024, 6, 30), target_id=7, amount=500_000_000),
    ]
    cube = ledger.cube()
    by_id = {t.target_id: t for t in tg.programme_targets(cube, 1)}
    assert by_id[1].probability == pytest.approx(1.0, abs=0.02)
    assert by_id[1].current == Decimal("3600000.00") and by_id[1].progress == pytest.approx(1.0)
    assert by_id[2].probability < 0.01
    assert by_id[2].monthly_needed == pytest.approx((10**10 / 3.6e8) ** (1 / 3) - 1)
    assert by_id[3].probability > 0.8
    assert by_id[3].forecast == pytest.approx(Decimal(4_800_000), rel=Decimal("0.03"))
    assert by_id[3].lower <= by_id[3].forecast <= by_id[3].upper
    assert by_id[4].probability == 1.0 and by_id[4].current == Decimal("1200000.00")
    assert by_id[5].probability < 0.01
    assert by_id[5].monthly_needed == Decimal("8333333.33")  # 50 million over six months
    assert by_id[6].settled and by_id[6].probability == 1.0
    assert by_id[7].settled and by_id[7].probability == 0.0


def test_balance_growth_and_key_enterprises() -> None:
    ledger = growing_ledger()
    firms = sorted({2000 + i % 7 for i in range(1, 37)})
    ledger.key_members = [("key", 2024, f) for f in firms] + [("key", 2024, 9999)]
    ledger.targets = [
        # YoY growth at the end of 2025: 1.2 million more on 3.6 million is 33 %
        target("balance_growth", D(2025, 12, 31), target_id=1, rate=0.25),
        target("balance_growth", D(2025, 12, 31), target_id=2, rate=0.60),
        target("key_enterprises", D(2024, 12, 31), target_id=3, count=7),
        target("key_enterprises", D(2024, 12, 31), target_id=4, count=8),
    ]
    by_id = {t.target_id: t for t in tg.programme_targets(ledger.cube(), 1)}
    assert by_id[1].current == pytest.approx(1.2 / 2.4)
    assert by_id[1].forecast == pytest.approx(1.2 / 3.6, abs=0.02)
    assert by_id[1].probability > 0.9
    assert by_id[2].probability < 0.05
    # seven of the eight members borrowed in 2024; the eighth never did
    assert by_id[3].current == 7 and by_id[3].probability == 1.0
    assert by_id[4].current == 7 and by_id[4].probability == 0.0 and by_id[4].settled


def test_programme_summary() -> None:
    ledger = growing_ledger()
    summary = tg.programme_summary(ledger.cube(), 1)
    assert summary.month == D(2024, 12, 31)
    assert summary.outstanding == Decimal("3600000.00")
    assert summary.new_lending_ytd == Decimal("1200000.00")
    assert summary.yoy == pytest.approx(0.5)
    assert summary.as_of == ledger.frames().as_of
    payload = summary.as_json()
    assert payload["outstanding"] == "3600000.00" and payload["as_of"].startswith("2025-01-05")
