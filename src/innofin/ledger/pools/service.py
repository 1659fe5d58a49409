"""Risk-compensation pools: contributions, claims (maker-checker), payouts and recoveries.

A pool's rule template is a `pool_engine.PoolRules`; each claim is assessed by the engine and
the assessment (rate, caps, contributor split) is stored beside the claim. Payouts lock the
pool's row and the database refuses a negative balance; one claim per loan and pool is a unique
key; recoveries flow back to the contributors pro rata to what each paid.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.money import money_arg
from innofin.ledger.journal import ZERO, get_row, locked, record_event, replayed
from innofin.ledger.models import CreditLine, LedgerEvent, Loan, PoolClaim, Programme, RiskPool
from innofin.ledger.pools import engine
from innofin.scoring.models import KeyList, KeyListEntry


def rules_of(pool: RiskPool) -> engine.PoolRules:
    return engine.PoolRules.model_validate(pool.rules)


def create_pool(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    rules: engine.PoolRules | dict[str, Any],
    programme_id: int | None = None,
    opened_on: dt.date,
) -> RiskPool:
    try:
        parsed = rules if isinstance(rules, engine.PoolRules) else engine.PoolRules(**rules)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"rules.{where}: {first['msg']}", field=where) from exc
    leverage = None
    if parsed.leverage is not None:
        if parsed.leverage != parsed.leverage.to_integral_value():
            raise InvalidInput("leverage must be a whole multiple (10, 30)", field="leverage")
        leverage = int(parsed.leverage)
    if programme_id is not None:
        get_row(session, Programme, programme_id, "programme")
    if session.scalars(select(RiskPool.id).where(RiskPool.code == code)).first() is not None:
        raise Conflict(f"risk pool {code!r} exists already")
    pool = RiskPool(
        code=code,
        name=name,
        programme_id=programme_id,
        rules=parsed.model_dump(mode="json"),
        leverage=leverage,
        contributed=ZERO,
        paid_out=ZERO,
        recovered=ZERO,
        balance=ZERO,
        covered_outstanding=ZERO,
        created_at=now(),
    )
    session.add(pool)
    session.flush()
    record_event(session, actor, "risk_pool", pool.id, "pool_opened", opened_on, code=code)
    return pool


def contribute(
    session: Session,
    actor: Actor,
    pool_id: int,
    *,
    contributor: str,
    amount: Decimal,
    on: dt.date,
    key: str | None = None,
) -> LedgerEvent:
    """Money paid into the pool by one of its contributors (province, county, zone …)."""
    request = {"action": "contribute", "pool": pool_id, "by": contributor, "amount": amount}
    if (found := replayed(session, key, request)) is not None:
        return found
    paid = money_arg(amount, "amount")
    pool = locked(session, RiskPool, pool_id, "risk pool")
    if contributor not in rules_of(pool).contributors:
        known = ", ".join(rules_of(pool).contributors)
        raise InvalidInput(
            f"{contributor!r} is not a contributor of pool {pool.code} ({known})",
            field="contributor",
        )
    ev = record_event(
        session,
        actor,
        "risk_pool",
        pool.id,
        "contributed",
        on,
        key=key,
        request=request,
        amount=paid,
        contributor=contributor,
    )
    pool.contributed = pool.contributed + paid
    pool.balance = pool.balance + paid
    session.flush()
    return ev


def file_claim(
    session: Session,
    actor: Actor,
    pool_id: int,
    loan_id: int,
    *,
    on: dt.date,
    in_candidate_pool: bool | None = None,
    enterprise_kind: str | None = None,
    product_tags: frozenset[str] = frozenset(),
    key: str | None = None,
) -> LedgerEvent:
    """A bank's claim (the maker) on a defaulted loan of a line the pool covers, assessed by the
    pool's rules: the covered share of the outstanding principal at default. Whether the
    enterprise is in the candidate-enterprise pool (备选企业库) is read from the programme's
    candidate list (a key list) unless given."""
    request = {"action": "file_claim", "pool": pool_id, "loan": loan_id, "on": on}
    if (found := replayed(session, key, request)) is not None:
        return found
    pool = locked(session, RiskPool, pool_id, "risk pool")
    loan = get_row(session, Loan, loan_id, "loan")
    line = get_row(session, CreditLine, loan.credit_line_id, "credit line")
    if line.risk_pool_id != pool.id:
        raise InvalidInput(
            f"loan {loan.external_ref} is not on a line covered by pool {pool.code}",
            field="loan_id",
        )
    if loan.defaulted_on is None:
        raise Conflict(f"loan {loan.external_ref} has not defaulted; there is nothing to claim")
    if on < loan.defaulted_on:
        raise InvalidInput(f"on {on} is before the default on {loan.defaulted_on}", field="on")
    taken = select(PoolClaim.id).where(PoolClaim.pool_id == pool.id, PoolClaim.loan_id == loan.id)
    if session.scalars(taken).first() is not None:
        raise Conflict(f"loan {loan.external_ref} has a claim on pool {pool.code} already")
    default = session.scalars(
        select(LedgerEvent).where(
            LedgerEvent.entity == "loan",
            LedgerEvent.entity_id == loan.id,
            LedgerEvent.kind == "defaulted",
        )
    ).one()
    loss = default.principal or ZERO
    if in_candidate_pool is None:
        in_candidate_pool = in_candidates(session, pool, loan.enterprise_id)
    claimed = session.scalar(
        select(func.coalesce(func.sum(PoolClaim.covered), 0)).where(
            PoolClaim.pool_id == pool.id,
            PoolClaim.institution_id == loan.institution_id,
            PoolClaim.claim_year == on.year,
            PoolClaim.status.in_(("pending", "approved", "paid")),
        )
    )
    assessment = engine.assess_claim(
        rules_of(pool),
        engine.ClaimInput(
            principal_loss=loss,
            tags=frozenset(line.tags),
            guaranteed="guaranteed" in line.tags,
            enterprise_kind=enterprise_kind,
            product_tags=product_tags,
            in_candidate_pool=in_candidate_pool,
            already_claimed_this_year_by_institution=Decimal(claimed or 0).quantize(ZERO),
        ),
    )
    if not assessment.eligible:
        reasons = ", ".join(r.value for r in assessment.reasons)
        raise InvalidInput(f"the claim is not eligible: {reasons}", field="loan_id")
    claim = PoolClaim(
        pool_id=pool.id,
        loan_id=loan.id,
        institution_id=loan.institution_id,
        claim_year=on.year,
        principal_loss=loss,
        covered=assessment.covered,
        recovered=ZERO,
        assessment=assessment.model_dump(mode="json"),
        status="pending",
        maker_id=actor.label,
        created_at=now(),
    )
    session.add(claim)
    session.flush()
    ev = record_event(
        session,
        actor,
        "pool_claim",
        claim.id,
        "claim_filed",
        on,
        key=key,
        request=request,
        amount=assessment.covered,
        pool_id=pool.id,
        loan_id=loan.id,
    )
    return ev


def decide_claim(
    session: Session,
    actor: Actor,
    claim_id: int,
    *,
    approve: bool,
    on: dt.date,
    key: str | None = None,
) -> LedgerEvent:
    """The checker's decision on a claim; the maker may not decide its own claim."""
    request = {"action": "decide_claim", "claim": claim_id, "approve": approve}
    if (found := replayed(session, key, request)) is not None:
        return found
    claim = locked(session, PoolClaim, claim_id, "claim")
    if claim.status != "pending":
        raise Conflict(f"claim {claim.id} is {claim.status}, not pending")
    if actor.label == claim.maker_id:
        raise Forbidden(
            f"maker-checker: {actor.label} filed claim {claim.id} and may not also decide it",
            code="same_maker_and_checker",
        )
    claim.status = "approved" if approve else "rejected"
    claim.checker_id = actor.label
    kind = "claim_approved" if approve else "claim_rejected"
    ev = record_event(
        session, actor, "pool_claim", claim.id, kind, on, key=key, request=request,
        amount=claim.covered,
    )  # fmt: skip
    session.flush()
    return ev


