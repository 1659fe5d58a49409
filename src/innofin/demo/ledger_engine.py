"""The demo's programme ledger: programmes and targets, agreements and commitments, risk pools,
credit lines, and five years of loans with their schedules, repayments, late payments, defaults,
write-offs, recoveries and pool claims.

Pure and vectorised (NumPy over loans, instalments and events; Python loops only over
programmes, pools, provinces, banks and years). Every cached value — a loan's balances, status,
class and default date, a credit line's and a commitment's ``used``, a pool's contributed, paid
out, recovered, balance and covered credit outstanding, a claim's recovered — is computed from the
generated events and limit entries exactly as `innofin.ledger.replay` derives it, so
``replay.check`` finds nothing to report.

The model, stated so a reader can judge it (rule values are defaults in the constants below):

- History: the five calendar years ending on the scale's reference date (2020–2024).
- Borrowers: 66 % of start-ups, 86 % of growth and 90 % of stable firms borrow at some point (at
  least half a year after founding); 45 % already bank with someone when the history starts, the
  others arrive year by year; 8 % a year stop borrowing. A borrower holds a sequence of credit
  lines (授信) of 12, 24 or 36 months, renewed after a short gap, mostly with the same bank (a
  bank of its province: head offices lend everywhere, branches in their province, sci-tech
  branches most). 45 % of the lines are revolving (随借随还: one drawdown after another, of 3–12
  months each, repaid in one payment after 25–100 % of the term, each repayment releasing the
  limit); the others have one drawdown (30 %: two) repaid by equal principal (等额本金) or
  monthly interest with principal at maturity (按月付息到期还本). Equal instalments (等额本息)
  are not generated: their level payment needs a 50-digit power that NumPy cannot reproduce to
  the fen. Pricing: the 1-year LPR on the line's opening day plus the product's spread (a
  start-up pays 30 bp more); ACT/360.
- Sizes: a line is sized on the firm's revenue (∝ revenue^0.75, lognormal noise), grown back
  along the firm's stage drift for earlier years. The amounts of each year's drawdowns are then
  scaled so that the outstanding principal at the end of each year grows by a rate drawn in
  17–27 % (the 15–30 % of the programmes' monitoring), reaching 6 million yuan per enterprise
  (with or without loans) at the reference date.
- Late payment and default by growth stage and size (start-ups default most, bigger firms least):
  an annual default probability of 4.5 % / 2.2 % / 1.0 % (start-up / growth / stable) × 1.3 /
  1.0 / 0.7 (revenue below 10 million / to 100 million / above), applied over the loan's term.
  A defaulting loan misses an instalment and pays nothing after it: special mention within 30
  days, defaulted and substandard at 91 days past due, doubtful at 271, loss at 361; 70 % are
  written off 1–10 months after that, 35 % see a partial collection first, half of the written-off
  ones recover 5–40 % later. A borrower gets no new credit after its first missed payment.
  Performing loans are late now and then (10 % / 7 % / 4 % of loans by stage, 3–75 days:
  special mention, then pass again when paid).
- Repayments are recorded aggregated: one ``repaid`` event per loan and calendar year, dated on
  the last instalment due that year that was paid, with the principal and interest of the
  instalments paid that year (revolving loans: one event at repayment). Year-end balances are
  therefore exact; between two year ends the ledger shows the year's instalments paid at once.
- Programmes: the national bank–government initiative (the lead bank's lines in the joined zones
  from September of the fourth-last year; a financing-balance target of 1 trillion yuan scaled by
  enterprises / 500,000, key enterprises, growth), a provincial special-credit programme (the
  largest province with a branch of a bank: its banks, from July of the last-but-one year;
  new-credit targets by technology field and period) and a zone programme (that province's
  largest zone and a local bank). Agreements carry commitments by period (and by field for the
  province); a line under a commitment reserves, releases and consumes its limit there as
  `ledger.service` does.
  Each programme has a risk pool (a rule template of `ledger.pool_engine`) that covers some of its
  lines; contributions are paid each January, enough to keep covered credit within the pool's
  leverage through the year; claims on defaulted covered loans are filed, approved and paid with
  the assessment of `pool_engine.assess_claim`, and recoveries are shared back.

Frames follow `demo.engine`'s conventions, with two exceptions the writer (`demo.service`)
resolves once it knows the id offsets: ``ledger_event.entity_id`` and ``limit_entry.account_id``
/ ``source_id`` are local ids of the table their ``entity`` / ``account`` / ``source`` names; ids
that ``ledger_event.data`` holds are carried in the columns ``_credit_line_id``, ``_pool_id``,
``_loan_id`` and ``_claim_id`` (see `event_data`), and ``programme.zone_ids`` /
``institution_ids`` are lists of local ids (see `id_list_json`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from innofin.db.frames import decimal_text
from innofin.demo.engine import StepInput, date_series, day_number, json_text, year_start_days
from innofin.demo.panel_engine import DRIFT_MEAN
from innofin.demo.reference import FIELDS
from innofin.ledger import pool_engine
from innofin.ledger.pool_engine import PoolRules

Array = np.ndarray
Cols = dict[str, np.ndarray]

HISTORY_YEARS = 5
#: outstanding principal at the reference date per enterprise of the demo (yuan)
OUTSTANDING_PER_ENTERPRISE = 6_000_000
#: yearly growth of the outstanding balance is drawn in this range
GROWTH_RANGE = (0.17, 0.27)
BORROWER_SHARE = np.array([0.66, 0.86, 0.90])  # by stage: start-up, growth, stable
STOCK_SHARE = 0.45  # of borrowers: already borrowing when the history starts
#: relative numbers of new borrowers arriving in each year of the history
ENTRY_WEIGHTS = np.array([1.0, 1.1, 1.25, 1.4, 1.55])
ATTRITION = 0.08  # a year
MIN_AGE_DAYS = 180  # a firm borrows at least half a year after it was founded
MAX_LINES = 8  # lines per borrower considered (5 years of 12-month lines, with room)
LINE_TERMS = np.array([12, 24, 36])
LINE_TERM_P = np.array([0.6, 0.25, 0.15])
MAX_RENEWAL_GAP = 45  # days between a line's maturity and the next line
SAME_BANK = 0.85  # a renewal stays with the borrower's bank
REVOLVING_SHARE = 0.45
SECOND_DRAW = 0.30  # share of non-revolving lines with a second drawdown
MAX_REVOLVING_DRAWS = 8
REVOLVING_MONTHS = np.array([3, 6, 12])
REVOLVING_MONTHS_P = np.array([0.3, 0.45, 0.25])
#: by loan term (6, 12, 24, 36 months): the share repaid by equal principal, not at maturity
EQUAL_PRINCIPAL = {6: 0.2, 12: 0.35, 24: 0.7, 36: 0.8}
STAGE_SPREAD_BP = np.array([30, 10, 0])
#: annual default probability by stage, and its factor by revenue (< 10 m, ≤ 100 m, > 100 m yuan)
ANNUAL_PD = np.array([0.045, 0.022, 0.010])
SIZE_BANDS = np.array([10e6, 100e6])
SIZE_PD = np.array([1.3, 1.0, 0.7])
LATE_SHARE = np.array([0.10, 0.07, 0.04])  # of loans, by stage (times the size factor)
LATE_DAYS = (3, 75)
COLLECTION_SHARE, WRITE_OFF_SHARE, RECOVERY_SHARE = 0.35, 0.70, 0.5
#: five-category thresholds of `ledger.schedule_engine.ClassificationRules`, as days past due
SUBSTANDARD_DPD, DOUBTFUL_DPD, LOSS_DPD = 91, 271, 361
MIN_LOAN_WAN = 10  # loans are whole 万元 (10,000 yuan), at least 100,000 yuan
LOAN_CAP_YUAN = 300e6
FEN = 100
WAN = 10_000 * FEN  # fen per 万元
MILLION = 1_000_000 * FEN
#: the 1-year loan prime rate (贷款市场报价利率) from each fixing, in 1/10,000
LPR_1Y = (
    ("2019-08-20", 425), ("2019-09-20", 420), ("2019-11-20", 415), ("2020-02-20", 405),
    ("2020-04-20", 385), ("2021-12-20", 380), ("2022-01-20", 370), ("2022-08-22", 365),
    ("2023-06-20", 355), ("2023-08-21", 345), ("2024-07-22", 335), ("2024-10-21", 310),
)  # fmt: skip
LOAN_PRODUCTS = {
    "pure_credit_loan": 3.0, "points_loan": 2.0, "ip_pledge_loan": 1.5,
    "venture_loan": 1.0, "secured_loan": 2.5,
}  # fmt: skip
GUARANTEED_SHARE = 0.15  # of lines that are not pure credit
#: the national initiative: 1 trillion yuan by the end of the year after the reference date
NATIONAL_BALANCE_TARGET = 10**12
NATIONAL_KEY_ENTERPRISES = 1_000
NATIONAL_REFERENCE_ENTERPRISES = 500_000
NATIONAL_ZONE_SHARE = 0.6
LEAD_BANK_BOOST = 1.6  # the initiative's bank is keener on tech firms
CENTRES = 10  # zones with a sci-tech financing service innovation centre
PROVINCE_BANKS = 12
ZONE_BANK_BOOST = 4.0
POOL_COVER = (0.5, 0.7, 1.0)  # share of each programme's lines its pool covers
COMMITTED_P2 = 0.9  # share of the provincial programme's lines under a commitment
#: contributions keep covered credit at most 100/125 of leverage × balance
POOL_MARGIN_PCT = 125
ZONE_POOL_LEVERAGE = 10  # how the zone pool (no leverage rule) is funded
ZONE_POOL_CAP = "5000000.00"
CONTRIBUTION_STEP = MILLION
MAKER, CHECKER = "demo:maker", "demo:checker"
BANK, PROGRAMME = "demo:bank", "demo:programme"

#: the order of events on one day (ids follow time, then this order)
PRIORITY = {
    "programme_created": 0, "agreement_signed": 1, "pool_opened": 2, "contributed": 3,
    "line_proposed": 4, "line_approved": 5, "drawn": 6, "repaid": 7, "classified": 8,
    "defaulted": 9, "written_off": 10, "recovered": 11, "claim_filed": 12,
    "claim_approved": 13, "claim_paid": 14, "recovery_shared": 16,
}  # fmt: skip
#: the table each ``entity`` / ``account`` / ``source`` of an event or limit entry names
ENTITY_TABLES = {
    "programme": "programme", "agreement": "agreement", "credit_line": "credit_line",
    "loan": "loan", "risk_pool": "risk_pool", "pool_claim": "pool_claim",
    "commitment": "agreement_commitment", "event": "ledger_event",
}  # fmt: skip
#: ids carried beside ``ledger_event.data`` (see `event_data`), in the order they are written
DATA_REFS = {
    "_credit_line_id": ("credit_line_id", "credit_line"),
    "_pool_id": ("pool_id", "risk_pool"),
    "_loan_id": ("loan_id", "loan"),
    "_claim_id": ("claim_id", "pool_claim"),
}
#: the tables the step makes, in write order
TABLES = (
    "programme", "programme_target", "agreement", "agreement_commitment", "risk_pool",
    "credit_line", "loan", "loan_instalment", "ledger_event", "limit_entry", "pool_claim",
)  # fmt: skip
EP, BULLET, REVOLVING = 0, 1, 2
METHOD_NAMES = ("equal_principal", "interest_bullet", "revolving")


# --------------------------------------------------------------------------- date helpers


def civil(days: Array) -> tuple[Array, Array, Array]:
    """(year, month, day) of day numbers since 1970-01-01, in integer arithmetic (the proleptic
    Gregorian algorithm of H. Hinnant; NumPy's datetime64 conversions are far slower)."""
    z = np.asarray(days, dtype=np.int64) + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def from_civil(year: Array, month: Array, day: Array) -> Array:
    """Day numbers of (year, month, day), the inverse of `civil`."""
    y = np.asarray(year, dtype=np.int64) - (np.asarray(month) <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((np.asarray(month) + 9) % 12) + 2) // 5 + np.asarray(day) - 1
    result: Array = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    return result


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _shift_months(year: Array, month: Array, day: Array, months: Array) -> Array:
    index = month - 1 + np.asarray(months, dtype=np.int64)
    y, m = year + index // 12, index % 12 + 1
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    length = _MONTH_DAYS[m - 1] + ((m == 2) & leap)
    return from_civil(y, m, np.minimum(day, length))


def add_months(days: Array, months: Array) -> Array:
    """`ledger.schedule_engine`'s month arithmetic on day numbers: the start's day of month,
    clamped to the last day of shorter months, counted from the start."""
    return _shift_months(*civil(days), months)


def year_of(days: Array) -> Array:
    return civil(days)[0]


def _day(year: int, month: int, day: int) -> int:
    return day_number(dt.date(year, month, day))


def _half_up(numerator: Array, denominator: int | Array) -> Array:
    """numerator / denominator rounded half-up (both non-negative integers)."""
    result: Array = (2 * numerator + denominator) // (2 * np.asarray(denominator))
    return result


def _moments(days: Array, hour: int) -> pl.Series:
    """Zone-aware UTC moments at `hour` on each day."""
    us = (np.asarray(days, dtype=np.int64) * 86_400 + hour * 3_600) * 1_000_000
    return pl.Series(us.astype("datetime64[us]")).dt.replace_time_zone("UTC")


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class _World:
    as_of: int
    first_year: int
    last_year: int
    # enterprises (0-based)
    stage: Array
    field: Array
    founded: Array
    zone: Array
    revenue: Array  # latest reported revenue, yuan (float)
    provinces: list[str]
    ent_province: Array
    field_codes: list[str]
    # zones (0-based)
    zone_province: Array
    zone_size: Array
    zone_level: Array
    zone_city: Array
    zone_name: Array
    # banks: rows of the institution table that are banks
    bank_id: Array  # local institution ids
    bank_role: Array
    bank_province: Array  # province index, -1 for head offices
    bank_brand: Array  # local id of the head office
    bank_name: Array
    # loan products
    product_id: Array
    product_bank: Array  # local institution id
    product_kind: Array
    product_spread: Array  # (low, high) basis points

    @property
    def years(self) -> Array:
        return np.arange(self.first_year, self.last_year + 1)

    @property
    def scale_factor(self) -> float:
        return self.stage.size / NATIONAL_REFERENCE_ENTERPRISES


def _world(inp: StepInput) -> _World:
    firm = inp.extras["_firm"]
    ent, zone = inp.tables["enterprise"], inp.tables["zone"]
    inst, roles = inp.tables["institution"], inp.extras["_institution_roles"]
    reports = inp.tables["indicator_report"]
    n = ent.height
    latest = (
        reports.sort("enterprise_id", "year")
        .group_by("enterprise_id", maintain_order=True)
        .agg(pl.col("revenue").drop_nulls().last())
    )
    revenue = np.full(n, 3e6)
    ids = latest["enterprise_id"].to_numpy() - 1
    values = latest["revenue"].to_numpy(allow_copy=True)
    ok = ~np.isnan(values.astype(np.float64))
    revenue[ids[ok]] = np.clip(values[ok].astype(np.float64) / FEN, 2e5, 2e10)
    provinces = zone["province"].unique(maintain_order=True).to_list()
    index = {p: i for i, p in enumerate(provinces)}
    zone_province = np.array([index[p] for p in zone["province"]], dtype=np.int64)
    zone_size = np.bincount(firm["zone"], minlength=zone.height)

    banks = inst.with_columns(roles["role"], roles["province"]).filter(pl.col("kind") == "bank")
    parent = dict(zip(inst["id"].to_list(), inst["parent_id"].to_list(), strict=True))
    brand = []
    for bid in banks["id"].to_list():  # one step per bank: the head office at the top
        while parent.get(bid) is not None:
            bid = parent[bid]
        brand.append(bid)
    product = inp.tables["product"].filter(pl.col("kind").is_in(list(LOAN_PRODUCTS)))
    low = product["rate_min"].fill_null(200_000).to_numpy() // 10_000
    high = product["rate_max"].fill_null(1_500_000).to_numpy() // 10_000
    return _World(
        as_of=day_number(inp.scale.as_of),
        first_year=inp.scale.as_of.year - HISTORY_YEARS + 1,
        last_year=inp.scale.as_of.year,
        stage=np.asarray(firm["stage"], dtype=np.int64),
        field=np.asarray(firm["field"], dtype=np.int64),
        founded=np.asarray(firm["founded"], dtype=np.int64),
        zone=np.asarray(firm["zone"], dtype=np.int64),
        revenue=revenue,
        provinces=provinces,
        ent_province=zone_province[firm["zone"]],
        field_codes=[f.value for f in FIELDS],
        zone_province=zone_province,
        zone_size=zone_size,
        zone_level=zone["level"].to_numpy(),
        zone_city=zone["city"].to_numpy(),
        zone_name=zone["name_zh"].to_numpy(),
        bank_id=banks["id"].to_numpy(),
        bank_role=banks["role"].to_numpy(),
        bank_province=np.array(
            [
                -1 if role == "head" else index.get(province or "", -2)
                for role, province in banks.select("role", "province").iter_rows()
            ],
            dtype=np.int64,
        ),
        bank_brand=np.array(brand, dtype=np.int64),
        bank_name=banks["name"].to_numpy(),
        product_id=product["id"].to_numpy(),
        product_bank=product["institution_id"].to_numpy(),
        product_kind=product["kind"].to_numpy(),
        product_spread=np.stack([low, np.maximum(low, high)], axis=1),
    )


def _pick(
    rng: np.random.Generator, group: Array, choices: Mapping[int, tuple[Array, Array]]
) -> Array:
    """For each row, one of its group's options drawn by weight (one draw per group)."""
    out = np.full(group.size, -1, dtype=np.int64)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for part in np.split(order, bounds):
        if part.size == 0:
            continue
        options, weights = choices[int(group[part[0]])]
        if options.size:
            out[part] = options[rng.choice(options.size, size=part.size, p=weights / weights.sum())]
    return out


# --------------------------------------------------------------------------- the programmes


@dataclass(frozen=True)
class _Plan:
    """Who takes part in the three programmes (zone indices, bank rows) and when."""

    lead_head: int  # bank row of the national initiative's bank (its head office)
    lead_brand: int  # the head office's local institution id
    national_zones: Array
    centres: Array  # zones with an innovation centre (a zone–bank agreement)
    centre_banks: Array
    province: int
    province_zones: Array
    province_banks: Array
    zone: int
    zone_bank: int
    starts: tuple[int, int, int]
    ends: tuple[int, int, int]
    centre_signed: int


def _plan(w: _World) -> _Plan:
    last = w.last_year
    lead_head = int(np.flatnonzero(w.bank_role == "head")[0])
    lead_brand = int(w.bank_id[lead_head])
    national = w.zone_level == "national"
    order = np.lexsort((-w.zone_size, ~national))  # national zones first, the largest first
    joined = np.sort(order[: max(1, int(np.ceil(NATIONAL_ZONE_SHARE * w.zone_size.size)))])
    centres = joined[np.argsort(-w.zone_size[joined], kind="stable")][:CENTRES]
    lead_rows = np.flatnonzero(w.bank_brand == lead_brand)
    centre_banks = np.array([_local_bank(w, lead_rows, int(z)) for z in centres], dtype=np.int64)
    # the province with most enterprises among those with a bank of their own (a branch)
    firms = np.bincount(w.ent_province, minlength=len(w.provinces)).astype(np.float64)
    local = np.isin(np.arange(len(w.provinces)), w.bank_province[w.bank_province >= 0])
    province = int(np.argmax(np.where(local, firms, firms - firms.sum() - 1)))
    province_zones = np.flatnonzero(w.zone_province == province)
    rank = np.array([{"tech_branch": 0, "branch": 1}.get(r, 2) for r in w.bank_role])
    serving = np.flatnonzero((w.bank_province == province) | (w.bank_province == -1))
    serving = serving[np.lexsort((serving, rank[serving]))]
    zone = int(province_zones[np.argmax(w.zone_size[province_zones])])
    return _Plan(
        lead_head=lead_head,
        lead_brand=lead_brand,
        national_zones=joined,
        centres=centres,
        centre_banks=centre_banks,
        province=province,
        province_zones=province_zones,
        province_banks=np.sort(serving[:PROVINCE_BANKS]),
        zone=zone,
        zone_bank=_local_bank(w, np.arange(w.bank_id.size), zone),
        starts=(_day(last - 3, 9, 15), _day(last - 1, 7, 1), _day(last - 2, 3, 1)),
        ends=(_day(last + 1, 12, 31), _day(last, 12, 31), _day(last, 12, 31)),
        centre_signed=_day(last - 2, 1, 20),
    )


def _local_bank(w: _World, rows: Array, zone: int) -> int:
    """Of the bank rows `rows`, the one nearest `zone`: a sci-tech branch in its city, then one
    in its province, a branch in its province, else a head office."""
    in_province = rows[w.bank_province[rows] == w.zone_province[zone]]
    tech = in_province[w.bank_role[in_province] == "tech_branch"]
    in_city = np.array([r for r in tech if str(w.zone_city[zone]) in str(w.bank_name[r])])
    branch = in_province[w.bank_role[in_province] == "branch"]
    heads = rows[w.bank_role[rows] == "head"]
    for found in (in_city, tech, branch, heads):
        if found.size:
            return int(found[0])
    return int(np.flatnonzero(w.bank_role == "head")[0])


# --------------------------------------------------------------------------- credit lines


def _lines(rng: np.random.Generator, w: _World, plan: _Plan) -> Cols:
    """Borrowers and their successive credit lines, with bank, product, tags and price."""
    n = w.stage.size
    history_start = _day(w.first_year, 1, 1)
    eligible = w.founded + MIN_AGE_DAYS <= w.as_of - 60
    ent = np.flatnonzero(eligible & (rng.random(n) < BORROWER_SHARE[w.stage]))
    nb = ent.size
    stock = (rng.random(nb) < STOCK_SHARE) & (w.founded[ent] + MIN_AGE_DAYS <= history_start)
    entry_year = rng.choice(w.years, size=nb, p=ENTRY_WEIGHTS / ENTRY_WEIGHTS.sum())
    entry_year = np.where(stock, w.first_year, entry_year)
    entry = year_start_days(entry_year) + rng.integers(0, 365, size=nb)
    entry = np.maximum(entry, w.founded[ent] + MIN_AGE_DAYS)
    stop = entry + np.rint(rng.exponential(365.25 / ATTRITION, size=nb)).astype(np.int64)
    terms = LINE_TERMS[rng.choice(LINE_TERMS.size, size=(nb, MAX_LINES), p=LINE_TERM_P)]
    gaps = rng.integers(0, MAX_RENEWAL_GAP + 1, size=(nb, MAX_LINES))
    step = np.rint(terms * 30.4375).astype(np.int64) + gaps
    opens = entry[:, None] + np.cumsum(step, axis=1) - step
    b, k = np.nonzero(opens <= np.minimum(stop, w.as_of - 10)[:, None])
    e = ent[b]
    nl = b.size
    lines: Cols = {"borrower": b, "enterprise": e, "opens": opens[b, k], "months": terms[b, k]}
    lines["matures"] = add_months(lines["opens"], lines["months"])
    lines["revolving"] = rng.random(nl) < REVOLVING_SHARE

    market = w.ent_province[ent].copy()  # the zone programme's zone is a market of its own
    market[w.zone[ent] == plan.zone] = len(w.provinces)
    main = _pick_banks(rng, w, plan, market)
    other = _pick_banks(rng, w, plan, market[b])
    lines["bank"] = np.where(rng.random(nl) < SAME_BANK, main[b], other)

    weight = np.array([LOAN_PRODUCTS[str(kind)] for kind in w.product_kind])
    offers = {
        int(r): (np.flatnonzero(w.product_bank == w.bank_id[r]), 0)
        for r in np.unique(lines["bank"])
    }
    choices = {r: (options, weight[options]) for r, (options, _) in offers.items()}
    product = _pick(rng, lines["bank"], choices)
    lines["product"] = product
    kind = np.where(product >= 0, w.product_kind[np.maximum(product, 0)], "pure_credit_loan")
    pure = np.isin(kind, ("pure_credit_loan", "points_loan"))
    guaranteed = ~pure & (rng.random(nl) < GUARANTEED_SHARE)
    first_loan = (k == 0) & ~stock[b]
    lines["tags"] = (
        first_loan * 1 + guaranteed * 2 + (kind == "ip_pledge_loan") * 4 + pure * 8
    ).astype(np.int64)
    spread = np.where(product[:, None] >= 0, w.product_spread[np.maximum(product, 0)], [20, 150])
    steps = (spread[:, 1] - spread[:, 0]) // 5 + 1
    lines["spread_bp"] = (
        spread[:, 0] + 5 * rng.integers(0, steps) + STAGE_SPREAD_BP[w.stage[e]]
    ).astype(np.int64)
    starts = np.array([day_number(dt.date.fromisoformat(d)) for d, _ in LPR_1Y])
    rates = np.array([r for _, r in LPR_1Y], dtype=np.int64)
    lines["rate"] = rates[np.maximum(np.searchsorted(starts, lines["opens"], "right") - 1, 0)]

    firm_base = w.revenue[ent] ** 0.75 * rng.lognormal(0.0, 0.45, size=nb)
    back = w.last_year - year_of(lines["opens"])
    lines["base"] = (
        firm_base[b] * np.exp(-DRIFT_MEAN[w.stage[e]] * back) * rng.lognormal(0.0, 0.25, size=nl)
    )
    return lines


def _pick_banks(rng: np.random.Generator, w: _World, plan: _Plan, market: Array) -> Array:
    """A bank row per market entry: head offices anywhere, branches in their province, the
    sci-tech branches most; the zone programme's bank is keener in its zone."""
    role_weight = {"head": 1.0, "branch": 2.0, "tech_branch": 3.0}
    base = np.array([role_weight.get(r, 1.0) for r in w.bank_role])
    base *= np.where(w.bank_brand == plan.lead_brand, LEAD_BANK_BOOST, 1.0)
    choices = {}
    for m in np.unique(market):
        province = plan.province if m == len(w.provinces) else int(m)
        rows = np.flatnonzero((w.bank_province == province) | (w.bank_province == -1))
        weights = base[rows].copy()
        if m == len(w.provinces):
            weights[rows == plan.zone_bank] *= ZONE_BANK_BOOST
        choices[int(m)] = (rows, weights)
    return _pick(rng, market, choices)


# --------------------------------------------------------------------------- loans and fates

NONE = 10**9  # a day number that never comes


def _loans(rng: np.random.Generator, w: _World, lines: Cols) -> Cols:
    """Drawdowns on every line, with their fate: performing, late for a while, or missing an
    instalment (and defaulting 91 days later)."""
    fixed = np.flatnonzero(~lines["revolving"])
    term = lines["months"][fixed]
    u = rng.random(fixed.size)
    first_months = np.where(
        term == 12,
        np.where(u < 0.8, 12, 6),
        np.where(term == 24, np.where(u < 0.5, 24, 12), np.where(u < 0.6, 36, 24)),
    )
    second = fixed[rng.random(fixed.size) < SECOND_DRAW]
    line = np.concatenate([fixed, second])
    drawn = np.concatenate(
        [
            lines["opens"][fixed] + rng.integers(0, 31, size=fixed.size),
            lines["opens"][second] + rng.integers(60, 241, size=second.size),
        ]
    )
    months = np.concatenate([first_months, np.where(rng.random(second.size) < 0.6, 12, 6)])
    share = np.concatenate(
        [rng.uniform(0.6, 1.0, size=fixed.size), rng.uniform(0.2, 0.5, size=second.size)]
    )
    ok = drawn <= np.minimum(lines["matures"][line], w.as_of)
    line, drawn, months, share = line[ok], drawn[ok], months[ok], share[ok]
    ep_share = np.select([months == m for m in EQUAL_PRINCIPAL], list(EQUAL_PRINCIPAL.values()))
    method = np.where(rng.random(line.size) < ep_share, EP, BULLET)
    firm = lines["enterprise"][line]
    pd_year, late_p = _risk(w, firm)
    default = rng.random(line.size) < 1 - (1 - pd_year) ** (months / 12)
    miss_seq = rng.integers(1, months + 1)
    late = ~default & (rng.random(line.size) < late_p)
    late_seq = rng.integers(1, months + 1)
    late_days = rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, size=line.size)
    scheduled: Cols = {
        "line": line, "drawn": drawn, "months": months, "method": method, "share": share,
        "default": default, "miss_seq": miss_seq, "late": late, "late_seq": late_seq,
        "late_days": late_days, "repay": np.full(line.size, NONE),
    }  # fmt: skip

    rev = np.flatnonzero(lines["revolving"])
    shape = (rev.size, MAX_REVOLVING_DRAWS)
    r_months = REVOLVING_MONTHS[rng.choice(REVOLVING_MONTHS.size, size=shape, p=REVOLVING_MONTHS_P)]
    pd_r, late_r = _risk(w, lines["enterprise"][rev])
    r_default = rng.random(shape) < 1 - (1 - pd_r[:, None]) ** (r_months / 12)
    r_late = ~r_default & (rng.random(shape) < late_r[:, None])
    r_late_days = rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, size=shape)
    used = rng.uniform(0.25, 1.0, size=shape)  # share of the term before repayment
    span = np.where(
        r_default,
        NONE,
        np.where(r_late, r_months * 31 + r_late_days, np.ceil(used * r_months * 31)),
    ).astype(np.int64)
    pause = span + rng.integers(3, 31, size=shape)
    first = lines["opens"][rev] + rng.integers(0, 31, size=rev.size)
    r_drawn = first[:, None] + np.cumsum(pause, axis=1) - pause
    cells = r_drawn <= np.minimum(lines["matures"][rev], w.as_of)[:, None]
    i, j = np.nonzero(cells)
    d = r_drawn[i, j]
    mat = add_months(d, r_months[i, j])
    repay = np.where(
        r_default[i, j],
        NONE,
        np.where(
            r_late[i, j],
            mat + r_late_days[i, j],
            d + np.maximum(1, np.floor(used[i, j] * (mat - d)).astype(np.int64)),
        ),
    )
    revolving: Cols = {
        "line": rev[i], "drawn": d, "months": r_months[i, j],
        "method": np.full(i.size, REVOLVING), "share": rng.uniform(0.3, 1.0, size=i.size),
        "default": r_default[i, j], "miss_seq": np.ones(i.size, dtype=np.int64),
        "late": r_late[i, j], "late_seq": np.ones(i.size, dtype=np.int64),
        "late_days": r_late_days[i, j], "repay": repay,
    }  # fmt: skip
    loans = {key: np.concatenate([scheduled[key], revolving[key]]) for key in scheduled}
    return _fates(rng, w, loans)


