"""A small matchmaking event for the events tests: zone Z1 (甲省), firms f1…fN with users, banks
A (with branch A1) and B, an event with two sessions of slots."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

import factories
from innofin.db import unit_of_work
from innofin.events import service
from innofin.events.schemas import EventCreate
from innofin.kernel.codes import Role
from innofin.kernel.principal import Principal
from innofin.registry.models import Institution

HELD_ON = dt.date(2026, 7, 15)
BOOKING = dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC)


@dataclass
class EventWorld:
    engine: Engine
    ids: dict[str, int] = field(default_factory=dict)


def event_body(code: str = "EV-1", **over: Any) -> EventCreate:
    values: dict[str, Any] = {
        "code": code,
        "name": "甲省银企对接会",
        "name_en": "Bank-enterprise matchmaking",
        "held_on": HELD_ON,
        "venue": "甲市会展中心",
        "slot_minutes": 30,
        "booking_opens": dt.date(2026, 6, 20),
        "booking_closes": dt.date(2026, 7, 10),
        "max_requests": 3,
        "sessions": [{"starts": "09:00", "slots": 2}, {"starts": "14:00", "slots": 1}],
    }
    values.update(over)
    return EventCreate.model_validate(values)


def firm_user(enterprise_id: int) -> Principal:
    return Principal(
        user_id=900 + enterprise_id,
        username=f"firm{enterprise_id}",
        roles=frozenset({Role.ENTERPRISE_USER}),
        organisation_id=900 + enterprise_id,
        org_kind="enterprise",
        enterprise_id=enterprise_id,
    )


def bank_user(*institution_ids: int) -> Principal:
    return Principal(
        user_id=800 + institution_ids[0],
        username=f"bank{institution_ids[0]}",
        roles=frozenset({Role.INSTITUTION_OFFICER}),
        organisation_id=800 + institution_ids[0],
        org_kind="institution",
        institution_ids=frozenset(institution_ids),
    )


def officer(province: str | None) -> Principal:
    return Principal(
        user_id=700,
        username=f"officer-{province}",
        roles=frozenset({Role.PROGRAMME_OFFICER}),
        organisation_id=700,
        org_kind="government",
        province=province,
    )


def build(engine: Engine, firms: int = 4, desks: dict[str, int] | None = None) -> EventWorld:
    """Zone Z1 in 甲省 with `firms` firms (validated at the event), banks A (branch A1) and B at
    the event with `desks` each (1 by default)."""
    w = EventWorld(engine)
    desks = desks or {"A": 1, "B": 1}
    with unit_of_work(engine) as s:
        z = factories.zone("Z1", province="甲省")
        s.add(z)
        s.flush()
        w.ids["z1"] = z.id
        for n in range(1, firms + 1):
            f = factories.enterprise(n, zone_id=z.id, tech_field="electronic_information")
            s.add(f)
            s.flush()
            w.ids[f"f{n}"] = f.id
        for code in ("A", "B"):
            bank = Institution(code=f"BANK-{code}", name=f"{code}银行", kind="bank")
            s.add(bank)
            s.flush()
            w.ids[code] = bank.id
        branch = Institution(code="BANK-A1", name="A银行支行", kind="bank", parent_id=w.ids["A"])
        s.add(branch)
        s.flush()
        w.ids["A1"] = branch.id
        ev = service.create_event(s, service.OPERATOR, event_body(zone_id=z.id), at=BOOKING)
        w.ids["event"] = ev.id
        for code in ("A", "B"):
            service.add_institution(s, service.OPERATOR, ev.id, w.ids[code], desks.get(code, 1))
        for n in range(1, firms + 1):
            service.register_enterprise(s, service.OPERATOR, ev.id, w.ids[f"f{n}"], at=BOOKING)
    return w
