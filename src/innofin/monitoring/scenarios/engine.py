"""Scenarios on a programme's levers (情景分析): a transparent Monte Carlo of the loan book's
balances, defaults and risk-pool payouts over the next 12–36 months. Pure: NumPy arrays in,
arrays out; no database.

**Rates by segment, with shrinkage.** A segment is the borrower's technology field × size band.
Each loan is exposed from its drawdown until it defaulted, was repaid, matured or the as-of day,
in months; it *defaults* when it has a default date, and is *prepaid* when it was repaid in
full more than a month before its maturity. A segment's monthly hazard is its events over its
exposure, shrunk towards its field's, and the field's towards the whole book's (empirical
Bayes with a Gamma prior worth `prior_months` loan-months)::

    λ_book  = D / E
    λ_field = (D_f + k·λ_book)  / (E_f + k)
    λ_seg   = (D_s + k·λ_field) / (E_s + k)          p = 1 − exp(−λ)  (a month's probability)

so a segment with a few hundred loan-months keeps close to its field, and one with tens of
thousands speaks for itself.

**The book as cells.** Loans alike in segment, repayment method, months left and pool cover are
one cell of `count` loans of equal balance (the cell's mean). Each month, for every path and
cell at once, defaults are Binomial(alive, p_default) and prepayments Binomial(alive − defaults,
p_prepay); the survivors follow their scheduled amortisation (bullet and revolving: all at
maturity; equal principal: linear; equal instalments: the annuity at the cell's rate). The loop
runs over months (at most 36), never over loans.

**A shared shock**, if assumed (``default_shock`` σ > 0): each path draws one Gamma factor of mean 1
and standard deviation σ that multiplies every loan's default hazard over the horizon — a good or
a bad spell for the whole book —, so the band shows systemic risk and not only the independent
loans' noise. Without it (the default) loans default independently given their segment's rate.

**New lending and the levers.** Each month the programme lends `min(quota, key_list_size ×
lending per key-list firm) / 12` — the supply the institutions committed against the demand of
the firms on the key list —, spread over the segments by their share of recent lending, as
cohorts of new loans with the programme's usual term, bullet repayment and pool cover. The levers:

* ``risk_share`` — the share of a defaulted loan's principal the risk pool pays (payouts =
  defaulted covered principal × share);
* ``rate_cap`` — the highest annual rate on new loans: a segment is lent to only when its
  break-even rate, ``funding_cost + margin + annual PD × LGD × (1 − risk_share)``, is within the
  cap (rationing; the rest of its share is not lent elsewhere). None: no cap;
* ``quota`` — new special credit per year (yuan);
* ``key_list_size`` — firms on the key list, whose demand bounds new lending.

A new cohort's *number* of loans is the ledger's recent pace (at least one), and the levers
change its *amount*, not its number: so with one seed every lever setting draws exactly the same
defaults in count (common random numbers), and a lever's effect is never drowned in noise — a
larger quota can only raise the balance, a higher risk share only raise payouts, a tighter cap
only lower new lending, on every path.

The result keeps every month's mean and the band between two quantiles (default 5 % and 95 %) of
the paths, for the balance, the month's defaults, cumulative defaults and cumulative pool
payouts, and the probability that the payouts exceed the pool's balance by the horizon.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray
METHODS = ("interest_bullet", "revolving", "equal_principal", "equal_instalment")
#: how strongly a thin segment is pulled towards its field (loan-months of the prior)
PRIOR_MONTHS = 600.0
DAYS_PER_MONTH = 365.25 / 12
ENGINE_VERSION = "2"  # 2: a lone loan drawn by a uniform


# --------------------------------------------------------------------------- rates


@dataclass(frozen=True)
class Rates:
    """Monthly default and prepayment probabilities by segment (``field × n_sizes + size``),
    with what they were estimated from."""

    n_fields: int
    n_sizes: int
    exposure: Array  # loan-months per segment
    defaults: Array  # default events per segment
    prepayments: Array
    default_p: Array  # monthly probability, shrunk
    prepay_p: Array
    prior_months: float

    @property
    def segments(self) -> int:
        return self.n_fields * self.n_sizes


def _shrunk(events: Array, exposure: Array, field_of: Array, n_fields: int, k: float) -> Array:
    """Monthly hazards by segment, shrunk to the field's and the field's to the book's."""
    total_e = float(exposure.sum())
    book = float(events.sum()) / total_e if total_e > 0 else 0.0
    f_events = np.bincount(field_of, weights=events, minlength=n_fields)
    f_exposure = np.bincount(field_of, weights=exposure, minlength=n_fields)
    by_field = (f_events + k * book) / (f_exposure + k)
    hazard: Array = (events + k * by_field[field_of]) / (exposure + k)
    return hazard


