"""The pages' application, mounted at ``/`` by the composition root beside the API.

`create_pages(state)` builds it on the API's state (engine, settings, signing key, clock,
principal cache), so a page and an endpoint see the same sessions and the same policy. Paths
under ``/api/`` never reach it (the API answers them, 404 and 405 included). Errors become pages:
not signed in → a redirect to the sign-in page, a role without the action → 403, a row outside
the visitor's scope → 404 (as if it did not exist), a busy database → 503.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from innofin.api.deps import ApiState, policy_action
from innofin.api.errors import busy
from innofin.kernel.errors import Forbidden, InnofinError, InvalidInput, NotFound, RateLimited
from innofin.web.deps import CsrfRefused, SignInRequired, current_principal
from innofin.web.render import N_, render

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: paths the API (and its documentation) own: the pages never answer them
API_PREFIXES = ("/api/", "/docs", "/redoc", "/openapi.json")


def routers() -> tuple[APIRouter, ...]:
    from innofin.web.pages import (
        allocation,
        auth,
        consents,
        enterprises,
        events,
        home,
        imports,
        ledger,
        matching,
        monitoring,
        referrals,
        scenarios,
        scoring,
    )

    return (
        auth.router,
        home.router,
        enterprises.router,
        scoring.router,
        ledger.router,
        imports.router,
        consents.router,
        matching.router,
        referrals.router,
        allocation.router,
        events.router,
        monitoring.router,
        scenarios.router,
    )


def _actions(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            action = policy_action(sub.call)
            if action is not None:
                yield action
        yield from _actions(sub)


def page_actions(routers: Iterable[APIRouter]) -> dict[tuple[str, str], str]:
    """(method, path) → the policy action each page names; every page must name exactly one."""
    found: dict[tuple[str, str], str] = {}
    missing = []
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute):
            continue
        actions = list(_actions(route.dependant))
        for method in sorted(route.methods or ()):
            if len(actions) != 1:
                missing.append(f"{method} {route.path_format}")
            else:
                found[(method, route.path_format)] = actions[0]
    if missing:
        raise RuntimeError(f"pages without exactly one policy action: {', '.join(missing)}")
    return found


class PagesMount(Mount):
    """Mounted at ``/`` before the API's routes, it takes every path but the API's own, so a
    wrong method or an unknown path under ``/api/`` still gets the API's JSON answer."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


def create_pages(state: ApiState) -> FastAPI:
    pages = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    pages.state.innofin = state
    found = routers()
    pages.state.actions = page_actions(found)
    for router in found:
        pages.include_router(router)
    pages.mount("/static", StaticFiles(directory=STATIC), name="static")
    _errors(pages)
    return pages


def mount_pages(app: FastAPI, state: ApiState) -> FastAPI:
    """Mount the pages at ``/`` of `app`, as its first route (call after every API route is
    added).

    First, because a path that is not the API's would otherwise be tried against every API route
    before reaching the pages (about 3 ms of CPU per page with FastAPI's included routers); the
    API's paths go straight past the mount. That is only right while every API route lies under
    `API_PREFIXES`: one outside them would be hidden by the pages, so it stops the start."""
    outside = sorted(
        str(route.path)
        for route in iter_route_contexts(app.router.routes)
        if route.path is not None and not str(route.path).startswith(API_PREFIXES)
    )
    if outside:
        raise RuntimeError(f"API routes outside {API_PREFIXES}: {', '.join(outside)}")
    pages = create_pages(state)
    app.router.routes.insert(0, PagesMount("", app=pages, name="pages"))
    app.state.pages = pages
    return pages


# --------------------------------------------------------------------------- error pages

TITLES = {
    400: N_("The request could not be read"),
    403: N_("You may not do this"),
    404: N_("Not found"),
    405: N_("Not found"),
    429: N_("Too many tries"),
    503: N_("The platform is busy"),
    500: N_("Something went wrong"),
}
EXPLANATIONS = {
    400: N_("Check the values in the address or the form and try again."),
    403: N_("Your role does not allow this. Ask your administrator if you need it."),
    404: N_("There is no such page, or it is not visible to you."),
    405: N_("There is no such page, or it is not visible to you."),
    429: N_("Wait a moment before trying again."),
    503: N_("Try again in a moment."),
    500: N_("The error has been logged. Try again later."),
}

CSRF_EXPIRED = N_("This form has expired or did not come from this platform. Open the page again.")


def error_page(
    request: Request,
    status: int,
    headers: dict[str, str] | None = None,
    explanation: str | None = None,
) -> Response:
    if not hasattr(request.state, "principal"):  # an unknown path: no page dependency ran
        request.state.principal = current_principal(request)
    response = render(
        request,
        "error.html",
        {
            "status": status,
            "title": TITLES[status],
            "explanation": explanation or EXPLANATIONS[status],
        },
        status_code=status,
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _sign_in(request: Request, _exc: Exception) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/sign-in" if here in ("/", "") else f"/sign-in?next={quote(here, safe='')}"
    return RedirectResponse(target, status_code=303)


def _innofin(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Forbidden):
        return error_page(request, 403)
    if isinstance(exc, NotFound):
        return error_page(request, 404)
    if isinstance(exc, RateLimited):
        return error_page(request, 429, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, InvalidInput):
        return error_page(request, 400)
    return error_page(request, 400)


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code if exc.status_code in TITLES else 404
    return error_page(request, status)


def _database(request: Request, exc: Exception) -> Response:
    if busy(exc):
        return error_page(request, 503, {"Retry-After": "2"})
    return _unexpected(request, exc)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on page %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500)


def _errors(pages: FastAPI) -> None:
    handlers: dict[Any, Any] = {
        SignInRequired: _sign_in,
        CsrfRefused: lambda r, e: error_page(r, 403, explanation=CSRF_EXPIRED),
        InnofinError: _innofin,
        RequestValidationError: lambda r, e: error_page(r, 400),
        HTTPException: _http,
        OperationalError: _database,
        PoolTimeout: _database,
        Exception: _unexpected,
    }
    for kind, handler in handlers.items():
        pages.add_exception_handler(kind, handler)
