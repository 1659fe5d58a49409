"""Cookies and cross-site writes: a write signed in by the session cookie must come from the
platform's own origin; bearer tokens are not affected; the cookie is Secure off loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api_world import Api, Clock, World, build_world, make_api
from innofin.kernel.settings import Settings
from innofin.server.app import create_app

ME = "/api/v1/auth/me"
LOGOUT = "/api/v1/auth/logout"


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine, Clock())


def _cookie_client(api: Api, token: str, base_url: str = "http://testserver") -> TestClient:
    client = TestClient(api.app, base_url=base_url)
    client.cookies.set("innofin_session", token)
    return client


def test_cookie_signed_writes_from_elsewhere_are_refused(setup: tuple[World, Api]) -> None:
    _, api = setup
    token = api.login("zone")
    client = _cookie_client(api, token)
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Referer": "http://evil.example/testserver/page"},
        {},  # a cookie-signed write that names no origin at all
    ):
        answer = client.post(LOGOUT, headers=headers)
        assert answer.status_code == 403, headers
        assert answer.json()["code"] == "csrf_origin"
    assert client.get(ME).status_code == 200  # reads are not writes; the session still stands


def test_cookie_signed_writes_from_the_platform_pass(setup: tuple[World, Api]) -> None:
    _, api = setup
    by_origin = _cookie_client(api, api.login("zone"))
    assert by_origin.post(LOGOUT, headers={"Origin": "http://testserver"}).status_code == 204
    by_referer = _cookie_client(api, api.login("zone"))
    answer = by_referer.post(LOGOUT, headers={"Referer": "http://testserver/pages/x?y=1"})
    assert answer.status_code == 204


def test_bearer_tokens_are_not_checked(setup: tuple[World, Api]) -> None:
    _, api = setup
    headers = {"Authorization": f"Bearer {api.login('zone')}", "Origin": "http://evil.example"}
    client = api.client()
    client.cookies.set("innofin_session", api.login("zone"))  # a cookie too: the bearer decides
    assert client.post(LOGOUT, headers=headers).status_code == 204


def test_allowed_origins_are_a_setting(engine: Engine) -> None:
    build_world(engine)
    settings = Settings(
        database_url="unused",
        secret_key="k" * 40,
        allowed_origins=("https://portal.example.cn",),
    )
    api = Api(create_app(engine, settings, Clock()))
    client = _cookie_client(api, api.login("firm"))
    assert client.post(LOGOUT, headers={"Origin": "https://other.example.cn"}).status_code == 403
    assert client.post(LOGOUT, headers={"Origin": "https://portal.example.cn"}).status_code == 204


def _cookie_flags(api: Api, base_url: str) -> str:
    client = TestClient(api.app, base_url=base_url)
    answer = client.post(
        "/api/v1/auth/login", json={"username": "bank_b", "password": "correct-horse-battery"}
    )
    assert answer.status_code == 200
    return str(answer.headers["set-cookie"])


def test_the_cookie_is_secure_unless_served_on_loopback(setup: tuple[World, Api]) -> None:
    _, api = setup
    assert "Secure" in _cookie_flags(api, "http://testserver")
    assert "Secure" in _cookie_flags(api, "http://192.0.2.10:8000")
    assert "Secure" not in _cookie_flags(api, "http://127.0.0.1:8000")
    assert "Secure" not in _cookie_flags(api, "http://localhost:8000")
    assert "Secure" not in _cookie_flags(api, "http://[::1]:8000")


@pytest.mark.parametrize("secure", [True, False])
def test_the_cookie_secure_setting_overrides(engine: Engine, secure: bool) -> None:
    build_world(engine)
    settings = Settings(database_url="unused", secret_key="k" * 40, cookie_secure=secure)
    api = Api(create_app(engine, settings, Clock()))
    for base in ("http://testserver", "http://127.0.0.1:8000"):
        assert ("Secure" in _cookie_flags(api, base)) is secure
