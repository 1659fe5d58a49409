"""Money arguments follow one policy on every path (`innofin.kernel.money.money_arg`): an amount
with a part of a fen is refused with an error naming the parameter — never rounded (the ledger's
services rounded 100.004 to 100.00 before) — and nothing is written. The API's and the CLI's
paths are in tests/e2e/test_money_arguments_entry.py and
test_ledger_cli_numbers.py."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import ledger_world as lw
from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.kernel.errors import InvalidArgument
from innofin.kernel.yamlfile import YamlError
from innofin.ledger import bulk
from innofin.ledger import programme_files as programmes
from innofin.ledger.journal import perform
from innofin.ledger.loans import service
from innofin.ledger.models import LedgerEvent, Programme
from innofin.ledger.pools import service as pools
from innofin.registry.models import Institution

D = dt.date
M = lw.MAKER
CUT = Decimal("100.004")  # a part of a fen


def _events(engine: Engine) -> int:
    with unit_of_work(engine) as s:
        return int(s.scalar(select(func.count()).select_from(LedgerEvent)) or 0)


def test_the_ledger_services_refuse_a_part_of_a_fen_naming_the_parameter(engine: Engine) -> None:
    w = lw.build(engine)
    line_id = lw.line(w, limit="1000000.00", commitment=False)
    loan_id = lw.draw(w, line_id, "1000.00", "LN-1")
    spec = service.LineSpec(
        institution_id=w.bank_id,
        external_ref="L-CUT",
        enterprise_id=w.enterprise_ids[0],
        limit_amount=CUT,
        opens_on=D(2024, 1, 1),
        matures_on=D(2026, 12, 31),
        rate=Decimal("0.0365"),
    )
    calls: list[tuple[str, Callable[[Session], Any]]] = [
        ("limit_amount", lambda s: service.propose_line(s, M, spec)),
        (
            "amount",
            lambda s: service.draw(
                s, M, line_id, amount=CUT, drawn_on=D(2024, 2, 1), external_ref="LN-2", months=6
            ),
        ),
        (
            "principal",
            lambda s: service.repay(s, M, loan_id, principal=CUT, paid_on=D(2024, 3, 1)),
        ),
        (
            "interest",
            lambda s: service.repay(
                s,
                M,
                loan_id,
                principal=Decimal("1.00"),
                interest=Decimal("0.001"),
                paid_on=D(2024, 3, 1),
            ),
        ),
        (
            "amount",
            lambda s: pools.contribute(
                s, M, w.pool_id, contributor="province", amount=CUT, on=D(2024, 3, 1)
            ),
        ),
    ]
    before = _events(engine)
    for field, call in calls:
        with pytest.raises(InvalidArgument, match=rf"^{field} .*whole number of fen") as info:
            perform(engine, call, M)
        assert info.value.field == field
        assert re.search(r"got (100\.004|0\.001)\b", str(info.value))  # as given, not rounded
    assert _events(engine) == before  # nothing was written
    with unit_of_work(engine, immediate=True, actor=M) as s:
        result = bulk.repay_many(
            s, M, [bulk.Repayment(loan_id, CUT, Decimal("0.00"), D(2024, 3, 1))]
        )
    assert (result.recorded, [(r.index, r.field) for r in result.refused]) == (
        0,
        [(0, "principal")],
    )
    assert "whole number of fen" in result.refused[0].reason
    assert _events(engine) == before
    # a whole number of fen, however many zeros it is written with, is taken
    perform(
        engine, lambda s: service.repay(s, M, loan_id, principal=Decimal("100.000"),
                                        paid_on=D(2024, 3, 1)), M,
    )  # fmt: skip
    assert _events(engine) == before + 1


def test_a_programme_file_refuses_an_amount_with_a_part_of_a_fen(
    engine: Engine, tmp_path: Path
) -> None:
    with unit_of_work(engine) as s:
        s.add(Institution(code="BANK-X", name="示例银行", kind="bank"))
    text = (
        "code: PRG-X\nname: 示例\nsponsor: 示例厅\nstarts_on: 2024-01-01\nends_on: 2024-12-31\n"
        "institutions: [BANK-X]\n"
        "targets:\n"
        '  - {kind: new_credit, due_on: 2024-12-31, amount: {amount: "1.2345678", unit: 万元}}\n'
    )
    path = tmp_path / "prg.yaml"
    path.write_text(text, encoding="utf-8")
    actor = Actor.cli("test")
    wanted = r"prg\.yaml, line 8.*whole number of fen"
    with pytest.raises(YamlError, match=wanted), unit_of_work(engine, actor=actor) as s:
        programmes.load_programme(s, actor, path)
    path.write_text(text.replace("1.2345678", "1.234567"), encoding="utf-8")  # 12,345.67 yuan
    with unit_of_work(engine, actor=actor) as s:
        programmes.load_programme(s, actor, path)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Programme)) == 1
