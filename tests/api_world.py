"""A small world with one party of each kind, and an API client that signs in as each of them.

Zones Z1 (province 甲省) and Z2 (乙省); enterprises e1, e2 in Z1 and e3 in Z2; bank A with branch
A1, and bank B; one product each. e1 has a user and consents to bank A (and to branch A1); e2 was
referred to bank A. Users: admin, a national and a provincial programme officer, Z1's zone officer,
officers of bank A and bank B, and e1's user.

Two programmes (see `programme_world`): 甲's in zone Z1 with bank A, 乙's in zone Z2 with bank B,
each with an agreement, a risk pool, covered loans, claims and interest subsidies.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

import factories
from innofin.access.models import Consent, Referral
from innofin.access.service import OrgRef, create_user
from innofin.audit.recorder import Actor
from innofin.db import unit_of_work
from innofin.kernel.codes import OrgKind, Role
from innofin.kernel.settings import Settings
from innofin.ledger.models import AgreementCommitment
from innofin.matching.models import FinancingNeed
from innofin.registry.models import (
    Certification,
    IndicatorReport,
    Institution,
    Product,
    ZoneYearStat,
)
from innofin.scoring import lists, pilot
from innofin.scoring import service as scoring
from innofin.server.app import create_app

PASSWORD = "correct-horse-battery"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)

#: caller name → (roles, organisation) — filled with ids by `build_world`
CALLERS = ("admin", "national", "province", "zone", "bank_a", "bank_b", "firm")
ANON = "anon"
EVERYONE = (ANON, *CALLERS)


class Clock:
    """The application's clock, moved by tests (token expiry, rate-limit windows)."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class World:
    engine: Engine
    ids: dict[str, int] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)


def build_world(engine: Engine) -> World:
    """Fill `engine`'s database, freshly migrated and empty, with the world.

    Building it takes seconds (a scoring run, dozens of ledger operations), so the first call on
    each database server builds it and keeps its rows; later calls copy them into their own
    database (each test still gets a database of its own to write to) and get the same ids."""
    key = _server(engine)
    snapshot = _SNAPSHOTS.get(key)
    if snapshot is None:
        before = _take(engine)
        world = _build(engine)
        _SNAPSHOTS[key] = _Snapshot(_take(engine, unlike=before), world.ids, world.codes)
        return world
    _restore(engine, snapshot.data)
    return World(engine, dict(snapshot.ids), dict(snapshot.codes))


