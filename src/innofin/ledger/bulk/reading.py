"""What a bulk batch reads, once and under lock, before its rows are checked: the loans, lines,
pools and commitments the rows name (with, for the loans being classified, their schedules and
live repayments), the enterprises and institutions of new lines, what each institution's new
lines may name, and the idempotency keys already recorded. It becomes the batch's running state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.ledger import queries
from innofin.ledger.bulk.rows import Classification, Drawdown, LineRef, LoanRef, NewLine, Row
from innofin.ledger.journal import ZERO
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
from innofin.ledger.pools import engine as pools
from innofin.ledger.scopes import line_pool_scope, line_product_scope
from innofin.registry.models import Enterprise, Institution, Product

CHUNK = 900  # ids per IN (…): under SQLite's default limit of bound parameters


@dataclass
class LoanRow:
    """A loan of the batch: its state as the rules left it, as it was read (`base`: the cache
    update adds the difference), its line, and — for loans being classified, and new ones — the
    planned instalments and the live repayments."""

    state: loan_rules.LoanState
    base: loan_rules.LoanState
    line_id: int
    touched: bool = False
    schedule: tuple[sched.Instalment, ...] = ()
    payments: list[tuple[dt.date, Decimal]] = field(default_factory=list)


@dataclass
class PoolRow:
    code: str
    currency: str
    balance: Decimal
    covered: Decimal
    leverage: int | None
    change: Decimal = ZERO

    def state(self) -> loan_rules.PoolState:
        headroom = None
        if self.leverage is not None:
            headroom = pools.leverage_headroom(self.balance, self.covered, Decimal(self.leverage))
        return loan_rules.PoolState(self.code, self.balance, self.leverage, headroom)


def chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def by_ref(session: Session, model: Any, refs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """Ids of lines or loans by (institution, the bank's number)."""
    out: dict[tuple[int, str], int] = {}
    by_inst: dict[int, list[str]] = {}
    for inst, ref in refs:
        by_inst.setdefault(inst, []).append(ref)
    for inst, names in by_inst.items():
        for i in range(0, len(names), CHUNK):
            for ident, ref in session.execute(
                select(model.id, model.external_ref).where(
                    model.institution_id == inst, model.external_ref.in_(names[i : i + CHUNK])
                )
            ):
                out[(inst, ref)] = ident
    return out


def keys_of(r: Row) -> list[str]:
    if isinstance(r, Classification):
        return []
    if isinstance(r, NewLine):
        return [k for k in (r.key, r.approve_key) if k is not None]
    return [r.key] if r.key is not None else []


class State:
    """The running state of one batch: read once (`load`), then changed row by row."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.loans: dict[int, LoanRow] = {}
        self.lines: dict[int, loan_rules.LineState] = {}
        self.pools: dict[int, PoolRow] = {}
        self.commitments: dict[int, line_rules.CommitmentState] = {}
        #: changes of the lines' and commitments' use made by the batch
        self.line_change: dict[int, Decimal] = {}
        self.commitment_change: dict[int, Decimal] = {}
        self.tech_fields: dict[int, str | None] = {}  # enterprises of new lines
        self.institutions: set[int] = set()
        #: per institution of a new line, the pools and products its lines may name
        self.nameable: dict[int, tuple[set[int], set[int]]] = {}
        self.loan_refs: dict[tuple[int, str], int] = {}
        self.asked: set[tuple[int, str]] = set()
        self.line_refs: dict[tuple[int, str], int] = {}
        self.seen: dict[str, str] = {}  # keys recorded before the batch: their requests' digests

    def loan_ref_taken(self, ref: tuple[int, str]) -> bool:
        """Whether the institution has a loan of that number (asked once per number)."""
        if ref not in self.loan_refs and ref not in self.asked:
            self.loan_refs.update(by_ref(self.session, Loan, {ref}))
            self.asked.add(ref)
        return ref in self.loan_refs

    def line_facts(self, spec: line_rules.LineSpec) -> line_rules.LineFacts:
        """What the new-line rules read, from the batch's state."""
        pools_ok, products_ok = self.nameable.get(spec.institution_id, (set(), set()))
        pool = None if spec.risk_pool_id is None else self.pools.get(spec.risk_pool_id)
        return line_rules.LineFacts(
            enterprise=spec.enterprise_id in self.tech_fields,
            tech_field=self.tech_fields.get(spec.enterprise_id),
            institution=spec.institution_id in self.institutions,
            ref_taken=(spec.institution_id, spec.external_ref) in self.line_refs,
            product_nameable=spec.product_id in products_ok,
            pool_nameable=spec.risk_pool_id in pools_ok,
            pool_currency=None if pool is None else pool.currency,
            commitment=(
                None if spec.commitment_id is None else self.commitments.get(spec.commitment_id)
            ),
        )

    # ------------------------------------------------------------------ reading

    def load(self, rows: Sequence[Row]) -> None:
        s = self.session
        loan_refs: set[tuple[int, str]] = set()
        line_refs: set[tuple[int, str]] = set()
        for r in rows:
            if isinstance(r, NewLine):
                line_refs.add((r.spec.institution_id, r.spec.external_ref))
            elif isinstance(r, Drawdown):
                if isinstance(r.line, LineRef):
                    line_refs.add((r.line.institution_id, r.line.external_ref))
                    # is the new loan's number taken? (a drawdown on a line given by id asks
                    # when it comes)
                    loan_refs.add((r.line.institution_id, r.external_ref))
            elif isinstance(r.loan_id, LoanRef):
                loan_refs.add((r.loan_id.institution_id, r.loan_id.external_ref))
        self.loan_refs = by_ref(s, Loan, loan_refs)
        self.asked = loan_refs  # loan numbers whose existence was asked
        self.line_refs = by_ref(s, CreditLine, line_refs)
        loan_ids = [
            self.loan_refs.get((r.loan_id.institution_id, r.loan_id.external_ref), 0)
            if isinstance(r.loan_id, LoanRef)
            else r.loan_id
            for r in rows
            if not isinstance(r, NewLine | Drawdown)
        ]
        classified = {
            i
            for r, i in zip(
                (r for r in rows if not isinstance(r, NewLine | Drawdown)), loan_ids, strict=False
            )
            if isinstance(r, Classification)
        }
        self.loans = _load_loans(s, [i for i in loan_ids if i], classified)
        line_ids = {loan.line_id for loan in self.loans.values()}
        for r in rows:
            if isinstance(r, Drawdown):
                if isinstance(r.line, LineRef):
                    found = self.line_refs.get((r.line.institution_id, r.line.external_ref))
                    if found is not None:
                        line_ids.add(found)
                else:
                    line_ids.add(r.line)
        self._load_lines(sorted(line_ids))
        new = [r.spec for r in rows if isinstance(r, NewLine)]
        pool_ids = {line.pool_id for line in self.lines.values() if line.pool_id is not None}
        pool_ids |= {spec.risk_pool_id for spec in new if spec.risk_pool_id is not None}
        self._load_pools(sorted(pool_ids))
        self._load_commitments(
            sorted({spec.commitment_id for spec in new if spec.commitment_id is not None})
        )
        for ids in chunks([spec.enterprise_id for spec in new]):
            self.tech_fields.update(
                (ident, tech)
                for ident, tech in s.execute(
                    select(Enterprise.id, Enterprise.tech_field).where(Enterprise.id.in_(ids))
                )
            )
        for ids in chunks([spec.institution_id for spec in new]):
            self.institutions.update(
                s.scalars(select(Institution.id).where(Institution.id.in_(ids)))
            )
        self._load_nameable(new)
        keys = [k for r in rows for k in keys_of(r)]
        for i in range(0, len(keys), CHUNK):
            for key, data in s.execute(
                select(LedgerEvent.idempotency_key, LedgerEvent.data).where(
                    LedgerEvent.idempotency_key.in_(keys[i : i + CHUNK])
                )
            ):
                self.seen[key] = data.get("request")

    def _load_lines(self, ids: list[int]) -> None:
        c = CreditLine
        for chunk in chunks(ids):
            for row in self.session.execute(
                select(
                    c.id,
                    c.institution_id,
                    c.enterprise_id,
                    c.external_ref,
                    c.status,
                    c.currency,
                    c.opens_on,
                    c.matures_on,
                    c.limit_amount,
                    c.used,
                    c.rate,
                    c.spread_bp,
                    c.revolving,
                    c.risk_pool_id,
                )
                .where(c.id.in_(chunk))
                .with_for_update()
            ):
                values: tuple[Any, ...] = tuple(row)
                self.lines[row[0]] = loan_rules.LineState(*values[1:])

    def _load_nameable(self, new: list[line_rules.LineSpec]) -> None:
        """The pools and products each institution's new lines name that the access policy
        lets them name (`scopes.line_pool_scope`, `scopes.line_product_scope`)."""
        for inst in sorted({spec.institution_id for spec in new}):
            mine = [spec for spec in new if spec.institution_id == inst]
            lenders = queries.lender_ids(self.session, inst)
            pools_named = sorted({x.risk_pool_id for x in mine if x.risk_pool_id is not None})
            products_named = sorted({x.product_id for x in mine if x.product_id is not None})
            pools_ok: set[int] = set()
            products_ok: set[int] = set()
            for chunk in chunks(pools_named):
                pools_ok.update(
                    self.session.scalars(
                        select(RiskPool.id).where(RiskPool.id.in_(chunk), line_pool_scope(lenders))
                    )
                )
            for chunk in chunks(products_named):
                products_ok.update(
                    self.session.scalars(
                        select(Product.id).where(Product.id.in_(chunk), line_product_scope(lenders))
                    )
                )
            self.nameable[inst] = (pools_ok, products_ok)

    def _load_pools(self, ids: list[int]) -> None:
        p = RiskPool
        for chunk in chunks(ids):
            for row in self.session.execute(
                select(p.id, p.code, p.currency, p.balance, p.covered_outstanding, p.leverage)
                .where(p.id.in_(chunk))
                .with_for_update()
            ):
                self.pools[row[0]] = PoolRow(*row[1:])

    def _load_commitments(self, ids: list[int]) -> None:
        c, a = AgreementCommitment, Agreement
        for chunk in chunks(ids):
            for row in self.session.execute(
                select(
                    c.id,
                    a.code,
                    a.status,
                    a.institution_id,
                    a.currency,
                    c.tech_field,
                    c.period_start,
                    c.period_end,
                    c.amount,
                    c.used,
                )
                .join(a, a.id == c.agreement_id)
                .where(c.id.in_(chunk))
                .with_for_update(of=c)
            ):
                values: tuple[Any, ...] = tuple(row)
                self.commitments[row[0]] = line_rules.CommitmentState(*values[1:])


def _load_loans(session: Session, ids: Sequence[int], classified: set[int]) -> dict[int, LoanRow]:
    loans: dict[int, LoanRow] = {}
    for chunk in chunks(ids):
        for row in session.execute(
            select(
                Loan.id,
                Loan.credit_line_id,
                Loan.external_ref,
                Loan.principal,
                Loan.drawn_on,
                Loan.status,
                Loan.category,
                Loan.defaulted_on,
                Loan.outstanding_principal,
                Loan.principal_repaid,
                Loan.interest_paid,
                Loan.written_off,
                Loan.recovered,
            )
            .where(Loan.id.in_(chunk))
            .with_for_update()
        ):
            values: tuple[Any, ...] = tuple(row)
            state = loan_rules.LoanState(*values[2:])
            loans[row[0]] = LoanRow(state, state, row[1])
    for chunk in chunks([i for i in classified if i in loans]):
        schedules: dict[int, list[sched.Instalment]] = {i: [] for i in chunk}
        for loan_id, seq, due, p, i in session.execute(
            select(
                LoanInstalment.loan_id,
                LoanInstalment.seq,
                LoanInstalment.due_on,
                LoanInstalment.principal,
                LoanInstalment.interest,
            )
            .where(LoanInstalment.loan_id.in_(chunk))
            .order_by(LoanInstalment.loan_id, LoanInstalment.seq)
        ):
            schedules[loan_id].append(sched.Instalment(seq, due, p, i, p + i, ZERO))
        for loan_id, items in schedules.items():
            loans[loan_id].schedule = tuple(items)
        e = LedgerEvent
        undone = select(e.reverses_id).where(
            e.entity == "loan", e.entity_id.in_(chunk), e.reverses_id.is_not(None)
        )
        for loan_id, on, paid_p, paid_i in session.execute(
            select(e.entity_id, e.effective_on, e.principal, e.interest)
            .where(
                e.entity == "loan",
                e.entity_id.in_(chunk),
                e.kind == "repaid",
                e.id.not_in(undone),
            )
            .order_by(e.effective_on, e.id)
        ):
            loans[loan_id].payments.append((on, (paid_p or ZERO) + (paid_i or ZERO)))
    return loans
