"""Matching use cases: post and change financing needs, pre-check a product, recommend both
ways, back-test the recommender on the ledger's history.

Each function takes the session of the caller's unit of work and, where rows are the caller's to
see, a `Principal`: needs follow the enterprise they belong to (`scopes.need_scope`). The ledger
is read through its tables only (loans, credit lines), never through its services. Loading turns
rows into the engines' columns (`_load_*`); the engines (`eligibility_engine`,
`recommend_engine`, `track_engine`) do the work; this module only turns their indices into
records and reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.db.queries import apply, visible, writable
from innofin.kernel.codes import TECH_FIELD_NAMES, Role, TechField
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.errors import Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.kernel.settings import Settings
from innofin.ledger.models import CreditLine, Loan
from innofin.matching import eligibility_engine as elig
from innofin.matching import recommend_engine as rec
from innofin.matching import scopes
from innofin.matching import track_engine as track
from innofin.matching.models import FinancingNeed
from innofin.matching.schemas import (
    FirmMatch,
    InstitutionMatch,
    InstitutionRecommendations,
    NearMiss,
    NeedCreate,
    NeedFields,
    NeedRecommendations,
    PrecheckOut,
    ProductMatch,
    Reason,
    RuleOut,
)
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
NON_PERFORMING = ("substandard", "doubtful", "loss")
#: the operator at the machine (the CLI): every row, as the platform admin
OPERATOR = Principal(
    user_id=0,
    username="cli",
    roles=frozenset({Role.PLATFORM_ADMIN}),
    organisation_id=0,
    org_kind="government",
)
DAY0 = dt.date(1970, 1, 1)


# --------------------------------------------------------------------------- needs


def needs_query(
    p: Principal, enterprise_id: int | None = None, status: str | None = None
) -> Select[Any]:
    stmt = policy.scoped(select(FinancingNeed), scopes.need_scope(p))
    if enterprise_id is not None:
        stmt = stmt.where(FinancingNeed.enterprise_id == enterprise_id)
    if status is not None:
        stmt = stmt.where(FinancingNeed.status == status)
    return stmt


def need(session: Session, p: Principal, need_id: int) -> FinancingNeed:
    return visible(session, FinancingNeed, need_id, scopes.need_scope(p), "financing need")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def post_need(session: Session, p: Principal, body: NeedCreate) -> FinancingNeed:
    """An enterprise posts its need, or an officer posts it on the enterprise's behalf."""
    found = session.scalar(
        select(Enterprise.id).where(
            Enterprise.id == body.enterprise_id, policy.enterprise_write_scope(p)
        )
    )
    if found is None:
        seen = session.scalar(
            select(Enterprise.id).where(
                Enterprise.id == body.enterprise_id, policy.enterprise_scope(p)
            )
        )
        if seen is None:
            raise NotFound(f"no enterprise {body.enterprise_id}")
        raise Forbidden(
            f"you may see enterprise {body.enterprise_id} but not post a need for it",
            field="enterprise_id",
        )
    values = body.model_dump()
    values["collateral_offered"] = [c.value for c in body.collateral_offered]
    values["purpose"] = body.purpose.value
    row = FinancingNeed(**values, status="open", posted_by=p.user_id or None, posted_at=_now())
    session.add(row)
    session.flush()
    return row


