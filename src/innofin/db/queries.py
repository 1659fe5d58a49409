"""Query helpers shared by the services: fetch a row within a caller's scope, apply changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from innofin.kernel.errors import Forbidden, NotFound

M = TypeVar("M")


def visible(
    session: Session, model: type[M], row_id: int, scope: ColumnElement[bool], what: str
) -> M:
    """The row `row_id` of `model` if `scope` lets the caller see it; otherwise NotFound — a
    row the caller may not see does not exist for it."""
    table: Any = model
    found: M | None = session.scalar(select(table).where(table.id == row_id, scope))
    if found is None:
        raise NotFound(f"no {what} {row_id}")
    return found


def writable(
    session: Session, model: type[Any], row_id: int, scope: ColumnElement[bool], what: str
) -> None:
    """Raise Forbidden unless `scope` lets the caller change row `row_id` (already visible)."""
    table: Any = model
    if session.scalar(select(table.id).where(table.id == row_id, scope)) is None:
        raise Forbidden(f"you may see {what} {row_id} but not change it")


def apply(obj: Any, changes: Mapping[str, Any]) -> None:
    """Set the given attributes (the audit listener records each change before → after)."""
    for key, value in changes.items():
        setattr(obj, key, value)
