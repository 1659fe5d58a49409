"""Plan, store and announce an event's timetable: the database turned into the timetable
engine's `Instance`, solved (`timetable_engine.solve`) beside the greedy baseline of the same
instance, stored with the solver, its status, objective, bound and gap, and the report of each
request that could not be placed and why.

Re-planning after late registrations or cancellations hands the engine the announced meetings
(mapped to the new instance's indices), which it keeps where it can (a keep bonus worth more than
any two meetings); the new schedule records how many were kept, moved, dropped or cancelled.

Preferences: a request's weight adds both sides' ranks — a side that asked contributes
``cap + 1 − rank`` (cap: the event's requests per participant), so the first choice is worth the
most —; a request both sides made is mutual (the engine places mutual requests first). Where a
participant made no request, matching's recommendations stand in (`requests.default_preferences`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from innofin.events import requests as requests_
from innofin.events.models import (
    Event,
    EventEnterprise,
    EventInstitution,
    EventSchedule,
    Meeting,
)
from innofin.events.scheduling import engine as tt
from innofin.events.service import label, now, organised, sessions
from innofin.kernel.errors import Conflict, NotFound
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise, Institution


@dataclass(frozen=True)
class Plan:
    """An instance with the ids behind its indices."""

    instance: tt.Instance
    enterprises: np.ndarray  # index → enterprise id
    institutions: np.ndarray  # index → institution id
    #: announced meetings of a party no longer at the event (cancelled before the engine)
    gone: int


def current_schedule(
    session: Session, event_id: int, status: str = "announced"
) -> EventSchedule | None:
    return session.scalar(
        select(EventSchedule)
        .where(EventSchedule.event_id == event_id, EventSchedule.status == status)
        .order_by(EventSchedule.id.desc())
        .limit(1)
    )


def build_plan(session: Session, ev: Event, base: EventSchedule | None) -> Plan:
    """The event's validated firms, registered institutions, slots, caps and requests as the
    engine's arrays; `base`'s meetings as the announced ones."""
    firms = session.execute(
        select(EventEnterprise.enterprise_id, EventEnterprise.max_meetings)
        .where(EventEnterprise.event_id == ev.id, EventEnterprise.status == "validated")
        .order_by(EventEnterprise.enterprise_id)
    ).all()
    banks = session.execute(
        select(
            EventInstitution.institution_id, EventInstitution.desks, EventInstitution.max_meetings
        )
        .where(EventInstitution.event_id == ev.id, EventInstitution.status == "registered")
        .order_by(EventInstitution.institution_id)
    ).all()
    blocks = sessions(session, ev.id)
    n_slots = sum(b.slots for b in blocks)
    ent_ids = np.array([f[0] for f in firms], dtype=np.int64)
    inst_ids = np.array([b[0] for b in banks], dtype=np.int64)
    desks = np.array([b[1] for b in banks], dtype=np.int64)
    seats = sum(b.slots * b.group_size for b in blocks)  # a firm's most meetings in the day
    e_cap = np.array([seats if f[1] is None else f[1] for f in firms], dtype=np.int64)
    i_cap = np.array([n_slots * b[1] if b[2] is None else b[2] for b in banks], dtype=np.int64)
    session_of_slot = np.repeat(np.arange(len(blocks)), [b.slots for b in blocks])
    # one cap serves every session (`service.create_event` refuses different ones)
    per_session = blocks[0].max_per_participant if blocks else None
    table = requests_.request_table(session, ev.id)
    e_index = {int(x): k for k, x in enumerate(ent_ids)}
    i_index = {int(x): k for k, x in enumerate(inst_ids)}
    e_pos = np.array([e_index.get(int(x), -1) for x in table["enterprise"]], dtype=np.int64)
    i_pos = np.array([i_index.get(int(x), -1) for x in table["institution"]], dtype=np.int64)
    known = (e_pos >= 0) & (i_pos >= 0)  # requests of parties no longer at the event: ignored
    e_pos, i_pos = e_pos[known], i_pos[known]
    side, rank = table["side"][known], table["rank"][known]
    points = np.maximum(ev.max_requests + 1 - rank, 1)
    key = e_pos * max(inst_ids.size, 1) + i_pos
    pairs, inverse = np.unique(key, return_inverse=True)
    weight = np.bincount(inverse, weights=points, minlength=pairs.size).astype(np.int64)
    sides = np.zeros((pairs.size, 2), dtype=np.bool_)
    sides[inverse, side] = True
    announced: dict[str, list[int]] = {"e": [], "i": [], "t": []}
    gone = 0
    if base is not None:
        for m in session.scalars(select(Meeting).where(Meeting.schedule_id == base.id)):
            if m.enterprise_id in e_index and m.institution_id in i_index and m.slot < n_slots:
                announced["e"].append(e_index[m.enterprise_id])
                announced["i"].append(i_index[m.institution_id])
                announced["t"].append(m.slot)
            else:
                gone += 1
    instance = tt.Instance(
        n_enterprises=int(ent_ids.size),
        n_institutions=int(inst_ids.size),
        n_slots=max(n_slots, 1),
        desks=desks,
        request_enterprise=(pairs // max(inst_ids.size, 1)).astype(np.int64),
        request_institution=(pairs % max(inst_ids.size, 1)).astype(np.int64),
        request_weight=np.maximum(weight, 1),
        request_mutual=np.asarray(sides.all(axis=1), dtype=np.bool_),
        session_of_slot=session_of_slot.astype(np.int64),
        session_group_size=np.array([b.group_size for b in blocks], dtype=np.int64),
        enterprise_cap=e_cap,
        institution_cap=i_cap,
        enterprise_session_cap=(
            None if per_session is None else np.full(ent_ids.size, per_session, dtype=np.int64)
        ),
        institution_session_cap=(
            None if per_session is None else per_session * np.maximum(desks, 1)
        ),
        announced_enterprise=np.array(announced["e"], dtype=np.int64),
        announced_institution=np.array(announced["i"], dtype=np.int64),
        announced_slot=np.array(announced["t"], dtype=np.int64),
    )
    return Plan(instance, ent_ids, inst_ids, gone)


def _names(session: Session, model: Any, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def _report(session: Session, plan: Plan, found: tt.Schedule) -> list[dict[str, Any]]:
    """Each request without a meeting: who, whether mutual, its weight and why."""
    inst = plan.instance
    rows = found.unscheduled.tolist()
    ent = [int(plan.enterprises[inst.request_enterprise[r]]) for r in rows]
    bank = [int(plan.institutions[inst.request_institution[r]]) for r in rows]
    firms = _names(session, Enterprise, sorted(set(ent)))
    banks = _names(session, Institution, sorted(set(bank)))
    return [
        {
            "enterprise_id": e,
            "enterprise_name": firms.get(e, ""),
            "institution_id": i,
            "institution_name": banks.get(i, ""),
            "mutual": bool(inst.request_mutual[r]),
            "weight": int(inst.request_weight[r]),
            "reason": why,
        }
        for r, e, i, why in zip(rows, ent, bank, found.unscheduled_reason, strict=True)
    ]


def plan(
    session: Session,
    p: Principal,
    event_id: int,
    time_limit_s: float = 10.0,
    seed: int = 0,
    announce_it: bool = False,
    at: dt.datetime | None = None,
) -> EventSchedule:
    """Solve the event's timetable and store it as a draft (announced at once with
    `announce_it`). When a schedule was announced, this re-plans it with the fewest changes."""
    ev = organised(session, p, event_id)
    if ev.status in ("held", "cancelled"):
        raise Conflict(f"event {ev.code} is {ev.status}: its timetable is final")
    when = at or now()
    stand_ins = requests_.default_preferences(session, event_id, ev.max_requests, when)
    base = current_schedule(session, event_id)
    built = build_plan(session, ev, base)
    found = tt.solve(built.instance, time_limit_s=time_limit_s, seed=seed)
    baseline = tt.greedy(built.instance)
    outcome = {name: found.announced_outcome.count(name) for name in tt.OUTCOMES}
    outcome["cancelled"] += built.gone
    row = EventSchedule(
        event_id=event_id,
        base_id=base.id if base is not None else None,
        solver=found.solver[:120],
        solver_version=found.solver.split(" + ")[0][:60],
        parameters={**found.parameters, "time_limit_s": time_limit_s, "seed": seed},
        solver_status=found.status,
        objective=float(found.objective),
        bound=float(found.upper_bound),
        gap=None if np.isnan(found.gap) else float(found.gap),
        meetings=found.n_meetings,
        mutual_meetings=found.n_mutual,
        greedy_objective=float(baseline.objective),
        greedy_meetings=baseline.n_meetings,
        greedy_mutual_meetings=baseline.n_mutual,
        requested_pairs=built.instance.n_requests,
        moved=outcome["moved"],
        dropped=outcome["dropped"] + outcome["cancelled"],
        result={
            "unscheduled": _report(session, built, found),
            "reasons": found.reasons(),
            "announced": outcome if base is not None else {},
            "lp_bound": float(found.lp_bound),
            "stand_ins": stand_ins,
            "participants": {
                "enterprises": int(built.enterprises.size),
                "institutions": int(built.institutions.size),
            },
        },
        seconds=float(found.seconds),
        status="draft",
        created_by=label(p),
        created_at=when,
    )
    session.add(row)
    session.flush()
    session.add_all(
        Meeting(
            schedule_id=row.id,
            event_id=event_id,
            enterprise_id=int(built.enterprises[e]),
            institution_id=int(built.institutions[i]),
            slot=int(t),
            desk=int(d) + 1,
            mutual=bool(m),
            score=float(w),
        )
        for e, i, t, d, m, w in zip(
            found.enterprise.tolist(),
            found.institution.tolist(),
            found.slot.tolist(),
            found.desk.tolist(),
            found.mutual.tolist(),
            found.weight.tolist(),
            strict=True,
        )
    )
    session.flush()
    if announce_it:
        announce(session, p, event_id, row.id, when)
    return row


def announce(
    session: Session, p: Principal, event_id: int, schedule_id: int, at: dt.datetime | None = None
) -> EventSchedule:
    """Announce a draft schedule: the earlier announced one is superseded, the event is
    scheduled, and agendas now show the new meetings."""
    ev = organised(session, p, event_id)
    row = session.scalar(
        select(EventSchedule).where(
            EventSchedule.id == schedule_id, EventSchedule.event_id == event_id
        )
    )
    if row is None:
        raise NotFound(f"no schedule {schedule_id} of event {event_id}")
    if row.status == "announced":
        return row  # announced already: announcing again changes nothing
    if row.status != "draft":
        raise Conflict(f"schedule {schedule_id} is {row.status}, not a draft")
    latest = current_schedule(session, event_id)
    if latest is not None and row.base_id != latest.id:
        raise Conflict(
            f"schedule {schedule_id} was planned before schedule {latest.id} was announced: "
            "plan again"
        )
    session.execute(
        update(EventSchedule)
        .where(EventSchedule.event_id == event_id, EventSchedule.status == "announced")
        .values(status="superseded")
    )
    row.status = "announced"
    row.announced_at = at or now()
    if ev.status in ("open", "closed"):
        ev.status = "scheduled"
    session.flush()
    return row


def schedules(session: Session, p: Principal, event_id: int) -> list[EventSchedule]:
    organised(session, p, event_id)
    return list(
        session.scalars(
            select(EventSchedule)
            .where(EventSchedule.event_id == event_id)
            .order_by(EventSchedule.id)
        )
    )