def estimate_rates(
    field_code: Array,
    size_code: Array,
    exposure_months: Array,
    defaulted: Array,
    prepaid: Array,
    n_fields: int,
    n_sizes: int,
    prior_months: float = PRIOR_MONTHS,
) -> Rates:
    """Monthly default and prepayment probabilities per segment from one row per loan: its
    field and size codes (0-based; callers map unknown values to a code of their own), months
    exposed, and whether it defaulted or was prepaid."""
    if prior_months <= 0:
        raise ValueError("prior_months must be positive")
    seg = np.asarray(field_code, np.int64) * n_sizes + np.asarray(size_code, np.int64)
    n = n_fields * n_sizes
    exposure = np.bincount(seg, weights=np.asarray(exposure_months, np.float64), minlength=n)
    d = np.bincount(seg, weights=np.asarray(defaulted, np.float64), minlength=n)
    q = np.bincount(seg, weights=np.asarray(prepaid, np.float64), minlength=n)
    field_of = np.arange(n) // n_sizes
    hd = _shrunk(d, exposure, field_of, n_fields, prior_months)
    hq = _shrunk(q, exposure, field_of, n_fields, prior_months)
    return Rates(
        n_fields=n_fields,
        n_sizes=n_sizes,
        exposure=exposure,
        defaults=d,
        prepayments=q,
        default_p=1.0 - np.exp(-hd),
        prepay_p=1.0 - np.exp(-hq),
        prior_months=prior_months,
    )


# --------------------------------------------------------------------------- the book


@dataclass(frozen=True)
class Book:
    """The loans outstanding at the as-of day, as cells of like loans."""

    segment: Array  # int: field × n_sizes + size
    method: Array  # int: index into METHODS
    months_left: Array  # int ≥ 1
    covered: Array  # bool: a risk pool covers the cell's loans
    count: Array  # int: loans in the cell
    balance: Array  # float: the cell's outstanding principal (yuan)
    annual_rate: Array  # float: balance-weighted

    @property
    def cells(self) -> int:
        return int(self.segment.size)

    def fingerprint(self) -> str:
        """A hash of the cells, so a stored run can tell whether a book is the one it used."""
        h = hashlib.sha256()
        for a in (self.segment, self.method, self.months_left, self.covered, self.count):
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        for a in (self.balance, self.annual_rate):
            h.update(np.round(np.asarray(a, np.float64), 6).tobytes())
        return h.hexdigest()

    def as_json(self) -> dict[str, list[Any]]:
        return {
            "segment": self.segment.astype(int).tolist(),
            "method": self.method.astype(int).tolist(),
            "months_left": self.months_left.astype(int).tolist(),
            "covered": self.covered.astype(bool).tolist(),
            "count": self.count.astype(int).tolist(),
            "balance": np.asarray(self.balance, np.float64).tolist(),
            "annual_rate": np.asarray(self.annual_rate, np.float64).tolist(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, list[Any]]) -> Book:
        return cls(
            segment=np.asarray(doc["segment"], np.int64),
            method=np.asarray(doc["method"], np.int64),
            months_left=np.asarray(doc["months_left"], np.int64),
            covered=np.asarray(doc["covered"], bool),
            count=np.asarray(doc["count"], np.int64),
            balance=np.asarray(doc["balance"], np.float64),
            annual_rate=np.asarray(doc["annual_rate"], np.float64),
        )


