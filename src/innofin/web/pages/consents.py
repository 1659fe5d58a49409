"""Consents and the audit trail.

An enterprise's users grant an institution (and its branches) the right to read the enterprise's
indicator data and withdraw it (`access.grants`, as the API's consent endpoints); institutions
see the consents given to them. Platform administrators read the audit trail of a record: every
recorded change, who made it, when, why, and the values before and after
(`audit.service.events_query`, as the API's ``/audit``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from innofin.access import grants
from innofin.access.models import Consent
from innofin.access.policy import may
from innofin.api.deps import RowId, api_state, reading
from innofin.audit import service as audit
from innofin.audit.models import AuditEvent
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise, Institution
from innofin.web.deps import page
from innofin.web.forms import csrf_form, perform
from innofin.web.render import render

router = APIRouter(include_in_schema=False)
AUDIT_LIMIT = 500


@router.get("/consents")
def consents(request: Request, p: Principal = page("consent:read")) -> Response:
    with reading(request) as s:
        rows = list(s.scalars(grants.consents_query(p, False).order_by(Consent.id.desc())))
        ents = {r.enterprise_id for r in rows}
        enterprises = dict(
            s.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(ents))).all()
        )
        institutions = dict(s.execute(select(Institution.id, Institution.name)).all())
    granting = may(p, "consent:write") and p.enterprise_id is not None
    active = {r.institution_id for r in rows if r.withdrawn_at is None}
    context = {
        "rows": rows,
        "enterprises": enterprises,
        "institutions": institutions,
        "granting": granting,
        "grantable": sorted(
            ((i, n) for i, n in institutions.items() if i not in active), key=lambda x: x[1]
        )
        if granting
        else [],
    }
    return render(request, "consents.html", context)


@router.post("/consents")
def grant_consent(
    request: Request,
    institution_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
    _: None = Depends(csrf_form),
    p: Principal = page("consent:write"),
) -> Response:
    now = api_state(request).clock()
    perform(
        request,
        p,
        lambda s: grants.grant(s, p, institution_id, now),
        payload={"institution_id": institution_id},
    )
    return RedirectResponse("/consents", status_code=303)


@router.post("/consents/{consent_id}/withdraw")
def withdraw_consent(
    request: Request,
    consent_id: RowId,
    _: None = Depends(csrf_form),
    p: Principal = page("consent:write"),
) -> Response:
    now = api_state(request).clock()
    perform(request, p, lambda s: grants.withdraw(s, p, consent_id, now))
    return RedirectResponse("/consents", status_code=303)


@router.get("/audit")
def audit_trail(
    request: Request,
    entity: str = Query("", max_length=60),
    entity_id: str = Query("", max_length=120),
    p: Principal = page("audit:read"),
) -> Response:
    """The audit trail of one record (table and id), oldest first; without a record, the
    latest changes of the whole platform."""
    with reading(request) as s:
        stmt = audit.events_query(entity.strip() or None, entity_id.strip() or None)
        if entity.strip():
            events = list(s.scalars(stmt.order_by(AuditEvent.id).limit(AUDIT_LIMIT)))
        else:
            events = list(s.scalars(stmt.order_by(AuditEvent.id.desc()).limit(100)))
    rows: list[dict[str, Any]] = []
    for e in events:
        before, after = e.before or {}, e.after or {}
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        rows.append({"e": e, "changes": [(k, before.get(k), after.get(k)) for k in changed]})
    context = {"rows": rows, "entity": entity, "entity_id": entity_id}
    return render(request, "audit.html", context)
