"""Matching use cases: post and change financing needs, pre-check a product, recommend both
ways, back-test the recommender on the ledger's history.

Each function takes the session of the caller's unit of work and, where rows are the caller's to
see, a `Principal`: needs follow the enterprise they belong to (`scopes.need_scope`). The ledger
is read through its tables only (loans, credit lines), never through its services. Loading turns
rows into the engines' columns (`columns`); the engines (`eligibility_engine`,
`recommend_engine`, `track_engine`) do the work; this module turns their indices into
records, with their reasons in words (`reasons`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.db.queries import apply, visible, writable
from innofin.kernel.codes import Role
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.errors import Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.kernel.settings import Settings
from innofin.ledger.models import CreditLine
from innofin.matching import scopes
from innofin.matching.models import FinancingNeed
from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import engine as rec
from innofin.matching.recommend import track_engine as track
from innofin.matching.recommend.columns import (
    DAY0,
    DEFAULT_LPR,
    Catalogue,
    Codes,
    Lenders,
    NeedColumns,
    _affinity,
    _catalogue,
    _code_index,
    _codes,
    _lenders,
    _loan_frame,
    _need_columns,
    _track_record,
    _zone_index,
)
from innofin.matching.recommend.reasons import (
    _firm_reasons,
    _rule_words,
    _terms_reason,
    _track_reason,
)
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
    Enterprise,
    Institution,
    Product,
)

#: the operator at the machine (the CLI): every row, as the platform admin
OPERATOR = Principal(
    user_id=0,
    username="cli",
    roles=frozenset({Role.PLATFORM_ADMIN}),
    organisation_id=0,
    org_kind="government",
)


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
    history, cells = _track_record(session, codes, lenders, rule or Settings.from_env().disclosure)
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
