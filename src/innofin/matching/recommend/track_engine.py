"""Institutions' track records from the ledger, their affinity to a firm, and the back-test.

Pure: NumPy and Polars on columns, no database. A *track record* is what each institution has
actually lent: its loans counted by the borrower's zone, province, technology field and size
band and by the loan's amount band. The *affinity* of an institution to a firm is a smoothed
naive-Bayes score over those counts — log P(institution) + Σ log P(feature value | institution),
each conditional pulled towards the value's share in the whole ledger — plus a bonus for the
firm's own history with that institution (a lender it already has). Institutions are ranked by
it; ties are broken by the institution's position in the caller's id order.

The back-test rebuilds the track record from loans drawn up to a date and, for each enterprise
that borrowed on or after a later date, finds where the institution that actually lent (its first
loan in the test period) ranks — beside two baselines ranked in the same run: the most active
lenders overall, and the most active in the firm's zone (ties: the overall count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from innofin.kernel.disclosure import DisclosureRule

Array = np.ndarray

#: loan amount bands (yuan): < 1 m, 1–5 m, 5–20 m, ≥ 20 m
AMOUNT_BANDS = np.array([1e6, 5e6, 20e6])
AMOUNT_BAND_NAMES = (
    ("100万元以下", "under 1 m yuan"),
    ("100–500万元", "1–5 m yuan"),
    ("500–2000万元", "5–20 m yuan"),
    ("2000万元以上", "20 m yuan or more"),
)
#: firm size bands by revenue (yuan): < 10 m, 10–100 m, ≥ 100 m
SIZE_BANDS = np.array([10e6, 100e6])
SIZE_BAND_NAMES = (
    ("营收1000万元以下", "revenue under 10 m yuan"),
    ("营收1000万–1亿元", "revenue 10–100 m yuan"),
    ("营收1亿元以上", "revenue 100 m yuan or more"),
)
FEATURES = ("zone", "province", "field", "size", "amount")


def amount_band(amount: Array) -> Array:
    """Band index of each amount (NaN: -1)."""
    a = np.asarray(amount, dtype=np.float64)
    out: Array = np.where(np.isnan(a), -1, np.searchsorted(AMOUNT_BANDS, a, side="right"))
    return out.astype(np.int64)


def size_band(revenue: Array) -> Array:
    r = np.asarray(revenue, dtype=np.float64)
    out: Array = np.where(np.isnan(r), -1, np.searchsorted(SIZE_BANDS, r, side="right"))
    return out.astype(np.int64)


@dataclass(frozen=True)
class Params:
    """Smoothing and the weight of a firm's own lenders (defaults, documented here)."""

    #: pseudo-count pulling each institution's feature shares towards the ledger's
    alpha: float = 2.0
    #: log-score bonus per log(1 + loans the firm already had with the institution)
    relationship: float = 3.0


def _codes(values: Array, size: int) -> Array:
    v = np.asarray(values, dtype=np.int64)
    return np.where((v >= 0) & (v < size), v, -1)


def affinity(
    n_institutions: int,
    lender: Array,
    features: Mapping[str, tuple[Array, Array, int]],
    own_loans: Array | None = None,
    params: Params = Params(),
) -> Array:
    """Log-scores (queries × institutions): how like the institution's past borrowers each
    query is. `lender` is each training loan's institution index; `features` maps a feature
    name to (training values, query values, number of values), codes -1 for unknown (an
    unknown query value adds nothing). `own_loans` (queries × institutions) counts the loans
    each query's firm already had with each institution."""
    lender = np.asarray(lender, dtype=np.int64)
    per_inst = np.bincount(lender, minlength=n_institutions).astype(np.float64)
    total = float(per_inst.sum())
    base = np.log((per_inst + 1.0) / (total + n_institutions))
    n_queries = next(iter(features.values()))[1].shape[0] if features else 0
    if own_loans is not None:
        n_queries = own_loans.shape[0]
    score = np.broadcast_to(base, (n_queries, n_institutions)).copy()
    a = params.alpha
    for train, query, size in features.values():
        t = _codes(train, size)
        q = _codes(query, size)
        known = t >= 0
        counts = np.bincount(
            lender[known] * size + t[known], minlength=n_institutions * size
        ).reshape(n_institutions, size)
        prior = (np.bincount(t[known], minlength=size) + 1.0) / (known.sum() + size)
        seen = counts.sum(axis=1, keepdims=True).astype(np.float64)
        logp = np.log((counts + a * prior[None, :]) / (seen + a))  # institutions × values
        has = q >= 0
        score[has] += logp[:, q[has]].T
    if own_loans is not None:
        score += params.relationship * np.log1p(own_loans)
    return score


