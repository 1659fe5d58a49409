"""The pages' forms: sign-in with the API's sessions, sign-out, the language switch, and CSRF
protection (a token per visitor in every form, and the origin check of cookie-signed writes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from starlette.responses import RedirectResponse, Response

from api_world import PASSWORD, build_world, make_api
from innofin.access.models import ApiSession
from innofin.access.policy import Principal
from innofin.audit.models import AuditEvent
from innofin.registry import records
from innofin.registry.schemas import EnterpriseFields
from innofin.web.deps import page
from innofin.web.forms import Once, csrf_form, perform

BASE = "http://127.0.0.1"


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    build_world(engine)
    yield TestClient(make_api(engine).app, base_url=BASE, follow_redirects=False)


def token(client: TestClient, path: str = "/sign-in") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return found[1]


def sign_in(client: TestClient, who: str, password: str = PASSWORD, **extra: str) -> Any:
    data = {"username": who, "password": password, "csrf": token(client), "next": "/"} | extra
    return client.post("/sign-in", data=data)


def sessions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ApiSession)) or 0)


def test_sign_in_opens_an_api_session_and_sign_out_ends_it(
    client: TestClient, engine: Engine
) -> None:
    answer = sign_in(client, "zone", next="/enterprises?q=x")
    assert answer.status_code == 303 and answer.headers["location"] == "/enterprises?q=x"
    cookie = answer.headers["set-cookie"]
    assert "innofin_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/api/v1/auth/me").json()["username"] == "zone"  # the API's session
    assert client.get("/").status_code == 200
    out = client.post("/sign-out", data={"csrf": token(client, "/")}, headers={"Origin": BASE})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    assert client.get("/", follow_redirects=False).headers["location"] == "/sign-in"
    client.cookies.clear()


def test_the_session_cookie_is_refused_once_signed_out(client: TestClient) -> None:
    sign_in(client, "firm")
    kept = client.cookies.get("innofin_session")
    client.post("/sign-out", data={"csrf": token(client, "/")}, headers={"Origin": BASE})
    client.cookies.set("innofin_session", kept or "")
    assert client.get("/").headers["location"] == "/sign-in"
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_wrong_password_shows_the_form_again(client: TestClient, engine: Engine) -> None:
    before = sessions(engine)
    answer = sign_in(client, "zone", password="not-the-password")
    assert answer.status_code == 401
    assert 'role="alert"' in answer.text and 'value="zone"' in answer.text
    assert "not-the-password" not in answer.text
    assert sessions(engine) == before


def test_forms_without_the_visitors_token_are_refused(client: TestClient, engine: Engine) -> None:
    before = sessions(engine)
    data = {"username": "zone", "password": PASSWORD, "next": "/"}
    assert client.post("/sign-in", data=data).status_code == 403  # no token
    token(client)  # the visitor now has a CSRF cookie; a token made for another visitor fails
    forged = client.post("/sign-in", data=data | {"csrf": "0" * 64})
    assert forged.status_code == 403 and "text/html" in forged.headers["content-type"]
    assert sessions(engine) == before
    sign_in(client, "zone")
    out = client.post("/sign-out", data={"csrf": "0" * 64}, headers={"Origin": BASE})
    assert out.status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_cookie_signed_forms_from_another_origin_are_refused(client: TestClient) -> None:
    sign_in(client, "zone")
    data = {"csrf": token(client, "/")}
    answer = client.post("/sign-out", data=data, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_sign_in_goes_only_to_pages_of_this_site(client: TestClient, target: str) -> None:
    answer = sign_in(client, "zone", next=target)
    assert answer.headers["location"] == "/"


def test_the_language_switch(client: TestClient) -> None:
    assert "登录" in client.get("/sign-in").text
    data = {"lang": "en", "csrf": token(client), "next": "/sign-in"}
    answer = client.post("/language", data=data)
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
    page = client.get("/sign-in")
    assert '<html lang="en">' in page.text and "Sign in" in page.text and "登录" not in page.text
    data = {"lang": "zh", "csrf": token(client), "next": "/sign-in"}
    client.post("/language", data=data)
    assert "登录" in client.get("/sign-in").text


def test_not_signed_in_goes_to_the_sign_in_page_and_back(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"
    form = client.get("/sign-in?next=/")
    assert 'name="next" value="/"' in form.text


def test_a_form_submitted_twice_acts_once(engine: Engine) -> None:
    """`forms.perform` with the form's `once` key: the second submission of the same rendering
    changes nothing; a new rendering (a new key) acts again. Audited as the visitor."""
    w = build_world(engine)
    app = make_api(engine).app
    ran: list[str] = []
    router = APIRouter()

    @router.post("/test-rename")
    def rename(
        request: Request,
        once: Once = None,
        _: None = Depends(csrf_form),
        p: Principal = page("enterprise:update"),
    ) -> Response:
        def change(s: Any) -> str:
            ran.append(once or "")
            fields = EnterpriseFields(name=f"甲一科技{len(ran)}")
            return str(records.update_enterprise(s, p, w.ids["e1"], fields).name)

        done = perform(request, p, change, reason="a test", once=once)
        return RedirectResponse(f"/?done={'yes' if done else 'no'}", status_code=303)

    app.state.pages.include_router(router)
    client = TestClient(app, base_url=BASE, follow_redirects=False)
    sign_in(client, "firm")
    form = {"csrf": token(client, "/"), "once": "key-1"}
    first = client.post("/test-rename", data=form, headers={"Origin": BASE})
    again = client.post("/test-rename", data=form, headers={"Origin": BASE})
    assert first.headers["location"] == "/?done=yes" and again.headers["location"] == "/?done=no"
    other = client.post("/test-rename", data=form | {"once": "key-2"}, headers={"Origin": BASE})
    assert other.headers["location"] == "/?done=yes" and ran == ["key-1", "key-2"]
    assert (
        client.post("/test-rename", data={"once": "key-3"}, headers={"Origin": BASE}).status_code
        == 403
    )
    with engine.connect() as conn:
        actors = conn.scalars(
            select(AuditEvent.actor).where(
                AuditEvent.entity == "enterprise", AuditEvent.reason == "a test"
            )
        ).all()
    assert len(actors) == 2 and all("firm" in a for a in actors)
