"""Risk-pool claims and contributions: claims filed on defaulted covered loans, assessed with each
pool's terms (`PoolTerms`, which `rules` reads from the ledger's pool rules), approved, paid and
shared back; contributions sized to keep covered credit within the pool's leverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import polars as pl

from innofin.demo.ledger.book_engine import half_up, running_peaks, sum_by
from innofin.demo.ledger.dates_engine import day_of, year_of
from innofin.demo.ledger.events_engine import json_pairs
from innofin.demo.ledger.params import (
    CONTRIBUTION_STEP,
    MILLION,
    NONE,
    POOL_MARGIN_PCT,
    ZONE_POOL_LEVERAGE,
    Array,
    Cols,
)
from innofin.demo.ledger.world_engine import Plan, World
from innofin.kernel.money import decimal_text, fen_of, split_pro_rata


@dataclass(frozen=True)
class PoolTerms:
    """One pool's rules as the engines use them: rates in 1/10,000, amounts in fen (-1: no cap),
    and what the ledger's assessment says of each tag set (indexed by the bits of `TAG_NAMES`)."""

    contributors: Mapping[str, Decimal]  # contributor → share
    leverage: int | None
    max_coverage: int
    cap_per_loan: int
    cap_per_institution_year: int
    nominal: tuple[int, ...]  # the nominal coverage rate (bonuses included) by tag set
    heads: tuple[str, ...]  # by tag set: the assessment's first fields, an unclosed JSON object
    document: str  # the rules as JSON (``risk_pool.rules``)


def e4(value: Decimal) -> int:
    scaled = value * 10_000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"rates of the demo pools have at most 4 decimals, not {value}")
    return int(scaled)


def split_fen(total: Array, weights: Array, names: Sequence[str]) -> Array:
    """`kernel.money.split_pro_rata` vectorised: rows of `total` fen split by the rows (or one
    row) of integer `weights`; largest remainders get the fen left over, ties to the first name
    in `str` order."""
    weights = np.broadcast_to(weights, (total.size, len(names))).astype(np.int64)
    weight_sum = weights.sum(axis=1)
    safe = np.maximum(weight_sum, 1)
    exact = total[:, None] * weights
    parts = exact // safe[:, None]
    remainder = exact - parts * safe[:, None]
    leftover = total - parts.sum(axis=1)
    name_rank = np.argsort(np.argsort(np.array(names)))
    order = np.lexsort((np.broadcast_to(name_rank, weights.shape), -remainder), axis=1)
    position = np.argsort(order, axis=1)
    result: Array = parts + (position < leftover[:, None])
    return result


def _assess(
    terms: Sequence[PoolTerms], pool: Array, tags: Array, loss: Array, group: Array
) -> Cols:
    """`assess_claim` of the ledger's pool engine for every claim (all eligible: the demo's
    covered firms are in the candidate pool), in filing order; `group` numbers (pool,
    institution, year)."""
    n = pool.size
    nominal = np.array([t.nominal for t in terms], dtype=np.int64)[pool, tags]
    maximum = np.array([t.max_coverage for t in terms], dtype=np.int64)[pool]
    per_loan = np.array([t.cap_per_loan for t in terms], dtype=np.int64)[pool]
    per_year = np.array([t.cap_per_institution_year for t in terms], dtype=np.int64)[pool]
    head = np.array([t.heads for t in terms], dtype=object).reshape(len(terms), -1)[pool, tags]
    uncapped = half_up(loss * nominal, 10_000)
    by_max = loss * maximum // 10_000
    by_loan = np.where(per_loan >= 0, per_loan, uncapped)
    covered = np.minimum(np.minimum(uncapped, by_max), by_loan)
    # the institution's earlier claims this year, in filing order
    before = np.zeros(n, dtype=np.int64)
    if n:
        order = np.lexsort((np.arange(n), group))
        cum = np.cumsum(covered[order])
        starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
        counts = np.diff(np.r_[starts, n])
        before[order] = cum - covered[order] - np.repeat(np.r_[0, cum][starts], counts)
    by_year = np.where(per_year >= 0, np.maximum(per_year - before, 0), uncapped)
    covered = np.minimum(covered, by_year)
    binding = np.where(
        (by_max == covered) & (by_max < uncapped),
        "max_coverage",
        np.where(
            (per_loan >= 0) & (by_loan == covered) & (by_loan < uncapped),
            "cap_per_loan",
            np.where(
                (per_year >= 0) & (by_year == covered) & (by_year < uncapped),
                "cap_per_institution_year",
                "",
            ),
        ),
    )
    return {"covered": covered, "retained": loss - covered, "binding": binding, "head": head}