def _risk(w: _World, firm: Array) -> tuple[Array, Array]:
    """Annual default probability and the chance of a late episode, by stage and size."""
    size = SIZE_PD[np.searchsorted(SIZE_BANDS, w.revenue[firm])]
    return ANNUAL_PD[w.stage[firm]] * size, LATE_SHARE[w.stage[firm]] * size


def _fates(rng: np.random.Generator, w: _World, loans: Cols) -> Cols:
    """Dates of the missed instalment, the late episode, collection, write-off and recovery."""
    n = loans["drawn"].size
    revolving = loans["method"] == REVOLVING
    maturity = add_months(loans["drawn"], loans["months"])
    due_miss = np.where(revolving, maturity, add_months(loans["drawn"], loans["miss_seq"]))
    missed = loans["default"] & (due_miss <= w.as_of)
    loans["fate"] = np.where(missed, 2, 0)
    loans["miss_day"] = np.where(missed, due_miss, NONE)
    due_late = np.where(revolving, maturity, add_months(loans["drawn"], loans["late_seq"]))
    late = loans["late"] & ~missed & (due_late <= w.as_of)
    loans["fate"] = np.where(late, 1, loans["fate"])
    loans["late_day"] = np.where(late, due_late, NONE)
    loans["late_mark"] = rng.integers(1, np.minimum(loans["late_days"] - 1, 30) + 1)
    loans["miss_mark"] = rng.integers(1, 31, size=n)  # days to the special-mention class
    # a revolving loan flagged to default or be late only then, when it matures, before as_of
    loans["repay"] = np.where(revolving & missed, NONE, loans["repay"])
    default_day = loans["miss_day"] + SUBSTANDARD_DPD
    defaulted = missed & (default_day <= w.as_of)
    loans["default_day"] = np.where(defaulted, default_day, NONE)
    write_off = defaulted & (rng.random(n) < WRITE_OFF_SHARE)
    w_day = loans["miss_day"] + LOSS_DPD + rng.integers(10, 301, size=n)
    loans["write_off_day"] = np.where(write_off & (w_day <= w.as_of), w_day, NONE)
    c_day = default_day + rng.integers(30, 241, size=n)
    collect = defaulted & (rng.random(n) < COLLECTION_SHARE) & (c_day <= w.as_of)
    loans["collection_day"] = np.where(collect & (c_day < loans["write_off_day"]), c_day, NONE)
    loans["collection_share"] = rng.uniform(0.1, 0.5, size=n)
    r_day = loans["write_off_day"] + rng.integers(60, 601, size=n)
    recover = (loans["write_off_day"] < NONE) & (rng.random(n) < RECOVERY_SHARE)
    loans["recovery_day"] = np.where(recover & (r_day <= w.as_of), r_day, NONE)
    loans["recovery_share"] = rng.uniform(0.05, 0.40, size=n)
    ongoing = late & (loans["late_day"] + loans["late_days"] > w.as_of)
    due_by_end = _due_by(loans, w.last_year)
    loans["paid_upto"] = np.where(
        missed,
        loans["miss_seq"] - 1,
        np.where(ongoing, loans["late_seq"] - 1, due_by_end),
    )
    return loans


