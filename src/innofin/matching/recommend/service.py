"""Recommendation use cases: one need's products and institutions, an institution's
best-fitting open needs, a product pre-checked against a need, the back-test of the recommender
on the ledger's history.

Each function takes the session of the caller's unit of work and, where rows are the caller's to
see, a `Principal`: needs follow the enterprise they belong to (`scopes.need_scope`). The
recommendation run itself, shared with referrals and other rooms, is the room's read-only
`matching.queries`; the ledger is read through its tables only (loans), never through its
services.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.db.queries import visible
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.errors import Forbidden, InvalidInput
from innofin.kernel.principal import Principal
from innofin.matching import scopes
from innofin.matching.queries import (
    _firm_keys,
    need_recommendations,
    open_needs,
    run_recommendations,
)

# re-exported: the web pages read a need and the needs list through this module
from innofin.matching.queries import need as need
from innofin.matching.queries import needs_query as needs_query
from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import track_engine as track
from innofin.matching.recommend.columns import (
    DAY0,
    _catalogue,
    _code_index,
    _codes,
    _lenders,
    _loan_frame,
    _need_columns,
    _zone_index,
)
from innofin.matching.recommend.reasons import _firm_reasons, _track_reason
from innofin.matching.schemas import (
    FirmMatch,
    InstitutionRecommendations,
    NeedRecommendations,
    PrecheckOut,
    RuleOut,
)
from innofin.registry.models import Enterprise, Institution, Product


def recommend_need(
    session: Session, p: Principal, need_id: int, k: int = 5, rule: DisclosureRule | None = None
) -> NeedRecommendations:
    """One need's recommendations as `p` may see them (its products; others' records under the
    disclosure `rule`, the settings' by default)."""
    row = need(session, p, need_id)
    run = run_recommendations(session, [row], k=k, rule=rule, product_scope=policy.product_scope(p))
    return need_recommendations(run, 0, p.institution_ids)


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
