"""Use cases of credit lines and loans: each writes its event and its cache changes in one
transaction.

Every action takes the caller's session (the unit of work that also holds its audit rows) and an
`Actor`. `perform` runs one action in a unit of work of its own and makes retries safe: an action
with an ``idempotency_key`` that was already recorded returns the first event and changes
nothing; two concurrent requests with the same key meet at the key's unique index, and the loser
returns the winner's event.

Money invariants are held three times over: the service checks them and names the field; the
row being changed is locked first (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the unit of
work takes the write lock up front); and the database's CHECK constraints refuse a cache that
leaves its bounds (a line's ``used`` above its limit, a loan's outstanding principal below zero or
not equal to principal − repaid − written off).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.money import money_arg
from innofin.ledger.journal import (
    ZERO,
    get_row,
    limit_entry,
    locked,
    record_event,
    replayed,
)
from innofin.ledger.loans import engine as sched
from innofin.ledger.models import (
    CATEGORIES,
    METHODS,
    Agreement,
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    Loan,
    LoanInstalment,
    RiskPool,
)
from innofin.ledger.pools import engine as pools
from innofin.ledger.queries import lender_ids, nameable
from innofin.ledger.scopes import line_pool_scope, line_product_scope
from innofin.registry.models import Enterprise, Institution, Product

CURRENCY = "CNY"
#: events that can be reversed, and the kind of their reversal
REVERSIBLE = {"repaid": "repaid_reversed", "written_off": "written_off_reversed"}
REVERSIBLE["recovered"] = "recovered_reversed"


# --------------------------------------------------------------------------- credit lines


@dataclass(frozen=True)
class LineSpec:
    institution_id: int
    external_ref: str
    enterprise_id: int
    limit_amount: Decimal
    opens_on: dt.date
    matures_on: dt.date
    rate: Decimal
    rate_kind: str = "fixed"
    spread_bp: int = 0
    revolving: bool = False
    currency: str = CURRENCY
    programme_id: int | None = None
    commitment_id: int | None = None
    product_id: int | None = None
    risk_pool_id: int | None = None
    #: what a risk pool's rules read: first_loan, pure_credit, ip_pledge, guaranteed
    tags: tuple[str, ...] = ()


def _checked_line(
    session: Session, spec: LineSpec
) -> tuple[Decimal, Enterprise, AgreementCommitment | None]:
    """The checks every new credit line passes: its limit, the commitment it draws on."""
    limit = money_arg(spec.limit_amount, "limit_amount")
    if spec.matures_on <= spec.opens_on:
        raise InvalidInput("matures_on must be after opens_on", field="matures_on")
    if spec.rate_kind not in ("fixed", "lpr_spread"):
        raise InvalidInput("rate_kind must be fixed or lpr_spread", field="rate_kind")
    if not isinstance(spec.rate, Decimal) or not Decimal(0) <= spec.rate < 1:
        raise InvalidInput("rate is an annual fraction (0.0345) as a Decimal", field="rate")
    enterprise = get_row(session, Enterprise, spec.enterprise_id, "enterprise")
    get_row(session, Institution, spec.institution_id, "institution")
    exists = select(CreditLine.id).where(
        CreditLine.institution_id == spec.institution_id,
        CreditLine.external_ref == spec.external_ref,
    )
    if session.scalars(exists).first() is not None:
        raise Conflict(f"credit line {spec.external_ref!r} exists already for this institution")
    lenders = lender_ids(session, spec.institution_id)
    if spec.product_id is not None:
        nameable(session, Product, spec.product_id, line_product_scope(lenders), "product")
    if spec.risk_pool_id is not None:
        pool = nameable(session, RiskPool, spec.risk_pool_id, line_pool_scope(lenders), "risk pool")
        if pool.currency != spec.currency:
            raise InvalidInput(
                f"currency {spec.currency} does not match the pool's {pool.currency}",
                field="currency",
            )
    commitment = None
    if spec.commitment_id is not None:
        commitment = locked(session, AgreementCommitment, spec.commitment_id, "commitment")
        agreement = get_row(session, Agreement, commitment.agreement_id, "agreement")
        _check_commitment(commitment, agreement, enterprise, spec, limit)
    return limit, enterprise, commitment


def _new_line(spec: LineSpec, limit: Decimal, status: str, maker: str) -> CreditLine:
    return CreditLine(
        institution_id=spec.institution_id,
        external_ref=spec.external_ref,
        enterprise_id=spec.enterprise_id,
        programme_id=spec.programme_id,
        commitment_id=spec.commitment_id,
        product_id=spec.product_id,
        risk_pool_id=spec.risk_pool_id,
        tags=sorted(set(spec.tags)),
        currency=spec.currency,
        limit_amount=limit,
        used=ZERO,
        revolving=spec.revolving,
        opens_on=spec.opens_on,
        matures_on=spec.matures_on,
        rate_kind=spec.rate_kind,
        rate=spec.rate,
        spread_bp=spec.spread_bp,
        status=status,
        maker_id=maker,
        created_at=now(),
    )


def propose_line(
    session: Session, actor: Actor, spec: LineSpec, *, key: str | None = None
) -> LedgerEvent:
    """A credit line entered by its maker (status pending); a commitment it draws on is reserved
    at once, so two lines can never promise the same committed yuan."""
    request = {"action": "propose_line", **spec.__dict__}
    if (found := replayed(session, key, request)) is not None:
        return found
    limit, _enterprise, commitment = _checked_line(session, spec)
    line = _new_line(spec, limit, "pending", actor.label)
    session.add(line)
    session.flush()
    ev = record_event(
        session,
        actor,
        "credit_line",
        line.id,
        "line_proposed",
        spec.opens_on,
        key=key,
        request=request,
        amount=limit,
    )
    if commitment is not None:
        commitment.used = commitment.used + limit
        limit_entry(
            session, "commitment", commitment.id, "reserve", limit, "credit_line", line.id, ev
        )
    session.flush()
    return ev


#: who a historical credit line names as its maker: the officer who loaded it
HISTORICAL = "historical:"


def load_line(
    session: Session,
    actor: Actor,
    spec: LineSpec,
    *,
    approval_ref: str | None = None,
    key: str | None = None,
) -> LedgerEvent:
    """A credit line of a bank's existing book (历史存量), approved in the bank's own system
    before the programme began: recorded approved at once (event ``line_loaded``) by the officer
    who loads the return, with the bank's approval reference where the file has one. Maker-checker
    stays for every line entered in innofin (`propose_line`, `approve_line`); this is for a
    declared historical load (`ledger.returns`) only."""
    request = {"action": "load_line", **spec.__dict__, "approval_ref": approval_ref}
    if (found := replayed(session, key, request)) is not None:
        return found
    limit, _enterprise, commitment = _checked_line(session, spec)
    line = _new_line(spec, limit, "approved", f"{HISTORICAL}{actor.label}"[:120])
    session.add(line)
    session.flush()
    ev = record_event(
        session,
        actor,
        "credit_line",
        line.id,
        "line_loaded",
        spec.opens_on,
        key=key,
        request=request,
        amount=limit,
        historical=True,
        approval_ref=approval_ref,
    )
    if commitment is not None:
        commitment.used = commitment.used + limit
        limit_entry(
            session, "commitment", commitment.id, "consume", limit, "credit_line", line.id, ev
        )
    session.flush()
    return ev


def _check_commitment(
    c: AgreementCommitment, a: Agreement, e: Enterprise, spec: LineSpec, limit: Decimal
) -> None:
    if a.institution_id != spec.institution_id:  # another bank's commitment: as if none
        raise NotFound(f"commitment {c.id} does not exist")
    if a.status != "signed":
        raise Conflict(f"agreement {a.code} is {a.status}")
    if a.currency != spec.currency:
        raise InvalidInput(
            f"currency {spec.currency} does not match the agreement's {a.currency}",
            field="currency",
        )
    if not c.period_start <= spec.opens_on <= c.period_end:
        raise InvalidInput(
            f"opens_on {spec.opens_on} is outside the commitment's period "
            f"{c.period_start}–{c.period_end}",
            field="opens_on",
        )
    if c.tech_field is not None and e.tech_field != c.tech_field:
        raise InvalidInput(
            f"the commitment is for field {c.tech_field}; the enterprise is in {e.tech_field}",
            field="commitment_id",
        )
    if c.used + limit > c.amount:
        raise Conflict(f"the commitment has {c.amount - c.used} left; the line asks for {limit}")


def approve_line(
    session: Session,
    actor: Actor,
    line_id: int,
    *,
    approve: bool = True,
    checker_institution_id: int | None = None,
    key: str | None = None,
) -> LedgerEvent:
    """The checker's decision. The maker may not check its own line; a checker of another
    institution may not either. Approval turns the commitment's reservation into consumption;
    rejection releases it."""
    request = {"action": "approve_line", "line": line_id, "approve": approve}
    if (found := replayed(session, key, request)) is not None:
        return found
    line = locked(session, CreditLine, line_id, "credit line")
    if line.status != "pending":
        raise Conflict(f"credit line {line.external_ref} is {line.status}, not pending")
    if actor.label == line.maker_id:
        raise Forbidden(
            f"maker-checker: {actor.label} entered credit line {line.external_ref} and may "
            "not also approve it",
            code="same_maker_and_checker",
        )
    if checker_institution_id is not None and checker_institution_id != line.institution_id:
        raise Forbidden("the checker must belong to the line's institution")
    line.status = "approved" if approve else "rejected"
    line.checker_id = actor.label
    ev = record_event(
        session,
        actor,
        "credit_line",
        line.id,
        "line_approved" if approve else "line_rejected",
        line.opens_on,
        key=key,
        request=request,
        amount=line.limit_amount,
    )
    if line.commitment_id is not None:
        commitment = locked(session, AgreementCommitment, line.commitment_id, "commitment")
        limit = line.limit_amount
        limit_entry(
            session, "commitment", commitment.id, "release", limit, "credit_line", line.id, ev
        )
        if approve:
            limit_entry(
                session, "commitment", commitment.id, "consume", limit, "credit_line", line.id, ev
            )
        else:
            commitment.used = commitment.used - limit
    session.flush()
    return ev


# --------------------------------------------------------------------------- loans


def disbursement_outside(drawn_on: dt.date, opens_on: dt.date, matures_on: dt.date) -> str | None:
    """Why a drawdown on `drawn_on` falls outside a line's period (None if it does not)."""
    if drawn_on < opens_on:
        return (
            f"disbursement before the line's start (its approval): drawn_on {drawn_on} is "
            f"before {opens_on}"
        )
    if drawn_on > matures_on:
        return f"disbursement after the line's end: drawn_on {drawn_on} is after {matures_on}"
    return None


