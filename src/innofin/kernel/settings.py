"""Settings read from the environment (each `INNOFIN_*` variable is named in its error)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from innofin.kernel.disclosure import MIN_CONTRIBUTORS, TOP1_SHARE, TOP2_SHARE, DisclosureRule
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


def _flag(name: str) -> bool | None:
    """A yes/no setting; None when unset (the platform decides)."""
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return None
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise InvalidInput(f"{name} must be 1 or 0 (true or false), not {raw!r}", field=name)


def _networks(name: str) -> tuple[str, ...]:
    """A comma-separated list of addresses or networks (``10.0.0.5, 10.1.0.0/16, ::1``)."""
    found = []
    for part in os.environ.get(name, "").split(","):
        if part.strip():
            try:
                found.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise InvalidInput(
                    f"{name}: {part.strip()!r} is not an IP address or network", field=name
                ) from None
    return tuple(found)


def _origins(name: str) -> tuple[str, ...]:
    found = []
    for part in os.environ.get(name, "").split(","):
        origin = part.strip().rstrip("/").lower()
        if origin:
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise InvalidInput(
                    f"{name}: {part.strip()!r} is not an origin like https://innofin.example.cn",
                    field=name,
                )
            found.append(origin)
    return tuple(found)


MODES = ("direct", "indirect")


def stage_modes(
    text: str, name: str = "INNOFIN_MATCH_STAGE_MODES"
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Which financing modes each growth stage may use in matching, written
    ``startup=direct+indirect;stable=indirect`` (a stage not named may use both)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for part in text.split(";"):
        if not part.strip():
            continue
        stage, sep, modes = part.partition("=")
        chosen = tuple(m.strip() for m in modes.split("+") if m.strip())
        if not sep or not stage.strip() or not chosen or any(m not in MODES for m in chosen):
            raise InvalidInput(
                f"{name}: {part.strip()!r} is not like startup=direct+indirect "
                "(modes: direct, indirect)",
                field=name,
            )
        found.append((stage.strip(), chosen))
    return tuple(found)


def _share(name: str, default: Decimal) -> Decimal:
    """A share between 0 and 1 written as a decimal fraction ("0.6")."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 < value <= 1:
        raise InvalidInput(
            f"{name} must be a fraction above 0 and at most 1 (such as 0.6), not {raw!r}",
            field=name,
        )
    return value


def _disclosure() -> DisclosureRule:
    rule = (
        _int("INNOFIN_DISCLOSURE_MIN_CONTRIBUTORS", MIN_CONTRIBUTORS),
        _share("INNOFIN_DISCLOSURE_TOP1_SHARE", TOP1_SHARE),
        _share("INNOFIN_DISCLOSURE_TOP2_SHARE", TOP2_SHARE),
    )
    try:
        return DisclosureRule(*rule)
    except ValueError as exc:
        raise InvalidInput(
            f"INNOFIN_DISCLOSURE_TOP1_SHARE and INNOFIN_DISCLOSURE_TOP2_SHARE: {exc}",
            field="INNOFIN_DISCLOSURE_TOP2_SHARE",
        ) from None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    #: key that signs API tokens; when unset, one is generated and kept in the database
    secret_key: str | None = None
    token_ttl_minutes: int = 120
    #: failed sign-ins of one user name from one address before each further try waits (a delay
    #: that doubles up to the window); an address may fail 4 times as often over all user names
    login_max_failures: int = 5
    #: the longest delay, and how long a quiet spell forgives the failures
    login_window_minutes: int = 15
    #: the session cookie's Secure flag: None = Secure unless the server listens on loopback
    cookie_secure: bool | None = None
    #: proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks)
    trusted_proxies: tuple[str, ...] = ()
    #: origins besides the platform's own (its Host) from which cookie-signed writes are accepted
    allowed_origins: tuple[str, ...] = ()
    #: the largest request body, and the largest file upload (imports), in bytes
    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 64 << 20
    #: where uploads wait while they are imported (leftovers of a killed server go at start)
    upload_dir: str | None = None
    #: request threads per API worker, and database connections each worker keeps open
    api_threads: int = 16
    #: which sums of anonymous aggregates may be shown (`innofin.kernel.disclosure`)
    disclosure: DisclosureRule = field(default_factory=DisclosureRule)
    #: matching: the financing modes each growth stage may use (none named: every mode)
    match_stage_modes: tuple[tuple[str, tuple[str, ...]], ...] = ()

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
            cookie_secure=_flag("INNOFIN_COOKIE_SECURE"),
            trusted_proxies=_networks("INNOFIN_TRUSTED_PROXIES"),
            allowed_origins=_origins("INNOFIN_ALLOWED_ORIGINS"),
            max_body_bytes=_int("INNOFIN_MAX_BODY_KB", 1024) << 10,
            max_upload_bytes=_int("INNOFIN_MAX_UPLOAD_MB", 64) << 20,
            upload_dir=os.environ.get("INNOFIN_UPLOAD_DIR") or None,
            api_threads=_int("INNOFIN_API_THREADS", 16),
            disclosure=_disclosure(),
            match_stage_modes=stage_modes(os.environ.get("INNOFIN_MATCH_STAGE_MODES", "")),
        )