def pay_claim(
    session: Session, actor: Actor, claim_id: int, *, on: dt.date, key: str | None = None
) -> LedgerEvent:
    """Pay an approved claim from the pool, split among the contributors by their shares."""
    request = {"action": "pay_claim", "claim": claim_id}
    if (found := replayed(session, key, request)) is not None:
        return found
    claim = locked(session, PoolClaim, claim_id, "claim")
    if claim.status != "approved":
        raise Conflict(f"claim {claim.id} is {claim.status}; only approved claims are paid")
    pool = locked(session, RiskPool, claim.pool_id, "risk pool")
    try:
        engine.check_payout(pool.balance, claim.covered)
    except engine.PoolInputError as exc:
        raise Conflict(f"risk pool {pool.code}: {exc}") from exc
    split = claim.assessment["contributions"]
    ev = record_event(
        session,
        actor,
        "risk_pool",
        pool.id,
        "claim_paid",
        on,
        key=key,
        request=request,
        amount=claim.covered,
        claim_id=claim.id,
        split=split,
    )
    pool.paid_out = pool.paid_out + claim.covered
    pool.balance = pool.balance - claim.covered
    claim.status = "paid"
    record_event(session, actor, "pool_claim", claim.id, "claim_paid", on, amount=claim.covered)
    session.flush()
    return ev


