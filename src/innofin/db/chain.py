"""The tamper-evident chain of the append-only tables (`ledger_event`, `limit_entry`,
`audit_event`).

Each row carries ``chain_hash`` = SHA-256 of the previous row's hash (64 zeros for the first)
followed by the row's content: every column of `COLUMNS` (all but the id and the hash), each
written as ``len:text`` (``~`` for NULL) in a canonical text — money as exact decimal text
(``90000.00``), dates ``YYYY-MM-DD``, moments in UTC ``YYYY-MM-DD HH:MM:SS.ffffff``, JSON with
sorted keys and no spaces. There is one chain per table, in id order; ``chain_head`` keeps each
chain's length and last hash, so removing the newest rows shows too.

Appending takes the chain lock first — on PostgreSQL the rows of ``chain_head``, all of them in
one order (so two writers can never hold one each and wait for the other), on SQLite the
database's write lock — and holds it until the transaction ends, so concurrent writers queue and
the chain never forks; ids handed out after the lock are in chain order.

`verify` recomputes a chain and names the first row whose stored hash differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import BigInteger, Connection, String, Table, event, inspect, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from innofin.db.base import Base
from innofin.kernel.money import FEN

if TYPE_CHECKING:
    import polars as pl

GENESIS = "0" * 64
HASH = "chain_hash"
MOMENT = "%Y-%m-%d %H:%M:%S.%f"

#: the columns each chain hashes, in this order (fixed: the hashes of stored rows depend on it)
COLUMNS: dict[str, tuple[str, ...]] = {
    "ledger_event": (
        "entity", "entity_id", "kind", "effective_on", "amount", "principal", "interest",
        "data", "reverses_id", "idempotency_key", "actor", "user_id", "reason", "recorded_at",
    ),
    "limit_entry": (
        "account", "account_id", "kind", "amount", "source", "source_id", "event_id",
    ),
    "audit_event": (
        "at", "user_id", "actor", "channel", "action", "entity", "entity_id", "before",
        "after", "reason", "request_id",
    ),
}  # fmt: skip
TABLES = tuple(COLUMNS)


class Chained:
    """Mixin of the ORM models whose new rows join their table's chain when flushed."""

    __chain__: ClassVar[bool] = True


class ChainHead(Base):
    """Each chain's length and last hash (changed only under the chain lock)."""

    __tablename__ = "chain_head"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    length: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


# ---------------------------------------------------------------------------- canonical content


def field_text(value: Any) -> str | None:
    """One value in its canonical text (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        # as `Money` stores it; with two places `str` never turns to an exponent
        return str(value.quantize(FEN, rounding=ROUND_HALF_UP))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            moment = value
        elif value.tzinfo is dt.UTC:
            moment = value.replace(tzinfo=None)
        else:
            moment = value.astimezone(dt.UTC).replace(tzinfo=None)
        return moment.isoformat(" ", "microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json_text(value)
    raise TypeError(f"no canonical text for {type(value).__name__} {value!r}")


_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def json_text(value: Any) -> str:
    """JSON with sorted keys and no spaces (one encoder, made once: `json.dumps` with options
    builds a new one per call)."""
    return _JSON.encode(value)


def content(values: Iterable[Any]) -> str:
    """A row's content, from its values in `COLUMNS` order."""
    parts = []
    for value in values:
        if value is None:
            parts.append("~")
            continue
        t = value if type(value) is str else field_text(value)
        parts.append(f"{len(t)}:{t}")  # type: ignore[arg-type]
    return "".join(parts)


def link(previous: str, row_content: str) -> str:
    return hashlib.sha256((previous + row_content).encode()).hexdigest()


def hashes(previous: str, contents: Iterable[str]) -> list[str]:
    """The chain's next hashes, one per content, from `previous`."""
    out = []
    sha = hashlib.sha256
    for c in contents:
        previous = sha((previous + c).encode()).hexdigest()
        out.append(previous)
    return out


# ---------------------------------------------------------------------------- the lock and heads


def _connection(conn: Connection | Session) -> Connection:
    return conn.connection() if isinstance(conn, Session) else conn


