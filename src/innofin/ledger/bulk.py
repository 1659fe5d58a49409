"""Ledger events in bulk: new credit lines, drawdowns, repayments, classifications, defaults,
write-offs and recoveries with the same rules and the same events as the services
(`service.propose_line` + `service.approve_line`, or `service.load_line` for a bank's historical
book; `service.draw`, `service.repay`, `service.classify`, `service.mark_default`,
`service.write_off`, `service.recover`), for thousands of rows in one transaction (a bank
return, a nightly feed) with a handful of statements.

Rows may name loans and lines by the bank's own numbers (`LoanRef`, `LineRef`), so that a
drawdown can use a line entered earlier in the same batch and a repayment the loan a drawdown of
the batch made. The loans, lines, pools and commitments involved are locked and read once (with,
for the loans being classified, their schedules and live repayments); every row is checked in
order against the running state; then the new lines and loans are inserted, the events with one
multi-row statement (COPY on PostgreSQL), the schedules and limit entries with one executemany
each, and the caches changed with one UPDATE per row changed. A row with an idempotency key that
was recorded already is replayed (nothing changes); the same key with a different request is
refused. Order within a batch does not change the cost: rows of one loan may be interleaved
(line, drawdown, repayments, default, write-off) or grouped by kind.

With ``cascade`` (bank returns), a row refused makes the later rows of the same loan (and the
drawdowns of a refused line, and their loans' rows) refused too, so that a loan's history is
never applied in part (``--skip-invalid`` on a first load).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, jsonable, now, record
from innofin.db import chain
from innofin.kernel.errors import InnofinError
from innofin.kernel.money import money_arg
from innofin.ledger import queries
from innofin.ledger.journal import ZERO, fingerprint
from innofin.ledger.loans import engine as sched
from innofin.ledger.loans import service
from innofin.ledger.models import (
    CATEGORIES,
    METHODS,
    Agreement,
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    LimitEntry,
    Loan,
    LoanInstalment,
    RiskPool,
)
from innofin.ledger.pools import engine as pools
from innofin.ledger.scopes import line_pool_scope, line_product_scope
from innofin.registry.models import Enterprise, Institution, Product

CHUNK = 900  # ids per IN (…): under SQLite's default limit of bound parameters


@dataclass(frozen=True)
class LoanRef:
    """A loan by the bank's own number (the institution's, unique)."""

    institution_id: int
    external_ref: str


@dataclass(frozen=True)
class LineRef:
    """A credit line by the bank's own number."""

    institution_id: int
    external_ref: str


LoanId = int | LoanRef


@dataclass(frozen=True)
class Repayment:
    loan_id: LoanId
    principal: Decimal
    interest: Decimal
    paid_on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class Classification:
    """Classify as of a date (at least `floor`, a bank's own downgrade); an event only when the
    class changes, as `service.classify`."""

    loan_id: LoanId
    as_of: dt.date
    floor: str | None = None


@dataclass(frozen=True)
class Default:
    loan_id: LoanId
    on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class WriteOff:
    loan_id: LoanId
    amount: Decimal
    on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class Recovery:
    loan_id: LoanId
    amount: Decimal
    on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class NewLine:
    """A new credit line: proposed by `maker` and approved by `checker` (as `service.propose_line`
    then `service.approve_line`), or — with neither — a line of a bank's historical book loaded
    by the batch's actor (`service.load_line`, with the bank's `approval_ref`)."""

    spec: service.LineSpec
    key: str | None = None
    maker: Actor | None = None
    checker: Actor | None = None
    approve_key: str | None = None
    checker_institution_id: int | None = None
    approval_ref: str | None = None


@dataclass(frozen=True)
class Drawdown:
    line: int | LineRef
    amount: Decimal
    drawn_on: dt.date
    external_ref: str
    months: int
    method: str = "equal_principal"
    day_count: str = "ACT/360"
    currency: str = service.CURRENCY
    key: str | None = None


LoanEvent = Repayment | Classification | Default | WriteOff | Recovery
Row = LoanEvent | NewLine | Drawdown


