"""The audit trail, for platform administrators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from innofin.api.deps import allow
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.pages import Page, PageRequest, list_page, page_request, sort_query
from innofin.audit import service
from innofin.audit.schemas import AuditOut
from innofin.kernel.jsontypes import Text60, Text120
from innofin.kernel.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/audit", response_model=Page[AuditOut], summary="Audit events (who, when, what, why)")
def list_events(
    request: Request,
    page: PageRequest = Depends(page_request),
    sort: str | None = sort_query(*service.AUDIT_SORTS),
    entity: Text60 | None = Query(None, description="Table name, e.g. enterprise."),
    entity_id: Text120 | None = Query(None),
    user_id: int | None = Query(None, ge=1, le=2_147_483_647),
    p: Principal = allow("audit:read"),
) -> Response:
    stmt = service.events_query(entity, entity_id, user_id)
    return list_page(request, stmt, page, sort, service.AUDIT_SORTS, AuditOut)
