"""REST endpoints of special-credit allocation: run one for a programme (its quotas, floors and
per-enterprise cap; HiGHS beside first-come-first-served), read a run, and accept it — each row
becomes a credit line proposed in the ledger, waiting for its institution's checker. Only an
officer who runs the programme (`ledger.scopes.programme_run_scope`) does these."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.writes import write
from innofin.kernel.principal import Principal
from innofin.matching.allocation import records
from innofin.matching.schemas import AllocationAccept, AllocationCreate, AllocationRunOut

router = APIRouter(prefix="/api/v1", tags=["matching"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)


@router.post(
    "/allocation-runs",
    status_code=201,
    response_model=AllocationRunOut,
    summary="Allocate a programme's special credit (stored as a proposed run)",
)
def create_run(
    request: Request,
    body: AllocationCreate,
    w: WriteHeaders = Write,
    p: Principal = allow("allocation:run"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.allocate(c.session, p, c.actor, body, c.today),
        AllocationRunOut,
        status_code=201,
        payload=body,
    )


@router.get(
    "/allocation-runs/{run_id}", response_model=AllocationRunOut, summary="One allocation run"
)
def get_run(request: Request, run_id: RowId, p: Principal = allow("allocation:read")) -> Response:
    with reading(request) as s:
        return ok(AllocationRunOut.model_validate(records.run(s, p, run_id)))


@router.post(
    "/allocation-runs/{run_id}/acceptance",
    response_model=AllocationRunOut,
    summary="Accept a run: its rows become proposed credit lines (maker-checker as usual)",
)
def accept_run(
    request: Request,
    run_id: RowId,
    body: AllocationAccept,
    w: WriteHeaders = Write,
    p: Principal = allow("allocation:accept"),
) -> Response:
    return write(
        request,
        p,
        w,
        lambda c: records.accept(c.session, p, c.actor, run_id, body),
        AllocationRunOut,
        payload=body,
    )