@dataclass(frozen=True)
class Refused:
    index: int  # the row's position in the input
    field: str
    reason: str
    follows: int | None = None  # cascade: the refused row of the same loan it follows


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
    recovered: Decimal = ZERO
    principal: Decimal = ZERO
    #: changes made by this batch
    repaid: Decimal = ZERO
    interest: Decimal = ZERO
    written: Decimal = ZERO
    recovering: Decimal = ZERO
    touched: bool = False
    #: for loans being classified (and new ones): the planned instalments and the live repayments
    schedule: tuple[sched.Instalment, ...] = ()
    payments: list[tuple[dt.date, Decimal]] = field(default_factory=list)


@dataclass
class _Line:
    institution_id: int
    enterprise_id: int
    external_ref: str
    status: str
    currency: str
    opens_on: dt.date
    matures_on: dt.date
    limit: Decimal
    used: Decimal
    rate: Decimal
    spread_bp: int
    revolving: bool
    pool_id: int | None
    change: Decimal = ZERO  # used: + drawn, − released


@dataclass
class _Pool:
    code: str
    currency: str
    balance: Decimal
    covered: Decimal
    leverage: int | None
    change: Decimal = ZERO


@dataclass
class _Commitment:
    agreement: str
    agreement_status: str
    institution_id: int
    currency: str
    tech_field: str | None
    period_start: dt.date
    period_end: dt.date
    amount: Decimal
    used: Decimal
    change: Decimal = ZERO


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def _by_ref(session: Session, model: Any, refs: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
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


class _Refusal(Exception):
    def __init__(self, field: str, reason: str, follows: int | None = None) -> None:
        super().__init__(reason)
        self.field, self.reason, self.follows = field, reason, follows


def _refuse(exc: InnofinError, default: str) -> _Refusal:
    return _Refusal(getattr(exc, "field", None) or default, str(exc))


class _Batch:
    """The running state of one batch: checks rows in order and collects what to write."""

    def __init__(
        self, session: Session, actor: Actor, rules: sched.ClassificationRules, cascade: bool
    ) -> None:
        self.session, self.actor, self.rules, self.cascade = session, actor, rules, cascade
        self.at = now()
        self.events: list[dict[str, Any]] = []
        self.loans: dict[int, _Loan] = {}
        self.lines: dict[int, _Line] = {}
        self.pools: dict[int, _Pool] = {}
        self.commitments: dict[int, _Commitment] = {}
        self.tech_fields: dict[int, str | None] = {}  # enterprises of new lines
        self.institutions: set[int] = set()
        #: per institution of a new line, the pools and products its lines may name
        self.nameable: dict[int, tuple[set[int], set[int]]] = {}
        self.loan_refs: dict[tuple[int, str], int] = {}
        self.asked: set[tuple[int, str]] = set()
        self.line_refs: dict[tuple[int, str], int] = {}
        self.new_lines: list[tuple[int, dict[str, Any]]] = []
        self.new_loans: list[tuple[int, dict[str, Any], tuple[sched.Instalment, ...]]] = []
        #: limit entries; account and source ids may be temporary, event_id is an events index
        self.entries: list[dict[str, Any]] = []
        self.seen: dict[str, str] = {}  # keys recorded before the batch: their requests' digests
        self.batch_keys: dict[str, dict[str, Any]] = {}  # keys recorded by it: their requests
        self.temp = 0
        #: cascade: loans and lines with a refused row, by the row's index
        self.tainted_loans: dict[int, int] = {}

    def _temp(self) -> int:
        self.temp -= 1
        return self.temp

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
        self.loan_refs = _by_ref(s, Loan, loan_refs)
        self.asked = loan_refs  # loan numbers whose existence was asked
        self.line_refs = _by_ref(s, CreditLine, line_refs)
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
        self.loans = _load(s, [i for i in loan_ids if i], classified)
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
        for ids in _chunks([spec.enterprise_id for spec in new]):
            self.tech_fields.update(
                (ident, tech)
                for ident, tech in s.execute(
                    select(Enterprise.id, Enterprise.tech_field).where(Enterprise.id.in_(ids))
                )
            )
        for ids in _chunks([spec.institution_id for spec in new]):
            self.institutions.update(
                s.scalars(select(Institution.id).where(Institution.id.in_(ids)))
            )
        self._load_nameable(new)
        keys = [k for r in rows for k in _keys(r)]
        for i in range(0, len(keys), CHUNK):
            for key, data in s.execute(
                select(LedgerEvent.idempotency_key, LedgerEvent.data).where(
                    LedgerEvent.idempotency_key.in_(keys[i : i + CHUNK])
                )
            ):
                self.seen[key] = data.get("request")

    def _load_lines(self, ids: list[int]) -> None:
        c = CreditLine
        for chunk in _chunks(ids):
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
                self.lines[row[0]] = _Line(*values[1:])

    def _load_nameable(self, new: list[service.LineSpec]) -> None:
        """The pools and products each institution's new lines name that the access policy
        lets them name (`scopes.line_pool_scope`, `scopes.line_product_scope`)."""
        for inst in sorted({spec.institution_id for spec in new}):
            mine = [spec for spec in new if spec.institution_id == inst]
            lenders = queries.lender_ids(self.session, inst)
            pools_named = sorted({x.risk_pool_id for x in mine if x.risk_pool_id is not None})
            products_named = sorted({x.product_id for x in mine if x.product_id is not None})
            pools_ok: set[int] = set()
            products_ok: set[int] = set()
            for chunk in _chunks(pools_named):
                pools_ok.update(
                    self.session.scalars(
                        select(RiskPool.id).where(RiskPool.id.in_(chunk), line_pool_scope(lenders))
                    )
                )
            for chunk in _chunks(products_named):
                products_ok.update(
                    self.session.scalars(
                        select(Product.id).where(Product.id.in_(chunk), line_product_scope(lenders))
                    )
                )
            self.nameable[inst] = (pools_ok, products_ok)

    def _load_pools(self, ids: list[int]) -> None:
        p = RiskPool
        for chunk in _chunks(ids):
            for row in self.session.execute(
                select(p.id, p.code, p.currency, p.balance, p.covered_outstanding, p.leverage)
                .where(p.id.in_(chunk))
                .with_for_update()
            ):
                self.pools[row[0]] = _Pool(*row[1:])

    def _load_commitments(self, ids: list[int]) -> None:
        c, a = AgreementCommitment, Agreement
        for chunk in _chunks(ids):
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
                self.commitments[row[0]] = _Commitment(*row[1:])

    # ------------------------------------------------------------------ helpers

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

    def keyed(self, key: str | None, request: dict[str, Any]) -> bool:
        """Whether a row with this key was recorded already (replayed); a key recorded for
        another request is refused."""
        if key is None:
            return False
        if key in self.batch_keys:  # recorded earlier in this batch
            if self.batch_keys[key] != request:
                raise _Refusal("idempotency_key", "key used for another request")
            return True
        if key not in self.seen:
            return False
        if self.seen[key] != fingerprint(request):
            raise _Refusal("idempotency_key", "key used for another request")
        return True

    def remember(self, key: str | None, request: dict[str, Any]) -> None:
        if key is not None:
            self.batch_keys[key] = request

    def loan_of(self, ref: LoanId) -> int | None:
        if isinstance(ref, LoanRef):
            return self.loan_refs.get((ref.institution_id, ref.external_ref))
        return ref

    def _cover(self, pool_id: int | None, principal: Decimal) -> None:
        if pool_id is None or principal == 0:
            return
        pool = self.pools[pool_id]
        pool.covered -= principal
        pool.change -= principal

    # ------------------------------------------------------------------ the rows

    def apply(self, r: Row) -> bool:
        """Check and collect one row; whether it was replayed. Refusals raise `_Refusal`."""
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
        if isinstance(r, Repayment):
            return self.repay(r, loan_id)
        if isinstance(r, Default):
            return self.default(r, loan_id)
        if isinstance(r, WriteOff):
            return self.write_off(r, loan_id)
        return self.recover(r, loan_id)

    def new_line(self, r: NewLine) -> bool:
        spec = r.spec
        historical = r.maker is None
        if historical:
            request = {"action": "load_line", **spec.__dict__, "approval_ref": r.approval_ref}
        else:
            request = {"action": "propose_line", **spec.__dict__}
        if self.keyed(r.key, request):
            return True
        try:
            limit = money_arg(spec.limit_amount, "limit_amount")
        except InnofinError as exc:
            raise _refuse(exc, "limit_amount") from None
        if spec.matures_on <= spec.opens_on:
            raise _Refusal("matures_on", "matures_on must be after opens_on")
        if spec.rate_kind not in ("fixed", "lpr_spread"):
            raise _Refusal("rate_kind", "rate_kind must be fixed or lpr_spread")
        if not isinstance(spec.rate, Decimal) or not Decimal(0) <= spec.rate < 1:
            raise _Refusal("rate", "rate is an annual fraction (0.0345) as a Decimal")
        if spec.enterprise_id not in self.tech_fields:
            raise _Refusal("enterprise", f"enterprise {spec.enterprise_id} does not exist")
        if spec.institution_id not in self.institutions:
            raise _Refusal("institution", f"institution {spec.institution_id} does not exist")
        ref = (spec.institution_id, spec.external_ref)
        if ref in self.line_refs:
            raise _Refusal(
                "external_ref",
                f"credit line {spec.external_ref!r} exists already for this institution",
            )
        pools_ok, products_ok = self.nameable.get(spec.institution_id, (set(), set()))
        if spec.product_id is not None and spec.product_id not in products_ok:
            # another institution's product reads as one that does not exist
            raise _Refusal("product_id", f"product {spec.product_id} does not exist")
        if spec.risk_pool_id is not None:
            pool = self.pools.get(spec.risk_pool_id)
            if pool is None or spec.risk_pool_id not in pools_ok:
                # so does a pool of a programme the institution is not in
                raise _Refusal("risk_pool_id", f"risk pool {spec.risk_pool_id} does not exist")
            if pool.currency != spec.currency:
                raise _Refusal(
                    "currency",
                    f"currency {spec.currency} does not match the pool's {pool.currency}",
                )
        commitment = None
        if spec.commitment_id is not None:
            commitment = self.commitments.get(spec.commitment_id)
            if commitment is None:
                raise _Refusal("commitment_id", f"commitment {spec.commitment_id} does not exist")
            self._check_commitment(commitment, spec, limit)
        if not historical:
            assert r.maker is not None and r.checker is not None
            if r.checker.label == r.maker.label:
                raise _Refusal(
                    "checker",
                    f"maker-checker: {r.checker.label} entered credit line {spec.external_ref} "
                    "and may not also approve it",
                )
            if r.checker_institution_id not in (None, spec.institution_id):
                raise _Refusal("checker", "the checker must belong to the line's institution")
        line_id = self._temp()
        self.line_refs[ref] = line_id
        maker = f"{service.HISTORICAL}{self.actor.label}"[:120] if historical else None
        self.new_lines.append(
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
                    "status": "approved",
                    "maker_id": maker or (r.maker.label if r.maker else ""),
                    "checker_id": None if historical or r.checker is None else r.checker.label,
                    "created_at": self.at,
                },
            )
        )
        self.lines[line_id] = _Line(
            spec.institution_id, spec.enterprise_id, spec.external_ref, "approved",
            spec.currency, spec.opens_on, spec.matures_on, limit, ZERO, spec.rate,
            spec.spread_bp, spec.revolving, spec.risk_pool_id,
        )  # fmt: skip
        on = spec.opens_on
        if historical:
            ev = self.event(
                "credit_line", line_id, "line_loaded", on, key=r.key, request=request,
                amount=limit, historical=True, approval_ref=r.approval_ref,
            )  # fmt: skip
            if commitment is not None:
                assert spec.commitment_id is not None
                commitment.used += limit
                commitment.change += limit
                self.entry("commitment", spec.commitment_id, "consume", limit, "credit_line",
                           line_id, ev)  # fmt: skip
        else:
            proposed = self.event(
                "credit_line", line_id, "line_proposed", on, actor=r.maker, key=r.key,
                request=request, amount=limit,
            )  # fmt: skip
            approve = {"action": "approve_line", "line": line_id, "approve": True}
            approved = self.event(
                "credit_line", line_id, "line_approved", on, actor=r.checker, key=r.approve_key,
                request=approve, amount=limit,
            )  # fmt: skip
            if commitment is not None:
                assert spec.commitment_id is not None
                commitment.used += limit
                commitment.change += limit
                cid = spec.commitment_id
                self.entry("commitment", cid, "reserve", limit, "credit_line", line_id, proposed)
                self.entry("commitment", cid, "release", limit, "credit_line", line_id, approved)
                self.entry("commitment", cid, "consume", limit, "credit_line", line_id, approved)
            self.remember(r.approve_key, approve)
        self.remember(r.key, request)
        return False

    def _check_commitment(self, c: _Commitment, spec: service.LineSpec, limit: Decimal) -> None:
        if c.institution_id != spec.institution_id:  # another bank's: as if none
            raise _Refusal("commitment_id", f"commitment {spec.commitment_id} does not exist")
        if c.agreement_status != "signed":
            raise _Refusal("commitment_id", f"agreement {c.agreement} is {c.agreement_status}")
        if c.currency != spec.currency:
            raise _Refusal(
                "currency", f"currency {spec.currency} does not match the agreement's {c.currency}"
            )
        if not c.period_start <= spec.opens_on <= c.period_end:
            raise _Refusal(
                "opens_on",
                f"opens_on {spec.opens_on} is outside the commitment's period "
                f"{c.period_start}–{c.period_end}",
            )
        field = self.tech_fields.get(spec.enterprise_id)
        if c.tech_field is not None and field != c.tech_field:
            raise _Refusal(
                "commitment_id",
                f"the commitment is for field {c.tech_field}; the enterprise is in {field}",
            )
        if c.used + limit > c.amount:
            raise _Refusal(
                "commitment_id",
                f"the commitment has {c.amount - c.used} left; the line asks for {limit}",
            )

    def drawdown(self, r: Drawdown) -> bool:
        if isinstance(r.line, LineRef):
            line_id = self.line_refs.get((r.line.institution_id, r.line.external_ref))
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
        if r.method not in METHODS:
            raise _Refusal("method", f"method must be one of {', '.join(METHODS)}")
        if not isinstance(r.months, int) or r.months < 1:
            raise _Refusal("months", f"a term of {r.months} months: months must be ≥ 1")
        line = self.lines.get(line_id)
        if line is None:
            raise _Refusal("line", f"credit line {line_id} does not exist")
        if line.status != "approved":
            raise _Refusal(
                "line", f"credit line {line.external_ref} is {line.status}, not approved"
            )
        if r.currency != line.currency:
            raise _Refusal(
                "currency",
                f"currency {r.currency} does not match the credit line's {line.currency}",
            )
        problem = service.disbursement_outside(r.drawn_on, line.opens_on, line.matures_on)
        if problem is not None:
            raise _Refusal("drawn_on", problem)
        available = line.limit - line.used
        if principal > available:
            raise _Refusal(
                "amount", f"the drawdown of {principal} exceeds the line's available {available}"
            )
        ref = (line.institution_id, r.external_ref)
        if ref not in self.loan_refs and ref not in self.asked:
            self.loan_refs.update(_by_ref(self.session, Loan, {ref}))
            self.asked.add(ref)
        if ref in self.loan_refs:
            raise _Refusal(
                "external_ref", f"loan {r.external_ref!r} exists already for this institution"
            )
        rate = line.rate + Decimal(line.spread_bp) / Decimal(10_000)
        try:
            method: Any = r.method  # checked against METHODS above
            basis: Any = r.day_count  # build_schedule refuses an unknown one
            schedule = sched.build_schedule(principal, rate, r.drawn_on, r.months, method, basis)
        except ValueError as exc:
            raise _Refusal("day_count" if "basis" in str(exc) else "line", str(exc)) from None
        pool = self.pools.get(line.pool_id) if line.pool_id is not None else None
        if pool is not None and pool.leverage is not None:
            headroom = pools.leverage_headroom(pool.balance, pool.covered, Decimal(pool.leverage))
            if principal > headroom:
                raise _Refusal(
                    "line",
                    f"risk pool {pool.code}: the leverage limit ({pool.leverage} × its balance "
                    f"{pool.balance}) leaves {headroom} of new covered credit; the drawdown is "
                    f"{principal}",
                )
        loan_id = self._temp()
        self.loan_refs[ref] = loan_id
        self.new_loans.append(
            (
                loan_id,
                {
                    "credit_line_id": line_id,
                    "institution_id": line.institution_id,
                    "enterprise_id": line.enterprise_id,
                    "external_ref": r.external_ref,
                    "currency": r.currency,
                    "principal": principal,
                    "drawn_on": r.drawn_on,
                    "matures_on": schedule[-1].due,
                    "months": r.months,
                    "method": r.method,
                    "day_count": r.day_count,
                    "annual_rate": rate,
                    "status": "active",
                    "principal_repaid": ZERO,
                    "interest_paid": ZERO,
                    "written_off": ZERO,
                    "recovered": ZERO,
                    "outstanding_principal": principal,
                    "category": "pass",
                    "defaulted_on": None,
                },
                schedule,
            )
        )
        self.loans[loan_id] = _Loan(
            outstanding=principal, drawn_on=r.drawn_on, status="active", written_off=ZERO,
            line_id=line_id, category="pass", defaulted_on=None, external_ref=r.external_ref,
            principal=principal, schedule=schedule,
        )  # fmt: skip
        ev = self.event(
            "loan", loan_id, "drawn", r.drawn_on, key=r.key, request=request, principal=principal,
            credit_line_id=line_id,
        )  # fmt: skip
        line.used += principal
        line.change += principal
        self.entry("credit_line", line_id, "consume", principal, "loan", loan_id, ev)
        if pool is not None:
            pool.covered += principal
            pool.change += principal
        self.remember(r.key, request)
        return False

    def _open(self, loan_id: int | None, ref: LoanId) -> _Loan:
        loan = self.loans.get(loan_id) if loan_id is not None else None
        if loan is None:
            if isinstance(ref, LoanRef):
                reason = f"unknown loan {ref.external_ref!r} of this institution"
                raise _Refusal("loan_id", reason)
            raise _Refusal("loan_id", f"loan {ref} does not exist")
        return loan

    def repay(self, r: Repayment, loan_id: int | None) -> bool:
        request = {
            "action": "repay", "loan": loan_id if loan_id is not None else r.loan_id,
            "principal": r.principal, "interest": r.interest, "paid_on": r.paid_on,
        }  # fmt: skip
        if self.keyed(r.key, request):
            return True
        try:
            p = money_arg(r.principal, "principal", positive=False)
            i = money_arg(r.interest, "interest", positive=False)
        except InnofinError as exc:
            raise _refuse(exc, "principal") from None
        if p == 0 and i == 0:
            raise _Refusal("principal", "a repayment needs principal or interest")
        loan = self._open(loan_id, r.loan_id)
        assert loan_id is not None
        if loan.status != "active" or loan.outstanding == 0:
            status = "closed" if loan.outstanding == 0 else loan.status
            raise _Refusal("loan_id", f"loan {loan.external_ref} is {status}")
        if r.paid_on < loan.drawn_on:
            raise _Refusal(
                "paid_on", f"paid_on {r.paid_on} is before the drawdown on {loan.drawn_on}"
            )
        if p > loan.outstanding:
            raise _Refusal(
                "principal",
                f"the repayment of {p} exceeds the outstanding principal {loan.outstanding}",
            )
        loan.outstanding -= p
        loan.repaid += p
        loan.interest += i
        loan.touched = True
        if loan.outstanding == 0:
            loan.status = "written_off" if loan.written_off > 0 else "closed"
        if loan.schedule:
            loan.payments.append((r.paid_on, p + i))
        ev = self.event("loan", loan_id, "repaid", r.paid_on, key=r.key, request=request,
                        principal=p, interest=i)  # fmt: skip
        line = self.lines[loan.line_id]
        if line.revolving and p > 0:
            line.used -= p
            line.change -= p
            self.entry("credit_line", loan.line_id, "release", p, "event", ev, ev)
        self._cover(line.pool_id, p)
        self.remember(r.key, request)
        return False

    def default(self, r: Default, loan_id: int | None) -> bool:
        request = {"action": "default", "loan": loan_id if loan_id is not None else r.loan_id,
                   "on": r.on}  # fmt: skip
        if self.keyed(r.key, request):
            return True
        loan = self._open(loan_id, r.loan_id)
        assert loan_id is not None
        if loan.status != "active":
            raise _Refusal("loan_id", f"loan {loan.external_ref} is {loan.status}")
        if loan.defaulted_on is not None:
            raise _Refusal(
                "on", f"loan {loan.external_ref} defaulted on {loan.defaulted_on} already"
            )
        if r.on < loan.drawn_on:
            raise _Refusal("on", f"on {r.on} is before the drawdown on {loan.drawn_on}")
        self.event("loan", loan_id, "defaulted", r.on, key=r.key, request=request,
                   principal=loan.outstanding)  # fmt: skip
        loan.defaulted_on = r.on
        loan.touched = True
        if CATEGORIES.index(loan.category) < CATEGORIES.index("substandard"):
            loan.category = "substandard"
        self.remember(r.key, request)
        return False

    def write_off(self, r: WriteOff, loan_id: int | None) -> bool:
        request = {"action": "write_off", "loan": loan_id if loan_id is not None else r.loan_id,
                   "amount": r.amount, "on": r.on}  # fmt: skip
        if self.keyed(r.key, request):
            return True
        try:
            p = money_arg(r.amount, "amount")
        except InnofinError as exc:
            raise _refuse(exc, "amount") from None
        loan = self._open(loan_id, r.loan_id)
        assert loan_id is not None
        if loan.status != "active":
            raise _Refusal("loan_id", f"loan {loan.external_ref} is {loan.status}")
        if loan.defaulted_on is None:
            raise _Refusal(
                "loan_id",
                f"loan {loan.external_ref} has not defaulted; it cannot be written off",
            )
        if p > loan.outstanding:
            raise _Refusal(
                "amount", service.write_off_too_large(p, loan.principal, loan.outstanding)
            )
        self.event("loan", loan_id, "written_off", r.on, key=r.key, request=request, principal=p)
        loan.written_off += p
        loan.written += p
        loan.outstanding -= p
        loan.touched = True
        if loan.outstanding == 0:
            loan.status = "written_off"
        self._cover(self.lines[loan.line_id].pool_id, p)
        self.remember(r.key, request)
        return False

    def recover(self, r: Recovery, loan_id: int | None) -> bool:
        request = {"action": "recover", "loan": loan_id if loan_id is not None else r.loan_id,
                   "amount": r.amount, "on": r.on}  # fmt: skip
        if self.keyed(r.key, request):
            return True
        try:
            p = money_arg(r.amount, "amount")
        except InnofinError as exc:
            raise _refuse(exc, "amount") from None
        loan = self._open(loan_id, r.loan_id)
        assert loan_id is not None
        if p > loan.written_off - loan.recovered:
            raise _Refusal(
                "amount",
                f"the recovery of {p} exceeds the unrecovered write-off "
                f"{loan.written_off - loan.recovered}",
            )
        self.event("loan", loan_id, "recovered", r.on, key=r.key, request=request, principal=p)
        loan.recovered += p
        loan.recovering += p
        loan.touched = True
        self.remember(r.key, request)
        return False

    def classify(self, r: Classification, loan_id: int | None) -> None:
        if r.floor is not None and r.floor not in CATEGORIES:
            raise _Refusal("floor", f"floor must be one of {', '.join(CATEGORIES)}")
        loan = self._open(loan_id, r.loan_id)
        assert loan_id is not None
        floor = r.floor
        if loan.defaulted_on is not None and (
            floor is None or CATEGORIES.index(floor) < CATEGORIES.index("substandard")
        ):
            floor = "substandard"  # a defaulted loan stays non-performing
        dpd = _days_past_due(loan, r.as_of)
        category = sched.classify(dpd, self.rules, floor)  # type: ignore[arg-type]
        if category != loan.category:
            self.event("loan", loan_id, "classified", r.as_of, category=category,
                       previous=loan.category, days_past_due=dpd)  # fmt: skip
            loan.category = category
            loan.touched = True

    def taint(self, index: int, r: Row) -> None:
        """Cascade: a refused row of a loan refuses the later rows of that loan (a refused line
        or drawdown does so by itself: later rows cannot find what it did not make)."""
        if not isinstance(r, NewLine | Drawdown):
            loan_id = self.loan_of(r.loan_id)
            if loan_id is not None:
                self.tainted_loans.setdefault(loan_id, index)


