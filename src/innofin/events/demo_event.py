"""The demo's matchmaking meeting: in the zone with most open financing needs, the firms that
posted them (at most 40) and the institutions with most products (6, one or two desks); two
thirds of the firms and two institutions rank their own requests, matching's recommendations
stand in for the others; two sessions of four 30-minute slots — fewer tables than requests.
Small on purpose: `make demo` stays quick."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innofin.events import requests, service
from innofin.events.models import EventSchedule, Meeting
from innofin.events.scheduling import service as scheduling
from innofin.events.schemas import EventCreate
from innofin.matching.models import FinancingNeed
from innofin.registry.models import Enterprise, Product

OP = service.OPERATOR
CODE = "DEMO-MEETING"
FIRMS, BANKS = 40, 6
#: desks of the institutions in turn: fewer tables than requests, so some cannot be placed
DESKS = (2, 1, 1, 2, 1, 1)


def make(session: Session, today: dt.date | None = None) -> tuple[int, int] | None:
    """Create and fill the demo event; (event id, the firm whose agenda to show), or None when
    no zone has open needs."""
    day = today or dt.date.today()
    zone = session.execute(
        select(Enterprise.zone_id, func.count(FinancingNeed.id))
        .join(FinancingNeed, FinancingNeed.enterprise_id == Enterprise.id)
        .where(FinancingNeed.status == "open", Enterprise.zone_id.is_not(None))
        .group_by(Enterprise.zone_id)
        .order_by(func.count(FinancingNeed.id).desc(), Enterprise.zone_id)
        .limit(1)
    ).first()
    if zone is None:
        return None
    firms = list(
        session.scalars(
            select(Enterprise.id)
            .join(FinancingNeed, FinancingNeed.enterprise_id == Enterprise.id)
            .where(FinancingNeed.status == "open", Enterprise.zone_id == zone[0])
            .group_by(Enterprise.id)
            .order_by(Enterprise.id)
            .limit(FIRMS)
        )
    )
    banks = list(
        session.scalars(
            select(Product.institution_id)
            .group_by(Product.institution_id)
            .order_by(func.count(Product.id).desc(), Product.institution_id)
            .limit(BANKS)
        )
    )
    held_on = day + dt.timedelta(days=14)
    body = EventCreate.model_validate(
        {
            "code": CODE,
            "name": "示例 科技金融银企对接会",
            "name_en": "Demo bank-enterprise matchmaking meeting",
            "held_on": held_on,
            "venue": "示例 高新区科技金融服务中心",
            "booking_opens": day,
            "booking_closes": held_on - dt.timedelta(days=2),
            "max_requests": 4,
            "zone_id": zone[0],
            "sessions": [
                {"starts": "09:00", "slots": 4, "name": "上午"},
                {"starts": "14:00", "slots": 4, "name": "下午"},
            ],
        }
    )
    ev = service.create_event(session, OP, body)
    for n, bank in enumerate(banks):
        service.add_institution(session, OP, ev.id, bank, DESKS[n % len(DESKS)])
    for firm in firms:
        service.register_enterprise(session, OP, ev.id, firm)
    for n, firm in enumerate(firms[: len(firms) * 2 // 3]):
        wanted = [banks[(n + k) % len(banks)] for k in range(min(4, len(banks)))]
        requests.set_preferences(session, OP, ev.id, "enterprise", firm, wanted)
    for n, bank in enumerate(banks[:2]):
        wanted = firms[n::7][:4]
        requests.set_preferences(session, OP, ev.id, "institution", bank, wanted)
    session.flush()
    return ev.id, firms[0]


def schedule(session: Session, event_id: int) -> EventSchedule:
    """Plan (a few seconds at most), announce, and point the agenda at a firm with meetings."""
    return scheduling.plan(session, OP, event_id, time_limit_s=5.0, seed=0, announce_it=True)


def busiest_firm(session: Session, schedule_id: int) -> int | None:
    return session.scalar(
        select(Meeting.enterprise_id)
        .where(Meeting.schedule_id == schedule_id)
        .group_by(Meeting.enterprise_id)
        .order_by(func.count().desc(), Meeting.enterprise_id)
        .limit(1)
    )
