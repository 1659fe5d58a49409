"""Database access: engine, sessions, the declarative base, exact decimal types, migrations.

The names below are imported on first use, so that `innofin.db.commands` (and with it the CLI's
start-up) does not pay for SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from innofin.db.base import Base, JsonDoc, Money, Quantity
    from innofin.db.engine import make_engine, session_factory, unit_of_work

__all__ = ["Base", "JsonDoc", "Money", "Quantity", "make_engine", "session_factory", "unit_of_work"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        home = "base" if name in {"Base", "JsonDoc", "Money", "Quantity"} else "engine"
        return getattr(importlib.import_module(f"innofin.db.{home}"), name)
    raise AttributeError(f"module 'innofin.db' has no attribute {name!r}")
