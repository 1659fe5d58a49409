"""Amounts and dates in API input, as the README and the OpenAPI pattern state them: decimal
strings such as "1250000.00" and YYYY-MM-DD — and nothing looser. Full-width digits are read as
their ASCII forms, as in imported files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from api_world import Api, World, build_world, make_api
from innofin.db import unit_of_work
from innofin.kernel.jsontypes import AMOUNT_PATTERN, MONEY_PATTERN
from innofin.registry.models import IndicatorReport


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


REFUSED: list[Any] = [
    1000,  # a JSON integer
    0,
    1000.0,  # a JSON float
    "1e3",  # an exponent
    "1E3",
    "1_000",  # an underscore
    " 1000",  # padded
    "1000 ",
    "\u30001000",  # padded with an ideographic space
    "1,000",  # a thousands separator
    "+1000",  # a plus sign
    "1000.",  # a point without places
    ".5",
    "0x10",
    "NaN",
    "Infinity",
    "",
    "10²",  # a superscript (full NFKC would read it as 102)
    "٣٤",  # digits of another script
    True,
    ["1000"],
]


def test_loose_amounts_are_refused_naming_the_field(
    setup: tuple[World, Api], engine: Engine
) -> None:
    w, api = setup
    path = f"/api/v1/enterprises/{w.ids['e1']}/reports/2025"
    for value in REFUSED:  # one world for all (building it is the slow part)
        response = api.call("firm", "PUT", path, json={"revenue": value, "employees": 9})
        assert response.status_code == 422, (value, response.text)
        body = response.json()
        assert (body["code"], body["field"]) == ("invalid_request", "revenue"), value
    with unit_of_work(engine) as s:
        assert s.scalar(select(IndicatorReport.id).where(IndicatorReport.year == 2025)) is None


ACCEPTED = [
    ("1250000.00", "1250000.00"),
    ("1250000", "1250000.00"),
    ("0.5", "0.50"),
    ("１２５００００", "1250000.00"),  # full-width, as typed with a Chinese input method
    ("１２５００００．５", "1250000.50"),
]


def test_decimal_strings_are_read_full_width_too(setup: tuple[World, Api], engine: Engine) -> None:
    w, api = setup
    path = f"/api/v1/enterprises/{w.ids['e1']}/reports/2025"
    for value, stored in ACCEPTED:
        response = api.call("firm", "PUT", path, json={"revenue": value, "net_profit": "－３"})
        assert response.status_code == 200, response.text
        assert (response.json()["revenue"], response.json()["net_profit"]) == (stored, "-3.00")
        with unit_of_work(engine) as s:
            got = s.scalar(select(IndicatorReport.revenue).where(IndicatorReport.year == 2025))
        assert str(got) == stored


def test_the_documented_patterns_accept_exactly_what_the_api_reads() -> None:
    """What the OpenAPI schema states is what the code holds (ASCII forms)."""
    for text in ("1250000.00", "0", "9999999999999999.99"):
        assert re.fullmatch(AMOUNT_PATTERN, text) and re.fullmatch(MONEY_PATTERN, text)
    for text in ("1e3", "1_000", " 1", "1,000", "+1", "1.", ".5", "1.234"):
        assert not re.fullmatch(AMOUNT_PATTERN, text)


def test_ledger_amounts_and_dates_refuse_the_same_forms(setup: tuple[World, Api]) -> None:
    _, api = setup
    path = "/api/v1/risk-pools/1/contributions"
    for value in (1000, "1e3", "1_000", " 1000", "1,000"):
        body = {"contributor": "province", "amount": value, "paid_on": "2025-01-15"}
        response = api.call("admin", "POST", path, json=body)
        assert response.status_code == 422, (value, response.text)
        assert response.json()["field"] == "amount"
    for day in ("20250115", "2025-W03-3", "2025-1-15", " 2025-01-15", 20250115):
        body = {"contributor": "province", "amount": "1000.00", "paid_on": day}
        response = api.call("admin", "POST", path, json=body)
        assert response.status_code == 422, (day, response.text)
        assert response.json()["field"] == "paid_on"


def test_date_query_parameters_are_yyyy_mm_dd_only(setup: tuple[World, Api]) -> None:
    """pydantic alone read ?opens_from=0 as 1970-01-01 (a Unix timestamp)."""
    _, api = setup
    for name, path in (("opens_from", "credit-lines"), ("drawn_to", "loans")):
        for day in ("0", "1700000000", "20240101"):
            response = api.call("admin", "GET", f"/api/v1/{path}?{name}={day}")
            assert response.status_code == 422, (name, day, response.text)
            assert response.json()["field"] == name
        good = api.call("admin", "GET", f"/api/v1/{path}?{name}=２０２４－０１－０１")
        assert good.status_code == 200, good.text