def _due_by(loans: Cols, year: int) -> Array:
    """How many monthly instalments of each loan fall due by 31 December of `year`."""
    if "drawn_ym" not in loans:
        y, m, _ = civil(loans["drawn"])
        loans["drawn_ym"] = y * 12 + m
    result: Array = np.clip(12 * year + 12 - loans["drawn_ym"], 0, loans["months"])
    return result


def _after_first_miss(lines: Cols, loans: Cols) -> tuple[Cols, Cols]:
    """No new credit after a borrower's first missed payment: later lines and drawdowns go."""
    first_miss = np.full(int(lines["borrower"].max(initial=-1)) + 1, NONE)
    np.minimum.at(first_miss, lines["borrower"][loans["line"]], loans["miss_day"])
    keep_line = lines["opens"] <= first_miss[lines["borrower"]]
    keep_loan = keep_line[loans["line"]] & (
        loans["drawn"] <= first_miss[lines["borrower"][loans["line"]]]
    )
    lines = {key: value[keep_line] for key, value in lines.items()}
    renumber = np.cumsum(keep_line) - 1
    loans = {key: value[keep_loan] for key, value in loans.items()}
    loans["line"] = renumber[loans["line"]]
    return lines, loans


def _order(lines: Cols, loans: Cols) -> tuple[Cols, Cols]:
    """Lines by opening day, loans by drawdown day: ids follow time."""
    by_open = np.lexsort((lines["enterprise"], lines["opens"]))
    lines = {key: value[by_open] for key, value in lines.items()}
    position = np.empty_like(by_open)
    position[by_open] = np.arange(by_open.size)
    loans["line"] = position[loans["line"]]
    by_draw = np.lexsort((loans["line"], loans["drawn"]))
    return lines, {key: value[by_draw] for key, value in loans.items()}


