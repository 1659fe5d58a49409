"""Scenarios on a programme's levers: the ledger read into the engine's columns, runs stored with
everything that made them, and read back (`scenarios.engine` holds the model and documents it).

* `scenario_inputs` — from the ledger at an as-of day (default: the day of its latest event, the
  ledger's own "as of"): every loan drawn by then gives the rates by segment (field × size band;
  the borrower's field, and its revenue band in its latest report); the programme's loans
  outstanding are the book; its loans of the last twelve months give the mix and pace of new
  lending, the usual term and the share a pool covers; its pools' claims the baseline risk share
  (covered ÷ principal loss; 0.3 without claims, a zone pool's usual cover); its pools' balance
  the money the payouts draw on. The baseline quota is what the institutions committed for the
  year after the as-of day (commitments running then, scaled to a year; without any, last year's
  lending); the baseline key list is the programme's candidate list (its latest version), else
  last year's borrowers; the lending per key-list firm is last year's lending over that list,
  so that the baseline's demand is last year's lending.
* `run_scenario` — the baseline levers with the caller's changes, one projection, stored as a
  `ScenarioRun` (levers, assumptions, baseline, rates, the book's cells and fingerprint, seed,
  result) with one audit row.
* `scenario_result`, `scenario_runs` — plain dataclasses for the API, the CLI and the reports;
  `replay` recomputes a stored run from its stored inputs and seed and says whether every figure
  is the same.

Who may: runs are read with their programme (`ledger.scopes.programme_scope`; a run over every
programme by the admin and the national office only), and made by those who run the programme
(`programme_run_scope`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Float, cast, func, select, true
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, record
from innofin.db.queries import visible
from innofin.kernel.codes import TechField
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.periods import add_months, month_end
from innofin.kernel.principal import Principal
from innofin.ledger.models import (
    Agreement,
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    Loan,
    PoolClaim,
    Programme,
    RiskPool,
)
from innofin.ledger.queries import line_programme
from innofin.ledger.scopes import programme_run_scope, programme_scope
from innofin.matching.recommend import track_engine
from innofin.monitoring.scenarios import engine as se
from innofin.monitoring.scenarios.models import ScenarioRun
from innofin.registry.models import Enterprise, IndicatorReport
from innofin.scoring.models import KeyList, KeyListEntry

FIELDS = (*(f.value for f in TechField), None)  # the last: no field recorded
#: size bands: matching's revenue bands, then "no revenue reported"
SIZES = (*range(len(track_engine.SIZE_BAND_NAMES)), -1)
DEFAULT_RISK_SHARE = 0.3
RECENT_DAYS = 365


@dataclass(frozen=True)
class ScenarioInputs:
    as_of: dt.date
    programme_id: int | None
    rates: se.Rates
    book: se.Book
    mix: np.ndarray
    pace: np.ndarray
    baseline: se.Levers
    assumptions: se.Assumptions


# --------------------------------------------------------------------------- reading


def ledger_as_of(session: Session) -> dt.date:
    """The ledger's own as-of day: its latest event's (today when it is empty)."""
    latest = session.scalar(select(func.max(LedgerEvent.effective_on)))
    return latest or dt.date.today()


def _revenue_bands(session: Session, firms: np.ndarray) -> dict[int, int]:
    ids = sorted({int(f) for f in firms})
    if not ids:
        return {}
    latest = (
        select(IndicatorReport.enterprise_id, func.max(IndicatorReport.year).label("year"))
        .where(IndicatorReport.revenue.is_not(None))
        .group_by(IndicatorReport.enterprise_id)
        .subquery()
    )
    rows = session.execute(
        select(IndicatorReport.enterprise_id, IndicatorReport.revenue).join(
            latest,
            (latest.c.enterprise_id == IndicatorReport.enterprise_id)
            & (latest.c.year == IndicatorReport.year),
        )
    ).all()
    revenue = {e: float(r) for e, r in rows if r is not None}
    bands = track_engine.size_band(np.array([revenue.get(e, np.nan) for e in ids]))
    return dict(zip(ids, (int(b) for b in bands), strict=True))


def _loans(session: Session, as_of: dt.date) -> dict[str, np.ndarray]:
    """Every loan drawn by `as_of`, as columns."""
    closed = (
        select(LedgerEvent.entity_id, func.max(LedgerEvent.effective_on).label("on"))
        .where(
            LedgerEvent.entity == "loan",
            LedgerEvent.kind == "repaid",
            LedgerEvent.effective_on <= as_of,
        )
        .group_by(LedgerEvent.entity_id)
        .subquery()
    )
    # Core, not the ORM, and amounts as floats in SQL (analytics: the Monte Carlo runs on
    # float64): a national ledger's 1.8 M rows are read without a Decimal or ORM row apiece
    rows = (
        session.connection()
        .execute(
            select(
                Loan.enterprise_id,
                Enterprise.tech_field,
                Loan.drawn_on,
                Loan.matures_on,
                Loan.status,
                Loan.defaulted_on,
                closed.c.on,
                cast(Loan.principal, Float),
                cast(Loan.outstanding_principal, Float),
                Loan.method,
                cast(Loan.annual_rate, Float),
                Loan.months,
                CreditLine.risk_pool_id,
                line_programme(),
            )
            .join(Enterprise, Enterprise.id == Loan.enterprise_id)
            .join(CreditLine, CreditLine.id == Loan.credit_line_id)
            .outerjoin(closed, closed.c.entity_id == Loan.id)
            .where(Loan.drawn_on <= as_of)
            .order_by(Loan.id)
        )
        .all()
    )
    cols = list(zip(*rows, strict=True)) if rows else [()] * 14
    # SQLite keeps money as integer fen and rates as ten-thousandths (`db.base`); the cast
    # reads what is stored
    sqlite = session.get_bind().dialect.name == "sqlite"
    money_unit, rate_unit = (100.0, 10_000.0) if sqlite else (1.0, 1.0)
    firm = np.array(cols[0], np.int64)
    bands = _revenue_bands(session, firm)
    field_index = {f: i for i, f in enumerate(FIELDS)}
    size_index = {s: i for i, s in enumerate(SIZES)}

    def days(values: tuple[Any, ...]) -> np.ndarray:
        return np.array([np.nan if v is None else float(v.toordinal()) for v in values], np.float64)

    return {
        "firm": firm,
        "field": np.array([field_index.get(f, len(FIELDS) - 1) for f in cols[1]], np.int64),
        "size": np.array([size_index[bands.get(int(e), -1)] for e in firm], np.int64),
        "drawn": days(cols[2]),
        "matures": days(cols[3]),
        "closed_status": np.array([s == "closed" for s in cols[4]], bool),
        "defaulted": days(cols[5]),
        "closed": days(cols[6]),
        "principal": np.array(cols[7], np.float64) / money_unit,
        "outstanding": np.array(cols[8], np.float64) / money_unit,
        "method": np.array(
            [se.METHODS.index(m) if m in se.METHODS else 0 for m in cols[9]], np.int64
        ),
        "rate": np.array(cols[10], np.float64) / rate_unit,
        "months": np.array(cols[11], np.int64),
        "covered": np.array([p is not None for p in cols[12]], bool),
        "programme": np.array([-1 if p is None else p for p in cols[13]], np.int64),
        "status_active": np.array([s == "active" for s in cols[4]], bool),
    }


def _risk_share(session: Session, programme_id: int | None) -> float:
    stmt = select(func.sum(PoolClaim.covered), func.sum(PoolClaim.principal_loss)).where(
        PoolClaim.status.in_(("approved", "paid"))
    )
    if programme_id is not None:
        pools = select(RiskPool.id).where(RiskPool.programme_id == programme_id)
        stmt = stmt.where(PoolClaim.pool_id.in_(pools))
    covered, loss = session.execute(stmt).one()
    if not loss:
        return DEFAULT_RISK_SHARE
    return round(float(covered or 0) / float(loss), 4)


def _pool_balance(session: Session, programme_id: int | None) -> float:
    stmt = select(func.sum(RiskPool.balance))
    if programme_id is not None:
        stmt = stmt.where(RiskPool.programme_id == programme_id)
    return float(session.scalar(stmt) or 0)


def _committed(session: Session, programme_id: int | None, as_of: dt.date) -> float:
    """The institutions' commitments running on the day after `as_of`, each scaled to a year."""
    day = as_of + dt.timedelta(days=1)
    stmt = (
        select(
            AgreementCommitment.amount,
            AgreementCommitment.period_start,
            AgreementCommitment.period_end,
        )
        .join(Agreement, Agreement.id == AgreementCommitment.agreement_id)
        .where(AgreementCommitment.period_start <= day, AgreementCommitment.period_end >= day)
    )
    if programme_id is not None:
        stmt = stmt.where(Agreement.programme_id == programme_id)
    total = 0.0
    for amount, start, end in session.execute(stmt).all():
        total += float(amount) * 365 / max((end - start).days + 1, 1)
    return total