def _keys(r: Row) -> list[str]:
    if isinstance(r, Classification):
        return []
    if isinstance(r, NewLine):
        return [k for k in (r.key, r.approve_key) if k is not None]
    return [r.key] if r.key is not None else []


def _load(session: Session, ids: Sequence[int], classified: set[int]) -> dict[int, _Loan]:
    loans: dict[int, _Loan] = {}
    for chunk in _chunks(ids):
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
                Loan.recovered,
                Loan.principal,
            )
            .where(Loan.id.in_(chunk))
            .with_for_update()
        ):
            loans[row[0]] = _Loan(*row[1:])
    for chunk in _chunks([i for i in classified if i in loans]):
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


def _days_past_due(loan: _Loan, as_of: dt.date) -> int:
    if loan.outstanding == 0:
        return 0  # repaid (early or on time): nothing is owed any more
    payments = sorted(loan.payments, key=lambda item: item[0])  # stable: by date, then id
    return sched.days_past_due(loan.schedule, payments, as_of)


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
    batch.load(rows)
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
            if cascade:
                batch.taint(index, r)
    if batch.events:
        _write(session, batch)
        # one audit row for the batch (the per-row story is in the ledger's events)
        record(
            session,
            actor,
            action="bulk_loan_events",
            entity="loan",
            entity_id=f"{len({e['entity_id'] for e in batch.events})} records",
            after={
                "events": len(batch.events),
                "new_lines": len(batch.new_lines),
                "new_loans": len(batch.new_loans),
                "replayed": replayed,
                "refused": len(refused),
            },
        )
    return BulkResult(recorded, replayed, refused)


def repay_many(session: Session, actor: Actor, rows: Sequence[Repayment]) -> BulkResult:
    """Repayments only: `record_many`."""
    return record_many(session, actor, rows)


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


def _write(session: Session, b: _Batch) -> None:
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
    _update_caches(session, b, line, loan)
    session.expire_all()  # the ORM's copies of these rows are stale now


def _update_caches(
    session: Session, b: _Batch, line: Callable[[int], int], loan: Callable[[int], int]
) -> None:
    t = _table(Loan)
    money = t.c.principal.type
    changes = [
        {
            "b_id": loan(loan_id),
            "b_repaid": state.repaid,
            "b_interest": state.interest,
            "b_written": state.written,
            "b_recovered": state.recovering,
            "b_status": state.status,
            "b_category": state.category,
            "b_defaulted": state.defaulted_on,
        }
        for loan_id, state in sorted(b.loans.items(), key=lambda item: loan(item[0]))
        if state.touched
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
        (CreditLine, "used", sorted((line(k), v.change) for k, v in b.lines.items() if v.change)),
        (
            AgreementCommitment,
            "used",
            sorted((k, v.change) for k, v in b.commitments.items() if v.change),
        ),
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