# --------------------------------------------------------------------------- amounts


def _outstanding_share(loans: Cols, year: int) -> Array:
    """Each loan's outstanding principal at the end of `year` as a share of its principal (the
    model of the fen-exact computation below, before amounts exist)."""
    day = _day(year, 12, 31)
    months = loans["months"]
    paid = np.minimum(_due_by(loans, year), loans["paid_upto"])
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


def _year_scales(rng: np.random.Generator, w: _World, raw: Array, loans: Cols) -> Array:
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


def _principals(raw: Array, scales: Array, cohort: Array) -> Array:
    wan = np.rint(raw * scales[cohort] / 10_000)
    result: Array = np.clip(wan, MIN_LOAN_WAN, LOAN_CAP_YUAN / 10_000).astype(np.int64) * WAN
    return result


# --------------------------------------------------------------------------- schedules


def instalments(drawn: Array, principal: Array, rate: Array, months: Array, method: Array) -> Cols:
    """Every loan's schedule as `ledger.schedule_engine.build_schedule` makes it (ACT/360), in
    fen: equal principal, interest with principal at maturity, or one revolving instalment.

    `rate` is the annual rate in 1/10,000; rows are ordered by loan, then ``seq``."""
    rows = np.where(method == REVOLVING, 1, months)
    loan = np.repeat(np.arange(drawn.size), rows)
    starts = np.cumsum(rows) - rows
    seq = np.arange(int(rows.sum())) - np.repeat(starts, rows) + 1
    m, kind = np.repeat(months, rows), np.repeat(method, rows)
    p, r = np.repeat(principal, rows), np.repeat(rate, rows)
    revolving = kind == REVOLVING
    y, mo, d = (np.repeat(part, rows) for part in civil(drawn))
    due = _shift_months(y, mo, d, np.where(revolving, m, seq))
    previous = np.r_[0, due[:-1]]  # the due date before (each counted from the start)
    previous[starts] = drawn
    level = _half_up(p, m)
    last = revolving | (seq == m)
    ep_before = np.maximum(p - (seq - 1) * level, 0)
    before = np.where(kind == EP, ep_before, p)
    part = np.where(
        kind == EP, np.where(last, ep_before, np.minimum(level, ep_before)), np.where(last, p, 0)
    )
    interest = _half_up(before * r * (due - previous), 3_600_000)
    return {"loan": loan, "seq": seq, "due": due, "principal": part, "interest": interest}


def _accrued(principal: Array, rate: Array, start: Array, end: Array) -> Array:
    return _half_up(principal * rate * (end - start), 3_600_000)


# --------------------------------------------------------------------------- events


ENTITIES = ("programme", "agreement", "credit_line", "loan", "risk_pool", "pool_claim")
KINDS = tuple(PRIORITY)
ACTORS = (MAKER, CHECKER, BANK, PROGRAMME)
#: ``data`` of an event part: one text for all, or (distinct texts, index of each row's text)
Data = str | tuple[Sequence[str], Array]


def _strings(names: Sequence[str], codes: Array) -> pl.Series:
    """A string column from codes into `names` (far cheaper than a list of Python strings)."""
    return pl.Series(list(names), dtype=pl.String).gather(np.asarray(codes, dtype=np.int64))


