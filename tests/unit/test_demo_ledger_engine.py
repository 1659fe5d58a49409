"""The demo's programme ledger without a database: schedules, claims and the order of history
agree with the ledger's own engines and rules; balances, defaults and labels are plausible.

Bounds are restated from the brief and DOMAIN.md, not imported from the generator.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
import pytest

from innofin.demo import service
from innofin.demo.engine import DemoData, Scale
from innofin.demo.ledger import claims_engine, events_engine, step
from innofin.kernel.periods import add_months, add_months_days
from innofin.ledger.loans import engine as sched
from innofin.ledger.pools import engine as pool_engine

SEED = 20240601
LEDGER = step.TABLES
TINY = Scale("tiny", zones=8, enterprises=500, institutions=10, products=25)


@pytest.fixture(scope="module")
def data() -> DemoData:
    return service.generate_data("small", SEED)


def _yuan(fen: int | None) -> Decimal:
    return Decimal(fen or 0).scaleb(-2)


def _events(data: DemoData) -> pl.DataFrame:
    """The events as stored (ids inside ``data`` resolved, no offsets)."""
    events = data.tables["ledger_event"]
    return events.with_columns(events_engine.event_data(events, {})).drop(*events_engine.DATA_REFS)


def _balances(data: DemoData) -> list[int]:
    """Outstanding principal at the end of each of the five years, from the events alone."""
    loans = _events(data).filter(pl.col("entity") == "loan")
    sign = (
        pl.when(pl.col("kind") == "drawn")
        .then(1)
        .when(pl.col("kind").is_in(["repaid", "written_off"]))
        .then(-1)
        .otherwise(0)
    )
    last = data.scale.as_of.year
    return [
        int(
            loans.filter(pl.col("effective_on") <= dt.date(y, 12, 31))
            .select((sign * pl.col("principal").fill_null(0)).sum())
            .item()
        )
        for y in range(last - 4, last + 1)
    ]


# --------------------------------------------------------------------------- what is made


def test_every_ledger_table_is_filled(data: DemoData) -> None:
    counts = data.counts()
    assert all(counts[name] > 0 for name in LEDGER), counts
    assert counts["programme"] == 3 and counts["risk_pool"] == 3
    assert 8_000 <= counts["loan"] <= 12_000  # small: about ten thousand loans
    kinds = set(data.tables["ledger_event"]["kind"])
    for kind in ("drawn", "repaid", "classified", "defaulted", "written_off", "recovered",
                 "contributed", "claim_filed", "claim_approved", "claim_paid"):  # fmt: skip
        assert kind in kinds, kind
    targets = data.tables["programme_target"]
    assert set(targets["kind"]) == {"financing_balance", "new_credit", "key_enterprises",
                                    "balance_growth"}  # fmt: skip
    by_field = targets.filter(pl.col("kind") == "new_credit", pl.col("tech_field").is_not_null())
    assert by_field["tech_field"].n_unique() >= 4
    balance = targets.filter(pl.col("kind") == "financing_balance")["amount"].item()
    assert balance == 10**12 * 3_000 // 500_000 * 100  # 1 trillion yuan scaled to 3,000 firms
    lines = data.tables["credit_line"]
    assert lines["commitment_id"].is_not_null().any() and lines["commitment_id"].is_null().any()
    assert lines["revolving"].any() and not lines["revolving"].all()
    assert lines["risk_pool_id"].is_not_null().any()
    assert (lines["status"] == "approved").all() and (
        lines["maker_id"] != lines["checker_id"]
    ).all()
    kinds_of_agreement = set(data.tables["agreement"]["kind"])
    assert {"government_bank", "zone_bank"} <= kinds_of_agreement
    commitments = data.tables["agreement_commitment"]
    assert commitments["tech_field"].is_not_null().any()
    assert (commitments["used"] <= commitments["amount"]).all()


def test_labelled_as_demo(data: DemoData) -> None:
    t = data.tables
    for name, column in (("programme", "name"), ("programme", "sponsor"), ("risk_pool", "name"),
                         ("agreement", "counterparty")):  # fmt: skip
        assert t[name][column].str.contains("示例").all(), (name, column)
    for name, column in (("programme", "code"), ("agreement", "code"), ("risk_pool", "code"),
                         ("credit_line", "external_ref"), ("loan", "external_ref")):  # fmt: skip
        assert t[name][column].str.starts_with("DEMO-").all(), (name, column)
    assert t["ledger_event"]["actor"].str.starts_with("demo:").all()
    assert t["pool_claim"]["maker_id"].str.starts_with("demo:").all()


def test_same_seed_same_ledger() -> None:
    first = service.generate_data(TINY, 5)
    again = service.generate_data(TINY, 5)
    other = service.generate_data(TINY, 6)
    for name in LEDGER:
        assert first.tables[name].equals(again.tables[name]), name
    assert not first.tables["loan"]["principal"].equals(other.tables["loan"]["principal"])


# --------------------------------------------------------------------------- the ledger's rules


def test_schedules_are_build_schedule(data: DemoData) -> None:
    """Every schedule is what `ledger.loans.engine.build_schedule` makes for the loan's terms."""
    inst = data.tables["loan_instalment"].partition_by("loan_id", as_dict=True)
    for loan in data.tables["loan"].iter_rows(named=True):
        want = sched.build_schedule(
            _yuan(loan["principal"]), Decimal(loan["annual_rate"]).scaleb(-4),
            loan["drawn_on"], loan["months"], loan["method"], loan["day_count"],
        )  # fmt: skip
        rows = inst[(loan["id"],)].sort("seq")
        got = [(r["seq"], r["due_on"], _yuan(r["principal"]), _yuan(r["interest"]))
               for r in rows.iter_rows(named=True)]  # fmt: skip
        assert got == [(i.seq, i.due, i.principal, i.interest) for i in want], loan["id"]
        assert loan["matures_on"] == want[-1].due


