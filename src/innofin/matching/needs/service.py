"""Financing needs: an enterprise posts its need (or an officer on its behalf) and changes it.

Each function takes the session of the caller's unit of work and the caller: needs follow the
enterprise they belong to (`scopes.need_scope`, `scopes.need_write_scope`). Reading needs is
the room's shared queries' (`matching.queries`: `need`, `needs_query`, `open_needs`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.db.queries import apply, writable
from innofin.kernel.errors import Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.matching import scopes
from innofin.matching.models import FinancingNeed
from innofin.matching.queries import need
from innofin.matching.schemas import NeedCreate, NeedFields
from innofin.registry.models import Enterprise


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def post_need(session: Session, p: Principal, body: NeedCreate) -> FinancingNeed:
    """An enterprise posts its need, or an officer posts it on the enterprise's behalf."""
    found = session.scalar(
        select(Enterprise.id).where(
            Enterprise.id == body.enterprise_id, policy.enterprise_write_scope(p)
        )
    )
    if found is None:
        seen = session.scalar(
            select(Enterprise.id).where(
                Enterprise.id == body.enterprise_id, policy.enterprise_scope(p)
            )
        )
        if seen is None:
            raise NotFound(f"no enterprise {body.enterprise_id}")
        raise Forbidden(
            f"you may see enterprise {body.enterprise_id} but not post a need for it",
            field="enterprise_id",
        )
    values = body.model_dump()
    values["collateral_offered"] = [c.value for c in body.collateral_offered]
    values["purpose"] = body.purpose.value
    row = FinancingNeed(**values, status="open", posted_by=p.user_id or None, posted_at=_now())
    session.add(row)
    session.flush()
    return row


def update_need(session: Session, p: Principal, need_id: int, body: NeedFields) -> FinancingNeed:
    row = need(session, p, need_id)
    writable(session, FinancingNeed, need_id, scopes.need_write_scope(p), "financing need")
    changes = body.model_dump(exclude_unset=True)
    policy.check_reach_fields(p, "financing_need", changes, "financing need")
    for name in ("amount", "term_months", "purpose", "needed_by", "equity_acceptable", "status"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be emptied", field=name)
    if row.status not in ("open", "withdrawn") and "status" in changes:
        raise InvalidInput(
            f"the need is {row.status}: only an open or withdrawn need changes status",
            field="status",
        )
    if changes.get("collateral_offered") is not None:
        changes["collateral_offered"] = [str(c) for c in changes["collateral_offered"]]
    if changes.get("purpose") is not None:
        changes["purpose"] = str(changes["purpose"])
    apply(row, {**changes, "updated_at": _now()})
    session.flush()
    return row
