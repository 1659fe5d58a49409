"""Meeting requests and preferences: each side ranks the other side's participants it wants to
meet (capped per participant by the event), and where a participant gives none, matching's
recommendations stand in (`default_preferences`, run when the timetable is planned).

A participant's list replaces its earlier one whole (`set_preferences`): ranks are positions,
so there are no gaps or ties to resolve.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.events import scopes
from innofin.events.models import EventEnterprise, EventInstitution, MeetingRequest
from innofin.events.service import event, is_organiser, label, now
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.registry.models import Institution


def requests_query(
    p: Principal, event_id: int, side: str | None = None, source: str | None = None
) -> Select[Any]:
    stmt = select(MeetingRequest).where(
        MeetingRequest.event_id == event_id, scopes.request_scope(p)
    )
    if side is not None:
        stmt = stmt.where(MeetingRequest.side == side)
    if source is not None:
        stmt = stmt.where(MeetingRequest.source == source)
    return stmt.order_by(
        MeetingRequest.side,
        MeetingRequest.enterprise_id,
        MeetingRequest.institution_id,
        MeetingRequest.rank,
    )


def _participants(session: Session, event_id: int) -> tuple[set[int], set[int]]:
    """The event's validated enterprises and registered institutions."""
    firms = set(
        session.scalars(
            select(EventEnterprise.enterprise_id).where(
                EventEnterprise.event_id == event_id, EventEnterprise.status == "validated"
            )
        )
    )
    banks = set(
        session.scalars(
            select(EventInstitution.institution_id).where(
                EventInstitution.event_id == event_id, EventInstitution.status == "registered"
            )
        )
    )
    return firms, banks


