"""The demo's programme ledger in SQLite and PostgreSQL: written whole, every cache equal to the
replay of its events, plausible balances and defaults, and the ledger's service carries on with
the demo data as with its own."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

import ledger_world
from innofin.audit.recorder import Actor
from innofin.db import chain
from innofin.db.base import Base
from innofin.db.engine import unit_of_work
from innofin.demo import commands, service
from innofin.demo.engine import Scale
from innofin.demo.ledger import step
from innofin.ledger import queries, replay, scopes
from innofin.ledger.loans import engine as sched
from innofin.ledger.loans import service as ledger
from innofin.ledger.models import CreditLine, LedgerEvent, Loan, PoolClaim, RiskPool
from innofin.ledger.pools import service as pools
from innofin.registry.models import Enterprise, Product

TINY = Scale("tiny", zones=8, enterprises=500, institutions=10, products=25)
SEED = 6  # a seed whose tiny ledger has an approved claim and a recovery shared by a pool
BANK = Actor(label="demo:test-bank", channel="cli")
OFFICER = Actor(label="demo:test-officer", channel="cli")


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one()
        )


def _check(engine: Engine) -> list[replay.Mismatch]:
    with Session(engine) as session:
        return replay.check(session)


def test_ledger_is_written_and_replays_clean(engine: Engine) -> None:
    summary = service.generate_demo(engine, TINY, seed=SEED)
    for table in step.TABLES:
        assert summary.counts[table] > 0, table
        assert _count(engine, table) == summary.counts[table], table
    assert _check(engine) == []
    with Session(engine) as session:  # the demo's bulk writes joined the tamper-evident chains
        for table in chain.TABLES:
            assert chain.verify(session, Base.metadata.tables[table]) is None, table
    _lines_name_what_their_banks_may_name(engine)


def _lines_name_what_their_banks_may_name(engine: Engine) -> None:
    """The demo's lines name only pools of programmes their bank takes part in and their bank's
    own products, as the access policy requires of every line entered."""
    with Session(engine) as s:
        named: dict[int, tuple[set[int], set[int]]] = {}
        for inst, pool, product in s.execute(
            select(CreditLine.institution_id, CreditLine.risk_pool_id, CreditLine.product_id)
        ):
            pools_named, products_named = named.setdefault(inst, (set(), set()))
            if pool is not None:
                pools_named.add(pool)
            if product is not None:
                products_named.add(product)
        assert any(p for p, _ in named.values()) and any(q for _, q in named.values())
        for inst, (pools_named, products_named) in named.items():
            lenders = queries.lender_ids(s, inst)
            ok = set(s.scalars(select(RiskPool.id).where(scopes.line_pool_scope(lenders))))
            assert pools_named <= ok, (inst, pools_named - ok)
            mine = set(s.scalars(select(Product.id).where(scopes.line_product_scope(lenders))))
            assert products_named <= mine, (inst, products_named - mine)


def test_balances_grow_and_start_ups_default_more(engine: Engine) -> None:
    """At the small scale (the tiny one has too few defaults to compare stages)."""
    service.generate_demo(engine, "small", seed=SEED)
    e = LedgerEvent
    signed = case(
        (e.kind == "drawn", e.principal),
        (e.kind.in_(("repaid", "written_off")), -e.principal),
        else_=0,
    )
    with Session(engine) as session:
        balances = [
            Decimal(
                session.execute(
                    select(func.sum(signed)).where(
                        e.entity == "loan", e.effective_on <= dt.date(year, 12, 31)
                    )
                ).scalar_one()
            )
            for year in range(2020, 2025)
        ]
        cached = session.execute(select(func.sum(Loan.outstanding_principal))).scalar_one()
        rates = dict(
            session.execute(
                select(
                    Enterprise.growth_stage,
                    func.avg(case((Loan.defaulted_on.is_not(None), 1.0), else_=0.0)),
                )
                .join(Enterprise, Enterprise.id == Loan.enterprise_id)
                .group_by(Enterprise.growth_stage)
            ).all()
        )
    growth = [b / a - 1 for a, b in itertools.pairwise(balances)]
    assert all(Decimal("0.15") <= g <= Decimal("0.30") for g in growth), growth
    assert Decimal(cached) == balances[-1]
    assert rates["startup"] > rates["growth"] > rates["stable"] > 0, rates
    assert rates["startup"] > 2 * rates["stable"], rates


def test_days_past_due_agree_with_the_class(engine: Engine) -> None:
    """For loans still on the books, the service's days past due (schedule against repayments)
    give the class the demo recorded — except the first days of a delay, not classified yet,
    and defaulted loans with a collection since (a bank does not upgrade those)."""
    service.generate_demo(engine, TINY, seed=SEED)
    as_of = TINY.as_of
    with Session(engine) as session:
        collected = set(
            session.scalars(
                select(LedgerEvent.entity_id)
                .join(Loan, Loan.id == LedgerEvent.entity_id)
                .where(
                    LedgerEvent.entity == "loan",
                    LedgerEvent.kind == "repaid",
                    Loan.defaulted_on.is_not(None),
                    LedgerEvent.effective_on > Loan.defaulted_on,
                )
            )
        )
        active = session.scalars(select(Loan).where(Loan.status == "active")).all()
        assert len(active) > 50
        late = 0
        for loan in active:
            dpd = ledger.days_past_due(session, loan, as_of)
            floor = "substandard" if loan.defaulted_on is not None else None
            want = sched.classify(dpd, floor=floor)
            if loan.id in collected:
                assert loan.category in sched.NON_PERFORMING
            elif loan.category == "pass" and 0 < dpd <= 30:
                late += 1  # a delay the bank has not classified yet
            else:
                assert loan.category == want, (loan.id, dpd, loan.category)
        assert late < len(active) / 10


def test_the_service_carries_on_with_demo_data(engine: Engine) -> None:
    """Repay a demo loan, draw on a demo line, decide and pay a pending demo claim: the service's
    checks accept the demo's caches, and the ledger still replays clean."""
    service.generate_demo(engine, TINY, seed=SEED)
    with Session(engine) as session:
        loan = session.scalars(
            select(Loan)
            .where(Loan.status == "active", Loan.category == "pass")
            .order_by(Loan.id.desc())
        ).first()
        assert loan is not None
        loan_id, outstanding = loan.id, loan.outstanding_principal
        line = session.scalars(
            select(CreditLine)
            .where(CreditLine.limit_amount - CreditLine.used >= Decimal("100000.00"))
            .where(CreditLine.matures_on > TINY.as_of)
            .order_by(CreditLine.id.desc())
        ).first()
        assert line is not None
        line_id = line.id
    with unit_of_work(engine, immediate=True, actor=BANK) as session:
        ledger.repay(
            session, BANK, loan_id, principal=outstanding, interest=Decimal("12.34"),
            paid_on=TINY.as_of + dt.timedelta(days=1),
        )  # fmt: skip
        ledger.draw(
            session, BANK, line_id, amount=Decimal("100000.00"),
            drawn_on=TINY.as_of + dt.timedelta(days=2), external_ref="DEMO-TEST-1", months=12,
        )  # fmt: skip
    assert _check(engine) == []
    with Session(engine) as session:
        repaid = session.get(Loan, loan_id)
        assert repaid is not None and repaid.status == "closed"