def _build(engine: Engine) -> World:
    world = World(engine)
    ids = world.ids
    with unit_of_work(engine) as s:
        z1 = factories.zone("Z1", province="甲省", name_zh="甲高新区")
        z2 = factories.zone("Z2", province="乙省", name_zh="乙高新区")
        s.add_all([z1, z2])
        s.flush()
        ids.update(z1=z1.id, z2=z2.id)
        for year in (2023, 2024):
            s.add_all(
                ZoneYearStat(zone_id=z.id, year=year, gdp=Decimal("1000000.00")) for z in (z1, z2)
            )
        ents = {
            "e1": factories.enterprise(1, zone_id=z1.id, name="甲一科技"),
            "e2": factories.enterprise(2, zone_id=z1.id, name="甲二科技"),
            "e3": factories.enterprise(3, zone_id=z2.id, name="乙三科技"),
        }
        s.add_all(ents.values())
        s.flush()
        for key, ent in ents.items():
            ids[key] = ent.id
            world.codes[key] = ent.identifier
            s.add(
                IndicatorReport(
                    enterprise_id=ent.id, year=2024, revenue=Decimal("1234567.89"), lineage={}
                )
            )
            s.add(Certification(enterprise_id=ent.id, kind="hnte", valid_from=dt.date(2023, 1, 1)))
        bank_a = Institution(code="BANK-A", name="甲银行", kind="bank", regions_served=[])
        bank_b = Institution(code="BANK-B", name="乙银行", kind="bank", regions_served=[])
        s.add_all([bank_a, bank_b])
        s.flush()
        branch = Institution(
            code="BANK-A1",
            name="甲银行科技支行",
            kind="bank",
            parent_id=bank_a.id,
            is_tech_branch=True,
            regions_served=[],
        )
        s.add(branch)
        s.flush()
        ids.update(a=bank_a.id, a1=branch.id, b=bank_b.id)
        for key, inst in (("pa", bank_a), ("pa1", branch), ("pb", bank_b)):
            product = Product(
                code=f"P-{key.upper()}",
                institution_id=inst.id,
                name=f"{inst.name}科创贷",
                kind="pure_credit_loan",
                financing_mode="indirect",
                amount_max=Decimal("5000000.00"),
                eligibility={},
            )
            s.add(product)
            s.flush()
            ids[key] = product.id
            world.codes[key] = product.code
        people: dict[str, tuple[Role, OrgRef]] = {
            "admin": (Role.PLATFORM_ADMIN, OrgRef(OrgKind.GOVERNMENT)),
            "national": (Role.PROGRAMME_OFFICER, OrgRef(OrgKind.GOVERNMENT)),
            "province": (Role.PROGRAMME_OFFICER, OrgRef(OrgKind.GOVERNMENT, "甲省")),
            "zone": (Role.ZONE_OFFICER, OrgRef(OrgKind.ZONE, "Z1")),
            "bank_a": (Role.INSTITUTION_OFFICER, OrgRef(OrgKind.INSTITUTION, "BANK-A")),
            "bank_b": (Role.INSTITUTION_OFFICER, OrgRef(OrgKind.INSTITUTION, "BANK-B")),
            "firm": (Role.ENTERPRISE_USER, OrgRef(OrgKind.ENTERPRISE, world.codes["e1"])),
        }
        for name, (role, org) in people.items():
            user = create_user(s, username=name, password=PASSWORD, roles=[role], org=org)
            ids[f"user:{name}"] = user.id
        for key, inst in (("c1", "a"), ("c2", "a1")):
            consent = Consent(
                enterprise_id=ids["e1"],
                institution_id=ids[inst],
                granted_at=T0,
                granted_by=ids["user:firm"],
            )
            s.add(consent)
            s.flush()
            ids[key] = consent.id
        referral = Referral(enterprise_id=ids["e2"], institution_id=ids["a"], created_at=T0)
        s.add(referral)
        s.flush()
        ids["r1"] = referral.id
        for key, firm in (("need_e1", "e1"), ("need_e3", "e3")):
            posted = FinancingNeed(
                enterprise_id=ids[firm],
                amount=Decimal("2000000.00"),
                term_months=12,
                purpose="working_capital",
                collateral_offered=["ip_pledge"],
                needed_by=dt.date(2025, 6, 30),
                posted_at=T0,
            )
            s.add(posted)
            s.flush()
            ids[key] = posted.id
    score_world(engine)
    ledger_world(world)
    programme_world(world)
    scenario_world(world)
    event_world(world)
    matching_world(world)
    return world


@dataclass(frozen=True)
class _Snapshot:
    #: SQLite: an in-memory copy of the whole database; PostgreSQL: each table the world wrote
    #: to, with its rows in COPY's text format, and each sequence's state
    data: Any
    ids: dict[str, int]
    codes: dict[str, str]


_SNAPSHOTS: dict[tuple[str, ...], _Snapshot] = {}


def _server(engine: Engine) -> tuple[str, ...]:
    url = engine.url
    return (url.get_backend_name(), str(url.host), str(url.port), str(url.database))


@dataclass(frozen=True)
class _PgData:
    tables: dict[str, bytes]  # table → its rows, in the order the foreign keys need
    sequences: dict[str, tuple[int, bool]]  # sequence → (last_value, is_called)


def _take(engine: Engine, unlike: Any = None) -> Any:
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        if engine.dialect.name == "sqlite":
            if unlike is None:
                return None
            copy = sqlite3.connect(":memory:", check_same_thread=False)
            raw.backup(copy)
            return copy
        tables: dict[str, bytes] = {}
        with raw.cursor() as cur:
            for table in _pg_tables_in_order(cur):
                with cur.copy(f'COPY "{table}" TO STDOUT') as out:
                    rows = b"".join(bytes(chunk) for chunk in out)
                if unlike is None or unlike.tables.get(table) != rows:
                    tables[table] = rows
            cur.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
            sequences = {}
            for (name,) in cur.fetchall():
                cur.execute(f'SELECT last_value, is_called FROM "{name}"')
                last_value, is_called = cur.fetchone() or (1, False)
                sequences[name] = (last_value, is_called)
        raw.rollback()
        return _PgData(tables, sequences)


