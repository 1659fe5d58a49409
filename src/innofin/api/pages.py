"""List endpoints: limit/offset pages with the total, and sorting by whitelisted keys."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import ColumnElement, Select, func
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import InstrumentedAttribute, Session

from innofin.api.deps import ok, reading

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int
    sort: str | None


async def page_request(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    offset: int = Query(0, ge=0, le=10_000_000, description="Rows to skip."),
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset, sort=None)  # async: no thread hop for this


def sort_query(*keys: str) -> Any:
    """A `sort` query parameter: one of `keys`, descending with a leading '-'."""
    pattern = "^-?(" + "|".join(keys) + ")$"
    return Query(
        None, pattern=pattern, description=f"Sort by {', '.join(keys)}; prefix '-' to reverse."
    )


#: how long a page's total is reused for the same query (counting 50,000 rows on PostgreSQL
#: costs more than the rest of the request); totals may lag a write by this much
TOTAL_SECONDS = 2.0


class _Totals:
    """Row counts by database and query, kept for `TOTAL_SECONDS`."""

    def __init__(self) -> None:
        self._by_engine: weakref.WeakKeyDictionary[Any, dict[Any, tuple[float, int]]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self, session: Session, counted: Select[Any]) -> int:
        engine = session.get_bind()
        key = _query_key(counted, engine)
        now = time.monotonic()
        with self._lock:
            entries = self._by_engine.setdefault(engine, {})
            found = entries.get(key)
        if found is not None and now - found[0] < TOTAL_SECONDS:
            return found[1]
        total = int(session.scalar(counted) or 0)
        with self._lock:
            if len(entries) > 10_000:
                entries.clear()
            entries[key] = (now, total)
        return total


def _query_key(stmt: Select[Any], engine: Any) -> Any:
    """What identifies `stmt` and its parameter values: SQLAlchemy's cache key (the statement's
    structure, the one its compiled-SQL cache uses) with the values, or else the compiled SQL
    (compiling cost more than the rest of the lookup)."""
    cache_key = stmt._generate_cache_key()
    if cache_key is not None:
        return cache_key.key, tuple(repr(b.effective_value) for b in cache_key.bindparams)
    compiled = stmt.compile(engine)
    return str(compiled), tuple(sorted((k, repr(v)) for k, v in compiled.params.items()))


_TOTALS = _Totals()


def fetch_page(
    session: Session,
    stmt: Select[Any],
    request: PageRequest,
    sort: str | None,
    columns: dict[str, InstrumentedAttribute[Any]],
    load: Sequence[InstrumentedAttribute[Any] | ColumnElement[Any]] | None = None,
) -> tuple[Sequence[Any], int]:
    """Run `stmt` (a select of one entity) for one page, ordered by `sort` and then by
    `columns["id"]` in the same direction, and count all the rows it selects.

    The count drops the selected columns (``SELECT count(*) FROM t WHERE …``) and is reused for
    `TOTAL_SECONDS`. The page is found
    by ids first — a scan of the sort column's index that skips `offset` entries without reading
    their rows — and only its rows are loaded.
    """
    key = columns["id"]
    counted = stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    total = _TOTALS.get(session, counted)
    descending = bool(sort and sort.startswith("-"))
    order: list[Any] = []
    if sort:
        column = columns[sort.lstrip("-")]
        order.append(column.desc() if descending else column.asc())
    # the tie-break runs the same way, so one index scan (forwards or backwards) gives the order
    order.append(key.desc() if descending else key.asc())
    ids = stmt.with_only_columns(key, maintain_column_froms=True).order_by(*order)
    ids = ids.limit(request.limit).offset(request.offset)
    page = stmt.where(key.in_(ids.scalar_subquery())).order_by(*order)
    if load is not None:
        return session.execute(page.with_only_columns(*load)).all(), total
    return session.scalars(page).all(), total


def list_page(
    request: Request,
    stmt: Select[Any],
    page: PageRequest,
    sort: str | None,
    columns: dict[str, InstrumentedAttribute[Any]],
    out: type[BaseModel],
) -> Response:
    """A list endpoint's answer: one page of `stmt`, each row shown as `out`, with the total."""
    shape = _shape(stmt.column_descriptions[0]["entity"], out)
    with reading(request) as session:
        if shape is None:
            rows, total = fetch_page(session, stmt, page, sort, columns)
            items = [out.model_validate(row) for row in rows]
            return ok(Page[Any](items=items, total=total, limit=page.limit, offset=page.offset))
        loaded, total = fetch_page(session, stmt, page, sort, columns, shape.columns)
    names = shape.names
    items = shape.items.validate_python([dict(zip(names, row, strict=True)) for row in loaded])
    body = (
        f'{{"items":{shape.items.dump_json(items).decode()},'
        f'"total":{total},"limit":{page.limit},"offset":{page.offset}}}'
    )
    return Response(body, media_type="application/json")


@dataclass(frozen=True)
class _Shape:
    """How a page of an entity becomes a list of `out`, when `out` shows columns only."""

    names: tuple[str, ...]
    columns: tuple[InstrumentedAttribute[Any], ...]
    items: TypeAdapter[list[Any]]


_SHAPES: dict[tuple[Any, type[BaseModel]], _Shape | None] = {}


def _shape(entity: Any, out: type[BaseModel]) -> _Shape | None:
    """The columns of `entity` that `out` shows, when every field of `out` is a column attribute
    of the same name: then a page loads those columns as plain rows instead of ORM objects, and
    validates and writes the list in one call each (half the CPU of a list request)."""
    key = (entity, out)
    if key not in _SHAPES:
        attrs = sa_inspect(entity).column_attrs if entity is not None else {}
        fields = out.model_fields
        plain = all(
            name in attrs and f.validation_alias is None and f.alias is None
            for name, f in fields.items()
        )
        _SHAPES[key] = (
            _Shape(
                names=tuple(fields),
                columns=tuple(getattr(entity, name) for name in fields),
                items=TypeAdapter(list[out]),  # type: ignore[valid-type]
            )
            if plain and fields
            else None
        )
    return _SHAPES[key]