def own_loan_counts(
    train_firm: Array, train_lender: Array, query_firm: Array, n_institutions: int
) -> Array:
    """Queries × institutions: the training loans of each query's firm with each institution."""
    tf = np.asarray(train_firm, dtype=np.int64)
    qf = np.asarray(query_firm, dtype=np.int64)
    out = np.zeros((qf.size, n_institutions), dtype=np.float64)
    if tf.size == 0 or qf.size == 0:
        return out
    order = np.argsort(qf, kind="stable")
    sorted_q = qf[order]
    lo = np.searchsorted(sorted_q, tf, side="left")
    hi = np.searchsorted(sorted_q, tf, side="right")
    reps = hi - lo
    loan = np.repeat(np.arange(tf.size), reps)
    starts = np.repeat(lo, reps)
    offsets = np.arange(loan.size) - np.repeat(np.cumsum(reps) - reps, reps)
    rows = order[starts + offsets]
    np.add.at(out, (rows, np.asarray(train_lender, dtype=np.int64)[loan]), 1.0)
    return out


def rank_of(primary: Array, secondary: Array | None, actual: Array) -> Array:
    """1-based rank of `actual[q]` among the institutions of row q, by `primary` descending,
    then `secondary` descending, then institution index ascending."""
    rows = np.arange(primary.shape[0])
    pa = primary[rows, actual][:, None]
    better = primary > pa
    tie = primary == pa
    if secondary is not None:
        sa = secondary[rows, actual][:, None]
        better |= tie & (secondary > sa)
        tie &= secondary == sa
    index = np.arange(primary.shape[1])[None, :]
    better |= tie & (index < actual[:, None])
    result: Array = better.sum(axis=1) + 1
    return result


def metrics(ranks: Array, ks: Sequence[int] = (1, 3, 10)) -> dict[str, float]:
    if ranks.size == 0:
        return {**{f"hit@{k}": 0.0 for k in ks}, "mrr": 0.0}
    out = {f"hit@{k}": float(np.mean(ranks <= k)) for k in ks}
    out["mrr"] = float(np.mean(1.0 / ranks))
    return out


@dataclass(frozen=True)
class Backtest:
    recommender: dict[str, float]
    overall: dict[str, float]
    zone: dict[str, float]
    tested: int
    train_loans: int

    def as_json(self) -> dict[str, object]:
        return {
            "recommender": self.recommender,
            "baselines": {"overall": self.overall, "zone": self.zone},
            "tested": self.tested,
        }


def backtest(
    n_institutions: int,
    loans: Mapping[str, Array],
    firms: Mapping[str, Array],
    train_until: int,
    test_from: int,
    params: Params = Params(),
    ks: Sequence[int] = (1, 3, 10),
) -> Backtest:
    """Rank the actual lenders of the test period. `loans`: ``institution``, ``enterprise``
    (firm index), ``day`` (day number), ``amount`` (yuan). `firms` (by firm index): ``zone``,
    ``province``, ``field``, ``size`` codes (-1 unknown) and the number of values of each in
    ``n_zone`` … (0-d arrays)."""
    inst = np.asarray(loans["institution"], dtype=np.int64)
    firm = np.asarray(loans["enterprise"], dtype=np.int64)
    day = np.asarray(loans["day"], dtype=np.int64)
    amount = np.asarray(loans["amount"], dtype=np.float64)
    train = day <= train_until
    test = np.flatnonzero(day >= test_from)
    # each tested firm's first loan of the test period (day, then institution, then amount)
    order = test[np.lexsort((amount[test], inst[test], day[test], firm[test]))]
    first = order[np.r_[True, firm[order][1:] != firm[order][:-1]]] if order.size else order
    q_firm, actual = firm[first], inst[first]
    features = {
        name: (
            np.asarray(firms[name])[firm[train]],
            np.asarray(firms[name])[q_firm],
            int(firms[f"n_{name}"]),
        )
        for name in ("zone", "province", "field", "size")
    }
    bands = len(AMOUNT_BANDS) + 1
    features["amount"] = (amount_band(amount[train]), amount_band(amount[first]), bands)
    own = own_loan_counts(firm[train], inst[train], q_firm, n_institutions)
    score = affinity(n_institutions, inst[train], features, own, params)
    overall = np.bincount(inst[train], minlength=n_institutions).astype(np.float64)
    overall_q = np.broadcast_to(overall, score.shape)
    n_zone = int(firms["n_zone"])
    zones = _codes(np.asarray(firms["zone"])[firm[train]], n_zone)
    zt = zones >= 0
    by_zone = np.bincount(
        inst[train][zt] * n_zone + zones[zt], minlength=n_institutions * n_zone
    ).reshape(n_institutions, n_zone)
    qz = _codes(np.asarray(firms["zone"])[q_firm], n_zone)
    zone_q = np.where((qz >= 0)[:, None], by_zone[:, np.maximum(qz, 0)].T, 0).astype(np.float64)
    return Backtest(
        recommender=metrics(rank_of(score, None, actual), ks),
        overall=metrics(rank_of(overall_q, None, actual), ks),
        zone=metrics(rank_of(zone_q, overall_q, actual), ks),
        tested=int(first.size),
        train_loans=int(train.sum()),
    )


