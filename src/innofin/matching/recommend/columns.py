"""Matching's loading: rows of the registry, scoring and the ledger's tables turned into the
engines' columns (codes, firms, catalogue, needs, loans, the track record's history).

The ledger is read through its tables only (loans, credit lines), never through its services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.errors import InvalidInput
from innofin.kernel.settings import Settings
from innofin.ledger.models import Loan
from innofin.matching.models import FinancingNeed
from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import history
from innofin.matching.recommend import track_engine as track
from innofin.registry.models import (
    Certification,
    CertificationKindRef,
    Enterprise,
    IndicatorReport,
    Institution,
    Product,
    Zone,
)
from innofin.registry.schemas import Eligibility
from innofin.scoring.models import ScoreResult, ScoreRun

#: the 1-year loan prime rate (percent) used to price LPR-linked products for the rate rule
#: (the fixing of 21 October 2024; a setting of the programme in time)
DEFAULT_LPR = 3.10
#: product kinds whose rate is a loan's interest (the others' rates are fees or premiums)
PRICED_KINDS = frozenset(
    {"pure_credit_loan", "ip_pledge_loan", "points_loan", "venture_loan", "secured_loan", "leasing"}
)
NON_PERFORMING = history.NON_PERFORMING
DAY0 = dt.date(1970, 1, 1)


# --------------------------------------------------------------------------- loading columns


@dataclass(frozen=True)
class Codes:
    """The code books that turn rows into engine columns."""

    zone_ids: np.ndarray  # sorted zone ids; index = zone code
    zone_codes: tuple[str, ...]
    zone_province: np.ndarray  # province index per zone
    provinces: tuple[str, ...]
    certifications: tuple[str, ...]


def _codes(session: Session) -> Codes:
    zones = session.execute(select(Zone.id, Zone.code, Zone.province).order_by(Zone.id)).all()
    provinces = tuple(sorted({z.province for z in zones}))
    kinds = tuple(
        session.scalars(select(CertificationKindRef.code).order_by(CertificationKindRef.code))
    )
    return Codes(
        zone_ids=np.array([z.id for z in zones], dtype=np.int64),
        zone_codes=tuple(z.code for z in zones),
        zone_province=np.array([provinces.index(z.province) for z in zones], dtype=np.int64),
        provinces=provinces,
        certifications=kinds,
    )


def _zone_index(codes: Codes, zone_ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(zone_ids, dtype=np.float64)
    known = ~np.isnan(ids)
    pos = np.searchsorted(codes.zone_ids, np.where(known, ids, 0).astype(np.int64))
    pos = np.minimum(pos, max(codes.zone_ids.size - 1, 0))
    ok = known & (codes.zone_ids.size > 0)
    if codes.zone_ids.size:
        ok &= codes.zone_ids[pos] == np.where(known, ids, -1)
    return np.where(ok, pos, -1)


def _code_index(values: Sequence[str | None], book: Sequence[str]) -> np.ndarray:
    index = {v: i for i, v in enumerate(book)}
    return np.array([index.get(v, -1) if v is not None else -1 for v in values], dtype=np.int64)


def _days(dates: pl.Series) -> np.ndarray:
    return dates.cast(pl.Date).cast(pl.Int32).to_numpy().astype(np.int64)


def _latest_points(session: Session, enterprise_ids: Sequence[int]) -> dict[int, float]:
    """Each enterprise's points in the latest scoring run (the latest year, then id)."""
    run = session.scalar(select(ScoreRun.id).order_by(ScoreRun.year.desc(), ScoreRun.id.desc()))
    if run is None:
        return {}
    rows = session.execute(
        select(ScoreResult.enterprise_id, ScoreResult.points).where(ScoreResult.run_id == run)
    ).all()
    wanted = set(enterprise_ids)
    return {e: float(pts) for e, pts in rows if e in wanted}


