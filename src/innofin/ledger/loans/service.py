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
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now
from innofin.kernel.errors import Conflict, InvalidInput, NotFound
from innofin.kernel.money import money_arg
from innofin.ledger.coverage import pool_state
from innofin.ledger.journal import (
    ZERO,
    T,
    get_row,
    limit_entry,
    locked,
    record_event,
    replayed,
)
from innofin.ledger.loans import engine as sched
from innofin.ledger.loans import lines_engine as line_rules
from innofin.ledger.loans import rules_engine as loan_rules
from innofin.ledger.models import (
    Agreement,
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    Loan,
    LoanInstalment,
    RiskPool,
)
from innofin.ledger.queries import lender_ids, nameable
from innofin.ledger.scopes import line_pool_scope, line_product_scope
from innofin.registry.models import Enterprise, Institution, Product

#: events that can be reversed, and the kind of their reversal
REVERSIBLE = loan_rules.REVERSIBLE


# --------------------------------------------------------------------------- credit lines

LineSpec = line_rules.LineSpec
CURRENCY = loan_rules.CURRENCY
#: who a historical credit line names as its maker: the officer who loaded it
HISTORICAL = line_rules.HISTORICAL

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _ruled(rule: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """A loan rule's outcome; its refusal raised as the service's error."""
    try:
        return rule(*args, **kwargs)
    except loan_rules.Refused as refusal:
        raise refusal.error() from None


def line_request(spec: LineSpec, *, historical: bool, approval_ref: str | None) -> dict[str, Any]:
    """The request a new line's idempotency key stands for (`propose_line`, `load_line`)."""
    if historical:
        return {"action": "load_line", **spec.__dict__, "approval_ref": approval_ref}
    return {"action": "propose_line", **spec.__dict__}


def _line_facts(session: Session, spec: LineSpec) -> line_rules.LineFacts:
    """What the new-line rules read of the database (see `line_rules.LineFacts`); a commitment
    the line draws on is locked."""
    enterprise = session.get(Enterprise, spec.enterprise_id)
    taken = select(CreditLine.id).where(
        CreditLine.institution_id == spec.institution_id,
        CreditLine.external_ref == spec.external_ref,
    )
    lenders = lender_ids(session, spec.institution_id)
    product = None
    if spec.product_id is not None:
        product = _nameable(session, Product, spec.product_id, line_product_scope(lenders))
    pool = None
    if spec.risk_pool_id is not None:
        pool = _nameable(session, RiskPool, spec.risk_pool_id, line_pool_scope(lenders))
    commitment = None
    ident = spec.commitment_id
    if ident is not None and session.get(AgreementCommitment, ident) is not None:
        c = locked(session, AgreementCommitment, ident, "commitment")
        a = get_row(session, Agreement, c.agreement_id, "agreement")
        commitment = line_rules.CommitmentState(
            a.code, a.status, a.institution_id, a.currency, c.tech_field, c.period_start,
            c.period_end, c.amount, c.used,
        )  # fmt: skip
    return line_rules.LineFacts(
        enterprise=enterprise is not None,
        tech_field=None if enterprise is None else enterprise.tech_field,
        institution=session.get(Institution, spec.institution_id) is not None,
        ref_taken=session.scalars(taken).first() is not None,
        product_nameable=spec.product_id is None or product is not None,
        pool_nameable=pool is not None,
        pool_currency=None if pool is None else pool.currency,
        commitment=commitment,
    )


def _new_line(spec: LineSpec, state: loan_rules.LineState, maker: str) -> CreditLine:
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
        limit_amount=state.limit,
        used=ZERO,
        revolving=spec.revolving,
        opens_on=spec.opens_on,
        matures_on=spec.matures_on,
        rate_kind=spec.rate_kind,
        rate=spec.rate,
        spread_bp=spec.spread_bp,
        status=state.status,
        maker_id=maker,
        created_at=now(),
    )


def _enter_line(
    session: Session,
    actor: Actor,
    spec: LineSpec,
    *,
    historical: bool,
    approval_ref: str | None,
    key: str | None,
) -> LedgerEvent:
    """What `propose_line` and `load_line` share: the checks, the line, its event and the
    commitment's entry, as the rules decide."""
    request = line_request(spec, historical=historical, approval_ref=approval_ref)
    if (found := replayed(session, key, request)) is not None:
        return found
    limit = money_arg(spec.limit_amount, "limit_amount")
    facts = _line_facts(session, spec)
    if historical:
        state, outcome = _ruled(line_rules.load_line, spec, limit, facts, approval_ref)
        maker = f"{HISTORICAL}{actor.label}"[:120]
    else:
        state, outcome = _ruled(line_rules.propose_line, spec, limit, facts)
        maker = actor.label
    line = _new_line(spec, state, maker)
    session.add(line)
    session.flush()
    ev = _record(session, actor, outcome, "credit_line", line.id, key=key, request=request,
                 line_id=line.id, commitment_id=spec.commitment_id)  # fmt: skip
    if spec.commitment_id is not None and outcome.commitment_used:
        commitment = locked(session, AgreementCommitment, spec.commitment_id, "commitment")
        commitment.used = commitment.used + outcome.commitment_used
    session.flush()
    return ev


