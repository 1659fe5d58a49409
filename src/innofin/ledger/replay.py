"""Balances from history: replay the events and limit entries, compare with the caches, rebuild.

Every cached amount and status of the ledger is a function of the append-only tables, computed
here with grouped SQL (one pass per table, so the national ledger replays in the database):

* a loan's principal repaid, interest paid, written off and recovered are the sums of its
  ``repaid`` / ``written_off`` / ``recovered`` events less their reversals; its outstanding
  principal is drawn − repaid − written off; its class the latest ``classified`` one (at least
  substandard once defaulted);
* a credit line's or commitment's ``used`` is reserved + consumed − released of its limit entries;
* a pool's contributed, paid out and recovered are sums of its events, and its covered credit
  outstanding is the outstanding principal of the loans on the lines it covers.

`check` is the balance assertion of the ledger: it fails loudly (`Mismatch` rows) where a cache
disagrees with the replay; `rebuild` writes the replayed values into the caches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session

from innofin.ledger.models import (
    CATEGORIES,
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    LimitEntry,
    Loan,
    PoolClaim,
    RiskPool,
)

ZERO = Decimal("0.00")
LOAN_AMOUNTS = ("principal_repaid", "interest_paid", "written_off", "recovered")


@dataclass(frozen=True)
class Mismatch:
    table: str
    row_id: int
    column: str
    cached: Any
    replayed: Any

    def __str__(self) -> str:
        return (
            f"{self.table} {self.row_id}: {self.column} is {self.cached} in the cache, "
            f"{self.replayed} from its history"
        )


def _signed(column: Any, kind: str) -> ColumnElement[Any]:
    e = LedgerEvent
    return func.coalesce(
        func.sum(
            case(
                (e.kind == kind, column),
                (e.kind == f"{kind}_reversed", -column),
                else_=0,
            )
        ),
        0,
    )


def replay_loans(session: Session) -> dict[int, dict[str, Any]]:
    """Every loan's cached columns as its events say they should be."""
    e = LedgerEvent
    rows = session.execute(
        select(
            e.entity_id,
            func.coalesce(func.sum(case((e.kind == "drawn", e.principal), else_=0)), 0),
            _signed(e.principal, "repaid"),
            _signed(e.interest, "repaid"),
            _signed(e.principal, "written_off"),
            _signed(e.principal, "recovered"),
            func.max(case((e.kind == "defaulted", e.effective_on))),
            func.max(case((e.kind == "classified", e.id))),
        )
        .where(e.entity == "loan")
        .group_by(e.entity_id)
    ).all()
    last_class: dict[int, dict[str, Any]] = dict(
        session.execute(
            select(e.id, e.data).where(e.entity == "loan", e.kind == "classified")
        ).all()
    )
    out: dict[int, dict[str, Any]] = {}
    for loan_id, drawn, repaid, interest, written, recovered, defaulted, class_id in rows:
        drawn, repaid, interest, written, recovered = (
            _fen_sql(session, v) for v in (drawn, repaid, interest, written, recovered)
        )
        outstanding = drawn - repaid - written
        category = "pass" if class_id is None else last_class[class_id]["category"]
        if defaulted is not None and CATEGORIES.index(category) < CATEGORIES.index("substandard"):
            category = "substandard"
        status = "active" if outstanding > 0 else ("written_off" if written > 0 else "closed")
        out[loan_id] = {
            "principal": drawn,
            "principal_repaid": repaid,
            "interest_paid": interest,
            "written_off": written,
            "recovered": recovered,
            "outstanding_principal": outstanding,
            "status": status,
            "category": category,
            "defaulted_on": defaulted,
        }
    return out


def _fen_sql(session: Session, total: Any) -> Decimal:
    """A SQL sum of a Money column as Decimal yuan: SQLite hands back a raw integer count of fen
    where the column's type was not applied to the sum, PostgreSQL a NUMERIC."""
    if total is None:
        return ZERO
    if isinstance(total, int) and session.get_bind().dialect.name == "sqlite":
        return Decimal(total).scaleb(-2).quantize(ZERO)
    return Decimal(total).quantize(ZERO)


#: the same, for other read-only queries of the ledger (`ledger.portfolio`)
fen_sum = _fen_sql


def replay_limits(session: Session, account: str) -> dict[int, Decimal]:
    """`used` of every commitment or credit line: reserved + consumed − released."""
    le = LimitEntry
    signed = func.sum(case((le.kind == "release", -le.amount), else_=le.amount))
    rows = session.execute(
        select(le.account_id, signed).where(le.account == account).group_by(le.account_id)
    ).all()
    return {rid: _fen_sql(session, total) for rid, total in rows}


def replay_lines_status(session: Session) -> dict[int, str]:
    e = LedgerEvent
    last = (
        select(e.entity_id, func.max(e.id).label("last"))
        .where(e.entity == "credit_line", e.kind.like("line_%"))
        .group_by(e.entity_id)
        .subquery()
    )
    kinds = session.execute(select(last.c.entity_id, e.kind).join(e, e.id == last.c.last)).all()
    names = {"line_proposed": "pending", "line_approved": "approved", "line_rejected": "rejected"}
    names["line_closed"] = "closed"
    names["line_loaded"] = "approved"  # a bank's historical line (`service.load_line`)
    return {rid: names[kind] for rid, kind in kinds}


