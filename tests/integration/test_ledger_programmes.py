"""Programmes loaded from YAML on SQLite and PostgreSQL: targets, agreements, commitments and
pools in one transaction; errors name the file and line."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.kernel.yamlfile import YamlError
from innofin.ledger import programme_files as programmes
from innofin.ledger import replay
from innofin.ledger.models import AgreementCommitment, Programme, ProgrammeTarget, RiskPool
from innofin.registry.models import Institution

ACTOR = Actor.cli("test")


def _example() -> str:
    return (resources.files("innofin.ledger") / "examples" / "programme-example.yaml").read_text(
        encoding="utf-8"
    )


def _bank(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        s.add(Institution(code="BANK-EXAMPLE", name="示例银行", kind="bank"))


def test_the_shipped_example_loads(engine: Engine, tmp_path: Path) -> None:
    _bank(engine)
    path = tmp_path / "programme.yaml"
    path.write_text(_example(), encoding="utf-8")
    with unit_of_work(engine, actor=ACTOR) as s:
        prog = programmes.load_programme(s, ACTOR, path)
        prog_id = prog.id
    with unit_of_work(engine) as s:
        targets = s.scalars(
            select(ProgrammeTarget).where(ProgrammeTarget.programme_id == prog_id)
        ).all()
        amounts = sorted(t.amount for t in targets if t.amount is not None)
        assert amounts == [Decimal("60000000000.00"), Decimal("210000000000.00")]
        assert s.scalar(select(func.sum(AgreementCommitment.amount))) == Decimal("30000000000.00")
        pool = s.scalars(select(RiskPool)).one()
        assert (pool.balance, pool.leverage) == (Decimal("100000000.00"), 10)
        assert pool.rules["contributors"] == {"province": "0.7", "county": "0.3"}
        assert replay.check(s) == []


def test_errors_name_the_line_and_nothing_is_written(engine: Engine, tmp_path: Path) -> None:
    _bank(engine)
    text = _example().replace("    institution: BANK-EXAMPLE", "    institution: BANK-NONE")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    line = 1 + text.splitlines().index("    institution: BANK-NONE")
    wanted = rf"bad.yaml, line {line}.*unknown institution code"
    with pytest.raises(YamlError, match=wanted), unit_of_work(engine, actor=ACTOR) as s:
        programmes.load_programme(s, ACTOR, path)
    path.write_text(_example().replace("template: province_county", "template: nowhere"), "utf-8")
    with pytest.raises(YamlError, match="template"), unit_of_work(engine, actor=ACTOR) as s:
        programmes.load_programme(s, ACTOR, path)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Programme)) == 0
