"""The monitoring endpoints' figures and their disclosure control: an institution sees its own
loans' figures, the other institutions' only as anonymous cells that pass the disclosure rule
(in the API world one other bank lends: always hidden), and a programme's amounts only when its
lenders pass the rule; officers see their scope whole. The anonymous cells are also tested on
hand-made ledgers where they may be shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api_world import Api, World, build_world, make_api
from innofin.kernel.disclosure import DisclosureRule
from innofin.ledger.models import Loan
from innofin.ledger.queries import programme_lines
from innofin.monitoring import records
from monitoring_frames import D, Ledger
from monitoring_frames import Loan as HandLoan


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[World, Api]]:
    records.forget()
    w = build_world(engine)
    yield w, make_api(engine)
    records.forget()


def _cached(engine: Engine, institutions: list[int], programme: int | None = None) -> Decimal:
    stmt = select(func.coalesce(func.sum(Loan.outstanding_principal), 0)).where(
        Loan.institution_id.in_(institutions)
    )
    if programme is not None:  # the programme's lines by the ledger's rule (a pool's count)
        stmt = stmt.where(Loan.credit_line_id.in_(programme_lines(programme)))
    with Session(engine) as s:
        return Decimal(s.scalar(stmt) or 0).quantize(Decimal("0.01"))


def _get(api: Api, who: str, path: str) -> Any:
    response = api.call(who, "GET", path)
    assert response.status_code == 200, response.text
    return response.json()


def _total(cells: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(c["outstanding"]) for c in cells), Decimal(0))


def test_balances_own_figures_and_hidden_others(world: tuple[World, Api]) -> None:
    w, api = world
    tree_a = [w.ids["a"], w.ids["a1"]]
    body = _get(api, "bank_a", "/api/v1/monitoring/balances?by=institution_id,product_kind")
    assert body["own_only"] is True and body["as_of"]
    assert {c["key"]["institution_id"] for c in body["cells"]} <= set(tree_a)
    assert _total(body["cells"]) == _cached(w.engine, tree_a) > 0
    # the others are bank B alone: a cell of one contributor is never shown, nor grouped by bank
    assert body["others_by"] == ["product_kind"]
    assert body["others"] and all(c["outstanding"] is None for c in body["others"])
    assert all(c["new_lending"] is None and c["loans_drawn"] is None for c in body["others"])

    national = _get(api, "national", "/api/v1/monitoring/balances?by=institution_id")
    assert national["own_only"] is False and national["others"] is None
    everyone = [w.ids["a"], w.ids["a1"], w.ids["b"]]
    assert _total(national["cells"]) == _cached(w.engine, everyone)


def test_growth_of_an_institution_and_the_others(world: tuple[World, Api]) -> None:
    w, api = world
    body = _get(api, "bank_b", "/api/v1/monitoring/growth?months=3")
    assert len(body["series"]) == 3
    assert Decimal(body["series"][-1]["outstanding"]) == _cached(w.engine, [w.ids["b"]])
    assert body["others"] and all(p["outstanding"] is None for p in body["others"])
    officer = _get(api, "admin", "/api/v1/monitoring/growth?months=3")
    assert officer["others"] is None


def test_programme_summary_is_withheld_from_a_sole_lender(world: tuple[World, Api]) -> None:
    w, api = world
    path = f"/api/v1/monitoring/programmes/{w.ids['prg_jia']}/summary"
    bank = _get(api, "bank_a", path)
    assert bank["disclosed"] is False and bank["outstanding"] is None
    assert all(t["current"] is None and t["probability"] is None for t in bank["targets"])
    officer = _get(api, "national", path)
    assert officer["disclosed"] is True
    want = _cached(w.engine, [w.ids["a"], w.ids["a1"], w.ids["b"]], w.ids["prg_jia"])
    assert Decimal(officer["outstanding"]) == want
    assert [t["goal"] for t in officer["targets"]] == [t["goal"] for t in bank["targets"]]


def test_quota_shows_an_institution_its_own_commitments(world: tuple[World, Api]) -> None:
    w, api = world
    path = f"/api/v1/monitoring/programmes/{w.ids['prg_yi']}/quota"
    bank = _get(api, "bank_b", path)
    assert bank["own_only"] is True
    assert {c["institution_id"] for c in bank["commitments"]} <= {w.ids["b"]}
    assert all(q["used"] is None for q in bank["quotas"])  # one lender: not disclosed
    assert _get(api, "admin", path)["own_only"] is False


# --- the anonymous cells where they may be shown ------------------------------------------------


def _banks(amounts: dict[int, int]) -> Ledger:
    """Bank 1 (the caller) and others, each lending `amounts[bank]` fen to one firm per loan in
    zone 10 (two loans a bank, to separate firms)."""
    loans, events = [], []
    for bank, amount in amounts.items():
        for k in range(2):
            loan_id = bank * 10 + k
            loans.append(HandLoan(loan_id, institution_id=bank, zone_id=10))
            events.append((loan_id, "drawn", D(2024, 1, 15), amount // 2, None))
    return Ledger(loans=loans, events=events)


def test_anonymous_cells_follow_the_disclosure_rule() -> None:
    rule = DisclosureRule(min_contributors=3)
    month = dt.date(2024, 1, 31)
    even = _banks({1: 500, 2: 400, 3: 400, 4: 400}).cube()
    cells = records._anonymous(even, ["zone_id"], {}, [1], month, rule)
    assert [(c.key, c.outstanding) for c in cells] == [({"zone_id": 10}, Decimal("12.00"))]
    # bank 4 holds 82 % of the others' balance: it would be recognised, so the cell is hidden
    dominated = _banks({1: 500, 2: 100, 3: 100, 4: 900}).cube()
    cells = records._anonymous(dominated, ["zone_id"], {}, [1], month, rule)
    assert [c.outstanding for c in cells] == [None]
    # too few contributors under the default rule (five)
    cells = records._anonymous(even, ["zone_id"], {}, [1], month, DisclosureRule())
    assert [c.outstanding for c in cells] == [None]