def _key_list_size(session: Session, programme_id: int | None) -> int:
    """The size of the latest version of the programme's candidate list (0: none)."""
    if programme_id is None:
        return 0
    name = session.scalar(select(Programme.candidate_list).where(Programme.id == programme_id))
    if name is None:
        return 0
    latest = session.scalar(
        select(KeyList.id).where(KeyList.name == name).order_by(KeyList.version.desc()).limit(1)
    )
    if latest is None:
        return 0
    return int(session.scalar(select(func.count()).where(KeyListEntry.list_id == latest)) or 0)


def scenario_inputs(
    session: Session,
    programme_id: int | None,
    as_of: dt.date | None = None,
    assumptions: se.Assumptions | None = None,
) -> ScenarioInputs:
    """What a run of a programme (None: every programme) starts from, read from the ledger."""
    as_of = as_of or ledger_as_of(session)
    cols = _loans(session, as_of)
    day = float(as_of.toordinal())
    # exposure ends at a default, a repayment in full, maturity or the as-of day
    defaulted = ~np.isnan(cols["defaulted"]) & (cols["defaulted"] <= day)
    closed_on = np.where(cols["closed_status"], cols["closed"], np.nan)
    repaid = ~np.isnan(closed_on)
    end = np.fmin(np.where(defaulted, cols["defaulted"], np.inf), day)
    end = np.fmin(end, np.where(repaid, closed_on, np.inf))
    exposure = np.maximum(end - cols["drawn"], 0) / se.DAYS_PER_MONTH
    prepaid = repaid & ~defaulted & (closed_on < cols["matures"] - 31)
    n_fields, n_sizes = len(FIELDS), len(SIZES)
    rates = se.estimate_rates(
        cols["field"], cols["size"], exposure, defaulted, prepaid, n_fields, n_sizes
    )
    segment = cols["field"] * n_sizes + cols["size"]
    mine = (
        np.ones(segment.size, bool) if programme_id is None else cols["programme"] == programme_id
    )
    live = mine & cols["status_active"] & ~defaulted & (cols["outstanding"] > 0)
    left = np.ceil((cols["matures"] - day) / se.DAYS_PER_MONTH)
    book = se.make_book(
        segment[live],
        cols["method"][live],
        np.maximum(left[live], 1).astype(np.int64),
        cols["covered"][live],
        cols["outstanding"][live],
        cols["rate"][live],
    )
    recent = mine & (cols["drawn"] > day - RECENT_DAYS)
    mix, pace = se.mix_and_pace(segment[recent], cols["principal"][recent], rates.segments, 12)
    lent = float(cols["principal"][recent].sum())
    base = se.Assumptions()
    assumptions = assumptions or base
    found = recent.any()
    key_list = _key_list_size(session, programme_id) or int(np.unique(cols["firm"][recent]).size)
    assumptions = replace(
        assumptions,
        lending_per_key_firm=lent / key_list if key_list else base.lending_per_key_firm,
        new_term_months=int(np.median(cols["months"][recent])) if found else base.new_term_months,
        new_covered_share=float(cols["covered"][recent].mean()) if found else 1.0,
        pool_balance=_pool_balance(session, programme_id),
    )
    baseline = se.Levers(
        risk_share=_risk_share(session, programme_id),
        rate_cap=None,
        quota=_committed(session, programme_id, as_of) or lent,
        key_list_size=key_list,
    )
    return ScenarioInputs(as_of, programme_id, rates, book, mix, pace, baseline, assumptions)


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class SegmentRate:
    """The rates of one segment as estimated (monthly probabilities, after shrinkage)."""

    tech_field: str | None
    size_band: int  # matching's revenue band; -1: no revenue reported
    exposure_months: float
    defaults: int
    prepayments: int
    default_p: float
    prepay_p: float


