"""The pages' forms: sign-in with the API's sessions, sign-out, the language switch, and CSRF
protection (a token per visitor in every form, and the origin check of cookie-signed writes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api_world import PASSWORD, build_world, make_api
from innofin.access.models import ApiSession

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