def draw(
    session: Session,
    actor: Actor,
    line_id: int,
    *,
    amount: Decimal,
    drawn_on: dt.date,
    external_ref: str,
    months: int,
    method: str = "equal_principal",
    day_count: str = "ACT/360",
    currency: str = CURRENCY,
    key: str | None = None,
) -> LedgerEvent:
    """A drawdown (提款): a new loan within the line's available limit, with its schedule."""
    request = {
        "action": "draw",
        "line": line_id,
        "amount": amount,
        "drawn_on": drawn_on,
        "external_ref": external_ref,
        "months": months,
        "method": method,
        "day_count": day_count,
        "currency": currency,
    }
    if (found := replayed(session, key, request)) is not None:
        return found
    principal = money_arg(amount, "amount")
    if method not in METHODS:
        raise InvalidInput(f"method must be one of {', '.join(METHODS)}", field="method")
    if not isinstance(months, int) or months < 1:
        raise InvalidInput(f"a term of {months} months: months must be ≥ 1", field="months")
    line = locked(session, CreditLine, line_id, "credit line")
    if line.status != "approved":
        raise Conflict(f"credit line {line.external_ref} is {line.status}, not approved")
    if currency != line.currency:
        raise InvalidInput(
            f"currency {currency} does not match the credit line's {line.currency}",
            field="currency",
        )
    if (problem := disbursement_outside(drawn_on, line.opens_on, line.matures_on)) is not None:
        raise InvalidInput(problem, field="drawn_on")
    available = line.limit_amount - line.used
    if principal > available:
        raise InvalidInput(
            f"the drawdown of {principal} exceeds the line's available {available}",
            field="amount",
        )
    taken = select(Loan.id).where(
        Loan.institution_id == line.institution_id, Loan.external_ref == external_ref
    )
    if session.scalars(taken).first() is not None:
        raise Conflict(f"loan {external_ref!r} exists already for this institution")
    rate = line.rate + Decimal(line.spread_bp) / Decimal(10_000)
    try:
        schedule = sched.build_schedule(principal, rate, drawn_on, months, method, day_count)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidInput(str(exc), field="day_count" if "basis" in str(exc) else None) from exc
    loan = Loan(
        credit_line_id=line.id,
        institution_id=line.institution_id,
        enterprise_id=line.enterprise_id,
        external_ref=external_ref,
        currency=currency,
        principal=principal,
        drawn_on=drawn_on,
        matures_on=schedule[-1].due,
        months=months,
        method=method,
        day_count=day_count,
        annual_rate=rate,
        status="active",
        principal_repaid=ZERO,
        interest_paid=ZERO,
        written_off=ZERO,
        recovered=ZERO,
        outstanding_principal=principal,
        category="pass",
    )
    session.add(loan)
    session.flush()
    session.add_all(
        LoanInstalment(
            loan_id=loan.id, seq=i.seq, due_on=i.due, principal=i.principal, interest=i.interest
        )
        for i in schedule
    )
    ev = record_event(
        session,
        actor,
        "loan",
        loan.id,
        "drawn",
        drawn_on,
        key=key,
        request=request,
        principal=principal,
        credit_line_id=line.id,
    )
    line.used = line.used + principal
    limit_entry(session, "credit_line", line.id, "consume", principal, "loan", loan.id, ev)
    if line.risk_pool_id is not None:
        _cover(session, line.risk_pool_id, principal)
    session.flush()
    return ev


