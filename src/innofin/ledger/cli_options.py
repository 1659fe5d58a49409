"""What the ledger's CLI commands share: reading amounts and dates from options (errors name
the option), and the --reason and --key options.

Amounts are yuan written as decimals with at most two places, with or without thousands
separators (``10000``, ``10,000.50``); dates YYYY-MM-DD. Full-width digits, signs and separators
are read as their ASCII forms, as in files and the API (`innofin.kernel.numtext`); exponents,
underscores and a third decimal place are refused rather than read or rounded.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import typer

from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import format_amount, money_arg
from innofin.kernel.numtext import fold_width

REASON = typer.Option(None, "--reason", help="Why (kept with the event and in the audit trail).")
KEY = typer.Option(None, "--key", help="An idempotency key: a retry with it changes nothing.")


_AMOUNT = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def amount_arg(text: str, name: str) -> Decimal:
    folded = fold_width(text).strip()
    if _AMOUNT.fullmatch(folded) is None:
        raise InvalidInput(
            f"--{name} must be an amount in yuan such as 10000 or 10,000.50 (at most two "
            f"decimal places), not {text!r}",
            field=name,
        )
    try:  # the one policy of money arguments: a part of a fen is refused, never rounded
        return money_arg(folded, name, signed=True)
    except InvalidInput as exc:
        raise InvalidInput(f"--{exc}", field=name) from exc


def day_arg(text: str, name: str) -> dt.date:
    folded = fold_width(text).strip()
    try:
        if _DAY.fullmatch(folded) is None:
            raise ValueError(folded)
        return dt.date.fromisoformat(folded)
    except ValueError:
        raise InvalidInput(
            f"--{name} must be a date YYYY-MM-DD, not {text!r}", field=name
        ) from None


def day_or_today(text: str | None, name: str) -> dt.date:
    return day_arg(text, name) if text else dt.date.today()


def shown(value: Decimal | None) -> str:
    return "" if value is None else format_amount(value)