def update_need(session: Session, p: Principal, need_id: int, body: NeedFields) -> FinancingNeed:
    row = need(session, p, need_id)
    writable(session, FinancingNeed, need_id, scopes.need_write_scope(p), "financing need")
    changes = body.model_dump(exclude_unset=True)
    policy.check_reach_fields(p, "financing_need", changes, "financing need")
    for name in ("amount", "term_months", "purpose", "needed_by", "equity_acceptable", "status"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be emptied", field=name)
    if row.status not in ("open", "withdrawn") and "status" in changes:
        raise InvalidInput(
            f"the need is {row.status}: only an open or withdrawn need changes status",
            field="status",
        )
    if changes.get("collateral_offered") is not None:
        changes["collateral_offered"] = [str(c) for c in changes["collateral_offered"]]
    if changes.get("purpose") is not None:
        changes["purpose"] = str(changes["purpose"])
    apply(row, {**changes, "updated_at": _now()})
    session.flush()
    return row


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
    analytics), whether it defaulted, the borrower's zone and field."""
    stmt = select(
        Loan.institution_id,
        Loan.enterprise_id,
        Loan.drawn_on,
        Loan.principal,
        (Loan.defaulted_on.is_not(None) | Loan.category.in_(NON_PERFORMING)).label("defaulted"),
        Enterprise.zone_id,
        Enterprise.tech_field,
    ).join(Enterprise, Enterprise.id == Loan.enterprise_id)
    if until is not None:
        stmt = stmt.where(Loan.drawn_on <= until)
    rows = session.execute(stmt).all()
    frame = pl.DataFrame(
        rows,
        schema={
            "institution_id": pl.Int64,
            "enterprise": pl.Int64,
            "drawn_on": pl.Date,
            "principal": pl.Decimal(20, 2),
            "defaulted": pl.Boolean,
            "zone_id": pl.Int64,
            "tech_field": pl.String,
        },
        orient="row",
    )
    return frame.with_columns(pl.col("principal").cast(pl.Float64).alias("amount")).drop(
        "principal"
    )


def _history(
    session: Session, codes: Codes, lenders: Lenders, until: dt.date | None = None
) -> pl.DataFrame:
    """Every loan (drawn up to `until`) with its lender's index and its borrower's codes."""
    frame = _loan_frame(session, until)
    revenue = _firms_revenue(session, frame["enterprise"].unique().to_list())
    zone = _zone_index(codes, frame["zone_id"].cast(pl.Float64).to_numpy())
    joined = frame.join(revenue, on="enterprise", how="left", maintain_order="left")
    return joined.with_columns(
        pl.Series("institution", np.searchsorted(lenders.ids, frame["institution_id"].to_numpy())),
        pl.Series("zone", zone),
        pl.Series("province", np.where(zone >= 0, codes.zone_province[np.maximum(zone, 0)], -1)),
        pl.Series("field", _code_index(frame["tech_field"].to_list(), elig.FIELDS)),
        pl.Series("size", track.size_band(joined["revenue"].fill_null(np.nan).to_numpy())),
    )


def _firms_revenue(session: Session, ids: Sequence[int]) -> pl.DataFrame:
    """Each firm's revenue in its latest report that has one (yuan, float: analytics)."""
    if not ids:
        return pl.DataFrame(schema={"enterprise": pl.Int64, "revenue": pl.Float64})
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
    frame = pl.DataFrame(
        {"enterprise": [r[0] for r in rows], "revenue": [float(r[1] or 0) for r in rows]},
        schema={"enterprise": pl.Int64, "revenue": pl.Float64},
    )
    return frame.filter(pl.col("enterprise").is_in(list(ids)))


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


# --------------------------------------------------------------------------- reasons


def _field_names(index: int) -> tuple[str, str]:
    if 0 <= index < len(elig.FIELDS):
        return TECH_FIELD_NAMES[TechField(elig.FIELDS[index])]
    return ("未知领域", "unknown-field")


def _yuan_m(value: float) -> tuple[str, str]:
    return f"{value / 10_000:,.0f}万元", f"{value / 1_000_000:,.1f} m yuan"