def _split_texts(names: Sequence[str], parts: Array) -> pl.Series:
    """JSON objects {contributor: "yuan"} from rows of fen parts (one column per name)."""
    frame = pl.DataFrame({f"_p{i}": parts[:, i].astype(np.int64) for i in range(len(names))})
    texts = frame.select(decimal_text(f"_p{i}", 2) for i in range(len(names)))
    pairs = [(name, pl.col(f"_p{i}")) for i, name in enumerate(names)]
    return texts.select(json_pairs(pairs).alias("split")).to_series()


# --------------------------------------------------------------------------- pools


def make_claims(
    rng: np.random.Generator, w: World, terms: Sequence[PoolTerms], lines: Cols, loans: Cols
) -> Cols:
    """Claims on the pools for defaulted covered loans: filed 15–90 days after the default,
    approved 7–45 days later, paid 3–30 days after that; a recovery on the loan is shared
    back to the contributors in proportion to what each paid."""
    pool_of = lines["pool"][loans["line"]]
    loan = np.flatnonzero((pool_of >= 0) & (loans["default_day"] < NONE))
    n = loan.size
    filed = loans["default_day"][loan] + rng.integers(15, 91, size=n)
    approved = filed + rng.integers(7, 46, size=n)
    paid = approved + rng.integers(3, 31, size=n)
    shared = np.maximum(loans["recovery_day"][loan], paid) + rng.integers(5, 31, size=n)
    keep = np.flatnonzero(filed <= w.as_of)
    keep = keep[np.lexsort((loan[keep], filed[keep]))]  # filing order
    loan, filed, approved, paid, shared = (a[keep] for a in (loan, filed, approved, paid, shared))
    pool = pool_of[loan]
    bank = lines["bank"][loans["line"][loan]]
    year = year_of(filed)
    group = np.unique(pool * 10**9 + bank * 10**4 + year, return_inverse=True)[1].ravel()
    loss = loans["at_default"][loan]
    found = _assess(terms, pool, lines["tags"][loans["line"][loan]], loss, group)
    ok = found["covered"] > 0  # a claim the cap leaves nothing for is not filed
    claims: Cols = {
        "loan": loan, "pool": pool, "bank": bank, "filed": filed, "loss": loss,
        "approved": np.where(approved <= w.as_of, approved, NONE),
        "paid": np.where(paid <= w.as_of, paid, NONE),
        **found,
    }  # fmt: skip
    claims = {k: v[ok] for k, v in claims.items()}
    n = claims["loan"].size
    split = np.empty(n, dtype=object)
    back_split = np.empty(n, dtype=object)
    covered = claims["covered"]
    recovered = loans["recovered"][claims["loan"]]
    back = np.where(
        (claims["paid"] < NONE) & (recovered > 0) & (shared[ok] <= w.as_of),
        recovered * covered // claims["loss"],
        0,
    )
    for p, t in enumerate(terms):  # one split per pool: its contributors
        rows = claims["pool"] == p
        names = list(t.contributors)
        weights = np.array([e4(v) for v in t.contributors.values()])
        parts = split_fen(covered[rows], weights, names)
        split[rows] = _split_texts(names, parts).to_numpy()
        back_split[rows] = _split_texts(names, split_fen(back[rows], parts, names)).to_numpy()
    claims["split"] = split
    claims["back"] = back
    claims["back_split"] = back_split
    claims["shared"] = np.where(back > 0, shared[ok], NONE)
    return claims


