"""REST endpoints of interest subsidies paid without application (免申即享): publish a
period's subsidies for public notice, object, resolve, confirm (the enterprise), pay."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request, sort_query
from innofin.api.writes import write
from innofin.kernel.principal import Principal
from innofin.ledger.schemas import (
    Objection,
    Payment,
    Resolution,
    SubsidyBatch,
    SubsidyOut,
    SubsidyPublish,
)
from innofin.ledger.subsidies import records

router = APIRouter(prefix="/api/v1", tags=["ledger"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)
Status = Literal["published", "objected", "withdrawn", "confirmed", "paid"]


@router.get("/subsidies", response_model=Page[SubsidyOut], summary="List interest subsidies")
def list_subsidies(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.SUBSIDY_SORTS),
    programme_id: int | None = Query(None, ge=1, le=2_147_483_647),
    status: Status | None = Query(None),
    enterprise_id: int | None = Query(None, ge=1, le=2_147_483_647),
    p: Principal = allow("subsidy:read"),
) -> Response:
    stmt = records.subsidies_query(p, programme_id, status, enterprise_id)
    return list_page(request, stmt, page, sort, records.SUBSIDY_SORTS, SubsidyOut)


# digits only at the routing level, so that /subsidies/publish is not also this route's path
@router.get(
    "/subsidies/{subsidy_id:int}", response_model=SubsidyOut, summary="One interest subsidy"
)
def get_subsidy(
    request: Request, subsidy_id: RowId, p: Principal = allow("subsidy:read")
) -> Response:
    with reading(request) as s:
        return ok(SubsidyOut.model_validate(records.subsidy(s, p, subsidy_id)))


@router.post(
    "/subsidies/publish",
    status_code=201,
    response_model=SubsidyBatch,
    summary="Compute a period's subsidies of a programme's loans and publish them for notice",
)
def publish_subsidies(
    request: Request,
    body: SubsidyPublish,
    w: WriteHeaders = Write,
    p: Principal = allow("subsidy:publish"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.publish(c.session, p, c.actor, body, c.today),
        status_code=201,
        payload=body,
    )


@router.post(
    "/subsidies/{subsidy_id}/objection",
    response_model=SubsidyOut,
    summary="Object to a subsidy under public notice (holds it until an officer resolves it)",
)
def object_to_subsidy(
    request: Request,
    subsidy_id: RowId,
    body: Objection,
    w: WriteHeaders = Write,
    p: Principal = allow("subsidy:object"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.object_to(c.session, p, c.actor, subsidy_id, body.text, c.today),
        SubsidyOut,
        payload=body,
    )


@router.post(
    "/subsidies/{subsidy_id}/resolution",
    response_model=SubsidyOut,
    summary="Resolve an objection: upheld withdraws the subsidy, dismissed lets it go on",
)
def resolve_objection(
    request: Request,
    subsidy_id: RowId,
    body: Resolution,
    w: WriteHeaders = Write,
    p: Principal = allow("subsidy:resolve"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.resolve(c.session, p, c.actor, subsidy_id, body.upheld, c.today),
        SubsidyOut,
        payload=body,
    )


@router.post(
    "/subsidies/{subsidy_id}/confirmation",
    response_model=SubsidyOut,
    summary="The enterprise confirms its subsidy once the notice period has passed",
)
def confirm_subsidy(
    request: Request,
    subsidy_id: RowId,
    w: WriteHeaders = Write,
    p: Principal = allow("subsidy:confirm"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.confirm(c.session, p, c.actor, subsidy_id, c.today),
        SubsidyOut,
    )


@router.post(
    "/subsidies/{subsidy_id}/payment",
    response_model=SubsidyOut,
    summary="Pay a confirmed subsidy",
)
def pay_subsidy(
    request: Request,
    subsidy_id: RowId,
    body: Payment | None = None,
    w: WriteHeaders = Write,
    p: Principal = allow("subsidy:pay"),
) -> Response:
    paid = body or Payment()
    return write(
        request,
        p,
        w,
        lambda c: records.pay(c.session, p, c.actor, subsidy_id, paid.paid_on or c.today),
        SubsidyOut,
        payload=paid,
    )
