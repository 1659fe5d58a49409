"""Sign-in, sign-out and the language switch.

Sign-in is the API's (`access.service.login`: the same throttle, the same session and the same
HttpOnly cookie), so a visitor signed in on the pages is signed in on the API and the other way
round. Every form carries the CSRF token (`render.csrf_valid`); cookie-signed writes must also
come from the platform's own origin (`api.guards`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from innofin.access import service as access
from innofin.access.routes import secure_cookie
from innofin.api.deps import COOKIE, api_state
from innofin.kernel.errors import RateLimited, Unauthenticated
from innofin.kernel.principal import Principal
from innofin.web import i18n
from innofin.web.deps import page, public_page
from innofin.web.forms import check_csrf as check_csrf  # re-exported: pages' forms use it
from innofin.web.forms import csrf_form, perform
from innofin.web.render import CSRF_FIELD, N_, render

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=500)]
Token = Annotated[str | None, Form(alias=CSRF_FIELD, max_length=200)]
Next = Annotated[str, Form(max_length=2000)]


def safe_next(target: str | None) -> str:
    """Where to go after a form: a path of this site only (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/sign-in")
def sign_in_form(
    request: Request, next: str = "/", visitor: Principal | None = public_page("auth:login")
) -> Response:
    if visitor is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "sign_in.html", {"next": safe_next(next), "username": "", "error": None})


@router.post("/sign-in")
def sign_in(
    request: Request,
    username: Text,
    password: Text,
    csrf: Token = None,
    next: Next = "/",
    _: Principal | None = public_page("auth:login"),
) -> Response:
    check_csrf(request, csrf)
    state = api_state(request)
    client = request.client.host if request.client else "unknown"
    try:
        result = access.login(
            state.engine, state.settings, username, password, client, state.clock()
        )
    except RateLimited as exc:
        context = {"next": safe_next(next), "username": username, "error": TOO_MANY}
        response = render(request, "sign_in.html", context, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthenticated:
        context = {"next": safe_next(next), "username": username, "error": WRONG}
        return render(request, "sign_in.html", context, status_code=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        result.token,
        max_age=state.settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request, state.settings),
    )
    return response


WRONG = N_("The user name or the password is wrong.")
TOO_MANY = N_("Too many failed sign-ins: wait a moment before trying again.")


@router.post("/sign-out")
def sign_out(
    request: Request, _: None = Depends(csrf_form), p: Principal = page("auth:logout")
) -> Response:
    now = api_state(request).clock()
    perform(request, p, lambda s: access.end_session(s, p, now))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.post("/language")
def switch_language(
    request: Request,
    lang: Annotated[str, Form(max_length=5)],
    csrf: Token = None,
    next: Next = "/",
    _: Principal | None = public_page("ui:language"),
) -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse(safe_next(next), status_code=303)
    chosen = lang if lang in i18n.LANGS else i18n.DEFAULT
    response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax")
    return response
