"""REST endpoints of recommendations: a need's products and institutions, a pre-check, an
institution's best-fitting needs, the back-test."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from innofin.api.deps import RowId, allow, api_state, ok, reading
from innofin.api.errors import ERROR_RESPONSES
from innofin.kernel.jsontypes import IsoDate
from innofin.kernel.principal import Principal
from innofin.matching.recommend import service
from innofin.matching.schemas import (
    BacktestOut,
    InstitutionRecommendations,
    NeedRecommendations,
    PrecheckOut,
)

router = APIRouter(prefix="/api/v1", tags=["matching"], responses=ERROR_RESPONSES)


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
