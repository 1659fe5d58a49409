"""The client's address: the peer's, unless the peer is a proxy named in INNOFIN_TRUSTED_PROXIES.

Anyone can send ``X-Forwarded-For``; believing it from any peer lets a guesser pose as a new
address on every try (uvicorn believes it from 127.0.0.1 by default, so `innofin serve` turns that
off and this middleware decides instead). Only when the connection comes from a trusted proxy is
the header read, from the right: the first address that is not itself a trusted proxy is the
client. ``X-Forwarded-Proto`` from a trusted proxy gives the scheme (for the CSRF origin check).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _trusted(host: str, trusted: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in trusted)


def forwarded_client(peer: str, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: `peer` unless it is trusted, else the right-most address of the
    X-Forwarded-For headers that is not a trusted proxy (the left-most, if all are)."""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return _address(hop) or peer
    return (_address(hops[0]) or peer) if hops else peer


def _address(hop: str) -> str | None:
    """An address as proxies write it (``[::1]:443``, ``1.2.3.4:5``, ``::1``), or None."""
    text = hop.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class TrustedProxies:
    """ASGI middleware: `scope["client"]` and `scope["scheme"]` as the trusted proxy saw them."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.trusted = networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            peer, port = scope["client"]
            if _trusted(peer, self.trusted):
                headers = scope["headers"]
                hops = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
                scope = dict(scope)
                scope["client"] = (forwarded_client(peer, hops, self.trusted), port)
                proto = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-proto"]
                if proto and proto[-1].split(",")[-1].strip().lower() in ("http", "https"):
                    scope["scheme"] = proto[-1].split(",")[-1].strip().lower()
        await self.app(scope, receive, send)
