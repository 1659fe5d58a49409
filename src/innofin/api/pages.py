"""List endpoints: limit/offset pages with the total, and sorting by whitelisted keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
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
    """Run `stmt` for one page, ordered by `sort` (then by `columns["id"]`), and count all rows."""
    tiebreak = columns["id"]
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    order: list[Any] = []
    if sort:
        column = columns[sort.lstrip("-")]
        order.append(column.desc() if sort.startswith("-") else column.asc())
    order.append(tiebreak.asc())
    rows = session.scalars(stmt.order_by(*order).limit(request.limit).offset(request.offset)).all()
    return rows, int(total)
