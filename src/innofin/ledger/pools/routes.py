"""REST endpoints of risk-compensation pools: balances and positions, contributions, and
claims (filed by the bank, decided by another user, then paid)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request, sort_query
from innofin.api.writes import write
from innofin.kernel.principal import Principal
from innofin.ledger.pools import records
from innofin.ledger.schemas import (
    ClaimCreate,
    ClaimOut,
    ContributionCreate,
    Decision,
    Payment,
    PoolDetail,
    PoolOut,
)

router = APIRouter(prefix="/api/v1", tags=["ledger"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)


@router.get("/risk-pools", response_model=Page[PoolOut], summary="List risk pools")
def list_pools(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.POOL_SORTS),
    programme_id: int | None = Query(None, ge=1, le=2_147_483_647),
    p: Principal = allow("risk_pool:read"),
) -> Response:
    stmt = records.pools_query(p, programme_id)
    return list_page(request, stmt, page, sort, records.POOL_SORTS, PoolOut)


@router.get(
    "/risk-pools/{pool_id}",
    response_model=PoolDetail,
    summary="One risk pool: balances, leverage headroom, rules, contributors' positions",
)
def get_pool(request: Request, pool_id: RowId, p: Principal = allow("risk_pool:read")) -> Response:
    with reading(request) as s:
        return ok(records.pool(s, p, pool_id))


@router.post(
    "/risk-pools/{pool_id}/contributions",
    response_model=PoolDetail,
    summary="Record money paid into the pool by one of its contributors",
)
def create_contribution(
    request: Request,
    pool_id: RowId,
    body: ContributionCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("risk_pool:contribute"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.contribute(c.session, p, c.actor, pool_id, body, c.key),
        payload=body,
    )


@router.post(
    "/risk-pools/{pool_id}/claims",
    status_code=201,
    response_model=ClaimOut,
    summary="File a claim on a defaulted loan the pool covers (the maker), dated today",
)
def create_claim(
    request: Request,
    pool_id: RowId,
    body: ClaimCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("pool_claim:file"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.file_claim(c.session, p, c.actor, pool_id, body, c.today, c.key),
        ClaimOut,
        status_code=201,
        payload=body,
    )


@router.get("/pool-claims", response_model=Page[ClaimOut], summary="List risk-pool claims")
def list_claims(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.CLAIM_SORTS),
    pool_id: int | None = Query(None, ge=1, le=2_147_483_647),
    status: Literal["pending", "approved", "rejected", "paid"] | None = Query(None),
    p: Principal = allow("pool_claim:read"),
) -> Response:
    stmt = records.claims_query(p, pool_id, status)
    return list_page(request, stmt, page, sort, records.CLAIM_SORTS, ClaimOut)


@router.get("/pool-claims/{claim_id}", response_model=ClaimOut, summary="One risk-pool claim")
def get_claim(
    request: Request, claim_id: RowId, p: Principal = allow("pool_claim:read")
) -> Response:
    with reading(request) as s:
        return ok(ClaimOut.model_validate(records.claim(s, p, claim_id)))


@router.post(
    "/pool-claims/{claim_id}/decision",
    response_model=ClaimOut,
    summary="Approve or reject a pending claim (the checker: not the user who filed it)",
)
def decide_claim(
    request: Request,
    claim_id: RowId,
    body: Decision,
    w: WriteHeaders = Write,
    p: Principal = allow("pool_claim:decide"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.decide_claim(
            c.session, p, c.actor, claim_id, body.approve, c.today, c.key
        ),
        ClaimOut,
        payload=body,
    )


@router.post(
    "/pool-claims/{claim_id}/payment",
    response_model=ClaimOut,
    summary="Pay an approved claim from the pool, split among the contributors by their shares",
)
def pay_claim(
    request: Request,
    claim_id: RowId,
    body: Payment | None = None,
    w: WriteHeaders = Write,
    p: Principal = allow("pool_claim:pay"),
) -> Response:
    paid = body or Payment()
    return write(
        request,
        p,
        w,
        lambda c: records.pay_claim(
            c.session, p, c.actor, claim_id, paid.paid_on or c.today, c.key
        ),
        ClaimOut,
        payload=paid,
    )