class _Events:
    """Ledger events collected part by part as arrays; `key`s link limit entries to them."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Array]] = []
        self.texts: list[str] = ["{}"]
        self.count = 0

    def add(
        self,
        entity: str,
        entity_id: Array,
        kind: str,
        day: Array,
        actor: str,
        *,
        amount: Array | None = None,
        principal: Array | None = None,
        interest: Array | None = None,
        data: Data = "{}",
        refs: Mapping[str, Array] | None = None,
        seq: Array | None = None,
        priority: int | None = None,
    ) -> Array:
        ids = np.asarray(entity_id, dtype=np.int64)
        n = ids.size
        keys = np.arange(self.count, self.count + n, dtype=np.int64)
        self.count += n
        if isinstance(data, str):
            text = np.full(n, len(self.texts))
            self.texts.append(data)
        else:
            text = len(self.texts) + np.asarray(data[1], dtype=np.int64)
            self.texts += list(data[0])

        def money(values: Array | None) -> Array:
            return np.full(n, -1) if values is None else np.asarray(values, dtype=np.int64)

        part = {
            "entity": np.full(n, ENTITIES.index(entity)),
            "entity_id": ids,
            "kind": np.full(n, KINDS.index(kind)),
            "day": np.asarray(day, dtype=np.int64),
            "amount": money(amount),
            "principal": money(principal),
            "interest": money(interest),
            "text": text,
            "actor": np.full(n, ACTORS.index(actor)),
            "priority": np.full(n, PRIORITY[kind] if priority is None else priority),
            "seq": np.zeros(n, dtype=np.int64) if seq is None else np.asarray(seq),
            "key": keys,
        }
        for column in DATA_REFS:
            given = (refs or {}).get(column)
            part[column] = np.full(n, -1) if given is None else np.asarray(given, dtype=np.int64)
        self.parts.append(part)
        return keys

    def frame(self) -> tuple[pl.DataFrame, Array]:
        """The events in time order (then by kind, entity and sequence), with ids; and the id
        of each key."""
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        key = np.zeros(cols["day"].size, dtype=np.int64)
        bits = 0
        for column in ("day", "priority", "entity_id", "seq"):  # one int64 key, in this order
            value = cols[column] - cols[column].min(initial=0)
            width = int(value.max(initial=0)).bit_length()
            key, bits = (key << width) | value, bits + width
        if bits > 62:
            raise ValueError("too many events for the sort key")
        order = np.argsort(key, kind="stable")  # ties: the order the events were added
        ids = np.arange(1, order.size + 1, dtype=np.int64)
        id_of = np.empty(self.count, dtype=np.int64)
        id_of[cols["key"][order]] = ids
        day = cols["day"][order]
        frame = pl.DataFrame(
            {
                "id": ids,
                "entity": _strings(ENTITIES, cols["entity"][order]),
                "entity_id": cols["entity_id"][order],
                "kind": _strings(KINDS, cols["kind"][order]),
                "effective_on": date_series("effective_on", day),
                **{c: _nullable(cols[c][order]) for c in ("amount", "principal", "interest")},
                "data": _strings(self.texts, cols["text"][order]),
                **{c: _nullable(cols[c][order]) for c in DATA_REFS},
                "actor": _strings(ACTORS, cols["actor"][order]),
                "recorded_at": _moments(day, 10),
            }
        )
        return frame, id_of


def _json_pairs(pairs: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """A JSON object of string values from (key, expression) pairs."""
    parts: list[pl.Expr] = [pl.lit("{")]
    for i, (key, value) in enumerate(pairs):
        parts += [pl.lit(("," if i else "") + f'"{key}":"'), value, pl.lit('"')]
    return pl.concat_str([*parts, pl.lit("}")])


def event_data(frame: pl.DataFrame, offsets: Mapping[str, int]) -> pl.Series:
    """``ledger_event.data`` with the ids it names (``_credit_line_id`` …, shifted by the
    table's offset) written first, as `ledger.store.record_event` orders them."""
    pieces = []
    for column, (key, table) in DATA_REFS.items():
        value = (pl.col(column) + offsets.get(table, 0)).cast(pl.String)
        text = pl.concat_str(pl.lit(f'"{key}":'), value, pl.lit(","))
        pieces.append(pl.when(pl.col(column).is_not_null()).then(text).otherwise(pl.lit("")))
    inner = pl.col("data").str.strip_prefix("{").str.strip_suffix("}")
    body = pl.concat_str([*pieces, inner]).str.strip_suffix(",")
    return frame.select(pl.concat_str(pl.lit("{"), body, pl.lit("}")).alias("data")).to_series()


def id_list_json(frame: pl.DataFrame, column: str, offset: int) -> pl.Series:
    """A list column of local ids as the JSON list of stored ids."""
    texts = pl.col(column).list.eval((pl.element() + offset).cast(pl.String)).list.join(",")
    return frame.select(pl.concat_str(pl.lit("["), texts, pl.lit("]")).alias(column)).to_series()


# --------------------------------------------------------------------------- the loan book


def _repayments(w: _World, loans: Cols, inst: Cols) -> Cols:
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


def _losses(loans: Cols, repaid: Cols) -> None:
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


CATEGORY_NAMES = ("pass", "special_mention", "substandard", "doubtful", "loss")


def _classifications(w: _World, loans: Cols) -> Cols:
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


def _peaks(group: Array, day: Array, delta: Array, n_groups: int) -> tuple[Array, Cols]:
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


# --------------------------------------------------------------------------- claims


def _pool_rules() -> list[PoolRules]:
    return [
        pool_engine.province_direct_guaranteed_bonus_rules(
            contributors={"national": "0.5", "province": "0.5"}, leverage="15"
        ),
        pool_engine.early_province_county_rules(Decimal("0.40")),
        pool_engine.zone_pool_rules(cap_per_institution_year=ZONE_POOL_CAP),
    ]


def _e4(value: Decimal) -> int:
    scaled = value * 10_000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"rates of the demo pools have at most 4 decimals, not {value}")
    return int(scaled)


def _fen(value: Decimal) -> int:
    return int(value * FEN)


def split_fen(total: Array, weights: Array, names: Sequence[str]) -> Array:
    """`pool_engine.split_pro_rata` vectorised: rows of `total` fen split by the rows (or one
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
    rules: Sequence[PoolRules], pool: Array, tags: Array, loss: Array, group: Array
) -> Cols:
    """`pool_engine.assess_claim` for every claim (all eligible: the demo's covered firms are
    in the candidate pool), in filing order; `group` numbers (pool, institution, year)."""
    n = pool.size
    nominal, maximum = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    per_loan, per_year = np.full(n, -1), np.full(n, -1)
    head = np.empty(n, dtype=object)
    pattern = pool * 16 + tags
    for key in np.unique(pattern):  # one assessment per (pool, tag set): its rates and bonuses
        p, bits = divmod(int(key), 16)
        rule = rules[p]
        names = frozenset(t for i, t in enumerate(TAG_NAMES) if bits >> i & 1)
        sample = pool_engine.assess_claim(
            rule,
            pool_engine.ClaimInput(
                principal_loss=Decimal("100.00"),
                tags=names,
                guaranteed="guaranteed" in names,
                in_candidate_pool=True,
            ),
        ).model_dump(mode="json")
        rows = pattern == key
        nominal[rows] = _e4(Decimal(sample["nominal_rate"]))
        maximum[rows] = _e4(rule.max_coverage)
        if rule.cap_per_loan is not None:
            per_loan[rows] = _fen(rule.cap_per_loan)
        if rule.cap_per_institution_year is not None:
            per_year[rows] = _fen(rule.cap_per_institution_year)
        first = ("eligible", "reasons", "nominal_rate", "bonuses", "coverage_rate")
        head[rows] = json_text({k: sample[k] for k in first})[:-1] + ","
    uncapped = _half_up(loss * nominal, 10_000)
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


TAG_NAMES = ("first_loan", "guaranteed", "ip_pledge", "pure_credit")  # bits 0..3, sorted
TAG_JSON = [json_text([t for i, t in enumerate(TAG_NAMES) if bits >> i & 1]) for bits in range(16)]


def _split_texts(names: Sequence[str], parts: Array) -> pl.Series:
    """JSON objects {contributor: "yuan"} from rows of fen parts (one column per name)."""
    frame = pl.DataFrame({f"_p{i}": parts[:, i].astype(np.int64) for i in range(len(names))})
    texts = frame.select(decimal_text(f"_p{i}", 2) for i in range(len(names)))
    pairs = [(name, pl.col(f"_p{i}")) for i, name in enumerate(names)]
    return texts.select(_json_pairs(pairs).alias("split")).to_series()


# --------------------------------------------------------------------------- agreements


@dataclass(frozen=True)
class _Agreement:
    kind: str
    programme: int  # 0-based
    bank: int  # bank row
    counterparty: str
    zone: int  # zone index or -1
    signed: int
    periods: tuple[tuple[int, int], ...]
    by_field: bool


def _agreements(w: _World, plan: _Plan) -> list[_Agreement]:
    last, s = w.last_year, plan.starts

    def yearly(first: int, first_year: int, last_year: int) -> tuple[tuple[int, int], ...]:
        head = ((first, _day(first_year, 12, 31)),)
        rest = tuple((_day(y, 1, 1), _day(y, 12, 31)) for y in range(first_year + 1, last_year + 1))
        return head + rest

    province = w.provinces[plan.province]
    found = [
        _Agreement(
            "government_bank", 0, plan.lead_head, "示例国家科技金融服务中心", -1, s[0],
            yearly(s[0], last - 3, last + 1), False,
        )
    ]  # fmt: skip
    found += [
        _Agreement(
            "zone_bank", 0, int(bank), f"{w.zone_name[zone]}管委会", int(zone), plan.centre_signed,
            yearly(plan.centre_signed, last - 2, last + 1), False,
        )
        for zone, bank in zip(plan.centres, plan.centre_banks, strict=True)
    ]  # fmt: skip
    found += [
        _Agreement(
            "government_bank", 1, int(bank), f"示例{province}科学技术厅", -1, s[1],
            yearly(s[1], last - 1, last), True,
        )
        for bank in plan.province_banks
    ]  # fmt: skip
    found.append(
        _Agreement(
            "zone_bank", 2, plan.zone_bank, f"{w.zone_name[plan.zone]}管委会", plan.zone, s[2],
            yearly(s[2], last - 2, last), False,
        )
    )  # fmt: skip
    return found


def _assign(rng: np.random.Generator, w: _World, plan: _Plan, lines: Cols) -> list[_Agreement]:
    """Each line's programme, agreement commitment (agreement, field, period) and pool."""
    ent, bank, opens = lines["enterprise"], lines["bank"], lines["opens"]
    zone = w.zone[ent]
    s, e = plan.starts, plan.ends
    p3 = (bank == plan.zone_bank) & (zone == plan.zone) & (opens >= s[2]) & (opens <= e[2])
    p2 = (
        ~p3
        & np.isin(bank, plan.province_banks)
        & (w.ent_province[ent] == plan.province)
        & (opens >= s[1])
        & (opens <= e[1])
    )
    p1 = (
        ~p3
        & ~p2
        & (w.bank_brand[bank] == plan.lead_brand)
        & np.isin(zone, plan.national_zones)
        & (opens >= s[0])
        & (opens <= e[0])
    )
    programme = np.select([p1, p2, p3], [0, 1, 2], -1)
    lines["programme"] = programme
    agreements = _agreements(w, plan)
    agreement = np.full(opens.size, -1)
    for k, (z, b) in enumerate(zip(plan.centres, plan.centre_banks, strict=True)):
        agreement[p1 & (zone == z) & (bank == b) & (opens >= plan.centre_signed)] = 1 + k
    agreement[p1 & (agreement < 0) & (bank == plan.lead_head)] = 0
    first_p2 = 1 + plan.centres.size
    by_bank = np.full(w.bank_id.size, -1)
    by_bank[plan.province_banks] = first_p2 + np.arange(plan.province_banks.size)
    committed = p2 & (rng.random(opens.size) < COMMITTED_P2)
    agreement[committed] = by_bank[bank[committed]]
    agreement[p3] = len(agreements) - 1
    period = np.full(opens.size, -1)
    for a, spec in enumerate(agreements):  # one step per agreement
        rows = agreement == a
        starts = np.array([p[0] for p in spec.periods])
        period[rows] = np.searchsorted(starts, opens[rows], "right") - 1
    by_field = np.array([a.by_field for a in agreements] + [False])
    lines["agreement"] = agreement
    lines["commitment_field"] = np.where(by_field[agreement], w.field[ent], -1)
    lines["period"] = period
    cover = np.array(POOL_COVER)[np.maximum(programme, 0)]
    lines["pool"] = np.where((programme >= 0) & (rng.random(opens.size) < cover), programme, -1)
    return agreements


