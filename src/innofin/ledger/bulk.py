"""Loan events in bulk: repayments, classifications and defaults with the same rules and the
same events as `service.repay`, `service.classify` and `service.mark_default`, for thousands of
rows in one transaction (a bank return, a nightly feed) with a handful of statements.

The loans are locked and read once (with, for the loans being classified, their schedules and
live repayments), every row is checked in order against the running state of its loan, the
events are inserted with one multi-row statement and the caches changed with one UPDATE per loan
(plus the revolving lines' limit entries and the pools' covered credit). A row with an
idempotency key that was recorded already is replayed (nothing changes); the same key with a
different request is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now, record
from innofin.kernel.errors import InnofinError
from innofin.ledger import schedule_engine as sched
from innofin.ledger.models import (
    CATEGORIES,
    CreditLine,
    LedgerEvent,
    LimitEntry,
    Loan,
    LoanInstalment,
    RiskPool,
)
from innofin.ledger.store import ZERO, fingerprint, money_arg

CHUNK = 900  # ids per IN (…): under SQLite's default limit of bound parameters


@dataclass(frozen=True)
class Repayment:
    loan_id: int
    principal: Decimal
    interest: Decimal
    paid_on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class Classification:
    """Classify as of a date (at least `floor`, a bank's own downgrade); an event only when the
    class changes, as `service.classify`."""

    loan_id: int
    as_of: dt.date
    floor: str | None = None


@dataclass(frozen=True)
class Default:
    loan_id: int
    on: dt.date
    key: str | None = None


LoanEvent = Repayment | Classification | Default


@dataclass(frozen=True)
class Refused:
    index: int  # the row's position in the input
    field: str
    reason: str


@dataclass
class BulkResult:
    recorded: int
    replayed: int
    refused: list[Refused]


@dataclass
class _Loan:
    outstanding: Decimal
    drawn_on: dt.date
    status: str
    written_off: Decimal
    line_id: int
    category: str
    defaulted_on: dt.date | None
    external_ref: str
    repaid: Decimal = ZERO
    interest: Decimal = ZERO
    #: for loans being classified: the planned instalments and the live repayments
    schedule: tuple[sched.Instalment, ...] = ()
    payments: list[tuple[dt.date, Decimal]] = field(default_factory=list)


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def _request(r: Repayment | Default) -> dict[str, Any]:
    # the requests `service.repay` and `service.mark_default` fingerprint, so both paths replay
    # each other's keys
    if isinstance(r, Default):
        return {"action": "default", "loan": r.loan_id, "on": r.on}
    return {
        "action": "repay",
        "loan": r.loan_id,
        "principal": r.principal,
        "interest": r.interest,
        "paid_on": r.paid_on,
    }


def _load(session: Session, rows: Sequence[LoanEvent]) -> dict[int, _Loan]:
    loans: dict[int, _Loan] = {}
    for ids in _chunks([r.loan_id for r in rows]):
        for row in session.execute(
            select(
                Loan.id,
                Loan.outstanding_principal,
                Loan.drawn_on,
                Loan.status,
                Loan.written_off,
                Loan.credit_line_id,
                Loan.category,
                Loan.defaulted_on,
                Loan.external_ref,
            )
            .where(Loan.id.in_(ids))
            .with_for_update()
        ):
            loans[row[0]] = _Loan(*row[1:])
    classified = [r.loan_id for r in rows if isinstance(r, Classification) and r.loan_id in loans]
    for ids in _chunks(classified):
        schedules: dict[int, list[sched.Instalment]] = {i: [] for i in ids}
        for loan_id, seq, due, p, i in session.execute(
            select(
                LoanInstalment.loan_id,
                LoanInstalment.seq,
                LoanInstalment.due_on,
                LoanInstalment.principal,
                LoanInstalment.interest,
            )
            .where(LoanInstalment.loan_id.in_(ids))
            .order_by(LoanInstalment.loan_id, LoanInstalment.seq)
        ):
            schedules[loan_id].append(sched.Instalment(seq, due, p, i, p + i, ZERO))
        for loan_id, items in schedules.items():
            loans[loan_id].schedule = tuple(items)
        e = LedgerEvent
        undone = select(e.reverses_id).where(
            e.entity == "loan", e.entity_id.in_(ids), e.reverses_id.is_not(None)
        )
        for loan_id, on, paid_p, paid_i in session.execute(
            select(e.entity_id, e.effective_on, e.principal, e.interest)
            .where(
                e.entity == "loan",
                e.entity_id.in_(ids),
                e.kind == "repaid",
                e.id.not_in(undone),
            )
            .order_by(e.effective_on, e.id)
        ):
            loans[loan_id].payments.append((on, (paid_p or ZERO) + (paid_i or ZERO)))
    return loans


def _seen(session: Session, rows: Sequence[LoanEvent]) -> dict[str, str | None]:
    keys = [r.key for r in rows if not isinstance(r, Classification) and r.key is not None]
    seen: dict[str, str | None] = {}
    for i in range(0, len(keys), CHUNK):
        for key, data in session.execute(
            select(LedgerEvent.idempotency_key, LedgerEvent.data).where(
                LedgerEvent.idempotency_key.in_(keys[i : i + CHUNK])
            )
        ):
            seen[key] = data.get("request")
    return seen


class _Recorder:
    """Checks rows against the running state of their loans and collects their events."""

    def __init__(self, actor: Actor, loans: dict[int, _Loan], rules: sched.ClassificationRules):
        self.actor, self.loans, self.rules = actor, loans, rules
        self.at = now()
        self.events: list[dict[str, Any]] = []

    def event(self, loan_id: int, kind: str, on: dt.date, **values: Any) -> None:
        self.events.append(
            {
                "entity": "loan",
                "entity_id": loan_id,
                "kind": kind,
                "effective_on": on,
                "amount": None,
                "principal": values.pop("principal", None),
                "interest": values.pop("interest", None),
                "data": values.pop("data"),
                "reverses_id": None,
                "idempotency_key": values.pop("key", None),
                "actor": self.actor.label,
                "user_id": self.actor.user_id,
                "reason": self.actor.reason,
                "recorded_at": self.at,
            }
        )

    def repay(self, r: Repayment, digest: str) -> tuple[str, str] | None:
        try:
            p = money_arg(r.principal, "principal", positive=False)
            i = money_arg(r.interest, "interest", positive=False)
        except InnofinError as exc:
            return getattr(exc, "field", None) or "principal", str(exc)
        loan = self.loans.get(r.loan_id)
        problem = _check(loan, r, p, i)
        if problem is not None:
            return problem
        assert loan is not None
        loan.outstanding -= p
        loan.repaid += p
        loan.interest += i
        if loan.outstanding == 0:
            loan.status = "written_off" if loan.written_off > 0 else "closed"
        if loan.schedule:
            loan.payments.append((r.paid_on, p + i))
        data = {"request": digest}
        self.event(r.loan_id, "repaid", r.paid_on, principal=p, interest=i, data=data, key=r.key)
        return None

    def default(self, r: Default, digest: str) -> tuple[str, str] | None:
        loan = self.loans.get(r.loan_id)
        if loan is None:
            return "loan_id", f"loan {r.loan_id} does not exist"
        if loan.status != "active":
            return "loan_id", f"loan {loan.external_ref} is {loan.status}"
        if loan.defaulted_on is not None:
            return "on", f"loan {loan.external_ref} defaulted on {loan.defaulted_on} already"
        if r.on < loan.drawn_on:
            return "on", f"on {r.on} is before the drawdown on {loan.drawn_on}"
        data = {"request": digest}
        self.event(r.loan_id, "defaulted", r.on, principal=loan.outstanding, data=data, key=r.key)
        loan.defaulted_on = r.on
        if CATEGORIES.index(loan.category) < CATEGORIES.index("substandard"):
            loan.category = "substandard"
        return None

    def classify(self, r: Classification) -> tuple[str, str] | None:
        if r.floor is not None and r.floor not in CATEGORIES:
            return "floor", f"floor must be one of {', '.join(CATEGORIES)}"
        loan = self.loans.get(r.loan_id)
        if loan is None:
            return "loan_id", f"loan {r.loan_id} does not exist"
        floor = r.floor
        if loan.defaulted_on is not None and (
            floor is None or CATEGORIES.index(floor) < CATEGORIES.index("substandard")
        ):
            floor = "substandard"  # a defaulted loan stays non-performing
        dpd = _days_past_due(loan, r.as_of)
        category = sched.classify(dpd, self.rules, floor)  # type: ignore[arg-type]
        if category != loan.category:
            data = {"category": category, "previous": loan.category, "days_past_due": dpd}
            self.event(r.loan_id, "classified", r.as_of, data=data)
            loan.category = category
        return None


def _days_past_due(loan: _Loan, as_of: dt.date) -> int:
    if loan.outstanding == 0:
        return 0  # repaid (early or on time): nothing is owed any more
    payments = sorted(loan.payments, key=lambda item: item[0])  # stable: by date, then id
    return sched.days_past_due(loan.schedule, payments, as_of)


def record_many(
    session: Session,
    actor: Actor,
    rows: Sequence[LoanEvent],
    rules: sched.ClassificationRules | None = None,
) -> BulkResult:
    """Record `rows` in order; refused rows are returned, the others written (the caller's
    transaction decides whether a refusal rolls everything back)."""
    session.flush()
    loans = _load(session, rows)
    seen = _seen(session, rows)
    recorder = _Recorder(actor, loans, rules or sched.ClassificationRules())
    refused: list[Refused] = []
    replayed = 0
    for index, r in enumerate(rows):
        if isinstance(r, Classification):
            problem = recorder.classify(r)
        else:
            digest = fingerprint(_request(r))
            if r.key is not None and r.key in seen:
                if seen[r.key] != digest:
                    refused.append(
                        Refused(index, "idempotency_key", "key used for another request")
                    )
                else:
                    replayed += 1
                continue
            problem = (
                recorder.repay(r, digest)
                if isinstance(r, Repayment)
                else recorder.default(r, digest)
            )
            if problem is None and r.key is not None:
                seen[r.key] = digest
        if problem is not None:
            refused.append(Refused(index, *problem))
    events = recorder.events
    if events:
        _write(session, events, loans)
        # one audit row for the batch (the per-row story is in the ledger's events)
        record(
            session,
            actor,
            action="bulk_loan_events",
            entity="loan",
            entity_id=f"{len(touched_loans(events))} loans",
            after={"events": len(events), "replayed": replayed, "refused": len(refused)},
        )
    return BulkResult(len(events), replayed, refused)


def repay_many(session: Session, actor: Actor, rows: Sequence[Repayment]) -> BulkResult:
    """Repayments only: `record_many`."""
    return record_many(session, actor, rows)


def touched_loans(events: list[dict[str, Any]]) -> set[int]:
    return {e["entity_id"] for e in events}


def _check(loan: _Loan | None, r: Repayment, p: Decimal, i: Decimal) -> tuple[str, str] | None:
    if loan is None:
        return "loan_id", f"loan {r.loan_id} does not exist"
    if p == 0 and i == 0:
        return "principal", "a repayment needs principal or interest"
    if loan.status != "active" or loan.outstanding == 0:
        return (
            "loan_id",
            f"loan {r.loan_id} is {'closed' if loan.outstanding == 0 else loan.status}",
        )
    if r.paid_on < loan.drawn_on:
        return "paid_on", f"paid_on {r.paid_on} is before the drawdown on {loan.drawn_on}"
    if p > loan.outstanding:
        return (
            "principal",
            f"the repayment of {p} exceeds the outstanding principal {loan.outstanding}",
        )
    return None


#: the columns of ledger_event that bulk rows fill, in COPY order (after the id)
_EVENT_COLUMNS = (
    "entity", "entity_id", "kind", "effective_on", "amount", "principal", "interest", "data",
    "reverses_id", "idempotency_key", "actor", "user_id", "reason", "recorded_at",
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


def _write(session: Session, events: list[dict[str, Any]], loans: dict[int, _Loan]) -> None:
    event_ids = insert_events(session, events)
    touched = touched_loans(events)
    changes = [
        {
            "b_id": loan_id,
            "b_repaid": loans[loan_id].repaid,
            "b_interest": loans[loan_id].interest,
            "b_status": loans[loan_id].status,
            "b_category": loans[loan_id].category,
            "b_defaulted": loans[loan_id].defaulted_on,
        }
        for loan_id in sorted(touched)
    ]
    t = _table(Loan)
    money = t.c.principal.type
    session.execute(
        update(t)
        .where(t.c.id == bindparam("b_id"))
        .values(
            principal_repaid=t.c.principal_repaid + bindparam("b_repaid", type_=money),
            interest_paid=t.c.interest_paid + bindparam("b_interest", type_=money),
            outstanding_principal=t.c.outstanding_principal - bindparam("b_repaid", type_=money),
            status=bindparam("b_status"),
            category=bindparam("b_category"),
            defaulted_on=bindparam("b_defaulted", type_=t.c.defaulted_on.type),
        ),
        changes,
    )
    repaid = [(e, i) for e, i in zip(events, event_ids, strict=True) if e["kind"] == "repaid"]
    _limits_and_pools(session, [e for e, _ in repaid], [i for _, i in repaid], loans)
    session.expire_all()  # the ORM's copies of these loans are stale now


def _limits_and_pools(
    session: Session, events: list[dict[str, Any]], event_ids: list[int], loans: dict[int, _Loan]
) -> None:
    line_ids = sorted({loans[e["entity_id"]].line_id for e in events})
    lines: dict[int, tuple[bool, int | None]] = {}
    for chunk in _chunks(line_ids):
        for line_id, revolving, pool_id in session.execute(
            select(CreditLine.id, CreditLine.revolving, CreditLine.risk_pool_id)
            .where(CreditLine.id.in_(chunk))
            .with_for_update()
        ):
            lines[line_id] = (revolving, pool_id)
    released: dict[int, Decimal] = {}
    uncovered: dict[int, Decimal] = {}
    entries = []
    for ev, ev_id in zip(events, event_ids, strict=True):
        p = ev["principal"]
        if p == 0:
            continue
        line_id = loans[ev["entity_id"]].line_id
        revolving, pool_id = lines[line_id]
        if revolving:
            released[line_id] = released.get(line_id, ZERO) + p
            entries.append(
                {
                    "account": "credit_line",
                    "account_id": line_id,
                    "kind": "release",
                    "amount": p,
                    "source": "event",
                    "source_id": ev_id,
                    "event_id": ev_id,
                }
            )
        if pool_id is not None:
            uncovered[pool_id] = uncovered.get(pool_id, ZERO) + p
    if entries:
        session.execute(insert(_table(LimitEntry)), entries)
    money = _table(CreditLine).c.used.type
    if released:
        lt = _table(CreditLine)
        session.execute(
            update(lt)
            .where(lt.c.id == bindparam("b_id"))
            .values(used=lt.c.used - bindparam("b_amount", type_=money)),
            [{"b_id": k, "b_amount": v} for k, v in sorted(released.items())],
        )
    if uncovered:
        pt = _table(RiskPool)
        session.execute(
            update(pt)
            .where(pt.c.id == bindparam("b_id"))
            .values(
                covered_outstanding=pt.c.covered_outstanding - bindparam("b_amount", type_=money)
            ),
            [{"b_id": k, "b_amount": v} for k, v in sorted(uncovered.items())],
        )