def propose_line(
    session: Session, actor: Actor, spec: LineSpec, *, key: str | None = None
) -> LedgerEvent:
    """A credit line entered by its maker (status pending); a commitment it draws on is reserved
    at once, so two lines can never promise the same committed yuan."""
    return _enter_line(session, actor, spec, historical=False, approval_ref=None, key=key)


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
    return _enter_line(session, actor, spec, historical=True, approval_ref=approval_ref, key=key)


def _nameable(session: Session, model: type[T], ident: int, scope: Any) -> T | None:
    """The row a credit line names if its institution may name it (`queries.nameable`), else
    None: the rules then answer as for a row that does not exist."""
    try:
        return nameable(session, model, ident, scope, "row")
    except NotFound:
        return None


def line_state(line: CreditLine) -> loan_rules.LineState:
    return loan_rules.LineState(
        line.institution_id, line.enterprise_id, line.external_ref, line.status, line.currency,
        line.opens_on, line.matures_on, line.limit_amount, line.used, line.rate, line.spread_bp,
        line.revolving, line.risk_pool_id,
    )  # fmt: skip


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
    state, outcome = _ruled(
        line_rules.approve_line,
        line_state(line),
        maker=line.maker_id,
        checker=actor.label,
        checker_institution_id=checker_institution_id,
        has_commitment=line.commitment_id is not None,
        approve=approve,
    )
    line.status = state.status
    line.checker_id = actor.label
    ev = _record(session, actor, outcome, "credit_line", line.id, key=key, request=request,
                 line_id=line.id, commitment_id=line.commitment_id)  # fmt: skip
    if line.commitment_id is not None:
        commitment = locked(session, AgreementCommitment, line.commitment_id, "commitment")
        commitment.used = commitment.used + outcome.commitment_used
    session.flush()
    return ev


# --------------------------------------------------------------------------- loans


disbursement_outside = loan_rules.disbursement_outside
write_off_too_large = loan_rules.write_off_too_large


def _record(
    session: Session,
    actor: Actor,
    outcome: loan_rules.Outcome,
    entity: str,
    entity_id: int,
    *,
    key: str | None,
    request: dict[str, Any] | None,
    line_id: int | None = None,
    loan_id: int | None = None,
    commitment_id: int | None = None,
    reverses_id: int | None = None,
) -> LedgerEvent:
    """The outcome's event (one: a service records one event per request) and its limit
    entries."""
    (e,) = outcome.events
    ev = record_event(
        session, actor, entity, entity_id, e.kind, e.on, key=key, request=request,
        amount=e.amount, principal=e.principal, interest=e.interest, reverses_id=reverses_id,
        **e.data,
    )  # fmt: skip
    sources = {"event": ev.id, "loan": loan_id, "credit_line": line_id}
    for entry in outcome.entries:
        account = line_id if entry.account == "credit_line" else commitment_id
        source = sources[entry.source]
        assert account is not None and source is not None
        limit_entry(session, entry.account, account, entry.kind, entry.amount, entry.source,
                    source, ev)  # fmt: skip
    return ev


def loan_state(loan: Loan) -> loan_rules.LoanState:
    return loan_rules.LoanState(
        loan.external_ref, loan.principal, loan.drawn_on, loan.status, loan.category,
        loan.defaulted_on, loan.outstanding_principal, loan.principal_repaid,
        loan.interest_paid, loan.written_off, loan.recovered,
    )  # fmt: skip


def _store(loan: Loan, state: loan_rules.LoanState | None) -> None:
    """The loan's cached columns as the rule left them (only those that changed are set)."""
    if state is None:
        return
    for column, value in (
        ("status", state.status),
        ("category", state.category),
        ("defaulted_on", state.defaulted_on),
        ("outstanding_principal", state.outstanding),
        ("principal_repaid", state.repaid),
        ("interest_paid", state.interest_paid),
        ("written_off", state.written_off),
        ("recovered", state.recovered),
    ):
        if getattr(loan, column) != value:
            setattr(loan, column, value)


