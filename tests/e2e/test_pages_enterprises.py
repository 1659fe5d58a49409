"""The enterprise list's rows: each firm's certifications held today (each kind once, in the
order of their codes) read with the page's rows, and a change shown on the next request."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api_world import PASSWORD, World, build_world, make_api
from innofin.registry.models import Certification

BASE = "http://127.0.0.1"


@pytest.fixture
def site(engine: Engine) -> Iterator[tuple[World, TestClient]]:
    world = build_world(engine)
    client = TestClient(make_api(engine).app, base_url=BASE, follow_redirects=False)
    signed = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    client.cookies.set("innofin_session", signed.json()["access_token"])
    client.cookies.set("innofin_lang", "en")
    yield world, client


def held(client: TestClient, name: str) -> list[str]:
    """The certification tags of the row of `name` on the English list page."""
    page = client.get("/enterprises", params={"q": name})
    assert page.status_code == 200
    row = re.search(rf">{name}</a></td>(.*?)</tr>", page.text, re.S)
    assert row, page.text[-2000:]
    return re.findall(r'<span class="tag">([^<]+)</span>', row[1])


def test_the_list_shows_the_certifications_held_today(
    site: tuple[World, TestClient], engine: Engine
) -> None:
    world, client = site
    hnte, sme = "High and new technology enterprise", "Technology-based SME"
    assert held(client, "甲一科技") == [hnte]  # the world's: since 2023
    with Session(engine) as s, s.begin():
        firm = world.ids["e1"]
        s.add_all(
            [
                # held today: a second hnte (shown once) and a tech_sme
                Certification(enterprise_id=firm, kind="hnte", valid_from=dt.date(2001, 1, 1)),
                Certification(enterprise_id=firm, kind="tech_sme", valid_from=dt.date(2002, 1, 1)),
                # not held today: ended, or not begun
                Certification(
                    enterprise_id=world.ids["e2"],
                    kind="tech_sme",
                    valid_from=dt.date(2001, 1, 1),
                    valid_until=dt.date(2001, 12, 31),
                ),
                Certification(
                    enterprise_id=world.ids["e3"], kind="tech_sme", valid_from=dt.date(2999, 1, 1)
                ),
            ]
        )
    assert held(client, "甲一科技") == [hnte, sme]  # at once: nothing of the rows is kept
    assert held(client, "甲二科技") == [hnte]
    assert held(client, "乙三科技") == [hnte]