def test_claims_are_assessed_by_the_pool_engine(data: DemoData) -> None:
    """Each claim's assessment is `assess_claim` on the default's principal, the line's tags and
    what the institution had claimed on the pool that year before."""
    t = data.tables
    lines = {r["id"]: r for r in t["credit_line"].iter_rows(named=True)}
    loans = {r["id"]: r for r in t["loan"].iter_rows(named=True)}
    rules = {r["id"]: pool_engine.PoolRules.model_validate_json(r["rules"])
             for r in t["risk_pool"].iter_rows(named=True)}  # fmt: skip
    events = _events(data)
    loss = dict(
        events.filter(pl.col("kind") == "defaulted").select("entity_id", "principal").rows()
    )
    before: dict[tuple[int, int, int], int] = defaultdict(int)
    for claim in t["pool_claim"].sort("id").iter_rows(named=True):
        loan = loans[claim["loan_id"]]
        line = lines[loan["credit_line_id"]]
        assert line["risk_pool_id"] == claim["pool_id"]
        tags = frozenset(json.loads(line["tags"]))
        key = (claim["pool_id"], claim["institution_id"], claim["claim_year"])
        want = pool_engine.assess_claim(
            rules[claim["pool_id"]],
            pool_engine.ClaimInput(
                principal_loss=_yuan(loss[loan["id"]]), tags=tags,
                guaranteed="guaranteed" in tags, in_candidate_pool=True,
                already_claimed_this_year_by_institution=_yuan(before[key]),
            ),
        )  # fmt: skip
        assert json.loads(claim["assessment"]) == want.model_dump(mode="json"), claim["id"]
        assert claim["principal_loss"] == loss[loan["id"]]
        assert _yuan(claim["covered"]) == want.covered > 0
        before[key] += claim["covered"]


