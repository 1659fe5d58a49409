"""Who borrows, from which bank, when: credit lines and their drawdowns, with each loan's fate
(performing, late for a while, or missing an instalment and defaulting)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from innofin.demo.engine import day_number, json_text, year_start_days
from innofin.demo.ledger.dates_engine import day_of, year_of
from innofin.demo.ledger.params import (
    ANNUAL_PD,
    ATTRITION,
    BORROWER_SHARE,
    BULLET,
    COLLECTION_SHARE,
    ENTRY_WEIGHTS,
    EP,
    EQUAL_PRINCIPAL,
    GUARANTEED_SHARE,
    LATE_DAYS,
    LATE_SHARE,
    LEAD_BANK_BOOST,
    LINE_TERM_P,
    LINE_TERMS,
    LOAN_PRODUCTS,
    LOSS_DPD,
    LPR_1Y,
    MAX_LINES,
    MAX_RENEWAL_GAP,
    MAX_REVOLVING_DRAWS,
    MIN_AGE_DAYS,
    NONE,
    RECOVERY_SHARE,
    REVOLVING,
    REVOLVING_MONTHS,
    REVOLVING_MONTHS_P,
    REVOLVING_SHARE,
    SAME_BANK,
    SECOND_DRAW,
    SIZE_BANDS,
    SIZE_PD,
    STAGE_SPREAD_BP,
    STOCK_SHARE,
    SUBSTANDARD_DPD,
    WRITE_OFF_SHARE,
    ZONE_BANK_BOOST,
    Array,
    Cols,
)
from innofin.demo.ledger.world_engine import Plan, World, pick
from innofin.demo.panel_engine import DRIFT_MEAN
from innofin.kernel.periods import add_months_days, civil_from_days

TAG_NAMES = ("first_loan", "guaranteed", "ip_pledge", "pure_credit")  # bits 0..3, sorted
TAG_JSON = [json_text([t for i, t in enumerate(TAG_NAMES) if bits >> i & 1]) for bits in range(16)]


# --------------------------------------------------------------------------- credit lines


def make_lines(rng: np.random.Generator, w: World, plan: Plan) -> Cols:
    """Borrowers and their successive credit lines, with bank, product, tags and price."""
    n = w.stage.size
    history_start = day_of(w.first_year, 1, 1)
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
    lines["matures"] = add_months_days(lines["opens"], lines["months"])
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
    product = pick(rng, lines["bank"], choices)
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


def _pick_banks(rng: np.random.Generator, w: World, plan: Plan, market: Array) -> Array:
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
    return pick(rng, market, choices)


# --------------------------------------------------------------------------- loans and fates


def make_loans(rng: np.random.Generator, w: World, lines: Cols) -> Cols:
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
    mat = add_months_days(d, r_months[i, j])
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


def _risk(w: World, firm: Array) -> tuple[Array, Array]:
    """Annual default probability and the chance of a late episode, by stage and size."""
    size = SIZE_PD[np.searchsorted(SIZE_BANDS, w.revenue[firm])]
    return ANNUAL_PD[w.stage[firm]] * size, LATE_SHARE[w.stage[firm]] * size


def _fates(rng: np.random.Generator, w: World, loans: Cols) -> Cols:
    """Dates of the missed instalment, the late episode, collection, write-off and recovery."""
    n = loans["drawn"].size
    revolving = loans["method"] == REVOLVING
    maturity = add_months_days(loans["drawn"], loans["months"])
    due_miss = np.where(revolving, maturity, add_months_days(loans["drawn"], loans["miss_seq"]))
    missed = loans["default"] & (due_miss <= w.as_of)
    loans["fate"] = np.where(missed, 2, 0)
    loans["miss_day"] = np.where(missed, due_miss, NONE)
    due_late = np.where(revolving, maturity, add_months_days(loans["drawn"], loans["late_seq"]))
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
    due_by_end = due_by(loans, w.last_year)
    loans["paid_upto"] = np.where(
        missed,
        loans["miss_seq"] - 1,
        np.where(ongoing, loans["late_seq"] - 1, due_by_end),
    )
    return loans


def due_by(loans: Cols, year: int) -> Array:
    """How many monthly instalments of each loan fall due by 31 December of `year`."""
    if "drawn_ym" not in loans:
        y, m, _ = civil_from_days(loans["drawn"])
        loans["drawn_ym"] = y * 12 + m
    result: Array = np.clip(12 * year + 12 - loans["drawn_ym"], 0, loans["months"])
    return result


def after_first_miss(lines: Cols, loans: Cols) -> tuple[Cols, Cols]:
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


def in_time_order(lines: Cols, loans: Cols) -> tuple[Cols, Cols]:
    """Lines by opening day, loans by drawdown day: ids follow time."""
    by_open = np.lexsort((lines["enterprise"], lines["opens"]))
    lines = {key: value[by_open] for key, value in lines.items()}
    position = np.empty_like(by_open)
    position[by_open] = np.arange(by_open.size)
    loans["line"] = position[loans["line"]]
    by_draw = np.lexsort((loans["line"], loans["drawn"]))
    return lines, {key: value[by_draw] for key, value in loans.items()}