def _firms(session: Session, codes: Codes, enterprise_ids: Sequence[int]) -> pl.DataFrame:
    """The firms' facts the rules read: zone, field, stage, founding date, latest revenue,
    points, and the ledger's risk signal."""
    ids = sorted(set(enterprise_ids))
    rows = session.execute(
        select(
            Enterprise.id,
            Enterprise.name,
            Enterprise.zone_id,
            Enterprise.tech_field,
            Enterprise.growth_stage,
            Enterprise.founded_on,
        ).where(Enterprise.id.in_(ids))
    ).all()
    frame = pl.DataFrame(
        [r._asdict() for r in rows],
        schema={
            "id": pl.Int64,
            "name": pl.String,
            "zone_id": pl.Int64,
            "tech_field": pl.String,
            "growth_stage": pl.String,
            "founded_on": pl.Date,
        },
    )
    latest = (
        select(IndicatorReport.enterprise_id, func.max(IndicatorReport.year).label("year"))
        .where(IndicatorReport.enterprise_id.in_(ids), IndicatorReport.revenue.is_not(None))
        .group_by(IndicatorReport.enterprise_id)
        .subquery()
    )
    revenue = session.execute(
        select(IndicatorReport.enterprise_id, IndicatorReport.revenue).join(
            latest,
            (latest.c.enterprise_id == IndicatorReport.enterprise_id)
            & (latest.c.year == IndicatorReport.year),
        )
    ).all()
    rev = pl.DataFrame(
        {"id": [r[0] for r in revenue], "revenue": [float(r[1] or 0) for r in revenue]},
        schema={"id": pl.Int64, "revenue": pl.Float64},
    )
    points = _latest_points(session, ids)
    pts = pl.DataFrame(
        {"id": list(points), "points": list(points.values())},
        schema={"id": pl.Int64, "points": pl.Float64},
    )
    risk = _risk(session, ids)
    return (
        frame.join(rev, on="id", how="left")
        .join(pts, on="id", how="left")
        .join(risk, on="id", how="left")
        .with_columns(pl.col("risk").fill_null(0.0), pl.col("own_late").fill_null(0))
    )


def _risk(session: Session, ids: Sequence[int]) -> pl.DataFrame:
    """The ledger's risk signal per firm in [0, 1]: 0.6 if it ever defaulted, plus 0.4 × the
    share of its loans now classified below pass (late payments)."""
    rows = session.execute(
        select(
            Loan.enterprise_id,
            func.count(Loan.id),
            func.count(Loan.id).filter(Loan.category != "pass"),
            func.count(Loan.id).filter(Loan.defaulted_on.is_not(None)),
        )
        .where(Loan.enterprise_id.in_(ids))
        .group_by(Loan.enterprise_id)
    ).all()
    frame = pl.DataFrame(
        rows,
        schema={"id": pl.Int64, "loans": pl.Int64, "own_late": pl.Int64, "defaults": pl.Int64},
        orient="row",
    )
    return frame.select(
        "id",
        "own_late",
        pl.min_horizontal(
            pl.lit(1.0),
            0.6 * (pl.col("defaults") > 0).cast(pl.Float64)
            + 0.4 * pl.col("own_late") / pl.col("loans"),
        ).alias("risk"),
    )


