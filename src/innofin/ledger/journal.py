"""The ledger's write primitives: events, limit entries, row locks, idempotent retries.

Every ledger action records a `LedgerEvent` (who, when, why, the idempotency key and a
fingerprint of the request) and changes caches only under a row lock. `perform` runs one action
in a unit of work of its own and makes retries safe: an action whose ``idempotency_key`` was
already recorded returns the first event and changes nothing; two concurrent requests with the
same key meet at the key's unique index, and the loser returns the winner's event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, jsonable, now
from innofin.db import chain
from innofin.db.engine import unit_of_work
from innofin.kernel.errors import Conflict, InvalidInput, NotFound
from innofin.ledger.models import LedgerEvent, LimitEntry

T = TypeVar("T")
ZERO = Decimal("0.00")


def get_row(session: Session, model: type[T], ident: int, what: str) -> T:
    found = session.get(model, ident)
    if found is None:
        raise NotFound(f"{what} {ident} does not exist")
    return found


def locked(session: Session, model: type[T], ident: int, what: str) -> T:
    """The row, locked for the rest of the transaction (PostgreSQL; SQLite holds the write lock
    of the whole database already). The chain lock comes first: every writer takes it before
    any row lock, so two writers never each hold one and wait for the other (see `db.chain`)."""
    chain.lock(session)
    stmt = select(model).where(model.id == ident).with_for_update()  # type: ignore[attr-defined]
    found = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound(f"{what} {ident} does not exist")
    return found


def fingerprint(request: dict[str, Any]) -> str:
    text = json.dumps({k: jsonable(v) for k, v in request.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def ledger_key(actor: Actor, key: str | None) -> str | None:
    """The ledger's idempotency key for a client's key: per user, so users never collide."""
    return None if key is None else f"api:{actor.user_id}:{key}"[:120]


def replayed(session: Session, key: str | None, request: dict[str, Any]) -> LedgerEvent | None:
    """The event an earlier request with this idempotency key recorded (None if there is none);
    the same key with a different request is refused."""
    if key is None:
        return None
    if session.info.get("one_action") and session.get_bind().dialect.name == "postgresql":
        # concurrent requests with the same key queue here until the first one ends, so a retry
        # finds its event instead of failing checks the first one's changes made false. Only in
        # `perform`'s one-action units of work: a bank return applies thousands of keyed rows in
        # one transaction, and a lock per key would exhaust the server's lock table.
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    found = session.scalars(select(LedgerEvent).where(LedgerEvent.idempotency_key == key)).first()
    if found is not None and found.data.get("request") != fingerprint(request):
        raise InvalidInput(
            f"idempotency key {key!r} was used for a different request", field="idempotency_key"
        )
    return found


def record_event(
    session: Session,
    actor: Actor,
    entity: str,
    entity_id: int,
    kind: str,
    on: dt.date,
    *,
    key: str | None = None,
    request: dict[str, Any] | None = None,
    amount: Decimal | None = None,
    principal: Decimal | None = None,
    interest: Decimal | None = None,
    reverses_id: int | None = None,
    **data: Any,
) -> LedgerEvent:
    if request is not None:
        data["request"] = fingerprint(request)
    ev = LedgerEvent(
        entity=entity,
        entity_id=entity_id,
        kind=kind,
        effective_on=on,
        amount=amount,
        principal=principal,
        interest=interest,
        data={k: jsonable(v) for k, v in data.items()},
        reverses_id=reverses_id,
        idempotency_key=key,
        actor=actor.label,
        user_id=actor.user_id,
        reason=actor.reason,
        recorded_at=now(),
    )
    session.add(ev)
    session.flush()
    return ev


def limit_entry(
    session: Session,
    account: str,
    account_id: int,
    kind: str,
    amount: Decimal,
    source: str,
    source_id: int,
    event: LedgerEvent,
) -> None:
    session.add(
        LimitEntry(
            account=account,
            account_id=account_id,
            kind=kind,
            amount=amount,
            source=source,
            source_id=source_id,
            event_id=event.id,
        )
    )


def perform(engine: Engine, action: Callable[[Session], T], actor: Actor) -> T:
    """Run `action(session)` in a unit of work of its own. A unique-key race (a concurrent retry
    with the same idempotency key) is retried once, which then finds the first result."""
    for attempt in (1, 2):
        try:
            with unit_of_work(engine, immediate=True, actor=actor, one_action=True) as session:
                return action(session)
        except IntegrityError as exc:
            if attempt == 2 or "idempotency_key" not in str(exc.orig):
                raise integrity_error(exc) from exc
    raise AssertionError("unreachable")


def integrity_error(exc: IntegrityError) -> Conflict:
    text = str(exc.orig)
    for name, message in (
        ("used_within_limit", "the credit line's use would exceed its limit"),
        ("used_within_amount", "the credit would exceed the agreement's commitment"),
        ("outstanding_nonneg", "the repayment would exceed the outstanding principal"),
        ("four_eyes", "maker-checker: the maker may not approve"),
        ("balance_nonneg", "the payout would take the risk pool's balance below zero"),
        ("within_leverage", "the covered credit would pass the risk pool's leverage limit"),
    ):
        if name in text:
            return Conflict(message)
    return Conflict(f"the change conflicts with the ledger: {text.splitlines()[0]}")