#: transactions that hold the chain lock already (PostgreSQL)
_LOCKED: weakref.WeakSet[Any] = weakref.WeakSet()

#: the chain head's statements, in each driver's parameter style (run on the driver's own
#: connection, inside the caller's transaction: SQLAlchemy's per-statement work would cost more
#: than the statements on the ORM's one-event-per-transaction path)
_TAKE = {
    "postgresql": "UPDATE chain_head SET length = length + %s WHERE name = %s RETURNING last_hash",
    "sqlite": "UPDATE chain_head SET length = length + ? WHERE name = ? RETURNING last_hash",
}
_SET = {
    "postgresql": "UPDATE chain_head SET last_hash = %s WHERE name = %s",
    "sqlite": "UPDATE chain_head SET last_hash = ? WHERE name = ?",
}


def lock(conn: Connection | Session) -> None:
    """Take the chain lock until the transaction ends (PostgreSQL: every chain head's row, in
    name order, once per transaction; SQLite: the write lock, which `_take_head` takes anyway)."""
    c = _connection(conn)
    if c.dialect.name != "postgresql":
        return
    transaction = c.get_transaction()
    if transaction is not None and transaction in _LOCKED:
        return
    _execute(c, "SELECT name FROM chain_head ORDER BY name FOR UPDATE", ())
    if transaction is not None:
        _LOCKED.add(transaction)


def _execute(c: Connection, sql: str, params: tuple[Any, ...]) -> Any:
    driver: Any = c.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()


def _take_head(conn: Connection | Session, table: str, count: int) -> str:
    """The chain's last hash, its length advanced by `count` (under the chain lock)."""
    c = _connection(conn)
    lock(c)
    found = _execute(c, _TAKE[c.dialect.name], (count, table))
    if found is None:
        raise RuntimeError(f"chain_head has no row for {table} (run: innofin db upgrade)")
    return str(found[0])


def _set_head(conn: Connection | Session, table: str, last: str) -> None:
    c = _connection(conn)
    _execute(c, _SET[c.dialect.name], (last, table))


def seal_rows(conn: Connection | Session, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Give each row (column → value, in the order they will be inserted) its `chain_hash`."""
    if not rows:
        return
    columns = COLUMNS[table]
    previous = _take_head(conn, table, len(rows))
    sha = hashlib.sha256
    for row in rows:
        previous = sha((previous + content(row.get(c) for c in columns)).encode()).hexdigest()
        row[HASH] = previous
    _set_head(conn, table, previous)


def seal_frame(conn: Connection, table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` (in the stored form of `db.frames`) with its `chain_hash` column; the rows must
    be in id order. The canonical texts are built column-wise; only JSON is re-read per row."""
    import polars as pl

    if "id" in frame.columns and not frame["id"].is_sorted():
        raise ValueError(f"rows of {table.name} must be written in id order to join its chain")
    texts = []
    for name in COLUMNS[table.name]:
        if name not in frame.columns:
            texts.append(pl.Series(name, [None] * frame.height, dtype=pl.String))
        elif _is_json(table.c[name].type):
            docs = [None if d is None else json_text(json.loads(d)) for d in frame[name]]
            texts.append(pl.Series(name, docs, dtype=pl.String))
        else:
            texts.append(frame.select(_text(table, frame, name)).to_series())
    work = pl.DataFrame(texts)
    parts = [
        pl.when(pl.col(n).is_null())
        .then(pl.lit("~"))
        .otherwise(
            pl.concat_str([pl.col(n).str.len_chars().cast(pl.String), pl.lit(":"), pl.col(n)])
        )
        for n in work.columns
    ]
    contents = work.select(pl.concat_str(parts).alias("c"))["c"].to_list()
    previous = _take_head(conn, table.name, frame.height)
    chained = hashes(previous, contents)
    if chained:
        _set_head(conn, table.name, chained[-1])
    return frame.with_columns(pl.Series(HASH, chained, dtype=pl.String))


def _text(table: Table, frame: pl.DataFrame, name: str) -> pl.Expr:
    """A non-JSON column of a stored-form frame as canonical text (see `field_text`)."""
    import polars as pl

    from innofin.db.frames import stored_scale
    from innofin.kernel.money import decimal_text

    scale = stored_scale(table.c[name].type)
    if scale is not None:
        return decimal_text(name, scale)
    if isinstance(frame.schema[name], pl.Datetime):
        return pl.col(name).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
    if frame.schema[name] == pl.Boolean:
        return pl.col(name).cast(pl.Int8).cast(pl.String)
    return pl.col(name).cast(pl.String)


def _is_json(kind: Any) -> bool:
    from sqlalchemy import JSON

    return isinstance(kind, JSON) or isinstance(getattr(kind, "impl", None), JSON)


# ---------------------------------------------------------------------------- the ORM's inserts


def _defaults(obj: Any, columns: Sequence[str]) -> dict[str, Any]:
    """The values the INSERT will store: unset columns take their Python-side default (set on
    the object, so the row stored is the row hashed)."""
    table = inspect(type(obj)).local_table
    values = {}
    for name in columns:
        value = getattr(obj, name)
        default = table.c[name].default
        if value is None and default is not None and not default.is_sequence:
            arg = default.arg
            value = arg(None) if callable(arg) else arg
            setattr(obj, name, value)
        values[name] = value
    return values


@event.listens_for(Session, "before_flush")
def _seal_new(session: Session, _context: Any, _instances: Any) -> None:
    """New rows of chained models join their chain in the order they will be inserted."""
    new: dict[str, list[Any]] = {}
    for obj in session.new:
        if isinstance(obj, Chained):
            new.setdefault(obj.__tablename__, []).append(obj)  # type: ignore[attr-defined]
    for table in sorted(new):
        objs = sorted(new[table], key=lambda o: inspect(o).insert_order)
        rows = [_defaults(o, COLUMNS[table]) for o in objs]
        seal_rows(session, table, rows)
        for obj, row in zip(objs, rows, strict=True):
            setattr(obj, HASH, row[HASH])


# ---------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Break:
    """Where a chain stops agreeing with its rows."""

    table: str
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.table} {self.event_id}" if self.event_id is not None else self.table
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Head:
    table: str
    length: int
    last_hash: str