def _commitment_code(agreement: Array, field: Array, period: Array) -> Array:
    result: Array = (np.asarray(agreement) * 100 + np.asarray(field) + 1) * 100 + period
    return result


def _commitments(
    rng: np.random.Generator, agreements: Sequence[_Agreement], lines: Cols, as_of: int
) -> Cols:
    """Commitment rows (agreement × field × period) sized on the lines they carry; the line's
    ``commitment`` (row index or -1)."""
    rows: list[tuple[int, int, int, int, int]] = []
    for a, spec in enumerate(agreements):
        for f in range(len(FIELDS)) if spec.by_field else (-1,):
            rows += [(a, f, p, start, end) for p, (start, end) in enumerate(spec.periods)]
    table = np.array(rows, dtype=np.int64).reshape(-1, 5)
    code = _commitment_code(table[:, 0], table[:, 1], table[:, 2])
    on = lines["agreement"] >= 0
    line_code = _commitment_code(lines["agreement"], lines["commitment_field"], lines["period"])
    index = np.where(on, np.searchsorted(code, line_code), -1)
    if not (code[index[on]] == line_code[on]).all():
        raise AssertionError("a line's commitment is missing")
    lines["commitment"] = index
    used = np.bincount(index[on], weights=lines["limit"][on], minlength=code.size).astype(np.int64)
    headroom = rng.uniform(0.70, 0.95, size=code.size)
    amount = np.maximum(np.ceil(used / headroom / MILLION), 10).astype(np.int64) * MILLION
    for i in range(1, code.size):  # a future period is promised 20 % more than the one before
        same = table[i, 0] == table[i - 1, 0] and table[i, 1] == table[i - 1, 1]
        if same and table[i, 3] > as_of:
            amount[i] = -(-amount[i - 1] * 12 // (10 * MILLION)) * MILLION
    return {
        "agreement": table[:, 0], "field": table[:, 1], "start": table[:, 3],
        "end": table[:, 4], "amount": amount, "used": used,
    }  # fmt: skip


# --------------------------------------------------------------------------- the whole step


def make_ledger(inp: StepInput) -> Mapping[str, Any]:
    rng = inp.rng
    w = _world(inp)
    plan = _plan(w)
    lines = _lines(rng, w, plan)
    loans = _loans(rng, w, lines)
    lines, loans = _order(*_after_first_miss(lines, loans))
    raw = lines["base"][loans["line"]] * loans["share"]
    scales = _year_scales(rng, w, raw, loans)
    cohort = year_of(loans["drawn"]) - w.first_year
    loans["principal"] = _principals(raw, scales, cohort)
    loans["rate"] = (lines["rate"] + lines["spread_bp"])[loans["line"]]
    inst = instalments(
        loans["drawn"], loans["principal"], loans["rate"], loans["months"], loans["method"]
    )
    repaid = _repayments(w, loans, inst)
    _losses(loans, repaid)
    classes = _classifications(w, loans)
    _limits(rng, w, lines, loans, repaid, scales)
    agreements = _assign(rng, w, plan, lines)
    commitments = _commitments(rng, agreements, lines, w.as_of)
    rules = _pool_rules()
    claims = _claims(rng, w, rules, lines, loans)
    pools = _pools(w, plan, rules, lines, loans, repaid, claims)

    ev = _Events()
    tables = _programme_tables(w, plan, agreements, commitments, rules, pools, ev)
    keys = _line_and_loan_events(lines, loans, repaid, classes, claims, ev)
    events, id_of = ev.frame()
    tables["credit_line"] = _line_table(w, lines)
    tables["loan"] = _loan_table(w, lines, loans)
    tables["loan_instalment"] = pl.DataFrame(
        {
            "id": np.arange(1, inst["loan"].size + 1, dtype=np.int64),
            "loan_id": inst["loan"] + 1,
            "seq": inst["seq"],
        }
    ).with_columns(
        date_series("due_on", inst["due"]),
        pl.Series("principal", inst["principal"], dtype=pl.Int64),
        pl.Series("interest", inst["interest"], dtype=pl.Int64),
    )
    tables["ledger_event"] = events
    tables["limit_entry"] = _limit_entries(lines, loans, repaid, keys, id_of)
    tables["pool_claim"] = _claim_table(w, claims)
    return {name: tables[name] for name in TABLES}


def _sum_by(index: Array, values: Array, n: int) -> Array:
    """Exact integer sums of `values` by `index` (0..n-1)."""
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, index, np.asarray(values, dtype=np.int64))
    return out