@dataclass(frozen=True)
class MonthBand:
    """One month of the projection (yuan): the mean, the median and the band of the paths."""

    month: int
    month_end: dt.date
    balance: Decimal
    balance_low: Decimal
    balance_high: Decimal
    balance_median: Decimal
    defaults: Decimal
    defaults_low: Decimal
    defaults_high: Decimal
    defaults_median: Decimal
    cumulative_defaults: Decimal
    cumulative_defaults_low: Decimal
    cumulative_defaults_high: Decimal
    cumulative_defaults_median: Decimal
    payouts: Decimal
    payouts_low: Decimal
    payouts_high: Decimal
    payouts_median: Decimal
    new_lending: Decimal


@dataclass(frozen=True)
class ScenarioResult:
    """A stored run: its levers beside the baseline's, its assumptions, the rates it used, the
    book it started from, and the projection month by month with the band (`band`: the two
    quantiles of the paths). Amounts are yuan, rounded to the fen from the engine's floats."""

    id: int
    programme_id: int | None
    name: str | None
    as_of: dt.date
    months: int
    paths: int
    seed: int
    band: tuple[float, float]
    levers: se.Levers
    baseline: se.Levers
    assumptions: se.Assumptions
    rates: tuple[SegmentRate, ...]
    book_loans: int
    book_balance: Decimal
    book_fingerprint: str
    projection: tuple[MonthBand, ...]
    pool_balance: Decimal
    pool_shortfall: float
    engine_version: str
    created_by: str
    created_at: dt.datetime
    seconds: float | None


