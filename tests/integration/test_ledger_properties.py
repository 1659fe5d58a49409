"""Properties of the ledger over random event sequences (SQLite, a fresh database per example).

A Hypothesis state machine proposes and decides credit lines (revolving or not, on a commitment
or not, covered by a pool or not), draws, repays, defaults, writes off, recovers and reverses
loans, funds pools, files, decides and pays claims, shares recoveries and retries keyed requests;
many of these are refused (bad amounts, dates, states, maker-checker). After every step:

* a refused operation (InvalidInput, Conflict, Forbidden, NotFound) changed nothing at all (every
  row of the ledger's tables and of the audit trail is as before, and every other table has as
  many rows), a successful one recorded at least one event, and a keyed request sent again
  returns its first event and changes nothing;
* a loan's outstanding principal is principal − repaid − written off, never negative, and each
  cached amount is the sum of its events less their reversals (read from ledger_event directly);
* a credit line's and a commitment's ``used`` stay within their limits and are explained by the
  loans and lines on them;
* a pool's paid out is the sum of its paid claims, its balance contributed − paid out + recovered
  (≥ 0), its contributors' positions add up to it, and its covered credit outstanding is the
  outstanding principal of the loans it covers;
* the outstanding principal split by zone, by institution and by technology field (grouped in
  SQL) adds up to the total;
* replaying the events from scratch reproduces every cache (`replay.check` is empty).

Each example starts from a copy of one database where `build_world` ran (lines of every kind with
loans on them, defaulted loans with claims in every state, a written-off loan), so that short
sequences reach deep states.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

import ledger_world as lw
from conftest import _sqlite_engine
from factories import enterprise, zone
from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.ledger import replay
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import (
    METHODS,
    AgreementCommitment,
    CreditLine,
    LedgerEvent,
    Loan,
    PoolClaim,
    RiskPool,
)
from innofin.ledger.pools import engine as pool_engine
from innofin.ledger.pools import service as pools
from innofin.ledger.programmes import service as programme_service
from innofin.registry.models import Enterprise, Institution

D = dt.date
M, C = lw.MAKER, lw.CHECKER
FIXER = Actor(label="api:maker", channel="api", user_id=1, reason="the bank sent a wrong return")
ZERO = Decimal("0.00")
START = D(2024, 1, 1)
#: what a refused operation may raise (anything else fails the test)
REFUSED = (InvalidInput, Conflict, Forbidden, NotFound)
MISSING = 999_999  # an id no row has
POOL2_CAP = Decimal("300000.00")  # pool 2's cap per institution and year
#: tables compared row by row around a refused operation (the others by their number of rows)
FULL = (
    "agreement_commitment", "audit_event", "credit_line", "ledger_event", "limit_entry", "loan",
    "loan_instalment", "pool_claim", "risk_pool",
)  # fmt: skip

#: money: whole fen, mostly small or anything up to a million yuan
FEN = st.one_of(st.integers(1, 500), st.integers(1, 10**8)).map(lambda f: Decimal(f).scaleb(-2))
#: an amount, or "all" / "half" of what the row allows (resolved when the step runs)
PART = st.one_of(st.sampled_from(["all", "half"]), FEN)
IDX = st.integers(0, 40)  # an index into the rows made so far; 40 names a missing row
RARE = st.sampled_from([False, False, False, False, False, True])
OFTEN = st.sampled_from([True, True, True, True, False])
TAGS = st.frozensets(st.sampled_from(["first_loan", "pure_credit", "ip_pledge", "guaranteed"]))


def day(offset: int, base: dt.date = START) -> dt.date:
    return base + dt.timedelta(days=offset)


def pick(ids: list[int], i: int) -> int:
    return MISSING if not ids or i == 40 else ids[i % len(ids)]


def part(amount: Decimal | str, whole: Decimal) -> Decimal:
    if amount == "all":
        return whole
    if amount == "half":
        return (whole / 2).quantize(ZERO)
    assert isinstance(amount, Decimal)
    return amount


def _sums(rows: Any) -> dict[Any, Decimal]:
    """(key, SQL sum) rows as a dict of Decimal (None, an empty sum, as 0)."""
    out: dict[Any, Decimal] = {}
    for *key, total in rows:
        assert total is None or isinstance(total, Decimal), f"{key}: {total!r} is not a Decimal"
        out[key[0] if len(key) == 1 else tuple(key)] = total if total is not None else ZERO
    return out


def _spec(ref: str, bank: int, firm: int, limit: str, **more: Any) -> service.LineSpec:
    return service.LineSpec(
        institution_id=bank,
        external_ref=ref,
        enterprise_id=firm,
        limit_amount=Decimal(limit),
        opens_on=START,
        matures_on=day(3 * 365),
        rate=Decimal("0.0365"),
        **more,
    )


def build_world(engine: Engine) -> dict[str, list[int]]:
    """The ledger world (`ledger_world.build`) with a second zone, enterprises in other fields
    (one in no zone and no field), a second bank with two commitments (one for a field only),
    a second pool with two contributors and a cap per institution and year, approved lines of
    every kind with loans on them, a pending line, claims on defaulted covered loans, and a
    loan repaid in part, written off and recovered in part."""
    w = lw.build(engine, commitment="3000000.00", pool_funds="50000.00", leverage=10)
    with unit_of_work(engine, actor=M) as s:
        z2 = zone("Z002")
        s.add(z2)
        s.flush()
        firms = [
            enterprise(10, zone_id=z2.id, tech_field="bio_medicine"),
            enterprise(11, zone_id=z2.id, tech_field="new_materials"),
            enterprise(12, zone_id=None, tech_field=None),
        ]
        bank2 = Institution(code="B002", name="第二银行", kind="bank")
        s.add_all([*firms, bank2])
        s.flush()
        ag = programme_service.sign_agreement(
            s,
            M,
            code="AG-2",
            kind="zone_bank",
            institution_id=bank2.id,
            counterparty="示例高新区管委会",
            signed_on=START,
            starts_on=START,
            ends_on=D(2026, 12, 31),
            zone_id=z2.id,
            commitments=[
                programme_service.CommitmentSpec(Decimal("2000000.00"), START, D(2026, 12, 31)),
                programme_service.CommitmentSpec(
                    Decimal("1000000.00"), START, D(2026, 12, 31), tech_field="bio_medicine"
                ),
            ],
        )
        s.flush()
        commitments = s.scalars(
            select(AgreementCommitment.id)
            .where(AgreementCommitment.agreement_id == ag.id)
            .order_by(AgreementCommitment.id)
        ).all()
        rules = pool_engine.early_province_county_rules(
            Decimal("0.5"), leverage=None, cap_per_institution_year=POOL2_CAP
        )
        # bank 2 takes part in pool 2's programme: its lines may name pool 2, bank 1's may not
        prog2 = programme_service.create_programme(
            s, M, code="PRG-2", name="省市共建计划", sponsor="示例高新区管委会",
            starts_on=START, ends_on=D(2026, 12, 31), institution_ids=[bank2.id],
        )  # fmt: skip
        pool2 = pools.create_pool(
            s, M, code="POOL-2", name="省市共建资金池", rules=rules, programme_id=prog2.id,
            opened_on=START,
        )  # fmt: skip
        for who, amount in (("province", "60000.00"), ("county", "40000.00")):
            pools.contribute(s, M, pool2.id, contributor=who, amount=Decimal(amount), on=START)
        ids: dict[str, list[int]] = {
            "firms": [*w.enterprise_ids, *(f.id for f in firms)],
            "banks": [w.bank_id, bank2.id],
            "commitments": [w.commitment_id, *commitments],
            "pools": [w.pool_id, pool2.id],
        }
    b1, b2 = ids["banks"]
    f = ids["firms"]
    p1, p2 = ids["pools"]
    specs = [  # (spec, approved, drawdowns)
        (_spec("S-1", b1, f[0], "2000000.00", commitment_id=w.commitment_id), True,
         ["300000.00", "50000.00"]),
        (_spec("S-2", b1, f[1], "500000.00", revolving=True, risk_pool_id=p1,
               tags=("first_loan",)), True, ["60000.00", "80000.00"]),
        (_spec("S-3", b2, f[3], "800000.00", commitment_id=commitments[1], risk_pool_id=p2),
         True, ["400000.00", "0.05"]),
        (_spec("S-4", b2, f[5], "300000.00", revolving=True), True, ["100000.00"]),
        (_spec("S-5", b1, f[2], "700000.00", commitment_id=w.commitment_id), False, []),
    ]  # fmt: skip
    lines, approved, loans = [], [], {}
    for spec, approve, amounts in specs:
        ev = perform(engine, lambda s, spec=spec: service.propose_line(s, M, spec), M)
        lines.append(ev.entity_id)
        if approve:
            perform(engine, lambda s, i=ev.entity_id: service.approve_line(s, C, i), C)
            approved.append(ev.entity_id)
        for n, amount in enumerate(amounts):
            ref = f"{spec.external_ref}-{n}"
            loans[ref] = lw.draw(w, ev.entity_id, amount, ref, months=12)
    # covered loans in default, with a claim paid (pool 1), approved (pool 2) and pending
    claims = []
    for ref, pool, steps in (("S-2-0", p1, 3), ("S-3-0", p2, 2), ("S-3-1", p2, 1)):
        loan_id = loans[ref]
        perform(engine, lambda s, i=loan_id: service.mark_default(s, M, i, on=D(2024, 8, 1)), M)
        claim = perform(
            engine,
            lambda s, p=pool, i=loan_id: pools.file_claim(s, M, p, i, on=D(2024, 9, 1)),
            M,
        ).entity_id
        claims.append(claim)
        if steps > 1:
            perform(
                engine,
                lambda s, c=claim: pools.decide_claim(s, C, c, approve=True, on=D(2024, 9, 2)),
                C,
            )
        if steps > 2:
            perform(engine, lambda s, c=claim: pools.pay_claim(s, C, c, on=D(2024, 9, 3)), C)
    # a loan partly repaid, then written off and partly recovered: reversing its repayment or
    # its write-off is refused after the reversing event was written
    loan_id = loans["S-1-1"]
    reversible = [
        perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("10000.00"),
                interest=Decimal("300.00"), paid_on=D(2024, 3, 1)), M).id,
        perform(engine, lambda s: service.mark_default(s, M, loan_id, on=D(2024, 6, 1)), M).id,
        perform(engine, lambda s: service.write_off(s, M, loan_id, amount=Decimal("40000.00"),
                on=D(2024, 9, 1)), M).id,
        perform(engine, lambda s: service.recover(s, M, loan_id, amount=Decimal("5000.00"),
                on=D(2024, 12, 1)), M).id,
    ]  # fmt: skip
    del reversible[1]  # the default cannot be reversed
    with unit_of_work(engine) as s:
        others = list(
            s.scalars(
                select(LedgerEvent.id).where(LedgerEvent.id.not_in(reversible)).order_by(text("1"))
            )
        )
        assert replay.check(s) == []
    return {
        **ids,
        "lines": lines,
        "approved": approved,
        "loans": list(loans.values()),
        "claims": claims,
        "reversible": reversible,
        "others": others,
    }


class LedgerMachine(RuleBasedStateMachine):
    """One world per example; the rules are ledger operations, valid or not."""

    #: a database where `build_world` ran, and the ids it made
    world: ClassVar[Path]
    ids: ClassVar[dict[str, list[int]]]
    workdir: ClassVar[Path]

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(dir=self.workdir))
        self.engine = _sqlite_engine(self.world, self.dir)
        self.firms = self.ids["firms"]
        self.banks = self.ids["banks"]
        self.commitments = self.ids["commitments"]
        self.pools = self.ids["pools"]
        self.lines = list(self.ids["lines"])
        self.approved = list(self.ids["approved"])
        self.loans = list(self.ids["loans"])
        self.claims = list(self.ids["claims"])
        self.reversible = list(self.ids["reversible"])  # repaid / written_off / recovered
        self.others = list(self.ids["others"])  # events that cannot be reversed
        #: keyed requests that succeeded: (label, action, actor, the event they recorded)
        self.keyed: list[tuple[str, Callable[[Session], LedgerEvent], Actor, int]] = []
        self.n = 0
        #: the database as the last step left it, and whether that step changed it
        self.last = self._snapshot()
        self.changed = True

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ----------------------------------------------------------------------- helpers

    def _ref(self, prefix: str, dup: bool) -> str:
        if not dup:
            self.n += 1
        return f"{prefix}-{max(self.n, 1)}"

    def _row(self, model: Any, ident: int) -> Any:
        with unit_of_work(self.engine) as s:
            return s.get(model, ident)

    def _snapshot(self) -> dict[str, list[Any]]:
        """Every row of the ledger's tables and of the audit trail; the number of rows of every
        other table."""
        with self.engine.connect() as conn:
            names = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).scalars()
            others = [n for n in names if n not in FULL]
            counts = " UNION ALL ".join(f"SELECT '{n}', count(*) FROM \"{n}\"" for n in others)
            out = {n: conn.exec_driver_sql(f'SELECT * FROM "{n}"').all() for n in FULL}
            out["counts"] = conn.exec_driver_sql(counts).all()
            return out

    def _attempt(
        self, label: str, action: Callable[[Session], Any], actor: Actor
    ) -> LedgerEvent | None:
        """Run one operation; a refused one must leave every row as it was, and a successful
        one (other than a classification that changed nothing) records an event."""
        before = self.last  # nothing writes between steps (the invariants only read)
        try:
            result = perform(self.engine, action, actor)
        except REFUSED as exc:
            event(f"{label}: {type(exc).__name__}")
            after = self._snapshot()
            changed = sorted(t for t in before if before[t] != after[t])
            assert not changed, f"{label} was refused ({exc}) but changed {changed}"
            self.changed = False
            return None
        event(f"{label}: ok")
        self.last = after = self._snapshot()
        if result is None:
            assert after == before, f"{label} returned nothing but changed the database"
        else:
            assert len(after["ledger_event"]) > len(before["ledger_event"]), label
        self.changed = result is not None
        return result  # type: ignore[no-any-return]

    def _fit(self, fit: bool, ids: list[int], stmt: Any) -> list[int]:
        """The rows that suit the operation (`stmt` selects their ids) when `fit` and there are
        some; otherwise all of them."""
        if not fit:
            return ids
        with unit_of_work(self.engine) as s:
            return list(s.scalars(stmt.order_by(text("1")))) or ids

    def _loan_day(self, loan_id: int, offset: int, *, since_default: bool = False) -> dt.date:
        loan = self._row(Loan, loan_id)
        if loan is None:
            return day(offset)
        base = loan.defaulted_on if since_default and loan.defaulted_on else loan.drawn_on
        return day(offset, base)

    # ----------------------------------------------------------------------- credit lines

    @rule(
        bank=st.integers(0, 1),
        firm=st.integers(0, 5),
        limit=FEN,
        revolving=st.booleans(),
        commitment=st.sampled_from(["none", "none", "own", "own", "field", "foreign"]),
        pool=st.sampled_from([None, 0, 1]),
        tags=TAGS,
        opens=st.sampled_from([0, 0, 0, 45, -10]),
        dup=RARE,
        decision=st.sampled_from(["approve", "approve", "approve", "pending", "reject"]),
    )
    def propose_line(
        self,
        bank: int,
        firm: int,
        limit: Decimal,
        revolving: bool,
        commitment: str,
        pool: int | None,
        tags: frozenset[str],
        opens: int,
        dup: bool,
        decision: str,
    ) -> None:
        """A line entered by the maker and (mostly) decided by the checker at once."""
        own, foreign = (0, 1) if bank == 0 else (1, 0)
        which = {"none": None, "own": own, "field": 2, "foreign": foreign}[commitment]
        spec = service.LineSpec(
            institution_id=self.banks[bank],
            external_ref=self._ref("L", dup),
            enterprise_id=self.firms[firm],
            limit_amount=limit,
            opens_on=day(opens),
            matures_on=day(opens + 3 * 365),
            rate=Decimal("0.0365"),
            revolving=revolving,
            commitment_id=None if which is None else self.commitments[which],
            risk_pool_id=None if pool is None else self.pools[pool],
            tags=tuple(sorted(tags)),
        )
        ev = self._attempt("propose_line", lambda s: service.propose_line(s, M, spec), M)
        if ev is None:
            return
        self.lines.append(ev.entity_id)
        if decision != "pending":
            self._decide_line(ev.entity_id, decision)

    def _decide_line(self, line_id: int, decision: str) -> None:
        actor = M if decision == "maker" else C
        bank = self.banks[1] if decision == "bank2" else None
        ev = self._attempt(
            f"decide_line/{decision}",
            lambda s: service.approve_line(
                s, actor, line_id, approve=decision != "reject", checker_institution_id=bank
            ),
            actor,
        )
        if ev is not None and decision != "reject":
            self.approved.append(line_id)

    @rule(i=IDX, decision=st.sampled_from(["approve", "reject", "maker", "bank2"]))
    def decide_line(self, i: int, decision: str) -> None:
        self._decide_line(pick(self.lines, i), decision)

    # ----------------------------------------------------------------------- loans

    @rule(
        i=IDX,
        among=st.sampled_from(["approved", "approved", "approved", "any"]),
        amount=PART,
        months=st.integers(0, 36),
        method=st.sampled_from(METHODS),
        on=st.integers(-10, 1100),
        dup=RARE,
        keyed=st.booleans(),
    )
    def draw(
        self,
        i: int,
        among: str,
        amount: Decimal | str,
        months: int,
        method: str,
        on: int,
        dup: bool,
        keyed: bool,
    ) -> None:
        line_id = pick(self.approved if among == "approved" else self.lines, i)
        line = self._row(CreditLine, line_id)
        principal = part(amount, ZERO if line is None else line.limit_amount - line.used)
        ref = self._ref("LN", dup)
        key = f"draw-{ref}-{self.n}" if keyed else None

        def action(s: Session) -> LedgerEvent:
            return service.draw(
                s, M, line_id, amount=principal, drawn_on=day(on), external_ref=ref,
                months=months, method=method, key=key,
            )  # fmt: skip

        ev = self._attempt("draw", action, M)
        if ev is not None:
            self.loans.append(ev.entity_id)
            self.others.append(ev.id)
            if key is not None:
                self.keyed.append(("draw", action, M, ev.id))

    @rule(
        i=IDX,
        principal=st.one_of(PART, st.just(ZERO)),
        interest=st.one_of(st.just(ZERO), FEN),
        on=st.integers(-3, 800),
        keyed=st.booleans(),
    )
    def repay(
        self, i: int, principal: Decimal | str, interest: Decimal, on: int, keyed: bool
    ) -> None:
        loan_id = pick(self.loans, i)
        loan = self._row(Loan, loan_id)
        p = part(principal, ZERO if loan is None else loan.outstanding_principal)
        paid_on = self._loan_day(loan_id, on)
        self.n += 1
        key = f"repay-{self.n}" if keyed else None

        def action(s: Session) -> LedgerEvent:
            return service.repay(
                s, M, loan_id, principal=p, interest=interest, paid_on=paid_on, key=key
            )

        ev = self._attempt("repay", action, M)
        if ev is not None:
            self.reversible.append(ev.id)
            if key is not None:
                self.keyed.append(("repay", action, M, ev.id))

    @rule(i=IDX, fit=OFTEN, on=st.integers(-3, 500))
    def mark_default(self, i: int, fit: bool, on: int) -> None:
        open_loans = select(Loan.id).where(Loan.status == "active", Loan.defaulted_on.is_(None))
        loan_id = pick(self._fit(fit, self.loans, open_loans), i)
        on_day = self._loan_day(loan_id, on)
        ev = self._attempt(
            "mark_default", lambda s: service.mark_default(s, M, loan_id, on=on_day), M
        )
        if ev is not None:
            self.others.append(ev.id)

    @rule(i=IDX, fit=OFTEN, amount=PART, on=st.integers(0, 400))
    def write_off(self, i: int, fit: bool, amount: Decimal | str, on: int) -> None:
        defaulted = select(Loan.id).where(Loan.status == "active", Loan.defaulted_on.is_not(None))
        loan_id = pick(self._fit(fit, self.loans, defaulted), i)
        loan = self._row(Loan, loan_id)
        p = part(amount, ZERO if loan is None else loan.outstanding_principal)
        on_day = self._loan_day(loan_id, on, since_default=True)
        ev = self._attempt(
            "write_off", lambda s: service.write_off(s, M, loan_id, amount=p, on=on_day), M
        )
        if ev is not None:
            self.reversible.append(ev.id)

    @rule(i=IDX, fit=OFTEN, amount=PART, on=st.integers(0, 600))
    def recover(self, i: int, fit: bool, amount: Decimal | str, on: int) -> None:
        unrecovered = select(Loan.id).where(Loan.written_off > Loan.recovered)
        loan_id = pick(self._fit(fit, self.loans, unrecovered), i)
        loan = self._row(Loan, loan_id)
        p = part(amount, ZERO if loan is None else loan.written_off - loan.recovered)
        on_day = self._loan_day(loan_id, on, since_default=True)
        ev = self._attempt(
            "recover", lambda s: service.recover(s, M, loan_id, amount=p, on=on_day), M
        )
        if ev is not None:
            self.reversible.append(ev.id)

    @rule(
        i=IDX,
        among=st.sampled_from(["reversible", "reversible", "reversible", "other"]),
        reason=OFTEN,
    )
    def reverse(self, i: int, among: str, reason: bool) -> None:
        event_id = pick(self.reversible if among == "reversible" else self.others, i)
        actor = FIXER if reason else M
        ev = self._attempt(f"reverse/{among}", lambda s: service.reverse(s, actor, event_id), actor)
        if ev is not None:
            self.others.append(ev.id)

    @rule(
        i=IDX,
        on=st.integers(0, 900),
        floor=st.sampled_from([None, None, "special_mention", "doubtful", "worst"]),
    )
    def classify(self, i: int, on: int, floor: str | None) -> None:
        loan_id = pick(self.loans, i)
        as_of = self._loan_day(loan_id, on)
        ev = self._attempt(
            "classify", lambda s: service.classify(s, M, loan_id, as_of=as_of, floor=floor), M
        )
        if ev is not None:
            self.others.append(ev.id)

    # ----------------------------------------------------------------------- pools

    @rule(
        pool=st.sampled_from([0, 0, 1, 1, 2]),
        who=st.sampled_from(["province", "province", "county", "nobody"]),
        amount=FEN,
        on=st.integers(0, 900),
    )
    def contribute(self, pool: int, who: str, amount: Decimal, on: int) -> None:
        pool_id = self.pools[pool] if pool < len(self.pools) else MISSING
        ev = self._attempt(
            "contribute",
            lambda s: pools.contribute(s, M, pool_id, contributor=who, amount=amount, on=day(on)),
            M,
        )
        if ev is not None:
            self.others.append(ev.id)

    @rule(
        i=IDX,
        fit=OFTEN,
        which=st.sampled_from(["own", "own", "own", "other"]),
        on=st.integers(-5, 400),
        candidate=OFTEN,
        maker=st.sampled_from([M, M, C]),
    )
    def file_claim(
        self, i: int, fit: bool, which: str, on: int, candidate: bool, maker: Actor
    ) -> None:
        """A claim, mostly on a defaulted loan and the pool that covers the loan's line."""
        covered = (
            select(Loan.id)
            .join(CreditLine, CreditLine.id == Loan.credit_line_id)
            .where(Loan.defaulted_on.is_not(None), CreditLine.risk_pool_id.is_not(None))
            .where(~select(PoolClaim.id).where(PoolClaim.loan_id == Loan.id).exists())
        )
        loan_id = pick(self._fit(fit, self.loans, covered), i)
        loan = self._row(Loan, loan_id)
        line = None if loan is None else self._row(CreditLine, loan.credit_line_id)
        own = self.pools[0] if line is None or line.risk_pool_id is None else line.risk_pool_id
        pool_id = own if which == "own" else next(p for p in self.pools if p != own)
        on_day = self._loan_day(loan_id, on, since_default=True)
        ev = self._attempt(
            "file_claim",
            lambda s: pools.file_claim(
                s, maker, pool_id, loan_id, on=on_day, in_candidate_pool=candidate
            ),
            maker,
        )
        if ev is not None:
            self.claims.append(ev.entity_id)
            self.others.append(ev.id)

    def _claims(self, fit: bool, *where: Any) -> list[int]:
        return self._fit(fit, self.claims, select(PoolClaim.id).where(*where))

    @rule(i=IDX, fit=OFTEN, approve=OFTEN, actor=st.sampled_from([C, C, M]), on=st.integers(0, 900))
    def decide_claim(self, i: int, fit: bool, approve: bool, actor: Actor, on: int) -> None:
        claim_id = pick(self._claims(fit, PoolClaim.status == "pending"), i)
        self._attempt(
            "decide_claim",
            lambda s: pools.decide_claim(s, actor, claim_id, approve=approve, on=day(on)),
            actor,
        )

    @rule(i=IDX, fit=OFTEN, on=st.integers(0, 900))
    def pay_claim(self, i: int, fit: bool, on: int) -> None:
        claim_id = pick(self._claims(fit, PoolClaim.status == "approved"), i)
        self._attempt("pay_claim", lambda s: pools.pay_claim(s, C, claim_id, on=day(on)), C)

    @rule(i=IDX, fit=OFTEN, amount=PART, on=st.integers(0, 900))
    def share_recovery(self, i: int, fit: bool, amount: Decimal | str, on: int) -> None:
        unpaid_back = (PoolClaim.status == "paid", PoolClaim.covered > PoolClaim.recovered)
        claim_id = pick(self._claims(fit, *unpaid_back), i)
        claim = self._row(PoolClaim, claim_id)
        back = part(amount, ZERO if claim is None else claim.covered - claim.recovered)
        self._attempt(
            "share_recovery",
            lambda s: pools.share_recovery(s, M, claim_id, amount=back, on=day(on)),
            M,
        )

    # ----------------------------------------------------------------------- retries

    @rule(i=st.integers(0, 40))
    def retry(self, i: int) -> None:
        """A keyed request sent again returns its first event and changes nothing."""
        if not self.keyed:
            return
        label, action, actor, first = self.keyed[i % len(self.keyed)]
        again = perform(self.engine, action, actor)
        event(f"retry/{label}")
        assert again.id == first
        assert self._snapshot() == self.last, f"a retried {label} changed the database"
        self.changed = False

    # ----------------------------------------------------------------------- invariants

    @invariant()
    @precondition(lambda self: self.changed)
    def loans_are_explained_by_their_events(self) -> None:
        with unit_of_work(self.engine) as s:
            e = LedgerEvent
            principal = _sums(
                s.execute(
                    select(e.entity_id, e.kind, func.sum(e.principal))
                    .where(e.entity == "loan")
                    .group_by(e.entity_id, e.kind)
                )
            )
            interest = _sums(
                s.execute(
                    select(e.entity_id, e.kind, func.sum(e.interest))
                    .where(e.entity == "loan", e.kind.in_(("repaid", "repaid_reversed")))
                    .group_by(e.entity_id, e.kind)
                )
            )

            def net(sums: dict[Any, Decimal], loan_id: int, kind: str) -> Decimal:
                done = sums.get((loan_id, kind), ZERO)
                return done - sums.get((loan_id, f"{kind}_reversed"), ZERO)

            for loan in s.scalars(select(Loan)):
                what = f"loan {loan.id}"
                assert (
                    loan.outstanding_principal
                    == loan.principal - loan.principal_repaid - loan.written_off
                ), what
                assert loan.outstanding_principal >= 0, what
                assert loan.principal == principal[(loan.id, "drawn")], what
                assert loan.principal_repaid == net(principal, loan.id, "repaid"), what
                assert loan.interest_paid == net(interest, loan.id, "repaid"), what
                assert loan.written_off == net(principal, loan.id, "written_off"), what
                assert loan.recovered == net(principal, loan.id, "recovered"), what
                assert 0 <= loan.recovered <= loan.written_off, what
                assert (loan.status == "active") == (loan.outstanding_principal > 0), what

    @invariant()
    @precondition(lambda self: self.changed)
    def limits_hold_and_are_explained(self) -> None:
        with unit_of_work(self.engine) as s:
            loans = defaultdict(list)
            for loan in s.scalars(select(Loan)):
                loans[loan.credit_line_id].append(loan)
            reserved: dict[int, Decimal] = defaultdict(lambda: ZERO)
            for line in s.scalars(select(CreditLine)):
                what = f"credit line {line.id}"
                assert 0 <= line.used <= line.limit_amount, what
                # drawdowns consume the line; on a revolving line repaid principal is released
                taken = [
                    x.principal - (x.principal_repaid if line.revolving else ZERO)
                    for x in loans[line.id]
                ]
                assert line.used == sum(taken, ZERO), what
                assert line.status == "approved" or not loans[line.id], what
                if line.commitment_id is not None and line.status in ("pending", "approved"):
                    reserved[line.commitment_id] += line.limit_amount
            for c in s.scalars(select(AgreementCommitment)):
                assert 0 <= c.used <= c.amount, f"commitment {c.id}"
                assert c.used == reserved[c.id], f"commitment {c.id}"

    @invariant()
    @precondition(lambda self: self.changed)
    def pools_are_explained(self) -> None:
        with unit_of_work(self.engine) as s:
            e = LedgerEvent
            paid = _sums(
                s.execute(
                    select(PoolClaim.pool_id, func.sum(PoolClaim.covered))
                    .where(PoolClaim.status == "paid")
                    .group_by(PoolClaim.pool_id)
                )
            )
            claims_recovered = _sums(
                s.execute(
                    select(PoolClaim.pool_id, func.sum(PoolClaim.recovered)).group_by(
                        PoolClaim.pool_id
                    )
                )
            )
            contributed = _sums(
                s.execute(
                    select(e.entity_id, func.sum(e.amount))
                    .where(e.entity == "risk_pool", e.kind == "contributed")
                    .group_by(e.entity_id)
                )
            )
            covered = _sums(
                s.execute(
                    select(CreditLine.risk_pool_id, func.sum(Loan.outstanding_principal))
                    .join(CreditLine, CreditLine.id == Loan.credit_line_id)
                    .where(CreditLine.risk_pool_id.is_not(None))
                    .group_by(CreditLine.risk_pool_id)
                )
            )
            for pool in s.scalars(select(RiskPool)):
                what = f"risk pool {pool.id}"
                assert pool.paid_out == paid.get(pool.id, ZERO), what
                assert pool.balance == pool.contributed - pool.paid_out + pool.recovered, what
                assert pool.balance >= 0, what
                assert pool.contributed == contributed.get(pool.id, ZERO), what
                assert pool.recovered == claims_recovered.get(pool.id, ZERO), what
                assert pool.covered_outstanding == covered.get(pool.id, ZERO), what
                if pool.leverage is not None:
                    assert pool.covered_outstanding <= pool.leverage * pool.contributed, what
                positions = pools.positions(s, pool.id).values()
                for column in ("contributed", "paid_out", "recovered", "balance"):
                    total = sum((p[column] for p in positions), ZERO)
                    assert total == getattr(pool, column), f"{what}: positions' {column}"
            for claim in s.scalars(select(PoolClaim)):
                what = f"claim {claim.id}"
                assert 0 <= claim.recovered <= claim.covered <= claim.principal_loss, what
                assert claim.recovered == 0 or claim.status == "paid", what
            # pool 2 caps what one institution's claims cover in a year
            per_year = _sums(
                s.execute(
                    select(
                        PoolClaim.institution_id, PoolClaim.claim_year, func.sum(PoolClaim.covered)
                    )
                    .where(PoolClaim.pool_id == self.pools[1], PoolClaim.status != "rejected")
                    .group_by(PoolClaim.institution_id, PoolClaim.claim_year)
                )
            )
            assert all(v <= POOL2_CAP for v in per_year.values()), per_year

    @invariant()
    @precondition(lambda self: self.changed)
    def splits_add_up_to_the_total(self) -> None:
        with unit_of_work(self.engine) as s:
            total = s.scalar(select(func.sum(Loan.outstanding_principal)))
            assert total is None or isinstance(total, Decimal)
            total = total if total is not None else ZERO
            rows = s.execute(
                select(
                    Loan.outstanding_principal,
                    Enterprise.zone_id,
                    Loan.institution_id,
                    Enterprise.tech_field,
                ).join(Enterprise, Enterprise.id == Loan.enterprise_id)
            ).all()
            assert sum((r[0] for r in rows), ZERO) == total
            splits = {1: Enterprise.zone_id, 2: Loan.institution_id, 3: Enterprise.tech_field}
            for position, column in splits.items():
                grouped = _sums(
                    s.execute(
                        select(column, func.sum(Loan.outstanding_principal))
                        .select_from(Loan)
                        .join(Enterprise, Enterprise.id == Loan.enterprise_id)
                        .group_by(column)
                    )
                )
                assert sum(grouped.values(), ZERO) == total, f"by {column}"
                expected: dict[Any, Decimal] = defaultdict(lambda: ZERO)
                for r in rows:
                    expected[r[position]] += r[0]
                assert grouped == dict(expected), f"by {column}"

    @invariant()
    @precondition(lambda self: self.changed)
    def replay_reproduces_every_cache(self) -> None:
        with unit_of_work(self.engine) as s:
            assert [str(m) for m in replay.check(s)] == []


