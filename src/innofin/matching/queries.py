"""Read-only queries of matching, shared by its sub-rooms and asked by other rooms: the financing
needs a caller sees, the open needs, and a recommendation run over some needs with one need's
recommendations from it — what recommend/ answers with, what referrals/ rank a need's
institutions and a decline's alternatives by, and what the events room takes as stand-in
preferences. Nothing here writes.

Loading turns rows into the engines' columns (`recommend.columns`); the engines
(`recommend.eligibility_engine`, `recommend.engine`, `recommend.track_engine`) do the work; a
run's indices become records with their reasons in words (`recommend.reasons`). The ledger is
read through its tables only (credit lines), never through its services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.db.queries import visible
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.principal import Principal
from innofin.kernel.settings import Settings
from innofin.ledger.models import CreditLine
from innofin.matching import scopes
from innofin.matching.models import FinancingNeed
from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import engine as rec
from innofin.matching.recommend.columns import (
    DEFAULT_LPR,
    Catalogue,
    Codes,
    Lenders,
    NeedColumns,
    _affinity,
    _catalogue,
    _codes,
    _lenders,
    _need_columns,
    _track_record,
)
from innofin.matching.recommend.reasons import (
    _firm_reasons,
    _rule_words,
    _terms_reason,
    _track_reason,
)
from innofin.matching.schemas import (
    InstitutionMatch,
    NearMiss,
    NeedRecommendations,
    ProductMatch,
    Reason,
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


def open_needs(session: Session) -> list[FinancingNeed]:
    return list(
        session.scalars(
            select(FinancingNeed).where(FinancingNeed.status == "open").order_by(FinancingNeed.id)
        )
    )


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
