"""The FastAPI application: every capability's router, the error handlers, the policy check.

`create_app()` refuses to build an application in which a route names no policy action, so an
endpoint cannot be added without deciding who may call it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Engine

from innofin import __version__
from innofin.access import routes as access_routes
from innofin.access.service import signing_key
from innofin.api import docs, errors, staging, uploads
from innofin.api.deps import ApiState, policy_action, public, utcnow
from innofin.api.guards import RequestGuards
from innofin.api.proxies import TrustedProxies
from innofin.audit import routes as audit_routes
from innofin.db import make_engine
from innofin.events import routes as event_routes
from innofin.events.scheduling import routes as schedule_routes
from innofin.ingest import routes as ingest_routes
from innofin.kernel.settings import Settings
from innofin.ledger.loans import routes as ledger_routes
from innofin.ledger.pools import routes as pool_routes
from innofin.ledger.programmes import routes as programme_routes
from innofin.ledger.subsidies import routes as subsidy_routes
from innofin.matching.allocation import routes as allocation_routes
from innofin.matching.needs import routes as need_routes
from innofin.matching.recommend import routes as recommend_routes
from innofin.matching.referrals import routes as referral_routes
from innofin.monitoring import routes as monitoring_routes
from innofin.monitoring.funnel import routes as funnel_routes
from innofin.monitoring.scenarios import routes as scenario_routes
from innofin.registry import routes as registry_routes
from innofin.scoring import routes as scoring_routes

ROUTERS: tuple[APIRouter, ...] = (
    access_routes.router,
    registry_routes.router,
    ingest_routes.router,
    audit_routes.router,
    scoring_routes.router,
    ledger_routes.router,
    programme_routes.router,
    pool_routes.router,
    subsidy_routes.router,
    need_routes.router,
    recommend_routes.router,
    referral_routes.router,
    allocation_routes.router,
    event_routes.router,
    schedule_routes.router,
    funnel_routes.router,
    scenario_routes.router,
    monitoring_routes.router,
)

health = APIRouter(prefix="/api/v1", tags=["meta"])


class Health(BaseModel):
    status: str
    version: str


@health.get("/health", response_model=Health, summary="Liveness")
def get_health(_: None = public("health:read")) -> Health:
    return Health(status="ok", version=__version__)


def _actions(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            action = policy_action(sub.call)
            if action is not None:
                yield action
        yield from _actions(sub)


def route_actions(routers: Iterable[APIRouter]) -> dict[tuple[str, str], str]:
    """(method, path) → the policy action each API route names (every route must name one);
    paths as the OpenAPI schema writes them (``{id}``, not ``{id:int}``)."""
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
        raise RuntimeError(f"routes without exactly one policy action: {', '.join(missing)}")
    return found


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Cap the threads that run request handlers at the database pool's size."""
    state: ApiState = app.state.innofin
    anyio.to_thread.current_default_thread_limiter().total_tokens = state.settings.api_threads
    yield


def create_app(
    engine: Engine | None = None,
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    settings = settings or Settings.from_env()
    # One connection per request thread, kept open: a PostgreSQL connection costs a process fork,
    # so the pool never closes connections under load (no overflow) and the request threads are
    # capped at the pool's size (see `_lifespan`).
    engine = engine or make_engine(
        settings.database_url, pool_size=settings.api_threads, max_overflow=0, pool_timeout=30
    )
    app = FastAPI(
        lifespan=_lifespan,
        title="innofin API",
        version=__version__,
        description=(
            "Sci-tech finance programmes: registry, consent and referrals, audit. Amounts are "
            "decimal strings in yuan. Sign in at /api/v1/auth/login and send the token as "
            "`Authorization: Bearer …`. Rows you may not see answer 404."
        ),
        docs_url=None,  # served by `docs.install`, from installed files rather than a CDN
        redoc_url=None,
    )
    docs.install(app)
    uploads.remove_leftovers(settings)  # of a server killed mid-import
    staging.sweep(settings, clock().timestamp())  # checked files past their time
    state = ApiState(engine, settings, signing_key(engine, settings), clock)
    app.state.innofin = state
    errors.install(app)
    app.add_middleware(RequestGuards, state=state)
    if settings.trusted_proxies:  # outermost: the guards see the client as the proxy saw it
        app.add_middleware(TrustedProxies, trusted=settings.trusted_proxies)
    app.state.actions = route_actions([health, *ROUTERS])
    app.state.api_routes = [
        r for x in (health, *ROUTERS) for r in x.routes if isinstance(r, APIRoute)
    ]
    for router in (health, *ROUTERS):
        app.include_router(router)
    from innofin.web.app import mount_pages  # the pages: once every API route is in, at /

    mount_pages(app, state)
    return app


def app_from_env() -> Any:
    """Factory for `uvicorn --factory innofin.server.app:app_from_env`."""
    return create_app()
