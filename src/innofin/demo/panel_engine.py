"""The annual indicator panel: every enterprise × every reported year, as (n, years) arrays.

The model, stated so that tests and readers can check it (medians are of the last year):

- revenue: lognormal by growth stage — start-up median 3 m yuan (σ 1.2), growth 25 m (σ 1.1),
  stable 120 m (σ 1.2) — times a field factor; over the years log revenue follows the firm's
  level minus its stage drift (start-ups grow ~30 %/yr, growth firms ~15 %, stable ~5 %) plus an
  AR(1) deviation (ρ 0.5, stationary σ 0.25). In the founding year revenue is pro rata.
- R&D intensity: the field's median (bio/medicine 12 %, electronics 8.5 % ... resources 4.5 %)
  × stage (start-up 1.8, growth 1.1, stable 0.8) × lognormal(σ 0.55) per firm, ±12 % a year.
- employees: 3 + revenue / revenue-per-employee (lognormal, median 600 k yuan); R&D staff share by
  field; high-tech product share Beta(5, 2.5).
- net margin: Normal by stage — start-up −12 % (σ 25 %), growth 5 % (σ 10 %), stable 8 % (σ 6 %),
  ±5 % a year;
  so most start-ups lose money and few stable firms do.
- patents: a Gamma(0.6)-mixed Poisson rate per firm (negative binomial counts, over-dispersed),
  accumulated as a stock; class I IP ⊇ invention patents; class II IP at about twice the rate.
- assets, liabilities, tax, equity rounds, technology contracts, R&D platforms and standards
  follow simple stage-dependent rules below.

Firms marked *hnte-oriented* (20 % of start-ups, 55 % of growth, 60 % of stable firms) have
R&D, staff and high-tech product shares comfortably above the high-tech enterprise thresholds;
the certification engine certifies them and makes sure the threshold holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from innofin.demo.engine import Scale, to_fen, year_start_days
from innofin.demo.reference import FIELDS
from innofin.kernel.codes import TechField

REVENUE_MEDIAN = np.array([3e6, 25e6, 120e6])  # yuan, by stage (start-up, growth, stable)
REVENUE_SIGMA = np.array([1.2, 1.1, 1.2])
REVENUE_CAP = 5e10  # yuan; keeps a rare draw from producing a firm larger than the economy
DRIFT_MEAN = np.array([0.30, 0.15, 0.05])
DRIFT_SD = np.array([0.12, 0.08, 0.05])
AR_RHO, AR_SD = 0.5, 0.25
RD_STAGE = np.array([1.8, 1.1, 0.8])
RD_SIGMA, RD_YEARLY = 0.55, 0.12
REVENUE_PER_EMPLOYEE = 6e5
MARGIN_MEAN = np.array([-0.12, 0.05, 0.08])
MARGIN_SD = np.array([0.25, 0.10, 0.06])
PATENT_STAGE = np.array([0.5, 1.0, 1.6])
PATENT_SHAPE = 0.6  # Gamma shape of the firm's patenting rate: variance ≫ mean
HNTE_ORIENTED = np.array([0.20, 0.55, 0.60])
EQUITY_ROUND = np.array([0.12, 0.08, 0.02])  # yearly probability of an equity round
EQUITY_MEDIAN = np.array([5e6, 20e6, 50e6])
ASSET_TURNOVER = np.array([1.6, 1.1, 1.0])  # assets / revenue, median by stage
PLATFORM_RATE = np.array([0.05, 0.3, 0.8])
STANDARD_RATE = np.array([0.02, 0.08, 0.2])

MONEY = (
    "revenue", "main_revenue", "rd_expense", "tech_contract_turnover", "hightech_revenue",
    "net_profit", "tax_paid", "total_assets", "total_liabilities", "equity_financing",
)  # fmt: skip


@dataclass
class Panel:
    """Indicator values of n firms over the reported years; money in int64 fen."""

    years: np.ndarray
    active: np.ndarray  # (n, Y): the firm existed in that year (founded on or before 31 Dec)
    values: dict[str, np.ndarray]  # (n, Y) each
    hnte_oriented: np.ndarray  # (n,)


def _by(stage: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The per-stage parameter of each firm."""
    return np.asarray(table[stage])