def _track_reason(
    cells: dict[tuple[str, ...], pl.DataFrame],
    institution: int,
    firm: dict[str, int],
    codes: Codes,
    own: bool,
) -> Reason | None:
    fact = track.best_fact(cells, institution, firm, own)
    if fact is None:
        return None
    fzh, fen = _field_names(firm["field"])
    zone = codes.zone_codes[firm["zone"]] if 0 <= firm["zone"] < len(codes.zone_codes) else "?"
    size = firm["size"]
    size_zh, size_en = track.SIZE_BAND_NAMES[size] if size >= 0 else ("", "")
    parts_zh, parts_en = [], []
    if "zone" in fact.level:
        parts_zh.append(f"本园区（{zone}）")
        parts_en.append(f"in this zone ({zone})")
    if "size" in fact.level:
        parts_zh.append(f"同规模（{size_zh}）")
        parts_en.insert(0, f"of this size ({size_en})")
    who_zh = "".join(parts_zh) + (f"{fzh}企业" if "field" in fact.level else "企业")
    who_en = (f"{fen} firms " if "field" in fact.level else "firms ") + " ".join(parts_en)
    mzh, men = _yuan_m(fact.median)
    default_zh = f"，其中 {fact.default_share:.1%} 违约" if fact.default_share > 0 else "，无违约"
    default_en = (
        f"; {fact.default_share:.1%} defaulted" if fact.default_share > 0 else "; none defaulted"
    )
    return Reason(
        code="track_record",
        zh=f"曾向{who_zh}发放贷款 {fact.loans} 笔（{fact.borrowers} 家），中位数 {mzh}{default_zh}",
        en=f"lent {fact.loans} loans to {who_en.strip()} ({fact.borrowers} borrowers); "
        f"median {men}{default_en}",
        facts={
            "loans": fact.loans,
            "borrowers": fact.borrowers,
            "median_yuan": round(fact.median, 2),
            "default_share": round(fact.default_share, 4),
            "cell": list(fact.level),
        },
    )


def _firm_reasons(firm: dict[str, Any], own_loans: float, points_pct: float) -> list[Reason]:
    out: list[Reason] = []
    if own_loans > 0:
        out.append(
            Reason(
                code="relationship",
                zh=f"企业已在该机构获得贷款 {own_loans:.0f} 笔",
                en=f"the firm already had {own_loans:.0f} loan(s) from it",
                facts={"own_loans": int(own_loans)},
            )
        )
    points = firm.get("points")
    if points is not None and not np.isnan(points):
        out.append(
            Reason(
                code="points",
                zh=f"创新积分 {points:.1f}，不低于 {points_pct:.0%} 的需求企业",
                en=f"innovation points {points:.1f}, at or above {points_pct:.0%} of the firms "
                "with needs",
                facts={"points": round(points, 2), "percentile": round(points_pct, 4)},
            )
        )
    late = int(firm.get("own_late") or 0)
    risk = float(firm.get("risk") or 0.0)
    if late or risk:
        out.append(
            Reason(
                code="risk",
                zh=f"台账显示 {late} 笔贷款曾逾期或欠佳，风险信号 {risk:.2f}",
                en=f"the ledger shows {late} loans late or below pass; risk signal {risk:.2f}",
                facts={"late_loans": late, "risk": round(risk, 4)},
            )
        )
    else:
        out.append(
            Reason(
                code="risk",
                zh="台账中无逾期或违约记录",
                en="no late payment or default in the ledger",
                facts={"late_loans": 0, "risk": 0.0},
            )
        )
    return out


def _terms_reason(rate: float, max_rate: float) -> Reason | None:
    if np.isnan(rate):
        return None
    if np.isnan(max_rate):
        return Reason(
            code="terms",
            zh=f"最低年利率约 {rate:.2f}%",
            en=f"lowest rate about {rate:.2f} %",
            facts={"rate_min": round(rate, 4)},
        )
    return Reason(
        code="terms",
        zh=f"最低年利率约 {rate:.2f}%，在企业可承受的 {max_rate:.2f}% 以内",
        en=f"lowest rate about {rate:.2f} %, within the firm's maximum {max_rate:.2f} %",
        facts={"rate_min": round(rate, 4), "max_rate": round(max_rate, 4)},
    )


def _rule_words(
    cols: NeedColumns, catalogue: Catalogue, row: int, product: int, codes: Codes, rule: str
) -> tuple[str, str]:
    outcomes = elig.explain(
        cols.needs, catalogue.products, row, product, codes.certifications, codes.zone_codes
    )
    for o in outcomes:
        if o.code == rule:
            return o.zh, o.en
    return rule, rule


# --------------------------------------------------------------------------- recommendations


