"""Writes from the pages' forms: the CSRF token checked first, then the same use case as the
API's endpoint in one transaction (`api.writes.run_write` without the JSON answer), whose audit
rows name the visitor and the reason it gave. A refusal of the use case (403, 404, a conflict)
raises before anything is committed, so the error page shows and nothing is half-written."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from innofin.api.deps import api_state
from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.kernel.principal import Principal
from innofin.web.pages.auth import check_csrf

T = TypeVar("T")


def page_actor(p: Principal, reason: str | None = None) -> Actor:
    """The actor of a page's write: the visitor, as on the API (so maker-checker and the audit
    trail see the same user whichever way it acted)."""
    return Actor.api(p.user_id, p.username, reason=(reason or "").strip() or None)


def form_write(
    request: Request,
    p: Principal,
    csrf: str | None,
    use_case: Callable[[Session, Actor], T],
    reason: str | None = None,
) -> T:
    """Run `use_case` for a form posted by `p` (its CSRF token checked) in one transaction."""
    check_csrf(request, csrf)
    actor = page_actor(p, reason)
    with unit_of_work(api_state(request).engine, immediate=True, actor=actor) as session:
        return use_case(session, actor)
