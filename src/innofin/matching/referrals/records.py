"""Referrals' writes as the API serves them: the scoped use cases behind the routes, each in
the caller's unit of work (`api.writes.write` opens it), returning what the route answers:
refer a need (the enterprise itself or an officer who may change its record; each institution
needs the firm's consent), answer one (only the institution it went to), move it along the
funnel, flag the overdue ones (of the needs the officer sees).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from innofin.kernel.errors import InvalidInput
from innofin.kernel.principal import Principal
from innofin.matching.models import NeedReferral
from innofin.matching.referrals import rematch
from innofin.matching.referrals import service as referrals
from innofin.matching.schemas import (
    ReferralAnswer,
    ReferralCreate,
    ReferralStep,
)


def refer(
    session: Session, p: Principal, need_id: int, body: ReferralCreate, at: dt.datetime
) -> list[NeedReferral]:
    return referrals.refer(session, p, need_id, body.institution_ids, source=body.source, at=at)


def respond(
    session: Session, p: Principal, referral_id: int, body: ReferralAnswer, at: dt.datetime
) -> dict[str, Any]:
    """The answer, and what a decline led to (as the caller may see it)."""
    if body.answer == "opt_in" and (body.code is not None or body.text is not None):
        raise InvalidInput("a reason code and text go with a decline only", field="code")
    out = referrals.respond(
        session, p, referral_id, body.answer, code=body.code, text=body.text, at=at
    )
    return {
        "referral": out.referral,
        "rematch": None if out.rematch is None else rematch.of_referral(session, p, referral_id),
    }


def advance(
    session: Session, p: Principal, referral_id: int, body: ReferralStep, at: dt.datetime
) -> NeedReferral:
    return referrals.advance(
        session, p, referral_id, body.step, credit_line_id=body.credit_line_id, at=at
    )


def flag_overdue(session: Session, p: Principal, at: dt.datetime) -> list[NeedReferral]:
    return referrals.flag_overdue(session, at=at, p=p)