@pytest.mark.slow
def test_random_event_sequences_keep_the_ledger_consistent(
    _sqlite_template: Path, tmp_path: Path
) -> None:
    """Each example starts from a copy of one database where the world was built once."""
    engine = _sqlite_engine(_sqlite_template, tmp_path)
    LedgerMachine.ids = build_world(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    LedgerMachine.world = tmp_path / "innofin.db"
    LedgerMachine.workdir = tmp_path
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=25, stateful_step_count=25, deadline=None),
    )


# --------------------------------------------------------------------------- a corrupted cache


def test_check_reports_a_corrupted_cache_and_rebuild_repairs_it(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="100000.00", commitment=False, revolving=True, pool=True)
    loan_id = lw.draw(w, line_id, "50000.00", "LN-1")
    perform(engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("5000.00"),
            interest=Decimal("152.08"), paid_on=D(2024, 3, 1)), M)  # fmt: skip
    with unit_of_work(engine) as s:
        assert replay.check(s) == []
    one_fen = 1 if engine.dialect.name == "sqlite" else Decimal("0.01")  # fen on SQLite
    with unit_of_work(engine) as s:
        s.execute(
            text("UPDATE loan SET interest_paid = interest_paid + :d WHERE id = :i"),
            {"d": one_fen, "i": loan_id},
        )
    with unit_of_work(engine) as s:
        found = replay.check(s)
    assert found == [
        replay.Mismatch("loan", loan_id, "interest_paid", Decimal("152.09"), Decimal("152.08"))
    ]
    with unit_of_work(engine) as s:
        assert replay.rebuild(s) == 1
    with unit_of_work(engine) as s:
        assert replay.check(s) == []
        loan = s.get(Loan, loan_id)
        assert loan is not None and loan.interest_paid == Decimal("152.08")