def test_pool_claims_can_be_decided_and_paid(engine: Engine) -> None:
    """Claims the demo left pending or approved go through the pool service."""
    service.generate_demo(engine, TINY, seed=10)  # a seed with a pending claim
    with Session(engine) as session:
        open_claims = session.execute(
            select(PoolClaim.id, PoolClaim.status).where(PoolClaim.status != "paid")
        ).all()
    assert "pending" in {status for _, status in open_claims}
    day = TINY.as_of + dt.timedelta(days=3)
    for claim_id, status in open_claims:
        with unit_of_work(engine, immediate=True, actor=OFFICER) as session:
            if status == "pending":
                pools.decide_claim(session, OFFICER, claim_id, approve=True, on=day)
            pools.pay_claim(session, OFFICER, claim_id, on=day)
    assert _check(engine) == []


def test_ids_follow_existing_ledger_rows(engine: Engine) -> None:
    """With ledger rows already in the database, the demo's ids, the ids in event data and
    in limit entries point at the demo's own rows."""
    world = ledger_world.build(engine)
    first = ledger_world.line(world, pool=True)
    loan_id = ledger_world.draw(world, first, "200000.00", "LN-1")
    with unit_of_work(engine, immediate=True, actor=ledger_world.MAKER) as session:
        ledger.mark_default(session, ledger_world.MAKER, loan_id, on=dt.date(2024, 6, 1))
        pools.file_claim(
            session, ledger_world.MAKER, world.pool_id, loan_id, on=dt.date(2024, 7, 1)
        )
    service.generate_demo(engine, TINY, seed=SEED)
    assert _check(engine) == []  # includes each claim's recoveries, found by data["claim_id"]
    with Session(engine) as session:
        drawn = session.execute(
            select(LedgerEvent.data, Loan.credit_line_id, Loan.external_ref)
            .join(Loan, Loan.id == LedgerEvent.entity_id)
            .where(LedgerEvent.entity == "loan", LedgerEvent.kind == "drawn")
        ).all()
        assert all(data["credit_line_id"] == line for data, line, _ in drawn)
        assert sum(ref.startswith("DEMO-") for _, _, ref in drawn) == len(drawn) - 1
        filed = session.execute(
            select(LedgerEvent.data, PoolClaim.pool_id, PoolClaim.loan_id)
            .join(PoolClaim, PoolClaim.id == LedgerEvent.entity_id)
            .where(LedgerEvent.entity == "pool_claim", LedgerEvent.kind == "claim_filed")
        ).all()
        assert len(filed) > 1 and all((d["pool_id"], d["loan_id"]) == (p, n) for d, p, n in filed)
        paid = session.execute(
            select(LedgerEvent.data, LedgerEvent.entity_id, PoolClaim.pool_id)
            .join(PoolClaim, PoolClaim.id == LedgerEvent.data["claim_id"].as_integer())
            .where(LedgerEvent.entity == "risk_pool", LedgerEvent.kind == "claim_paid")
        ).all()
        assert paid and all(pool == claim_pool for _, pool, claim_pool in paid)


def test_summary_and_demo_run_printout(sqlite_engine: Engine) -> None:
    service.generate_demo(sqlite_engine, TINY, seed=SEED)
    found = service.ledger_summary(sqlite_engine)
    with Session(sqlite_engine) as session:
        loans = session.execute(select(func.count(Loan.id))).scalar_one()
    assert found.loans == loans and found.as_of == TINY.as_of
    assert found.npl_ratio is not None and Decimal(0) < found.npl_ratio < Decimal("0.05")
    assert len(found.programmes) == 3 and len(found.pools) == 3
    national = found.programmes[0]
    assert national.balance_target == Decimal(10**12 * 500 // 500_000)
    assert Decimal(0) < national.outstanding
    assert all(Decimal(0) < p.balance <= p.contributed for p in found.pools)
    assert all(p.covered_outstanding > 0 for p in found.pools)
    with commands.console.capture() as captured:
        commands._print_ledger(sqlite_engine)
    text = " ".join(captured.get().split())
    assert f"{loans:,} loans" in text and "亿元" in text and "NPL ratio" in text
    assert "DEMO-POOL-ZONE" in text and "十百千万" in text
