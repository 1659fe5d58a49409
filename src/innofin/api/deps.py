"""What routes depend on: the application state, the signed-in caller and its permission.

Every route names a policy action with `allow(...)` (signed-in callers whose role may attempt it)
or `public(...)`; `innofin.server.app` refuses to build an application with a route that names none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, Header, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from innofin.access.policy import PUBLIC_ACTIONS, may
from innofin.access.service import PrincipalCache, authenticate
from innofin.api.errors import ApiError
from innofin.db.engine import reader, unit_of_work
from innofin.kernel.errors import Forbidden, Unauthenticated
from innofin.kernel.principal import Principal
from innofin.kernel.settings import Settings


def _digits_only(value: Any) -> Any:
    """Path numbers as written: ASCII digits only (pydantic would read " 9" or "\\r9" as 9)."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written in digits")
    return value


#: a row id in a path: digits only, within PostgreSQL's integer range
RowId = Annotated[int, BeforeValidator(_digits_only), Path(ge=1, le=2_147_483_647)]
#: a year in a path
YearPath = Annotated[int, BeforeValidator(_digits_only), Path(ge=1980, le=2100)]

COOKIE = "innofin_session"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ApiState:
    engine: Engine
    settings: Settings
    secret: str
    #: the application's clock (tests move it forward to expire tokens)
    clock: Callable[[], dt.datetime] = utcnow
    principals: PrincipalCache = field(default_factory=PrincipalCache)


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.innofin
    return state


_bearer = HTTPBearer(
    auto_error=False,
    description="The token from POST /api/v1/auth/login (or the session cookie it sets).",
)


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


#: the query parameter names of each route (its dependant lives as long as the application)
_KNOWN_QUERY: dict[int, frozenset[str]] = {}


def refuse_unknown_query(request: Request) -> None:
    """A query parameter the route does not take, or one given twice, is an error (a typo would
    otherwise be ignored and the caller would get unfiltered results)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = _KNOWN_QUERY.get(id(dependant))
    if known is None:
        known = _KNOWN_QUERY[id(dependant)] = frozenset(_query_names(dependant))
    for name in request.query_params:
        if name not in known:
            raise ApiError(422, "invalid_request", f"unknown query parameter {name!r}", field=name)
        if len(request.query_params.getlist(name)) > 1:  # every parameter takes one value
            raise ApiError(422, "invalid_request", f"{name!r} is given more than once", name)


def allow(action: str) -> Any:
    """Dependency: the signed-in caller, whose role may attempt `action` (else 401 / 403)."""
    if action not in PUBLIC_ACTIONS:
        from innofin.access.policy import ACTIONS

        if action not in ACTIONS:
            raise KeyError(f"no policy for action {action!r}")

    def caller(  # sync: the sign-in check queries the database, so it runs in a thread
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        refuse_unknown_query(request)
        state = api_state(request)
        token = credentials.credentials if credentials else request.cookies.get(COOKIE)
        if not token:
            raise Unauthenticated("sign in first: send 'Authorization: Bearer <token>'")
        principal = authenticate(state.engine, state.secret, token, state.clock(), state.principals)
        if not may(principal, action):
            raise Forbidden(f"your role may not do this ({action})")
        request.state.principal = principal
        return principal

    caller.policy_action = action  # type: ignore[attr-defined]
    return Depends(caller)


def public(action: str) -> Any:
    """Dependency for routes anyone may call (sign-in, health)."""
    if action not in PUBLIC_ACTIONS:
        raise KeyError(f"{action!r} is not a public action")

    async def anyone(request: Request) -> None:
        refuse_unknown_query(request)

    anyone.policy_action = action  # type: ignore[attr-defined]
    return Depends(anyone)


@dataclass(frozen=True)
class WriteHeaders:
    """The optional headers of every write: why (audited) and the idempotency key."""

    reason: str | None
    idempotency_key: str | None


async def write_headers(
    reason: str | None = Header(
        None,
        alias="X-Audit-Reason",
        max_length=500,
        description="Why this change is made, for the audit trail (UTF-8 may be %-encoded).",
    ),
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retrying with the same key returns the first result and changes nothing.",
    ),
) -> WriteHeaders:
    decoded = unquote(reason).strip()[:500] if reason else None
    return WriteHeaders(reason=decoded or None, idempotency_key=idempotency_key)


@contextmanager
def reading(request: Request) -> Iterator[Session]:
    """A session for a GET: reads only, in autocommit (no transaction round trips)."""
    with unit_of_work(reader(api_state(request).engine)) as session:
        yield session


def ok(model: BaseModel | Sequence[BaseModel]) -> Response:
    """A read's answer as JSON. Read routes return this rather than the model so FastAPI does not
    serialise and validate the same data a second time (their `response_model` still documents
    the shape, and the schemathesis tests check that answers match it)."""
    if isinstance(model, BaseModel):
        body = model.model_dump_json()
    else:
        body = "[" + ",".join(m.model_dump_json() for m in model) + "]"
    return Response(body, media_type="application/json")


def policy_action(dependency: Callable[..., Any]) -> str | None:
    return getattr(dependency, "policy_action", None)
