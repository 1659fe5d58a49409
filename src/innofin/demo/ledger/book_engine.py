"""The loan book in fen: principals, schedules, repayments, losses, classes and line limits."""

from __future__ import annotations

import numpy as np

from innofin.demo.ledger.borrowers_engine import due_by
from innofin.demo.ledger.dates_engine import day_of, year_of
from innofin.demo.ledger.params import (
    BULLET,
    DOUBTFUL_DPD,
    EP,
    FEN,
    GROWTH_RANGE,
    LOAN_CAP_YUAN,
    LOSS_DPD,
    MIN_LOAN_WAN,
    NONE,
    OUTSTANDING_PER_ENTERPRISE,
    REVOLVING,
    SUBSTANDARD_DPD,
    WAN,
    Array,
    Cols,
)
from innofin.demo.ledger.world_engine import World
from innofin.kernel.periods import add_months_days


def half_up(numerator: Array, denominator: int | Array) -> Array:
    """numerator / denominator rounded half-up (both non-negative integers)."""
    result: Array = (2 * numerator + denominator) // (2 * np.asarray(denominator))
    return result


# --------------------------------------------------------------------------- amounts


def _outstanding_share(loans: Cols, year: int) -> Array:
    """Each loan's outstanding principal at the end of `year` as a share of its principal (the
    model of the fen-exact computation below, before amounts exist)."""
    day = day_of(year, 12, 31)
    months = loans["months"]
    paid = np.minimum(due_by(loans, year), loans["paid_upto"])
    share = np.select(
        [loans["method"] == EP, loans["method"] == BULLET],
        [1 - paid / months, (paid < months).astype(np.float64)],
        (loans["repay"] > day).astype(np.float64),
    )
    at_default = np.where(loans["method"] == EP, 1 - (loans["miss_seq"] - 1) / months, 1.0)
    share = np.where(
        loans["collection_day"] <= day, share - loans["collection_share"] * at_default, share
    )
    share = np.where(loans["write_off_day"] <= day, 0.0, share)
    result: Array = np.where(loans["drawn"] <= day, share, 0.0)
    return result


def year_scales(rng: np.random.Generator, w: World, raw: Array, loans: Cols) -> Array:
    """A factor per drawdown year so that year-end balances grow at the drawn rates and end at
    `OUTSTANDING_PER_ENTERPRISE` per enterprise (forward substitution: each year's drawdowns
    make up what the earlier ones left short of that year's balance)."""
    years = w.years
    cohort = year_of(loans["drawn"]) - w.first_year
    made = np.stack(
        [
            np.bincount(
                cohort, weights=raw * _outstanding_share(loans, int(y)), minlength=years.size
            )
            for y in years
        ],
        axis=1,
    )  # made[y, t]: raw balance at the end of year t of the loans drawn in year y
    growth = rng.uniform(*GROWTH_RANGE, size=years.size - 1)
    later = np.r_[np.cumprod((1 + growth)[::-1])[::-1], 1.0]  # growth still to come
    target = OUTSTANDING_PER_ENTERPRISE * w.stage.size / later
    scales = np.ones(years.size)
    for t in range(years.size):  # one step per year
        left = target[t] - float(scales[:t] @ made[:t, t])
        scales[t] = max(left, 0.2 * target[t]) / made[t, t] if made[t, t] > 0 else 1.0
    return scales


def principals(raw: Array, scales: Array, cohort: Array) -> Array:
    wan = np.rint(raw * scales[cohort] / 10_000)
    result: Array = np.clip(wan, MIN_LOAN_WAN, LOAN_CAP_YUAN / 10_000).astype(np.int64) * WAN
    return result


# --------------------------------------------------------------------------- schedules


