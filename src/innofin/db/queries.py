"""Query helpers shared by the services: fetch a row within a caller's scope, apply changes, and
ask whether a JSON list of ids holds one of some ids (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, cast, exists, false, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

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


class json_array_items(FunctionElement[Any]):
    """The elements of a JSON array column as rows of one text column, ``value``:
    ``json_each`` on SQLite, ``jsonb_array_elements_text`` on PostgreSQL."""

    name = "json_array_items"
    inherit_cache = True


@compiles(json_array_items, "sqlite")
def _json_each(element: json_array_items, compiler: Any, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


@compiles(json_array_items, "postgresql")
def _jsonb_elements(element: json_array_items, compiler: Any, **kw: Any) -> str:
    return f"jsonb_array_elements_text({compiler.process(element.clauses, **kw)})"


def json_ids_overlap(column: Any, ids: Collection[int] | Select[Any]) -> ColumnElement[bool]:
    """Whether the JSON list of ids in `column` (such as ``programme.zone_ids``) holds any of
    `ids` (a collection, or a select of one integer column). Correlates with the row's table."""
    if not isinstance(ids, Select) and not ids:
        return false()
    values = ids if isinstance(ids, Select) else sorted(ids)
    items = json_array_items(column).table_valued("value")
    return exists().select_from(items).where(cast(items.c.value, Integer).in_(values))
