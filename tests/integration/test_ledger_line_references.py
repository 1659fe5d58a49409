"""What a credit line may name, on SQLite and PostgreSQL, whichever way it is entered.

A line may name only a risk pool of a programme in which its institution (or its head office)
takes part — listed in the programme or a signatory of one of its agreements — and only its own
institution's (or its head office's) products and commitments. Anything else answers exactly as a
row that does not exist, and nothing is written. The attack this reproduces: a bank attached
another programme's pool to its line (and so read the pool and used up its leverage headroom),
and another bank's product.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import ledger_world as lw
from factories import uscc
from innofin.db.engine import unit_of_work
from innofin.ingest.errors import RejectedRows
from innofin.ingest.rejects import read_rejects
from innofin.kernel.errors import NotFound
from innofin.ledger import bulk, returns
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import AgreementCommitment, CreditLine
from innofin.ledger.pools import engine as pool_engine
from innofin.ledger.pools import service as pools
from innofin.ledger.programmes import service as programme_service
from innofin.registry.models import Institution, Product

D = dt.date


@dataclasses.dataclass(frozen=True)
class Others:
    """Rows the world's bank (B001) must not name: another bank's product, commitment and the
    pool of a programme only that bank takes part in, and a pool of no programme; plus a branch
    of B001 and a product of each."""

    bank: int
    branch: int
    product: int
    own_product: int
    branch_product: int
    commitment: int
    pool: int
    loose_pool: int
    signed_pool: int


def _product(code: str, institution_id: int) -> Product:
    return Product(
        code=code,
        institution_id=institution_id,
        name=f"{code}科创贷",
        kind="pure_credit_loan",
        financing_mode="indirect",
        amount_max=Decimal("5000000.00"),
        eligibility={},
    )


def _others(w: lw.World) -> Others:
    rules = pool_engine.early_province_county_rules(Decimal("0.5"))
    with unit_of_work(w.engine, actor=lw.MAKER) as s:
        bank = Institution(code="B002", name="他行", kind="bank")
        branch = Institution(
            code="B001-1", name="示例银行科技支行", kind="bank", parent_id=w.bank_id
        )
        s.add_all([bank, branch])
        s.flush()
        products = [_product(c, i) for c, i in (("P-B2", bank.id), ("P-B1", w.bank_id))]
        products.append(_product("P-B1-1", branch.id))
        s.add_all(products)
        prog = programme_service.create_programme(
            s, lw.MAKER, code="PRG-B2", name="他行计划", sponsor="乙省科技厅",
            starts_on=D(2024, 1, 1), ends_on=D(2026, 12, 31), institution_ids=[bank.id],
        )  # fmt: skip
        ag = programme_service.sign_agreement(
            s, lw.MAKER, code="AG-B2", kind="government_bank", institution_id=bank.id,
            counterparty="乙省科技厅", signed_on=D(2024, 1, 1), starts_on=D(2024, 1, 1),
            ends_on=D(2026, 12, 31), programme_id=prog.id,
            commitments=[
                programme_service.CommitmentSpec(Decimal("9e6"), D(2024, 1, 1), D(2026, 12, 31))
            ],
        )  # fmt: skip
        # a programme that lists no institution: B001 takes part by signing one of its agreements
        signed = programme_service.create_programme(
            s, lw.MAKER, code="PRG-SIGNED", name="签约计划", sponsor="丙省科技厅",
            starts_on=D(2024, 1, 1), ends_on=D(2026, 12, 31),
        )  # fmt: skip
        programme_service.sign_agreement(
            s, lw.MAKER, code="AG-B1-SIGNED", kind="government_bank", institution_id=w.bank_id,
            counterparty="丙省科技厅", signed_on=D(2024, 1, 1), starts_on=D(2024, 1, 1),
            ends_on=D(2026, 12, 31), programme_id=signed.id,
        )  # fmt: skip
        made = {}
        for code, programme_id in (
            ("POOL-B2", prog.id),
            ("POOL-LOOSE", None),
            ("POOL-S", signed.id),
        ):
            pool = pools.create_pool(
                s, lw.MAKER, code=code, name=code, rules=rules, programme_id=programme_id,
                opened_on=D(2024, 1, 1),
            )  # fmt: skip
            pools.contribute(
                s, lw.MAKER, pool.id, contributor="province", amount=Decimal("1e6"),
                on=D(2024, 1, 1),
            )  # fmt: skip
            made[code] = pool.id
        s.flush()
        commitment = s.scalars(
            select(AgreementCommitment.id).where(AgreementCommitment.agreement_id == ag.id)
        ).one()
        return Others(
            bank=bank.id,
            branch=branch.id,
            product=products[0].id,
            own_product=products[1].id,
            branch_product=products[2].id,
            commitment=commitment,
            pool=made["POOL-B2"],
            loose_pool=made["POOL-LOOSE"],
            signed_pool=made["POOL-S"],
        )


def _spec(w: lw.World, ref: str, **terms: int) -> service.LineSpec:
    values: dict[str, object] = {
        "institution_id": w.bank_id,
        "external_ref": ref,
        "enterprise_id": w.enterprise_ids[0],
        "limit_amount": Decimal("100000.00"),
        "opens_on": D(2024, 3, 1),
        "matures_on": D(2026, 3, 1),
        "rate": Decimal("0.0365"),
        **terms,
    }
    return service.LineSpec(**values)  # type: ignore[arg-type]


def _propose(w: lw.World, spec: service.LineSpec) -> int:
    return perform(w.engine, lambda s: service.propose_line(s, lw.MAKER, spec), lw.MAKER).entity_id


def _lines(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        return int(s.scalar(select(func.count()).select_from(CreditLine)) or 0)


def test_a_line_names_no_pool_product_or_commitment_outside_its_programmes(
    engine: Engine,
) -> None:
    w = lw.build(engine)
    o = _others(w)
    before = _lines(engine)
    missing = 2_000_000_000
    for field, what, foreign in (
        ("risk_pool_id", "risk pool", o.pool),
        ("risk_pool_id", "risk pool", o.loose_pool),
        ("product_id", "product", o.product),
        ("product_id", "product", o.branch_product),  # the head office names not a branch's
        ("commitment_id", "commitment", o.commitment),
    ):
        with pytest.raises(NotFound) as refused:
            _propose(w, _spec(w, f"L-{field}-{foreign}", **{field: foreign}))
        # worded exactly as for a row that does not exist
        assert str(refused.value) == f"{what} {foreign} does not exist"
        if field != "commitment_id":
            with pytest.raises(NotFound, match=f"^{what} {missing} does not exist$"):
                _propose(w, _spec(w, f"L-{field}-missing", **{field: missing}))
    assert _lines(engine) == before  # nothing half-written

    # its own programme's pool (listed), a programme whose agreement it signed, its own product
    own = _propose(w, _spec(w, "L-OWN", risk_pool_id=w.pool_id, product_id=o.own_product))
    signed = _propose(w, _spec(w, "L-SIGNED", risk_pool_id=o.signed_pool))
    # a branch names its head office's pool and products, and its own
    branch = dataclasses.replace(w, bank_id=o.branch)
    by_branch = [
        _propose(branch, _spec(branch, f"L-BR-{p}", risk_pool_id=w.pool_id, product_id=p))
        for p in (o.own_product, o.branch_product)
    ]
    with pytest.raises(NotFound):  # but not another bank's pool
        _propose(branch, _spec(branch, "L-BR-X", risk_pool_id=o.pool))
    with unit_of_work(engine) as s:
        named = {
            line.id: (line.risk_pool_id, line.product_id)
            for line in s.scalars(select(CreditLine).where(CreditLine.id > 0))
        }
    assert named[own] == (w.pool_id, o.own_product)
    assert named[signed] == (o.signed_pool, None)
    assert [named[i] for i in by_branch] == [
        (w.pool_id, o.own_product),
        (w.pool_id, o.branch_product),
    ]


LINE_HEADER = [
    *("institution", "loan_ref", "event", "date", "line_ref", "principal", "interest", "months"),
    *("enterprise", "limit", "end_date", "rate", "product", "pool", "maker", "checker"),
]


def _line_row(ref: str, **over: str) -> list[str]:
    cells = {
        "institution": "B001",
        "event": "credit_line",
        "date": "2024-01-15",
        "line_ref": ref,
        "enterprise": uscc(0),
        "limit": "500000.00",
        "end_date": "2025-01-14",
        "rate": "3.45",
        "maker": "alice",
        "checker": "bob",
        **over,
    }
    return [cells.get(name, "") for name in LINE_HEADER]


def test_a_bank_return_names_no_pool_or_product_outside_its_programmes(
    engine: Engine, tmp_path: Path
) -> None:
    w = lw.build(engine)
    _others(w)
    lw.officers(w, "alice", "bob")
    rows = [
        _line_row("R-1", pool="POOL-B2"),  # another programme's pool
        _line_row("R-2", pool="POOL-NONE"),  # no such pool
        _line_row("R-3", product="P-B2"),  # another bank's product
        _line_row("R-4", product="P-NONE"),  # no such product
        _line_row("R-5", pool="POOL-1", product="P-B1"),  # its own: fine
    ]
    path = tmp_path / "return.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([LINE_HEADER, *rows])
    before = _lines(engine)
    with pytest.raises(RejectedRows, match="4 of 5 rows rejected") as exc:
        returns.import_return(engine, path, actor=lw.MAKER)
    found = [(r["row"], r["column"], r["reason"]) for r in read_rejects(exc.value.rejects_path)]
    assert found == [
        ("2", "pool", "unknown risk pool code 'POOL-B2'"),
        ("3", "pool", "unknown risk pool code 'POOL-NONE'"),
        ("4", "product", "unknown product code 'P-B2'"),
        ("5", "product", "unknown product code 'P-NONE'"),
    ]
    assert _lines(engine) == before
    returns.import_return(engine, path, actor=lw.MAKER, skip_invalid=True)
    with unit_of_work(engine) as s:
        entered = s.scalars(select(CreditLine).where(CreditLine.external_ref == "R-5")).one()
        assert entered.risk_pool_id == w.pool_id and entered.status == "approved"


def test_the_bulk_path_names_no_pool_product_or_commitment_outside_its_programmes(
    engine: Engine,
) -> None:
    w = lw.build(engine)
    o = _others(w)
    rows = [
        bulk.NewLine(_spec(w, "B-POOL", risk_pool_id=o.pool)),
        bulk.NewLine(_spec(w, "B-LOOSE", risk_pool_id=o.loose_pool)),
        bulk.NewLine(_spec(w, "B-PRODUCT", product_id=o.product)),
        bulk.NewLine(_spec(w, "B-COMMITMENT", commitment_id=o.commitment)),
        bulk.NewLine(_spec(w, "B-OWN", risk_pool_id=w.pool_id, product_id=o.own_product)),
    ]
    with unit_of_work(engine, actor=lw.MAKER) as s:
        result = bulk.record_many(s, lw.MAKER, rows)
    assert [(r.index, r.field, r.reason) for r in result.refused] == [
        (0, "risk_pool_id", f"risk pool {o.pool} does not exist"),
        (1, "risk_pool_id", f"risk pool {o.loose_pool} does not exist"),
        (2, "product_id", f"product {o.product} does not exist"),
        (3, "commitment_id", f"commitment {o.commitment} does not exist"),
    ]
    assert result.recorded == 1
    with unit_of_work(engine) as s:
        own = s.scalars(select(CreditLine).where(CreditLine.external_ref == "B-OWN")).one()
        assert (own.risk_pool_id, own.product_id) == (w.pool_id, o.own_product)
