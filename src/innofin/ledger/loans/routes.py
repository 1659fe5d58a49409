"""REST endpoints of the ledger: credit lines (maker-checker), drawdowns, loans, repayments."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request, sort_query
from innofin.api.writes import write
from innofin.kernel.jsontypes import IsoDate
from innofin.kernel.principal import Principal
from innofin.ledger.loans import records
from innofin.ledger.schemas import (
    CreditLineCreate,
    CreditLineOut,
    Decision,
    DrawdownCreate,
    EventOut,
    LoanOut,
    RepaymentCreate,
)

router = APIRouter(prefix="/api/v1", tags=["ledger"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)


@router.get("/credit-lines", response_model=Page[CreditLineOut], summary="List credit lines")
def list_lines(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.LINE_SORTS),
    status: Literal["pending", "approved", "rejected", "closed"] | None = Query(None),
    enterprise_id: int | None = Query(None, ge=1, le=2_147_483_647),
    institution_id: int | None = Query(None, ge=1, le=2_147_483_647),
    opens_from: IsoDate | None = Query(None, description="lines opened on or after"),
    opens_to: IsoDate | None = Query(None, description="lines opened on or before"),
    p: Principal = allow("ledger:read"),
) -> Response:
    stmt = records.lines_query(p, status, enterprise_id, institution_id, opens_from, opens_to)
    return list_page(request, stmt, page, sort, records.LINE_SORTS, CreditLineOut)


@router.get("/credit-lines/{line_id}", response_model=CreditLineOut, summary="One credit line")
def get_line(request: Request, line_id: RowId, p: Principal = allow("ledger:read")) -> Response:
    with reading(request) as s:
        return ok(CreditLineOut.model_validate(records.line(s, p, line_id)))


@router.post(
    "/credit-lines",
    status_code=201,
    response_model=CreditLineOut,
    summary="Enter a credit line (the maker); it waits for another officer's approval",
)
def create_line(
    request: Request,
    body: CreditLineCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("credit_line:propose"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.propose_line(c.session, p, c.actor, body, c.key),
        CreditLineOut,
        status_code=201,
        payload=body,
    )


@router.post(
    "/credit-lines/{line_id}/decision",
    response_model=CreditLineOut,
    summary="Approve or reject a pending credit line (the checker: not its maker)",
)
def decide_line(
    request: Request,
    line_id: RowId,
    body: Decision,
    w: WriteHeaders = Write,
    p: Principal = allow("credit_line:decide"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.decide_line(c.session, p, c.actor, line_id, body.approve, c.key),
        CreditLineOut,
        payload=body,
    )


@router.post(
    "/credit-lines/{line_id}/drawdowns",
    status_code=201,
    response_model=LoanOut,
    summary="Draw a loan within the line's available limit",
)
def create_drawdown(
    request: Request,
    line_id: RowId,
    body: DrawdownCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("loan:draw"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.draw(c.session, p, c.actor, line_id, body, c.key),
        LoanOut,
        status_code=201,
        payload=body,
    )


@router.get("/loans", response_model=Page[LoanOut], summary="List loans (filtered, paged)")
def list_loans(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.LOAN_SORTS),
    status: Literal["active", "closed", "written_off"] | None = Query(None),
    category: Literal["pass", "special_mention", "substandard", "doubtful", "loss"] | None = Query(
        None
    ),
    institution_id: int | None = Query(None, ge=1, le=2_147_483_647),
    enterprise_id: int | None = Query(None, ge=1, le=2_147_483_647),
    credit_line_id: int | None = Query(None, ge=1, le=2_147_483_647),
    drawn_from: IsoDate | None = Query(None, description="loans drawn on or after"),
    drawn_to: IsoDate | None = Query(None, description="loans drawn on or before"),
    defaulted: bool | None = Query(None, description="only loans that defaulted (or did not)"),
    p: Principal = allow("ledger:read"),
) -> Response:
    """The loans the caller may see (the same row scopes as one loan), with their balances."""
    found = records.LoanFilter(
        status, category, institution_id, enterprise_id, credit_line_id, drawn_from, drawn_to,
        defaulted,
    )  # fmt: skip
    stmt = records.loans_query(p, found)
    return list_page(request, stmt, page, sort, records.LOAN_SORTS, LoanOut)


@router.get("/loans/{loan_id}", response_model=LoanOut, summary="One loan with its balances")
def get_loan(request: Request, loan_id: RowId, p: Principal = allow("ledger:read")) -> Response:
    with reading(request) as s:
        return ok(LoanOut.model_validate(records.loan(s, p, loan_id)))


@router.get("/loans/{loan_id}/events", response_model=list[EventOut], summary="A loan's history")
def get_loan_events(
    request: Request, loan_id: RowId, p: Principal = allow("ledger:read")
) -> Response:
    with reading(request) as s:
        return ok([EventOut.model_validate(e) for e in records.loan_events(s, p, loan_id)])


@router.post(
    "/loans/{loan_id}/repayments",
    response_model=LoanOut,
    summary="Record a repayment of principal and interest",
)
def create_repayment(
    request: Request,
    loan_id: RowId,
    body: RepaymentCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("loan:repay"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.repay(c.session, p, c.actor, loan_id, body, c.key),
        LoanOut,
        payload=body,
    )
