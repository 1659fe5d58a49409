"""Repayments in bulk: the same rules and the same events as `service.repay`, for thousands of
rows in one transaction (a bank return, a nightly feed) with a handful of statements.

The loans are locked and read once, every row is checked against the running balance of its
loan in order, the events are inserted with one multi-row statement and the caches changed with
one UPDATE per loan (plus the revolving lines' limit entries and the pools' covered credit). A
row with an idempotency key that was recorded already is replayed (nothing changes); the same
key with a different request is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now, record
from innofin.kernel.errors import InnofinError
from innofin.ledger.models import CreditLine, LedgerEvent, LimitEntry, Loan, RiskPool
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
    repaid: Decimal = ZERO
    interest: Decimal = ZERO


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def _request(r: Repayment) -> dict[str, Any]:
    # the request `service.repay` fingerprints, so both paths replay each other's keys
    return {
        "action": "repay",
        "loan": r.loan_id,
        "principal": r.principal,
        "interest": r.interest,
        "paid_on": r.paid_on,
    }


def repay_many(session: Session, actor: Actor, rows: Sequence[Repayment]) -> BulkResult:
    """Record `rows` in order; refused rows are returned, the others written (the caller's
    transaction decides whether a refusal rolls everything back)."""
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
            )
            .where(Loan.id.in_(ids))
            .with_for_update()
        ):
            loans[row[0]] = _Loan(row[1], row[2], row[3], row[4], row[5])
    keys = [r.key for r in rows if r.key is not None]
    seen: dict[str, str | None] = {}
    for i in range(0, len(keys), CHUNK):
        for key, data in session.execute(
            select(LedgerEvent.idempotency_key, LedgerEvent.data).where(
                LedgerEvent.idempotency_key.in_(keys[i : i + CHUNK])
            )
        ):
            seen[key] = data.get("request")
    refused: list[Refused] = []
    events: list[dict[str, Any]] = []
    replayed = 0
    at = now()
    for index, r in enumerate(rows):
        request = _request(r)
        digest = fingerprint(request)
        if r.key is not None and r.key in seen:
            if seen[r.key] != digest:
                refused.append(Refused(index, "idempotency_key", "key used for another request"))
            else:
                replayed += 1
            continue
        try:
            p = money_arg(r.principal, "principal", positive=False)
            paid_interest = money_arg(r.interest, "interest", positive=False)
        except InnofinError as exc:
            refused.append(Refused(index, getattr(exc, "field", None) or "principal", str(exc)))
            continue
        loan = loans.get(r.loan_id)
        problem = _check(loan, r, p, paid_interest)
        if problem is not None:
            refused.append(Refused(index, *problem))
            continue
        assert loan is not None
        loan.outstanding -= p
        loan.repaid += p
        loan.interest += paid_interest
        if r.key is not None:
            seen[r.key] = digest
        events.append(
            {
                "entity": "loan",
                "entity_id": r.loan_id,
                "kind": "repaid",
                "effective_on": r.paid_on,
                "amount": None,
                "principal": p,
                "interest": paid_interest,
                "data": {"request": digest},
                "reverses_id": None,
                "idempotency_key": r.key,
                "actor": actor.label,
                "user_id": actor.user_id,
                "reason": actor.reason,
                "recorded_at": at,
            }
        )
    if events:
        _write(session, events, loans)
        # one audit row for the batch (the per-row story is in the ledger's events)
        record(
            session,
            actor,
            action="bulk_repayments",
            entity="loan",
            entity_id=f"{len(touched_loans(events))} loans",
            after={"events": len(events), "replayed": replayed, "refused": len(refused)},
        )
    return BulkResult(len(events), replayed, refused)


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


def _write(session: Session, events: list[dict[str, Any]], loans: dict[int, _Loan]) -> None:
    session.flush()
    table = _table(LedgerEvent)
    ids = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), events)
    event_ids = [row[0] for row in ids]
    touched = touched_loans(events)
    changes = [
        {
            "b_id": loan_id,
            "b_repaid": loans[loan_id].repaid,
            "b_interest": loans[loan_id].interest,
            "b_status": "active"
            if loans[loan_id].outstanding > 0
            else ("written_off" if loans[loan_id].written_off > 0 else "closed"),
        }
        for loan_id in sorted(touched)
    ]
    t = _table(Loan)
    session.execute(
        update(t)
        .where(t.c.id == bindparam("b_id"))
        .values(
            principal_repaid=t.c.principal_repaid + bindparam("b_repaid", type_=t.c.principal.type),
            interest_paid=t.c.interest_paid + bindparam("b_interest", type_=t.c.principal.type),
            outstanding_principal=t.c.outstanding_principal
            - bindparam("b_repaid", type_=t.c.principal.type),
            status=bindparam("b_status"),
        ),
        changes,
    )
    _limits_and_pools(session, events, event_ids, loans)
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