def _apply(
    session: Session,
    actor: Actor,
    loan: Loan,
    line: CreditLine | None,
    outcome: loan_rules.Outcome,
    *,
    key: str | None = None,
    request: dict[str, Any] | None = None,
    reverses_id: int | None = None,
) -> LedgerEvent:
    """Record a loan event's outcome: its event and entries, the loan, the line's use and the
    covered credit of the line's pool."""
    ev = _record(
        session, actor, outcome, "loan", loan.id, key=key, request=request,
        line_id=loan.credit_line_id, loan_id=loan.id, reverses_id=reverses_id,
    )  # fmt: skip
    _store(loan, outcome.loan)
    if outcome.line_used:
        assert line is not None
        line.used = line.used + outcome.line_used
    if outcome.covered:
        assert line is not None and line.risk_pool_id is not None
        pool = locked(session, RiskPool, line.risk_pool_id, "risk pool")
        pool.covered_outstanding = pool.covered_outstanding + outcome.covered
    session.flush()
    return ev


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
    line = locked(session, CreditLine, line_id, "credit line")
    taken = select(Loan.id).where(
        Loan.institution_id == line.institution_id, Loan.external_ref == external_ref
    )
    pool = None
    if line.risk_pool_id is not None:
        pool = pool_state(locked(session, RiskPool, line.risk_pool_id, "risk pool"))
    new, outcome = _ruled(
        loan_rules.draw, line_state(line), line.id, pool, principal=principal,
        drawn_on=drawn_on, external_ref=external_ref, months=months, method=method,
        day_count=day_count, currency=currency,
        ref_taken=session.scalars(taken).first() is not None,
    )  # fmt: skip
    loan = Loan(
        credit_line_id=line.id,
        institution_id=line.institution_id,
        enterprise_id=line.enterprise_id,
        external_ref=external_ref,
        currency=new.currency,
        principal=principal,
        drawn_on=drawn_on,
        matures_on=new.matures_on,
        months=new.months,
        method=new.method,
        day_count=new.day_count,
        annual_rate=new.annual_rate,
        status=new.state.status,
        principal_repaid=ZERO,
        interest_paid=ZERO,
        written_off=ZERO,
        recovered=ZERO,
        outstanding_principal=principal,
        category=new.state.category,
    )
    session.add(loan)
    session.flush()
    session.add_all(
        LoanInstalment(
            loan_id=loan.id, seq=i.seq, due_on=i.due, principal=i.principal, interest=i.interest
        )
        for i in new.schedule
    )
    return _apply(session, actor, loan, line, outcome, key=key, request=request)


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
    loan = locked(session, Loan, loan_id, "loan")
    line = locked(session, CreditLine, loan.credit_line_id, "credit line")
    outcome = _ruled(
        loan_rules.repay, loan_state(loan), revolving=line.revolving,
        covered=line.risk_pool_id is not None, principal=p, interest=i, paid_on=paid_on,
    )  # fmt: skip
    return _apply(session, actor, loan, line, outcome, key=key, request=request)


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
    loan = locked(session, Loan, loan_id, "loan")
    outcome = _ruled(
        loan_rules.classify, loan_state(loan), as_of=as_of,
        days_past_due=days_past_due(session, loan, as_of), floor=floor, rules=rules,
    )  # fmt: skip
    if not outcome.events:
        return None
    return _apply(session, actor, loan, None, outcome)


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
    return loan_rules.days_past_due(loan_state(loan), schedule, payments, as_of)


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
    loan = locked(session, Loan, loan_id, "loan")
    outcome = _ruled(loan_rules.default, loan_state(loan), on=on)
    return _apply(session, actor, loan, None, outcome, key=key, request=request)


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
    loan = locked(session, Loan, loan_id, "loan")
    line = get_row(session, CreditLine, loan.credit_line_id, "credit line")
    outcome = _ruled(
        loan_rules.write_off, loan_state(loan), covered=line.risk_pool_id is not None,
        amount=p, on=on,
    )  # fmt: skip
    return _apply(session, actor, loan, line, outcome, key=key, request=request)


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
    outcome = _ruled(loan_rules.recover, loan_state(loan), amount=p, on=on)
    return _apply(session, actor, loan, None, outcome, key=key, request=request)


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
    line = locked(session, CreditLine, loan.credit_line_id, "credit line")
    outcome = _ruled(
        loan_rules.reverse, loan_state(loan), revolving=line.revolving,
        covered=line.risk_pool_id is not None, kind=original.kind,
        principal=original.principal or ZERO, interest=original.interest or ZERO,
        on=original.effective_on,
    )  # fmt: skip
    return _apply(session, actor, loan, line, outcome, key=key, request=request,
                  reverses_id=original.id)  # fmt: skip