# --------------------------------------------------------------------------- facts for reasons

#: the cells a reason may quote, most specific first
LEVELS: tuple[tuple[str, ...], ...] = (
    ("field", "size", "zone"),
    ("field", "zone"),
    ("field", "size"),
    ("field",),
    ("zone",),
    (),
)


def track_cells(loans: pl.DataFrame, rule: DisclosureRule) -> dict[tuple[str, ...], pl.DataFrame]:
    """Per level of `LEVELS`, each institution's cells: loans, borrowers, median amount (yuan),
    the defaulted share, and whether the cell may be shown to others (`kernel.disclosure`:
    enough borrowers, none dominating the cell's total). `loans` columns: ``institution``,
    ``enterprise``, ``field``, ``size``, ``zone`` (codes), ``amount`` (yuan), ``defaulted``.
    The cells do not depend on the rows' order: the firms' totals are summed in whole fen
    (exact), and the two largest are sorted (`top_k` leaves them in no order)."""
    out: dict[tuple[str, ...], pl.DataFrame] = {}
    fen = (pl.col("amount") * 100).round().cast(pl.Int64)
    for level in LEVELS:
        keys = ["institution", *level]
        per_firm = loans.group_by([*keys, "enterprise"]).agg(fen.sum().abs().alias("firm"))
        firms = per_firm.group_by(keys).agg(
            pl.len().alias("borrowers"),
            (pl.col("firm").sum() / 100).alias("magnitude"),
            (pl.col("firm").top_k(2).sort(descending=True) / 100).alias("top"),
        )
        stats = loans.group_by(keys).agg(
            pl.len().alias("loans"),
            pl.col("amount").median().alias("median"),
            pl.col("defaulted").mean().alias("default_share"),
        )
        cells = stats.join(firms, on=keys, how="left").with_columns(
            pl.col("top").list.get(0, null_on_oob=True).fill_null(0.0).alias("top1"),
            pl.col("top").list.get(1, null_on_oob=True).fill_null(0.0).alias("top2"),
        )
        shown = (
            (pl.col("borrowers") >= rule.min_contributors)
            & (pl.col("magnitude") > 0)
            & (pl.col("top1") < float(rule.top1_share) * pl.col("magnitude"))
            & (pl.col("top1") + pl.col("top2") < float(rule.top2_share) * pl.col("magnitude"))
        )
        out[level] = cells.with_columns(shown.alias("disclosable")).drop("top")
    return out


@dataclass(frozen=True)
class Fact:
    """The most specific cell of an institution's record that fits a firm and may be shown."""

    level: tuple[str, ...]
    loans: int
    borrowers: int
    median: float
    default_share: float


def best_fact(
    cells: Mapping[tuple[str, ...], pl.DataFrame],
    institution: int,
    firm: Mapping[str, int],
    own: bool,
    min_loans: int = 1,
) -> Fact | None:
    """The most specific fitting cell with at least `min_loans` loans that the viewer may see
    (`own`: the viewer is the institution itself, which sees its own cells whole)."""
    for level in LEVELS:
        frame = cells[level]
        cond = pl.col("institution") == institution
        for key in level:
            cond &= pl.col(key) == firm[key]
        row = frame.filter(cond)
        if row.height == 0:
            continue
        r = row.row(0, named=True)
        if r["loans"] < min_loans or not (own or r["disclosable"]):
            continue
        return Fact(
            level,
            int(r["loans"]),
            int(r["borrowers"]),
            float(r["median"]),
            float(r["default_share"]),
        )
    return None
