"""The scenario engine with no database: rates estimated from a synthetic ledger recover the rates
it was drawn with, thin segments shrink towards their field, the schedules, the same seed gives
the same projection, the band holds the mean, and each lever moves the projection the way it
should on every path (common random numbers)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.monitoring.scenarios import engine as se

N_FIELDS, N_SIZES = 3, 2


def _synthetic_ledger(
    seed: int, n: int, default_p: np.ndarray, prepay_p: float, term: int = 36
) -> tuple[np.ndarray, ...]:
    """Loans with monthly default and prepayment chances by segment, followed to maturity:
    exposure ends at the first event or at the term."""
    rng = np.random.default_rng(seed)
    f = rng.integers(0, N_FIELDS, n)
    z = rng.integers(0, N_SIZES, n)
    to_default = rng.geometric(default_p[f, z])
    to_prepay = rng.geometric(np.full(n, prepay_p))
    end = np.minimum.reduce([to_default, to_prepay, np.full(n, term)])
    defaulted = (to_default <= to_prepay) & (to_default <= term)
    prepaid = (to_prepay < to_default) & (to_prepay < term)
    return f, z, end.astype(np.float64), defaulted, prepaid


def test_estimated_rates_recover_the_rates_of_a_synthetic_ledger() -> None:
    truth = np.array([[0.002, 0.004], [0.006, 0.008], [0.010, 0.012]])
    f, z, exposure, d, q = _synthetic_ledger(1, 60_000, truth, 0.01)
    rates = se.estimate_rates(f, z, exposure, d, q, N_FIELDS, N_SIZES)
    # tens of thousands of loan-months per segment: shrinkage moves little; a geometric month's
    # probability p has hazard −log(1 − p), so the estimate is p up to sampling error
    np.testing.assert_allclose(rates.default_p.reshape(N_FIELDS, N_SIZES), truth, rtol=0.12)
    np.testing.assert_allclose(rates.prepay_p, 0.01, rtol=0.08)
    assert rates.exposure.sum() == pytest.approx(exposure.sum())
    assert rates.defaults.sum() == d.sum() and rates.prepayments.sum() == q.sum()


def test_a_thin_segment_is_pulled_towards_its_field_and_an_empty_one_takes_it() -> None:
    # field 0: size 0 has 100,000 loan-months at 1 %; size 1 has 10 loan-months and 5 defaults
    f = np.array([0, 0, 1])
    z = np.array([0, 1, 0])
    exposure = np.array([100_000.0, 10.0, 50_000.0])
    defaults = np.array([1000.0, 5.0, 250.0])
    rates = se.estimate_rates(f, z, exposure, defaults, np.zeros(3), 2, 2, prior_months=600)
    hazard = -np.log1p(-rates.default_p)
    raw_thin = 5 / 10
    assert hazard[1] < raw_thin / 10  # 50 % a month raw, shrunk to a few percent
    field0 = (1005 + 600 * (1255 / 150_010)) / (100_010 + 600)
    assert hazard[1] == pytest.approx((5 + 600 * field0) / (10 + 600))
    # field 1, size 1 has no loans: its field's rate
    field1 = (250 + 600 * (1255 / 150_010)) / (50_000 + 600)
    assert hazard[3] == pytest.approx((0 + 600 * field1) / (0 + 600))
    with pytest.raises(ValueError):
        se.estimate_rates(f, z, exposure, defaults, np.zeros(3), 2, 2, prior_months=0)


def test_schedules_of_the_four_methods() -> None:
    methods = np.array([se.METHODS.index(m) for m in se.METHODS])
    left = np.array([4, 4, 4, 4])
    s = se.schedule(methods, left, np.full(4, 0.12), 6)
    np.testing.assert_allclose(s[0], [1, 1, 1, 1, 0, 0, 0])  # bullet
    np.testing.assert_allclose(s[1], [1, 1, 1, 1, 0, 0, 0])  # revolving: at maturity
    np.testing.assert_allclose(s[2], [1, 0.75, 0.5, 0.25, 0, 0, 0])  # equal principal
    r = 0.01  # equal instalments: the annuity's balance after t payments
    expected = [((1 + r) ** 4 - (1 + r) ** t) / ((1 + r) ** 4 - 1) for t in range(5)]
    np.testing.assert_allclose(s[3][:5], expected)
    assert s[3][5] == 0


def _setup(n: int = 400, seed: int = 3) -> tuple[se.Book, se.Rates, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.array([[0.004, 0.006], [0.008, 0.01], [0.012, 0.015]])
    f, z, exposure, d, q = _synthetic_ledger(seed, 5_000, truth, 0.01)
    rates = se.estimate_rates(f, z, exposure, d, q, N_FIELDS, N_SIZES)
    seg = rng.integers(0, N_FIELDS * N_SIZES, n)
    book = se.make_book(
        seg,
        rng.integers(0, len(se.METHODS), n),
        rng.integers(1, 30, n),
        rng.random(n) < 0.6,
        rng.uniform(2e5, 5e6, n),
        np.full(n, 0.045),
    )
    mix, pace = se.mix_and_pace(seg, rng.uniform(2e5, 5e6, n), N_FIELDS * N_SIZES, 12)
    return book, rates, mix, pace


BASE = se.Levers(risk_share=0.3, rate_cap=None, quota=4e8, key_list_size=200)
SMALL = se.Assumptions(months=12, paths=200, lending_per_key_firm=2e6, pool_balance=5e6)


def test_the_book_groups_like_loans_and_keeps_every_yuan() -> None:
    balance = np.array([100.0, 200.0, 300.0, 400.0])
    book = se.make_book(
        np.array([0, 0, 0, 1]),
        np.array([2, 2, 2, 2]),
        np.array([5, 5, 6, 5]),
        np.array([True, True, True, True]),
        balance,
        np.array([0.04, 0.06, 0.05, 0.05]),
    )
    assert book.cells == 3 and book.count.tolist() == [2, 1, 1]
    assert book.balance.tolist() == [300.0, 300.0, 400.0]
    assert book.annual_rate[0] == pytest.approx((100 * 0.04 + 200 * 0.06) / 300)
    assert se.Book.from_json(book.as_json()).fingerprint() == book.fingerprint()


def test_the_same_seed_gives_the_same_projection_and_another_seed_another() -> None:
    book, rates, mix, pace = _setup()
    one = se.project(book, rates, mix, pace, BASE, SMALL, seed=11).as_json()
    two = se.project(book, rates, mix, pace, BASE, SMALL, seed=11).as_json()
    other = se.project(book, rates, mix, pace, BASE, SMALL, seed=12).as_json()
    assert one == two
    assert one["cumulative_defaults"] != other["cumulative_defaults"]


def test_the_band_holds_the_mean_and_the_median() -> None:
    book, rates, mix, pace = _setup()
    p = se.project(book, rates, mix, pace, BASE, se.Assumptions(months=24, paths=500), seed=5)
    for band in (p.balance, p.cumulative_defaults, p.payouts):
        assert (band.low <= band.mean + 1e-6).all() and (band.mean <= band.high + 1e-6).all()
        assert (band.low <= band.median).all() and (band.median <= band.high).all()
    assert (np.diff(p.cumulative_defaults.mean) >= 0).all()
    assert p.balance.high[-1] > p.balance.low[-1]  # a band, not a point


def test_new_lending_is_the_smaller_of_quota_and_demand() -> None:
    book, rates, mix, pace = _setup()
    demand_bound = se.project(book, rates, mix, pace, BASE, SMALL, seed=1)
    assert demand_bound.new_lending.sum() == pytest.approx(200 * 2e6)  # 4e8 quota, 4e8 demand
    tight = se.Levers(0.3, None, quota=1.2e8, key_list_size=200)
    assert se.project(book, rates, mix, pace, tight, SMALL, seed=1).new_lending.sum() == (
        pytest.approx(1.2e8)
    )
    # a rate cap below every segment's break-even rate stops new lending
    shut = se.Levers(0.3, rate_cap=0.04, quota=4e8, key_list_size=200)
    assert se.project(book, rates, mix, pace, shut, SMALL, seed=1).new_lending.sum() == 0


def test_invalid_levers_and_assumptions_are_refused() -> None:
    book, rates, mix, pace = _setup()
    with pytest.raises(ValueError, match="risk_share"):
        se.project(book, rates, mix, pace, se.Levers(1.5, None, 1, 1), SMALL, seed=1)
    with pytest.raises(ValueError, match="band"):
        se.project(book, rates, mix, pace, BASE, se.Assumptions(band=(0.9, 0.1)), seed=1)


_BOOK = _setup()


def _run(levers: se.Levers, seed: int) -> se.Projection:
    book, rates, mix, pace = _BOOK
    return se.project(book, rates, mix, pace, levers, SMALL, seed=seed)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    quota=st.floats(0, 1e9),
    more=st.floats(0, 1e9),
    size=st.integers(0, 500),
    extra=st.integers(0, 500),
)
def test_more_quota_or_a_longer_key_list_never_lowers_balances_or_defaults(
    seed: int, quota: float, more: float, size: int, extra: int
) -> None:
    low = _run(se.Levers(0.3, None, quota, size), seed)
    high = _run(se.Levers(0.3, None, quota + more, size + extra), seed)
    for a, b in ((low.balance, high.balance), (low.cumulative_defaults, high.cumulative_defaults)):
        for q in ("mean", "low", "high", "median"):
            assert (getattr(a, q) <= getattr(b, q) + 1e-6).all()
    assert (low.new_lending <= high.new_lending + 1e-6).all()


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    share=st.floats(0, 1),
    up=st.floats(0, 1),
    cap=st.one_of(st.none(), st.floats(0.03, 0.08)),
)
def test_a_higher_risk_share_never_lowers_pool_payouts(
    seed: int, share: float, up: float, cap: float | None
) -> None:
    higher = min(share + up, 1.0)
    low = _run(se.Levers(share, cap, 4e8, 200), seed)
    high = _run(se.Levers(higher, cap, 4e8, 200), seed)
    assert (low.payouts.mean <= high.payouts.mean + 1e-6).all()
    assert (low.payouts.high <= high.payouts.high + 1e-6).all()
    # under a cap, a higher share makes more segments worth lending to, never fewer
    assert (low.viable <= high.viable).all()
    assert (low.new_lending <= high.new_lending + 1e-6).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cap=st.floats(0.03, 0.08), down=st.floats(0, 0.05))
def test_a_tighter_rate_cap_never_raises_new_lending_or_the_balance(
    seed: int, cap: float, down: float
) -> None:
    loose = _run(se.Levers(0.3, cap, 4e8, 200), seed)
    tight = _run(se.Levers(0.3, cap - down, 4e8, 200), seed)
    assert (tight.new_lending <= loose.new_lending + 1e-6).all()
    assert (tight.balance.mean <= loose.balance.mean + 1e-6).all()
    assert (tight.cumulative_defaults.mean <= loose.cumulative_defaults.mean + 1e-6).all()


def test_a_lever_moves_the_projection_strictly_when_it_binds() -> None:
    base = _run(BASE, 9)
    bigger = _run(se.Levers(0.3, None, 8e8, 400), 9)
    assert bigger.balance.mean[-1] > base.balance.mean[-1]
    assert _run(se.Levers(0.6, None, 4e8, 200), 9).payouts.mean[-1] > base.payouts.mean[-1]


def test_a_shared_shock_widens_the_band_and_keeps_the_levers_direction() -> None:
    book, rates, mix, pace = _setup()
    plain = se.Assumptions(months=24, paths=400)
    shocked = se.Assumptions(months=24, paths=400, default_shock=1.0)
    calm = se.project(book, rates, mix, pace, BASE, plain, seed=4)
    rough = se.project(book, rates, mix, pace, BASE, shocked, seed=4)
    width = calm.cumulative_defaults.high[-1] - calm.cumulative_defaults.low[-1]
    wider = rough.cumulative_defaults.high[-1] - rough.cumulative_defaults.low[-1]
    assert wider > 1.3 * width
    # the factor has mean 1: the mean moves by sampling error only, not by a bias in the model
    assert rough.cumulative_defaults.mean[-1] == pytest.approx(
        calm.cumulative_defaults.mean[-1], rel=0.25
    )
    again = se.project(book, rates, mix, pace, BASE, shocked, seed=4)
    assert again.as_json() == rough.as_json()
    more = se.project(book, rates, mix, pace, se.Levers(0.9, None, 4e8, 200), shocked, seed=4)
    assert (more.payouts.mean >= rough.payouts.mean - 1e-6).all()
    with pytest.raises(ValueError, match="default_shock"):
        se.project(book, rates, mix, pace, BASE, se.Assumptions(default_shock=5), seed=1)
