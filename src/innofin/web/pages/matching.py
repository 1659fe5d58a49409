"""Matching pages: the financing needs a visitor sees, one need with its recommended products
and institutions (each with its reasons, in the visitor's language) and its near misses, and an
institution's best-fitting needs. Rows come through `matching.service` under the API's policy
scopes: a need outside the visitor's reach is a 404 page; a firm an institution may not see is
shown by its facts alone."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from starlette.responses import Response

from innofin.access.policy import may
from innofin.api.deps import RowId, api_state, reading
from innofin.kernel.codes import NEED_PURPOSE_NAMES
from innofin.kernel.money import column_unit
from innofin.kernel.principal import Principal
from innofin.matching.models import FinancingNeed
from innofin.matching.recommend import service
from innofin.matching.referrals import rematch
from innofin.matching.referrals import service as referrals
from innofin.matching.referrals.engine import INSTRUMENT_WORDS
from innofin.registry.models import Enterprise
from innofin.web import i18n
from innofin.web.deps import page
from innofin.web.pages.referrals import referral_context
from innofin.web.render import render

router = APIRouter(include_in_schema=False)
LIMIT = 200


def purposes(request: Request) -> dict[str, str]:
    """Purpose codes → names in the visitor's language."""
    en = i18n.language(request) == "en"
    return {code.value: names[1 if en else 0] for code, names in NEED_PURPOSE_NAMES.items()}


@router.get("/needs")
def needs(request: Request, p: Principal = page("need:read")) -> Response:
    with reading(request) as s:
        stmt = service.needs_query(p).order_by(FinancingNeed.id.desc()).limit(LIMIT)
        rows = s.scalars(stmt).all()
        names = dict(
            s.execute(
                select(Enterprise.id, Enterprise.name).where(
                    Enterprise.id.in_({r.enterprise_id for r in rows})
                )
            ).all()
        )
    unit = column_unit(r.amount for r in rows)
    context = {"needs": rows, "names": names, "unit": unit, "purposes": purposes(request)}
    return render(request, "matching/needs.html", context)


@router.get("/needs/{need_id}")
def need(
    request: Request,
    need_id: RowId,
    product: int | None = Query(None, ge=1, le=2_147_483_647),
    p: Principal = page("match:recommend"),
) -> Response:
    """One need: its recommendations and near misses, a product's pre-check (each rule passed
    or failed), its referrals with their status, deadline, decline reason and re-matches, and
    the form that refers it to the recommended institutions (with the firm's consent)."""
    rule = api_state(request).settings.disclosure
    with reading(request) as s:
        row = service.need(s, p, need_id)
        firm = s.get(Enterprise, row.enterprise_id)
        found = service.recommend_need(s, p, need_id, 5, rule)
        checked = service.precheck(s, p, need_id, product) if product is not None else None
        sent = list(s.scalars(referrals.referrals_query(p, need_id=need_id)))
        shown = referral_context(request, s, p, sent)
        offered = rematch.alternatives(s, p, need_id) if sent else []
    referred = {r.institution_id for r in sent}
    context = {
        **shown,
        "need": row,
        "firm": firm,
        "found": found,
        "checked": checked,
        "offered": offered,
        "instruments": {
            k: v[0] if i18n.language(request) == "zh" else v[1] for k, v in INSTRUMENT_WORDS.items()
        },
        "product": product,
        "precheck_options": list(
            {
                **{str(m.product_id): m.product_name for m in found.products},
                **{str(m.product_id): m.product_name for m in found.near_misses},
            }.items()
        ),
        "zh": i18n.language(request) == "zh",
        "unit": column_unit([row.amount]),
        "purposes": purposes(request),
        "referable": [m for m in found.institutions if m.institution_id not in referred]
        if may(p, "need:refer") and row.status in ("open", "referred")
        else [],
    }
    return render(request, "matching/need.html", context)


@router.get("/institutions/{institution_id}/matches")
def matches(
    request: Request, institution_id: RowId, p: Principal = page("match:institution")
) -> Response:
    rule = api_state(request).settings.disclosure
    with reading(request) as s:
        found = service.recommend_institution(s, p, institution_id, 20, rule)
    unit = column_unit(f.amount for f in found.firms)
    context = {"found": found, "zh": i18n.language(request) == "zh", "unit": unit}
    return render(request, "matching/institution.html", context)
