"""Checks made on a request before its body is read and before anyone is authenticated.

- **Body size.** A body larger than INNOFIN_MAX_BODY_KB (file uploads: INNOFIN_MAX_UPLOAD_MB) is
  refused with 413: by its ``Content-Length`` before a byte is read, or, sent in chunks, as soon
  as it passes the limit — never buffered whole.
- **Uploads need a session first.** A body larger than the ordinary limit (only file uploads may
  be) is read only when its token or session cookie is valid; otherwise 401 at once.
- **Cross-site writes.** A POST, PUT, PATCH or DELETE signed in by the session cookie (no
  ``Authorization: Bearer``) must come from the platform's own pages: its ``Origin`` (or, without
  one, its ``Referer``) must be the origin the request was sent to (scheme and ``Host``) or one of
  INNOFIN_ALLOWED_ORIGINS; otherwise 403 ``csrf_origin``. SameSite=Lax alone lets a sibling
  subdomain or an old browser through. Requests with a bearer token carry no ambient credential
  and are not checked.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innofin.api.errors import error
from innofin.kernel.errors import InnofinError

if TYPE_CHECKING:
    from innofin.api.deps import ApiState

COOKIE = "innofin_session"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UPLOAD_PREFIX = "/api/v1/imports/"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class _TooLarge(Exception):
    """Raised into the application when a chunked body passes the limit."""


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def _cookie(header: bytes, name: str) -> str | None:
    for part in header.decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, without the scheme's default port."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    if ":" in host:
        host = f"[{host}]"
    shown = f":{port}" if port is not None and str(port) != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{shown}"


class RequestGuards:
    """ASGI middleware applying the checks of this module (see its docstring)."""

    def __init__(self, app: ASGIApp, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.state.settings
        headers = _headers(scope)
        upload = scope["path"].startswith(UPLOAD_PREFIX)
        limit = settings.max_upload_bytes if upload else settings.max_body_bytes
        declared = headers.get(b"content-length")
        length: int | None = None
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                message = "Content-Length is not a number"
                await _refuse(scope, receive, send, 400, "bad_request", message)
                return
            if length > limit:
                await _too_large(scope, receive, send, limit)
                return
        if scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        if not await self._same_origin(scope, receive, send, headers):
            return
        chunked = length is None and b"transfer-encoding" in headers
        big = chunked or (length or 0) > settings.max_body_bytes
        if upload and big and not await self._signed_in(headers):
            message = "sign in first: send 'Authorization: Bearer <token>'"
            await _refuse(scope, receive, send, 401, "unauthenticated", message)
            return
        if not chunked:  # the server delivers at most Content-Length bytes
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _same_origin(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> bool:
        """True when the write may go on (see the module docstring); else answers 403."""
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization[:7].lower() == "bearer " and authorization[7:].strip():
            return True
        cookie = headers.get(b"cookie")
        if cookie is None or not _cookie(cookie, COOKIE):
            return True
        sent = headers.get(b"origin") or headers.get(b"referer")
        origin = _origin(sent.decode("latin-1")) if sent else None
        host = headers.get(b"host", b"").decode("latin-1").lower()
        own = _origin(f"{scope.get('scheme', 'http')}://{host}") if host else None
        if origin is not None and (origin == own or origin in self.state.settings.allowed_origins):
            return True
        shown = sent.decode("latin-1")[:200] if sent else "none"
        await _refuse(
            scope,
            receive,
            send,
            403,
            "csrf_origin",
            f"a write signed in by the session cookie must come from this platform's own pages "
            f"(Origin/Referer: {shown}); scripts send 'Authorization: Bearer <token>' instead",
        )
        return False

    async def _signed_in(self, headers: dict[bytes, bytes]) -> bool:
        from innofin.access.service import authenticate

        authorization = headers.get(b"authorization", b"").decode("latin-1")
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
        if not token and b"cookie" in headers:
            token = _cookie(headers[b"cookie"], COOKIE)
        if not token:
            return False
        state = self.state

        def check() -> bool:
            try:
                authenticate(state.engine, state.secret, token, state.clock(), state.principals)
            except InnofinError:
                return False
            return True

        return await anyio.to_thread.run_sync(check)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the request on, counting a body sent without Content-Length."""
        received = 0
        over = False
        started = False

        async def counting() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if over:
                return  # the application's answer to the broken body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting, sending)
        if over and not started:
            await _too_large(scope, receive, send, limit)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
) -> None:
    response = error(status, code, message)
    response.headers["Connection"] = "close"  # the body is left unread
    await response(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    upload = scope["path"].startswith(UPLOAD_PREFIX)
    setting = "INNOFIN_MAX_UPLOAD_MB" if upload else "INNOFIN_MAX_BODY_KB"
    shown = f"{limit >> 20} MB" if upload else f"{limit >> 10} KB"
    await _refuse(
        scope,
        receive,
        send,
        413,
        "too_large",
        f"the request body is larger than {shown} ({setting})"
        + ("; import larger files with `innofin import`" if upload else ""),
    )