def make_pools(
    w: World,
    plan: Plan,
    terms: Sequence[PoolTerms],
    lines: Cols,
    loans: Cols,
    repaid: Cols,
    claims: Cols,
) -> Cols:
    """Contributions (each January, or on opening) sized so that covered credit outstanding stays
    within leverage × balance × 100 / `POOL_MARGIN_PCT` all year, after the year's payouts; and
    the pools' caches."""
    n_pools, n_years = len(terms), w.years.size
    pool_of = lines["pool"][loans["line"]]
    on = pool_of >= 0
    on_repaid = on[repaid["loan"]]
    off = on & (loans["write_off_day"] < NONE)
    _, run = running_peaks(
        np.concatenate([pool_of[on], pool_of[repaid["loan"][on_repaid]], pool_of[off]]),
        np.concatenate([loans["drawn"][on], repaid["day"][on_repaid], loans["write_off_day"][off]]),
        np.concatenate(
            [loans["principal"][on], -repaid["principal"][on_repaid], -loans["written_off"][off]]
        ),
        n_pools,
    )
    year = year_of(run["day"]) - w.first_year
    peak = np.zeros((n_pools, n_years), dtype=np.int64)
    np.maximum.at(peak, (run["group"], year), run["running"])
    end = np.full((n_pools, n_years), -1, dtype=np.int64)
    key = run["group"] * n_years + year
    last = np.flatnonzero(np.r_[key[1:] != key[:-1], True]) if key.size else key
    end[run["group"][last], year[last]] = run["running"][last]
    payouts = np.zeros((n_pools, n_years), dtype=np.int64)
    is_paid = claims["paid"] < NONE
    pay_year = year_of(claims["paid"][is_paid]) - w.first_year
    np.add.at(payouts, (claims["pool"][is_paid], pay_year), claims["covered"][is_paid])
    returned = np.zeros((n_pools, n_years), dtype=np.int64)
    is_back = claims["back"] > 0
    back_year = year_of(claims["shared"][is_back]) - w.first_year
    np.add.at(returned, (claims["pool"][is_back], back_year), claims["back"][is_back])
    rows: list[tuple[int, int, str, int]] = []
    for p, t in enumerate(terms):  # one step per pool and year
        leverage = t.leverage if t.leverage is not None else ZONE_POOL_LEVERAGE
        first = int(year_of(np.array([plan.starts[p]]))[0]) - w.first_year
        balance = carried = 0
        for y in range(first, n_years):
            top = max(int(peak[p, y]), carried)
            need = -(-top * POOL_MARGIN_PCT // (100 * leverage)) + int(payouts[p, y])
            amount = max(need - balance, 10 * MILLION if y == first else 0)
            amount = -(-amount // CONTRIBUTION_STEP) * CONTRIBUTION_STEP
            on_day = plan.starts[p] if y == first else day_of(w.first_year + y, 1, 1)
            if amount > 0:
                parts = split_pro_rata(Decimal(amount).scaleb(-2), t.contributors)
                rows += [(p, on_day, name, fen_of(part)) for name, part in parts.items() if part]
            balance += amount - int(payouts[p, y]) + int(returned[p, y])
            if end[p, y] >= 0:
                carried = int(end[p, y])
    table = np.array([(p, d, amount) for p, d, _, amount in rows], dtype=np.int64).reshape(-1, 3)
    contributed = sum_by(table[:, 0], table[:, 2], n_pools)
    paid_out = sum_by(claims["pool"][is_paid], claims["covered"][is_paid], n_pools)
    back = sum_by(claims["pool"], claims["back"], n_pools)
    return {
        "pool": table[:, 0], "day": table[:, 1], "amount": table[:, 2],
        "contributor": np.array([name for _, _, name, _ in rows], dtype=object),
        "contributed": contributed, "paid_out": paid_out, "recovered": back,
        "balance": contributed - paid_out + back,
        "covered": sum_by(pool_of[on], loans["outstanding"][on], n_pools),
    }  # fmt: skip
