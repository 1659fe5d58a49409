"""The pages' access matrix: every page × every caller of the API world and an anonymous visitor.

Each case states, for every caller, whether the page opens (200), is refused with 403 (the role
may not do this), answers 404 (the row is not visible to the caller: as if it did not exist), or
sends the visitor to the sign-in page (not signed in). No page shows a caller another
organisation's rows: the same oracle as the API matrix (`api_world.leak_markers`). The test fails
when the pages have a route without a case here, and `page_actions` already refuses a page that
names no policy action.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api_world import ANON, CALLERS, EVERYONE, KEY_LIST, PASSWORD, World, build_world, leak_markers
from api_world import make_api as _make_api
from innofin.access.policy import ACTIONS, PUBLIC_ACTIONS
from innofin.web.app import mount_pages, page_actions

OK = "ok"
SIGN_IN = "sign-in"  # a redirect to the sign-in page
HOME = "home"  # a redirect to the home page (the sign-in page, signed in)
Expect = dict[str, Any]

ALL = CALLERS
OFFICERS = ("admin", "national", "province", "zone")
AGGREGATE_READERS = (*OFFICERS, "bank_a", "bank_b")


def allow(*callers: str, hidden: tuple[str, ...] = ()) -> Expect:
    """`callers` see the page, `hidden` get 404, other signed-in callers 403, the anonymous
    visitor is sent to sign in."""
    out: Expect = {}
    for name in EVERYONE:
        if name == ANON:
            out[name] = SIGN_IN
        elif name in callers:
            out[name] = OK
        elif name in hidden:
            out[name] = 404
        else:
            out[name] = 403
    return out


@dataclass
class Page:
    template: str  # the route's path
    path: Callable[[World], str]
    expect: Expect
    #: the API read the page shows, if any: it must answer each caller as the page does
    api: Callable[[World], str] | None = None


PAGES: list[Page] = [
    Page("/sign-in", lambda w: "/sign-in", {ANON: OK, **dict.fromkeys(CALLERS, HOME)}),
    Page("/", lambda w: "/", allow(*ALL)),
    Page("/enterprises", lambda w: "/enterprises", allow(*ALL)),
    Page(
        "/enterprises/{enterprise_id}",
        lambda w: f"/enterprises/{w.ids['e1']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Page(  # referred to bank A, no consent: the profile without the indicator details
        "/enterprises/{enterprise_id}",
        lambda w: f"/enterprises/{w.ids['e2']}",
        allow(*OFFICERS, "bank_a", hidden=("bank_b", "firm")),
    ),
    Page(
        "/enterprises/{enterprise_id}",
        lambda w: f"/enterprises/{w.ids['e3']}",
        allow("admin", "national", hidden=("province", "zone", "bank_a", "bank_b", "firm")),
    ),
    Page("/scoring/runs", lambda w: "/scoring/runs", allow(*OFFICERS)),
    Page("/key-lists", lambda w: "/key-lists", allow(*AGGREGATE_READERS)),
    Page("/key-lists/{name}", lambda w: f"/key-lists/{KEY_LIST}", allow(*AGGREGATE_READERS)),
    Page(
        "/key-lists/{name}/xlsx",
        lambda w: f"/key-lists/{KEY_LIST}/xlsx",
        allow(*AGGREGATE_READERS),
    ),
    Page("/zone-rankings", lambda w: "/zone-rankings", allow(*OFFICERS)),
    # the ledger: the same row scopes as the API's ledger reads (programme 甲: zone Z1, bank A;
    # 乙: zone Z2, bank B; line p: bank A to e2, pending)
    Page("/ledger", lambda w: "/ledger", allow(*ALL)),
    Page(
        "/ledger/programmes",
        lambda w: "/ledger/programmes",
        allow(*AGGREGATE_READERS),
        api=lambda w: "/api/v1/programmes",
    ),
    Page(
        "/ledger/agreements/{agreement_id}",
        lambda w: f"/ledger/agreements/{w.ids['ag_jia']}",
        allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
        api=lambda w: f"/api/v1/agreements/{w.ids['ag_jia']}",
    ),
    Page(
        "/ledger/agreements/{agreement_id}",
        lambda w: f"/ledger/agreements/{w.ids['ag_yi']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a")),
        api=lambda w: f"/api/v1/agreements/{w.ids['ag_yi']}",
    ),
    Page("/ledger/credit-lines", lambda w: "/ledger/credit-lines", allow(*ALL)),
    Page(
        "/ledger/credit-lines/{line_id}",
        lambda w: f"/ledger/credit-lines/{w.ids['line_a']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
        api=lambda w: f"/api/v1/credit-lines/{w.ids['line_a']}",
    ),
    Page(
        "/ledger/credit-lines/{line_id}",
        lambda w: f"/ledger/credit-lines/{w.ids['line_p']}",
        allow(*OFFICERS, "bank_a", hidden=("bank_b", "firm")),
        api=lambda w: f"/api/v1/credit-lines/{w.ids['line_p']}",
    ),
    Page(
        "/ledger/credit-lines/{line_id}",
        lambda w: f"/ledger/credit-lines/{w.ids['line_b']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a", "firm")),
        api=lambda w: f"/api/v1/credit-lines/{w.ids['line_b']}",
    ),
    Page(
        "/ledger/loans/{loan_id}",
        lambda w: f"/ledger/loans/{w.ids['loan_a']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
        api=lambda w: f"/api/v1/loans/{w.ids['loan_a']}",
    ),
    Page(
        "/ledger/loans/{loan_id}",
        lambda w: f"/ledger/loans/{w.ids['loan_b']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a", "firm")),
        api=lambda w: f"/api/v1/loans/{w.ids['loan_b']}",
    ),
    Page(
        "/ledger/risk-pools",
        lambda w: "/ledger/risk-pools",
        allow(*AGGREGATE_READERS),
        api=lambda w: "/api/v1/risk-pools",
    ),
    Page(
        "/ledger/risk-pools/{pool_id}",
        lambda w: f"/ledger/risk-pools/{w.ids['pool_jia']}",
        allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
        api=lambda w: f"/api/v1/risk-pools/{w.ids['pool_jia']}",
    ),
    Page(
        "/ledger/risk-pools/{pool_id}",
        lambda w: f"/ledger/risk-pools/{w.ids['pool_yi']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a")),
        api=lambda w: f"/api/v1/risk-pools/{w.ids['pool_yi']}",
    ),
    Page(
        "/ledger/subsidies",
        lambda w: "/ledger/subsidies",
        allow(*ALL),
        api=lambda w: "/api/v1/subsidies",
    ),
    # imports change every province's rows: platform admins and national officers only
    Page("/imports", lambda w: "/imports", allow("admin", "national")),
    Page(
        "/consents",
        lambda w: "/consents",
        allow("admin", "bank_a", "bank_b", "firm"),
        api=lambda w: "/api/v1/consents",
    ),
    Page("/audit", lambda w: "/audit", allow("admin"), api=lambda w: "/api/v1/audit"),
    Page(
        "/audit",
        lambda w: f"/audit?entity=credit_line&entity_id={w.ids['line_a']}",
        allow("admin"),
    ),
    Page("/needs", lambda w: "/needs", allow(*ALL)),
    Page(
        "/needs/{need_id}",
        lambda w: f"/needs/{w.ids['need_e1']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Page(
        "/needs/{need_id}",
        lambda w: f"/needs/{w.ids['need_e3']}",
        allow("admin", "national", hidden=("province", "zone", "bank_a", "bank_b", "firm")),
    ),
    # monitoring: a programme's dashboard as its programme page; a zone's view for the officers
    # of that zone (and any institution, its own loans there); an institution's for officers
    # and itself; a programme's report files for the offices that run it
    Page("/monitoring", lambda w: "/monitoring", allow(*AGGREGATE_READERS)),
    Page(
        "/monitoring/programmes/{programme_id}",
        lambda w: f"/monitoring/programmes/{w.ids['prg_jia']}",
        allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
    ),
    Page(
        "/monitoring/programmes/{programme_id}",
        lambda w: f"/monitoring/programmes/{w.ids['prg_yi']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a")),
    ),
    Page(
        "/monitoring/programmes/{programme_id}/report/{fmt}",
        lambda w: f"/monitoring/programmes/{w.ids['prg_jia']}/report/xlsx",
        allow("admin", "national", "province"),
    ),
    Page(
        "/monitoring/programmes/{programme_id}/report/{fmt}",
        lambda w: f"/monitoring/programmes/{w.ids['prg_yi']}/report/xlsx",
        allow("admin", "national", hidden=("province",)),
    ),
    Page(
        "/monitoring/zones/{zone_id}",
        lambda w: f"/monitoring/zones/{w.ids['z1']}",
        allow(*OFFICERS, "bank_a", "bank_b"),
    ),
    Page(
        "/monitoring/zones/{zone_id}",
        lambda w: f"/monitoring/zones/{w.ids['z2']}",
        allow("admin", "national", "bank_a", "bank_b", hidden=("province", "zone")),
    ),
    Page(
        "/monitoring/institutions/{institution_id}",
        lambda w: f"/monitoring/institutions/{w.ids['a']}",
        allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
    ),
    Page(
        "/monitoring/institutions/{institution_id}",
        lambda w: f"/monitoring/institutions/{w.ids['b']}",
        allow(*OFFICERS, "bank_b", hidden=("bank_a",)),
    ),
    # scenarios: officers read the runs of the programmes they see (甲: every officer; 乙: the
    # admin and the national office), as the API's scenario reads; no institution or firm
    Page(
        "/monitoring/programmes/{programme_id}/scenarios",
        lambda w: f"/monitoring/programmes/{w.ids['prg_jia']}/scenarios",
        allow(*OFFICERS),
    ),
    Page(
        "/monitoring/programmes/{programme_id}/scenarios",
        lambda w: f"/monitoring/programmes/{w.ids['prg_yi']}/scenarios",
        allow("admin", "national", hidden=("province", "zone")),
    ),
    Page(
        "/monitoring/scenarios/{run_id}",
        lambda w: f"/monitoring/scenarios/{w.ids['scenario_jia']}",
        allow(*OFFICERS),
        api=lambda w: f"/api/v1/monitoring/scenarios/{w.ids['scenario_jia']}",
    ),
    Page(
        "/monitoring/scenarios/{run_id}",
        lambda w: f"/monitoring/scenarios/{w.ids['scenario_yi']}",
        allow("admin", "national", hidden=("province", "zone")),
        api=lambda w: f"/api/v1/monitoring/scenarios/{w.ids['scenario_yi']}",
    ),
    Page(
        "/institutions/{institution_id}/matches",
        lambda w: f"/institutions/{w.ids['a']}/matches",
        allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
    ),
    # referrals of needs: each caller its own rows (an institution those sent to it, a firm
    # those of its needs, officers those of the firms they oversee); the overdue list: officers
    Page(
        "/referrals",
        lambda w: "/referrals",
        allow(*ALL),
        api=lambda w: "/api/v1/need-referrals",
    ),
    Page("/referrals/overdue", lambda w: "/referrals/overdue", allow(*OFFICERS)),
    # special-credit allocation: the offices that run the programme (甲: Z1 in 甲省; 乙: Z2)
    Page("/allocation", lambda w: "/allocation", allow("admin", "national", "province")),
    Page(
        "/allocation",
        lambda w: f"/allocation?programme={w.ids['prog_jia']}",
        allow("admin", "national", "province"),
    ),
    Page(
        "/allocation",
        lambda w: f"/allocation?programme={w.ids['prog_yi']}",
        allow("admin", "national", hidden=("province",)),
    ),
    Page(
        "/allocation/runs/{run_id}",
        lambda w: f"/allocation/runs/{w.ids['alloc_jia']}",
        allow("admin", "national", "province"),
    ),
    Page(
        "/allocation/runs/{run_id}",
        lambda w: f"/allocation/runs/{w.ids['alloc_yi']}",
        allow("admin", "national", hidden=("province",)),
    ),
    # matchmaking meetings: 甲's event (zone Z1; banks A and B, firms e1 and e2 at it)
    Page("/events", lambda w: "/events", allow(*ALL), api=lambda w: "/api/v1/events"),
    Page(  # the notice for everyone; the timetable only on the organisers' page
        "/events/{event_id}",
        lambda w: f"/events/{w.ids['event']}",
        allow(*ALL),
        api=lambda w: f"/api/v1/events/{w.ids['event']}",
    ),
    Page(  # one's own agenda; an officer has none of its own
        "/events/{event_id}/agenda",
        lambda w: f"/events/{w.ids['event']}/agenda",
        allow("bank_a", "bank_b", "firm", hidden=OFFICERS),
    ),
    Page(  # e1's agenda: e1's own and its organisers'; the banks see e1 but not its agenda
        "/events/{event_id}/agenda",
        lambda w: f"/events/{w.ids['event']}/agenda?party=enterprise&party_id={w.ids['e1']}",
        allow(*OFFICERS, "firm"),
    ),
]
#: form posts, tested where their behaviour is (tests/e2e/test_pages_forms.py, the ledger's,
#: imports' and consents' in tests/e2e/test_pages_ledger_forms.py, the referrals' and the
#: allocation's in tests/e2e/test_pages_referrals.py)
FORMS = {
    ("POST", "/sign-in"),
    ("POST", "/sign-out"),
    ("POST", "/language"),
    ("POST", "/ledger/credit-lines/{line_id}/decision"),
    ("POST", "/ledger/subsidies/{subsidy_id}/confirmation"),
    ("POST", "/ledger/subsidies/{subsidy_id}/objection"),
    ("POST", "/imports"),
    ("POST", "/imports/confirm"),
    ("POST", "/consents"),
    ("POST", "/consents/{consent_id}/withdraw"),
    # referrals: tests/e2e/test_pages_referrals.py
    ("POST", "/needs/{need_id}/referrals"),
    ("POST", "/referrals/{referral_id}/answer"),
    ("POST", "/referrals/{referral_id}/step"),
    ("POST", "/referrals/overdue/flags"),
    ("POST", "/allocation"),
    ("POST", "/allocation/runs/{run_id}/acceptance"),
    # scenarios: tests/e2e/test_pages_scenarios.py
    ("POST", "/monitoring/programmes/{programme_id}/scenarios"),
}


class Visitor:
    """A browser-like client per caller: signed in by the sign-in page, cookies kept."""

    def __init__(self, app: Any, who: str) -> None:
        self.client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
        self.who = who
        if who != ANON:
            form = self.client.get("/sign-in")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token, form.text[:500]
            answer = self.client.post(
                "/sign-in",
                data={"username": who, "password": PASSWORD, "csrf": token[1], "next": "/"},
            )
            assert answer.status_code == 303, (who, answer.status_code, answer.text[:300])

    def get(self, path: str) -> Any:
        return self.client.get(path)


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[World, dict[str, Visitor]]]:
    w = build_world(engine)
    allocation_runs(w)
    scenario_of_yi(w)
    app = _make_api(engine).app
    yield w, {who: Visitor(app, who) for who in EVERYONE}


def allocation_runs(w: World) -> None:
    """An allocation run of each programme (甲, 乙), for the allocation pages."""
    import datetime as dt

    from sqlalchemy import select

    from innofin.db import unit_of_work
    from innofin.ledger.models import Programme
    from innofin.matching.allocation import service as allocation

    with unit_of_work(w.engine) as s:
        for side in ("jia", "yi"):
            prog = s.scalars(select(Programme).where(Programme.code == f"PRG-{side.upper()}")).one()
            w.ids[f"prog_{side}"] = prog.id
            quotas = allocation.Quotas(field_max={}, zone_max={}, zone_floor={})
            run = allocation.allocate(
                s, prog.id, quotas, on=dt.date(2026, 3, 1), created_by="test", time_limit=10.0
            )
            w.ids[f"alloc_{side}"] = run.id


def scenario_of_yi(w: World) -> None:
    """A stored scenario run of programme 乙 (the world holds one of 甲)."""
    from innofin.audit.recorder import Actor
    from innofin.db import unit_of_work
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.scenarios import service as scenario

    with unit_of_work(w.engine) as s:
        w.ids["scenario_yi"] = scenario.run_scenario(
            s, OPERATOR, Actor.cli("test"), w.ids["prg_yi"],
            assumptions={"months": 12, "paths": 100}, seed=2,
        )  # fmt: skip


def _pages_app(visitors: dict[str, Visitor]) -> Any:
    return visitors[ANON].client.app.state.pages  # type: ignore[attr-defined]


def test_every_page_has_a_case(world: tuple[World, dict[str, Visitor]]) -> None:
    _, visitors = world
    actions: dict[tuple[str, str], str] = _pages_app(visitors).state.actions
    pages = set(actions)
    covered = {("GET", p.template) for p in PAGES} | FORMS
    assert pages == covered, (
        f"pages without an access case: {sorted(pages - covered)}; "
        f"cases for no page: {sorted(covered - pages)}"
    )
    for action in actions.values():
        assert action in ACTIONS or action in PUBLIC_ACTIONS, action
    for page in PAGES:
        assert set(page.expect) == set(EVERYONE), page.template


def _outcome(response: Any) -> Any:
    status = response.status_code
    if status == 303:
        target = response.headers["location"]
        return SIGN_IN if target.startswith("/sign-in") else HOME if target == "/" else target
    return OK if status == 200 else status


def _text(response: Any) -> str:
    """What the visitor is shown: the page, or every cell of a downloaded workbook."""
    if "spreadsheetml" not in response.headers.get("content-type", ""):
        return str(response.text)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(response.content), read_only=True)
    cells = [str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row]
    assert cells, "an empty workbook"
    return "\n".join(cells)


def test_page_access_matrix(world: tuple[World, dict[str, Visitor]]) -> None:
    w, visitors = world
    markers = leak_markers(w)
    failures = []
    for page, who in itertools.product(PAGES, EVERYONE):
        path = page.path(w)
        response = visitors[who].get(path)
        got, expected = _outcome(response), page.expect[who]
        label = f"GET {path} as {who}"
        if got != expected:
            failures.append(f"{label}: {got} (expected {expected}) {response.text[:200]}")
            continue
        shown = _text(response)
        if response.status_code in (200, 403, 404) and not path.endswith("/xlsx"):
            assert response.headers["content-type"].startswith("text/html"), label
            assert "default-src 'self'" in response.headers["content-security-policy"], label
        leaked = [m for m in markers.get(who, ()) if m in shown]
        if leaked:
            failures.append(f"{label}: the page shows {leaked}")
    assert not failures, "\n".join(failures)


def test_pages_answer_as_the_api_reads_they_show(world: tuple[World, dict[str, Visitor]]) -> None:
    """A page that shows an API read answers every caller as that read does: the API's 200,
    403 and 404 are the page's, and the API's 401 is the page's redirect to sign in."""
    w, visitors = world
    failures = []
    for page, who in itertools.product([p for p in PAGES if p.api], EVERYONE):
        assert page.api is not None
        api = visitors[who].get(page.api(w)).status_code
        expected = {200: OK, 401: SIGN_IN}.get(api, api)
        if page.expect[who] != expected:
            failures.append(f"{page.path(w)} as {who}: page {page.expect[who]}, API {api}")
    assert not failures, "\n".join(failures)


def test_a_page_without_policy_is_refused() -> None:
    router = APIRouter()

    @router.get("/naked")
    def naked() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="GET /naked"):
        page_actions([router])


def test_unknown_pages_and_api_paths(world: tuple[World, dict[str, Visitor]]) -> None:
    """An unknown page is the 404 page; an unknown API path keeps the API's JSON answer, and a
    wrong method on an API path its 405."""
    _, visitors = world
    page = visitors["admin"].get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = visitors["admin"].get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["code"] == "not_found"
    wrong = visitors[ANON].client.put("/api/v1/zones")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    schema = visitors[ANON].get("/openapi.json")  # the API's, though the pages are mounted first
    assert schema.status_code == 200 and "/api/v1/zones" in schema.json()["paths"]


def test_an_api_route_the_pages_would_hide_stops_the_start() -> None:
    """The pages are the first route at `/`: an API route outside the API's prefixes would never
    be reached, so mounting them refuses it."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    inner = APIRouter()

    @inner.get("/hello")
    def hello() -> dict[str, str]:
        return {}

    app.include_router(inner)
    with pytest.raises(RuntimeError, match="/hello"):
        mount_pages(app, state=None)  # type: ignore[arg-type]  # refused before the state is used