def share_recovery(
    session: Session,
    actor: Actor,
    claim_id: int,
    *,
    amount: Decimal,
    on: dt.date,
    key: str | None = None,
) -> LedgerEvent:
    """Money recovered on a paid claim's loan flows back to the pool's contributors, pro rata to
    what each paid for the claim and has not had back yet."""
    request = {"action": "share_recovery", "claim": claim_id, "amount": amount}
    if (found := replayed(session, key, request)) is not None:
        return found
    back = money_arg(amount, "amount")
    claim = locked(session, PoolClaim, claim_id, "claim")
    if claim.status != "paid":
        raise Conflict(f"claim {claim.id} is {claim.status}; recoveries follow paid claims")
    if back > claim.covered - claim.recovered:
        raise InvalidInput(
            f"the recovery of {back} exceeds what the pool paid and has not recovered "
            f"({claim.covered - claim.recovered})",
            field="amount",
        )
    paid = {k: Decimal(v) for k, v in claim.assessment["contributions"].items()}
    returned = dict.fromkeys(paid, ZERO)
    for data in session.scalars(
        select(LedgerEvent.data).where(
            LedgerEvent.entity == "risk_pool",
            LedgerEvent.entity_id == claim.pool_id,
            LedgerEvent.kind == "recovery_shared",
        )
    ):
        if int(data["claim_id"]) == claim.id:
            for name, part in data["split"].items():
                returned[name] += Decimal(part)
    # in proportion to what each contributor has not had back yet: nobody is ever returned more
    # than it paid, and a claim recovered in full returns to each exactly what it paid
    split = engine.split_recovery(back, {k: paid[k] - returned[k] for k in paid})
    pool = locked(session, RiskPool, claim.pool_id, "risk pool")
    ev = record_event(
        session,
        actor,
        "risk_pool",
        pool.id,
        "recovery_shared",
        on,
        key=key,
        request=request,
        amount=back,
        claim_id=claim.id,
        split={k: format(v, "f") for k, v in split.items()},
    )
    pool.recovered = pool.recovered + back
    pool.balance = pool.balance + back
    claim.recovered = claim.recovered + back
    session.flush()
    return ev


def positions(session: Session, pool_id: int) -> dict[str, dict[str, Decimal]]:
    """Per contributor: contributed, paid out for claims, recovered, and the net position."""
    pool = session.get(RiskPool, pool_id)
    if pool is None:
        raise NotFound(f"risk pool {pool_id} does not exist")
    out = {
        name: {"contributed": ZERO, "paid_out": ZERO, "recovered": ZERO}
        for name in rules_of(pool).contributors
    }
    events = session.scalars(
        select(LedgerEvent).where(
            LedgerEvent.entity == "risk_pool", LedgerEvent.entity_id == pool_id
        )
    )
    for ev in events:
        if ev.kind == "contributed":
            out[ev.data["contributor"]]["contributed"] += ev.amount or ZERO
        elif ev.kind in ("claim_paid", "recovery_shared"):
            column = "paid_out" if ev.kind == "claim_paid" else "recovered"
            for name, part in ev.data["split"].items():
                out[name][column] += Decimal(part)
    for row in out.values():
        row["balance"] = row["contributed"] - row["paid_out"] + row["recovered"]
    return out


def in_candidates(session: Session, pool: RiskPool, enterprise_id: int) -> bool:
    """Whether the enterprise is a member of the latest version of the pool's programme's
    candidate list. A pool whose programme names no candidate list admits every enterprise; a
    named list that has no version yet admits none."""
    programme = None if pool.programme_id is None else session.get(Programme, pool.programme_id)
    if programme is None or programme.candidate_list is None:
        return True
    latest = session.scalar(
        select(func.max(KeyList.id)).where(KeyList.name == programme.candidate_list)
    )
    if latest is None:
        return False
    member = session.scalar(
        select(KeyListEntry.member).where(
            KeyListEntry.list_id == latest, KeyListEntry.enterprise_id == enterprise_id
        )
    )
    return bool(member)