def _certs(session: Session, codes: Codes, enterprise: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Per (enterprise, day) pair, the bit mask of certifications valid that day."""
    rows = session.execute(
        select(
            Certification.enterprise_id,
            Certification.kind,
            Certification.valid_from,
            Certification.valid_until,
        ).where(Certification.enterprise_id.in_(sorted({int(e) for e in enterprise})))
    ).all()
    if not rows:
        return np.zeros(enterprise.size, dtype=np.int64)
    certs = pl.DataFrame(
        rows,
        schema={"enterprise": pl.Int64, "kind": pl.String, "from": pl.Date, "until": pl.Date},
        orient="row",
    ).with_columns(
        pl.col("kind")
        .replace_strict(
            {k: 1 << i for i, k in enumerate(codes.certifications)},
            default=0,
            return_dtype=pl.Int64,
        )
        .alias("bit")
    )
    pairs = pl.DataFrame({"row": np.arange(enterprise.size), "enterprise": enterprise, "day": on})
    pairs = pairs.with_columns(pl.col("day").cast(pl.Int32).cast(pl.Date))
    valid = (
        pairs.join(certs, on="enterprise")
        .filter(
            (pl.col("from") <= pl.col("day"))
            & (pl.col("until").is_null() | (pl.col("day") <= pl.col("until")))
        )
        .group_by("row")
        .agg(pl.col("bit").unique().sum())
    )
    out = np.zeros(enterprise.size, dtype=np.int64)
    out[valid["row"].to_numpy()] = valid["bit"].to_numpy()
    return out


@dataclass(frozen=True)
class Catalogue:
    ids: np.ndarray
    codes: list[str]
    names: list[str]
    institution_ids: np.ndarray  # per product
    products: elig.Products


@dataclass(frozen=True)
class Lenders:
    ids: np.ndarray  # sorted institution ids
    names: dict[int, str]


def _lenders(session: Session) -> Lenders:
    rows = session.execute(select(Institution.id, Institution.name).order_by(Institution.id)).all()
    return Lenders(np.array([r.id for r in rows], dtype=np.int64), {r.id: r.name for r in rows})


def _band_value(doc: dict[str, Any], key: str) -> float:
    value = doc.get(key)
    return float("nan") if value is None else float(Decimal(str(value)))


def _catalogue(
    session: Session,
    codes: Codes,
    lenders: Lenders,
    only: int | None = None,
    scope: Any = None,
    lpr: float = DEFAULT_LPR,
) -> Catalogue:
    """Every product (or product `only`) as engine columns. Eligibility documents are read with
    `registry.schemas.Eligibility`, so an invalid one is named, not skipped."""
    stmt = select(Product).order_by(Product.id)
    if only is not None:
        stmt = stmt.where(Product.id == only)
    if scope is not None:
        stmt = policy.scoped(stmt, scope)
    rows = session.scalars(stmt).all()
    n = len(rows)
    zones = np.ones((codes.zone_ids.size + 1, n), dtype=bool)
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "min_points",
            "field_mask",
            "stage_mask",
            "cert_mask",
            "amount_min",
            "amount_max",
            "term_min",
            "term_max",
            "collateral",
            "revenue_min",
            "revenue_max",
            "age_min",
            "age_max",
            "rate_min",
            "active_from",
            "active_until",
            "direct",
            "equity",
        )
    }
    zone_index = {c: i for i, c in enumerate(codes.zone_codes)}
    for j, prod in enumerate(rows):
        try:
            rule = Eligibility.model_validate(prod.eligibility or {})
        except ValueError as exc:
            raise InvalidInput(
                f"product {prod.code}: its eligibility cannot be read: {exc}", field="eligibility"
            ) from None
        doc = rule.to_json()
        cols["min_points"].append(_band_value(doc, "min_points"))
        cols["field_mask"].append(sum(1 << elig.FIELDS.index(str(f)) for f in rule.fields))
        cols["stage_mask"].append(
            sum(1 << elig.STAGES.index(s) for s in rule.stages if s in elig.STAGES)
        )
        if rule.zones:
            zones[:, j] = False
            for code in rule.zones:
                if code in zone_index:
                    zones[zone_index[code], j] = True
        cols["cert_mask"].append(
            sum(
                1 << codes.certifications.index(c)
                for c in rule.required_certifications
                if c in codes.certifications
            )
            | (
                1 << 62
                if any(c not in codes.certifications for c in rule.required_certifications)
                else 0
            )
        )
        cols["revenue_min"].append(_band_value(doc, "revenue_min"))
        cols["revenue_max"].append(_band_value(doc, "revenue_max"))
        cols["age_min"].append(_band_value(doc, "age_min_years"))
        cols["age_max"].append(_band_value(doc, "age_max_years"))
        cols["amount_min"].append(
            float("nan") if prod.amount_min is None else float(prod.amount_min)
        )
        cols["amount_max"].append(
            float("nan") if prod.amount_max is None else float(prod.amount_max)
        )
        cols["term_min"].append(-1 if prod.term_min_months is None else prod.term_min_months)
        cols["term_max"].append(-1 if prod.term_max_months is None else prod.term_max_months)
        coll = prod.collateral if prod.collateral in elig.COLLATERALS else "none"
        cols["collateral"].append(elig.COLLATERALS.index(coll))
        rate = float("nan")
        if prod.kind in PRICED_KINDS and prod.rate_min is not None:
            rate = (
                float(prod.rate_min)
                if prod.rate_type == "fixed"
                else lpr + float(prod.rate_min) / 100
            )
        cols["rate_min"].append(rate)
        cols["active_from"].append(
            -(10**7) if prod.active_from is None else (prod.active_from - DAY0).days
        )
        cols["active_until"].append(
            10**7 if prod.active_until is None else (prod.active_until - DAY0).days
        )
        cols["direct"].append(prod.financing_mode == "direct")
        cols["equity"].append(prod.kind == "equity_investment")
    inst = np.array([r.institution_id for r in rows], dtype=np.int64)
    arrays = {
        k: np.array(
            v,
            dtype=bool
            if k in ("direct", "equity")
            else (np.float64 if isinstance(v[0], float) else np.int64),
        )
        if v
        else np.zeros(0, dtype=bool if k in ("direct", "equity") else np.float64)
        for k, v in cols.items()
    }
    for k in (
        "field_mask",
        "stage_mask",
        "cert_mask",
        "term_min",
        "term_max",
        "collateral",
        "active_from",
        "active_until",
    ):
        arrays[k] = arrays[k].astype(np.int64)
    modes = elig.stage_modes_table(dict(Settings.from_env().match_stage_modes))
    products = elig.Products(
        institution=np.searchsorted(lenders.ids, inst), zones=zones, stage_modes=modes, **arrays
    )
    return Catalogue(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        codes=[r.code for r in rows],
        names=[r.name for r in rows],
        institution_ids=inst,
        products=products,
    )


@dataclass(frozen=True)
class NeedColumns:
    ids: np.ndarray
    enterprise: np.ndarray
    needs: elig.Needs
    firms: pl.DataFrame  # one row per need: the firm's facts (name, risk, codes)


def _need_columns(session: Session, codes: Codes, rows: Sequence[FinancingNeed]) -> NeedColumns:
    ent = np.array([r.enterprise_id for r in rows], dtype=np.int64)
    firms = _firms(session, codes, ent.tolist())
    per_need = pl.DataFrame({"id": ent}).join(firms, on="id", how="left", maintain_order="left")
    day = np.array([(r.needed_by - DAY0).days for r in rows], dtype=np.int64)
    founded = per_need["founded_on"]
    age = np.where(
        founded.is_null().to_numpy(), np.nan, (day - _days(founded.fill_null(DAY0))) / 365.25
    )
    mask = {c: 1 << i for i, c in enumerate(elig.COLLATERALS)}
    zone = _zone_index(codes, per_need["zone_id"].cast(pl.Float64).to_numpy())
    needs = elig.Needs.of(
        amount=[float(r.amount) for r in rows],
        term=[r.term_months for r in rows],
        max_rate=[np.nan if r.max_rate is None else float(r.max_rate) for r in rows],
        collateral=[sum(mask.get(c, 0) for c in r.collateral_offered or []) for r in rows],
        equity=[r.equity_acceptable for r in rows],
        day=day,
        points=per_need["points"].fill_null(np.nan).to_numpy(),
        field=_code_index(per_need["tech_field"].to_list(), elig.FIELDS),
        stage=_code_index(per_need["growth_stage"].to_list(), elig.STAGES),
        zone=zone,
        certs=_certs(session, codes, ent, day),
        revenue=per_need["revenue"].fill_null(np.nan).to_numpy(),
        age=age,
    )
    firms_out = per_need.with_columns(
        pl.Series("zone", zone),
        pl.Series("province", np.where(zone >= 0, codes.zone_province[np.maximum(zone, 0)], -1)),
        pl.Series("field", needs.field),
        pl.Series("size", track.size_band(needs.revenue)),
    )
    return NeedColumns(np.array([r.id for r in rows], dtype=np.int64), ent, needs, firms_out)


def _loan_frame(session: Session, until: dt.date | None = None) -> pl.DataFrame:
    """Every loan (drawn up to `until`): lender, borrower, day drawn, principal in yuan (float:
    analytics), whether it defaulted, the borrower's zone and field (`history`: plain columns,
    the loans kept while the ledger does not change)."""
    return _with_firms(history.loans(session, until), history.firms(session)).drop("revenue")


def _with_firms(loans: pl.DataFrame, firms: pl.DataFrame) -> pl.DataFrame:
    return (
        loans.with_columns(history.yuan(loans["fen"]).alias("amount"))
        .join(firms, on="enterprise", how="inner", maintain_order="left")
        .select(
            "institution_id",
            "enterprise",
            "drawn_on",
            "defaulted",
            "zone_id",
            "tech_field",
            "amount",
            "revenue",
        )
    )


def _history(
    session: Session, codes: Codes, lenders: Lenders, until: dt.date | None = None
) -> pl.DataFrame:
    """Every loan (drawn up to `until`) with its lender's index and its borrower's codes."""
    return _coded(_with_firms(history.loans(session, until), history.firms(session)), codes,
                  lenders)  # fmt: skip


def _coded(joined: pl.DataFrame, codes: Codes, lenders: Lenders) -> pl.DataFrame:
    zone = _zone_index(codes, joined["zone_id"].cast(pl.Float64).to_numpy())
    return joined.with_columns(
        pl.Series("institution", np.searchsorted(lenders.ids, joined["institution_id"].to_numpy())),
        pl.Series("zone", zone),
        pl.Series("province", np.where(zone >= 0, codes.zone_province[np.maximum(zone, 0)], -1)),
        pl.Series("field", _code_index(joined["tech_field"].to_list(), elig.FIELDS)),
        pl.Series("size", track.size_band(joined["revenue"].fill_null(np.nan).to_numpy())),
    )


def _track_record(
    session: Session, codes: Codes, lenders: Lenders, rule: DisclosureRule
) -> tuple[pl.DataFrame, dict[tuple[str, ...], pl.DataFrame]]:
    """The loans with their codes (`_history`) and the cells a reason may quote
    (`track.track_cells`), kept while the ledger, the registry, the code books and the rule stay
    as they were (`history.kept`): a recommendation then reads two fingerprints, not every loan."""
    ledger, registry = history.fingerprint(session), history.registry_mark(session)
    mark = (
        ledger,
        registry,
        tuple(codes.zone_ids.tolist()),
        tuple(codes.zone_province.tolist()),
        tuple(lenders.ids.tolist()),
        rule,
    )

    def read(s: Session) -> tuple[pl.DataFrame, dict[tuple[str, ...], pl.DataFrame]]:
        loans = history.kept(s, "loans", ledger, history.read_loans)
        firms = history.kept(s, "firms", registry, history.read_firms)
        frame = _coded(_with_firms(loans, firms), codes, lenders)
        return frame, track.track_cells(frame, rule)

    return history.kept(session, "track", mark, read)


def _affinity(
    history: pl.DataFrame, cols: NeedColumns, codes: Codes, lenders: Lenders
) -> tuple[np.ndarray, np.ndarray]:
    """Log-affinities (needs × institutions) and the firms' own loans with each."""
    firms = cols.firms
    sizes = {
        "zone": codes.zone_ids.size,
        "province": len(codes.provinces),
        "field": len(elig.FIELDS),
        "size": len(track.SIZE_BANDS) + 1,
    }
    features = {
        name: (history[name].to_numpy(), firms[name].to_numpy(), size)
        for name, size in sizes.items()
    }
    features["amount"] = (
        track.amount_band(history["amount"].to_numpy()),
        track.amount_band(cols.needs.amount),
        len(track.AMOUNT_BANDS) + 1,
    )
    own = track.own_loan_counts(
        history["enterprise"].to_numpy(),
        history["institution"].to_numpy(),
        cols.enterprise,
        lenders.ids.size,
    )
    return track.affinity(lenders.ids.size, history["institution"].to_numpy(), features, own), own
