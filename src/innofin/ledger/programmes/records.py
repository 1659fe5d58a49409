"""Programmes and agreements as the API serves them: reads within the caller's scope.

A programme or agreement outside the caller's scope (`ledger.scopes.programme_scope`,
`agreement_scope`) does not exist for it (404). Programmes are created from YAML files
(``innofin ledger programme load``); the API reads them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.access.policy import scoped
from innofin.db.queries import visible
from innofin.kernel.principal import Principal
from innofin.ledger.models import Agreement, AgreementCommitment, Programme, ProgrammeTarget
from innofin.ledger.schemas import (
    AgreementDetail,
    AgreementOut,
    CommitmentOut,
    ProgrammeDetail,
    ProgrammeOut,
    TargetOut,
)
from innofin.ledger.scopes import agreement_scope, programme_scope

PROGRAMME_SORTS = {
    "id": Programme.id,
    "code": Programme.code,
    "starts_on": Programme.starts_on,
}
AGREEMENT_SORTS = {
    "id": Agreement.id,
    "code": Agreement.code,
    "signed_on": Agreement.signed_on,
}


def programmes_query(p: Principal) -> Select[Any]:
    return scoped(select(Programme), programme_scope(p))


def programme_row(session: Session, p: Principal, programme_id: int) -> Programme:
    return visible(session, Programme, programme_id, programme_scope(p), "programme")


def programme(session: Session, p: Principal, programme_id: int) -> ProgrammeDetail:
    """A programme with its targets."""
    found = programme_row(session, p, programme_id)
    targets = session.scalars(
        select(ProgrammeTarget)
        .where(ProgrammeTarget.programme_id == found.id)
        .order_by(ProgrammeTarget.id)
    )
    return ProgrammeDetail(
        **dict(ProgrammeOut.model_validate(found)),
        targets=[TargetOut.model_validate(t) for t in targets],
    )


def agreements_query(p: Principal, programme_id: int | None) -> Select[Any]:
    stmt = scoped(select(Agreement), agreement_scope(p))
    if programme_id is not None:
        stmt = stmt.where(Agreement.programme_id == programme_id)
    return stmt


def agreement(session: Session, p: Principal, agreement_id: int) -> AgreementDetail:
    """An agreement with its commitments: amount, used (reserved and consumed by credit lines)
    and available, per field and period."""
    found = visible(session, Agreement, agreement_id, agreement_scope(p), "agreement")
    commitments = session.scalars(
        select(AgreementCommitment)
        .where(AgreementCommitment.agreement_id == found.id)
        .order_by(AgreementCommitment.period_start, AgreementCommitment.id)
    )
    return AgreementDetail(
        **dict(AgreementOut.model_validate(found)),
        commitments=[CommitmentOut.model_validate(c) for c in commitments],
    )
