"""What pages depend on: the signed-in visitor and the policy action each page names.

`page(action)` is the pages' `allow(action)`: the session cookie of the API's sign-in, checked
the same way (`access.service.authenticate`), then the role against `access.policy.ACTIONS`.
Not signed in (or the session ended) → the sign-in page; a role without the action → the 403
page. `innofin.web.app.page_actions` refuses pages that name no action.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from innofin.access.policy import ACTIONS, PUBLIC_ACTIONS, may
from innofin.access.service import authenticate
from innofin.api.deps import COOKIE, api_state
from innofin.kernel.errors import Forbidden, Unauthenticated
from innofin.kernel.principal import Principal


class SignInRequired(Exception):
    """The visitor must sign in first (answered with a redirect to the sign-in page)."""


class CsrfRefused(Exception):
    """A form without this visitor's CSRF token (answered with a 403 page)."""


def current_principal(request: Request) -> Principal | None:
    """The signed-in visitor, or None (no cookie, or a session that ended or expired)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    state = api_state(request)
    try:
        return authenticate(state.engine, state.secret, token, state.clock(), state.principals)
    except Unauthenticated:
        return None


def page(action: str) -> Any:
    """Dependency: the signed-in visitor, whose role may attempt `action`."""
    if action not in ACTIONS:
        raise KeyError(f"no policy for action {action!r}")

    def viewer(request: Request) -> Principal:  # sync: authentication queries the database
        principal = current_principal(request)
        if principal is None:
            raise SignInRequired
        request.state.principal = principal
        if not may(principal, action):
            raise Forbidden(f"your role may not do this ({action})")
        return principal

    viewer.policy_action = action  # type: ignore[attr-defined]
    return Depends(viewer)


def public_page(action: str) -> Any:
    """Dependency for pages anyone may open (sign-in, the language switch); the visitor, if
    signed in, is still known to the page."""
    if action not in PUBLIC_ACTIONS:
        raise KeyError(f"{action!r} is not a public action")

    def anyone(request: Request) -> Principal | None:
        principal = current_principal(request)
        request.state.principal = principal
        return principal

    anyone.policy_action = action  # type: ignore[attr-defined]
    return Depends(anyone)