@dataclass(frozen=True)
class Run:
    """One recommendation run over some needs, with what explains it."""

    cols: NeedColumns
    catalogue: Catalogue
    lenders: Lenders
    codes: Codes
    result: rec.Recommendations
    own: np.ndarray
    cells: dict[tuple[str, ...], pl.DataFrame]
    points_pct: np.ndarray
    #: institution id → (credit lines approved, credit lines decided)
    approvals: dict[int, tuple[int, int]]


def run_recommendations(
    session: Session,
    needs: Sequence[FinancingNeed],
    k: int = 5,
    per_institution: int = 10,
    rule: DisclosureRule | None = None,
    lpr: float = DEFAULT_LPR,
    product_scope: Any = None,
) -> Run:
    """Recommend for `needs` from the catalogue (the products of `product_scope`: a caller sees
    only the products it may see)."""
    codes = _codes(session)
    lenders = _lenders(session)
    catalogue = _catalogue(session, codes, lenders, scope=product_scope, lpr=lpr)
    cols = _need_columns(session, codes, needs)
    history = _history(session, codes, lenders)
    log_aff, own = _affinity(history, cols, codes, lenders)
    result = rec.recommend(
        cols.needs,
        catalogue.products,
        rec.normalised_affinity(log_aff),
        cols.firms["risk"].fill_null(0.0).to_numpy(),
        cols.ids,
        catalogue.ids,
        lenders.ids,
        k=k,
        per_institution=per_institution,
    )
    cells = track.track_cells(history, rule or Settings.from_env().disclosure)
    return Run(
        cols,
        catalogue,
        lenders,
        codes,
        result,
        own,
        cells,
        rec.percentile(cols.needs.points),
        _approvals(session),
    )


def _approvals(session: Session) -> dict[int, tuple[int, int]]:
    """Each institution's credit lines approved (approved or since closed) and decided (those
    and the rejected), from the ledger."""
    approved = CreditLine.status.in_(("approved", "closed"))
    rows = session.execute(
        select(
            CreditLine.institution_id,
            func.count(CreditLine.id).filter(approved),
            func.count(CreditLine.id).filter(approved | (CreditLine.status == "rejected")),
        ).group_by(CreditLine.institution_id)
    ).all()
    return {int(i): (int(a), int(d)) for i, a, d in rows}


def _approval_reason(run: Run, institution_id: int) -> Reason | None:
    approved, decided = run.approvals.get(institution_id, (0, 0))
    if not decided:
        return None
    share = approved / decided
    return Reason(
        code="approvals",
        zh=f"该机构已审批授信 {decided} 笔，批准 {approved} 笔（{share:.0%}）",
        en=f"it approved {approved} of the {decided} credit lines it decided ({share:.0%})",
        facts={"approved": approved, "decided": decided},
    )


def _firm_keys(run: Run, row: int) -> dict[str, int]:
    f = run.cols.firms.row(row, named=True)
    return {"field": int(f["field"]), "size": int(f["size"]), "zone": int(f["zone"])}


