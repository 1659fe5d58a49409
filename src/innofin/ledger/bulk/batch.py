"""Each row of a bulk batch through the loan rules (`ledger.loans.rules_engine`), in order, on
the batch's running state; `record_many`, the entry of bank returns, the demo and nightly feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, now, record
from innofin.db import chain
from innofin.kernel.errors import InnofinError
from innofin.kernel.money import money_arg
from innofin.ledger.bulk.reading import LoanRow, State
from innofin.ledger.bulk.rows import (
    BulkResult,
    Classification,
    Default,
    Drawdown,
    LineRef,
    LoanId,
    LoanRef,
    NewLine,
    Recovery,
    Refused,
    Repayment,
    Row,
    WriteOff,
)
from innofin.ledger.bulk.writing import Pending, write
from innofin.ledger.journal import ZERO, fingerprint
from innofin.ledger.loans import engine as sched
from innofin.ledger.loans import lines_engine as line_rules
from innofin.ledger.loans import rules_engine as loan_rules
from innofin.ledger.loans import service


class _Refusal(Exception):
    def __init__(self, field: str, reason: str, follows: int | None = None) -> None:
        super().__init__(reason)
        self.field, self.reason, self.follows = field, reason, follows


def _refuse(exc: InnofinError, default: str) -> _Refusal:
    return _Refusal(getattr(exc, "field", None) or default, str(exc))


class _Batch:
    """One batch: checks rows in order through the rules and collects what to write."""

    def __init__(
        self, session: Session, actor: Actor, rules: sched.ClassificationRules, cascade: bool
    ) -> None:
        self.session, self.actor, self.rules, self.cascade = session, actor, rules, cascade
        self.state = State(session)
        self.pending = Pending(actor, now())
        self.batch_keys: dict[str, dict[str, Any]] = {}  # keys recorded by it: their requests
        self.temp = 0
        #: cascade: loans with a refused row, by the row's index
        self.tainted_loans: dict[int, int] = {}

    def _temp(self) -> int:
        self.temp -= 1
        return self.temp

    # ------------------------------------------------------------------ helpers

    def keyed(self, key: str | None, request: dict[str, Any]) -> bool:
        """Whether a row with this key was recorded already (replayed); a key recorded for
        another request is refused."""
        if key is None:
            return False
        if key in self.batch_keys:  # recorded earlier in this batch
            if self.batch_keys[key] != request:
                raise _Refusal("idempotency_key", "key used for another request")
            return True
        if key not in self.state.seen:
            return False
        if self.state.seen[key] != fingerprint(request):
            raise _Refusal("idempotency_key", "key used for another request")
        return True

    def remember(self, key: str | None, request: dict[str, Any]) -> None:
        if key is not None:
            self.batch_keys[key] = request

    def loan_of(self, ref: LoanId) -> int | None:
        if isinstance(ref, LoanRef):
            return self.state.loan_refs.get((ref.institution_id, ref.external_ref))
        return ref

    def _open(self, loan_id: int | None, ref: LoanId) -> LoanRow:
        loan = self.state.loans.get(loan_id) if loan_id is not None else None
        if loan is None:
            if isinstance(ref, LoanRef):
                reason = f"unknown loan {ref.external_ref!r} of this institution"
                raise _Refusal("loan_id", reason)
            raise _Refusal("loan_id", f"loan {ref} does not exist")
        return loan

    def take(
        self,
        outcome: loan_rules.Outcome,
        entity: str,
        entity_id: int,
        *,
        line_id: int,
        loan_id: int | None = None,
        commitment_id: int | None = None,
        keys: Sequence[tuple[str | None, dict[str, Any] | None]] = ((None, None),),
        actors: dict[str, Actor | None] | None = None,
    ) -> None:
        """Collect an outcome of the rules: its events (the i-th with the i-th key and
        request), limit entries, and the changes of the line's use, the pool's covered credit
        and the commitment's use."""
        s, p = self.state, self.pending
        events = [
            p.event(
                entity, entity_id, e.kind, e.on, actor=(actors or {}).get(e.by), key=key,
                request=request, amount=e.amount, principal=e.principal, interest=e.interest,
                **e.data,
            )
            for e, (key, request) in zip(outcome.events, keys, strict=True)
        ]  # fmt: skip
        sources = {"loan": loan_id, "credit_line": line_id}
        for entry in outcome.entries:
            ev = events[entry.event]
            account = line_id if entry.account == "credit_line" else commitment_id
            source = ev if entry.source == "event" else sources[entry.source]
            assert account is not None and source is not None
            p.entry(entry.account, account, entry.kind, entry.amount, entry.source, source, ev)
        if outcome.line_used:
            line = s.lines[line_id]
            s.lines[line_id] = loan_rules.evolve(line, used=line.used + outcome.line_used)
            s.line_change[line_id] = s.line_change.get(line_id, ZERO) + outcome.line_used
        if outcome.covered:
            pool_id = s.lines[line_id].pool_id
            assert pool_id is not None
            pool = s.pools[pool_id]
            pool.covered += outcome.covered
            pool.change += outcome.covered
        if outcome.commitment_used:
            assert commitment_id is not None
            c = s.commitments[commitment_id]
            used = c.used + outcome.commitment_used
            s.commitments[commitment_id] = loan_rules.evolve(c, used=used)
            s.commitment_change[commitment_id] = (
                s.commitment_change.get(commitment_id, ZERO) + outcome.commitment_used
            )
        if loan_id is not None and outcome.loan is not None and outcome.events:
            row = s.loans[loan_id]
            row.state = outcome.loan
            row.touched = True

    # ------------------------------------------------------------------ the rows

    def apply(self, r: Row) -> bool:
        """Check and collect one row; whether it was replayed. Refusals raise `_Refusal` or
        `loan_rules.Refused`."""
        if isinstance(r, NewLine):
            return self.new_line(r)
        if isinstance(r, Drawdown):
            return self.drawdown(r)
        loan_id = self.loan_of(r.loan_id)
        if self.cascade and loan_id in self.tainted_loans:
            first = self.tainted_loans[loan_id]
            raise _Refusal("loan_id", "an earlier row of this loan was refused", follows=first)
        if isinstance(r, Classification):
            self.classify(r, loan_id)
            return False
        return self.loan_event(r, loan_id)

    def new_line(self, r: NewLine) -> bool:
        spec = r.spec
        historical = r.maker is None
        request = service.line_request(spec, historical=historical, approval_ref=r.approval_ref)
        if self.keyed(r.key, request):
            return True
        try:
            limit = money_arg(spec.limit_amount, "limit_amount")
        except InnofinError as exc:
            raise _refuse(exc, "limit_amount") from None
        facts = self.state.line_facts(spec)
        keys: list[tuple[str | None, dict[str, Any] | None]] = [(r.key, request)]
        if historical:
            line, outcome = line_rules.load_line(spec, limit, facts, r.approval_ref)
            maker = f"{service.HISTORICAL}{self.actor.label}"[:120]
            checker = None
        else:
            assert r.maker is not None and r.checker is not None
            line, outcome = line_rules.propose_line(spec, limit, facts)
            line, approved = line_rules.approve_line(
                line,
                maker=r.maker.label,
                checker=r.checker.label,
                checker_institution_id=r.checker_institution_id,
                has_commitment=spec.commitment_id is not None,
            )
            outcome = _then(outcome, approved)
            maker, checker = r.maker.label, r.checker.label
        line_id = self._temp()
        self.state.line_refs[(spec.institution_id, spec.external_ref)] = line_id
        self.pending.new_lines.append(
            (
                line_id,
                {
                    "institution_id": spec.institution_id,
                    "external_ref": spec.external_ref,
                    "enterprise_id": spec.enterprise_id,
                    "programme_id": spec.programme_id,
                    "commitment_id": spec.commitment_id,
                    "product_id": spec.product_id,
                    "risk_pool_id": spec.risk_pool_id,
                    "tags": sorted(set(spec.tags)),
                    "currency": spec.currency,
                    "limit_amount": limit,
                    "used": ZERO,
                    "revolving": spec.revolving,
                    "opens_on": spec.opens_on,
                    "matures_on": spec.matures_on,
                    "rate_kind": spec.rate_kind,
                    "rate": spec.rate,
                    "spread_bp": spec.spread_bp,
                    "status": line.status,
                    "maker_id": maker,
                    "checker_id": checker,
                    "created_at": self.pending.at,
                },
            )
        )
        self.state.lines[line_id] = line
        if not historical:
            approve = {"action": "approve_line", "line": line_id, "approve": True}
            keys.append((r.approve_key, approve))
            self.remember(r.approve_key, approve)
        self.take(outcome, "credit_line", line_id, line_id=line_id,
                  commitment_id=spec.commitment_id, keys=keys,
                  actors={"maker": r.maker, "checker": r.checker})  # fmt: skip
        self.remember(r.key, request)
        return False

    def drawdown(self, r: Drawdown) -> bool:
        s = self.state
        if isinstance(r.line, LineRef):
            line_id = s.line_refs.get((r.line.institution_id, r.line.external_ref))
            if line_id is None:
                raise _Refusal("line", f"unknown credit line {r.line.external_ref!r}")
        else:
            line_id = r.line
        request = {
            "action": "draw", "line": line_id, "amount": r.amount, "drawn_on": r.drawn_on,
            "external_ref": r.external_ref, "months": r.months, "method": r.method,
            "day_count": r.day_count, "currency": r.currency,
        }  # fmt: skip
        if self.keyed(r.key, request):
            return True
        try:
            principal = money_arg(r.amount, "amount")
        except InnofinError as exc:
            raise _refuse(exc, "amount") from None
        line = s.lines.get(line_id)
        if line is None:
            raise _Refusal("line", f"credit line {line_id} does not exist")
        ref = (line.institution_id, r.external_ref)
        pool = None if line.pool_id is None else s.pools[line.pool_id].state()
        new, outcome = loan_rules.draw(
            line, line_id, pool, principal=principal, drawn_on=r.drawn_on,
            external_ref=r.external_ref, months=r.months, method=r.method,
            day_count=r.day_count, currency=r.currency, ref_taken=s.loan_ref_taken(ref),
        )  # fmt: skip
        loan_id = self._temp()
        s.loan_refs[ref] = loan_id
        self.pending.new_loans.append(
            (
                loan_id,
                {
                    "credit_line_id": line_id,
                    "institution_id": line.institution_id,
                    "enterprise_id": line.enterprise_id,
                    "external_ref": r.external_ref,
                    "currency": new.currency,
                    "principal": principal,
                    "drawn_on": r.drawn_on,
                    "matures_on": new.matures_on,
                    "months": new.months,
                    "method": new.method,
                    "day_count": new.day_count,
                    "annual_rate": new.annual_rate,
                    "status": new.state.status,
                    "principal_repaid": ZERO,
                    "interest_paid": ZERO,
                    "written_off": ZERO,
                    "recovered": ZERO,
                    "outstanding_principal": principal,
                    "category": new.state.category,
                    "defaulted_on": None,
                },
                new.schedule,
            )
        )
        s.loans[loan_id] = LoanRow(new.state, new.state, line_id, schedule=new.schedule)
        self.take(outcome, "loan", loan_id, line_id=line_id, loan_id=loan_id,
                  keys=[(r.key, request)])  # fmt: skip
        s.loans[loan_id].touched = False  # inserted as it is
        self.remember(r.key, request)
        return False

    def loan_event(self, r: Repayment | Default | WriteOff | Recovery, loan_id: int | None) -> bool:
        """A repayment, default, write-off or recovery through its rule."""
        ref = loan_id if loan_id is not None else r.loan_id
        request: dict[str, Any]
        if isinstance(r, Repayment):
            request = {"action": "repay", "loan": ref, "principal": r.principal,
                       "interest": r.interest, "paid_on": r.paid_on}  # fmt: skip
        elif isinstance(r, Default):
            request = {"action": "default", "loan": ref, "on": r.on}
        else:
            action = "write_off" if isinstance(r, WriteOff) else "recover"
            request = {"action": action, "loan": ref, "amount": r.amount, "on": r.on}
        if self.keyed(r.key, request):
            return True
        try:
            if isinstance(r, Repayment):
                p = money_arg(r.principal, "principal", positive=False)
                i = money_arg(r.interest, "interest", positive=False)
            elif not isinstance(r, Default):
                p = money_arg(r.amount, "amount")
        except InnofinError as exc:
            raise _refuse(exc, "principal" if isinstance(r, Repayment) else "amount") from None
        loan = self._open(loan_id, r.loan_id)
        assert loan_id is not None
        line = self.state.lines[loan.line_id]
        covered = line.pool_id is not None
        if isinstance(r, Repayment):
            outcome = loan_rules.repay(loan.state, revolving=line.revolving, covered=covered,
                                       principal=p, interest=i, paid_on=r.paid_on)  # fmt: skip
            if loan.schedule:
                loan.payments.append((r.paid_on, p + i))
        elif isinstance(r, Default):
            outcome = loan_rules.default(loan.state, on=r.on)
        elif isinstance(r, WriteOff):
            outcome = loan_rules.write_off(loan.state, covered=covered, amount=p, on=r.on)
        else:
            outcome = loan_rules.recover(loan.state, amount=p, on=r.on)
        self.take(outcome, "loan", loan_id, line_id=loan.line_id, loan_id=loan_id,
                  keys=[(r.key, request)])  # fmt: skip
        self.remember(r.key, request)
        return False

    def classify(self, r: Classification, loan_id: int | None) -> None:
        loan = self._open(loan_id, r.loan_id)
        assert loan_id is not None
        dpd = loan_rules.days_past_due(loan.state, loan.schedule, loan.payments, r.as_of)
        outcome = loan_rules.classify(loan.state, as_of=r.as_of, days_past_due=dpd,
                                      floor=r.floor, rules=self.rules)  # fmt: skip
        self.take(outcome, "loan", loan_id, line_id=loan.line_id, loan_id=loan_id,
                  keys=[(None, None)] * len(outcome.events))  # fmt: skip

    def taint(self, index: int, r: Row) -> None:
        """Cascade: a refused row of a loan refuses the later rows of that loan (a refused line
        or drawdown does so by itself: later rows cannot find what it did not make)."""
        if not isinstance(r, NewLine | Drawdown):
            loan_id = self.loan_of(r.loan_id)
            if loan_id is not None:
                self.tainted_loans.setdefault(loan_id, index)


