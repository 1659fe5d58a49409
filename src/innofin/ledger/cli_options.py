"""What the ledger's CLI commands share: reading amounts and dates from options (errors name
the option), and the --reason and --key options."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import typer

from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import format_amount, to_money

REASON = typer.Option(None, "--reason", help="Why (kept with the event and in the audit trail).")
KEY = typer.Option(None, "--key", help="An idempotency key: a retry with it changes nothing.")


def amount_arg(text: str, name: str) -> Decimal:
    try:
        return to_money(text)
    except InvalidInput as exc:
        raise InvalidInput(f"--{name}: {exc}", field=name) from exc


def day_arg(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--{name} must be a date YYYY-MM-DD, not {text!r}", field=name
        ) from None


def day_or_today(text: str | None, name: str) -> dt.date:
    return day_arg(text, name) if text else dt.date.today()


def shown(value: Decimal | None) -> str:
    return "" if value is None else format_amount(value)
