"""Scenarios against a hand-made ledger: what is read (the book, the events behind the rates, the
baseline levers), a run stored and recomputed from its seed to the same figures, and who may
run and read runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import Engine, select

import factories
from innofin.audit.models import AuditEvent
from innofin.audit.recorder import Actor
from innofin.db import unit_of_work
from innofin.kernel.codes import Role
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.ledger.journal import perform
from innofin.ledger.loans import service as ledger
from innofin.ledger.loans.lines_engine import LineSpec
from innofin.ledger.models import Programme
from innofin.matching.scopes import OPERATOR
from innofin.monitoring.scenarios import engine as se
from innofin.monitoring.scenarios import service as scenario
from innofin.monitoring.scenarios.models import ScenarioRun
from innofin.registry.models import IndicatorReport, Institution

AS_OF = dt.date(2024, 6, 30)
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
MAKER = Actor(label="cli:maker", channel="cli")
CHECKER = Actor(label="cli:checker", channel="cli")


def _world(engine: Engine) -> dict[str, int]:
    """Bank A lends to firm 1 (new materials, revenue 20 m yuan) in programme P1 (zone Z1, 江苏):
    a loan still running on 2024-06-30, one repaid in full two months in (prepaid) and one in
    default since May."""
    ids: dict[str, int] = {}
    with unit_of_work(engine) as s:
        z1 = factories.zone("Z1", province="江苏")
        z2 = factories.zone("Z2", province="浙江")
        s.add_all([z1, z2])
        s.flush()
        firm = factories.enterprise(1, zone_id=z1.id, tech_field="new_materials")
        s.add(firm)
        s.flush()
        s.add(IndicatorReport(enterprise_id=firm.id, year=2023, revenue=Decimal("2.0E7")))
        bank = Institution(code="A", name="银行A", kind="bank")
        s.add(bank)
        s.flush()
        prog = Programme(
            code="P1", name="专项", sponsor="省科技厅", starts_on=dt.date(2024, 1, 1),
            ends_on=dt.date(2026, 12, 31), zone_ids=[z1.id], institution_ids=[bank.id],
            created_at=T0,
        )  # fmt: skip
        s.add(prog)
        s.flush()
        ids.update(z1=z1.id, z2=z2.id, firm=firm.id, bank=bank.id, prog=prog.id)
    spec = LineSpec(
        institution_id=ids["bank"], external_ref="L1", enterprise_id=ids["firm"],
        limit_amount=Decimal("5000000.00"), opens_on=dt.date(2024, 1, 1),
        matures_on=dt.date(2026, 12, 31), rate=Decimal("0.0400"), programme_id=ids["prog"],
    )  # fmt: skip
    line = perform(engine, lambda s: ledger.propose_line(s, MAKER, spec), MAKER).entity_id
    perform(engine, lambda s: ledger.approve_line(s, CHECKER, line), CHECKER)

    def draw(ref: str, amount: str, on: dt.date, method: str) -> int:
        event = perform(
            engine,
            lambda s: ledger.draw(
                s, MAKER, line, amount=Decimal(amount), drawn_on=on, external_ref=ref,
                months=12, method=method,
            ),
            MAKER,
        )  # fmt: skip
        return int(event.entity_id)

    draw("LOAN1", "1000000.00", dt.date(2024, 1, 10), "equal_principal")
    early = draw("LOAN2", "500000.00", dt.date(2024, 1, 10), "interest_bullet")
    bad = draw("LOAN3", "300000.00", dt.date(2024, 2, 1), "interest_bullet")
    perform(
        engine,
        lambda s: ledger.repay(
            s, MAKER, early, principal=Decimal("500000.00"), paid_on=dt.date(2024, 3, 10)
        ),
        MAKER,
    )
    perform(engine, lambda s: ledger.mark_default(s, MAKER, bad, on=dt.date(2024, 5, 1)), MAKER)
    return ids


def _officer(role: Role, **over: object) -> Principal:
    kind = "zone" if role is Role.ZONE_OFFICER else "government"
    return Principal(5, "officer", frozenset({role}), 5, kind, **over)  # type: ignore[arg-type]


def test_what_a_scenario_reads_from_the_ledger(engine: Engine) -> None:
    ids = _world(engine)
    with unit_of_work(engine) as s:
        inputs = scenario.scenario_inputs(s, ids["prog"], AS_OF)
    book = inputs.book
    assert book.cells == 1 and int(book.count[0]) == 1  # only LOAN1 is still running
    assert float(book.balance[0]) == 1_000_000.0
    assert se.METHODS[int(book.method[0])] == "equal_principal"
    assert int(book.months_left[0]) == int(np.ceil(194 / se.DAYS_PER_MONTH))  # to 2025-01-10
    seg = scenario.FIELDS.index("new_materials") * len(scenario.SIZES) + 1  # 10–100 m yuan
    r = inputs.rates
    assert r.defaults.sum() == 1 and r.defaults[seg] == 1
    assert r.prepayments.sum() == 1 and r.prepayments[seg] == 1
    months = (172 + 60 + 90) / se.DAYS_PER_MONTH  # LOAN1 to 06-30, LOAN2 to 03-10, LOAN3 to 05-01
    assert r.exposure.sum() == pytest.approx(months)
    # no commitments, no candidate list, no claims: last year's lending, its one borrower, 0.3
    assert inputs.baseline == se.Levers(0.3, None, 1_800_000.0, 1)
    assert inputs.assumptions.lending_per_key_firm == 1_800_000.0
    assert inputs.mix[seg] == 1.0 and inputs.pace[seg] == pytest.approx(3 / 12)


def test_a_run_is_stored_and_recomputes_from_its_seed(engine: Engine) -> None:
    ids = _world(engine)
    levers = {"risk_share": 0.8, "quota": 3_000_000.0, "key_list_size": 4}
    small = {"months": 12, "paths": 200}
    with unit_of_work(engine) as s:
        first = scenario.run_scenario(
            s, OPERATOR, MAKER, ids["prog"], levers=levers, assumptions=small, seed=5,
            as_of=AS_OF, name="more cover",
        )  # fmt: skip
        again = scenario.run_scenario(
            s, OPERATOR, MAKER, ids["prog"], levers=levers, assumptions=small, seed=5, as_of=AS_OF
        )
    with unit_of_work(engine) as s:
        one, two = (s.get(ScenarioRun, i) for i in (first, again))
        assert one is not None and two is not None
        assert one.result == two.result and one.book_fingerprint == two.book_fingerprint
        assert scenario.replay(s, OPERATOR, first)
        result = scenario.scenario_result(s, OPERATOR, first)
        audited = s.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "scenario_run", AuditEvent.entity_id == str(first)
            )
        ).all()
        runs = scenario.scenario_runs(s, OPERATOR, ids["prog"])
    assert len(audited) == 1
    assert [r.id for r in runs] == [again, first]
    assert result.name == "more cover" and result.seed == 5 and result.as_of == AS_OF
    assert result.levers == se.Levers(0.8, None, 3_000_000.0, 4)
    assert result.baseline.risk_share == 0.3
    assert result.book_loans == 1 and result.book_balance == Decimal("1000000.00")
    assert len(result.projection) == 12
    assert result.projection[0].month_end == dt.date(2024, 7, 31)
    for m in result.projection:
        assert m.balance_low <= m.balance <= m.balance_high
        assert m.payouts_low <= m.payouts <= m.payouts_high
    # new lending: the smaller of the quota (3 m) and the demand (4 × 1.8 m), a twelfth a month
    assert sum(m.new_lending for m in result.projection) == Decimal("3000000.00")
    assert {r.tech_field for r in result.rates} >= {"new_materials"}
    with unit_of_work(engine) as s:
        old = s.get(ScenarioRun, again)
        assert old is not None
        old.engine_version = "0"  # a run of an earlier engine: its draws are not this one's
    with unit_of_work(engine) as s, pytest.raises(Conflict, match="engine version 0"):
        scenario.replay(s, OPERATOR, again)


def test_who_may_run_and_read_scenarios(engine: Engine) -> None:
    ids = _world(engine)
    province = _officer(Role.PROGRAMME_OFFICER, province="江苏")
    other_province = _officer(Role.PROGRAMME_OFFICER, province="浙江")
    zone = _officer(Role.ZONE_OFFICER, zone_id=ids["z1"])
    other_zone = _officer(Role.ZONE_OFFICER, zone_id=ids["z2"])
    small = {"months": 12, "paths": 100}
    with unit_of_work(engine) as s:
        run = scenario.run_scenario(
            s, province, MAKER, ids["prog"], assumptions=small, seed=1, as_of=AS_OF
        )
        with pytest.raises(NotFound):
            scenario.run_scenario(s, other_province, MAKER, ids["prog"], assumptions=small)
        with pytest.raises(Forbidden):  # a zone officer reads the programme but does not run it
            scenario.run_scenario(s, zone, MAKER, ids["prog"], assumptions=small)
        with pytest.raises(NotFound):  # every programme: the national office only
            scenario.run_scenario(s, province, MAKER, None, assumptions=small)
        with pytest.raises(InvalidInput):
            scenario.run_scenario(s, province, MAKER, ids["prog"], levers={"rate": 1})
        with pytest.raises(InvalidInput):
            scenario.run_scenario(
                s, province, MAKER, ids["prog"], assumptions={"months": 48}, as_of=AS_OF
            )
        assert scenario.scenario_result(s, zone, run).id == run
        for outsider in (other_zone, other_province):
            with pytest.raises(NotFound):
                scenario.scenario_result(s, outsider, run)
            assert scenario.scenario_runs(s, outsider) == []