def _then(first: loan_rules.Outcome, then: loan_rules.Outcome) -> loan_rules.Outcome:
    """Two outcomes on the same line, one after the other (a line proposed, then approved)."""
    shift = len(first.events)
    return loan_rules.Outcome(
        then.loan,
        first.events + then.events,
        first.entries + tuple(loan_rules.evolve(e, event=e.event + shift) for e in then.entries),
        first.line_used + then.line_used,
        first.covered + then.covered,
        first.commitment_used + then.commitment_used,
    )


def record_many(
    session: Session,
    actor: Actor,
    rows: Sequence[Row],
    rules: sched.ClassificationRules | None = None,
    *,
    cascade: bool = False,
) -> BulkResult:
    """Record `rows` in order; refused rows are returned, the others written (the caller's
    transaction decides whether a refusal rolls everything back)."""
    session.flush()
    chain.lock(session)  # before any row lock, as every ledger writer (see `db.chain`)
    batch = _Batch(session, actor, rules or sched.ClassificationRules(), cascade)
    batch.state.load(rows)
    refused: list[Refused] = []
    replayed = recorded = 0
    for index, r in enumerate(rows):
        try:
            if batch.apply(r):
                replayed += 1
            else:
                recorded += 1
        except _Refusal as exc:
            refused.append(Refused(index, exc.field, exc.reason, exc.follows))
        except loan_rules.Refused as exc:
            refused.append(Refused(index, exc.field, exc.reason))
        else:
            continue
        if cascade:
            batch.taint(index, r)
    pending = batch.pending
    if pending.events:
        write(session, batch.state, pending)
        # one audit row for the batch (the per-row story is in the ledger's events)
        record(
            session,
            actor,
            action="bulk_loan_events",
            entity="loan",
            entity_id=f"{len({e['entity_id'] for e in pending.events})} records",
            after={
                "events": len(pending.events),
                "new_lines": len(pending.new_lines),
                "new_loans": len(pending.new_loans),
                "replayed": replayed,
                "refused": len(refused),
            },
        )
    return BulkResult(recorded, replayed, refused)


def repay_many(session: Session, actor: Actor, rows: Sequence[Repayment]) -> BulkResult:
    """Repayments only: `record_many`."""
    return record_many(session, actor, rows)
