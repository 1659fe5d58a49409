"""Sign-in: passwords, token expiry and revocation, the session cookie, the rate limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from api_world import PASSWORD, Api, Clock, World, build_world, make_api
from innofin.access.models import ApiSession
from innofin.access.passwords import hash_password, verify_password
from innofin.db import unit_of_work
from innofin.kernel.errors import InvalidInput
from innofin.registry.models import User

ME = "/api/v1/auth/me"


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api, Clock]]:
    clock = Clock()
    world = build_world(engine)
    yield world, make_api(engine, clock), clock


def _login(api: Api, username: str, password: str = PASSWORD) -> Any:
    return api.client().post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


def test_passwords_are_argon2_and_verify() -> None:
    stored = hash_password("a long password")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a long password")
    assert not verify_password(stored, "a long passworD")
    assert not verify_password(None, "anything at all")  # no hash: no sign-in
    with pytest.raises(InvalidInput):
        hash_password("short")


def test_login_gives_a_working_token_and_a_safe_cookie(setup: tuple[World, Api, Clock]) -> None:
    world, api, _ = setup
    response = _login(api, "zone")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    cookie = response.headers["set-cookie"]
    assert "innofin_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = api.client().get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["zone_id"] == world.ids["z1"]
    # the cookie alone also signs the caller in (for the web pages)
    client = api.client()
    client.cookies.set("innofin_session", body["access_token"])
    assert client.get(ME).json()["username"] == "zone"


@pytest.mark.parametrize("username,password", [("zone", "wrong-password"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_401(
    setup: tuple[World, Api, Clock], username: str, password: str
) -> None:
    _, api, _ = setup
    response = _login(api, username, password)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_missing_or_forged_tokens_are_401(setup: tuple[World, Api, Clock]) -> None:
    _, api, _ = setup
    assert api.client().get(ME).status_code == 401
    token = api.login("zone")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = api.client().get(ME, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_tokens_expire(setup: tuple[World, Api, Clock]) -> None:
    _, api, clock = setup
    headers = {"Authorization": f"Bearer {api.login('firm')}"}
    clock.advance(minutes=119)
    assert api.client().get(ME, headers=headers).status_code == 200
    clock.advance(minutes=2)
    response = api.client().get(ME, headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_logout_revokes_the_token_at_once(setup: tuple[World, Api, Clock], engine: Engine) -> None:
    _, api, _ = setup
    token = api.login("bank_a")
    other = api.login("bank_a")  # a second session of the same user stays valid
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client().post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert api.client().get(ME, headers=headers).status_code == 401
    assert api.client().get(ME, headers={"Authorization": f"Bearer {other}"}).status_code == 200
    with unit_of_work(engine) as s:
        revoked = s.scalars(select(ApiSession.revoked_at)).all()
    assert sum(r is not None for r in revoked) == 1


def test_deactivated_users_lose_access(setup: tuple[World, Api, Clock], engine: Engine) -> None:
    _, api, _ = setup
    headers = {"Authorization": f"Bearer {api.login('national')}"}
    with unit_of_work(engine) as s:
        s.execute(update(User).where(User.username == "national").values(is_active=False))
    assert api.client().get(ME, headers=headers).status_code == 401
    assert _login(api, "national").status_code == 401


def test_failed_logins_are_rate_limited(setup: tuple[World, Api, Clock]) -> None:
    _, api, clock = setup
    for _ in range(5):
        assert _login(api, "province", "guess-guess").status_code == 401
    blocked = _login(api, "province")  # even the right password waits out the window
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    retry = int(blocked.headers["retry-after"])
    assert 0 < retry <= 15 * 60 + 1
    assert _login(api, "zone").status_code == 200  # others unaffected
    clock.advance(seconds=retry)
    assert _login(api, "province").status_code == 200


def test_a_success_resets_the_count(setup: tuple[World, Api, Clock]) -> None:
    _, api, _ = setup
    for _ in range(4):
        assert _login(api, "firm", "guess-guess").status_code == 401
    assert _login(api, "firm").status_code == 200
    for _ in range(4):
        assert _login(api, "firm", "guess-guess").status_code == 401
    assert _login(api, "firm").status_code == 200


def test_concurrent_sign_ins_all_succeed(setup: tuple[World, Api, Clock]) -> None:
    """Sign-ins write (a session, an audit row): racing ones queue, none fails."""
    _, api, _ = setup
    results: list[int] = []
    barrier = threading.Barrier(6)

    def sign_in(name: str) -> None:
        client = api.client()
        barrier.wait()
        response = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        results.append(response.status_code)

    names = ["admin", "zone", "firm", "bank_a", "bank_b", "national"]
    threads = [threading.Thread(target=sign_in, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 6