def need_recommendations(
    run: Run, row: int, own_institutions: frozenset[int]
) -> NeedRecommendations:
    """The recommendations of one need of a run, with reasons; facts of institutions other than
    the viewer's own obey the disclosure rule."""
    r, cat, cols = run.result, run.catalogue, run.cols
    firm = cols.firms.row(row, named=True)
    keys = _firm_keys(run, row)
    products: list[ProductMatch] = []
    for j, score in zip(r.products[row], r.product_scores[row], strict=True):
        if j < 0:
            continue
        inst = int(cat.products.institution[j])
        inst_id = int(run.lenders.ids[inst])
        reasons = [
            x
            for x in (
                _track_reason(run.cells, inst, keys, run.codes, inst_id in own_institutions),
                _approval_reason(run, inst_id),
                _terms_reason(float(cat.products.rate_min[j]), float(cols.needs.max_rate[row])),
            )
            if x is not None
        ]
        reasons += _firm_reasons(firm, float(run.own[row, inst]), float(run.points_pct[row]))
        products.append(
            ProductMatch(
                product_id=int(cat.ids[j]),
                product_code=cat.codes[j],
                product_name=cat.names[j],
                institution_id=inst_id,
                institution_name=run.lenders.names[inst_id],
                score=round(float(score), 6),
                reasons=reasons,
            )
        )
    institutions: list[InstitutionMatch] = []
    for i, score in zip(r.institutions[row], r.institution_scores[row], strict=True):
        if i < 0:
            continue
        inst_id = int(run.lenders.ids[i])
        reasons = [
            x
            for x in [
                _track_reason(run.cells, int(i), keys, run.codes, inst_id in own_institutions),
                _approval_reason(run, inst_id),
            ]
            if x is not None
        ]
        reasons += _firm_reasons(firm, float(run.own[row, i]), float(run.points_pct[row]))
        institutions.append(
            InstitutionMatch(
                institution_id=inst_id,
                institution_name=run.lenders.names[inst_id],
                score=round(float(score), 6),
                reasons=reasons,
            )
        )
    near: list[NearMiss] = []
    for j, rule_index in zip(r.near_products[row], r.near_rules[row], strict=True):
        if j < 0:
            continue
        code = elig.RULES[int(rule_index)].code
        zh, en = _rule_words(cols, cat, row, int(j), run.codes, code)
        near.append(
            NearMiss(
                product_id=int(cat.ids[j]),
                product_name=cat.names[j],
                institution_id=int(cat.institution_ids[j]),
                failed_rule=code,
                zh=zh,
                en=en,
            )
        )
    message = None
    if not products:
        message = (
            "no product in the catalogue fits this need"
            + (f"; {len(near)} fail by one condition (see near_misses)" if near else "")
            if len(cat.ids)
            else "the product catalogue is empty: no product can be recommended"
        )
    return NeedRecommendations(
        need_id=int(cols.ids[row]),
        enterprise_id=int(cols.enterprise[row]),
        eligible_products=int(r.eligible_count[row]),
        products=products,
        institutions=institutions,
        near_misses=near,
        message=message,
    )


def recommend_need(
    session: Session, p: Principal, need_id: int, k: int = 5, rule: DisclosureRule | None = None
) -> NeedRecommendations:
    """One need's recommendations as `p` may see them (its products; others' records under the
    disclosure `rule`, the settings' by default)."""
    row = need(session, p, need_id)
    run = run_recommendations(session, [row], k=k, rule=rule, product_scope=policy.product_scope(p))
    return need_recommendations(run, 0, p.institution_ids)


def open_needs(session: Session) -> list[FinancingNeed]:
    return list(
        session.scalars(
            select(FinancingNeed).where(FinancingNeed.status == "open").order_by(FinancingNeed.id)
        )
    )


def recommend_institution(
    session: Session,
    p: Principal,
    institution_id: int,
    top: int = 10,
    rule: DisclosureRule | None = None,
) -> InstitutionRecommendations:
    """An institution's best-fitting open needs. Its own officers (and officers, the admin) ask;
    a firm is named only where the caller may see it (`policy.enterprise_scope`)."""
    inst = visible(session, Institution, institution_id, policy.institution_scope(p), "institution")
    limited = scopes.match_institution_ids(p)
    if limited is not None and institution_id not in limited:
        raise Forbidden(
            f"you may see institution {institution_id} but not its matches", field="institution_id"
        )
    needs = open_needs(session)
    if not needs:
        return InstitutionRecommendations(
            institution_id=institution_id,
            institution_name=inst.name,
            firms=[],
            message="no open financing need has been posted",
        )
    run = run_recommendations(session, needs, per_institution=top, rule=rule)
    i = int(np.searchsorted(run.lenders.ids, institution_id))
    visible_ids = set(
        session.scalars(
            policy.scoped(
                select(Enterprise.id).where(Enterprise.id.in_(run.cols.enterprise.tolist())),
                policy.enterprise_scope(p),
            )
        )
    )
    own = institution_id in p.institution_ids or p.is_admin
    firms: list[FirmMatch] = []
    for row, score in zip(run.result.firms[i], run.result.firm_scores[i], strict=True):
        if row < 0:
            continue
        f = run.cols.firms.row(int(row), named=True)
        ent = int(run.cols.enterprise[row])
        named = ent in visible_ids
        keys = _firm_keys(run, int(row))
        reasons = [x for x in [_track_reason(run.cells, i, keys, run.codes, own)] if x is not None]
        reasons += _firm_reasons(f, float(run.own[row, i]), float(run.points_pct[row]))
        need_row = needs[int(row)]
        zone = int(f["zone"])
        firms.append(
            FirmMatch(
                need_id=need_row.id,
                enterprise_id=ent if named else None,
                enterprise_name=f["name"] if named else None,
                tech_field=f["tech_field"],
                growth_stage=f["growth_stage"],
                zone_code=run.codes.zone_codes[zone] if zone >= 0 else None,
                amount=need_row.amount,
                term_months=need_row.term_months,
                purpose=need_row.purpose,
                score=round(float(score), 6),
                reasons=reasons,
            )
        )
    message = None if firms else "no open need is eligible for this institution's products"
    return InstitutionRecommendations(
        institution_id=institution_id, institution_name=inst.name, firms=firms, message=message
    )


