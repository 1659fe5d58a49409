"""What the ledger's CLI commands share: reading amounts and dates from options (errors name
the option), the --reason, --key and --on options, running one write or one read in a unit of
work of its own, a programme by id or code, and tables of amounts.

Amounts are yuan written as decimals with at most two places, with or without thousands
separators (``10000``, ``10,000.50``); dates YYYY-MM-DD. Full-width digits, signs and separators
are read as their ASCII forms, as in files and the API (`innofin.kernel.numtext`); exponents,
underscores and a third decimal place are refused rather than read or rounded.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from innofin.cli_support import engine, table
from innofin.kernel.errors import InvalidInput, NotFound
from innofin.kernel.money import AmountUnit, format_amount, money_arg
from innofin.kernel.numtext import fold_width

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from innofin.audit.recorder import Actor
    from innofin.ledger.models import Programme

REASON = typer.Option(None, "--reason", help="Why (kept with the event and in the audit trail).")
KEY = typer.Option(None, "--key", help="An idempotency key: a retry with it changes nothing.")
ON = typer.Option(None, "--on", help="The date, YYYY-MM-DD (default today).")
#: row ids are PostgreSQL integers
MAX_ID = 2_147_483_647


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


def run(action: Any, actor: Actor, options: dict[str, str] | None = None) -> Any:
    """Run one write; an invalid-input error about a field the command takes as an option
    (``options``: field → option) names the option."""
    from innofin.ledger.journal import perform

    eng = engine()
    try:
        return perform(eng, action, actor)
    except InvalidInput as exc:
        option = (options or {}).get(exc.field or "")
        if option is None:
            raise
        raise InvalidInput(f"--{option}: {exc}", field=exc.field) from exc
    finally:
        eng.dispose()


def read(use: Any) -> Any:
    from innofin.db.engine import unit_of_work

    eng: Engine = engine()
    try:
        with unit_of_work(eng) as session:
            return use(session)
    finally:
        eng.dispose()


def programme_by_ref(session: Session, ref: str) -> Programme:
    """A programme by id (digits) or code."""
    from sqlalchemy import select

    from innofin.ledger.models import Programme

    by_id = ref.isdigit() and len(ref) <= 9
    stmt = select(Programme).where(Programme.id == int(ref) if by_id else Programme.code == ref)
    found = session.scalars(stmt).first()
    if found is None:
        raise NotFound(f"no programme {ref!r} (give its id or code)")
    return found


#: the columns that hold amounts (Decimal yuan): each is shown in one unit, named in its header
MONEY_COLUMNS = frozenset(
    {"amount", "used", "available", "balance", "covered outstanding", "contributed", "paid out",
     "recovered", "loss", "covered", "interest"}
)  # fmt: skip


def money_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    unit: AmountUnit | None = None,
) -> Table:
    return table(title, columns, rows, money=MONEY_COLUMNS, unit=unit)