def test_history_obeys_the_ledger_rules(data: DemoData) -> None:
    """Walking the events in id order, every step is one the ledger's service would accept: the
    line approved and within its period and limit, the pool's leverage headroom, repayments
    within the outstanding, write-offs after default, payouts within the pool's balance."""
    t = data.tables
    lines = {r["id"]: r for r in t["credit_line"].iter_rows(named=True)}
    loans = {r["id"]: r for r in t["loan"].iter_rows(named=True)}
    pools = {r["id"]: r for r in t["risk_pool"].iter_rows(named=True)}
    commitments = {r["id"]: r for r in t["agreement_commitment"].iter_rows(named=True)}
    agreements = {r["id"]: r for r in t["agreement"].iter_rows(named=True)}
    firms = dict(t["enterprise"].select("id", "tech_field").rows())
    claims = {r["id"]: r for r in t["pool_claim"].iter_rows(named=True)}
    entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in t["limit_entry"].iter_rows(named=True):
        entries[entry["event_id"]].append(entry)
    status: dict[int, str] = {}
    used: dict[int, int] = defaultdict(int)
    committed: dict[int, int] = defaultdict(int)
    out: dict[int, int] = {}
    written: dict[int, int] = defaultdict(int)
    back: dict[int, int] = defaultdict(int)
    defaulted: set[int] = set()
    category: dict[int, str] = {}
    balance: dict[int, int] = defaultdict(int)
    covered: dict[int, int] = defaultdict(int)
    claim_state: dict[int, str] = {}
    last = dt.date.min
    for e in _events(data).iter_rows(named=True):
        assert e["effective_on"] >= last, e["id"]
        last = e["effective_on"]
        kind, eid, doc = e["kind"], e["entity_id"], json.loads(e["data"])
        for entry in entries[e["id"]]:
            if entry["account"] == "commitment":
                sign = -1 if entry["kind"] == "release" else 1
                committed[entry["account_id"]] += sign * entry["amount"]
                assert committed[entry["account_id"]] <= commitments[entry["account_id"]]["amount"]
        if e["entity"] == "credit_line":
            line = lines[eid]
            if kind == "line_proposed" and line["commitment_id"] is not None:
                c = commitments[line["commitment_id"]]
                assert agreements[c["agreement_id"]]["institution_id"] == line["institution_id"]
                assert c["period_start"] <= line["opens_on"] <= c["period_end"]
                assert c["tech_field"] in (None, firms[line["enterprise_id"]])
            status[eid] = kind
        elif e["entity"] == "loan":
            loan = loans[eid]
            line = lines[loan["credit_line_id"]]
            pool = line["risk_pool_id"]
            p = e["principal"] or 0
            if kind == "drawn":
                assert status[line["id"]] == "line_approved"
                assert line["opens_on"] <= e["effective_on"] <= line["matures_on"]
                assert p <= line["limit_amount"] - used[line["id"]]
                assert doc == {"credit_line_id": line["id"]}
                used[line["id"]] += p
                if pool is not None:
                    leverage = pools[pool]["leverage"]
                    if leverage is not None:
                        assert p <= leverage * balance[pool] - covered[pool], e["id"]
                    covered[pool] += p
                out[eid] = p
            elif kind == "repaid":
                assert p + (e["interest"] or 0) > 0 and p <= out[eid]
                out[eid] -= p
                if line["revolving"]:
                    used[line["id"]] -= p
                    assert any(x["source"] == "event" and x["source_id"] == e["id"]
                               for x in entries[e["id"]])  # fmt: skip
                if pool is not None:
                    covered[pool] -= p
            elif kind == "defaulted":
                assert eid not in defaulted and p == out[eid] > 0
                defaulted.add(eid)
            elif kind == "written_off":
                assert eid in defaulted and p <= out[eid]
                out[eid] -= p
                written[eid] += p
                if pool is not None:
                    covered[pool] -= p
            elif kind == "recovered":
                assert p <= written[eid] - back[eid]
                back[eid] += p
            elif kind == "classified":
                assert doc["previous"] == category.get(eid, "pass")
                category[eid] = doc["category"]
        elif e["entity"] == "risk_pool":
            if kind == "contributed":
                assert doc["contributor"] in json.loads(pools[eid]["rules"])["contributors"]
                balance[eid] += e["amount"]
            elif kind == "claim_paid":
                claim = claims[doc["claim_id"]]
                assert claim_state[claim["id"]] == "claim_approved"
                assert e["amount"] <= balance[eid]
                balance[eid] -= e["amount"]
                assert doc["split"] == json.loads(claim["assessment"])["contributions"]
            elif kind == "recovery_shared":
                claim = claims[doc["claim_id"]]
                paid = json.loads(claim["assessment"])["contributions"]
                split = pool_engine.split_recovery(
                    _yuan(e["amount"]), {k: Decimal(v) for k, v in paid.items()}
                )
                assert {k: Decimal(v) for k, v in doc["split"].items()} == split
                assert back[claim["loan_id"]] > 0
                balance[eid] += e["amount"]
        elif e["entity"] == "pool_claim":
            if kind == "claim_filed":
                assert claims[eid]["loan_id"] in defaulted
                assert doc == {"pool_id": claims[eid]["pool_id"], "loan_id": claims[eid]["loan_id"]}
            if kind == "claim_approved":
                assert claim_state[eid] == "claim_filed"
            claim_state[eid] = kind
    assert all(used[i] == line["used"] for i, line in lines.items())
    assert all(balance[i] == pool["balance"] for i, pool in pools.items())


# --------------------------------------------------------------------------- plausibility


def test_balances_grow_15_to_30_percent_a_year(data: DemoData) -> None:
    balances = _balances(data)
    growth = [b / a - 1 for a, b in itertools.pairwise(balances)]
    assert all(0.15 <= g <= 0.30 for g in growth), growth
    # about 6 million yuan per enterprise at the end (the calibration)
    assert 5e6 <= balances[-1] / 100 / data.scale.enterprises <= 7e6


