"""Every API write runs here: one transaction holding the change, its audit rows (the actor is
the caller, with the optional reason) and, when the client sent an `Idempotency-Key`, the record
of the response — so a retry returns the first result and changes nothing more.

A write route has one shape, `write`: its use case gets a `WriteCall` (the session, the actor,
the API clock's time, the client's key) and its result is answered as the route's response
model. `run_write` is the transaction underneath, for a use case that needs only the session."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innofin.api.deps import WriteHeaders, api_state
from innofin.api.errors import ApiError
from innofin.api.models import IdempotencyRecord
from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.kernel.principal import Principal

REPLAYED = "Idempotent-Replayed"


def _fingerprint(request: Request, payload: Any) -> str:
    text = json.dumps(
        [request.method, request.url.path, str(request.query_params), payload],
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
            field="Idempotency-Key",
        )
    return Response(
        record.response_body or None,
        record.status_code or 200,
        media_type="application/json" if record.response_body else None,
        headers={REPLAYED: "true"},
    )


def _claim(
    session: Session, principal: Principal, key: str, request: Request, digest: str
) -> int | Response:
    """Insert the pending record (its unique key makes a concurrent retry wait), or replay."""

    def existing() -> IdempotencyRecord | None:
        return session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == principal.user_id, IdempotencyRecord.key == key
            )
        )

    found = existing()
    if found is not None:
        return _replay(found, digest)
    values = {
        "user_id": principal.user_id,
        "key": key,
        "method": request.method,
        "path": request.url.path[:500],
        "request_hash": digest,
        "created_at": api_state(request).clock(),
    }
    try:
        with session.begin_nested():
            new_id = session.execute(
                insert(IdempotencyRecord).values(values).returning(IdempotencyRecord.id)
            ).scalar_one()
    except IntegrityError:
        found = existing()  # the concurrent first request committed while we waited
        if found is None:
            raise
        return _replay(found, digest)
    return int(new_id)


def run_write(
    request: Request,
    principal: Principal,
    headers: WriteHeaders,
    use_case: Callable[[Session], BaseModel | None],
    *,
    status_code: int = 200,
    payload: Any = None,
) -> Response:
    """Run `use_case` in one transaction and answer with its result as JSON."""
    state = api_state(request)
    actor = Actor.api(
        principal.user_id,
        principal.username,
        reason=headers.reason,
        request_id=request.headers.get("X-Request-ID", "")[:64] or None,
    )
    key = headers.idempotency_key
    with unit_of_work(state.engine, immediate=True, actor=actor) as session:
        record_id: int | None = None
        if key is not None:
            claimed = _claim(session, principal, key, request, _fingerprint(request, payload))
            if isinstance(claimed, Response):
                return claimed
            record_id = claimed
        result = use_case(session)
        body = result.model_dump_json() if result is not None else ""
        if record_id is not None:
            session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == record_id)
                .values(status_code=status_code, response_body=body)
            )
    return Response(body or None, status_code, media_type="application/json" if body else None)


@dataclass(frozen=True)
class WriteCall:
    """What a write route's use case is given: the transaction's session, the actor its ledger
    events name (the caller, with the reason it gave), the time by the API's clock when the
    request came in, and the client's Idempotency-Key."""

    session: Session
    actor: Actor
    now: dt.datetime
    key: str | None

    @property
    def today(self) -> dt.date:
        return self.now.date()


def write(
    request: Request,
    principal: Principal,
    headers: WriteHeaders,
    use_case: Callable[[WriteCall], Any],
    out: type[BaseModel] | None = None,
    *,
    status_code: int = 200,
    payload: Any = None,
) -> Response:
    """The one shape of a write route: `use_case` runs in `run_write`'s transaction and its
    result (a row, or a dict) is answered as `out`; with no `out` it returns the response
    model itself, or None for an empty answer. `payload` — a request body (read as JSON) or
    what stands for it — is the request's fingerprint for the idempotency record."""
    actor = Actor.api(principal.user_id, principal.username, reason=headers.reason)
    now = api_state(request).clock()
    call_payload = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload

    def run(session: Session) -> BaseModel | None:
        result = use_case(WriteCall(session, actor, now, headers.idempotency_key))
        return result if out is None else out.model_validate(result)

    return run_write(
        request, principal, headers, run, status_code=status_code, payload=call_payload
    )


def replay(
    request: Request, principal: Principal, key: str | None, payload: Any
) -> Response | None:
    """For writes that run their own transaction (bulk imports): the stored response of an
    earlier request with this key, if any."""
    if key is None:
        return None
    with unit_of_work(api_state(request).engine) as session:
        found = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == principal.user_id, IdempotencyRecord.key == key
            )
        )
        return _replay(found, _fingerprint(request, payload)) if found is not None else None


def remember(
    request: Request, principal: Principal, key: str | None, payload: Any, status: int, body: str
) -> None:
    """Store the response of a self-transacted write under its key (first one wins)."""
    if key is None:
        return
    values = {
        "user_id": principal.user_id,
        "key": key,
        "method": request.method,
        "path": request.url.path[:500],
        "request_hash": _fingerprint(request, payload),
        "created_at": api_state(request).clock(),
        "status_code": status,
        "response_body": body,
    }
    try:
        with unit_of_work(api_state(request).engine, immediate=True) as session:
            session.execute(insert(IdempotencyRecord).values(values))
    except IntegrityError:
        pass  # a concurrent retry stored its (equivalent) result first