@dataclass(frozen=True)
class ScenarioSummary:
    id: int
    programme_id: int | None
    name: str | None
    as_of: dt.date
    months: int
    paths: int
    seed: int
    levers: se.Levers
    balance_at_horizon: Decimal
    payouts_at_horizon: Decimal
    created_by: str
    created_at: dt.datetime


def _yuan(value: float) -> Decimal:
    return Decimal(repr(round(float(value), 2))).quantize(Decimal("0.01"))


def _rates_json(inputs: ScenarioInputs) -> dict[str, Any]:
    r = inputs.rates
    return {
        "n_fields": r.n_fields,
        "n_sizes": r.n_sizes,
        "prior_months": r.prior_months,
        "fields": list(FIELDS),
        "sizes": list(SIZES),
        **{
            k: np.asarray(getattr(r, k), np.float64).tolist()
            for k in ("exposure", "defaults", "prepayments", "default_p", "prepay_p")
        },
        "mix": np.asarray(inputs.mix, np.float64).tolist(),
        "pace": np.asarray(inputs.pace, np.float64).tolist(),
    }


def _rates_of(doc: dict[str, Any]) -> tuple[se.Rates, np.ndarray, np.ndarray]:
    arrays = {
        k: np.asarray(doc[k], np.float64)
        for k in ("exposure", "defaults", "prepayments", "default_p", "prepay_p")
    }
    rates = se.Rates(
        n_fields=int(doc["n_fields"]),
        n_sizes=int(doc["n_sizes"]),
        prior_months=float(doc["prior_months"]),
        **arrays,
    )
    return rates, np.asarray(doc["mix"], np.float64), np.asarray(doc["pace"], np.float64)


def _levers_of(doc: dict[str, Any]) -> se.Levers:
    return se.Levers(
        risk_share=float(doc["risk_share"]),
        rate_cap=None if doc.get("rate_cap") is None else float(doc["rate_cap"]),
        quota=float(doc["quota"]),
        key_list_size=int(doc["key_list_size"]),
    )


def _assumptions_of(doc: dict[str, Any]) -> se.Assumptions:
    known = se.Assumptions.__dataclass_fields__
    values = {k: v for k, v in doc.items() if k in known}  # a field an older engine had: left
    values["band"] = tuple(values.get("band", se.Assumptions.band))
    return se.Assumptions(**values)


def _visible_scope(p: Principal) -> ColumnElement[bool]:
    """Runs the caller may read: those of programmes it sees; a run over every programme by the
    admin and the national office only."""
    if p.is_admin or p.is_national:
        return true()
    seen = select(Programme.id).where(programme_scope(p))
    clause: ColumnElement[bool] = ScenarioRun.programme_id.in_(seen)
    return clause


