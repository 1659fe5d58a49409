"""The back-test on a hand-made ledger: hit rates worked out by hand."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.kernel.disclosure import DisclosureRule
from innofin.matching.recommend import track_engine as track

# firms A..H (0..7); zone 0 is province 0, zone 1 province 1
ZONE = np.array([0, 0, 0, 1, 1, 1, 1, 1])
A, B, C, D, E, F, G, H = range(8)
# (institution, firm, day): training up to day 100, a loan in the gap (150) that counts for
# neither, and the test period from day 200
LOANS = [
    (0, A, 10), (0, B, 20), (0, C, 30),  # institution 0 lends in zone 0
    (1, D, 40), (1, E, 50),  # institution 1 in zone 1
    (2, F, 60),  # institution 2 in zone 1
    (0, D, 150),  # the gap
    (1, G, 200),  # G (zone 1) borrows from 1
    (2, H, 210),  # H (zone 1) from 2
    (0, A, 220), (1, A, 250),  # A's first test loan is with 0
    (2, F, 230),  # F returns to its lender
]  # fmt: skip


def _run() -> track.Backtest:
    inst, firm, day = (np.array(c) for c in zip(*LOANS, strict=True))
    loans = {"institution": inst, "enterprise": firm, "day": day,
             "amount": np.full(inst.size, 2_000_000.0)}  # fmt: skip
    firms = {
        "zone": ZONE, "province": ZONE, "field": np.full(8, -1), "size": np.full(8, -1),
        "n_zone": np.array(2), "n_province": np.array(2), "n_field": np.array(8),
        "n_size": np.array(3),
    }  # fmt: skip
    return track.backtest(3, loans, firms, train_until=100, test_from=200)


def test_hit_rates_as_worked_out_by_hand() -> None:
    result = _run()
    assert result.tested == 4  # G, H, A, F
    assert result.train_loans == 6
    # overall: 0 (3 loans), 1 (2), 2 (1) → ranks G 2, H 3, A 1, F 3
    assert result.overall == pytest.approx(
        {"hit@1": 1 / 4, "hit@3": 1.0, "hit@10": 1.0, "mrr": (1 / 2 + 1 / 3 + 1 + 1 / 3) / 4}
    )
    # in the firm's zone: zone 1 has 1 (2 loans), 2 (1), 0 (0) → G 1, H 2, A 1, F 2
    assert result.zone == pytest.approx(
        {"hit@1": 2 / 4, "hit@3": 1.0, "hit@10": 1.0, "mrr": (1 + 1 / 2 + 1 + 1 / 2) / 4}
    )
    # the recommender: zone 1 favours 1 over 2 (3/4 against 2/3 after smoothing, and the larger
    # book), so G 1 and H 2; A 1; F's own earlier loan with 2 puts 2 first → hit@1 3/4
    assert result.recommender == pytest.approx(
        {"hit@1": 3 / 4, "hit@3": 1.0, "hit@10": 1.0, "mrr": (1 + 1 / 2 + 1 + 1) / 4}
    )
    assert result.as_json()["baselines"] == {"overall": result.overall, "zone": result.zone}


def test_no_loan_in_the_test_period_tests_nothing() -> None:
    inst, firm, day = np.array([0]), np.array([0]), np.array([10])
    loans = {"institution": inst, "enterprise": firm, "day": day, "amount": np.array([1e6])}
    firms = {"zone": np.array([0]), "province": np.array([0]), "field": np.array([-1]),
             "size": np.array([-1]), "n_zone": np.array(1), "n_province": np.array(1),
             "n_field": np.array(8), "n_size": np.array(3)}  # fmt: skip
    result = track.backtest(1, loans, firms, train_until=100, test_from=200)
    assert result.tested == 0
    assert result.recommender == {"hit@1": 0.0, "hit@3": 0.0, "hit@10": 0.0, "mrr": 0.0}


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 60))
def test_track_cells_do_not_depend_on_the_rows_order(rnd: random.Random, n: int) -> None:
    # amounts in whole fen whose float sums depend on the order they are added in, and firms
    # whose totals tie: the cells (medians, borrowers, the two largest firms, disclosure) are
    # the same for every order of the rows
    rows = [
        (rnd.randrange(3), rnd.randrange(12), rnd.randrange(2), rnd.randrange(3), rnd.randrange(2),
         rnd.choice([1_000_000.01, 2_345_678.91, 0.1, 0.2, 0.3, 7_777_777.77]), rnd.random() < 0.2)
        for _ in range(n)
    ]  # fmt: skip
    names = ("institution", "enterprise", "field", "size", "zone", "amount", "defaulted")
    frame = pl.DataFrame(rows, schema=names, orient="row")
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rnd.randrange(1000))
    rule = DisclosureRule(min_contributors=2)
    one, other = track.track_cells(frame, rule), track.track_cells(shuffled, rule)
    for level, cells in one.items():
        keys = ["institution", *level]
        assert cells.sort(keys).equals(other[level].sort(keys)), level
    # the two largest firms come in order
    top = one[()]
    assert (top["top1"] >= top["top2"]).all()