def set_preferences(
    session: Session,
    p: Principal,
    event_id: int,
    side: str,
    party_id: int,
    targets: Sequence[int],
    at: dt.datetime | None = None,
) -> list[MeetingRequest]:
    """`party_id`'s requests (an enterprise's when `side` is ``enterprise``, an institution's
    otherwise), most wanted first, replacing its earlier ones. Participants book within the
    booking window; the organiser enters requests for them at any time before the event."""
    ev = event(session, p, event_id)
    when = at or now()
    organiser = is_organiser(session, p, event_id)
    if side == "enterprise":
        own = p.has(policy.ENTERPRISE) and p.enterprise_id == party_id
    elif side == "institution":
        own = p.has(policy.INSTITUTION) and party_id in p.institution_ids
    else:
        raise InvalidInput(f"side is enterprise or institution, not {side}", field="side")
    firms, banks = _participants(session, event_id)
    mine, theirs = (firms, banks) if side == "enterprise" else (banks, firms)
    if not (organiser or own):
        if party_id in mine and (side == "enterprise" or p.has(policy.INSTITUTION)):
            raise Forbidden(f"you may not book for {side} {party_id}", field="party_id")
        raise NotFound(f"{side} {party_id} is not a participant of event {event_id}")
    if party_id not in mine:
        raise NotFound(f"{side} {party_id} is not a participant of event {event_id}")
    if ev.status not in ("open", "closed", "scheduled") or (
        not organiser
        and (ev.status not in ("open", "scheduled") or not ev.booking_opens <= when.date())
    ):
        raise Conflict(f"event {ev.code} is {ev.status}: booking is closed")
    if not organiser and when.date() > ev.booking_closes:
        raise Conflict(f"booking for {ev.code} closed on {ev.booking_closes}")
    if len(set(targets)) != len(targets):
        raise InvalidInput("a participant is named twice", field="targets")
    if len(targets) > ev.max_requests:
        raise InvalidInput(
            f"at most {ev.max_requests} requests a participant at {ev.code} ({len(targets)} given)",
            field="targets",
        )
    _lock_party(session, event_id, side, party_id)
    other = "institution" if side == "enterprise" else "enterprise"
    missing = [t for t in targets if t not in theirs]
    if missing:
        raise InvalidInput(f"not a participant of the event: {other} {missing[0]}", field="targets")
    mr = MeetingRequest
    mine_col = mr.enterprise_id if side == "enterprise" else mr.institution_id
    session.execute(
        delete(MeetingRequest).where(
            MeetingRequest.event_id == event_id,
            MeetingRequest.side == side,
            mine_col == party_id,
        )
    )
    rows = []
    for rank, target in enumerate(targets, start=1):
        firm, bank = (party_id, target) if side == "enterprise" else (target, party_id)
        rows.append(
            MeetingRequest(
                event_id=event_id,
                side=side,
                enterprise_id=firm,
                institution_id=bank,
                rank=rank,
                source="organiser" if organiser and not own else "own",
                created_by=label(p),
                created_at=when,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def _lock_party(session: Session, event_id: int, side: str, party_id: int) -> None:
    """Lock the participant's registration row: two lists sent at once for one participant
    queue, so the second replaces the first whole instead of the two mixing (or tripping over
    the unique pair). SQLite's writes are serialised by BEGIN IMMEDIATE already."""
    if side == "enterprise":
        stmt: Any = select(EventEnterprise.id).where(
            EventEnterprise.event_id == event_id, EventEnterprise.enterprise_id == party_id
        )
    else:
        stmt = select(EventInstitution.id).where(
            EventInstitution.event_id == event_id, EventInstitution.institution_id == party_id
        )
    session.execute(stmt.with_for_update())


# --------------------------------------------------------------------------- recommendations


def _tree_map(session: Session, banks: set[int]) -> dict[int, int]:
    """Lender id → the participant it stands for: a participant itself, and its branches (a
    recommendation of a head office's branch is a reason to meet the head office's desk)."""
    out = {b: b for b in banks}
    for child, parent in session.execute(
        select(Institution.id, Institution.parent_id).where(Institution.parent_id.in_(banks))
    ):
        if parent is not None:
            out.setdefault(int(child), int(parent))
    return out


def default_preferences(
    session: Session, event_id: int, cap: int, at: dt.datetime | None = None
) -> dict[str, int]:
    """Matching's recommendations stand in for the participants who gave no requests: a firm
    gets its open needs' best-fitting institutions at the event, an institution the firms at
    the event whose needs fit it best (both capped at the event's `cap`). Earlier stand-ins are
    replaced. One recommendation run over the needs of the event's firms only (fast: a few
    hundred needs against the catalogue). Returns how many parties got stand-ins."""
    from innofin.matching.queries import open_needs, run_recommendations

    when = at or now()
    session.execute(
        delete(MeetingRequest).where(
            MeetingRequest.event_id == event_id, MeetingRequest.source == "recommendation"
        )
    )
    firms, banks = _participants(session, event_id)
    asked = session.execute(
        select(MeetingRequest.side, MeetingRequest.enterprise_id, MeetingRequest.institution_id)
        .where(MeetingRequest.event_id == event_id)
        .distinct()
    ).all()
    firms_asking = {e for s, e, _ in asked if s == "enterprise"}
    banks_asking = {i for s, _, i in asked if s == "institution"}
    quiet_firms = firms - firms_asking
    quiet_banks = banks - banks_asking
    done = {"enterprises": 0, "institutions": 0}
    if not (quiet_firms or quiet_banks) or not banks or not firms:
        return done
    needs = [n for n in open_needs(session) if n.enterprise_id in firms]
    if not needs:
        return done
    run = run_recommendations(session, needs, k=max(cap * 3, 20), per_institution=cap * 4)
    to_participant = _tree_map(session, banks)
    firm_prefs: dict[int, list[int]] = defaultdict(list)
    for row, need in enumerate(needs):
        if need.enterprise_id not in quiet_firms:
            continue
        for i in run.result.institutions[row]:
            if i < 0:
                continue
            bank = to_participant.get(int(run.lenders.ids[i]))
            wanted = firm_prefs[need.enterprise_id]
            if bank is not None and bank not in wanted and len(wanted) < cap:
                wanted.append(bank)
    bank_prefs: dict[int, list[int]] = defaultdict(list)
    lender_index = {int(x): k for k, x in enumerate(run.lenders.ids)}
    for lender, bank in sorted(to_participant.items()):
        if bank not in quiet_banks or lender not in lender_index:
            continue
        for row in run.result.firms[lender_index[lender]]:
            if row < 0:
                continue
            firm = needs[int(row)].enterprise_id
            wanted = bank_prefs[bank]
            if firm not in wanted and len(wanted) < cap:
                wanted.append(firm)
    rows = []
    for side, prefs in (("enterprise", firm_prefs), ("institution", bank_prefs)):
        for party, targets in prefs.items():
            if not targets:
                continue
            done["enterprises" if side == "enterprise" else "institutions"] += 1
            for rank, target in enumerate(targets, start=1):
                firm, bank = (party, target) if side == "enterprise" else (target, party)
                rows.append(
                    MeetingRequest(
                        event_id=event_id,
                        side=side,
                        enterprise_id=firm,
                        institution_id=bank,
                        rank=rank,
                        source="recommendation",
                        created_by="matching",
                        created_at=when,
                    )
                )
    session.add_all(rows)
    session.flush()
    return done


def request_table(session: Session, event_id: int) -> dict[str, np.ndarray]:
    """Every request of the event as columns: side (0 enterprise, 1 institution), enterprise,
    institution, rank."""
    rows = session.execute(
        select(
            MeetingRequest.side,
            MeetingRequest.enterprise_id,
            MeetingRequest.institution_id,
            MeetingRequest.rank,
        ).where(MeetingRequest.event_id == event_id)
    ).all()
    return {
        "side": np.array([0 if r[0] == "enterprise" else 1 for r in rows], dtype=np.int8),
        "enterprise": np.array([r[1] for r in rows], dtype=np.int64),
        "institution": np.array([r[2] for r in rows], dtype=np.int64),
        "rank": np.array([r[3] for r in rows], dtype=np.int64),
    }