def _cover(session: Session, pool_id: int, principal: Decimal) -> None:
    """New covered credit: refused when the pool's leverage limit would be passed."""
    pool = locked(session, RiskPool, pool_id, "risk pool")
    if pool.leverage is not None:
        headroom = pools.leverage_headroom(
            pool.balance, pool.covered_outstanding, Decimal(pool.leverage)
        )
        if principal > headroom:
            raise Conflict(
                f"risk pool {pool.code}: the leverage limit ({pool.leverage} × its balance "
                f"{pool.balance}) leaves {headroom} of new covered credit; the drawdown is "
                f"{principal}"
            )
    pool.covered_outstanding = pool.covered_outstanding + principal


def _uncover(session: Session, loan: Loan, principal: Decimal) -> None:
    """Covered credit outstanding falls with repaid or written-off principal (or rises again
    when such an event is reversed: `principal` negative)."""
    line = session.get(CreditLine, loan.credit_line_id)
    if line is None or line.risk_pool_id is None or principal == 0:
        return
    pool = locked(session, RiskPool, line.risk_pool_id, "risk pool")
    pool.covered_outstanding = pool.covered_outstanding - principal


def _open_loan(session: Session, loan_id: int) -> Loan:
    loan = locked(session, Loan, loan_id, "loan")
    if loan.status != "active":
        raise Conflict(f"loan {loan.external_ref} is {loan.status}")
    return loan