def make_book(
    segment: Array,
    method: Array,
    months_left: Array,
    covered: Array,
    balance: Array,
    annual_rate: Array,
) -> Book:
    """Group one row per loan into cells (same segment, method, months left and cover)."""
    seg = np.asarray(segment, np.int64)
    meth = np.asarray(method, np.int64)
    left = np.maximum(np.asarray(months_left, np.int64), 1)
    cov = np.asarray(covered, bool)
    bal = np.asarray(balance, np.float64)
    rate = np.asarray(annual_rate, np.float64)
    if seg.size == 0:
        empty = np.zeros(0, np.int64)
        return Book(empty, empty, empty, np.zeros(0, bool), empty, np.zeros(0), np.zeros(0))
    # one integer key per loan (a 1-D unique is many times faster than rows of a 2-D one)
    n_meth, n_left = int(meth.max()) + 1, int(left.max()) + 1
    key = ((seg * n_meth + meth) * n_left + left) * 2 + cov.astype(np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1)
    count = np.bincount(inverse, minlength=len(uniq))
    total = np.bincount(inverse, weights=bal, minlength=len(uniq))
    weighted = np.bincount(inverse, weights=bal * rate, minlength=len(uniq))
    mean_rate = np.divide(weighted, total, out=np.zeros_like(total), where=total > 0)
    rest, covered = np.divmod(uniq, 2)
    rest, months_left = np.divmod(rest, n_left)
    segment, method = np.divmod(rest, n_meth)
    return Book(
        segment=segment,
        method=method,
        months_left=months_left,
        covered=covered.astype(bool),
        count=count.astype(np.int64),
        balance=total,
        annual_rate=mean_rate,
    )


def schedule(method: Array, months_left: Array, annual_rate: Array, horizon: int) -> Array:
    """The share of today's balance each cell is scheduled to still owe after t months, for
    t = 0 … horizon (cells × horizon + 1); 0 from maturity on."""
    t = np.arange(horizon + 1)[None, :].astype(np.float64)
    m = np.asarray(months_left, np.float64)[:, None]
    meth = np.asarray(method)[:, None]
    r = np.asarray(annual_rate, np.float64)[:, None] / 12
    linear = np.clip(1 - t / m, 0, 1)
    grow_m = (1 + r) ** m
    grow_t = (1 + r) ** np.minimum(t, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        annuity = np.where(r > 0, (grow_m - grow_t) / (grow_m - 1), linear)
    bullet = (t < m).astype(np.float64)
    out = np.where(meth == METHODS.index("equal_principal"), linear, bullet)
    out = np.where(meth == METHODS.index("equal_instalment"), np.clip(annuity, 0, 1), out)
    out[:, :] = np.where(t >= m, 0.0, out)
    result: Array = out
    return result


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Levers:
    risk_share: float
    rate_cap: float | None
    quota: float
    key_list_size: int


@dataclass(frozen=True)
class Assumptions:
    """What the projection assumes besides the levers (documented defaults, all stored)."""

    months: int = 24
    paths: int = 1000
    #: the band shown: the paths between these quantiles
    band: tuple[float, float] = (0.05, 0.95)
    #: new lending a year per firm on the key list (yuan): the demand side
    lending_per_key_firm: float = 3_000_000.0
    #: a new loan's term (months)
    new_term_months: int = 12
    #: the share of new loans a risk pool covers
    new_covered_share: float = 1.0
    #: a new loan's annual rate must cover funding, the bank's margin and its expected loss
    funding_cost: float = 0.0345
    margin: float = 0.01
    loss_given_default: float = 0.6
    #: the pool's balance at the start (payouts beyond it are a shortfall)
    pool_balance: float = 0.0
    #: a shared shock: each path's default hazards are multiplied by one Gamma factor of mean 1
    #: and this standard deviation (a good or bad spell for every loan at once); 0: none, the
    #: loans default independently given their segment's rate
    default_shock: float = 0.0


@dataclass(frozen=True)
class Band:
    mean: Array
    low: Array
    high: Array
    median: Array

    def as_json(self) -> dict[str, list[float]]:
        return {
            k: np.round(np.asarray(getattr(self, k), np.float64), 2).tolist()
            for k in ("mean", "low", "high", "median")
        }


@dataclass(frozen=True)
class Projection:
    """Month 1 … months of every figure, as bands over the paths (yuan)."""

    months: int
    paths: int
    seed: int
    band: tuple[float, float]
    balance: Band
    defaults: Band  # defaulted principal in the month
    cumulative_defaults: Band
    payouts: Band  # cumulative pool payouts
    new_lending: Array  # yuan per month (the same on every path)
    #: probability that cumulative payouts exceed the pool's balance by the horizon
    pool_shortfall: float
    #: segments lent to under the rate cap
    viable: Array = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "months": self.months,
            "paths": self.paths,
            "seed": self.seed,
            "band": list(self.band),
            "balance": self.balance.as_json(),
            "defaults": self.defaults.as_json(),
            "cumulative_defaults": self.cumulative_defaults.as_json(),
            "payouts": self.payouts.as_json(),
            "new_lending": np.round(self.new_lending, 2).tolist(),
            "pool_shortfall": round(float(self.pool_shortfall), 6),
            "viable": self.viable.astype(bool).tolist(),
        }