# --------------------------------------------------------------------------- pre-check


def precheck(session: Session, p: Principal, need_id: int, product_id: int) -> PrecheckOut:
    """Each rule of one product for one need, passed or failed, in Chinese and English."""
    row = need(session, p, need_id)
    product = visible(session, Product, product_id, policy.product_scope(p), "product")
    codes = _codes(session)
    lenders = _lenders(session)
    catalogue = _catalogue(session, codes, lenders, only=product.id)
    cols = _need_columns(session, codes, [row])
    outcomes = elig.explain(
        cols.needs, catalogue.products, 0, 0, codes.certifications, codes.zone_codes
    )
    return PrecheckOut(
        product_id=product.id,
        product_name=product.name,
        eligible=all(o.passed for o in outcomes),
        rules=[RuleOut(code=o.code, passed=o.passed, zh=o.zh, en=o.en) for o in outcomes],
    )


# --------------------------------------------------------------------------- back-test


def backtest(
    session: Session, train_until: dt.date, test_from: dt.date, params: track.Params | None = None
) -> track.Backtest:
    """Where the institution that actually lent ranks among the recommendations, for each
    enterprise that borrowed on or after `test_from`, from the track record up to
    `train_until`. Reads only enterprises, zones, institutions and loans."""
    if test_from <= train_until:
        raise InvalidInput(
            f"--test-from ({test_from}) must be after --train-until ({train_until})",
            field="test_from",
        )
    codes = _codes(session)
    lenders = _lenders(session)
    frame = _loan_frame(session)
    firm_ids, first, firm_of_loan = np.unique(
        frame["enterprise"].to_numpy(), return_index=True, return_inverse=True
    )
    zone = _zone_index(codes, frame["zone_id"].cast(pl.Float64).to_numpy()[first])
    loans = {
        "institution": np.searchsorted(lenders.ids, frame["institution_id"].to_numpy()),
        "enterprise": firm_of_loan.ravel(),
        "day": frame["drawn_on"].cast(pl.Int32).to_numpy().astype(np.int64),
        "amount": frame["amount"].to_numpy(),
    }
    firm_cols = {
        "zone": zone,
        "province": np.where(zone >= 0, codes.zone_province[np.maximum(zone, 0)], -1),
        "field": _code_index(frame["tech_field"].gather(first).to_list(), elig.FIELDS),
        "size": np.full(firm_ids.size, -1),
        "n_zone": np.array(codes.zone_ids.size),
        "n_province": np.array(len(codes.provinces)),
        "n_field": np.array(len(elig.FIELDS)),
        "n_size": np.array(len(track.SIZE_BANDS) + 1),
    }
    return track.backtest(
        lenders.ids.size,
        loans,
        firm_cols,
        (train_until - DAY0).days,
        (test_from - DAY0).days,
        params or track.Params(),
    )
