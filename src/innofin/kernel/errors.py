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


class InvalidIdentifier(InvalidInput):
    """An enterprise identifier that does not pass its scheme's validation."""


class InvalidAmount(InvalidInput):
    """An amount of money that cannot be read exactly."""


class NotFound(InnofinError):
    exit_code = 3


class Conflict(InnofinError):
    exit_code = 4
