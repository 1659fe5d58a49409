"""List endpoints: limit/offset pages with the total, and sorting by whitelisted keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func
from sqlalchemy.orm import InstrumentedAttribute, Session

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


def page_request(
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Rows per page."),
    offset: int = Query(0, ge=0, le=10_000_000, description="Rows to skip."),
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset, sort=None)


def sort_query(*keys: str) -> Any:
    """A `sort` query parameter: one of `keys`, descending with a leading '-'."""
    pattern = "^-?(" + "|".join(keys) + ")$"
    return Query(
        None, pattern=pattern, description=f"Sort by {', '.join(keys)}; prefix '-' to reverse."
    )


def fetch_page(
    session: Session,
    stmt: Select[Any],
    request: PageRequest,
    sort: str | None,
    columns: dict[str, InstrumentedAttribute[Any]],
) -> tuple[Sequence[Any], int]:
    """Run `stmt` (a select of one entity) for one page, ordered by `sort` and then by
    `columns["id"]`, and count all the rows it selects.

    The count drops the selected columns (``SELECT count(*) FROM t WHERE …``). The page is found
    by ids first — a scan of the sort column's index that skips `offset` entries without reading
    their rows — and only its rows are loaded.
    """
    key = columns["id"]
    counted = stmt.with_only_columns(func.count(), maintain_column_froms=True)
    total = session.scalar(counted.order_by(None)) or 0
    order: list[Any] = []
    if sort:
        column = columns[sort.lstrip("-")]
        order.append(column.desc() if sort.startswith("-") else column.asc())
    order.append(key.asc())
    ids = stmt.with_only_columns(key, maintain_column_froms=True).order_by(*order)
    ids = ids.limit(request.limit).offset(request.offset)
    rows = session.scalars(stmt.where(key.in_(ids.scalar_subquery())).order_by(*order)).all()
    return rows, int(total)
