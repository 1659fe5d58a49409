"""What a bulk batch writes, with a handful of statements: the new lines and loans (ids from
the table's sequence and COPY on PostgreSQL, one multi-row INSERT … RETURNING elsewhere), their
schedules, the events (sealed into the hash chain), the limit entries, and one UPDATE per cached
row changed. Rows of the batch name new lines and loans by temporary (negative) ids and events
by their index; the real ids replace them here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, jsonable
from innofin.db import chain
from innofin.ledger.bulk.reading import State
from innofin.ledger.journal import fingerprint
from innofin.ledger.loans import engine as sched
from innofin.ledger.models import (
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    LimitEntry,
    Loan,
    LoanInstalment,
    RiskPool,
)


class Pending:
    """What a batch will write: new lines and loans (by temporary id), events and limit entries
    (account and source ids may be temporary, event_id is an events index)."""

    def __init__(self, actor: Actor, at: dt.datetime) -> None:
        self.actor, self.at = actor, at
        self.events: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self.new_lines: list[tuple[int, dict[str, Any]]] = []
        self.new_loans: list[tuple[int, dict[str, Any], tuple[sched.Instalment, ...]]] = []

    def event(
        self,
        entity: str,
        entity_id: int,
        kind: str,
        on: dt.date,
        *,
        actor: Actor | None = None,
        key: str | None = None,
        request: dict[str, Any] | None = None,
        amount: Decimal | None = None,
        principal: Decimal | None = None,
        interest: Decimal | None = None,
        **data: Any,
    ) -> int:
        """Collect an event; its index (its id once written)."""
        who = actor or self.actor
        self.events.append(
            {
                "entity": entity,
                "entity_id": entity_id,
                "kind": kind,
                "effective_on": on,
                "amount": amount,
                "principal": principal,
                "interest": interest,
                "data": {k: jsonable(v) for k, v in data.items()},
                "reverses_id": None,
                "idempotency_key": key,
                "actor": who.label,
                "user_id": who.user_id,
                "reason": who.reason,
                "recorded_at": self.at,
                "request": request,
            }
        )
        return len(self.events) - 1

    def entry(
        self, account: str, account_id: int, kind: str, amount: Decimal, source: str,
        source_id: int, event: int,
    ) -> None:  # fmt: skip
        self.entries.append(
            {
                "account": account,
                "account_id": account_id,
                "kind": kind,
                "amount": amount,
                "source": source,
                "source_id": source_id,
                "event_id": event,
            }
        )


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


#: the columns of ledger_event that bulk rows fill, in COPY order (after the id)
_EVENT_COLUMNS = (
    "entity", "entity_id", "kind", "effective_on", "amount", "principal", "interest", "data",
    "reverses_id", "idempotency_key", "actor", "user_id", "reason", "recorded_at", "chain_hash",
)  # fmt: skip
_DATA = 1 + _EVENT_COLUMNS.index("data")


def insert_events(session: Session, events: list[dict[str, Any]]) -> list[int]:
    """Insert ledger_event rows in order; their ids, in the same order.

    On PostgreSQL the ids are taken from the table's sequence first and the rows sent with COPY:
    a multi-row INSERT of thousands of parameters costs more to build and parse on the client
    than the server takes to store the rows. Elsewhere, one multi-row INSERT … RETURNING.
    """
    if not events:
        return []
    # under the chain lock, so the ids taken below follow every chain append before them
    chain.seal_rows(session, "ledger_event", events)
    if session.get_bind().dialect.name != "postgresql":
        table = _table(LedgerEvent)
        rows = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), events
        )
        return [row[0] for row in rows]
    conn = session.connection()
    ids = sorted(
        conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('ledger_event', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(events)},
        ).scalars()
    )
    raw: Any = conn.connection.driver_connection  # psycopg's own connection
    columns = ", ".join(("id", *_EVENT_COLUMNS))
    with raw.cursor() as cur, cur.copy(f"COPY ledger_event ({columns}) FROM STDIN") as copy:
        for ident, ev in zip(ids, events, strict=True):
            row = [ident, *(ev[c] for c in _EVENT_COLUMNS)]
            row[_DATA] = json.dumps(row[_DATA])  # jsonb takes the document's text
            copy.write_row(row)
    return ids


def insert_limit_entries(session: Session, entries: list[dict[str, Any]]) -> None:
    """Insert limit_entry rows (their ids are not needed)."""
    if entries:
        chain.seal_rows(session, "limit_entry", entries)
        session.execute(insert(_table(LimitEntry)), entries)


def _insert_returning(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (all with the same keys) in order; their ids, in the same order. On
    PostgreSQL the ids come from the table's sequence and the rows go by COPY (a multi-row
    INSERT … RETURNING of thousands of rows costs more on the client than on the server)."""
    if not rows:
        return []
    table = _table(model)
    if session.get_bind().dialect.name != "postgresql":
        result = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        )
        return [row[0] for row in result]
    conn = session.connection()
    ids = sorted(
        conn.execute(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(rows)},
        ).scalars()
    )
    names = list(rows[0])
    raw: Any = conn.connection.driver_connection
    columns = ", ".join(("id", *names))
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for ident, row in zip(ids, rows, strict=True):
            copy.write_row(
                [ident, *(json.dumps(v) if isinstance(v, list | dict) else row[k]
                          for k, v in row.items())]
            )  # fmt: skip
    return ids