def _band(values: Array, band: tuple[float, float]) -> Band:
    """Mean, median and band over paths (axis 0) of (paths × months)."""
    low, high, median = np.quantile(values, [band[0], band[1], 0.5], axis=0)
    return Band(values.mean(axis=0), low, high, median)


def viable_segments(rates: Rates, levers: Levers, a: Assumptions) -> Array:
    """Segments whose break-even rate is within the cap (all, without a cap)."""
    annual_pd = 1 - (1 - rates.default_p) ** 12
    break_even = (
        a.funding_cost + a.margin + annual_pd * a.loss_given_default * (1 - levers.risk_share)
    )
    if levers.rate_cap is None:
        return np.ones(rates.segments, bool)
    out: Array = break_even <= levers.rate_cap + 1e-12
    return out


def _check(levers: Levers, a: Assumptions) -> None:
    if not 1 <= a.months <= 120:
        raise ValueError(f"months must be between 1 and 120, not {a.months}")
    if not 1 <= a.paths <= 100_000:
        raise ValueError(f"paths must be between 1 and 100000, not {a.paths}")
    if not 0 <= levers.risk_share <= 1:
        raise ValueError(f"risk_share must be between 0 and 1, not {levers.risk_share}")
    if levers.quota < 0 or levers.key_list_size < 0:
        raise ValueError("quota and key_list_size must not be negative")
    if not 0 <= a.default_shock <= 3:
        raise ValueError(f"default_shock must be between 0 and 3, not {a.default_shock}")
    if not 0 <= a.band[0] < a.band[1] <= 1:
        raise ValueError(f"the band must be two quantiles low < high in [0, 1], not {a.band}")


def _cohorts(
    rates: Rates, mix: Array, levers: Levers, a: Assumptions, pace: Array
) -> tuple[Book, Array, Array]:
    """New lending as cohorts: one per month × segment with a share of the mix; their counts
    follow the ledger's pace (`pace`: loans a month per segment, lever-free), their amounts the
    levers. Returns the cohorts as a book, each cohort's entry month and amount."""
    viable = viable_segments(rates, levers, a)
    demand = levers.key_list_size * a.lending_per_key_firm
    yearly = min(levers.quota, demand)
    share = np.where(viable, mix, 0.0)
    per_month = yearly / 12 * share  # by segment; the rationed share is not lent elsewhere
    lent = mix > 0
    segs = np.flatnonzero(lent)
    months = np.arange(1, a.months + 1)
    seg = np.tile(segs, months.size)
    entry = np.repeat(months, segs.size)
    count = np.tile(np.maximum(np.round(pace[segs]), 1).astype(np.int64), months.size)
    amount = np.tile(per_month[segs], months.size)
    n = seg.size
    book = Book(
        segment=seg,
        method=np.full(n, METHODS.index("interest_bullet"), np.int64),
        months_left=np.full(n, a.new_term_months, np.int64),
        covered=np.full(n, a.new_covered_share > 0, bool),
        count=count,
        balance=amount,
        annual_rate=np.zeros(n),
    )
    return book, entry, amount


def _draw(rng: np.random.Generator, n: Array, p: Array) -> Array:
    """Binomial(n, p) for every path (rows) and cell (columns): a lone loan by one uniform (a
    few nanoseconds), several by the binomial, drawn only where there are several. Which draws
    are made depends on the counts alone, never on amounts, so lever settings share them."""
    flat_n = n.ravel()
    flat_p = np.broadcast_to(p, n.shape).ravel()
    out: Array = ((rng.random(flat_n.size) < flat_p) & (flat_n == 1)).astype(n.dtype)
    several = np.flatnonzero(flat_n > 1)
    if several.size:
        out[several] = rng.binomial(flat_n[several], flat_p[several])
    return out.reshape(n.shape)


