"""What every form of the pages shares: the CSRF check, and the one write path.

A page that changes something takes ``_: None = Depends(csrf_form)`` beside its
``page("…")`` action, runs the change through `perform` (the API's `run_write`: one transaction
for the change and its audit rows, with the visitor as actor and the form's reason), and answers
with a redirect (303) to the page that shows the result. Each form carries ``{{ csrf }}`` and, when
submitting it twice must not act twice (an approval, a payment), ``{{ once }}``: a key per
rendering of the form, kept as the API keeps an ``Idempotency-Key``, so a second submission of
the same form changes nothing (`perform` then returns None).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form, Request
from sqlalchemy.orm import Session

from innofin.api.deps import WriteHeaders, api_state
from innofin.api.writes import run_write
from innofin.kernel.principal import Principal
from innofin.web.deps import CsrfRefused
from innofin.web.render import CSRF_FIELD, ONCE_FIELD, csrf_valid


def check_csrf(request: Request, token: str | None) -> None:
    """Refuse (403 page) a form without this visitor's CSRF token."""
    if not csrf_valid(request, api_state(request).secret, token):
        raise CsrfRefused


def csrf_form(
    request: Request, token: Annotated[str | None, Form(alias=CSRF_FIELD, max_length=200)] = None
) -> None:
    """Dependency of every form post: its CSRF token is this visitor's."""
    check_csrf(request, token)


def perform(
    request: Request,
    principal: Principal,
    change: Callable[[Session], Any],
    *,
    reason: str | None = None,
    once: str | None = None,
    payload: Any = None,
) -> Any:
    """Run `change` in one transaction (audited as the visitor, with `reason`); returns what it
    returned, or None when `once` names a form already submitted (nothing is done again)."""
    outcome: dict[str, Any] = {}

    def use_case(session: Session) -> None:
        outcome["value"] = change(session)

    key = (once or "").strip()[:200] or None
    reason = (reason or "").strip()[:500] or None
    run_write(request, principal, WriteHeaders(reason, key), use_case, payload=payload)
    return outcome.get("value")


Once = Annotated[str | None, Form(alias=ONCE_FIELD, max_length=200)]
