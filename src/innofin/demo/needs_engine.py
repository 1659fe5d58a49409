"""Financing needs posted by the demo's enterprises, consistent with each firm.

Pure and vectorised over enterprises. The model, stated so a reader can judge it:

- Who posts: 8 % of firms (start-ups 12 %, growth 9 %, stable 5 %), more when the latest report
  shows a loss or liabilities above 60 % of assets (short of cash: ×1.6).
- Purpose by stage: start-ups mostly R&D and IP commercialisation, growth firms working
  capital, equipment and expansion, stable firms working capital and expansion.
- Amount: 5 × revenue^0.75 (the shape of the ledger's credit lines) × a purpose factor
  (expansion ×2, equipment ×1.5, R&D ×0.8) × lognormal noise, ×1.3 when short of cash; whole
  万元, 100,000 yuan to 300 million.
- Term by purpose: working capital 12 months, R&D 24, IP commercialisation 36, equipment 36 or
  60, expansion 36 or 60.
- Collateral offered: an IP pledge when the firm holds invention patents (80 %), receivables when
  revenue is above 5 million (60 %), real estate for stable firms (40 %), a guarantee (25 %);
  about a fifth offer nothing (pure credit).
- Equity acceptable: start-ups 55 %, growth 30 %, stable 8 %.
- Most they will pay: 3.5–5.5 % a year (start-ups +1 point); a quarter leave it open.
- Needed by: 20–180 days after the reference date; posted 0–60 days before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.engine import StepInput, date_series, day_number, json_text

POST_SHARE = np.array([0.12, 0.09, 0.05])  # by stage: start-up, growth, stable
SHORT_OF_CASH_FACTOR = 1.6
PURPOSES = ("working_capital", "rd", "equipment", "expansion", "ip_commercialisation")
PURPOSE_P = np.array(
    [
        [0.15, 0.35, 0.10, 0.05, 0.35],  # start-up
        [0.35, 0.15, 0.20, 0.20, 0.10],  # growth
        [0.45, 0.10, 0.15, 0.25, 0.05],  # stable
    ]
)
PURPOSE_SIZE = np.array([1.0, 0.8, 1.5, 2.0, 1.0])
PURPOSE_TERMS = ((12,), (24,), (36, 60), (36, 60), (36,))
EQUITY_P = np.array([0.55, 0.30, 0.08])
COLLATERAL_CODES = ("ip_pledge", "receivables", "real_estate", "guarantee")
WAN_FEN = 10_000 * 100
#: yuan asked per revenue^0.75 (a firm with 3 m yuan of revenue asks about 0.4 m)
NEED_SCALE = 5.0


def _latest(reports: pl.DataFrame, n: int, column: str) -> np.ndarray:
    """Each enterprise's latest reported value of `column` as float (NaN: none)."""
    latest = (
        reports.select("enterprise_id", "year", column)
        .drop_nulls(column)
        .sort("enterprise_id", "year")
        .group_by("enterprise_id", maintain_order=True)
        .agg(pl.col(column).last())
    )
    out = np.full(n, np.nan)
    out[latest["enterprise_id"].to_numpy() - 1] = latest[column].to_numpy().astype(np.float64)
    return out


def make_needs(inp: StepInput) -> Mapping[str, Any]:
    rng, scale = inp.rng, inp.scale
    firm = inp.extras["_firm"]
    stage = np.asarray(firm["stage"], dtype=np.int64)
    n = stage.size
    reports = inp.tables["indicator_report"]
    revenue = np.nan_to_num(_latest(reports, n, "revenue") / 100, nan=3e6)
    profit = _latest(reports, n, "net_profit") / 100
    assets = _latest(reports, n, "total_assets") / 100
    debts = _latest(reports, n, "total_liabilities") / 100
    patents = np.nan_to_num(_latest(reports, n, "invention_patents"))
    short = (profit < 0) | (debts > 0.6 * assets)
    share = POST_SHARE[stage] * np.where(short, SHORT_OF_CASH_FACTOR, 1.0)
    posts = np.flatnonzero(rng.random(n) < share)
    m = posts.size
    st = stage[posts]
    cum = PURPOSE_P.cumsum(axis=1)[st]
    purpose = (rng.random(m)[:, None] > cum).sum(axis=1)
    purpose = np.minimum(purpose, len(PURPOSES) - 1)
    size = (
        NEED_SCALE
        * np.clip(revenue[posts], 2e5, 2e10) ** 0.75
        * PURPOSE_SIZE[purpose]
        * rng.lognormal(0.0, 0.5, size=m)
        * np.where(short[posts], 1.3, 1.0)
    )
    amount_wan = np.clip(np.rint(size / 10_000), 10, 30_000).astype(np.int64)
    long_term = rng.random(m) < 0.5
    short_terms = np.array([t[0] for t in PURPOSE_TERMS])
    long_terms = np.array([t[-1] for t in PURPOSE_TERMS])
    term = np.where(long_term, long_terms[purpose], short_terms[purpose])
    offers = np.stack(
        [
            (patents[posts] > 0) & (rng.random(m) < 0.8),
            (revenue[posts] > 5e6) & (rng.random(m) < 0.6),
            (st == 2) & (rng.random(m) < 0.4),
            rng.random(m) < 0.25,
        ],
        axis=1,
    )
    codes = np.array(COLLATERAL_CODES)
    collateral = [json_text(codes[row].tolist()) for row in offers]
    rate = np.rint((rng.uniform(3.5, 5.5, size=m) + (st == 0) * 1.0) * 4) / 4  # quarter points
    open_rate = rng.random(m) < 0.25
    as_of = day_number(scale.as_of)
    needed = as_of + rng.integers(20, 181, size=m)
    posted = np.datetime64(scale.as_of.isoformat(), "s") - rng.integers(0, 60 * 86_400, size=m)
    frame = pl.DataFrame(
        {
            "id": np.arange(1, m + 1, dtype=np.int64),
            "enterprise_id": (posts + 1).astype(np.int64),
            "amount": amount_wan * WAN_FEN,
            "term_months": term.astype(np.int64),
            "purpose": np.array(PURPOSES)[purpose],
            "max_rate": pl.Series(np.rint(rate * 10_000).astype(np.int64)).set(
                pl.Series(open_rate), None
            ),
            "collateral_offered": collateral,
            "equity_acceptable": rng.random(m) < EQUITY_P[st],
            "status": np.full(m, "open"),
        }
    ).with_columns(
        date_series("needed_by", needed),
        pl.Series("posted_at", posted.astype("datetime64[us]")).dt.replace_time_zone("UTC"),
    )
    return {"financing_need": frame}
