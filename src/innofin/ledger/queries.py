"""Read-only queries of the ledger, shared by its sub-rooms and asked by other rooms: the
institutions whose programmes a line may name, a named row within a scope, the programme a credit
line belongs to (`line_programme`: the one rule, which subsidies and monitoring read), a record's
history,
the enterprises in trouble (what scoring's key lists read), and the programmes' interest-subsidy
schemes (what matching offers a declined firm). Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from innofin.kernel.errors import InvalidInput, NotFound
from innofin.ledger.journal import T
from innofin.ledger.models import (
    Agreement,
    AgreementCommitment,
    CreditLine,
    InterestSubsidy,
    LedgerEvent,
    Loan,
    PoolClaim,
    Programme,
    RiskPool,
)
from innofin.registry.models import Institution

# --------------------------------------------------------------------------- look-ups


def lender_ids(session: Session, institution_id: int) -> frozenset[int]:
    """An institution and its head offices (parent, grandparent …): whose programmes and
    products its credit lines may name."""
    found: set[int] = set()
    current: int | None = institution_id
    while current is not None and current not in found:
        found.add(current)
        current = session.scalar(select(Institution.parent_id).where(Institution.id == current))
    return frozenset(found)


def nameable(session: Session, model: type[T], ident: int, scope: Any, what: str) -> T:
    """The row a credit line names, if the line's institution may name it; otherwise NotFound,
    worded as for a row that does not exist (the caller learns nothing of others' rows)."""
    table: Any = model
    found: T | None = session.scalars(select(table).where(table.id == ident, scope)).first()
    if found is None:
        raise NotFound(f"{what} {ident} does not exist")
    return found


# --------------------------------------------------------------------------- programme of a line


def line_programme(line: Any = CreditLine) -> ColumnElement[Any]:
    """The programme a credit line belongs to, as a SQL expression over `line` (the table, or
    an alias of it in a larger query): the programme it was entered for (``programme_id``);
    else the programme of the agreement whose commitment it draws on; else the programme of
    the risk pool that covers it; else none (NULL).

    This is the ledger's one rule for "a line (and its loans) of programme P": a line drawn on
    a programme's commitment or covered by its pool counts in that programme's figures
    although its bank entered no programme on it, and a line counts in one programme only —
    the first of the three that names one — so programme totals never count a loan twice.
    Subsidies (`programme_lines`) and monitoring (the balance cube's reading, scenarios,
    scorecards) read it; nothing else decides it."""
    cols = getattr(line, "c", line)
    of_commitment = (
        select(Agreement.programme_id)
        .join(AgreementCommitment, AgreementCommitment.agreement_id == Agreement.id)
        .where(AgreementCommitment.id == cols.commitment_id)
        .scalar_subquery()
    )
    of_pool = select(RiskPool.programme_id).where(RiskPool.id == cols.risk_pool_id)
    return func.coalesce(cols.programme_id, of_commitment, of_pool.scalar_subquery())


def programme_lines(programme_id: int) -> Select[Any]:
    """The ids of the credit lines that belong to a programme (`line_programme`)."""
    return select(CreditLine.id).where(line_programme() == programme_id)


# --------------------------------------------------------------------------- history


def history(session: Session, entity: str, entity_id: int) -> list[LedgerEvent]:
    """The full story of a programme, agreement, credit line (with its loans) or loan."""
    clauses = [(LedgerEvent.entity == entity) & (LedgerEvent.entity_id == entity_id)]
    if entity == "credit_line":
        loans = select(Loan.id).where(Loan.credit_line_id == entity_id)
        clauses.append((LedgerEvent.entity == "loan") & LedgerEvent.entity_id.in_(loans))
    elif entity == "risk_pool":
        claims = select(PoolClaim.id).where(PoolClaim.pool_id == entity_id)
        clauses.append((LedgerEvent.entity == "pool_claim") & LedgerEvent.entity_id.in_(claims))
    elif entity not in ("loan", "programme", "agreement", "pool_claim", "subsidy"):
        raise InvalidInput(
            "entity must be programme, agreement, credit_line, loan, risk_pool, pool_claim or "
            "subsidy",
            field="entity",
        )
    stmt = select(LedgerEvent).where(clauses[0] if len(clauses) == 1 else clauses[0] | clauses[1])
    events = list(session.scalars(stmt.order_by(LedgerEvent.id)))
    if not events:
        raise NotFound(f"no ledger history for {entity} {entity_id}")
    return events


def troubled_enterprises(
    session: Session, start: dt.date, end: dt.date, *, days_overdue: int = 90
) -> list[int]:
    """Enterprises with a loan that defaulted, or was found `days_overdue` or more days past
    due, between `start` and `end` (the ledger side of the key list's ``no_default_months``)."""
    e = LedgerEvent
    late = (e.kind == "classified") & (e.data["days_past_due"].as_integer() >= days_overdue)
    stmt = (
        select(Loan.enterprise_id)
        .join(e, (e.entity == "loan") & (e.entity_id == Loan.id))
        .where(e.effective_on >= start, e.effective_on <= end, (e.kind == "defaulted") | late)
        .distinct()
    )
    return sorted(session.scalars(stmt))


# --------------------------------------------------------------------------- subsidy schemes


@dataclass(frozen=True)
class SubsidyScheme:
    """A programme that pays interest subsidies: where and when it runs, its institutions, the
    fields its commitments are earmarked for (empty when any commitment is open to every field,
    or it has none), and the rules of its latest published subsidy (`SubsidyRules` as JSON)."""

    programme_id: int
    code: str
    name: str
    zone_ids: frozenset[int]
    institution_ids: frozenset[int]
    starts_on: dt.date
    ends_on: dt.date
    fields: frozenset[str]
    rules: dict[str, Any]


def subsidy_schemes(session: Session) -> list[SubsidyScheme]:
    """Every programme with an interest subsidy published (and not withdrawn): a subsidy scheme
    is not a row of its own — its rules travel with each published subsidy — so the latest
    subsidy's rules stand for the programme's scheme."""
    latest = (
        select(InterestSubsidy.programme, InterestSubsidy.assessment)
        .where(InterestSubsidy.status != "withdrawn")
        .order_by(InterestSubsidy.programme, InterestSubsidy.id.desc())
    )
    rules: dict[str, dict[str, Any]] = {}
    for code, assessment in session.execute(latest):
        rules.setdefault(code, dict((assessment or {}).get("rules") or {}))
    if not rules:
        return []
    programmes = session.scalars(select(Programme).where(Programme.code.in_(sorted(rules)))).all()
    earmarks: dict[int, list[str | None]] = {}
    for pid, field in session.execute(
        select(Agreement.programme_id, AgreementCommitment.tech_field)
        .join(Agreement, Agreement.id == AgreementCommitment.agreement_id)
        .where(Agreement.programme_id.in_([p.id for p in programmes]))
    ):
        if pid is not None:
            earmarks.setdefault(pid, []).append(field)
    out = []
    for prog in sorted(programmes, key=lambda x: x.id):
        fields = earmarks.get(prog.id, [])
        out.append(
            SubsidyScheme(
                programme_id=prog.id,
                code=prog.code,
                name=prog.name,
                zone_ids=frozenset(int(z) for z in prog.zone_ids or []),
                institution_ids=frozenset(int(i) for i in prog.institution_ids or []),
                starts_on=prog.starts_on,
                ends_on=prog.ends_on,
                fields=frozenset(f for f in fields if f) if fields and all(fields) else frozenset(),
                rules=rules[prog.code],
            )
        )
    return out
