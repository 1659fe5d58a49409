"""Risk pools and their claims as the API serves them: scoped reads and the actions.

Officers who run a pool's programme (`ledger.scopes.risk_pool_run_scope`) take contributions,
decide claims and pay them; the bank whose loan defaulted files the claim (the maker), and the
officer who decides it must be another user (the checker). A pool or claim outside the caller's
scope does not exist for it (404); one it sees but does not run is refused (403).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.access.policy import scoped
from innofin.audit.recorder import Actor
from innofin.db.queries import visible, writable
from innofin.kernel.errors import InvalidInput
from innofin.kernel.principal import Principal
from innofin.ledger.journal import ledger_key, locked
from innofin.ledger.models import Loan, PoolClaim, RiskPool
from innofin.ledger.pools import service as pools
from innofin.ledger.schemas import ClaimCreate, ContributionCreate, PoolDetail, PoolOut, PositionOut
from innofin.ledger.scopes import (
    loan_scope,
    own,
    pool_claim_run_scope,
    pool_claim_scope,
    risk_pool_run_scope,
    risk_pool_scope,
)

POOL_SORTS = {"id": RiskPool.id, "code": RiskPool.code, "balance": RiskPool.balance}
CLAIM_SORTS = {"id": PoolClaim.id, "covered": PoolClaim.covered}
#: a pool's contributions stay below the API's amounts (16 digits of yuan), so every figure
#: of the pool — balance, positions — can be written back as an amount
CONTRIBUTED_LIMIT = Decimal(10) ** 16


def pools_query(p: Principal, programme_id: int | None) -> Select[Any]:
    stmt = scoped(select(RiskPool), risk_pool_scope(p))
    if programme_id is not None:
        stmt = stmt.where(RiskPool.programme_id == programme_id)
    return stmt


def pool_row(session: Session, p: Principal, pool_id: int) -> RiskPool:
    return visible(session, RiskPool, pool_id, risk_pool_scope(p), "risk pool")


def pool(session: Session, p: Principal, pool_id: int) -> PoolDetail:
    """A pool's balances, leverage headroom, rules and each contributor's position."""
    found = pool_row(session, p, pool_id)
    positions = pools.positions(session, found.id)
    return PoolDetail(
        **dict(PoolOut.model_validate(found)),
        rules=found.rules,
        # by name: the rules' own order does not survive PostgreSQL's JSONB
        positions=[PositionOut(contributor=name, **positions[name]) for name in sorted(positions)],
    )


def contribute(
    session: Session,
    p: Principal,
    actor: Actor,
    pool_id: int,
    body: ContributionCreate,
    key: str | None,
) -> PoolDetail:
    pool_row(session, p, pool_id)
    writable(session, RiskPool, pool_id, risk_pool_run_scope(p), "risk pool")
    current = locked(session, RiskPool, pool_id, "risk pool")
    if current.contributed + body.amount >= CONTRIBUTED_LIMIT:
        raise InvalidInput(
            f"the pool's contributions would reach {CONTRIBUTED_LIMIT:,} yuan", field="amount"
        )
    pools.contribute(
        session,
        actor,
        pool_id,
        contributor=body.contributor,
        amount=body.amount,
        on=body.paid_on,
        key=ledger_key(actor, key),
    )
    return pool(session, p, pool_id)


def claims_query(p: Principal, pool_id: int | None, status: str | None) -> Select[Any]:
    stmt = scoped(select(PoolClaim), pool_claim_scope(p))
    if pool_id is not None:
        stmt = stmt.where(PoolClaim.pool_id == pool_id)
    if status is not None:
        stmt = stmt.where(PoolClaim.status == status)
    return stmt


def claim(session: Session, p: Principal, claim_id: int) -> PoolClaim:
    return visible(session, PoolClaim, claim_id, pool_claim_scope(p), "claim")


def file_claim(
    session: Session,
    p: Principal,
    actor: Actor,
    pool_id: int,
    body: ClaimCreate,
    today: dt.date,
    key: str | None,
) -> PoolClaim:
    """The bank's claim (the maker) on its defaulted loan, assessed by the pool's rules."""
    pool_row(session, p, pool_id)
    loan = visible(session, Loan, body.loan_id, loan_scope(p), "loan")
    if not p.is_admin:
        own(p, loan.institution_id, f"loan {loan.id}")
    ev = pools.file_claim(session, actor, pool_id, loan.id, on=today, key=ledger_key(actor, key))
    return claim(session, p, ev.entity_id)


def _run(session: Session, p: Principal, claim_id: int) -> PoolClaim:
    found = claim(session, p, claim_id)
    writable(session, PoolClaim, claim_id, pool_claim_run_scope(p), "claim")
    return found


def decide_claim(
    session: Session,
    p: Principal,
    actor: Actor,
    claim_id: int,
    approve: bool,
    today: dt.date,
    key: str | None,
) -> PoolClaim:
    """The checker's decision: another user than the claim's maker."""
    _run(session, p, claim_id)
    pools.decide_claim(
        session, actor, claim_id, approve=approve, on=today, key=ledger_key(actor, key)
    )
    return claim(session, p, claim_id)


def pay_claim(
    session: Session,
    p: Principal,
    actor: Actor,
    claim_id: int,
    paid_on: dt.date,
    key: str | None,
) -> PoolClaim:
    _run(session, p, claim_id)
    pools.pay_claim(session, actor, claim_id, on=paid_on, key=ledger_key(actor, key))
    return claim(session, p, claim_id)