def _insert_schedules(
    session: Session, rows: list[tuple[int, int, dt.date, Decimal, Decimal]]
) -> None:
    """loan_instalment rows: COPY on PostgreSQL, one executemany elsewhere."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # straight to the driver: amounts as the integer fen and dates as the ISO text that the
        # column types bind (hundreds of thousands of rows for a large return)
        session.connection().exec_driver_sql(
            "INSERT INTO loan_instalment (loan_id, seq, due_on, principal, interest) "
            "VALUES (?, ?, ?, ?, ?)",
            [(loan, seq, due.isoformat(), int(p.scaleb(2)), int(i.scaleb(2)))
             for loan, seq, due, p, i in rows],
        )  # fmt: skip
        return
    if dialect != "postgresql":
        keys = ("loan_id", "seq", "due_on", "principal", "interest")
        session.execute(
            insert(_table(LoanInstalment)), [dict(zip(keys, r, strict=True)) for r in rows]
        )
        return
    raw: Any = session.connection().connection.driver_connection
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY loan_instalment (loan_id, seq, due_on, principal, interest) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def write(session: Session, state: State, b: Pending) -> None:
    """Write what the batch collected and change the caches by what it changed."""
    line_ids = dict(
        zip([t for t, _ in b.new_lines],
            _insert_returning(session, CreditLine, [v for _, v in b.new_lines]), strict=True)
    )  # fmt: skip

    def line(ident: int) -> int:
        return line_ids[ident] if ident < 0 else ident

    for _, values, _ in b.new_loans:
        values["credit_line_id"] = line(values["credit_line_id"])
    loan_ids = dict(
        zip([t for t, _, _ in b.new_loans],
            _insert_returning(session, Loan, [v for _, v, _ in b.new_loans]), strict=True)
    )  # fmt: skip

    def loan(ident: int) -> int:
        return loan_ids[ident] if ident < 0 else ident

    _insert_schedules(
        session,
        [
            (loan_ids[temp], i.seq, i.due, i.principal, i.interest)
            for temp, _, schedule in b.new_loans
            for i in schedule
        ],
    )
    for ev in b.events:
        real = line if ev["entity"] == "credit_line" else loan
        ev["entity_id"] = real(ev["entity_id"])
        if "credit_line_id" in ev["data"]:
            ev["data"]["credit_line_id"] = line(ev["data"]["credit_line_id"])
        request = ev.pop("request")
        if request is not None:
            if "line" in request:
                request["line"] = line(request["line"])
            if "loan" in request:
                request["loan"] = loan(request["loan"])
            ev["data"]["request"] = fingerprint(request)
    event_ids = insert_events(session, b.events)
    for entry in b.entries:
        entry["account_id"] = (
            line(entry["account_id"])
            if entry["account"] == "credit_line"
            else (entry["account_id"])
        )
        source = entry["source"]
        entry["source_id"] = (
            event_ids[entry["source_id"]] if source == "event"
            else line(entry["source_id"]) if source == "credit_line"
            else loan(entry["source_id"])
        )  # fmt: skip
        entry["event_id"] = event_ids[entry["event_id"]]
    insert_limit_entries(session, b.entries)
    _update_caches(session, state, line, loan)
    session.expire_all()  # the ORM's copies of these rows are stale now


def _update_caches(
    session: Session, b: State, line: Callable[[int], int], loan: Callable[[int], int]
) -> None:
    t = _table(Loan)
    money = t.c.principal.type
    changes = [
        {
            "b_id": loan(loan_id),
            "b_repaid": row.state.repaid - row.base.repaid,
            "b_interest": row.state.interest_paid - row.base.interest_paid,
            "b_written": row.state.written_off - row.base.written_off,
            "b_recovered": row.state.recovered - row.base.recovered,
            "b_status": row.state.status,
            "b_category": row.state.category,
            "b_defaulted": row.state.defaulted_on,
        }
        for loan_id, row in sorted(b.loans.items(), key=lambda item: loan(item[0]))
        if row.touched
    ]
    if changes:
        session.execute(
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(
                principal_repaid=t.c.principal_repaid + bindparam("b_repaid", type_=money),
                interest_paid=t.c.interest_paid + bindparam("b_interest", type_=money),
                written_off=t.c.written_off + bindparam("b_written", type_=money),
                recovered=t.c.recovered + bindparam("b_recovered", type_=money),
                outstanding_principal=t.c.outstanding_principal
                - bindparam("b_repaid", type_=money)
                - bindparam("b_written", type_=money),
                status=bindparam("b_status"),
                category=bindparam("b_category"),
                defaulted_on=bindparam("b_defaulted", type_=t.c.defaulted_on.type),
            ),
            changes,
        )
    moves: list[tuple[type[Any], str, list[tuple[int, Decimal]]]] = [
        (CreditLine, "used", sorted((line(k), v) for k, v in b.line_change.items() if v)),
        (AgreementCommitment, "used", sorted((k, v) for k, v in b.commitment_change.items() if v)),
        (
            RiskPool,
            "covered_outstanding",
            sorted((k, v.change) for k, v in b.pools.items() if v.change),
        ),
    ]
    for model, column, moved in moves:
        table = _table(model)
        if moved:
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({column: table.c[column] + bindparam("b_amount", type_=money)}),
                [{"b_id": k, "b_amount": v} for k, v in moved],
            )
