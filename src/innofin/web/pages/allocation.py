"""Special-credit allocation pages (专项信贷分配): a programme's runs and the form that runs one
(quotas by key technology field and by zone, per-zone floors, a per-enterprise cap), and one run —
its objective, optimality gap, the quotas that bind with their dual values, first-come-first-
served's objective beside it, the quotas that cannot be met, and its rows — which the officer
accepts: each row becomes a credit line proposed in the ledger, waiting for its institution's
checker as usual.

Only officers who run the programme (`ledger.scopes.programme_run_scope`) see or do these; runs
go through `matching.allocation`, as the CLI's and the API's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from innofin.access.policy import may, scoped
from innofin.api.deps import RowId, api_state, reading
from innofin.audit.recorder import SYSTEM
from innofin.kernel.errors import InvalidInput, NotFound
from innofin.kernel.money import column_unit
from innofin.kernel.principal import Principal
from innofin.ledger.models import Programme
from innofin.ledger.scopes import programme_run_scope
from innofin.matching.allocation import records
from innofin.matching.allocation import service as allocation
from innofin.matching.models import AllocationRow, AllocationRun, FinancingNeed
from innofin.matching.schemas import AllocationAccept, AllocationCreate
from innofin.registry.models import Enterprise, Institution, Zone
from innofin.web.deps import page
from innofin.web.forms import Once, csrf_form, perform
from innofin.web.render import N_, render

router = APIRouter(include_in_schema=False)
WAN = Decimal(10_000)
ROWS = 500
#: binding constraint kinds → their names, translated where shown
KINDS = {
    "field_quota": N_("Field quota"),
    "zone_quota": N_("Zone quota"),
    "zone_floor": N_("Zone floor"),
    "commitment": N_("Commitment"),
    "enterprise_cap": N_("Per-enterprise cap"),
}

#: a run's status → its name
RUN_STATUSES = {"proposed": N_("Proposed"), "accepted": N_("Accepted")}


def programmes(s: Session, p: Principal) -> list[Programme]:
    stmt = scoped(select(Programme), programme_run_scope(p)).order_by(Programme.id)
    return list(s.scalars(stmt))


def programme(s: Session, p: Principal, programme_id: int) -> Programme:
    stmt = scoped(select(Programme), programme_run_scope(p)).where(Programme.id == programme_id)
    found: Programme | None = s.scalars(stmt).first()
    if found is None:
        raise NotFound(f"no programme {programme_id}")
    return found


def run_of(s: Session, p: Principal, run_id: int) -> AllocationRun:
    """A run of a programme the officer runs (else: as if it did not exist)."""
    records.run(s, p, run_id)  # as the API reads it: 404 unseen, 403 seen but not run
    run = s.get(AllocationRun, run_id)
    assert run is not None
    return run


def wan_pairs(text: str, name: str) -> dict[str, Decimal]:
    """``CODE=万元`` pairs, separated by commas or spaces, as yuan."""
    out: dict[str, Decimal] = {}
    for part in text.replace("，", ",").replace(",", " ").split():
        code, eq, value = part.partition("=")
        try:
            if not eq or not code:
                raise InvalidOperation
            out[code.strip()] = (Decimal(value) * WAN).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise InvalidInput(f"{name}: write CODE=万元, e.g. IC=500", field=name) from None
    return out


@router.get("/allocation")
def runs(
    request: Request,
    programme_id: int | None = Query(None, alias="programme", ge=1, le=2_147_483_647),
    p: Principal = page("allocation:read"),
) -> Response:
    with reading(request) as s:
        options = programmes(s, p)
        chosen = programme(s, p, programme_id) if programme_id else None
        past = (
            list(
                s.scalars(
                    select(AllocationRun)
                    .where(AllocationRun.programme_id == chosen.id)
                    .order_by(AllocationRun.id.desc())
                    .limit(50)
                )
            )
            if chosen
            else []
        )
    context = {
        "programmes": options,
        "chosen": chosen,
        "runs": past,
        "running": may(p, "allocation:run"),
        "statuses": RUN_STATUSES,
        "today": (api_state(request).clock() + dt.timedelta(hours=8)).date(),
    }
    return render(request, "matching/allocation_runs.html", context)


@router.post("/allocation")
def run(
    request: Request,
    programme_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
    on: Annotated[dt.date, Form()],
    field_quota: Annotated[str, Form(max_length=2000)] = "",
    zone_quota: Annotated[str, Form(max_length=2000)] = "",
    zone_floor: Annotated[str, Form(max_length=2000)] = "",
    floor_share: Annotated[Decimal, Form(ge=0, le=1)] = allocation.DEFAULT_FLOOR_SHARE,
    cap_wan: Annotated[Decimal, Form(ge=0, le=10_000_000)] = allocation.DEFAULT_CAP / WAN,
    _: None = Depends(csrf_form),
    p: Principal = page("allocation:run"),
) -> Response:
    try:
        body = AllocationCreate.model_validate(
            {
                "programme_id": programme_id,
                "field_max": wan_pairs(field_quota, "field_quota"),
                "zone_max": wan_pairs(zone_quota, "zone_quota"),
                "zone_floor": wan_pairs(zone_floor, "zone_floor"),
                "floor_share": floor_share,
                "enterprise_cap": (cap_wan * WAN).quantize(Decimal("0.01")),
                "on": on,
            }
        )
    except ValidationError as exc:
        raise InvalidInput(str(exc.errors()[0].get("msg", "invalid")), field="quotas") from None

    def change(s: Session) -> int:
        actor = s.info.get("actor", SYSTEM)
        return int(records.allocate(s, p, actor, body, on)["id"])

    made = perform(request, p, change, payload={"programme_id": programme_id})
    return RedirectResponse(f"/allocation/runs/{made}", status_code=303)


@router.get("/allocation/runs/{run_id}")
def one_run(request: Request, run_id: RowId, p: Principal = page("allocation:read")) -> Response:
    with reading(request) as s:
        found = run_of(s, p, run_id)
        owner = s.get(Programme, found.programme_id) if found.programme_id else None
        rows = list(
            s.scalars(
                select(AllocationRow)
                .where(AllocationRow.run_id == run_id)
                .order_by(AllocationRow.amount.desc(), AllocationRow.id)
                .limit(ROWS)
            )
        )
        firms = dict(
            s.execute(
                select(FinancingNeed.id, Enterprise.name)
                .join(Enterprise, Enterprise.id == FinancingNeed.enterprise_id)
                .where(FinancingNeed.id.in_({r.need_id for r in rows}))
            ).all()
        )
        institutions = dict(s.execute(select(Institution.id, Institution.name)).all())
        zones = dict(s.execute(select(Zone.id, Zone.code)).all())
    result = found.result or {}
    binding = [
        {
            **b,
            "bound": Decimal(int(b.get("bound_fen", 0))) / 100,
            "activity": Decimal(int(b.get("activity_fen", 0))) / 100,
        }
        for b in result.get("binding", [])
    ]
    funded = Decimal(int(result.get("funded_fen", 0) or 0)) / 100
    fcfs_funded = Decimal(int(result.get("fcfs_funded_fen", 0) or 0)) / 100
    context = {
        "run": found,
        "programme": owner,
        "rows": rows,
        "firms": firms,
        "institutions": institutions,
        "zones": zones,
        "binding": binding,
        "unmet": result.get("unmet", []),
        "message": result.get("message"),
        "kinds": KINDS,
        "unit": column_unit(r.amount for r in rows),
        "bind_unit": column_unit(v for b in binding for v in (b["bound"], b["activity"])),
        "funded_unit": column_unit([funded, fcfs_funded]),
        "funded": funded,
        "fcfs_funded": fcfs_funded,
        "on": (found.parameters or {}).get("on", ""),
        "statuses": RUN_STATUSES,
        "accepting": may(p, "allocation:accept") and found.status == "proposed" and rows,
        "today": (api_state(request).clock() + dt.timedelta(hours=8)).date(),
    }
    return render(request, "matching/allocation_run.html", context)


@router.post("/allocation/runs/{run_id}/acceptance")
def accept(
    request: Request,
    run_id: RowId,
    opens_on: Annotated[dt.date, Form()],
    once: Once = None,
    _: None = Depends(csrf_form),
    p: Principal = page("allocation:accept"),
) -> Response:
    """Accept the run: its rows become credit lines proposed by this officer (the maker)."""

    body = AllocationAccept(opens_on=opens_on)

    def change(s: Session) -> dict[str, Any]:
        return records.accept(s, p, s.info.get("actor", SYSTEM), run_id, body)

    perform(request, p, change, once=once, payload={"opens_on": opens_on.isoformat()})
    return RedirectResponse(f"/allocation/runs/{run_id}", status_code=303)
