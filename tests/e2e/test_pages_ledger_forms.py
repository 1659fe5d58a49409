"""The ledger's, imports' and consents' forms on the pages: each runs the same use case as the
API (maker-checker, confirmation after the notice, all-or-nothing imports, consents), refuses a
role or a row the API refuses (403 / 404 page) and a form without the visitor's CSRF token, and
writes nothing when refused."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api_world import PASSWORD, Clock, World, build_world, make_api
from innofin.access.models import Consent
from innofin.api import uploads
from innofin.ledger.models import CreditLine, InterestSubsidy
from innofin.registry.models import Zone

BASE = "http://127.0.0.1"


class Visitor:
    def __init__(self, app: Any, who: str) -> None:
        self.client = TestClient(app, base_url=BASE, follow_redirects=False)
        answer = self.client.post(
            "/sign-in",
            data={"username": who, "password": PASSWORD, "csrf": self.token("/sign-in")},
        )
        assert answer.status_code == 303, answer.text[:300]

    def token(self, path: str = "/") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert found
        return found[1]

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        form = {"csrf": self.token(), **(data or {})}
        return self.client.post(path, data=form, headers={"Origin": BASE}, **kw)


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[World, Any]]:
    w = build_world(engine)
    yield w, make_api(engine)


def _status(engine: Engine, model: Any, row_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(select(model.status).where(model.id == row_id)))


def test_the_checker_approves_another_officers_line_never_its_own(
    world: tuple[World, Any], engine: Engine
) -> None:
    w, api = world
    bank = Visitor(api.app, "bank_a")
    # bank_a enters a line through the API: it is its maker
    body = {
        "institution_id": w.ids["a"],
        "external_ref": "LINE-PAGE-OWN",
        "enterprise_id": w.ids["e1"],
        "limit_amount": "2000000.00",
        "opens_on": "2025-01-01",
        "matures_on": "2026-12-31",
        "rate": "0.0345",
    }
    made = api.call("bank_a", "POST", "/api/v1/credit-lines", json=body)
    assert made.status_code == 201, made.text
    own = made.json()["id"]
    home = bank.client.get("/").text  # the home page counts the lines others entered
    waiting = re.search(r'href="/ledger/credit-lines">.*?class="value"[^>]*>([^<]+)<', home, re.S)
    assert waiting and waiting[1] == "1"  # line p; not the line bank_a entered itself
    queue = bank.client.get("/ledger/credit-lines")
    assert f'id="queue-{own}"' in queue.text and f'id="queue-{w.ids["line_p"]}"' in queue.text
    refused = bank.post(f"/ledger/credit-lines/{own}/decision", {"decision": "approve"})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert _status(engine, CreditLine, own) == "pending"
    # a rejection needs a reason; then the line another officer entered is approved
    line_p = w.ids["line_p"]
    no_reason = bank.post(f"/ledger/credit-lines/{line_p}/decision", {"decision": "reject"})
    assert no_reason.status_code == 400 and _status(engine, CreditLine, line_p) == "pending"
    form = {"decision": "approve", "once": "form-1"}
    done = bank.post(f"/ledger/credit-lines/{line_p}/decision", form)
    assert done.status_code == 303, done.text[:300]
    assert _status(engine, CreditLine, line_p) == "approved"
    again = bank.post(f"/ledger/credit-lines/{line_p}/decision", form)  # the same form twice
    assert again.status_code == 303 and _status(engine, CreditLine, line_p) == "approved"
    # bank B does not see bank A's line: 404; an enterprise may not decide: 403
    other = Visitor(api.app, "bank_b").post(
        f"/ledger/credit-lines/{own}/decision", {"decision": "approve"}
    )
    assert other.status_code == 404
    firm = Visitor(api.app, "firm").post(
        f"/ledger/credit-lines/{own}/decision", {"decision": "reject", "reason": "x"}
    )
    assert firm.status_code == 403
    # reject with a reason: the reason joins the audit trail
    gone = bank.client.post(
        f"/ledger/credit-lines/{own}/decision",
        data={"decision": "reject", "reason": "no collateral", "csrf": "0" * 64},
        headers={"Origin": BASE},
    )
    assert gone.status_code == 403 and _status(engine, CreditLine, own) == "pending"  # no token
    admin = Visitor(api.app, "admin")
    trail = admin.client.get(f"/audit?entity=credit_line&entity_id={line_p}")
    assert trail.status_code == 200 and "api:bank_a" in trail.text


def test_the_enterprise_confirms_a_subsidy_after_its_notice_and_objects_to_another(
    world: tuple[World, Any], engine: Engine
) -> None:
    w, api = world
    firm = Visitor(api.app, "firm")
    listing = firm.client.get("/ledger/subsidies")
    sub = w.ids["sub_confirm"]
    assert f'action="/ledger/subsidies/{sub}/confirmation"' in listing.text
    under_notice = w.ids["sub_object_firm"]
    assert f'action="/ledger/subsidies/{under_notice}/confirmation"' not in listing.text
    early = firm.post(f"/ledger/subsidies/{under_notice}/confirmation")
    assert early.status_code == 400
    assert _status(engine, InterestSubsidy, under_notice) == "published"
    assert firm.post(f"/ledger/subsidies/{sub}/confirmation").status_code == 303
    assert _status(engine, InterestSubsidy, sub) == "confirmed"
    objected = firm.post(f"/ledger/subsidies/{under_notice}/objection", {"text": "利息有误"})
    assert objected.status_code == 303
    assert _status(engine, InterestSubsidy, under_notice) == "objected"
    # only the enterprise confirms; bank B does not see 甲's subsidies
    officer = Visitor(api.app, "national").post(f"/ledger/subsidies/{sub}/confirmation")
    assert officer.status_code == 403
    hidden = Visitor(api.app, "bank_b").post(
        f"/ledger/subsidies/{w.ids['sub_object_bank_a']}/objection", {"text": "x"}
    )
    assert hidden.status_code == 404
    assert _status(engine, InterestSubsidy, w.ids["sub_object_bank_a"]) == "published"


def _zones(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Zone)) or 0)


def _staged_token(answer: Any) -> str | None:
    found = re.search(r'name="token" value="([^"]+)"', answer.text)
    return found[1] if found else None


def test_an_import_is_checked_then_confirmed_and_a_bad_row_writes_nothing(
    world: tuple[World, Any], engine: Engine
) -> None:
    _, api = world
    admin = Visitor(api.app, "admin")
    before = _zones(engine)
    head = "code,name_zh,province,city,level\n"
    bad = head + "Z7,七园,江苏,苏州,national\nZ8,八园,江苏,苏州,galactic\n"
    answer = admin.post(
        "/imports",
        {"kind": "zones"},
        files={"file": ("zones.csv", bad.encode(), "text/csv")},
    )
    assert answer.status_code == 422, answer.text[:500]
    table = answer.text.split('id="rejected-rows"')[1]
    assert "galactic" in table and ">level<" in table and ">3<" in table
    assert "确认并导入" not in answer.text  # all or nothing: no confirm button
    assert "仅导入有效的行" in answer.text  # but the valid rows alone, offered explicitly
    assert _zones(engine) == before

    # a good file: checked (nothing written), then confirmed by its token
    good = bad.replace("galactic", "national")
    checked = admin.post(
        "/imports", {"kind": "zones"}, files={"file": ("zones.csv", good.encode(), "text/csv")}
    )
    assert checked.status_code == 200 and 'id="import-checked"' in checked.text
    assert "确认并导入" in checked.text and 'id="import-result"' not in checked.text
    assert _zones(engine) == before
    token = _staged_token(checked)
    assert token
    # another session of the same user, another officer and a form without CSRF get nothing
    for who, status in (("admin", 409), ("province", 403)):
        answer = Visitor(api.app, who).post("/imports/confirm", {"token": token})
        assert answer.status_code == status, who
    no_csrf = admin.client.post("/imports/confirm", data={"token": token}, headers={"Origin": BASE})
    assert no_csrf.status_code == 403
    assert _zones(engine) == before
    done = admin.post("/imports/confirm", {"token": token})
    assert done.status_code == 200 and 'id="import-result"' in done.text, done.text[:500]
    assert _zones(engine) == before + 2
    again = admin.post("/imports/confirm", {"token": token})  # submitted twice: imported once
    assert again.status_code == 409 and _zones(engine) == before + 2
    assert admin.post("/imports/confirm", {"token": "../../etc"}).status_code == 409

    # the valid rows alone, when the visitor asks for it
    other = head + "Z9,九园,江苏,苏州,national\nZ10,十园,江苏,苏州,galactic\n"
    refused = admin.post(
        "/imports", {"kind": "zones"}, files={"file": ("z2.csv", other.encode(), "text/csv")}
    )
    token = _staged_token(refused)
    assert refused.status_code == 422 and token
    kept = admin.post("/imports/confirm", {"token": token, "skip_invalid": "true"})
    assert kept.status_code == 200 and 'id="import-result"' in kept.text
    assert "galactic" in kept.text.split('id="rejected-rows"')[1]  # the row left out
    assert _zones(engine) == before + 3
    province = Visitor(api.app, "province").post(
        "/imports", {"kind": "zones"}, files={"file": ("z.csv", bad.encode(), "text/csv")}
    )
    assert province.status_code == 403


def test_a_checked_file_past_its_time_is_gone_like_an_unknown_one(engine: Engine) -> None:
    build_world(engine)
    clock = Clock()
    api = make_api(engine, clock)
    admin = Visitor(api.app, "admin")
    before = _zones(engine)
    good = "code,name_zh,province,city,level\nZ7,七园,江苏,苏州,national\n"
    checked = admin.post(
        "/imports", {"kind": "zones"}, files={"file": ("zones.csv", good.encode(), "text/csv")}
    )
    token = _staged_token(checked)
    assert checked.status_code == 200 and token
    folder = Path(api.app.state.innofin.settings.upload_dir) / uploads.STAGED / token
    assert folder.is_dir()
    clock.advance(minutes=30, seconds=1)  # the API's clock: staging expires by it
    late = admin.post("/imports/confirm", {"token": token})
    unknown = admin.post("/imports/confirm", {"token": secrets.token_urlsafe(24)})
    gone = "已检查的文件不再等待确认"  # the page's message for a file no longer waiting
    for answer in (late, unknown):
        assert answer.status_code == 409 and gone in answer.text
        assert 'id="import-result"' not in answer.text
    assert not folder.exists()  # removed by the look-up, not left for a later upload
    assert _zones(engine) == before


def _consents(engine: Engine, institution_id: int) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(Consent.id, Consent.withdrawn_at).where(
                    Consent.institution_id == institution_id
                )
            )
        ]


def test_the_enterprise_grants_and_withdraws_a_consent(
    world: tuple[World, Any], engine: Engine
) -> None:
    w, api = world
    firm = Visitor(api.app, "firm")
    assert _consents(engine, w.ids["b"]) == []
    assert firm.post("/consents", {"institution_id": w.ids["b"]}).status_code == 303
    ((granted, withdrawn),) = _consents(engine, w.ids["b"])
    assert withdrawn is None
    bank_b = Visitor(api.app, "bank_b")
    assert bank_b.post(f"/consents/{granted}/withdraw").status_code == 403
    assert firm.post(f"/consents/{granted}/withdraw").status_code == 303
    ((_, withdrawn),) = _consents(engine, w.ids["b"])
    assert isinstance(withdrawn, dt.datetime | str)
