"""The ledger as the API serves it: scoped reads and the actions, under the access policy.

A credit line or loan outside the caller's scope does not exist for it (404); an institution
officer acts only on its own institution's lines and loans (and branches'); the checker of a
line must be another officer of the same institution than its maker.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.access.policy import enterprise_scope
from innofin.audit.recorder import Actor
from innofin.kernel.errors import Forbidden, NotFound
from innofin.kernel.principal import Principal
from innofin.ledger import queries
from innofin.ledger.journal import ledger_key
from innofin.ledger.loans import service
from innofin.ledger.models import CreditLine, LedgerEvent, Loan
from innofin.ledger.schemas import CreditLineCreate, DrawdownCreate, RepaymentCreate
from innofin.ledger.scopes import credit_line_scope, ledger_write_scope, loan_scope, own
from innofin.registry.models import Enterprise

LINE_SORTS = {
    "id": CreditLine.id,
    "opens_on": CreditLine.opens_on,
    "limit": CreditLine.limit_amount,
}


def lines_query(
    p: Principal,
    status: str | None,
    enterprise_id: int | None,
    institution_id: int | None = None,
    opens_from: dt.date | None = None,
    opens_to: dt.date | None = None,
) -> Select[Any]:
    stmt = select(CreditLine).where(credit_line_scope(p))
    if status is not None:
        stmt = stmt.where(CreditLine.status == status)
    if enterprise_id is not None:
        stmt = stmt.where(CreditLine.enterprise_id == enterprise_id)
    if institution_id is not None:
        stmt = stmt.where(CreditLine.institution_id == institution_id)
    if opens_from is not None:
        stmt = stmt.where(CreditLine.opens_on >= opens_from)
    if opens_to is not None:
        stmt = stmt.where(CreditLine.opens_on <= opens_to)
    return stmt


LOAN_SORTS = {
    "id": Loan.id,
    "drawn_on": Loan.drawn_on,
    "principal": Loan.principal,
    "outstanding": Loan.outstanding_principal,
}


@dataclass(frozen=True)
class LoanFilter:
    """The filters of the loan list (each optional)."""

    status: str | None = None
    category: str | None = None
    institution_id: int | None = None
    enterprise_id: int | None = None
    credit_line_id: int | None = None
    drawn_from: dt.date | None = None
    drawn_to: dt.date | None = None
    defaulted: bool | None = None


def loans_query(p: Principal, f: LoanFilter) -> Select[Any]:
    """The loans the caller may see (`loan_scope`), filtered."""
    stmt = select(Loan).where(loan_scope(p))
    for column, value in (
        (Loan.status, f.status),
        (Loan.category, f.category),
        (Loan.institution_id, f.institution_id),
        (Loan.enterprise_id, f.enterprise_id),
        (Loan.credit_line_id, f.credit_line_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.drawn_from is not None:
        stmt = stmt.where(Loan.drawn_on >= f.drawn_from)
    if f.drawn_to is not None:
        stmt = stmt.where(Loan.drawn_on <= f.drawn_to)
    if f.defaulted is not None:
        stmt = stmt.where(
            Loan.defaulted_on.is_not(None) if f.defaulted else Loan.defaulted_on.is_(None)
        )
    return stmt


def line(session: Session, p: Principal, line_id: int) -> CreditLine:
    found = session.scalars(
        select(CreditLine).where(CreditLine.id == line_id, credit_line_scope(p))
    ).first()
    if found is None:
        raise NotFound(f"no credit line {line_id}")
    return found


def loan(session: Session, p: Principal, loan_id: int) -> Loan:
    found = session.scalars(select(Loan).where(Loan.id == loan_id, loan_scope(p))).first()
    if found is None:
        raise NotFound(f"no loan {loan_id}")
    return found


def loan_events(session: Session, p: Principal, loan_id: int) -> list[LedgerEvent]:
    loan(session, p, loan_id)
    return queries.history(session, "loan", loan_id)


def propose_line(
    session: Session, p: Principal, actor: Actor, body: CreditLineCreate, key: str | None
) -> CreditLine:
    if body.institution_id not in ledger_write_scope(p):
        raise Forbidden(
            "an officer enters credit lines of its own institution", field="institution_id"
        )
    visible = session.scalars(
        select(Enterprise.id).where(Enterprise.id == body.enterprise_id, enterprise_scope(p))
    ).first()
    if visible is None:  # a bank lends to enterprises that consented or were referred to it
        raise NotFound(f"no enterprise {body.enterprise_id}")
    spec = service.LineSpec(**body.model_dump(), programme_id=None)
    ev = service.propose_line(session, actor, spec, key=ledger_key(actor, key))
    return line(session, p, ev.entity_id)


def decide_line(
    session: Session, p: Principal, actor: Actor, line_id: int, approve: bool, key: str | None
) -> CreditLine:
    found = line(session, p, line_id)
    own(p, found.institution_id, f"credit line {line_id}")
    service.approve_line(
        session,
        actor,
        line_id,
        approve=approve,
        checker_institution_id=found.institution_id,
        key=ledger_key(actor, key),
    )
    return line(session, p, line_id)


def draw(
    session: Session,
    p: Principal,
    actor: Actor,
    line_id: int,
    body: DrawdownCreate,
    key: str | None,
) -> Loan:
    found = line(session, p, line_id)
    own(p, found.institution_id, f"credit line {line_id}")
    ev = service.draw(session, actor, line_id, **body.model_dump(), key=ledger_key(actor, key))
    return loan(session, p, ev.entity_id)


def repay(
    session: Session,
    p: Principal,
    actor: Actor,
    loan_id: int,
    body: RepaymentCreate,
    key: str | None,
) -> Loan:
    found = loan(session, p, loan_id)
    own(p, found.institution_id, f"loan {loan_id}")
    service.repay(session, actor, loan_id, **body.model_dump(), key=ledger_key(actor, key))
    session.refresh(found)
    return found