def replay_pools(session: Session, loans: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    e = LedgerEvent
    sums = session.execute(
        select(
            e.entity_id,
            func.sum(case((e.kind == "contributed", e.amount), else_=0)),
            func.sum(case((e.kind == "claim_paid", e.amount), else_=0)),
            func.sum(case((e.kind == "recovery_shared", e.amount), else_=0)),
        )
        .where(e.entity == "risk_pool")
        .group_by(e.entity_id)
    ).all()
    covered: dict[int, Decimal] = {}
    for loan_id, pool_id in session.execute(
        select(Loan.id, CreditLine.risk_pool_id)
        .join(CreditLine, CreditLine.id == Loan.credit_line_id)
        .where(CreditLine.risk_pool_id.is_not(None))
    ):
        replayed = loans.get(loan_id)
        if replayed is not None and pool_id is not None:
            covered[pool_id] = covered.get(pool_id, ZERO) + replayed["outstanding_principal"]
    out: dict[int, dict[str, Any]] = {}
    for pool_id, contributed, paid, recovered in sums:
        c, p, r = (_fen_sql(session, v) for v in (contributed, paid, recovered))
        out[pool_id] = {
            "contributed": c,
            "paid_out": p,
            "recovered": r,
            "balance": c - p + r,
            "covered_outstanding": covered.get(pool_id, ZERO),
        }
    return out


def _compare(
    table: str, cached: Iterable[tuple[int, dict[str, Any]]], replayed: dict[int, dict[str, Any]]
) -> list[Mismatch]:
    out = []
    for row_id, values in cached:
        expected = replayed.get(row_id)
        for column, value in values.items():
            want = None if expected is None else expected.get(column)
            if want is None and expected is not None and column not in expected:
                continue
            if value != want:
                out.append(Mismatch(table, row_id, column, value, want))
    return out


def check(session: Session) -> list[Mismatch]:
    """Every disagreement between a cache and the replay of its history (empty: all agree)."""
    loans = replay_loans(session)
    found: list[Mismatch] = []
    cols = (*LOAN_AMOUNTS, "principal", "outstanding_principal", "status", "category")
    names = (*cols, "defaulted_on")
    # plain rows, not ORM objects: a national ledger holds millions of loans
    cached_loans = (
        (row[0], dict(zip(names, row[1:], strict=True)))
        for row in session.execute(select(Loan.id, *(getattr(Loan, c) for c in names)))
    )
    found += _compare("loan", cached_loans, loans)
    lines = replay_limits(session, "credit_line")
    statuses = replay_lines_status(session)
    found += _compare(
        "credit_line",
        (
            (line_id, {"used": used, "status": status})
            for line_id, used, status in session.execute(
                select(CreditLine.id, CreditLine.used, CreditLine.status)
            )
        ),
        {
            rid: {"used": lines.get(rid, ZERO), "status": statuses.get(rid)}
            for rid in set(lines) | set(statuses)
        },
    )
    commitments = replay_limits(session, "commitment")
    found += _compare(
        "agreement_commitment",
        ((c.id, {"used": c.used}) for c in session.scalars(select(AgreementCommitment))),
        {rid: {"used": v} for rid, v in commitments.items()}
        | {
            c: {"used": ZERO}
            for c in session.scalars(select(AgreementCommitment.id))
            if c not in commitments
        },
    )
    pools = replay_pools(session, loans)
    pool_cols = ("contributed", "paid_out", "recovered", "balance", "covered_outstanding")
    empty = dict.fromkeys(pool_cols, ZERO)
    found += _compare(
        "risk_pool",
        ((p.id, {c: getattr(p, c) for c in pool_cols}) for p in session.scalars(select(RiskPool))),
        {p: pools.get(p, empty) for p in session.scalars(select(RiskPool.id))},
    )
    found += _check_claims(session)
    return found


def _check_claims(session: Session) -> list[Mismatch]:
    e = LedgerEvent
    recovered: dict[int, Decimal] = {}
    for data, amount in session.execute(
        select(e.data, e.amount).where(e.entity == "risk_pool", e.kind == "recovery_shared")
    ):
        claim_id = int(data["claim_id"])
        recovered[claim_id] = recovered.get(claim_id, ZERO) + amount
    out = []
    for claim in session.scalars(select(PoolClaim)):
        want = recovered.get(claim.id, ZERO)
        if claim.recovered != want:
            out.append(Mismatch("pool_claim", claim.id, "recovered", claim.recovered, want))
    return out


def rebuild(session: Session) -> int:
    """Write the replayed values into every cache; returns the number of values changed."""
    mismatches = check(session)
    models = {
        "loan": Loan,
        "credit_line": CreditLine,
        "agreement_commitment": AgreementCommitment,
        "risk_pool": RiskPool,
        "pool_claim": PoolClaim,
    }
    by_row: dict[tuple[str, int], dict[str, Any]] = {}
    for m in mismatches:
        by_row.setdefault((m.table, m.row_id), {})[m.column] = m.replayed
    for (table, row_id), values in by_row.items():
        model: Any = models[table]
        session.execute(update(model).where(model.id == row_id).values(**values))
    session.expire_all()
    return len(mismatches)