def simulate_panel(rng: np.random.Generator, scale: Scale, firm: dict[str, np.ndarray]) -> Panel:
    stage, field_idx, founded = firm["stage"], firm["field"], firm["founded"]
    n, years = len(stage), np.array(scale.years)
    y = len(years)
    col = np.newaxis
    profiles = list(FIELDS.values())
    f_revenue = np.array([p.revenue_factor for p in profiles])[field_idx]
    f_rd = np.array([p.rd_intensity for p in profiles])[field_idx]
    f_staff = np.array([p.rd_staff_share for p in profiles])[field_idx]
    f_patent = np.array([p.patent_factor for p in profiles])[field_idx]

    year_start = year_start_days(years)
    year_end = year_start_days(years + 1) - 1
    active = founded[:, col] <= year_end[col, :]
    days_in_year = np.clip(year_end[col, :] - founded[:, col] + 1, 0, None)
    pro_rata = np.clip(days_in_year / (year_end - year_start + 1)[col, :], 0.05, 1.0)
    age = np.clip((year_end[col, :] - founded[:, col]) / 365.25, 0.0, None)

    # Revenue: level (last year) − drift × years back + AR(1) deviation.
    level = np.log(_by(stage, REVENUE_MEDIAN) * f_revenue) + _by(stage, REVENUE_SIGMA) * (
        rng.standard_normal(n)
    )
    drift = rng.normal(_by(stage, DRIFT_MEAN), _by(stage, DRIFT_SD))
    dev = np.empty((n, y))
    dev[:, 0] = rng.normal(0.0, AR_SD, size=n)
    innovation_sd = AR_SD * np.sqrt(1 - AR_RHO**2)
    for t in range(1, y):  # one step per year, vectorised over firms
        dev[:, t] = AR_RHO * dev[:, t - 1] + rng.normal(0.0, innovation_sd, size=n)
    years_back = (y - 1 - np.arange(y))[col, :]
    full_revenue = np.minimum(np.exp(level[:, col] - drift[:, col] * years_back + dev), REVENUE_CAP)
    revenue = full_revenue * pro_rata

    # Latent shares; hnte-oriented firms sit comfortably above the certification thresholds.
    oriented = rng.random(n) < _by(stage, HNTE_ORIENTED)
    rd_base = np.clip(f_rd * _by(stage, RD_STAGE) * rng.lognormal(0.0, RD_SIGMA, n), 0.003, 1.5)
    staff_base = np.clip(f_staff * rng.lognormal(0.0, 0.4, n), 0.0, 0.9)
    hightech_base = rng.beta(5.0, 2.5, n)
    rd_base = np.where(oriented, np.maximum(rd_base, 0.055 * rng.uniform(1.0, 1.6, n)), rd_base)
    staff_base = np.where(oriented, np.maximum(staff_base, rng.uniform(0.12, 0.4, n)), staff_base)
    hightech_base = np.where(
        oriented, np.maximum(hightech_base, rng.uniform(0.62, 0.95, n)), hightech_base
    )
    rd_share = np.clip(rd_base[:, col] * rng.lognormal(0.0, RD_YEARLY, (n, y)), 0.002, 1.5)
    staff_share = np.clip(staff_base[:, col] * rng.lognormal(0.0, 0.08, (n, y)), 0.0, 0.95)
    hightech_share = np.clip(hightech_base[:, col] + rng.normal(0.0, 0.03, (n, y)), 0.0, 0.98)

    per_employee = REVENUE_PER_EMPLOYEE * rng.lognormal(0.0, 0.45, n)
    employees = np.rint(3 + full_revenue / per_employee[:, col] * rng.lognormal(0, 0.05, (n, y)))
    employees = np.minimum(employees, 500_000).astype(np.int64)
    rd_staff = np.floor(employees * staff_share).astype(np.int64)

    margin = rng.normal(_by(stage, MARGIN_MEAN), _by(stage, MARGIN_SD))
    margin = np.clip(margin[:, col] + rng.normal(0.0, 0.05, (n, y)), -3.0, 0.45)
    tax = revenue * (0.012 + 0.15 * np.maximum(margin, 0)) * rng.lognormal(0.0, 0.25, (n, y))
    turnover = rng.lognormal(np.log(_by(stage, ASSET_TURNOVER)), 0.45, n)
    assets = full_revenue * turnover[:, col] * rng.lognormal(0.0, 0.05, (n, y))
    leverage = np.clip(rng.beta(3.0, 3.5, n)[:, col] + rng.normal(0, 0.03, (n, y)), 0.02, 0.95)
    main_share = rng.beta(30.0, 2.0, n)

    rounds = rng.random((n, y)) < _by(stage, EQUITY_ROUND)[:, col]
    round_size = np.exp(
        np.log(_by(stage, EQUITY_MEDIAN))[:, col] + 0.9 * rng.standard_normal((n, y))
    )
    is_services = field_idx == list(FIELDS).index(TechField.HIGH_TECH_SERVICES)
    contracts = rng.random(n) < np.where(is_services, 0.6, 0.25)
    contract_share = np.minimum(rng.lognormal(np.log(0.06), 0.8, n)[:, col], 0.9)
    contract = np.where(
        contracts[:, col], revenue * contract_share * rng.lognormal(0, 0.3, (n, y)), 0
    )

    # Patents: negative binomial via a Gamma-distributed firm rate, accumulated as a stock.
    mean_rate = (
        0.6 * f_patent * _by(stage, PATENT_STAGE) * np.where(oriented, 1.6, 1.0)
        * (full_revenue[:, -1] / 1e7) ** 0.3
    )  # fmt: skip
    rate = rng.gamma(PATENT_SHAPE, mean_rate / PATENT_SHAPE)
    exposure0 = np.minimum(age[:, 0], 10.0) * 0.6  # years of patenting before the first year
    platform_mean = _by(stage, PLATFORM_RATE) * np.where(oriented, 1.5, 1.0)
    inventions = _stock(rng, rate * exposure0, rate, active)
    class1 = inventions + _stock(rng, 0.1 * rate * exposure0, 0.1 * rate, active)
    class2 = _stock(rng, (2.0 * rate + 0.5) * exposure0, 2.0 * rate + 0.5, active)
    platforms = _stock(rng, platform_mean, np.full(n, 0.04), active)
    standard_rate = _by(stage, STANDARD_RATE)
    standards = _stock(
        rng, standard_rate * 0.5 * np.minimum(age[:, 0], 10.0), standard_rate, active
    )

    values = {
        "revenue": to_fen(revenue),
        "main_revenue": to_fen(revenue * main_share[:, col]),
        "rd_expense": to_fen(revenue * rd_share),
        "rd_staff": rd_staff,
        "employees": employees,
        "invention_patents": inventions,
        "ip_class1": class1,
        "ip_class2": class2,
        "tech_contract_turnover": to_fen(contract),
        "hightech_revenue": to_fen(revenue * hightech_share),
        "net_profit": to_fen(revenue * margin),
        "tax_paid": to_fen(tax),
        "total_assets": to_fen(assets),
        "total_liabilities": to_fen(assets * leverage),
        "equity_financing": to_fen(np.where(rounds & active, round_size, 0.0)),
        "rd_platforms": platforms,
        "standards_drafted": standards,
    }
    return Panel(years=years, active=active, values=values, hnte_oriented=oriented)


def _stock(
    rng: np.random.Generator, initial_mean: np.ndarray, yearly: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """A count that starts at Poisson(initial_mean) and grows by Poisson(yearly) each active
    year after the first (a stock such as valid patents)."""
    first = rng.poisson(initial_mean)
    growth = rng.poisson(yearly[:, np.newaxis], size=(len(yearly), active.shape[1] - 1))
    growth = growth * active[:, 1:]
    return np.cumsum(np.column_stack([first, growth]), axis=1).astype(np.int64)
