"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from innofin.kernel.errors import InvalidInput

_HASHER = PasswordHasher()
MIN_LENGTH = 10


@cache
def _dummy() -> str:
    """Verified against when the user does not exist, so both cases take the same time; made on
    first use (not at import: every process that imports this module would pay a hash)."""
    return _HASHER.hash("innofin-timing-equaliser")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters", field="password")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; a missing hash never matches (no sign-in)."""
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
