"""REST endpoints of programmes (with their targets) and cooperation agreements (with their
commitments): reads; programmes are loaded from YAML (``innofin ledger programme load``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import RowId, allow, ok, reading
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request, sort_query
from innofin.kernel.principal import Principal
from innofin.ledger.programmes import records
from innofin.ledger.schemas import AgreementDetail, AgreementOut, ProgrammeDetail, ProgrammeOut

router = APIRouter(prefix="/api/v1", tags=["ledger"], responses=ERROR_RESPONSES)


@router.get("/programmes", response_model=Page[ProgrammeOut], summary="List programmes")
def list_programmes(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.PROGRAMME_SORTS),
    p: Principal = allow("programme:read"),
) -> Response:
    stmt = records.programmes_query(p)
    return list_page(request, stmt, page, sort, records.PROGRAMME_SORTS, ProgrammeOut)


@router.get(
    "/programmes/{programme_id}",
    response_model=ProgrammeDetail,
    summary="One programme with its targets",
)
def get_programme(
    request: Request, programme_id: RowId, p: Principal = allow("programme:read")
) -> Response:
    with reading(request) as s:
        return ok(records.programme(s, p, programme_id))


@router.get("/agreements", response_model=Page[AgreementOut], summary="List agreements")
def list_agreements(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*records.AGREEMENT_SORTS),
    programme_id: int | None = Query(None, ge=1, le=2_147_483_647),
    p: Principal = allow("agreement:read"),
) -> Response:
    stmt = records.agreements_query(p, programme_id)
    return list_page(request, stmt, page, sort, records.AGREEMENT_SORTS, AgreementOut)


@router.get(
    "/agreements/{agreement_id}",
    response_model=AgreementDetail,
    summary="One agreement with its commitments (amount, used, available)",
)
def get_agreement(
    request: Request, agreement_id: RowId, p: Principal = allow("agreement:read")
) -> Response:
    with reading(request) as s:
        return ok(records.agreement(s, p, agreement_id))
