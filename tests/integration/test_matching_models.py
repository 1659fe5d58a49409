"""The matching tables' own guards: what the database refuses whatever the code does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

import factories
from innofin.db import unit_of_work
from innofin.matching.models import FinancingNeed, NeedReferral
from innofin.registry.models import Institution

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _world(engine: Engine) -> tuple[int, int]:
    with unit_of_work(engine) as s:
        firm = factories.enterprise(1)
        bank = Institution(code="B1", name="示例银行", kind="bank")
        s.add_all([firm, bank])
        s.flush()
        return firm.id, bank.id


def _need(enterprise_id: int, **over: Any) -> FinancingNeed:
    values: dict[str, Any] = {
        "enterprise_id": enterprise_id,
        "amount": Decimal("2000000.00"),
        "term_months": 12,
        "purpose": "working_capital",
        "collateral_offered": ["ip_pledge"],
        "needed_by": dt.date(2026, 6, 30),
        "posted_at": NOW,
    }
    values.update(over)
    return FinancingNeed(**values)


@pytest.mark.parametrize(
    "over",
    [{"amount": Decimal(0)}, {"term_months": 0}, {"purpose": "holiday"}, {"status": "lost"}],
)
def test_a_need_out_of_its_bounds_is_refused(engine: Engine, over: dict[str, Any]) -> None:
    firm, _ = _world(engine)
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        s.add(_need(firm, **over))


def test_a_decline_without_a_reason_code_is_refused(engine: Engine) -> None:
    firm, bank = _world(engine)
    with unit_of_work(engine) as s:
        need = _need(firm)
        s.add(need)
        s.flush()
        need_id = need.id
    common = {
        "need_id": need_id,
        "institution_id": bank,
        "consent_at": NOW,
        "referred_at": NOW,
        "deadline": dt.date(2026, 3, 4),
    }
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        s.add(NeedReferral(**common, status="declined", declined_at=NOW))
    with pytest.raises(IntegrityError), unit_of_work(engine) as s:
        s.add(NeedReferral(**common, status="declined", declined_at=NOW, decline_code="other"))
    with unit_of_work(engine) as s:
        s.add(NeedReferral(**common, status="declined", declined_at=NOW, decline_code="risk"))
