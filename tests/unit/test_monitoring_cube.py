"""The balance cube on hand-made ledgers: month-end balances, flows and the five classes against
a plain loop over the events; every slice sums to the total; a reversal changes exactly the
months from its date on; growth figures against values computed here."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innofin.monitoring.cube import engine as ce
from innofin.monitoring.cube import growth as gr
from monitoring_frames import D, Ledger, Loan, expected, months

FIELDS = (
    "outstanding",
    "npl",
    "special_mention",
    "substandard",
    "doubtful",
    "loss",
    "new_lending",
    "repaid",
    "written_off",
)


def hand_made() -> Ledger:
    return Ledger(
        loans=[
            Loan(1, institution_id=1, zone_id=10, tags=("pure_credit", "first_loan")),
            Loan(
                2,
                institution_id=2,
                zone_id=10,
                tech_field="bio_medicine",
                tags=("guaranteed",),
                drawn_on=D(2024, 2, 1),
            ),
            Loan(
                3,
                institution_id=1,
                zone_id=11,
                programme_id=None,
                tags=("ip_pledge",),
                drawn_on=D(2023, 12, 20),
            ),
        ],
        events=[
            (1, "drawn", D(2024, 1, 15), 100_000, None),
            (1, "repaid", D(2024, 3, 10), 30_000, None),
            (1, "repaid", D(2024, 6, 1), 20_000, None),
            (2, "drawn", D(2024, 2, 1), 50_000, None),
            (2, "classified", D(2024, 4, 30), None, "special_mention"),
            (2, "defaulted", D(2024, 5, 31), 50_000, None),
            (2, "classified", D(2024, 7, 31), None, "doubtful"),
            (2, "written_off", D(2024, 8, 15), 40_000, None),
            (3, "drawn", D(2023, 12, 20), 80_000, None),
            (3, "repaid", D(2024, 2, 10), 80_000, None),
            (3, "repaid_reversed", D(2024, 2, 10), 80_000, None),
            (3, "repaid", D(2024, 4, 10), 80_000, None),
        ],
    )


def test_month_end_balances_and_flows_match_a_plain_loop() -> None:
    ledger = hand_made()
    cube = ledger.cube(through=D(2024, 9, 30))
    total = cube.balances([])
    assert total["month"].to_list() == months(D(2023, 12, 1), D(2024, 9, 30))
    for row in total.iter_rows(named=True):
        want = expected(ledger, row["month"])
        assert {k: row[k] for k in FIELDS} == want, row["month"]
    # spot values written out: January 100,000 + 80,000; the reversed February repayment
    # leaves loan 3 whole until April; loan 2 doubtful from July, 10,000 left after August
    at = {r["month"]: r for r in total.iter_rows(named=True)}
    assert at[D(2024, 1, 31)]["outstanding"] == 180_000
    assert at[D(2024, 2, 29)]["outstanding"] == 230_000
    assert at[D(2024, 2, 29)]["repaid"] == 0
    assert at[D(2024, 4, 30)]["special_mention"] == 50_000
    assert at[D(2024, 6, 30)]["substandard"] == 50_000
    assert at[D(2024, 8, 31)]["doubtful"] == 10_000
    assert at[D(2024, 8, 31)]["pass"] == 50_000
    assert at[D(2024, 8, 31)]["npl"] == 10_000


def test_slices_by_institution_and_product_kind() -> None:
    cube = hand_made().cube(through=D(2024, 9, 30))
    june = cube.balances(["institution_id", "product_kind"]).filter(
        pl.col("month") == D(2024, 6, 30)
    )
    got = {
        (r["institution_id"], r["product_kind"]): r["outstanding"]
        for r in june.iter_rows(named=True)
    }
    assert got == {(1, "pure_credit"): 50_000, (1, "ip_pledge"): 0, (2, "guaranteed"): 50_000}


def test_enterprise_category_on_the_drawdown_day() -> None:
    ledger = hand_made()
    # loan 1's firm: high-tech until 2024-01-10 (lapsed before the drawdown), a tech-based SME
    # from 2024-01-01; loan 2's firm on the 2024 key list; loan 3's firm nothing
    ledger.certifications = [
        (1001, "hnte", D(2021, 1, 1), D(2024, 1, 10)),
        (1001, "tech_sme", D(2024, 1, 1), None),
    ]
    ledger.key_members = [("key", 2024, 1002), ("key", 2024, 1003)]  # 1003 drew in 2023
    attributes = ledger.cube().attributes.sort("loan_id")
    assert attributes["enterprise_category"].to_list() == ["tech_sme", "key_list", "other"]
    ledger.certifications.append((1002, "hnte", D(2024, 1, 1), D(2026, 12, 31)))
    assert ledger.cube().attributes.sort("loan_id")["enterprise_category"][1] == "high_tech"


def test_a_reversal_changes_exactly_the_months_from_its_date_on() -> None:
    ledger = hand_made()
    before = ledger.cube(through=D(2024, 9, 30)).balances(ce.DIMENSIONS, dense=True)
    # reverse loan 1's June repayment: its slice from June on, and June's repayments, change
    ledger.events.append((1, "repaid_reversed", D(2024, 6, 1), 20_000, None))
    after = ledger.cube(through=D(2024, 9, 30)).balances(ce.DIMENSIONS, dense=True)
    keys = ["month", *ce.DIMENSIONS]
    joined = before.drop("as_of").join(
        after.drop("as_of"), on=keys, suffix="_after", nulls_equal=True
    )
    assert joined.height == before.height == after.height
    changed = joined.filter(
        pl.any_horizontal(pl.col(c) != pl.col(f"{c}_after") for c in ("outstanding", "repaid"))
    )
    assert changed["month"].to_list() == months(D(2024, 6, 1), D(2024, 9, 30))
    assert set(changed["institution_id"]) == {1} and set(changed["zone_id"]) == {10}
    june = changed.row(0, named=True)
    assert june["outstanding_after"] - june["outstanding"] == 20_000
    assert june["repaid"] - june["repaid_after"] == 20_000


def test_growth_yoy_mom_ytd_and_shares() -> None:
    ledger = Ledger(
        loans=[
            Loan(1, tags=("pure_credit", "first_loan"), drawn_on=D(2023, 1, 10)),
            Loan(2, tags=("ip_pledge",), drawn_on=D(2024, 3, 5)),
        ],
        events=[
            (1, "drawn", D(2023, 1, 10), 100_000, None),
            (1, "repaid", D(2023, 12, 20), 10_000, None),
            (2, "drawn", D(2024, 3, 5), 60_000, None),
            (2, "classified", D(2024, 3, 31), None, "substandard"),
        ],
    )
    frame = gr.growth(ledger.cube(through=D(2024, 3, 31)))
    at = {r["month"]: r for r in frame.iter_rows(named=True)}
    march = at[D(2024, 3, 31)]
    assert march["outstanding"] == 150_000
    assert march["yoy"] == pytest.approx(150_000 / 100_000 - 1)
    assert march["mom"] == pytest.approx(150_000 / 90_000 - 1)
    assert march["new_lending_ytd"] == 60_000
    assert at[D(2023, 12, 31)]["new_lending_ytd"] == 100_000
    assert march["npl_ratio"] == pytest.approx(60_000 / 150_000)
    assert march["pure_credit_share"] == pytest.approx(90_000 / 150_000)
    assert at[D(2023, 1, 31)]["first_loan_firms"] == 1
    assert march["first_loan_firms"] == 0
    assert march["utilisation"] == pytest.approx(150_000 / (2 * 10**9))
    assert at[D(2023, 1, 31)]["yoy"] is None  # nothing a year earlier


# --- every slice sums to its total --------------------------------------------------------------

KINDS = (
    "repaid",
    "repaid_reversed",
    "classified",
    "defaulted",
    "written_off",
    "written_off_reversed",
    "recovered",
    "recovered_reversed",
)


@st.composite
def ledgers(draw: st.DrawFn) -> Ledger:
    n = draw(st.integers(1, 8))
    # ids in a row, or far apart (the engine then joins and groups them by their values)
    spread = draw(st.sampled_from([1, 100_003]))
    loans, events = [], []
    for i in range(spread, (n + 1) * spread, spread):
        day = D(2023, 1, 1) + dt.timedelta(days=draw(st.integers(0, 500)))
        loans.append(
            Loan(
                i,
                institution_id=draw(st.integers(1, 3)),
                zone_id=draw(st.integers(10, 12)),
                tech_field=draw(st.sampled_from(["electronic_information", "new_materials"])),
                programme_id=draw(st.sampled_from([1, 2, None])),
                tags=draw(st.sampled_from([("pure_credit",), ("ip_pledge",), ("guaranteed",), ()])),
                drawn_on=day,
            )
        )
        principal = draw(st.integers(1, 10**7))
        events.append((i, "drawn", day, principal, None))
        left = principal
        for _ in range(draw(st.integers(0, 5))):
            kind = draw(st.sampled_from(KINDS))
            later = day + dt.timedelta(days=draw(st.integers(0, 300)))
            amount = draw(st.integers(0, left)) if left else 0
            if kind in ("repaid", "written_off"):
                left -= amount
            elif kind in ("repaid_reversed", "written_off_reversed"):
                left += amount
            cat = draw(st.sampled_from(["pass", "special_mention", "doubtful", "loss"]))
            events.append((i, kind, later, amount, cat if kind == "classified" else None))
    return Ledger(loans=loans, events=events)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ledger=ledgers(),
    dims=st.lists(st.sampled_from(ce.DIMENSIONS), min_size=1, max_size=3, unique=True),
)
def test_every_slice_sums_to_its_total(ledger: Ledger, dims: list[str]) -> None:
    cube = ledger.cube(through=D(2025, 3, 31))
    total = cube.balances([]).drop("as_of")
    columns = [c for c in total.columns if c != "month"]
    sliced = cube.balances(dims, dense=False).group_by("month").agg(pl.col(columns).sum())
    joined = total.join(sliced, on="month", how="left", suffix="_s").fill_null(0)
    for c in columns:
        assert (joined[c] == joined[f"{c}_s"]).all(), c
    # and the total is the plain loop's, month by month
    for row in total.iter_rows(named=True):
        want = expected(ledger, row["month"])
        assert {k: row[k] for k in FIELDS} == want


def test_grid_sums_are_exact_by_every_path() -> None:
    slots = np.array([0, 0, 1, 1])
    # past float64's integers (2**53): summed as integers
    big = np.array([2**60, 1, 5, -(2**55)])
    assert ce._sums(slots, big, 2).tolist() == [2**60 + 1, 5 - 2**55]
    # small values over a dense grid: float sums, exact below 2**53
    small = np.array([2**52, 1, 7, -3])
    assert ce._sums(slots, small, 2).tolist() == [2**52 + 1, 4]
    # a few rows over a large grid: added in place
    assert ce._sums(slots, small, 1000)[:3].tolist() == [2**52 + 1, 4, 0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ledger=ledgers(),
    dims=st.lists(st.sampled_from(ce.ATTRIBUTES), min_size=1, max_size=3, unique=True),
)
def test_every_cell_is_the_plain_loop_over_its_loans(ledger: Ledger, dims: list[str]) -> None:
    """Each cell of a slice, month by month, against the plain loop over the loans whose
    attributes are the cell's: balances, the five classes and the month's flows."""
    cube = ledger.cube(through=D(2025, 3, 31))
    sliced = cube.balances(dims, dense=False)
    got = {(row["month"], *(row[d] for d in dims)): row for row in sliced.iter_rows(named=True)}
    members: dict[tuple[object, ...], set[int]] = {}
    for row in cube.attributes.iter_rows(named=True):
        members.setdefault(tuple(row[d] for d in dims), set()).add(row["loan_id"])
    assert {key[1:] for key in got} <= set(members)
    zero = dict.fromkeys([*FIELDS, "recovered", "drawdowns"], 0)
    for cell, loans in members.items():
        for month in months(cube.first_month, cube.last_month):
            want = expected(ledger, month, keep=loans)
            start = month.replace(day=1)
            events = [e for e in ledger.events if e[0] in loans and start <= e[2] <= month]
            want["recovered"] = sum(
                (p or 0) * (1 if k == "recovered" else -1)
                for _, k, _, p, _ in events
                if k in ("recovered", "recovered_reversed")
            )
            want["drawdowns"] = sum(k == "drawn" for _, k, _, _, _ in events)
            row = got.get((month, *cell), zero)
            assert {k: row[k] for k in want} == want, (cell, month)