def project(
    book: Book,
    rates: Rates,
    mix: Array,
    pace: Array,
    levers: Levers,
    assumptions: Assumptions,
    seed: int,
) -> Projection:
    """Simulate the book and the new lending for `assumptions.months` months on
    `assumptions.paths` paths; `mix` is each segment's share of recent new lending (sums to 1,
    or all zero) and `pace` its loans a month (both lever-free, from the ledger)."""
    a = assumptions
    _check(levers, a)
    rng = np.random.default_rng(seed)
    new, entry, amount = _cohorts(rates, np.asarray(mix, np.float64), levers, a, pace)
    # every cell: the book's (entered at month 0) then the cohorts
    seg = np.concatenate([book.segment, new.segment]).astype(np.int64)
    count = np.concatenate([book.count, new.count]).astype(np.int64)
    start = np.concatenate([np.zeros(book.cells, np.int64), entry])
    # the share of a cell's defaulted principal a pool covers: the book's cells are covered or
    # not; a cohort, the programme's usual share of covered new loans
    covered = np.concatenate(
        [book.covered.astype(np.float64), np.full(new.cells, a.new_covered_share)]
    )
    per_loan = np.concatenate(
        [
            np.divide(book.balance, book.count, out=np.zeros(book.cells), where=book.count > 0),
            np.divide(amount, new.count, out=np.zeros(new.cells), where=new.count > 0),
        ]
    )
    sched = np.concatenate(
        [
            schedule(book.method, book.months_left, book.annual_rate, a.months),
            schedule(new.method, new.months_left, new.annual_rate, a.months),
        ]
    )
    p_d: Array = rates.default_p[seg] if seg.size else np.zeros(0)
    p_q = rates.prepay_p[seg] if seg.size else np.zeros(0)
    if a.default_shock > 0:  # drawn first: the same factors under every lever setting
        k = 1 / a.default_shock**2
        factor = rng.gamma(k, 1 / k, size=a.paths)
        p_d = 1 - (1 - p_d[None, :]) ** factor[:, None]  # paths × cells
    cells = seg.size
    paths = a.paths
    alive = np.zeros((paths, cells), np.int64)
    alive[:, start == 0] = count[start == 0]  # the book; cohorts enter in their month
    balance = np.zeros((paths, a.months))
    defaults = np.zeros((paths, a.months))
    payouts = np.zeros((paths, a.months))
    cover = covered * levers.risk_share
    rows = np.arange(cells)
    for t in range(1, a.months + 1):
        entering = start == t
        alive[:, entering] = count[entering]
        age_before = np.clip(t - 1 - start, 0, a.months)
        age_now = np.clip(t - start, 0, a.months)
        # the scheduled share owed at the month's start and end; whether a loan is still
        # running depends on the schedule only, never on amounts (so not on the levers)
        owed = np.where(entering, 1.0, np.where(start < t, sched[rows, age_before], 0.0))
        live = (owed > 0).astype(np.float64)
        before = owed * per_loan
        now = sched[rows, age_now] * per_loan
        d = _draw(rng, alive, p_d * live)
        q = _draw(rng, alive - d, p_q * live)
        alive -= d + q
        lost = d * before
        defaults[:, t - 1] = lost.sum(axis=1)
        payouts[:, t - 1] = (lost * cover).sum(axis=1)
        balance[:, t - 1] = (alive * np.where(start <= t, now, 0.0)).sum(axis=1)
    cumulative = np.cumsum(defaults, axis=1)
    paid = np.cumsum(payouts, axis=1)
    lending = np.zeros(a.months)
    np.add.at(lending, entry - 1, amount)
    return Projection(
        months=a.months,
        paths=paths,
        seed=seed,
        band=a.band,
        balance=_band(balance, a.band),
        defaults=_band(defaults, a.band),
        cumulative_defaults=_band(cumulative, a.band),
        payouts=_band(paid, a.band),
        new_lending=lending,
        pool_shortfall=float((paid[:, -1] > a.pool_balance).mean()) if paths else 0.0,
        viable=viable_segments(rates, levers, a),
    )


def mix_and_pace(
    segment: Array, principal: Array, n_segments: int, months: float
) -> tuple[Array, Array]:
    """Each segment's share of recent new lending and its loans a month, from one row per loan
    drawn in the last `months` months."""
    seg = np.asarray(segment, np.int64)
    amount = np.bincount(seg, weights=np.asarray(principal, np.float64), minlength=n_segments)
    total = amount.sum()
    mix = amount / total if total > 0 else np.zeros(n_segments)
    pace = np.bincount(seg, minlength=n_segments) / max(months, 1.0)
    return mix, pace.astype(np.float64)


def percentiles_text(values: Sequence[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)
