"""REST endpoints of referrals and the funnel: the referrals a caller may see (an institution
only its own, a firm those of its needs, officers those of the firms they oversee), and the
funnel per institution (an institution sees its own rows and the whole programme's total only
when enough firms contribute to it, `kernel.disclosure`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from innofin.access.policy import institution_limited
from innofin.api.deps import allow, ok, reading
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.jsontypes import QuantityJson
from innofin.kernel.principal import Principal
from innofin.matching import referrals
from innofin.matching.models import NeedReferral

router = APIRouter(prefix="/api/v1", tags=["matching"], responses=ERROR_RESPONSES)
REFERRAL_SORTS = {"id": NeedReferral.id, "deadline": NeedReferral.deadline}


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    need_id: int
    institution_id: int
    product_id: int | None
    source: str
    status: str
    fit_score: QuantityJson | None
    reasons: list[Any]
    referred_at: dt.datetime
    deadline: dt.date
    responded_at: dt.datetime | None
    overdue_flagged_at: dt.datetime | None
    contacted_at: dt.datetime | None
    applied_at: dt.datetime | None
    approved_at: dt.datetime | None
    declined_at: dt.datetime | None
    decline_code: str | None
    decline_text: str | None
    credit_line_id: int | None
    rematch_of_id: int | None


class FunnelRowOut(BaseModel):
    institution_id: int
    institution_name: str
    referred: int
    answered: int
    opted_in: int
    contacted: int
    applied: int
    approved: int
    credit_lines: int
    declined: int
    declined_by_reason: dict[str, int]
    overdue: int
    enterprises: int
    conversion: float | None
    median_days_to_answer: float | None
    median_days_to_credit: float | None


class FunnelOut(BaseModel):
    institutions: list[FunnelRowOut]
    #: every institution's referrals together (shown to an institution only with enough firms)
    referred: int | None
    approved: int | None
    enterprises: int | None
    conversion: float | None


@router.get(
    "/need-referrals", response_model=Page[ReferralOut], summary="Referrals of financing needs"
)
def list_need_referrals(
    request: Request,
    page: PageRequest = Depends(page_request),
    need_id: int | None = Query(None, ge=1, le=2_147_483_647),
    institution_id: int | None = Query(None, ge=1, le=2_147_483_647),
    status: str | None = Query(
        None, pattern="^(referred|opted_in|contacted|applied|approved|declined|withdrawn)$"
    ),
    p: Principal = allow("need_referral:read"),
) -> Response:
    stmt = referrals.referrals_query(p, need_id, institution_id, status).order_by(None)
    return list_page(request, stmt, page, None, REFERRAL_SORTS, ReferralOut)


@router.get(
    "/matching/funnel",
    response_model=FunnelOut,
    summary="Referrals per institution: each step, declines by reason, conversion, days to credit",
)
def funnel(request: Request, p: Principal = allow("match:funnel")) -> Response:
    with reading(request) as s:
        rows = referrals.funnel(s)
    firms = sum(r.enterprises for r in rows)
    referred = sum(r.referred for r in rows)
    approved = sum(r.approved for r in rows)
    total_shown = True
    if institution_limited(p):
        rows = [r for r in rows if r.institution_id in p.institution_ids]
        total_shown = firms >= DisclosureRule().min_contributors
    return ok(
        FunnelOut(
            institutions=[FunnelRowOut.model_validate(r.as_json()) for r in rows],
            referred=referred if total_shown else None,
            approved=approved if total_shown else None,
            enterprises=firms if total_shown else None,
            conversion=round(approved / referred, 4) if total_shown and referred else None,
        )
    )
