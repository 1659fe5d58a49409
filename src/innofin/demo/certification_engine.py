"""Certifications that agree with the indicators: who is certified, when, and the evidence.

- High-tech enterprise (hnte, 3 years): hnte-oriented firms are (re)certified every 3 years on a
  firm-specific phase, from the year after they were founded; in the certification year their
  report is made to meet the thresholds *exactly* (integer fen arithmetic), so every certificate
  is justified by the data. A firm whose previous cycle started before the reported years also
  gets that earlier certificate (70 %), so zone high-tech counts do not ramp up artificially.
- Tech-based SME (tech_sme, 1 year): only firm-years within the size limits with R&D intensity
  ≥ 3 % and R&D staff ≥ 10 %; half of such firms take part, renewing 85 % of years.
- SRDI (srdi, 3 years): 15 % of growth and stable SMEs with revenue 10–400 m yuan;
  'little giant' for 15 % of those with revenue ≥ 50 m.
- Gazelle (1 year, last year only): revenue growing ≥ 20 % a year over the window, ≥ 10 m yuan,
  at most 10 years old; 35 % of those.

Rule values are the defaults of DOMAIN.md, held in `HnteRule` / `TechSmeRule` so a caller can
change them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from innofin.demo.engine import date_series, year_start_days
from innofin.demo.panel_engine import Panel

YUAN = 100  # fen per yuan
PRIOR_CYCLE_SHARE = 0.7  # hnte firms whose previous certificate began before the window
TECH_SME_TAKE_UP, TECH_SME_RENEWAL = 0.5, 0.85
SRDI_SHARE, LITTLE_GIANT_SHARE = 0.15, 0.15
GAZELLE_SHARE, GAZELLE_GROWTH = 0.35, 1.2
#: Report fields that are the evidence of a certificate: never missing in its issue year.
EVIDENCE: dict[str, tuple[str, ...]] = {
    "hnte": ("rd_expense", "hightech_revenue", "rd_staff"),
    "tech_sme": ("total_assets", "rd_expense", "rd_staff"),
}


@dataclass(frozen=True)
class HnteRule:
    """High-tech enterprise thresholds: R&D share by revenue band, product and staff shares."""

    small_revenue: int = 50_000_000  # yuan: below this, `rd_pct_small`
    large_revenue: int = 200_000_000  # yuan: above this, `rd_pct_large`
    rd_pct_small: int = 5
    rd_pct_medium: int = 4
    rd_pct_large: int = 3
    hightech_pct: int = 60
    rd_staff_pct: int = 10
    validity_years: int = 3

    def rd_pct(self, revenue_fen: np.ndarray) -> np.ndarray:
        return np.where(
            revenue_fen < self.small_revenue * YUAN,
            self.rd_pct_small,
            np.where(
                revenue_fen <= self.large_revenue * YUAN, self.rd_pct_medium, self.rd_pct_large
            ),
        )

    def enforce(self, values: dict[str, np.ndarray], mask: np.ndarray) -> None:
        """Raise R&D expense, high-tech revenue and R&D staff to the thresholds where `mask`."""
        revenue = values["revenue"]
        need_rd = -((-revenue * self.rd_pct(revenue)) // 100)  # ceiling, exact in fen
        need_ht = -((-revenue * self.hightech_pct) // 100)
        need_staff = -((-values["employees"] * self.rd_staff_pct) // 100)
        for name, need in (
            ("rd_expense", need_rd),
            ("hightech_revenue", need_ht),
            ("rd_staff", need_staff),
        ):
            values[name] = np.where(mask, np.maximum(values[name], need), values[name])


@dataclass(frozen=True)
class TechSmeRule:
    """Size limits of a tech-based SME, plus the R&D floors the demo applies."""

    max_employees: int = 500
    max_revenue: int = 200_000_000  # yuan
    max_assets: int = 200_000_000  # yuan
    min_rd_pct: int = 3
    min_rd_staff_pct: int = 10

    def qualifies(self, v: dict[str, np.ndarray]) -> np.ndarray:
        return (
            (v["employees"] <= self.max_employees)
            & (v["revenue"] <= self.max_revenue * YUAN)
            & (v["total_assets"] <= self.max_assets * YUAN)
            & (v["rd_expense"] * 100 >= v["revenue"] * self.min_rd_pct)
            & (v["rd_staff"] * 100 >= v["employees"] * self.min_rd_staff_pct)
        )


def certify(
    rng: np.random.Generator,
    panel: Panel,
    founded: np.ndarray,
    stage: np.ndarray,
    region_codes: np.ndarray,
    hnte: HnteRule = HnteRule(),  # frozen: safe as a default
    tech_sme: TechSmeRule = TechSmeRule(),
) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Certificates (local enterprise ids) and, per kind, the (n, Y) mask of firm-years in which
    a certificate of that kind was issued (on the evidence of that year's report).

    Mutates `panel.values` so that certified firm-years meet the hnte thresholds.
    """
    n, y = (int(d) for d in panel.active.shape)
    years = panel.years
    v = panel.values
    founded_year = (
        np.asarray(founded, dtype="datetime64[D]").astype("datetime64[Y]").astype(int)
    ) + 1970
    t_idx = np.arange(y)[np.newaxis, :]
    parts: list[dict[str, np.ndarray]] = []

    # hnte: one cycle phase per firm; certified in years (t - phase) % validity == 0.
    phase = rng.integers(0, hnte.validity_years, size=n)
    registered = years[np.newaxis, :] > founded_year[:, np.newaxis]
    hnte_year = (
        panel.hnte_oriented[:, np.newaxis]
        & ((t_idx - phase[:, np.newaxis]) % hnte.validity_years == 0)
        & registered
    )
    hnte.enforce(v, hnte_year)
    hnte_days = _days_in_year(rng, years, hnte_year.shape, month_from=10, month_to=12)
    parts.append(_certs("hnte", hnte_year, hnte_days, hnte.validity_years))
    # The previous cycle, begun before the first reported year (no report to check it against).
    first = np.argmax(hnte_year, axis=1)
    has_any = hnte_year.any(axis=1)
    prior_start = years[first] - hnte.validity_years
    prior = (
        has_any
        & (prior_start < years[0])
        & (prior_start > founded_year)
        & (rng.random(n) < PRIOR_CYCLE_SHARE)
    )
    renewed = hnte_days[np.arange(n), first].astype("datetime64[D]")
    month = renewed.astype("datetime64[M]")
    prior_from = (month - 12 * hnte.validity_years).astype("datetime64[D]") + (
        renewed - month.astype("datetime64[D]")
    )  # same day of the month, one validity earlier: the renewal follows without a gap
    parts.append(
        _rows(
            "hnte", np.flatnonzero(prior), prior_from[prior].astype(np.int64), hnte.validity_years
        )
    )

    # tech_sme: yearly, only inside the size limits (and R&D floors) of its year.
    joins = rng.random(n) < TECH_SME_TAKE_UP
    sme_year = (
        tech_sme.qualifies(v)
        & panel.active
        & joins[:, np.newaxis]
        & (rng.random((n, y)) < TECH_SME_RENEWAL)
    )
    sme_days = _days_in_year(rng, years, sme_year.shape, month_from=5, month_to=9)
    parts.append(_certs("tech_sme", sme_year, sme_days, 1, until_year_end=True))

    # srdi and little giants: growth/stable SMEs of a middling size, 3-year certificates.
    revenue_yuan = v["revenue"] // YUAN
    srdi_fit = (
        (stage[:, np.newaxis] >= 1) & (revenue_yuan >= 10_000_000) & (revenue_yuan <= 400_000_000)
    )
    srdi_year = srdi_fit & ((t_idx - phase[:, np.newaxis]) % 3 == 1) & panel.active
    srdi_year &= (rng.random(n) < SRDI_SHARE)[:, np.newaxis]
    srdi_days = _days_in_year(rng, years, srdi_year.shape, month_from=6, month_to=8)
    parts.append(_certs("srdi", srdi_year, srdi_days, 3))
    giant_draw = (rng.random(n) < LITTLE_GIANT_SHARE)[:, np.newaxis]
    giant_year = srdi_year & (revenue_yuan >= 50_000_000) & giant_draw
    parts.append(_certs("little_giant", giant_year, srdi_days, 3))

    # Gazelles: fast growers in the last year.
    # A selection rule, not a threshold anyone checks exactly: float arithmetic is fine here.
    growth_ok = v["revenue"][:, -1] >= v["revenue"][:, 0] * GAZELLE_GROWTH ** (y - 1)
    last_year_age = years[-1] - founded_year
    gazelle = (
        growth_ok & panel.active[:, 0] & (revenue_yuan[:, -1] >= 10_000_000) & (last_year_age <= 10)
        & (rng.random(n) < GAZELLE_SHARE)
    )  # fmt: skip
    gazelle_day = year_start_days(years[-1:])[0] + 180
    parts.append(_rows("gazelle", np.flatnonzero(gazelle), np.full(gazelle.sum(), gazelle_day), 1))

    return _table(parts, region_codes), {"hnte": hnte_year, "tech_sme": sme_year}