def repay(
    session: Session,
    actor: Actor,
    loan_id: int,
    *,
    principal: Decimal,
    interest: Decimal = ZERO,
    paid_on: dt.date,
    key: str | None = None,
) -> LedgerEvent:
    """A repayment (partial, early or late) of principal and interest. On a revolving line the
    repaid principal becomes available again."""
    request = {
        "action": "repay",
        "loan": loan_id,
        "principal": principal,
        "interest": interest,
        "paid_on": paid_on,
    }
    if (found := replayed(session, key, request)) is not None:
        return found
    p = money_arg(principal, "principal", positive=False)
    i = money_arg(interest, "interest", positive=False)
    if p == 0 and i == 0:
        raise InvalidInput("a repayment needs principal or interest", field="principal")
    loan = _open_loan(session, loan_id)
    if paid_on < loan.drawn_on:
        raise InvalidInput(
            f"paid_on {paid_on} is before the drawdown on {loan.drawn_on}", field="paid_on"
        )
    if p > loan.outstanding_principal:
        raise InvalidInput(
            f"the repayment of {p} exceeds the outstanding principal {loan.outstanding_principal}",
            field="principal",
        )
    ev = record_event(
        session,
        actor,
        "loan",
        loan.id,
        "repaid",
        paid_on,
        key=key,
        request=request,
        principal=p,
        interest=i,
    )
    _apply_repayment(session, loan, p, i, ev, sign=1)
    return ev


