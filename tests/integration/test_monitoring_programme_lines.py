"""Which programme a credit line's loans count in: the ledger's one rule
(`ledger.queries.line_programme` — the programme the line was entered for, else its commitment's
agreement's, else its risk pool's), read alike by subsidies and by every monitoring figure (the
balance cube and the programme summary built on it, scorecards, scenarios). A hand-made ledger:
programme 1 with an agreement's commitment and a pool, programme 2, and five lines linked each
way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine, select

import ledger_world as lw
from innofin.db.engine import unit_of_work
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import AgreementCommitment, Loan
from innofin.ledger.programmes import service as programme_service
from innofin.ledger.queries import programme_lines
from innofin.ledger.subsidies.service import programme_loans
from innofin.matching.scopes import OPERATOR
from innofin.monitoring.cube.service import Cube, read_ledger
from innofin.monitoring.funnel.scorecard import scorecards
from innofin.monitoring.scenarios import service as scenario
from innofin.monitoring.targets import service as tg

D = dt.date
FEN = 100


def _line(w: lw.World, ref: str, **links: int | None) -> int:
    spec = service.LineSpec(
        institution_id=w.bank_id, external_ref=ref, enterprise_id=w.enterprise_ids[0],
        limit_amount=Decimal("5000000.00"), opens_on=D(2024, 1, 1),
        matures_on=D(2026, 12, 31), rate=Decimal("0.0365"), **links,  # type: ignore[arg-type]
    )  # fmt: skip
    ev = perform(w.engine, lambda s: service.propose_line(s, lw.MAKER, spec), lw.MAKER)
    perform(w.engine, lambda s: service.approve_line(s, lw.CHECKER, ev.entity_id), lw.CHECKER)
    return ev.entity_id


def test_a_line_counts_in_the_programme_of_its_commitment_or_pool(engine: Engine) -> None:
    w = lw.build(engine, pool_funds="10000000.00", leverage=None)
    one = w.programme_id
    with unit_of_work(engine, actor=lw.MAKER) as s:
        two = programme_service.create_programme(
            s, lw.MAKER, code="PRG-2", name="第二个计划", sponsor="示例省科技厅",
            starts_on=D(2024, 1, 1), ends_on=D(2026, 12, 31), zone_ids=[w.zone_id],
            institution_ids=[w.bank_id],
        ).id  # fmt: skip
        agreement = programme_service.sign_agreement(
            s, lw.MAKER, code="AG-P1", kind="government_bank", institution_id=w.bank_id,
            counterparty="示例省科技厅", signed_on=D(2024, 1, 1), starts_on=D(2024, 1, 1),
            ends_on=D(2026, 12, 31), programme_id=one,
            commitments=[programme_service.CommitmentSpec(
                Decimal("90000000.00"), D(2024, 1, 1), D(2026, 12, 31)
            )],
        )  # fmt: skip
        s.flush()
        commitment = s.scalars(
            select(AgreementCommitment.id).where(AgreementCommitment.agreement_id == agreement.id)
        ).one()
    lines = {
        "entered": _line(w, "L-ENTERED", programme_id=one),
        "commitment": _line(w, "L-COMMIT", commitment_id=commitment),
        "pool": _line(w, "L-POOL", risk_pool_id=w.pool_id),
        # the world's own agreement is of no programme: its commitment names none
        "none": _line(w, "L-NONE", commitment_id=w.commitment_id),
        # entered for programme 2 but covered by programme 1's pool: programme 2's only
        "both": _line(w, "L-BOTH", programme_id=two, risk_pool_id=w.pool_id),
    }
    amounts = {"entered": 100, "commitment": 200, "pool": 400, "none": 800, "both": 1600}
    loans = {k: lw.draw(w, lines[k], f"{amounts[k] * 1000}.00", f"D-{k}") for k in lines}
    in_one = {"entered", "commitment", "pool"}

    # the ledger's rule, as subsidies read it
    with unit_of_work(engine) as s:
        assert set(s.scalars(programme_lines(one))) == {lines[k] for k in in_one}
        assert set(s.scalars(programme_lines(two))) == {lines["both"]}
        assert set(s.scalars(programme_loans(one))) == {loans[k] for k in in_one}
        assert set(s.scalars(select(Loan.id))) == set(loans.values())

    # the balance cube and the programme summary on it
    cube = Cube(read_ledger(engine))
    month = cube.last_month
    by_programme = cube.balances(["programme_id"]).filter(pl.col("month") == month)
    got = dict(zip(by_programme["programme_id"], by_programme["outstanding"], strict=True))
    expected = sum(amounts[k] for k in in_one) * 1000
    assert got == {one: expected * FEN, two: 1_600_000 * FEN, None: 800_000 * FEN}
    assert tg.programme_summary(cube, one).outstanding == Decimal(expected)
    assert tg.programme_summary(cube, two).outstanding == Decimal(1_600_000)

    with unit_of_work(engine) as s:
        # scorecards: the programme's loans and credit lines
        card = scorecards(s, OPERATOR, one).cards[0]
        assert (card.loans, card.drawn, card.credit_lines) == (3, Decimal(expected), 3)
        # scenarios: the programme's book
        book = scenario.scenario_inputs(s, one).book
        assert int(book.count.sum()) == 3
        assert abs(float(book.balance.sum()) - expected) < 0.01
