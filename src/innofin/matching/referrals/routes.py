"""REST endpoints of referrals and the funnel: the referrals a caller may see (an institution
only its own, a firm those of its needs, officers those of the firms they oversee), the writes
that move them (refer with the firm's consent, answer, funnel steps, overdue flags), the
alternatives a decline led to, and the funnel per institution (an institution sees its own rows
and the whole programme's total only when enough firms contribute to it, `kernel.disclosure`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from innofin.access.policy import institution_limited
from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request
from innofin.api.writes import write
from innofin.kernel.disclosure import DisclosureRule
from innofin.kernel.principal import Principal
from innofin.matching.models import NeedReferral
from innofin.matching.referrals import records, rematch
from innofin.matching.referrals import service as referrals
from innofin.matching.schemas import (
    ReferralAnswer,
    ReferralAnswerOut,
    ReferralCreate,
    ReferralList,
    ReferralOut,
    ReferralStep,
    RematchOut,
)

router = APIRouter(prefix="/api/v1", tags=["matching"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)
REFERRAL_SORTS = {"id": NeedReferral.id, "deadline": NeedReferral.deadline}


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
    #: what its declines led to: re-matches, those with nothing at all, offers by instrument
    rematched: int
    left_with_nothing: int
    alternatives_by_instrument: dict[str, int]


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


@router.post(
    "/needs/{need_id}/referrals",
    status_code=201,
    response_model=list[ReferralOut],
    summary="Refer a need to institutions at once (each needs the enterprise's consent)",
)
def refer_need(
    request: Request,
    need_id: RowId,
    body: ReferralCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("need:refer"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: [
            ReferralOut.model_validate(r) for r in records.refer(c.session, p, need_id, body, c.now)
        ],
        ReferralList,
        status_code=201,
        payload=body,
    )


@router.post(
    "/need-referrals/{referral_id}/response",
    response_model=ReferralAnswerOut,
    summary="Opt in, or decline with a reason code (a decline re-matches the need)",
)
def answer_referral(
    request: Request,
    referral_id: RowId,
    body: ReferralAnswer,
    w: WriteHeaders = Write,
    p: Principal = allow("need_referral:respond"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.respond(c.session, p, referral_id, body, c.now),
        ReferralAnswerOut,
        payload=body,
    )


@router.post(
    "/need-referrals/{referral_id}/steps",
    response_model=ReferralOut,
    summary="Move a referral along the funnel: contacted, applied, approved (with its line)",
)
def advance_referral(
    request: Request,
    referral_id: RowId,
    body: ReferralStep,
    w: WriteHeaders = Write,
    p: Principal = allow("need_referral:advance"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.advance(c.session, p, referral_id, body, c.now),
        ReferralOut,
        payload=body,
    )


@router.post(
    "/matching/overdue-flags",
    response_model=list[ReferralOut],
    summary="Flag the referrals past their deadline without an answer (of the needs one sees)",
)
def flag_overdue(
    request: Request, w: WriteHeaders = Write, p: Principal = allow("need_referral:flag_overdue")
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: [
            ReferralOut.model_validate(r) for r in records.flag_overdue(c.session, p, c.now)
        ],
        ReferralList,
        payload={},
    )


@router.get(
    "/needs/{need_id}/alternatives",
    response_model=list[RematchOut],
    summary="What each decline of a need led to: the alternatives offered, in order",
)
def need_alternatives(
    request: Request, need_id: RowId, p: Principal = allow("need_referral:read")
) -> Response:
    with reading(request) as s:
        return ok([RematchOut.model_validate(d) for d in rematch.alternatives(s, p, need_id)])


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