def _days_in_year(
    rng: np.random.Generator,
    years: np.ndarray,
    shape: tuple[int, ...],
    month_from: int,
    month_to: int,
) -> np.ndarray:
    """Random issue days between the first of `month_from` and the 28th of `month_to`."""
    first = np.array([np.datetime64(f"{yr}-{month_from:02d}-01") for yr in years]).astype(np.int64)
    last = np.array([np.datetime64(f"{yr}-{month_to:02d}-28") for yr in years]).astype(np.int64)
    return first[np.newaxis, :] + rng.integers(0, (last - first + 1)[np.newaxis, :], size=shape)


def _certs(
    kind: str, mask: np.ndarray, days: np.ndarray, validity: int, until_year_end: bool = False
) -> dict[str, np.ndarray]:
    firms, cols = np.nonzero(mask)
    return _rows(kind, firms, days[firms, cols], validity, until_year_end)


def _rows(
    kind: str, firms: np.ndarray, start: np.ndarray, validity: int, until_year_end: bool = False
) -> dict[str, np.ndarray]:
    """Certificate rows; valid `validity` years less a day, or to 31 Dec for yearly ones."""
    start_d = np.asarray(start, dtype=np.int64).astype("datetime64[D]")
    if until_year_end:
        until = (start_d.astype("datetime64[Y]") + 1).astype("datetime64[D]") - 1
    else:
        shifted = start_d.astype("datetime64[M]") + 12 * validity
        until = shifted.astype("datetime64[D]") + (start_d - start_d.astype("datetime64[M]")) - 1
    return {
        "firm": firms.astype(np.int64),
        "kind": np.full(len(firms), kind),
        "from": start_d.astype(np.int64),
        "until": until.astype(np.int64),
    }


