"""Use cases of programmes and their agreements: a programme with its targets, an agreement with
its commitments (the credit lines that draw on a commitment are the loans' business). Each writes
its event in the caller's unit of work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now
from innofin.kernel.errors import Conflict, InvalidInput
from innofin.kernel.money import money_arg
from innofin.ledger.journal import ZERO, get_row, record_event
from innofin.ledger.models import (
    AGREEMENT_KINDS,
    TARGET_KINDS,
    Agreement,
    AgreementCommitment,
    Programme,
    ProgrammeTarget,
)
from innofin.registry.models import Institution

# --------------------------------------------------------------------------- programmes


@dataclass(frozen=True)
class TargetSpec:
    kind: str
    due_on: dt.date
    amount: Decimal | None = None
    count: int | None = None
    rate: Decimal | None = None
    tech_field: str | None = None
    period_start: dt.date | None = None


def create_programme(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    sponsor: str,
    starts_on: dt.date,
    ends_on: dt.date,
    targets: Sequence[TargetSpec] = (),
    zone_ids: Sequence[int] = (),
    institution_ids: Sequence[int] = (),
    candidate_list: str | None = None,
    register_borrowers: bool = False,
) -> Programme:
    if ends_on < starts_on:
        raise InvalidInput("ends_on is before starts_on", field="ends_on")
    if session.scalars(select(Programme).where(Programme.code == code)).first():
        raise Conflict(f"programme {code!r} exists already")
    prog = Programme(
        code=code,
        name=name,
        sponsor=sponsor,
        starts_on=starts_on,
        ends_on=ends_on,
        zone_ids=list(zone_ids),
        institution_ids=list(institution_ids),
        candidate_list=candidate_list,
        register_borrowers=register_borrowers,
        created_at=now(),
    )
    session.add(prog)
    session.flush()
    for i, t in enumerate(targets):
        if t.kind not in TARGET_KINDS:
            raise InvalidInput(
                f"targets[{i}].kind must be one of {', '.join(TARGET_KINDS)}", field="kind"
            )
        money_target = t.kind in ("financing_balance", "new_credit")
        if money_target != (t.amount is not None):
            raise InvalidInput(
                f"targets[{i}]: {t.kind} {'needs' if money_target else 'takes no'} amount",
                field="amount",
            )
        session.add(
            ProgrammeTarget(
                programme_id=prog.id,
                kind=t.kind,
                due_on=t.due_on,
                amount=None if t.amount is None else money_arg(t.amount, "amount"),
                count=t.count,
                rate=t.rate,
                tech_field=t.tech_field,
                period_start=t.period_start,
            )
        )
    record_event(session, actor, "programme", prog.id, "programme_created", starts_on, code=code)
    return prog


# --------------------------------------------------------------------------- agreements


@dataclass(frozen=True)
class CommitmentSpec:
    amount: Decimal
    period_start: dt.date
    period_end: dt.date
    tech_field: str | None = None


def sign_agreement(
    session: Session,
    actor: Actor,
    *,
    code: str,
    kind: str,
    institution_id: int,
    counterparty: str,
    signed_on: dt.date,
    starts_on: dt.date,
    ends_on: dt.date,
    commitments: Sequence[CommitmentSpec] = (),
    programme_id: int | None = None,
    zone_id: int | None = None,
    enterprise_id: int | None = None,
    documents: Sequence[Path] = (),
) -> Agreement:
    """An agreement and its commitments; attached documents are kept by name and SHA-256."""
    if kind not in AGREEMENT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(AGREEMENT_KINDS)}", field="kind")
    if ends_on < starts_on:
        raise InvalidInput("ends_on is before starts_on", field="ends_on")
    get_row(session, Institution, institution_id, "institution")
    if programme_id is not None:
        get_row(session, Programme, programme_id, "programme")
    if session.scalars(select(Agreement).where(Agreement.code == code)).first():
        raise Conflict(f"agreement {code!r} exists already")
    docs: list[dict[str, Any]] = []
    for path in documents:
        try:
            body = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"{path}: cannot read the document ({exc})", field="documents"
            ) from exc
        docs.append(
            {
                "name": Path(path).name,
                "sha256": hashlib.sha256(body).hexdigest(),
                "bytes": len(body),
            }
        )
    agreement = Agreement(
        code=code,
        kind=kind,
        institution_id=institution_id,
        counterparty=counterparty,
        signed_on=signed_on,
        starts_on=starts_on,
        ends_on=ends_on,
        programme_id=programme_id,
        zone_id=zone_id,
        enterprise_id=enterprise_id,
        documents=docs,
        created_at=now(),
    )
    session.add(agreement)
    session.flush()
    total = ZERO
    for i, c in enumerate(commitments):
        amount = money_arg(c.amount, f"commitments[{i}].amount")
        if c.period_end < c.period_start:
            raise InvalidInput(f"commitments[{i}]: period_end before period_start", field="period")
        session.add(
            AgreementCommitment(
                agreement_id=agreement.id,
                tech_field=c.tech_field,
                period_start=c.period_start,
                period_end=c.period_end,
                amount=amount,
                used=ZERO,
            )
        )
        total += amount
    record_event(
        session, actor, "agreement", agreement.id, "agreement_signed", signed_on, amount=total
    )
    return agreement