def _limits(
    rng: np.random.Generator, w: _World, lines: Cols, loans: Cols, repaid: Cols, scales: Array
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
    peak, _ = _peaks(group, day, delta, nl)
    use = np.where(lines["revolving"], rng.uniform(0.5, 0.95, nl), rng.uniform(0.6, 1.0, nl))
    year = np.clip(year_of(lines["opens"]) - w.first_year, 0, scales.size - 1)
    unused = lines["base"] * scales[year] * FEN  # a line not drawn (yet)
    wanted = np.ceil(np.where(peak > 0, peak / use, unused) / WAN)
    wanted = np.maximum(np.maximum(wanted, -(-peak // WAN)), MIN_LOAN_WAN)
    lines["limit"] = wanted.astype(np.int64) * WAN
    lines["used"] = _sum_by(loans["line"], loans["principal"], nl) - _sum_by(
        line_of[release], repaid["principal"][release], nl
    )


def _claims(
    rng: np.random.Generator, w: _World, rules: Sequence[PoolRules], lines: Cols, loans: Cols
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
    found = _assess(rules, pool, lines["tags"][loans["line"][loan]], loss, group)
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
    for p, rule in enumerate(rules):  # one split per pool: its contributors
        rows = claims["pool"] == p
        names = list(rule.contributors)
        weights = np.array([_e4(v) for v in rule.contributors.values()])
        parts = split_fen(covered[rows], weights, names)
        split[rows] = _split_texts(names, parts).to_numpy()
        back_split[rows] = _split_texts(names, split_fen(back[rows], parts, names)).to_numpy()
    claims["split"] = split
    claims["back"] = back
    claims["back_split"] = back_split
    claims["shared"] = np.where(back > 0, shared[ok], NONE)
    return claims


def _pools(
    w: _World,
    plan: _Plan,
    rules: Sequence[PoolRules],
    lines: Cols,
    loans: Cols,
    repaid: Cols,
    claims: Cols,
) -> Cols:
    """Contributions (each January, or on opening) sized so that covered credit outstanding stays
    within leverage × balance × 100 / `POOL_MARGIN_PCT` all year, after the year's payouts; and
    the pools' caches."""
    n_pools, n_years = len(rules), w.years.size
    pool_of = lines["pool"][loans["line"]]
    on = pool_of >= 0
    on_repaid = on[repaid["loan"]]
    off = on & (loans["write_off_day"] < NONE)
    _, run = _peaks(
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
    for p, rule in enumerate(rules):  # one step per pool and year
        leverage = int(rule.leverage) if rule.leverage is not None else ZONE_POOL_LEVERAGE
        first = int(year_of(np.array([plan.starts[p]]))[0]) - w.first_year
        balance = carried = 0
        for y in range(first, n_years):
            top = max(int(peak[p, y]), carried)
            need = -(-top * POOL_MARGIN_PCT // (100 * leverage)) + int(payouts[p, y])
            amount = max(need - balance, 10 * MILLION if y == first else 0)
            amount = -(-amount // CONTRIBUTION_STEP) * CONTRIBUTION_STEP
            on_day = plan.starts[p] if y == first else _day(w.first_year + y, 1, 1)
            if amount > 0:
                parts = pool_engine.split_pro_rata(Decimal(amount).scaleb(-2), rule.contributors)
                rows += [(p, on_day, name, _fen(part)) for name, part in parts.items() if part]
            balance += amount - int(payouts[p, y]) + int(returned[p, y])
            if end[p, y] >= 0:
                carried = int(end[p, y])
    table = np.array([(p, d, amount) for p, d, _, amount in rows], dtype=np.int64).reshape(-1, 3)
    contributed = _sum_by(table[:, 0], table[:, 2], n_pools)
    paid_out = _sum_by(claims["pool"][is_paid], claims["covered"][is_paid], n_pools)
    back = _sum_by(claims["pool"], claims["back"], n_pools)
    return {
        "pool": table[:, 0], "day": table[:, 1], "amount": table[:, 2],
        "contributor": np.array([name for _, _, name, _ in rows], dtype=object),
        "contributed": contributed, "paid_out": paid_out, "recovered": back,
        "balance": contributed - paid_out + back,
        "covered": _sum_by(pool_of[on], loans["outstanding"][on], n_pools),
    }  # fmt: skip


# --------------------------------------------------------------------------- tables


def _code_json(codes: Sequence[str]) -> Data:
    return [json_text({"code": c}) for c in codes], np.arange(len(codes))


def _programme_tables(
    w: _World,
    plan: _Plan,
    agreements: Sequence[_Agreement],
    commitments: Cols,
    rules: Sequence[PoolRules],
    pools: Cols,
    ev: _Events,
) -> dict[str, pl.DataFrame]:
    """Programmes and targets, agreements and commitments, risk pools, and their events."""
    last, sf = w.last_year, w.scale_factor
    province, zone = w.provinces[plan.province], str(w.zone_name[plan.zone])
    lead = w.bank_id[w.bank_brand == plan.lead_brand]
    codes = ["DEMO-PRG-NATIONAL", "DEMO-PRG-PROVINCE", "DEMO-PRG-ZONE"]
    starts, ends = np.array(plan.starts), np.array(plan.ends)
    programme = pl.DataFrame(
        {
            "id": np.arange(1, 4, dtype=np.int64),
            "code": codes,
            "name": [
                "示例科技金融“十百千万”专项行动",
                f"示例{province}科技金融专项信贷计划",
                f"{zone}科技信贷风险补偿计划",
            ],
            "sponsor": [
                f"示例国家科技金融服务中心、{w.bank_name[plan.lead_head]}",
                f"示例{province}科学技术厅",
                f"{zone}管委会",
            ],
            "candidate_list": ["key-enterprises", None, None],
            "register_borrowers": [False, False, False],  # the demo's returns name known firms
            "zone_ids": [
                (plan.national_zones + 1).tolist(),
                (plan.province_zones + 1).tolist(),
                [plan.zone + 1],
            ],
            "institution_ids": [
                lead.tolist(),
                w.bank_id[plan.province_banks].tolist(),
                [int(w.bank_id[plan.zone_bank])],
            ],
        },
        schema_overrides={"zone_ids": pl.List(pl.Int64), "institution_ids": pl.List(pl.Int64)},
    ).with_columns(
        date_series("starts_on", starts),
        date_series("ends_on", ends),
        _moments(starts, 1).alias("created_at"),
    )
    ev.add("programme", np.arange(1, 4), "programme_created", starts, PROGRAMME,
           data=_code_json(codes))  # fmt: skip

    c = pl.DataFrame(
        {
            "agreement": commitments["agreement"],
            "programme": np.array([a.programme for a in agreements])[commitments["agreement"]],
            "field": commitments["field"],
            "start": commitments["start"],
            "end": commitments["end"],
            "amount": commitments["amount"],
        }
    )
    balance = max(1, round(NATIONAL_BALANCE_TARGET * sf / 10**8)) * 10**8 * FEN
    key_firms = max(10, round(NATIONAL_KEY_ENTERPRISES * sf))
    targets: list[dict[str, Any]] = [
        {"programme_id": 1, "kind": "financing_balance", "amount": balance,
         "period_start": plan.starts[0], "due_on": plan.ends[0]},
        *({"programme_id": 1, "kind": "key_enterprises", "count": key_firms,
           "period_start": _day(y, 1, 1), "due_on": _day(y, 12, 31)}
          for y in range(last - 2, last + 2)),
        {"programme_id": 1, "kind": "balance_growth", "rate": 2000,
         "period_start": plan.starts[0], "due_on": plan.ends[0]},
    ]  # fmt: skip
    by_field = (
        c.filter(pl.col("programme") == 1)
        .group_by("field", "start", "end")
        .agg(pl.col("amount").sum())
        .sort("start", "field")
    )
    targets += [
        {"programme_id": 2, "kind": "new_credit", "tech_field": w.field_codes[f],
         "amount": -(-amount // (10 * MILLION)) * 10 * MILLION, "period_start": start,
         "due_on": end}
        for f, start, end, amount in by_field.iter_rows()
    ]  # fmt: skip
    targets.append(
        {"programme_id": 2, "kind": "balance_growth", "rate": 1870,
         "period_start": plan.starts[1], "due_on": plan.ends[1]}
    )  # fmt: skip
    zone_rows = c.filter(pl.col("programme") == 2).select("start", "end", "amount")
    targets += [
        {"programme_id": 3, "kind": "new_credit", "period_start": start, "due_on": end,
         "amount": -(-amount * 11 // (10 * MILLION)) * MILLION}  # the commitment + 10 %
        for start, end, amount in zone_rows.iter_rows()
    ]  # fmt: skip
    target = pl.DataFrame(
        targets,
        schema={
            "programme_id": pl.Int64, "kind": pl.String, "tech_field": pl.String,
            "amount": pl.Int64, "count": pl.Int64, "rate": pl.Int64,
            "period_start": pl.Int64, "due_on": pl.Int64,
        },
    )  # fmt: skip
    target = target.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("id"),
        "programme_id", "kind", "tech_field", "amount", "count", "rate",
        pl.col("period_start").cast(pl.Int32).cast(pl.Date),
        pl.col("due_on").cast(pl.Int32).cast(pl.Date),
    )  # fmt: skip

    na = len(agreements)
    signed = np.array([a.signed for a in agreements])
    totals = _sum_by(commitments["agreement"], commitments["amount"], na)
    zone_ids = np.array([a.zone + 1 for a in agreements])
    agreement = pl.DataFrame(
        {
            "id": np.arange(1, na + 1, dtype=np.int64),
            "code": [f"DEMO-AG-{i:04d}" for i in range(1, na + 1)],
            "kind": [a.kind for a in agreements],
            "programme_id": np.array([a.programme + 1 for a in agreements], dtype=np.int64),
            "institution_id": w.bank_id[[a.bank for a in agreements]].astype(np.int64),
            "counterparty": [a.counterparty for a in agreements],
            "zone_id": pl.Series(np.ma.masked_array(zone_ids, zone_ids == 0), dtype=pl.Int64),
            "enterprise_id": pl.Series([None] * na, dtype=pl.Int64),
            "currency": ["CNY"] * na,
        }
    ).with_columns(
        date_series("signed_on", signed),
        date_series("starts_on", np.array([a.periods[0][0] for a in agreements])),
        date_series("ends_on", np.array([a.periods[-1][1] for a in agreements])),
        pl.lit("signed").alias("status"),
        pl.lit("[]").alias("documents"),
        _moments(signed, 2).alias("created_at"),
    )
    ev.add("agreement", np.arange(1, na + 1), "agreement_signed", signed, PROGRAMME,
           amount=totals)  # fmt: skip
    field = commitments["field"]
    commitment = pl.DataFrame(
        {
            "id": np.arange(1, field.size + 1, dtype=np.int64),
            "agreement_id": commitments["agreement"] + 1,
            "tech_field": pl.Series(
                np.ma.masked_array(np.array(w.field_codes)[np.maximum(field, 0)], field < 0),
                dtype=pl.String,
            ),
        }
    ).with_columns(
        date_series("period_start", commitments["start"]),
        date_series("period_end", commitments["end"]),
        pl.Series("amount", commitments["amount"], dtype=pl.Int64),
        pl.Series("used", commitments["used"], dtype=pl.Int64),
    )

    pool_codes = ["DEMO-POOL-NATIONAL", "DEMO-POOL-PROVINCE", "DEMO-POOL-ZONE"]
    leverage = [None if r.leverage is None else int(r.leverage) for r in rules]
    risk_pool = pl.DataFrame(
        {
            "id": np.arange(1, 4, dtype=np.int64),
            "code": pool_codes,
            "name": [
                "示例科技金融风险分担资金池（国家专项行动）",
                f"示例{province}科技贷款风险补偿资金池",
                f"{zone}科技信贷风险补偿资金池",
            ],
            "programme_id": np.arange(1, 4, dtype=np.int64),
            "currency": ["CNY"] * 3,
            "rules": [json_text(r.model_dump(mode="json")) for r in rules],
            "leverage": pl.Series(leverage, dtype=pl.Int64),
            "contributed": pools["contributed"],
            "paid_out": pools["paid_out"],
            "recovered": pools["recovered"],
            "balance": pools["balance"],
            "covered_outstanding": pools["covered"],
        }
    ).with_columns(_moments(starts, 1).alias("created_at"))
    ev.add("risk_pool", np.arange(1, 4), "pool_opened", starts, PROGRAMME,
           data=_code_json(pool_codes))  # fmt: skip
    contributors = (
        [json_text({"contributor": str(c)}) for c in pools["contributor"]],
        np.arange(pools["contributor"].size),
    )
    ev.add("risk_pool", pools["pool"] + 1, "contributed", pools["day"], PROGRAMME,
           amount=pools["amount"], data=contributors)  # fmt: skip
    return {
        "programme": programme,
        "programme_target": target,
        "agreement": agreement,
        "agreement_commitment": commitment,
        "risk_pool": risk_pool,
    }


def _line_and_loan_events(
    lines: Cols, loans: Cols, repaid: Cols, classes: Cols, claims: Cols, ev: _Events
) -> dict[str, Array]:
    """The events of credit lines, loans and claims; the keys limit entries refer to."""
    line_ids = np.arange(1, lines["opens"].size + 1)
    loan_ids = np.arange(1, loans["drawn"].size + 1)
    keys = {
        "proposed": ev.add("credit_line", line_ids, "line_proposed", lines["opens"], MAKER,
                           amount=lines["limit"]),
        "approved": ev.add("credit_line", line_ids, "line_approved", lines["opens"], CHECKER,
                           amount=lines["limit"]),
        "drawn": ev.add("loan", loan_ids, "drawn", loans["drawn"], BANK,
                        principal=loans["principal"],
                        refs={"_credit_line_id": loans["line"] + 1}),
        "repaid": ev.add("loan", repaid["loan"] + 1, "repaid", repaid["day"], BANK,
                         principal=repaid["principal"], interest=repaid["interest"]),
    }  # fmt: skip
    combo = (classes["category"] * 5 + classes["previous"]) * 1_000 + classes["dpd"]
    distinct, index = np.unique(combo, return_inverse=True)
    texts = [
        json_text(
            {
                "category": str(CATEGORY_NAMES[c // 1_000 // 5]),
                "previous": str(CATEGORY_NAMES[c // 1_000 % 5]),
                "days_past_due": int(c % 1_000),
            }
        )
        for c in distinct.tolist()
    ]
    data: Data = (texts, index.ravel())
    ev.add("loan", classes["loan"] + 1, "classified", classes["day"], BANK, data=data,
           seq=classes["seq"])  # fmt: skip
    for kind, day, amount in (
        ("defaulted", "default_day", "at_default"),
        ("written_off", "write_off_day", "written_off"),
        ("recovered", "recovery_day", "recovered"),
    ):
        rows = np.flatnonzero(loans[day] < NONE)
        ev.add("loan", rows + 1, kind, loans[day][rows], BANK, principal=loans[amount][rows])
    n = claims["loan"].size
    claim_ids = np.arange(1, n + 1)
    pool_ids = claims["pool"] + 1
    ev.add(
        "pool_claim",
        claim_ids,
        "claim_filed",
        claims["filed"],
        MAKER,
        amount=claims["covered"],
        refs={"_pool_id": pool_ids, "_loan_id": claims["loan"] + 1},
    )
    decided = np.flatnonzero(claims["approved"] < NONE)
    ev.add(
        "pool_claim",
        claim_ids[decided],
        "claim_approved",
        claims["approved"][decided],
        CHECKER,
        amount=claims["covered"][decided],
    )
    paid = np.flatnonzero(claims["paid"] < NONE)
    split: Data = (
        ["{" + f'"split":{t}' + "}" for t in claims["split"][paid]],
        np.arange(paid.size),
    )
    ev.add(
        "risk_pool",
        pool_ids[paid],
        "claim_paid",
        claims["paid"][paid],
        PROGRAMME,
        amount=claims["covered"][paid],
        data=split,
        refs={"_claim_id": claim_ids[paid]},
    )
    ev.add(
        "pool_claim",
        claim_ids[paid],
        "claim_paid",
        claims["paid"][paid],
        PROGRAMME,
        amount=claims["covered"][paid],
        priority=PRIORITY["claim_paid"] + 1,
    )
    back = np.flatnonzero(claims["back"] > 0)
    split = (["{" + f'"split":{t}' + "}" for t in claims["back_split"][back]], np.arange(back.size))
    ev.add(
        "risk_pool",
        pool_ids[back],
        "recovery_shared",
        claims["shared"][back],
        PROGRAMME,
        amount=claims["back"][back],
        data=split,
        refs={"_claim_id": claim_ids[back]},
    )
    return keys


def _limit_entries(
    lines: Cols, loans: Cols, repaid: Cols, keys: Mapping[str, Array], id_of: Array
) -> pl.DataFrame:
    """Reservations, releases and consumptions, as `ledger.service` writes them: a committed
    line reserves its limit when proposed, releases and consumes it when approved; a drawdown
    consumes its line; a repayment on a revolving line releases it."""
    committed = np.flatnonzero(lines["commitment"] >= 0)
    limit = lines["limit"][committed]
    release = np.flatnonzero(repaid["release"])
    parts = [
        ("commitment", lines["commitment"][committed] + 1, "reserve", limit, "credit_line",
         committed + 1, keys["proposed"][committed], 0),
        ("commitment", lines["commitment"][committed] + 1, "release", limit, "credit_line",
         committed + 1, keys["approved"][committed], 0),
        ("commitment", lines["commitment"][committed] + 1, "consume", limit, "credit_line",
         committed + 1, keys["approved"][committed], 1),
        ("credit_line", loans["line"] + 1, "consume", loans["principal"], "loan",
         np.arange(1, loans["drawn"].size + 1), keys["drawn"], 0),
        ("credit_line", loans["line"][repaid["loan"][release]] + 1, "release",
         repaid["principal"][release], "event", np.zeros(release.size),
         keys["repaid"][release], 0),
    ]  # fmt: skip
    accounts, kinds = ("commitment", "credit_line"), ("reserve", "release", "consume")
    sources = ("credit_line", "loan", "event")
    cols: dict[str, list[Array]] = {
        k: [] for k in ("account", "account_id", "kind", "amount", "source", "source_id",
                        "event_id", "order")
    }  # fmt: skip
    for account, account_id, kind, amount, source, source_id, key, rank in parts:
        event_id = id_of[key]
        n = event_id.size
        cols["account"].append(np.full(n, accounts.index(account)))
        cols["account_id"].append(np.asarray(account_id, dtype=np.int64))
        cols["kind"].append(np.full(n, kinds.index(kind)))
        cols["amount"].append(np.asarray(amount, dtype=np.int64))
        cols["source"].append(np.full(n, sources.index(source)))
        cols["source_id"].append(event_id if source == "event" else np.asarray(source_id))
        cols["event_id"].append(event_id)
        cols["order"].append(np.full(n, rank))  # within an event: release before consume
    flat = {k: np.concatenate(v).astype(np.int64) for k, v in cols.items()}
    order = np.argsort(flat["event_id"] * 2 + flat["order"], kind="stable")
    return pl.DataFrame(
        {
            "id": np.arange(1, order.size + 1, dtype=np.int64),
            "account": _strings(accounts, flat["account"][order]),
            "account_id": flat["account_id"][order],
            "kind": _strings(kinds, flat["kind"][order]),
            "amount": flat["amount"][order],
            "source": _strings(sources, flat["source"][order]),
            "source_id": flat["source_id"][order],
            "event_id": flat["event_id"][order],
        }
    )


def _refs(prefix: str, ids: Array) -> pl.Series:
    width = max(6, len(str(int(ids.max(initial=0)))))
    return pl.select(
        pl.concat_str(pl.lit(prefix), pl.Series(ids).cast(pl.String).str.zfill(width))
    ).to_series()


def _line_table(w: _World, lines: Cols) -> pl.DataFrame:
    n = lines["opens"].size
    ids = np.arange(1, n + 1, dtype=np.int64)
    product = lines["product"]
    return pl.DataFrame(
        {
            "id": ids,
            "institution_id": w.bank_id[lines["bank"]].astype(np.int64),
            "external_ref": _refs("DEMO-CL-", ids),
            "enterprise_id": lines["enterprise"] + 1,
            "programme_id": _nullable(lines["programme"] + 1, lines["programme"] < 0),
            "commitment_id": _nullable(lines["commitment"] + 1, lines["commitment"] < 0),
            "product_id": _nullable(w.product_id[np.maximum(product, 0)], product < 0),
            "risk_pool_id": _nullable(lines["pool"] + 1, lines["pool"] < 0),
            "tags": _strings(TAG_JSON, lines["tags"]),
            "currency": pl.repeat("CNY", n, eager=True),
            "limit_amount": lines["limit"],
            "used": lines["used"],
            "revolving": lines["revolving"],
        }
    ).with_columns(
        date_series("opens_on", lines["opens"]),
        date_series("matures_on", lines["matures"]),
        pl.lit("lpr_spread").alias("rate_kind"),
        pl.Series("rate", lines["rate"], dtype=pl.Int64),
        pl.Series("spread_bp", lines["spread_bp"], dtype=pl.Int64),
        pl.lit("approved").alias("status"),
        pl.lit(MAKER).alias("maker_id"),
        pl.lit(CHECKER).alias("checker_id"),
        _moments(lines["opens"], 1).alias("created_at"),
    )


def _nullable(values: Array, missing: Array | None = None) -> pl.Series:
    """Int64 with nulls where `missing` (default: where the value is negative)."""
    values = np.asarray(values, dtype=np.int64)
    hole = values < 0 if missing is None else missing
    return pl.Series(np.ma.masked_array(values, hole), dtype=pl.Int64)


def _loan_table(w: _World, lines: Cols, loans: Cols) -> pl.DataFrame:
    n = loans["drawn"].size
    ids = np.arange(1, n + 1, dtype=np.int64)
    line = loans["line"]
    outstanding = loans["outstanding"]
    status = np.where(outstanding > 0, 0, np.where(loans["written_off"] > 0, 2, 1))
    defaulted = loans["default_day"] < NONE
    return pl.DataFrame(
        {
            "id": ids,
            "credit_line_id": line + 1,
            "institution_id": w.bank_id[lines["bank"][line]].astype(np.int64),
            "enterprise_id": lines["enterprise"][line] + 1,
            "external_ref": _refs("DEMO-LN-", ids),
            "currency": pl.repeat("CNY", n, eager=True),
            "principal": loans["principal"],
        }
    ).with_columns(
        date_series("drawn_on", loans["drawn"]),
        date_series("matures_on", add_months(loans["drawn"], loans["months"])),
        pl.Series("months", loans["months"], dtype=pl.Int64),
        _strings(METHOD_NAMES, loans["method"]).alias("method"),
        pl.lit("ACT/360").alias("day_count"),
        pl.Series("annual_rate", loans["rate"], dtype=pl.Int64),
        _strings(("active", "closed", "written_off"), status).alias("status"),
        pl.Series("principal_repaid", loans["principal_repaid"], dtype=pl.Int64),
        pl.Series("interest_paid", loans["interest_paid"], dtype=pl.Int64),
        pl.Series("written_off", loans["written_off"], dtype=pl.Int64),
        pl.Series("recovered", loans["recovered"], dtype=pl.Int64),
        pl.Series("outstanding_principal", outstanding, dtype=pl.Int64),
        _strings(CATEGORY_NAMES, loans["category"]).alias("category"),
        pl.Series(
            "defaulted_on",
            np.ma.masked_array(np.where(defaulted, loans["default_day"], 0), ~defaulted),
            dtype=pl.Int32,
        ).cast(pl.Date),
    )


def _claim_table(w: _World, claims: Cols) -> pl.DataFrame:
    n = claims["loan"].size
    paid = claims["paid"] < NONE
    decided = claims["approved"] < NONE
    frame = pl.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "pool_id": claims["pool"] + 1,
            "loan_id": claims["loan"] + 1,
            "institution_id": w.bank_id[claims["bank"]].astype(np.int64),
            "claim_year": year_of(claims["filed"]),
            "principal_loss": claims["loss"],
            "covered": claims["covered"],
            "recovered": claims["back"],
            "_head": pl.Series(claims["head"], dtype=pl.String),
            "_binding": pl.Series(claims["binding"], dtype=pl.String),
            "_split": pl.Series(claims["split"], dtype=pl.String),
            "retained": claims["retained"],
            "status": np.where(paid, "paid", np.where(decided, "approved", "pending")),
            "maker_id": pl.Series([MAKER] * n, dtype=pl.String),
            "checker_id": pl.Series(
                np.ma.masked_array(np.full(n, CHECKER), ~decided), dtype=pl.String
            ),
        }
    ).with_columns(_moments(claims["filed"], 3).alias("created_at"))
    binding = (
        pl.when(pl.col("_binding") == "")
        .then(pl.lit("null"))
        .otherwise(pl.concat_str(pl.lit('"'), "_binding", pl.lit('"')))
    )
    assessment = pl.concat_str(
        "_head", pl.lit('"covered":"'), decimal_text("covered", 2), pl.lit('","retained":"'),
        decimal_text("retained", 2), pl.lit('","binding_cap":'), binding,
        pl.lit(',"contributions":'), "_split", pl.lit("}"),
    )  # fmt: skip
    return frame.with_columns(assessment.alias("assessment")).select(
        "id", "pool_id", "loan_id", "institution_id", "claim_year", "principal_loss",
        "covered", "recovered", "assessment", "status", "maker_id", "checker_id", "created_at",
    )  # fmt: skip