# --------------------------------------------------------------------------- recoveries split


def test_partial_recoveries_return_to_each_contributor_what_it_paid(sqlite_engine: Engine) -> None:
    w = lw.build(sqlite_engine, pool_funds="0")
    rules = pool_engine.early_province_county_rules(Decimal("0.5"), leverage=None)
    with unit_of_work(sqlite_engine, actor=M) as s:
        pool_id = pools.create_pool(
            s, M, code="P2", name="省市", rules=rules, programme_id=w.programme_id, opened_on=START
        ).id
        for who, amount in (("province", "70.00"), ("county", "30.00")):
            pools.contribute(s, M, pool_id, contributor=who, amount=Decimal(amount), on=START)
    spec = _spec("L", w.bank_id, w.enterprise_ids[0], "100.00", risk_pool_id=pool_id)
    line_id = perform(sqlite_engine, lambda s: service.propose_line(s, M, spec), M).entity_id
    perform(sqlite_engine, lambda s: service.approve_line(s, C, line_id), C)
    loan_id = lw.draw(w, line_id, "0.05", "LN-1")
    perform(sqlite_engine, lambda s: service.mark_default(s, M, loan_id, on=D(2024, 6, 1)), M)
    claim_id = perform(
        sqlite_engine, lambda s: pools.file_claim(s, M, pool_id, loan_id, on=D(2024, 7, 1)), M
    ).entity_id
    perform(sqlite_engine, lambda s: pools.decide_claim(s, C, claim_id, approve=True,
            on=D(2024, 7, 2)), C)  # fmt: skip
    paid = perform(sqlite_engine, lambda s: pools.pay_claim(s, C, claim_id, on=D(2024, 7, 3)), C)
    assert paid.data["split"] == {"province": "0.01", "county": "0.01"}  # 0.02 covered
    for _ in range(2):  # the claim recovered in full, a fen at a time
        perform(sqlite_engine, lambda s: pools.share_recovery(s, M, claim_id,
                amount=Decimal("0.01"), on=D(2024, 8, 1)), M)  # fmt: skip
    with unit_of_work(sqlite_engine) as s:
        back = {name: p["recovered"] for name, p in pools.positions(s, pool_id).items()}
        assert replay.check(s) == []
    # actual: {"province": 0.00, "county": 0.02}: county got twice what it paid, province nothing
    assert back == {"province": Decimal("0.01"), "county": Decimal("0.01")}