def instalments(drawn: Array, principal: Array, rate: Array, months: Array, method: Array) -> Cols:
    """Every loan's schedule as `ledger.loans.engine.build_schedule` makes it (ACT/360), in
    fen: equal principal, interest with principal at maturity, or one revolving instalment.

    `rate` is the annual rate in 1/10,000; rows are ordered by loan, then ``seq``."""
    rows = np.where(method == REVOLVING, 1, months)
    loan = np.repeat(np.arange(drawn.size), rows)
    starts = np.cumsum(rows) - rows
    seq = np.arange(int(rows.sum())) - np.repeat(starts, rows) + 1
    m, kind = np.repeat(months, rows), np.repeat(method, rows)
    p, r = np.repeat(principal, rows), np.repeat(rate, rows)
    revolving = kind == REVOLVING
    due = add_months_days(np.repeat(drawn, rows), np.where(revolving, m, seq))
    previous = np.r_[0, due[:-1]]  # the due date before (each counted from the start)
    previous[starts] = drawn
    level = half_up(p, m)
    last = revolving | (seq == m)
    ep_before = np.maximum(p - (seq - 1) * level, 0)
    before = np.where(kind == EP, ep_before, p)
    part = np.where(
        kind == EP, np.where(last, ep_before, np.minimum(level, ep_before)), np.where(last, p, 0)
    )
    interest = half_up(before * r * (due - previous), 3_600_000)
    return {"loan": loan, "seq": seq, "due": due, "principal": part, "interest": interest}


def _accrued(principal: Array, rate: Array, start: Array, end: Array) -> Array:
    return half_up(principal * rate * (end - start), 3_600_000)


# --------------------------------------------------------------------------- the loan book


def repayments(w: World, loans: Cols, inst: Cols) -> Cols:
    """Every ``repaid`` event: scheduled instalments paid, aggregated by loan and calendar year
    (dated on the last one due that year); revolving loans repaid; collections after default."""
    paid = (loans["method"][inst["loan"]] != REVOLVING) & (
        inst["seq"] <= loans["paid_upto"][inst["loan"]]
    )
    loan, due = inst["loan"][paid], inst["due"][paid]
    key = loan * 10_000 + year_of(due)  # rows are by loan and due date: each group is a run
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else key
    ends = np.r_[starts[1:], key.size] - 1

    def total(values: Array) -> Array:
        result: Array = np.add.reduceat(values, starts) if key.size else values
        return result

    scheduled = {
        "loan": loan[starts],
        "day": due[ends],
        "principal": total(inst["principal"][paid]),
        "interest": total(inst["interest"][paid]),
    }
    sched_principal = np.bincount(
        scheduled["loan"], weights=scheduled["principal"], minlength=loans["drawn"].size
    ).astype(np.int64)
    loans["at_default"] = loans["principal"] - sched_principal
    rev = np.flatnonzero((loans["method"] == REVOLVING) & (loans["repay"] <= w.as_of))
    revolving = {
        "loan": rev,
        "day": loans["repay"][rev],
        "principal": loans["principal"][rev],
        "interest": _accrued(
            loans["principal"][rev], loans["rate"][rev], loans["drawn"][rev], loans["repay"][rev]
        ),
    }
    col = np.flatnonzero(loans["collection_day"] < NONE)
    owed = loans["at_default"][col]
    amount = np.floor(owed * loans["collection_share"][col] / FEN).astype(np.int64) * FEN
    collections = {
        "loan": col,
        "day": loans["collection_day"][col],
        "principal": np.clip(amount, FEN, owed - FEN),
        "interest": np.zeros(col.size, dtype=np.int64),
    }
    parts = (scheduled, revolving, collections)
    return {k: np.concatenate([part[k] for part in parts]).astype(np.int64) for k in scheduled}


def add_losses(loans: Cols, repaid: Cols) -> None:
    """Write-offs (what is left at the write-off) and recoveries, in fen."""
    n = loans["drawn"].size
    repaid_principal = np.bincount(repaid["loan"], weights=repaid["principal"], minlength=n)
    left = loans["principal"] - repaid_principal.astype(np.int64)
    written = loans["write_off_day"] < NONE
    loans["written_off"] = np.where(written, left, 0)
    back = np.floor(loans["written_off"] * loans["recovery_share"] / FEN).astype(np.int64) * FEN
    recovered = (loans["recovery_day"] < NONE) & (loans["written_off"] > 0)
    loans["recovered"] = np.where(recovered, np.clip(back, FEN, loans["written_off"]), 0)
    loans["recovery_day"] = np.where(recovered, loans["recovery_day"], NONE)
    loans["principal_repaid"] = repaid_principal.astype(np.int64)
    loans["interest_paid"] = np.bincount(
        repaid["loan"], weights=repaid["interest"], minlength=n
    ).astype(np.int64)
    loans["outstanding"] = loans["principal"] - loans["principal_repaid"] - loans["written_off"]


