"""A small world with one party of each kind, and an API client that signs in as each of them.

Zones Z1 (province 甲省) and Z2 (乙省); enterprises e1, e2 in Z1 and e3 in Z2; bank A with branch
A1, and bank B; one product each. e1 has a user and consents to bank A (and to branch A1); e2 was
referred to bank A. Users: admin, a national and a provincial programme officer, Z1's zone officer,
officers of bank A and bank B, and e1's user.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

import factories
from innofin.access.models import Consent, Referral
from innofin.access.service import OrgRef, create_user
from innofin.api.app import create_app
from innofin.audit.recorder import Actor
from innofin.db import unit_of_work
from innofin.kernel.codes import OrgKind, Role
from innofin.kernel.settings import Settings
from innofin.registry.models import (
    Certification,
    IndicatorReport,
    Institution,
    Product,
    ZoneYearStat,
)
from innofin.scoring import lists, pilot
from innofin.scoring import service as scoring

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
    score_world(engine)
    ledger_world(world)
    return world


def ledger_world(world: World) -> None:
    """Bank A's approved line to e1 with a loan and a pending line to e2 (entered by a maker
    who is not bank A's API user); bank B's approved line to e3 with a loan."""
    from innofin.ledger import service as ledger
    from innofin.ledger.store import perform

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


def make_api(engine: Engine, clock: Callable[[], dt.datetime] | None = None) -> Api:
    settings = Settings(database_url="unused", secret_key="k" * 40)
    app = create_app(engine, settings, clock or Clock())
    return Api(app)