def _pg_tables_in_order(cur: Any) -> list[str]:
    """The current schema's tables, each after the tables its foreign keys refer to."""
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.relname"
    )
    tables = [name for (name,) in cur.fetchall()]
    cur.execute(
        "SELECT c.relname, p.relname FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE k.contype = 'f' AND n.nspname = current_schema()"
    )
    needs: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in cur.fetchall():
        if child != parent:
            needs[child].add(parent)
    ordered: list[str] = []
    while needs:
        ready = [t for t, parents in needs.items() if not parents - set(ordered)]
        assert ready, f"foreign keys in a cycle: {sorted(needs)}"
        ordered += ready
        for t in ready:
            del needs[t]
    return ordered


def _restore(engine: Engine, data: Any) -> None:
    from conftest import owner_of

    # as the owner: emptying the tables the migrations filled is no business of the application
    # role, which may not DELETE from the append-only tables or chain_head
    with owner_of(engine).connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        if engine.dialect.name == "sqlite":
            data.backup(raw)
            return
        with raw.cursor() as cur:
            for table in reversed(data.tables):  # tables the migrations filled
                cur.execute(f'DELETE FROM "{table}"')
            for table, rows in data.tables.items():
                with cur.copy(f'COPY "{table}" FROM STDIN') as into:
                    into.write(rows)
            for name, (last_value, is_called) in data.sequences.items():
                cur.execute("SELECT setval(%s, %s, %s)", (f'"{name}"', last_value, is_called))
        raw.commit()  # the driver's own transaction: SQLAlchemy began none


def ledger_world(world: World) -> None:
    """Bank A's approved line to e1 with a loan and a pending line to e2 (entered by a maker
    who is not bank A's API user); bank B's approved line to e3 with a loan."""
    from innofin.ledger.journal import perform
    from innofin.ledger.loans import service as ledger

    engine, ids = world.engine, world.ids
    maker = Actor(label="cli:seed-maker", channel="cli")
    checker = Actor(label="cli:seed-checker", channel="cli")

    def line(name: str, bank: str, firm: str, approve: bool) -> int:
        spec = ledger.LineSpec(
            institution_id=ids[bank],
            external_ref=f"LINE-{name}",
            enterprise_id=ids[firm],
            limit_amount=Decimal("100000000.00"),
            opens_on=dt.date(2024, 1, 1),
            matures_on=dt.date(2030, 12, 31),
            rate=Decimal("0.0345"),
        )
        line_id = perform(engine, lambda s: ledger.propose_line(s, maker, spec), maker).entity_id
        if approve:
            perform(engine, lambda s: ledger.approve_line(s, checker, line_id), checker)
        ids[f"line_{name}"] = line_id
        return line_id

    for name, bank, firm in (("a", "a", "e1"), ("b", "b", "e3")):
        line_id = line(name, bank, firm, approve=True)
        ids[f"loan_{name}"] = perform(
            engine,
            lambda s, line_id=line_id, name=name: ledger.draw(
                s,
                maker,
                line_id,
                amount=Decimal("10000000.00"),
                drawn_on=dt.date(2024, 2, 1),
                external_ref=f"LOAN-{name}",
                months=24,
            ),
            maker,
        ).entity_id
    line("p", "a", "e2", approve=False)


#: callers who run programme 甲 (its pool's claims, its subsidies), each with rows of its own
RUNNERS = ("admin", "national", "province")
#: callers who may object to one of 甲's subsidies, each given one still under notice
OBJECTORS = ("admin", "national", "province", "zone", "bank_a", "firm")
#: callers who run programme 乙, each with a pending and an approved claim of its own
RUNNERS_YI = ("admin", "national")
#: callers who may file a claim on 甲's pool, each given a defaulted loan without a claim
FILERS = ("admin", "bank_a")


