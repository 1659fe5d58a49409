"""REST endpoints of financing needs: list, post, read and change."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request
from innofin.api.writes import write
from innofin.kernel.principal import Principal
from innofin.matching import queries
from innofin.matching.models import FinancingNeed
from innofin.matching.needs import service
from innofin.matching.schemas import NeedCreate, NeedFields, NeedOut

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
    stmt = queries.needs_query(p, enterprise_id, status)
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
        return ok(NeedOut.model_validate(queries.need(s, p, need_id)))


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
