"""Errors that name what went wrong and where, so users can fix their input."""

from __future__ import annotations


class InnofinError(Exception):
    """Base of every error innofin raises on purpose; the CLI prints it without a traceback."""

    exit_code = 1


class InvalidInput(InnofinError):
    """Bad input from a user: names the parameter or field at fault."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidArgument(InvalidInput, ValueError):
    """A bad argument to a function: `field` names the parameter and the message starts with
    its name. A `ValueError` too, so callers of pure engines and Pydantic validators (which turn
    a `ValueError` into a 422 naming the field) take it as one."""


class InvalidIdentifier(InvalidInput):
    """An enterprise identifier that does not pass its scheme's validation."""


class InvalidAmount(InvalidInput):
    """An amount of money that cannot be read exactly."""


class NotMigrated(InvalidInput):
    """The database has no schema yet, or an older one: `innofin db upgrade` makes it current."""


class NotFound(InnofinError):
    exit_code = 3


class Conflict(InnofinError):
    exit_code = 4


class Unauthenticated(InnofinError):
    """No valid sign-in: missing, malformed, expired or revoked credentials (HTTP 401)."""

    exit_code = 5


class Forbidden(InnofinError):
    """Signed in, but the caller's role may not do this (HTTP 403)."""

    exit_code = 5

    def __init__(self, message: str, *, code: str = "forbidden", field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class RateLimited(InnofinError):
    """Too many attempts; try again after `retry_after` seconds (HTTP 429)."""

    exit_code = 5

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Infeasible(InvalidInput):
    """Constraints that no choice can satisfy together; the message names the conflicting ones."""
