"""Bearer tokens: JWTs signed with HS256 that carry the user and the session's `jti`.

The signature and the expiry are checked here; whether the session was revoked (logged out) is
checked against the `api_session` table by the service, so a stolen token dies at logout.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jwt

from innofin.kernel.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "innofin"


@dataclass(frozen=True)
class Claims:
    user_id: int
    jti: str
    expires_at: dt.datetime


def issue(secret: str, user_id: int, jti: str, issued: dt.datetime, expires: dt.datetime) -> str:
    payload = {
        "iss": ISSUER,
        "sub": str(user_id),
        "jti": jti,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read(secret: str, token: str, now: dt.datetime) -> Claims:
    """Verify the signature and expiry (against `now`, the application's clock)."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"verify_exp": False, "require": ["exp", "sub", "jti", "iss"]},
        )
        expires = dt.datetime.fromtimestamp(int(payload["exp"]), dt.UTC)
        user_id = int(payload["sub"])
        jti = str(payload["jti"])
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise Unauthenticated("the token is not valid") from None
    if now >= expires:
        raise Unauthenticated("the token has expired; sign in again")
    return Claims(user_id=user_id, jti=jti, expires_at=expires)