def test_defaults_by_stage_and_size(data: DemoData) -> None:
    events = data.tables["ledger_event"]
    defaulted = events.filter(pl.col("kind") == "defaulted")["entity_id"]
    latest = data.tables["indicator_report"].sort("year").group_by("enterprise_id").last()
    loans = (
        data.tables["loan"]
        .join(data.tables["enterprise"].select(pl.col("id").alias("enterprise_id"),
                                               "growth_stage"), on="enterprise_id")
        .join(latest.select("enterprise_id", "revenue"), on="enterprise_id", how="left")
        .with_columns(pl.col("id").is_in(defaulted.implode()).alias("defaulted"))
    )  # fmt: skip
    rate = dict(loans.group_by("growth_stage").agg(pl.col("defaulted").mean()).rows())
    assert rate["startup"] > rate["growth"] > rate["stable"] > 0, rate
    assert rate["startup"] > 2 * rate["stable"]
    small = loans.filter(pl.col("revenue") < 10_000_000 * 100)["defaulted"].mean()
    large = loans.filter(pl.col("revenue") > 100_000_000 * 100)["defaulted"].mean()
    assert isinstance(small, float) and isinstance(large, float) and small > large
    book = data.tables["loan"]
    live = book.filter(pl.col("status") == "active")
    npl = live.filter(pl.col("category").is_in(["substandard", "doubtful", "loss"]))
    ratio = npl["outstanding_principal"].sum() / live["outstanding_principal"].sum()
    assert 0.003 <= ratio <= 0.05, ratio  # tech-loan NPL ratios are low single digits
    assert (book["category"] == "special_mention").any()  # late payers, not yet defaulted


def test_caches_equal_their_events(data: DemoData) -> None:
    """The loan caches as `ledger.replay` derives them (here from the frames)."""
    ev = _events(data).filter(pl.col("entity") == "loan")
    sums = ev.group_by("entity_id").agg(
        *(
            pl.col("principal").filter(pl.col("kind") == k).sum().alias(k)
            for k in ("drawn", "repaid", "written_off", "recovered")
        ),
        pl.col("interest").filter(pl.col("kind") == "repaid").sum().alias("interest"),
        pl.col("effective_on").filter(pl.col("kind") == "defaulted").max().alias("defaulted_on"),
        pl.col("data").filter(pl.col("kind") == "classified").last().alias("last"),  # by id
    )
    loans = data.tables["loan"].join(sums, left_on="id", right_on="entity_id")
    assert loans.height == data.tables["loan"].height
    assert (loans["principal"] == loans["drawn"]).all()
    assert (loans["principal_repaid"] == loans["repaid"]).all()
    assert (loans["interest_paid"] == loans["interest"]).all()
    assert (loans["written_off"] == loans["written_off_right"]).all()
    assert (loans["recovered"] == loans["recovered_right"]).all()
    assert loans["defaulted_on"].equals(loans["defaulted_on_right"], check_names=False)
    last = (
        loans["last"]
        .map_elements(lambda d: json.loads(d)["category"], return_dtype=pl.String)
        .fill_null("pass")
    )
    assert (loans["category"] == last).all()


# --------------------------------------------------------------------------- the arithmetic


def test_dates_and_splits_match_the_ledger_engines() -> None:
    rnd = random.Random(7)
    days = np.array([rnd.randrange(-20_000, 40_000) for _ in range(3_000)])
    months = np.array([rnd.randrange(0, 61) for _ in range(3_000)])
    got = add_months_days(days, months)
    epoch = dt.date(1970, 1, 1)
    for d, m, g in zip(days.tolist(), months.tolist(), got.tolist(), strict=True):
        assert epoch + dt.timedelta(days=g) == add_months(epoch + dt.timedelta(days=d), m)
    names = ["province", "county", "zone"]
    total = np.array([rnd.randrange(0, 10**9) for _ in range(500)])
    weights = np.array([[rnd.randrange(0, 10**6) for _ in names] for _ in range(500)])
    weights[:, 0] += 1
    parts = claims_engine.split_fen(total, weights, names)
    for t, w, p in zip(total.tolist(), weights.tolist(), parts.tolist(), strict=True):
        want = pool_engine.split_pro_rata(
            Decimal(t).scaleb(-2), {n: Decimal(x) for n, x in zip(names, w, strict=True)}
        )
        assert [Decimal(x).scaleb(-2) for x in p] == list(want.values())