def _table(parts: list[dict[str, np.ndarray]], region_codes: np.ndarray) -> pl.DataFrame:
    firm = np.concatenate([p["firm"] for p in parts])
    frame = pl.DataFrame(
        {
            "enterprise_id": firm + 1,
            "kind": np.concatenate([p["kind"] for p in parts]),
            "valid_from": date_series("valid_from", np.concatenate([p["from"] for p in parts])),
            "valid_until": date_series("valid_until", np.concatenate([p["until"] for p in parts])),
            "region": region_codes[firm],
        }
    ).sort("enterprise_id", "valid_from", "kind")
    seq = pl.int_range(1, pl.len() + 1).over(pl.col("valid_from").dt.year(), "kind")
    year = pl.col("valid_from").dt.year().cast(pl.String)
    number = (
        pl.when(pl.col("kind") == "hnte")
        .then(
            pl.concat_str(
                pl.lit("GR"),
                year,
                pl.col("region").str.slice(0, 2),
                seq.cast(pl.String).str.zfill(5),
            )
        )
        .when(pl.col("kind") == "tech_sme")
        .then(pl.concat_str(year, pl.col("region"), pl.lit("A"), seq.cast(pl.String).str.zfill(5)))
        .otherwise(None)
    )
    return frame.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("id"), number.alias("number")
    ).select("id", "enterprise_id", "kind", "number", "valid_from", "valid_until")
