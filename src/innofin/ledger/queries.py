"""Read-only queries of the ledger, shared by its sub-rooms and asked by other rooms: the
institutions whose programmes a line may name, a named row within a scope, a record's history,
and the enterprises in trouble (what scoring's key lists read). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.kernel.errors import InvalidInput, NotFound
from innofin.ledger.journal import T
from innofin.ledger.models import LedgerEvent, Loan, PoolClaim
from innofin.registry.models import Institution

# --------------------------------------------------------------------------- look-ups


def lender_ids(session: Session, institution_id: int) -> frozenset[int]:
    """An institution and its head offices (parent, grandparent …): whose programmes and
    products its credit lines may name."""
    found: set[int] = set()
    current: int | None = institution_id
    while current is not None and current not in found:
        found.add(current)
        current = session.scalar(select(Institution.parent_id).where(Institution.id == current))
    return frozenset(found)


def nameable(session: Session, model: type[T], ident: int, scope: Any, what: str) -> T:
    """The row a credit line names, if the line's institution may name it; otherwise NotFound,
    worded as for a row that does not exist (the caller learns nothing of others' rows)."""
    table: Any = model
    found: T | None = session.scalars(select(table).where(table.id == ident, scope)).first()
    if found is None:
        raise NotFound(f"{what} {ident} does not exist")
    return found


# --------------------------------------------------------------------------- history


def history(session: Session, entity: str, entity_id: int) -> list[LedgerEvent]:
    """The full story of a programme, agreement, credit line (with its loans) or loan."""
    clauses = [(LedgerEvent.entity == entity) & (LedgerEvent.entity_id == entity_id)]
    if entity == "credit_line":
        loans = select(Loan.id).where(Loan.credit_line_id == entity_id)
        clauses.append((LedgerEvent.entity == "loan") & LedgerEvent.entity_id.in_(loans))
    elif entity == "risk_pool":
        claims = select(PoolClaim.id).where(PoolClaim.pool_id == entity_id)
        clauses.append((LedgerEvent.entity == "pool_claim") & LedgerEvent.entity_id.in_(claims))
    elif entity not in ("loan", "programme", "agreement", "pool_claim", "subsidy"):
        raise InvalidInput(
            "entity must be programme, agreement, credit_line, loan, risk_pool, pool_claim or "
            "subsidy",
            field="entity",
        )
    stmt = select(LedgerEvent).where(clauses[0] if len(clauses) == 1 else clauses[0] | clauses[1])
    events = list(session.scalars(stmt.order_by(LedgerEvent.id)))
    if not events:
        raise NotFound(f"no ledger history for {entity} {entity_id}")
    return events


def troubled_enterprises(
    session: Session, start: dt.date, end: dt.date, *, days_overdue: int = 90
) -> list[int]:
    """Enterprises with a loan that defaulted, or was found `days_overdue` or more days past
    due, between `start` and `end` (the ledger side of the key list's ``no_default_months``)."""
    e = LedgerEvent
    late = (e.kind == "classified") & (e.data["days_past_due"].as_integer() >= days_overdue)
    stmt = (
        select(Loan.enterprise_id)
        .join(e, (e.entity == "loan") & (e.entity_id == Loan.id))
        .where(e.effective_on >= start, e.effective_on <= end, (e.kind == "defaulted") | late)
        .distinct()
    )
    return sorted(session.scalars(stmt))
