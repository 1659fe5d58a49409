"""Consent (an enterprise opens its indicator data to an institution) and referrals (an officer
recommends an enterprise to an institution). Both decide what institution officers see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.access.models import Consent, Referral
from innofin.db.queries import visible
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise, Institution

CONSENT_SORTS = {"id": Consent.id, "granted_at": Consent.granted_at}
REFERRAL_SORTS = {"id": Referral.id, "created_at": Referral.created_at}


def consents_query(p: Principal, active_only: bool) -> Select[Any]:
    stmt = select(Consent).where(policy.consent_scope(p))
    return stmt.where(Consent.withdrawn_at.is_(None)) if active_only else stmt


def _institution(session: Session, institution_id: int) -> None:
    if session.get(Institution, institution_id) is None:
        raise InvalidInput(f"there is no institution {institution_id}", field="institution_id")


def grant(session: Session, p: Principal, institution_id: int, now: dt.datetime) -> Consent:
    """The caller's enterprise lets `institution_id` (and its branches) read its indicators."""
    if p.enterprise_id is None:
        raise Forbidden("only an enterprise's own users grant consent")
    _institution(session, institution_id)
    active = session.scalar(
        select(Consent.id).where(
            Consent.enterprise_id == p.enterprise_id,
            Consent.institution_id == institution_id,
            Consent.withdrawn_at.is_(None),
        )
    )
    if active is not None:
        raise Conflict(f"consent {active} for institution {institution_id} is already in force")
    row = Consent(
        enterprise_id=p.enterprise_id,
        institution_id=institution_id,
        granted_at=now,
        granted_by=p.user_id,
    )
    session.add(row)
    session.flush()
    return row


def withdraw(session: Session, p: Principal, consent_id: int, now: dt.datetime) -> Consent:
    row = visible(session, Consent, consent_id, policy.consent_scope(p), "consent")
    if row.enterprise_id != p.enterprise_id:
        raise Forbidden("only the enterprise that granted a consent withdraws it")
    if row.withdrawn_at is not None:
        raise Conflict(f"consent {consent_id} was already withdrawn")
    row.withdrawn_at, row.withdrawn_by = now, p.user_id
    session.flush()
    return row


def referrals_query(p: Principal) -> Select[Any]:
    return select(Referral).where(policy.referral_scope(p))


def refer(
    session: Session,
    p: Principal,
    enterprise_id: int,
    institution_id: int,
    note: str | None,
    now: dt.datetime,
) -> Referral:
    """Recommend a visible enterprise to an institution."""
    found = session.scalar(
        select(Enterprise.id).where(
            Enterprise.id == enterprise_id, policy.enterprise_write_scope(p)
        )
    )
    if found is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    _institution(session, institution_id)
    taken = session.scalar(
        select(Referral.id).where(
            Referral.enterprise_id == enterprise_id, Referral.institution_id == institution_id
        )
    )
    if taken is not None:
        raise Conflict(f"enterprise {enterprise_id} is already referred to {institution_id}")
    row = Referral(
        enterprise_id=enterprise_id,
        institution_id=institution_id,
        referred_by=p.user_id,
        created_at=now,
        note=note,
    )
    session.add(row)
    session.flush()
    return row
