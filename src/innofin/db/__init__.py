"""Database access: engine, sessions, the declarative base, exact decimal types, migrations."""

from innofin.db.base import Base, JsonDoc, Money, Quantity
from innofin.db.engine import make_engine, session_factory, unit_of_work

__all__ = ["Base", "JsonDoc", "Money", "Quantity", "make_engine", "session_factory", "unit_of_work"]