def _apply_repayment(
    session: Session, loan: Loan, p: Decimal, i: Decimal, ev: LedgerEvent, *, sign: int
) -> None:
    loan.principal_repaid = loan.principal_repaid + sign * p
    loan.interest_paid = loan.interest_paid + sign * i
    loan.outstanding_principal = loan.outstanding_principal - sign * p
    loan.status = _status(loan)
    line = locked(session, CreditLine, loan.credit_line_id, "credit line")
    if line.revolving and p > 0:
        kind = "release" if sign > 0 else "consume"
        line.used = line.used - sign * p
        limit_entry(session, "credit_line", line.id, kind, p, "event", ev.id, ev)
    _uncover(session, loan, sign * p)
    session.flush()


def _status(loan: Loan) -> str:
    if loan.outstanding_principal > 0:
        return "active"
    return "written_off" if loan.written_off > 0 else "closed"


def classify(
    session: Session,
    actor: Actor,
    loan_id: int,
    *,
    as_of: dt.date,
    floor: str | None = None,
    rules: sched.ClassificationRules | None = None,
) -> LedgerEvent | None:
    """Days past due from the schedule and the repayments, and the five-category class (at
    least `floor`, a bank's own downgrade). Records an event only when the class changes."""
    if floor is not None and floor not in CATEGORIES:
        raise InvalidInput(f"floor must be one of {', '.join(CATEGORIES)}", field="floor")
    loan = locked(session, Loan, loan_id, "loan")
    if loan.defaulted_on is not None and (
        floor is None or CATEGORIES.index(floor) < CATEGORIES.index("substandard")
    ):
        floor = "substandard"  # a defaulted loan stays non-performing
    dpd = days_past_due(session, loan, as_of)
    category = sched.classify(dpd, rules or sched.ClassificationRules(), floor)  # type: ignore[arg-type]
    if category == loan.category:
        return None
    ev = record_event(
        session,
        actor,
        "loan",
        loan.id,
        "classified",
        as_of,
        category=category,
        previous=loan.category,
        days_past_due=dpd,
    )
    loan.category = category
    session.flush()
    return ev


def days_past_due(session: Session, loan: Loan, as_of: dt.date) -> int:
    """Days past due from the planned schedule and the live repayments; 0 once the principal
    is repaid (a loan repaid early owes none of the schedule's later interest)."""
    if loan.outstanding_principal == 0:
        return 0
    rows = session.scalars(
        select(LoanInstalment).where(LoanInstalment.loan_id == loan.id).order_by(LoanInstalment.seq)
    ).all()
    schedule = tuple(
        sched.Instalment(r.seq, r.due_on, r.principal, r.interest, r.principal + r.interest, ZERO)
        for r in rows
    )
    payments = [
        (e.effective_on, (e.principal or ZERO) + (e.interest or ZERO))
        for e in _live_events(session, loan.id, "repaid")
    ]
    return sched.days_past_due(schedule, payments, as_of)


def _live_events(session: Session, loan_id: int, kind: str) -> Sequence[LedgerEvent]:
    """Events of `kind` on a loan that no reversal undid, in order."""
    reversed_ids = select(LedgerEvent.reverses_id).where(
        LedgerEvent.entity == "loan",
        LedgerEvent.entity_id == loan_id,
        LedgerEvent.reverses_id.is_not(None),
    )
    return session.scalars(
        select(LedgerEvent)
        .where(
            LedgerEvent.entity == "loan",
            LedgerEvent.entity_id == loan_id,
            LedgerEvent.kind == kind,
            LedgerEvent.id.not_in(reversed_ids),
        )
        .order_by(LedgerEvent.effective_on, LedgerEvent.id)
    ).all()


def mark_default(
    session: Session, actor: Actor, loan_id: int, *, on: dt.date, key: str | None = None
) -> LedgerEvent:
    """Default (违约): the loan becomes at least substandard and may be claimed on."""
    request = {"action": "default", "loan": loan_id, "on": on}
    if (found := replayed(session, key, request)) is not None:
        return found
    loan = _open_loan(session, loan_id)
    if loan.defaulted_on is not None:
        raise Conflict(f"loan {loan.external_ref} defaulted on {loan.defaulted_on} already")
    if on < loan.drawn_on:
        raise InvalidInput(f"on {on} is before the drawdown on {loan.drawn_on}", field="on")
    ev = record_event(
        session, actor, "loan", loan.id, "defaulted", on, key=key, request=request,
        principal=loan.outstanding_principal,
    )  # fmt: skip
    loan.defaulted_on = on
    if CATEGORIES.index(loan.category) < CATEGORIES.index("substandard"):
        loan.category = "substandard"
    session.flush()
    return ev