def _may_run(session: Session, p: Principal, programme_id: int | None) -> None:
    if programme_id is None:
        if not (p.is_admin or p.is_national):
            raise NotFound("a scenario over every programme is for the national office")
        return
    visible(session, Programme, programme_id, programme_scope(p), "programme")
    runs = select(Programme.id).where(Programme.id == programme_id, programme_run_scope(p))
    if session.scalar(runs) is None:
        raise Forbidden("only the offices that run the programme run its scenarios")


def _changed_levers(baseline: se.Levers, changes: dict[str, Any]) -> se.Levers:
    unknown = set(changes) - {"risk_share", "rate_cap", "quota", "key_list_size"}
    if unknown:
        raise InvalidInput(f"unknown levers: {', '.join(sorted(unknown))}", field="levers")
    levers = replace(baseline, **{k: v for k, v in changes.items()})
    if not 0 <= levers.risk_share <= 1:
        raise InvalidInput("risk_share must be between 0 and 1", field="risk_share")
    if levers.rate_cap is not None and not 0 < levers.rate_cap < 1:
        raise InvalidInput("rate_cap is an annual rate as a fraction (0.045)", field="rate_cap")
    if levers.quota < 0:
        raise InvalidInput("quota must not be negative", field="quota")
    if levers.key_list_size < 0:
        raise InvalidInput("key_list_size must not be negative", field="key_list_size")
    return levers


def _changed_assumptions(base: se.Assumptions, changes: dict[str, Any]) -> se.Assumptions:
    known = set(se.Assumptions.__dataclass_fields__)
    unknown = set(changes) - known
    if unknown:
        raise InvalidInput(
            f"unknown assumptions: {', '.join(sorted(unknown))}", field="assumptions"
        )
    out = replace(base, **changes)
    if not 12 <= out.months <= 36:
        raise InvalidInput("months must be between 12 and 36", field="months")
    if not 100 <= out.paths <= 20_000:
        raise InvalidInput("paths must be between 100 and 20000", field="paths")
    if not 0 <= out.default_shock <= 3:
        raise InvalidInput("default_shock must be between 0 and 3", field="default_shock")
    return out