def classifications(w: World, loans: Cols) -> Cols:
    """``classified`` events: the default ladder (special mention within 30 days, substandard at
    91 days past due, doubtful at 271, loss at 361) and late episodes (special mention, then
    pass when paid); and each loan's class at the reference date."""
    n = loans["drawn"].size
    missed = loans["fate"] == 2
    late = loans["fate"] == 1
    ladder = np.stack(
        [
            loans["miss_day"] + loans["miss_mark"],
            loans["miss_day"] + SUBSTANDARD_DPD,
            loans["miss_day"] + DOUBTFUL_DPD,
            loans["miss_day"] + LOSS_DPD,
        ],
        axis=1,
    )
    dpd = np.stack(
        [loans["miss_mark"], *(np.full(n, d) for d in (SUBSTANDARD_DPD, DOUBTFUL_DPD, LOSS_DPD))],
        axis=1,
    )
    ladder_ok = missed[:, None] & (ladder <= w.as_of)
    i, j = np.nonzero(ladder_ok)
    episode = np.stack(
        [loans["late_day"] + loans["late_mark"], loans["late_day"] + loans["late_days"]], axis=1
    )
    episode_ok = late[:, None] & (episode <= w.as_of)
    a, b = np.nonzero(episode_ok)
    category = np.zeros(n, dtype=np.int64)
    category[missed] = ladder_ok[missed].sum(axis=1)
    category[late] = np.where(episode_ok[late, 1], 0, episode_ok[late, 0].astype(np.int64))
    loans["category"] = category
    return {
        "loan": np.concatenate([i, a]),
        "day": np.concatenate([ladder[i, j], episode[a, b]]),
        "category": np.concatenate([j + 1, np.where(b == 0, 1, 0)]),
        "previous": np.concatenate([j, np.where(b == 0, 0, 1)]),
        "dpd": np.concatenate([dpd[i, j], np.where(b == 0, loans["late_mark"][a], 0)]),
        "seq": np.concatenate([j, b]),
    }


def running_peaks(group: Array, day: Array, delta: Array, n_groups: int) -> tuple[Array, Cols]:
    """The running total of `delta` per group in time order (increases first on a day): its
    peak per group, and the sorted running values."""
    order = np.lexsort((delta < 0, day, group))
    g, d, v = group[order], day[order], delta[order]
    peak = np.zeros(n_groups, dtype=np.int64)
    if g.size == 0:
        return peak, {"group": g, "day": d, "running": v}
    cum = np.cumsum(v)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, g.size])
    running = cum - np.repeat(np.r_[0, cum][starts], counts)
    peak[g[starts]] = np.maximum.reduceat(running, starts)
    return peak, {"group": g, "day": d, "running": running}


# --------------------------------------------------------------------------- limits


def sum_by(index: Array, values: Array, n: int) -> Array:
    """Exact integer sums of `values` by `index` (0..n-1)."""
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, index, np.asarray(values, dtype=np.int64))
    return out


def set_limits(
    rng: np.random.Generator, w: World, lines: Cols, loans: Cols, repaid: Cols, scales: Array
) -> None:
    """Each line's limit (its peak use over time, at a utilisation of 50–100 %) and ``used``:
    drawdowns consume; on a revolving line repayments release."""
    nl = lines["opens"].size
    line_of = loans["line"][repaid["loan"]]
    release = lines["revolving"][line_of]
    repaid["release"] = release
    group = np.concatenate([loans["line"], line_of[release]])
    day = np.concatenate([loans["drawn"], repaid["day"][release]])
    delta = np.concatenate([loans["principal"], -repaid["principal"][release]])
    peak, _ = running_peaks(group, day, delta, nl)
    use = np.where(lines["revolving"], rng.uniform(0.5, 0.95, nl), rng.uniform(0.6, 1.0, nl))
    year = np.clip(year_of(lines["opens"]) - w.first_year, 0, scales.size - 1)
    unused = lines["base"] * scales[year] * FEN  # a line not drawn (yet)
    wanted = np.ceil(np.where(peak > 0, peak / use, unused) / WAN)
    wanted = np.maximum(np.maximum(wanted, -(-peak // WAN)), MIN_LOAN_WAN)
    lines["limit"] = wanted.astype(np.int64) * WAN
    lines["used"] = sum_by(loans["line"], loans["principal"], nl) - sum_by(
        line_of[release], repaid["principal"][release], nl
    )
