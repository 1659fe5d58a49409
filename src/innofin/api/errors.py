"""One error body for every failure: ``{"code", "message", "field"?}`` — never a traceback.

Status codes: 400 bad input the schema cannot express (a USCC check character, an unknown zone
code, an unreadable file), 401 not signed in, 403 signed in but not allowed, 404 not found *or not
visible to the caller*, 409 conflicts with existing data, 422 a request that does not fit the
schema, 429 too many attempts, 503 the database is busy (with Retry-After; SQLite's write lock was
not free within its busy timeout), 500 a bug (logged server-side).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match

from innofin.kernel.errors import (
    Conflict,
    Forbidden,
    InnofinError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)

log = logging.getLogger("innofin.api")


class RowProblem(BaseModel):
    """One problem in one row of an uploaded file (as in the importer's rejects report)."""

    row: int | None
    column: str | None
    value: str | None
    reason: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    #: per-row problems of a rejected import
    errors: list[RowProblem] | None = None


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "busy",
}
#: seconds a client is asked to wait when the database is busy
BUSY_RETRY_AFTER = 2
#: PostgreSQL's lock_not_available, serialization_failure, deadlock_detected, query_canceled
_PG_BUSY = {"55P03", "40001", "40P01", "57014"}

#: declared on every router so the OpenAPI schema describes the error bodies
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in _STATUS_CODES.items()
    if status in (400, 401, 403, 404, 409, 422)
}


def error(
    status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, field=field, **extra)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status, headers=headers)


class ApiError(InnofinError):
    """An error with its own HTTP status and code (idempotency misuse, a rejected upload)."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.field, self.extra = status, code, field, extra


def _innofin(_request: Request, exc: Exception) -> JSONResponse:
    message = str(exc)
    if isinstance(exc, ApiError):
        return error(exc.status, exc.code, message, exc.field, **exc.extra)
    if isinstance(exc, Unauthenticated):
        return error(401, "unauthenticated", message)
    if isinstance(exc, Forbidden):
        return error(403, exc.code, message, exc.field)
    if isinstance(exc, RateLimited):
        response = error(429, "rate_limited", message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, NotFound):
        return error(404, "not_found", message)
    if isinstance(exc, Conflict):
        return error(409, "conflict", message)
    if isinstance(exc, InvalidInput):
        return error(400, "invalid_input", message, exc.field)
    return error(400, "error", message)


def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    first = problems[0] if problems else {}
    location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(location) or None
    message = str(first.get("msg", "invalid request"))
    if field:
        message = f"{field}: {message}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more)"
    return error(422, "invalid_request", message, field)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    response = error(exc.status_code, code, str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in getattr(request.app.state, "api_routes", ()):
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods |= set(route.methods or ())
    return sorted(methods)


def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
    return error(409, "conflict", f"the change conflicts with existing data ({reason})")


def busy(exc: BaseException) -> bool:
    """Whether a database error means "busy, try again": SQLite's write lock not free within
    its busy timeout, a PostgreSQL lock or serialisation conflict, no pooled connection free."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    text = str(orig).lower()
    return "database is locked" in text or getattr(orig, "sqlstate", None) in _PG_BUSY


def _database(request: Request, exc: Exception) -> JSONResponse:
    if not busy(exc):
        return _unexpected(request, exc)
    log.warning("database busy on %s %s: %s", request.method, request.url.path, exc)
    response = error(503, "busy", "the database is busy; try again in a moment")
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
    return response


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "internal_error", "an internal error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(InnofinError, _innofin)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(PoolTimeout, _database)
    app.add_exception_handler(Exception, _unexpected)
