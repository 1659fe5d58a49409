"""REST endpoints of matching: financing needs, pre-checks, recommendations both ways, the
back-test."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import RowId, WriteHeaders, allow, api_state, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request
from innofin.api.writes import write
from innofin.kernel.jsontypes import IsoDate
from innofin.kernel.principal import Principal
from innofin.matching.models import FinancingNeed
from innofin.matching.recommend import service
from innofin.matching.schemas import (
    BacktestOut,
    InstitutionRecommendations,
    NeedCreate,
    NeedFields,
    NeedOut,
    NeedRecommendations,
    PrecheckOut,
)

router = APIRouter(prefix="/api/v1", tags=["matching"], responses=ERROR_RESPONSES)

Write = Depends(write_headers)
NEED_SORTS = {"id": FinancingNeed.id, "needed_by": FinancingNeed.needed_by}


@router.get("/needs", response_model=Page[NeedOut], summary="List financing needs")
def list_needs(
    request: Request,
    page: PageRequest = Depends(page_request),
    enterprise_id: int | None = Query(None, ge=1, le=2_147_483_647),
    status: str | None = Query(None, pattern="^(open|referred|funded|withdrawn|expired)$"),
    p: Principal = allow("need:read"),
) -> Response:
    stmt = service.needs_query(p, enterprise_id, status)
    return list_page(request, stmt, page, None, NEED_SORTS, NeedOut)


@router.post("/needs", status_code=201, response_model=NeedOut, summary="Post a financing need")
def post_need(
    request: Request, body: NeedCreate, w: WriteHeaders = Write, p: Principal = allow("need:write")
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: service.post_need(c.session, p, body),
        NeedOut,
        status_code=201,
        payload=body,
    )


@router.get("/needs/{need_id}", response_model=NeedOut, summary="One financing need")
def get_need(request: Request, need_id: RowId, p: Principal = allow("need:read")) -> Response:
    with reading(request) as s:
        return ok(NeedOut.model_validate(service.need(s, p, need_id)))


@router.patch("/needs/{need_id}", response_model=NeedOut, summary="Change a financing need")
def update_need(
    request: Request,
    body: NeedFields,
    need_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("need:write"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: service.update_need(c.session, p, need_id, body),
        NeedOut,
        payload=body.model_dump(mode="json", exclude_unset=True),
    )


@router.get(
    "/needs/{need_id}/recommendations",
    response_model=NeedRecommendations,
    summary="Products and institutions for a need, with reasons and near misses",
)
def recommend(
    request: Request,
    need_id: RowId,
    top: int = Query(5, ge=1, le=50),
    p: Principal = allow("match:recommend"),
) -> Response:
    with reading(request) as s:
        rule = api_state(request).settings.disclosure
        return ok(service.recommend_need(s, p, need_id, top, rule))


@router.get(
    "/needs/{need_id}/precheck/{product_id}",
    response_model=PrecheckOut,
    summary="Each eligibility rule of a product for a need, in Chinese and English",
)
def precheck(
    request: Request, need_id: RowId, product_id: RowId, p: Principal = allow("match:precheck")
) -> Response:
    with reading(request) as s:
        return ok(service.precheck(s, p, need_id, product_id))


@router.get(
    "/institutions/{institution_id}/matches",
    response_model=InstitutionRecommendations,
    summary="The open needs that fit an institution best",
)
def institution_matches(
    request: Request,
    institution_id: RowId,
    top: int = Query(10, ge=1, le=100),
    p: Principal = allow("match:institution"),
) -> Response:
    with reading(request) as s:
        rule = api_state(request).settings.disclosure
        return ok(service.recommend_institution(s, p, institution_id, top, rule))


@router.get(
    "/matching/backtest",
    response_model=BacktestOut,
    summary="Hit rates of the recommender on the ledger's history, beside two baselines",
)
def backtest(
    request: Request,
    train_until: IsoDate = Query(...),
    test_from: IsoDate = Query(...),
    p: Principal = allow("match:backtest"),
) -> Response:
    with reading(request) as s:
        result = service.backtest(s, train_until, test_from)
    return ok(BacktestOut.model_validate(result.as_json()))
