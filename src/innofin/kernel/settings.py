"""Settings read from the environment (each `INNOFIN_*` variable is named in its error)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from innofin.kernel.errors import InvalidInput

DEFAULT_DATABASE_URL = "sqlite:///innofin.db"
MIN_SECRET_LENGTH = 32


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}", field=name) from None
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}, not {value}", field=name)
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    #: key that signs API tokens; when unset, one is generated and kept in the database
    secret_key: str | None = None
    token_ttl_minutes: int = 120
    #: failed sign-ins allowed per user name (and per client address) within the window
    login_max_failures: int = 5
    login_window_minutes: int = 15
    #: mark the session cookie Secure (serve behind HTTPS in production)
    cookie_secure: bool = False
    #: request threads per API worker, and database connections each worker keeps open
    api_threads: int = 16

    @classmethod
    def from_env(cls) -> Settings:
        secret = os.environ.get("INNOFIN_SECRET_KEY") or None
        if secret is not None and len(secret) < MIN_SECRET_LENGTH:
            raise InvalidInput(
                f"INNOFIN_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters",
                field="INNOFIN_SECRET_KEY",
            )
        return cls(
            database_url=os.environ.get("INNOFIN_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=secret,
            token_ttl_minutes=_int("INNOFIN_TOKEN_TTL_MINUTES", 120),
            login_max_failures=_int("INNOFIN_LOGIN_MAX_FAILURES", 5),
            login_window_minutes=_int("INNOFIN_LOGIN_WINDOW_MINUTES", 15),
            cookie_secure=os.environ.get("INNOFIN_COOKIE_SECURE", "").lower() in {"1", "true"},
            api_threads=_int("INNOFIN_API_THREADS", 16),
        )
