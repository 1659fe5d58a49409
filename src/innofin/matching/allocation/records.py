"""Allocation runs as the API serves them: the scoped use cases behind the routes, each in the
caller's unit of work (`api.writes.write` opens it), returning what the route answers. An
officer who runs a programme (`ledger.scopes.programme_run_scope`) allocates its special credit
and accepts a run, which proposes credit lines in the ledger (the caller is the maker; the
institution's checker approves). A run of a programme the caller does not see does not exist
for it (404); one it sees but does not run is refused (403).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor
from innofin.db.queries import visible, writable
from innofin.kernel.errors import NotFound
from innofin.kernel.principal import Principal
from innofin.ledger.models import Programme
from innofin.ledger.scopes import programme_run_scope, programme_scope
from innofin.matching.allocation import service as allocation
from innofin.matching.models import AllocationRow, AllocationRun
from innofin.matching.schemas import AllocationAccept, AllocationCreate


def _programme(session: Session, p: Principal, programme_id: int | None, what: str) -> None:
    """The programme must be one the caller sees (404) and runs (403). A run of no programme
    belongs to those who run every programme."""
    if programme_id is None:
        if session.scalar(select(Programme.id).where(programme_run_scope(p)).limit(1)) is None:
            raise NotFound(what)
        return
    visible(session, Programme, programme_id, programme_scope(p), "programme")
    writable(session, Programme, programme_id, programme_run_scope(p), "programme")


def run_doc(session: Session, run: AllocationRun) -> dict[str, Any]:
    result = run.result or {}
    rows = session.scalars(
        select(AllocationRow).where(AllocationRow.run_id == run.id).order_by(AllocationRow.id)
    ).all()
    return {
        "id": run.id,
        "programme_id": run.programme_id,
        "status": run.status,
        "solver": run.solver,
        "solver_version": run.solver_version,
        "solver_status": run.solver_status,
        "parameters": run.parameters,
        "objective": run.objective,
        "gap": run.gap,
        "fcfs_objective": run.fcfs_objective,
        "needs": int(result.get("needs", 0)),
        "funded_needs": int(result.get("funded_needs", 0)),
        "funded": Decimal(int(result.get("funded_fen", 0))).scaleb(-2),
        "fcfs_funded": Decimal(int(result.get("fcfs_funded_fen", 0))).scaleb(-2),
        "binding": list(result.get("binding", [])),
        "unmet": [str(u) for u in result.get("unmet", [])],
        "message": result.get("message"),
        "rows": list(rows),
        "credit_line_ids": [r.credit_line_id for r in rows if r.credit_line_id is not None],
    }


def run(session: Session, p: Principal, run_id: int) -> dict[str, Any]:
    found = session.get(AllocationRun, run_id)
    if found is None:
        raise NotFound(f"no allocation run {run_id}")
    _programme(session, p, found.programme_id, f"no allocation run {run_id}")
    return run_doc(session, found)


def allocate(
    session: Session, p: Principal, actor: Actor, body: AllocationCreate, today: dt.date
) -> dict[str, Any]:
    _programme(session, p, body.programme_id, f"no programme {body.programme_id}")
    quotas = allocation.Quotas(
        field_max={str(k): v for k, v in body.field_max.items()},
        zone_max=body.zone_max,
        zone_floor=body.zone_floor,
        floor_share=body.floor_share,
        enterprise_cap=body.enterprise_cap,
    )
    made = allocation.allocate(
        session,
        body.programme_id,
        quotas,
        on=body.on or today,
        created_by=actor.label,
        mip_gap=body.mip_gap,
        time_limit=body.time_limit,
    )
    return run_doc(session, made)


def accept(
    session: Session, p: Principal, actor: Actor, run_id: int, body: AllocationAccept
) -> dict[str, Any]:
    run(session, p, run_id)
    allocation.accept(session, actor, run_id, opens_on=body.opens_on, rate=body.rate)
    found = session.get(AllocationRun, run_id)
    assert found is not None
    return run_doc(session, found)
