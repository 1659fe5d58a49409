"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile), and the
rules a new password must meet (NIST SP 800-63B: a length, no composition rules, and a check
against passwords that are known, guessable or tied to the account).

Common passwords come from zxcvbn's lists (the 30,000 most common passwords of public breaches,
English words, names), read offline; its estimate also catches sequences, repeats, keyboard walks
and dates. A password is refused when it would fall within about a million guesses.

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
#: long passphrases are welcome; this only bounds the work of hashing one
MAX_LENGTH = 200
#: a password zxcvbn expects to find within 10^6 guesses is refused
MIN_GUESSES_LOG10 = 6.0
#: zxcvbn refuses longer input (its run time grows with the length); the rest of a longer
#: password does not make it easier to guess
_ESTIMATED = 72
#: words tied to the platform itself
_CONTEXT = ("innofin", "科技金融")


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


def check_password(password: str, username: str | None = None) -> None:
    """Refuse a password that is too short or too long, holds the user name, is a common
    password, or is otherwise guessable (a word, a name, a sequence, a repeat)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_LENGTH} characters", field="password")
    folded = password.casefold()
    name = (username or "").strip().casefold()
    if name and (folded == name or (len(name) >= 3 and name in folded)):
        raise InvalidInput("a password must not contain the user name", field="password")
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # its lists take ~0.2 s to load

    if folded in _common():
        raise InvalidInput("this is a common password; choose another", field="password")
    inputs = [*_CONTEXT, *([name] if name else [])]
    estimate = zxcvbn(password[:_ESTIMATED], user_inputs=inputs)
    if float(estimate["guesses_log10"]) < MIN_GUESSES_LOG10:
        raise InvalidInput(
            "this password is easy to guess (a common word, name, date, sequence or repeat); "
            "a few unrelated words make a strong one",
            field="password",
        )


@cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str, username: str | None = None) -> str:
    """The Argon2id hash of a new password, after `check_password`."""
    check_password(password, username)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; a missing hash never matches (no sign-in)."""
    try:
        return _HASHER.verify(stored or _dummy(_HASHER), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