def run_scenario(
    session: Session,
    principal: Principal,
    actor: Actor,
    programme_id: int | None,
    *,
    levers: dict[str, Any] | None = None,
    assumptions: dict[str, Any] | None = None,
    seed: int | None = None,
    name: str | None = None,
    as_of: dt.date | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Run the programme's baseline with the `levers` changed, store the run, return its id.
    Without a seed, one is drawn (and stored): the same seed gives the same result."""
    _may_run(session, principal, programme_id)
    started = time.perf_counter()
    inputs = scenario_inputs(session, programme_id, as_of)
    chosen = _changed_levers(inputs.baseline, levers or {})
    a = _changed_assumptions(inputs.assumptions, assumptions or {})
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    if not 0 <= seed < 2**31:
        raise InvalidInput("the seed is a whole number from 0 to 2147483647", field="seed")
    projection = se.project(inputs.book, inputs.rates, inputs.mix, inputs.pace, chosen, a, seed)
    row = ScenarioRun(
        programme_id=programme_id,
        name=name,
        as_of=inputs.as_of,
        months=a.months,
        paths=a.paths,
        seed=seed,
        engine_version=se.ENGINE_VERSION,
        levers=asdict(chosen),
        assumptions={**asdict(a), "band": list(a.band)},
        baseline=asdict(inputs.baseline),
        rates=_rates_json(inputs),
        book=inputs.book.as_json(),
        book_fingerprint=inputs.book.fingerprint(),
        result=projection.as_json(),
        seconds=round(time.perf_counter() - started, 3),
        created_by=actor.label,
        created_at=at or dt.datetime.now(dt.UTC),
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        action="insert",
        entity="scenario_run",
        entity_id=row.id,
        after={"programme_id": programme_id, "seed": seed, "levers": row.levers},
    )
    return row.id


def _row(session: Session, p: Principal, run_id: int) -> ScenarioRun:
    return visible(session, ScenarioRun, run_id, _visible_scope(p), "scenario run")


def _result(row: ScenarioRun) -> ScenarioResult:
    res = row.result
    a = _assumptions_of(row.assumptions)
    r = row.rates
    sizes, fields = r["sizes"], r["fields"]
    n_sizes = int(r["n_sizes"])
    segments = tuple(
        SegmentRate(
            tech_field=fields[i // n_sizes],
            size_band=int(sizes[i % n_sizes]),
            exposure_months=round(float(r["exposure"][i]), 2),
            defaults=int(r["defaults"][i]),
            prepayments=int(r["prepayments"][i]),
            default_p=float(r["default_p"][i]),
            prepay_p=float(r["prepay_p"][i]),
        )
        for i in range(len(r["exposure"]))
        if r["exposure"][i] > 0
    )

    months = []
    for i in range(int(res["months"])):
        figures: dict[str, Decimal] = {}
        for key in ("balance", "defaults", "cumulative_defaults", "payouts"):
            b = res[key]
            figures[key] = _yuan(b["mean"][i])
            figures[f"{key}_low"] = _yuan(b["low"][i])
            figures[f"{key}_high"] = _yuan(b["high"][i])
            figures[f"{key}_median"] = _yuan(b["median"][i])
        months.append(
            MonthBand(
                month=i + 1,
                month_end=month_end(add_months(row.as_of, i + 1)),
                new_lending=_yuan(res["new_lending"][i]),
                **figures,
            )
        )
    book = se.Book.from_json(row.book)
    return ScenarioResult(
        id=row.id,
        programme_id=row.programme_id,
        name=row.name,
        as_of=row.as_of,
        months=row.months,
        paths=row.paths,
        seed=row.seed,
        band=a.band,
        levers=_levers_of(row.levers),
        baseline=_levers_of(row.baseline),
        assumptions=a,
        rates=segments,
        book_loans=int(book.count.sum()),
        book_balance=_yuan(float(book.balance.sum())),
        book_fingerprint=row.book_fingerprint,
        projection=tuple(months),
        pool_balance=_yuan(a.pool_balance),
        pool_shortfall=float(res["pool_shortfall"]),
        engine_version=row.engine_version,
        created_by=row.created_by,
        created_at=row.created_at,
        seconds=row.seconds,
    )


def scenario_result(session: Session, principal: Principal, run_id: int) -> ScenarioResult:
    """A stored run as the reports show it (404 when the caller may not see its programme)."""
    return _result(_row(session, principal, run_id))


def scenario_runs(
    session: Session, principal: Principal, programme_id: int | None = None
) -> list[ScenarioSummary]:
    """The stored runs the caller may see, newest first (of one programme, if given)."""
    stmt = select(ScenarioRun).where(_visible_scope(principal))
    if programme_id is not None:
        stmt = stmt.where(ScenarioRun.programme_id == programme_id)
    out = []
    for row in session.scalars(stmt.order_by(ScenarioRun.id.desc())):
        res = row.result
        out.append(
            ScenarioSummary(
                id=row.id,
                programme_id=row.programme_id,
                name=row.name,
                as_of=row.as_of,
                months=row.months,
                paths=row.paths,
                seed=row.seed,
                levers=_levers_of(row.levers),
                balance_at_horizon=_yuan(res["balance"]["mean"][-1]),
                payouts_at_horizon=_yuan(res["payouts"]["mean"][-1]),
                created_by=row.created_by,
                created_at=row.created_at,
            )
        )
    return out


def replay(session: Session, principal: Principal, run_id: int) -> bool:
    """Recompute a stored run from its stored book, rates, levers, assumptions and seed:
    whether every figure comes out the same (a run of another engine version: Conflict)."""
    row = _row(session, principal, run_id)
    if row.engine_version != se.ENGINE_VERSION:
        raise Conflict(
            f"scenario run {run_id} was made by engine version {row.engine_version}, this is "
            f"version {se.ENGINE_VERSION}: its draws are not this version's"
        )
    rates, mix, pace = _rates_of(row.rates)
    projection = se.project(
        se.Book.from_json(row.book),
        rates,
        mix,
        pace,
        _levers_of(row.levers),
        _assumptions_of(row.assumptions),
        row.seed,
    )
    return bool(projection.as_json() == row.result)


__all__ = [
    "MonthBand",
    "ScenarioInputs",
    "ScenarioResult",
    "ScenarioSummary",
    "SegmentRate",
    "ledger_as_of",
    "replay",
    "run_scenario",
    "scenario_inputs",
    "scenario_result",
    "scenario_runs",
]