def heads(conn: Connection | Session) -> dict[str, Head]:
    rows = conn.execute(text("SELECT name, length, last_hash FROM chain_head"))
    return {r[0]: Head(r[0], int(r[1]), str(r[2])) for r in rows}


def _rows(conn: Connection | Session, table: Table) -> Iterator[Any]:
    """(id, stored hash, *hashed columns) in id order, streamed; the cursor closes however the
    caller stops."""
    from sqlalchemy import select

    cols = [table.c.id, table.c[HASH], *(table.c[c] for c in COLUMNS[table.name])]
    stmt = select(*cols).order_by(table.c.id).execution_options(yield_per=20_000)
    result = conn.execute(stmt)
    try:
        yield from result
    finally:
        result.close()


def verify(conn: Connection | Session, table: Table) -> Break | None:
    """Recompute `table`'s chain from its rows; the first row whose stored hash differs (it, or
    a row before it that was removed, was changed), or the head's disagreement (rows removed
    from the end), or None when all agree."""
    previous = GENESIS
    count = 0
    last_id = None
    sha = hashlib.sha256
    rows = _rows(conn, table)
    for row in rows:
        expected = sha((previous + content(row[2:])).encode()).hexdigest()
        if row[1] != expected:
            reason = (
                "has no chain hash"
                if row[1] is None
                else "its content or place in the chain was changed (stored hash differs "
                "from the one recomputed; or a row just before it was removed)"
            )
            rows.close()  # type: ignore[attr-defined]
            return Break(table.name, row[0], reason)
        previous, count, last_id = expected, count + 1, row[0]
    head = heads(conn).get(table.name)
    if head is None:
        return Break(table.name, None, "the chain has no head (run: innofin db upgrade)")
    if (head.length, head.last_hash) != (count, previous):
        after = f"after {table.name} {last_id}" if last_id is not None else "from the start"
        return Break(
            table.name,
            last_id,
            f"the head records {head.length} rows ending in {head.last_hash[:12]}…, the table "
            f"holds {count}: rows were removed {after}",
        )
    return None
