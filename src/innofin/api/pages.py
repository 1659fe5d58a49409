"""List endpoints: limit/offset pages with the total, and sorting by whitelisted keys."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Select, func
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
        compiled = counted.compile(engine)
        key = (str(compiled), tuple(sorted((k, repr(v)) for k, v in compiled.params.items())))
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


_TOTALS = _Totals()


def fetch_page(
    session: Session,
    stmt: Select[Any],
    request: PageRequest,
    sort: str | None,
    columns: dict[str, InstrumentedAttribute[Any]],
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
    rows = session.scalars(stmt.where(key.in_(ids.scalar_subquery())).order_by(*order)).all()
    return rows, total


def list_page(
    request: Request,
    stmt: Select[Any],
    page: PageRequest,
    sort: str | None,
    columns: dict[str, InstrumentedAttribute[Any]],
    out: type[BaseModel],
) -> Response:
    """A list endpoint's answer: one page of `stmt`, each row shown as `out`, with the total."""
    with reading(request) as session:
        rows, total = fetch_page(session, stmt, page, sort, columns)
        items = [out.model_validate(row) for row in rows]
    return ok(Page[Any](items=items, total=total, limit=page.limit, offset=page.offset))
