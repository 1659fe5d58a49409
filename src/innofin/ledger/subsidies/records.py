"""Interest subsidies (免申即享) as the API serves them: scoped reads and the actions.

Officers who run a programme publish its subsidies for a period, resolve objections and pay;
whoever sees a subsidy may object while it is under public notice; the enterprise confirms its
own once the notice has passed. Publication, objections, resolutions and confirmations are dated
by the server's clock (so nobody can back-date a notice period); a payment may name its date.
A programme's subsidies are computed for its own loans (`subsidies.programme_loans`) within
the caller's loan scope.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.access.policy import scoped
from innofin.audit.recorder import Actor
from innofin.db.queries import visible, writable
from innofin.kernel.errors import Forbidden, InvalidInput
from innofin.kernel.principal import Principal
from innofin.ledger.models import InterestSubsidy, Programme
from innofin.ledger.schemas import SubsidyBatch, SubsidyOut, SubsidyPublish, SubsidyRulesIn
from innofin.ledger.scopes import (
    loan_scope,
    programme_run_scope,
    programme_scope,
    subsidy_run_scope,
    subsidy_scope,
)
from innofin.ledger.subsidies import engine
from innofin.ledger.subsidies import service as subsidies

SUBSIDY_SORTS = {
    "id": InterestSubsidy.id,
    "period_end": InterestSubsidy.period_end,
    "amount": InterestSubsidy.amount,
}


def subsidies_query(
    p: Principal, programme_id: int | None, status: str | None, enterprise_id: int | None
) -> Select[Any]:
    stmt = scoped(select(InterestSubsidy), subsidy_scope(p))
    if programme_id is not None:
        code = select(Programme.code).where(Programme.id == programme_id).scalar_subquery()
        stmt = stmt.where(InterestSubsidy.programme == code)
    if status is not None:
        stmt = stmt.where(InterestSubsidy.status == status)
    if enterprise_id is not None:
        stmt = stmt.where(InterestSubsidy.enterprise_id == enterprise_id)
    return stmt


def subsidy(session: Session, p: Principal, subsidy_id: int) -> InterestSubsidy:
    return visible(session, InterestSubsidy, subsidy_id, subsidy_scope(p), "subsidy")


def _run(session: Session, p: Principal, subsidy_id: int) -> InterestSubsidy:
    found = subsidy(session, p, subsidy_id)
    writable(session, InterestSubsidy, subsidy_id, subsidy_run_scope(p), "subsidy")
    return found


def rules(body: SubsidyRulesIn) -> engine.SubsidyRules:
    """The engine's rules from the request, each problem named as ``rules.<field>``."""
    try:
        return engine.SubsidyRules(**body.model_dump(exclude_none=True))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "rules." + ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None


def publish(
    session: Session, p: Principal, actor: Actor, body: SubsidyPublish, today: dt.date
) -> SubsidyBatch:
    """Compute a period's subsidies of a programme the caller runs and put them on notice."""
    prog = visible(session, Programme, body.programme_id, programme_scope(p), "programme")
    writable(session, Programme, prog.id, programme_run_scope(p), "programme")
    among = scoped(subsidies.programme_loans(prog.id), loan_scope(p))
    made = subsidies.publish(
        session,
        actor,
        programme=prog.code,
        rules=rules(body.rules),
        period_start=body.period_start,
        period_end=body.period_end,
        published_on=today,
        notice_days=body.notice_days,
        among=among,
    )
    return SubsidyBatch(
        programme_id=prog.id,
        programme=prog.code,
        period_start=body.period_start,
        period_end=body.period_end,
        published_on=today,
        notice_until=today + dt.timedelta(days=body.notice_days),
        count=len(made),
        amount=sum((s.amount for s in made), Decimal("0.00")),
        items=[SubsidyOut.model_validate(s) for s in made],
    )


def object_to(
    session: Session, p: Principal, actor: Actor, subsidy_id: int, text: str, today: dt.date
) -> InterestSubsidy:
    subsidy(session, p, subsidy_id)
    return subsidies.object_to(session, actor, subsidy_id, text=text, on=today)


def resolve(
    session: Session, p: Principal, actor: Actor, subsidy_id: int, upheld: bool, today: dt.date
) -> InterestSubsidy:
    _run(session, p, subsidy_id)
    return subsidies.resolve(session, actor, subsidy_id, upheld=upheld, on=today)


def confirm(
    session: Session, p: Principal, actor: Actor, subsidy_id: int, today: dt.date
) -> InterestSubsidy:
    subsidy(session, p, subsidy_id)
    if p.enterprise_id is None:
        raise Forbidden("only the enterprise itself confirms its subsidy")
    return subsidies.confirm(session, actor, subsidy_id, enterprise_id=p.enterprise_id, on=today)


def pay(
    session: Session, p: Principal, actor: Actor, subsidy_id: int, paid_on: dt.date
) -> InterestSubsidy:
    _run(session, p, subsidy_id)
    return subsidies.pay(session, actor, subsidy_id, on=paid_on)