def write_off_too_large(amount: Decimal, principal: Decimal, outstanding: Decimal) -> str:
    """Why a write-off of `amount` is refused (it is above what is outstanding)."""
    if amount > principal:
        return f"a charge-off above the loan's principal: {amount} > {principal}"
    return f"the write-off of {amount} exceeds the outstanding principal {outstanding}"


def write_off(
    session: Session,
    actor: Actor,
    loan_id: int,
    *,
    amount: Decimal,
    on: dt.date,
    key: str | None = None,
) -> LedgerEvent:
    """Write off (核销) principal of a defaulted loan."""
    request = {"action": "write_off", "loan": loan_id, "amount": amount, "on": on}
    if (found := replayed(session, key, request)) is not None:
        return found
    p = money_arg(amount, "amount")
    loan = _open_loan(session, loan_id)
    if loan.defaulted_on is None:
        raise Conflict(f"loan {loan.external_ref} has not defaulted; it cannot be written off")
    if p > loan.outstanding_principal:
        raise InvalidInput(write_off_too_large(p, loan.principal, loan.outstanding_principal),
                           field="amount")  # fmt: skip
    ev = record_event(
        session, actor, "loan", loan.id, "written_off", on, key=key, request=request, principal=p
    )
    loan.written_off = loan.written_off + p
    loan.outstanding_principal = loan.outstanding_principal - p
    loan.status = _status(loan)
    _uncover(session, loan, p)
    session.flush()
    return ev


def recover(
    session: Session,
    actor: Actor,
    loan_id: int,
    *,
    amount: Decimal,
    on: dt.date,
    key: str | None = None,
) -> LedgerEvent:
    """A recovery (追偿回收) on written-off principal."""
    request = {"action": "recover", "loan": loan_id, "amount": amount, "on": on}
    if (found := replayed(session, key, request)) is not None:
        return found
    p = money_arg(amount, "amount")
    loan = locked(session, Loan, loan_id, "loan")
    if p > loan.written_off - loan.recovered:
        raise InvalidInput(
            f"the recovery of {p} exceeds the unrecovered write-off "
            f"{loan.written_off - loan.recovered}",
            field="amount",
        )
    ev = record_event(
        session, actor, "loan", loan.id, "recovered", on, key=key, request=request, principal=p
    )
    loan.recovered = loan.recovered + p
    session.flush()
    return ev


def reverse(
    session: Session, actor: Actor, event_id: int, *, key: str | None = None
) -> LedgerEvent:
    """A correction: a reversing event that undoes a repayment, write-off or recovery. History
    is never rewritten; each event can be reversed once."""
    request = {"action": "reverse", "event": event_id}
    if (found := replayed(session, key, request)) is not None:
        return found
    if not actor.reason:
        raise InvalidInput("a reversal needs a reason", field="reason")
    original = get_row(session, LedgerEvent, event_id, "event")
    if original.kind not in REVERSIBLE:
        raise InvalidInput(
            f"event {event_id} is {original.kind}; only {', '.join(REVERSIBLE)} can be reversed",
            field="event_id",
        )
    done = select(LedgerEvent.id).where(LedgerEvent.reverses_id == event_id)
    if session.scalars(done).first() is not None:
        raise Conflict(f"event {event_id} has been reversed already")
    loan = locked(session, Loan, original.entity_id, "loan")
    p = original.principal or ZERO
    i = original.interest or ZERO
    ev = record_event(
        session,
        actor,
        "loan",
        loan.id,
        REVERSIBLE[original.kind],
        original.effective_on,
        key=key,
        request=request,
        principal=p,
        interest=i,
        reverses_id=original.id,
    )
    if original.kind == "repaid":
        if loan.status == "written_off":
            raise Conflict("the loan has been written off since; reverse the write-off first")
        _apply_repayment(session, loan, p, i, ev, sign=-1)
    elif original.kind == "written_off":
        if p > loan.written_off - loan.recovered:
            raise Conflict("recoveries exceed what would remain written off; reverse them first")
        loan.written_off = loan.written_off - p
        loan.outstanding_principal = loan.outstanding_principal + p
        loan.status = _status(loan)
        _uncover(session, loan, -p)
    else:
        loan.recovered = loan.recovered - p
    session.flush()
    return ev
