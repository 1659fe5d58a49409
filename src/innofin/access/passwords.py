"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile).

The parameters are fixed in code: no setting or environment variable weakens them. The one way
to change them is `use_test_parameters`, which the test suite calls (a hash there costs a
millisecond instead of half a second); nothing in the package calls it.
"""

from __future__ import annotations

from functools import cache

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from innofin.kernel.errors import InvalidInput

#: what every hash is made with (argon2-cffi's defaults: t=3, m=64 MiB, p=4)
PRODUCTION_PARAMETERS = profiles.RFC_9106_LOW_MEMORY
#: for tests only: the cheapest parameters argon2 accepts, with a full-size salt and hash
TEST_PARAMETERS = Parameters(
    type=Type.ID,
    version=PRODUCTION_PARAMETERS.version,
    salt_len=16,
    hash_len=32,
    time_cost=1,
    memory_cost=8,
    parallelism=1,
)

_HASHER = PasswordHasher.from_parameters(PRODUCTION_PARAMETERS)
MIN_LENGTH = 10


def use_test_parameters() -> None:
    """Hash with `TEST_PARAMETERS` from now on in this process (test suites only: such hashes
    are cheap to guess). Hashes already stored still verify with the parameters they carry."""
    global _HASHER
    _HASHER = PasswordHasher.from_parameters(TEST_PARAMETERS)


@cache
def _dummy(hasher: PasswordHasher) -> str:
    """Verified against when the user does not exist, so both cases take the same time; made
    on first use with the current parameters (not at import: every process that imports this
    module would pay a hash)."""
    return hasher.hash("innofin-timing-equaliser")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters", field="password")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; a missing hash never matches (no sign-in)."""
    try:
        return _HASHER.verify(stored or _dummy(_HASHER), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