def programme_world(world: World) -> None:
    """Programmes 甲 (zone Z1, bank A) and 乙 (zone Z2, bank B), each with a signed agreement and
    a commitment, a funded risk pool and a credit line it covers, drawing on the commitment.

    On 甲's line (bank A to e1): defaulted loans of 1,000,000.00 (the pool covers half) with a
    pending claim (``claim_jia`` and one per runner, ``claim_pending_<who>``), an approved one per
    runner (``claim_approved_<who>``) and none yet per filer (``loan_defaulted_<who>``); and a
    loan of 12,000,000.00 (``loan_sub_jia``) that pays 30,000.00 of interest on the 15th of every
    month from March 2024 to August 2025. Its subsidies (half the interest: 15,000.00), one per
    month from March 2024: ``sub_jia`` and ``sub_object_<who>`` under notice on T0,
    ``sub_resolve_<who>`` objected, ``sub_confirm`` past its notice, ``sub_pay_<who>``
    confirmed; May to August 2025 are left to publish. On 乙's line (bank B to e3): a pending
    claim (``claim_yi``), a pending and an approved claim per runner of 乙 (``claim_yi_pending_
    <who>``, ``claim_yi_approved_<who>``) and a loan paying interest in June, July and August
    2024, June's subsidy published (``sub_yi``).
    """
    from innofin.ledger.loans import service as ledger
    from innofin.ledger.pools import engine as pool_engine
    from innofin.ledger.pools import service as pools
    from innofin.ledger.programmes import service as programme_service
    from innofin.ledger.subsidies import engine as subsidy_engine
    from innofin.ledger.subsidies import service as subsidies

    engine, ids = world.engine, world.ids
    maker = Actor(label="cli:seed-maker", channel="cli")
    checker = Actor(label="cli:seed-checker", channel="cli")
    officer = Actor(label="cli:seed-officer", channel="cli")
    firm = Actor(label="cli:seed-firm", channel="cli")
    rules = subsidy_engine.SubsidyRules(share=Decimal("0.5"))
    day = dt.date
    with unit_of_work(engine, immediate=True, actor=officer) as s:

        def programme(side: str, zone: str, bank: str, firm_key: str) -> int:
            code = f"PRG-{side.upper()}"
            prog = programme_service.create_programme(
                s, officer, code=code, name=f"{side}科技信贷计划", sponsor=f"{side}科学技术厅",
                starts_on=day(2024, 1, 1), ends_on=day(2026, 12, 31),
                targets=[
                    programme_service.TargetSpec(
                        "new_credit", day(2025, 12, 31), amount=Decimal("1e9")
                    ),
                    programme_service.TargetSpec("key_enterprises", day(2025, 12, 31), count=10),
                ],
                zone_ids=[ids[zone]], institution_ids=[ids[bank]],
            )  # fmt: skip
            agreement = programme_service.sign_agreement(
                s, officer, code=f"AG-{side.upper()}", kind="government_bank",
                institution_id=ids[bank], counterparty=f"{side}科学技术厅",
                signed_on=day(2024, 1, 1), starts_on=day(2024, 1, 1), ends_on=day(2026, 12, 31),
                commitments=[programme_service.CommitmentSpec(
                    Decimal("500000000.00"), day(2024, 1, 1), day(2026, 12, 31)
                )],
                programme_id=prog.id,
            )  # fmt: skip
            s.flush()
            pool = pools.create_pool(
                s, officer, code=f"POOL-{side.upper()}", name=f"{side}风险补偿资金池",
                rules=pool_engine.early_province_county_rules(Decimal("0.5")),
                programme_id=prog.id, opened_on=day(2024, 1, 1),
            )  # fmt: skip
            for who, amount in (("province", "70000000.00"), ("county", "30000000.00")):
                pools.contribute(
                    s, officer, pool.id, contributor=who, amount=Decimal(amount),
                    on=day(2024, 1, 1),
                )  # fmt: skip
            commitment = s.scalars(
                select(AgreementCommitment.id).where(
                    AgreementCommitment.agreement_id == agreement.id
                )
            ).one()
            spec = ledger.LineSpec(
                institution_id=ids[bank], external_ref=f"LINE-COV-{side.upper()}",
                enterprise_id=ids[firm_key], limit_amount=Decimal("100000000.00"),
                opens_on=day(2024, 1, 1), matures_on=day(2030, 12, 31), rate=Decimal("0.0345"),
                commitment_id=commitment, risk_pool_id=pool.id,
            )  # fmt: skip
            line_id = ledger.propose_line(s, maker, spec).entity_id
            ledger.approve_line(s, checker, line_id)
            ids.update({f"prg_{side}": prog.id, f"ag_{side}": agreement.id})
            ids.update({f"pool_{side}": pool.id, f"line_cov_{side}": line_id})
            return line_id

        def loan(line_id: int, ref: str, amount: str = "1000000.00") -> int:
            return ledger.draw(
                s, maker, line_id, amount=Decimal(amount), drawn_on=day(2024, 2, 1),
                external_ref=ref, months=24,
            ).entity_id  # fmt: skip

        def defaulted(line_id: int, ref: str) -> int:
            loan_id = loan(line_id, ref)
            ledger.mark_default(s, maker, loan_id, on=day(2024, 12, 1))
            return loan_id

        def claim(side: str, line_id: int, ref: str, approve: bool = False) -> int:
            loan_id = defaulted(line_id, ref)
            ev = pools.file_claim(s, maker, ids[f"pool_{side}"], loan_id, on=day(2025, 1, 15))
            if approve:
                pools.decide_claim(s, officer, ev.entity_id, approve=True, on=day(2025, 2, 1))
            return ev.entity_id

        def interest(loan_id: int, on: dt.date) -> None:
            ledger.repay(
                s, maker, loan_id, principal=Decimal(0), interest=Decimal("30000.00"), paid_on=on
            )

        def month(side: str, year: int, m: int, published_on: dt.date) -> int:
            end = day(year + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)
            (made,) = subsidies.publish(
                s, officer, programme=f"PRG-{side.upper()}", rules=rules,
                period_start=day(year, m, 1), period_end=end, published_on=published_on,
                notice_days=7, among=subsidies.programme_loans(ids[f"prg_{side}"]),
            )  # fmt: skip
            return made.id

        jia = programme("jia", "z1", "a", "e1")
        yi = programme("yi", "z2", "b", "e3")
        ids["claim_jia"] = claim("jia", jia, "LOAN-C-JIA")
        ids["claim_yi"] = claim("yi", yi, "LOAN-C-YI")
        for who in RUNNERS:
            ids[f"claim_pending_{who}"] = claim("jia", jia, f"LOAN-P-{who}")
            ids[f"claim_approved_{who}"] = claim("jia", jia, f"LOAN-A-{who}", approve=True)
        for who in RUNNERS_YI:
            ids[f"claim_yi_pending_{who}"] = claim("yi", yi, f"LOAN-P-YI-{who}")
            ids[f"claim_yi_approved_{who}"] = claim("yi", yi, f"LOAN-A-YI-{who}", approve=True)
        for who in FILERS:
            ids[f"loan_defaulted_{who}"] = defaulted(jia, f"LOAN-D-{who}")
        ids["loan_sub_jia"] = sub_jia = loan(jia, "LOAN-S-JIA", "12000000.00")
        ids["loan_sub_yi"] = sub_yi = loan(yi, "LOAN-S-YI", "12000000.00")
        for k in range(18):  # March 2024 to August 2025
            interest(sub_jia, day(2024 + (k + 2) // 12, (k + 2) % 12 + 1, 15))
        for m in (6, 7, 8):
            interest(sub_yi, day(2024, m, 15))
        ids["sub_yi"] = month("yi", 2024, 6, day(2026, 2, 27))
        months = iter((2024 + (k + 2) // 12, (k + 2) % 12 + 1) for k in range(14))
        ids["sub_jia"] = month("jia", *next(months), day(2026, 2, 27))
        for who in OBJECTORS:  # under notice until 2026-03-06
            ids[f"sub_object_{who}"] = month("jia", *next(months), day(2026, 2, 27))
        for who in RUNNERS:
            ids[f"sub_resolve_{who}"] = sub = month("jia", *next(months), day(2026, 2, 20))
            subsidies.object_to(s, firm, sub, text="利息有误", on=day(2026, 2, 21))
        ids["sub_confirm"] = month("jia", *next(months), day(2026, 2, 1))  # notice ended 02-08
        for who in RUNNERS:
            ids[f"sub_pay_{who}"] = sub = month("jia", *next(months), day(2026, 1, 1))
            subsidies.confirm(s, firm, sub, enterprise_id=ids["e1"], on=day(2026, 1, 10))


def scenario_world(world: World) -> None:
    """A stored scenario run of programme 甲 (a small one: 12 months, 100 paths)."""
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.scenarios import service as scenario

    with unit_of_work(world.engine) as s:
        world.ids["scenario_jia"] = scenario.run_scenario(
            s,
            OPERATOR,
            Actor.cli("test world"),
            world.ids["prg_jia"],
            assumptions={"months": 12, "paths": 100},
            seed=1,
        )


def event_world(world: World) -> None:
    """甲's matchmaking event in zone Z1 (``event``): banks A (two desks) and B (one) at it, e1
    and e2 registered and validated; e1 asks for A then B, bank A for e1 then e2; the schedule
    is announced (``schedule``) — e1 meets A and B, e2 meets A — and a draft is planned after
    it (``schedule_draft``)."""
    from innofin.events import requests
    from innofin.events import service as events
    from innofin.events.scheduling import service as scheduling
    from innofin.events.schemas import EventCreate

    ids = world.ids
    at = T0 - dt.timedelta(days=10)
    with unit_of_work(world.engine, actor=Actor.cli("test world")) as s:
        op = events.OPERATOR
        body = EventCreate.model_validate(
            {
                "code": "EV-JIA",
                "name": "甲省银企对接会",
                "held_on": "2026-03-25",
                "venue": "甲市会展中心",
                "booking_opens": "2026-02-01",
                "booking_closes": "2026-03-20",
                "zone_id": ids["z1"],
                "sessions": [{"starts": "09:00", "slots": 2}, {"starts": "14:00", "slots": 2}],
            }
        )
        ev = events.create_event(s, op, body, at)
        ids["event"] = ev.id
        events.add_institution(s, op, ev.id, ids["a"], 2, at=at)
        events.add_institution(s, op, ev.id, ids["b"], 1, at=at)
        for firm in ("e1", "e2"):
            events.register_enterprise(s, op, ev.id, ids[firm], at=at)
        requests.set_preferences(s, op, ev.id, "enterprise", ids["e1"], [ids["a"], ids["b"]], at)
        requests.set_preferences(s, op, ev.id, "institution", ids["a"], [ids["e1"], ids["e2"]], at)
        ids["schedule"] = scheduling.plan(s, op, ev.id, time_limit_s=5, announce_it=True, at=at).id
        ids["schedule_draft"] = scheduling.plan(s, op, ev.id, time_limit_s=5, at=at).id


#: callers who refer a need of e1 (each refers one of its own, ``need_e1_refer_<who>``)
REFERRERS = ("admin", "national", "province", "zone", "firm")
#: callers who answer and move referrals to bank A (each its own rows), and to bank B
RESPONDERS = ("admin", "bank_a")
RESPONDERS_YI = ("admin", "bank_b")


def matching_world(world: World) -> None:
    """Needs and referrals for the referral writes, a decline with its stored re-match and
    allocation runs of both programmes.

    e1's needs (``need_e1_*``): one per referrer, not yet referred (``need_e1_refer_<who>``);
    referred to bank A and waiting (``nref_respond_<who>``), opted in (``nref_step_<who>``),
    applied (``nref_approve_<who>``, and ``nref_badline``), unanswered since its deadline of
    2026-02-27 (``nref_overdue``: the first officer to look flags it); one (``need_e1_declined``)
    referred to branch A1 and declined for risk, re-matched (``nref_declined``: its alternatives
    include 甲's interest subsidy). e3's needs referred to bank B and waiting
    (``nref_respond_yi_<who>``). Allocation runs of 甲 to accept, one per runner
    (``run_accept_<who>``) and of 乙 (``run_accept_yi_<who>``, ``run_yi``), and ``run_jia`` to
    read."""
    from innofin.matching.allocation import service as allocation
    from innofin.matching.models import NeedReferral
    from innofin.matching.referrals import service as referrals
    from innofin.matching.scopes import OPERATOR

    engine, ids = world.engine, world.ids
    officer = Actor(label="cli:seed-officer", channel="cli")

    def need(s: Any, key: str, firm: str) -> int:
        row = FinancingNeed(
            enterprise_id=ids[firm],
            amount=Decimal("1500000.00"),
            term_months=12,
            purpose="working_capital",
            collateral_offered=[],
            needed_by=dt.date(2026, 6, 30),
            posted_at=T0,
        )
        s.add(row)
        s.flush()
        ids[key] = row.id
        return row.id

    def referral(
        s: Any, key: str, firm: str, bank: str, status: str, due: dt.date = dt.date(2026, 3, 3)
    ) -> None:
        need_id = need(s, f"need_{firm}_{key}", firm)
        times: dict[str, Any] = {}
        steps = ("opted_in", "contacted", "applied")
        if status in steps:
            times["responded_at"] = T0
            for step in steps[1 : steps.index(status) + 1]:
                times[f"{step}_at"] = T0
        row = NeedReferral(
            need_id=need_id,
            institution_id=ids[bank],
            source="officer",
            status=status,
            reasons=[],
            consent_at=T0,
            referred_at=T0,
            deadline=due,
            **times,
        )
        s.add(row)
        s.flush()
        ids[key] = row.id

    with unit_of_work(engine, immediate=True, actor=officer) as s:
        for who in REFERRERS:
            need(s, f"need_e1_refer_{who}", "e1")
        for who in RESPONDERS:
            referral(s, f"nref_respond_{who}", "e1", "a", "referred")
            referral(s, f"nref_step_{who}", "e1", "a", "opted_in")
            referral(s, f"nref_approve_{who}", "e1", "a", "applied")
        referral(s, "nref_badline", "e1", "a", "applied")
        referral(s, "nref_overdue", "e1", "a", "referred", due=dt.date(2026, 2, 27))
        for who in RESPONDERS_YI:
            referral(s, f"nref_respond_yi_{who}", "e3", "b", "referred")
        declined_need = need(s, "need_e1_declined", "e1")
        [declined] = referrals.refer(s, OPERATOR, declined_need, [ids["a1"]], at=T0)
        ids["nref_declined"] = declined.id
        referrals.respond(s, OPERATOR, declined.id, "decline", code="risk", at=T0)
        quotas = allocation.Quotas(field_max={}, zone_max={}, zone_floor={})

        def run(side: str, key: str) -> None:
            made = allocation.allocate(
                s, ids[f"prg_{side}"], quotas, on=dt.date(2026, 3, 1), created_by=officer.label,
                time_limit=10.0,
            )  # fmt: skip
            ids[key] = made.id

        run("jia", "run_jia")
        run("yi", "run_yi")
        for who in RUNNERS:
            run("jia", f"run_accept_{who}")
        for who in RUNNERS_YI:
            run("yi", f"run_accept_yi_{who}")


def leak_markers(w: World) -> dict[str, set[str]]:
    """The oracle of what each caller must never be shown: strings (credit codes, institution and
    product codes) of other organisations' rows, which no read answer — an API response or a
    page — may contain for that caller."""
    e1, e2, e3 = (w.codes[k] for k in ("e1", "e2", "e3"))
    return {
        "province": {e3},
        "zone": {e3},
        "bank_a": {e3, "BANK-B", w.codes["pb"]},
        "bank_b": {e1, e2, e3, "BANK-A", w.codes["pa"], w.codes["pa1"]},
        "firm": {e2, e3},
    }


KEY_LIST = "world-key-list"


def score_world(engine: Engine) -> None:
    """A scoring run for 2024, a key list of two and a pilot-zone ranking."""
    actor = Actor.cli("test world")
    scoring.run(engine, "default", 2024, actor)
    with tempfile.TemporaryDirectory() as folder:
        rules = Path(folder) / "rules.yaml"
        rules.write_text(f"name: {KEY_LIST}\ncount: 2\nnear_misses: 5\n", encoding="utf-8")
        lists.select_list(engine, rules, 2024, actor)
    pilot.rank_zones(engine, 2024, actor, top_n=1)


class Api:
    """A TestClient per caller (so cookies never leak between callers) with its token."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.tokens: dict[str, str] = {}

    def client(self) -> TestClient:
        return TestClient(self.app, raise_server_exceptions=True)

    def login(self, name: str, password: str = PASSWORD) -> str:
        response = self.client().post(
            "/api/v1/auth/login", json={"username": name, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def headers(self, name: str, fresh: bool = False, **extra: str) -> dict[str, str]:
        if name == ANON:
            return dict(extra)
        if fresh or name not in self.tokens:
            self.tokens[name] = self.login(name)
        return {"Authorization": f"Bearer {self.tokens[name]}", **extra}

    def call(self, name: str, method: str, path: str, fresh: bool = False, **kw: Any) -> Any:
        headers = {**self.headers(name, fresh=fresh), **kw.pop("headers", {})}
        return self.client().request(method, path, headers=headers, **kw)


#: the test applications' upload folder (one per test process): not the system's, which real
#: servers and other test processes share, on another clock than the tests' fixed one
UPLOADS = tempfile.TemporaryDirectory(prefix="innofin-test-uploads-")


def make_api(engine: Engine, clock: Callable[[], dt.datetime] | None = None) -> Api:
    settings = Settings(database_url="unused", secret_key="k" * 40, upload_dir=UPLOADS.name)
    app = create_app(engine, settings, clock or Clock())
    return Api(app)
