"""A small ledger world for tests: a zone, enterprises, a bank with two officers, an agreement
with a commitment, a programme the bank takes part in with its risk pool, and an approved credit
line; plus shortcuts for the actions
(and `officers`: the bank's officers as users, for returns that name them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select

from factories import enterprise, zone
from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import AgreementCommitment
from innofin.ledger.pools import engine as pool_engine
from innofin.ledger.pools import service as pools
from innofin.ledger.programmes import service as programme_service
from innofin.registry.models import Institution, Organisation, User, UserRole

MAKER = Actor(label="api:maker", channel="api", user_id=1)
CHECKER = Actor(label="api:checker", channel="api", user_id=2)
D = dt.date


@dataclass(frozen=True)
class World:
    engine: Engine
    zone_id: int
    enterprise_ids: tuple[int, ...]
    bank_id: int
    commitment_id: int
    pool_id: int
    #: the programme of the pool, in which the bank takes part
    programme_id: int


def build(
    engine: Engine,
    *,
    enterprises: int = 3,
    commitment: str = "10000000.00",
    pool_funds: str = "1000000.00",
    leverage: int | None = 10,
) -> World:
    with unit_of_work(engine, actor=MAKER) as s:
        z = zone()
        s.add(z)
        s.flush()
        firms = [
            enterprise(i, zone_id=z.id, tech_field="electronic_information")
            for i in range(enterprises)
        ]
        s.add_all(firms)
        bank = Institution(code="B001", name="示例银行", kind="bank")
        s.add(bank)
        s.flush()
        # the bank takes part in the pool's programme, so its lines may name the pool
        prog = programme_service.create_programme(
            s, MAKER, code="PRG-1", name="示例科技信贷计划", sponsor="示例省科技厅",
            starts_on=D(2024, 1, 1), ends_on=D(2026, 12, 31), zone_ids=[z.id],
            institution_ids=[bank.id],
        )  # fmt: skip
        ag = programme_service.sign_agreement(
            s,
            MAKER,
            code="AG-1",
            kind="government_bank",
            institution_id=bank.id,
            counterparty="示例省科技厅",
            signed_on=D(2024, 1, 1),
            starts_on=D(2024, 1, 1),
            ends_on=D(2026, 12, 31),
            commitments=[
                programme_service.CommitmentSpec(
                    Decimal(commitment), D(2024, 1, 1), D(2026, 12, 31)
                )
            ],
        )
        s.flush()
        commitment_id = s.scalars(
            select(AgreementCommitment.id).where(AgreementCommitment.agreement_id == ag.id)
        ).one()
        rules = pool_engine.province_direct_guaranteed_bonus_rules(
            leverage=None if leverage is None else Decimal(leverage)
        )
        pool = pools.create_pool(
            s, MAKER, code="POOL-1", name="示例风险补偿资金池", rules=rules,
            programme_id=prog.id, opened_on=D(2024, 1, 1),
        )  # fmt: skip
        if Decimal(pool_funds) > 0:
            pools.contribute(
                s,
                MAKER,
                pool.id,
                contributor="province",
                amount=Decimal(pool_funds),
                on=D(2024, 1, 1),
            )
        firm_ids = tuple(f.id for f in firms)
        return World(engine, z.id, firm_ids, bank.id, commitment_id, pool.id, prog.id)


def line(
    w: World,
    ref: str = "L-1",
    *,
    limit: str = "1000000.00",
    enterprise: int = 0,
    revolving: bool = False,
    commitment: bool = True,
    pool: bool = False,
    approve: bool = True,
    tags: tuple[str, ...] = (),
) -> int:
    """An approved credit line (maker, then checker)."""
    spec = service.LineSpec(
        institution_id=w.bank_id,
        external_ref=ref,
        enterprise_id=w.enterprise_ids[enterprise],
        limit_amount=Decimal(limit),
        opens_on=D(2024, 1, 1),
        matures_on=D(2026, 12, 31),
        rate=Decimal("0.0365"),
        revolving=revolving,
        commitment_id=w.commitment_id if commitment else None,
        risk_pool_id=w.pool_id if pool else None,
        tags=tags,
    )
    ev = perform(w.engine, lambda s: service.propose_line(s, MAKER, spec), MAKER)
    if approve:
        perform(w.engine, lambda s: service.approve_line(s, CHECKER, ev.entity_id), CHECKER)
    return ev.entity_id


def draw(
    w: World,
    line_id: int,
    amount: str,
    ref: str,
    *,
    on: dt.date = D(2024, 2, 1),
    months: int = 12,
    key: str | None = None,
) -> int:
    ev = perform(
        w.engine,
        lambda s: service.draw(
            s,
            MAKER,
            line_id,
            amount=Decimal(amount),
            drawn_on=on,
            external_ref=ref,
            months=months,
            key=key,
        ),
        MAKER,
    )
    return ev.entity_id


def officers(
    w: World, *names: str, institution: int | None = None, role: str = "institution_officer"
) -> dict[str, int]:
    """Users of an institution (the world's bank by default), by user name: their ids."""
    bank = w.bank_id if institution is None else institution
    with unit_of_work(w.engine, actor=MAKER) as s:
        org = s.scalars(select(Organisation).where(Organisation.institution_id == bank)).first()
        if org is None:
            org = Organisation(kind="institution", name=f"institution {bank}", institution_id=bank)
            s.add(org)
            s.flush()
        users = [User(username=n, display_name=n, organisation_id=org.id) for n in names]
        s.add_all(users)
        s.flush()
        s.add_all(UserRole(user_id=u.id, role=role) for u in users)
        return {u.username: u.id for u in users}
