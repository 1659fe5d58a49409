"""Sign-in under attack: a race on the failure counter, guessers that rotate their address,
an owner locked out by someone else's guesses, weak passwords (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api_world import PASSWORD, T0, Api, Clock, World, build_world, make_api
from innofin.access import service as access
from innofin.access import throttle
from innofin.access.models import LoginThrottle
from innofin.access.passwords import check_password
from innofin.access.throttle import client_key, delay
from innofin.api.proxies import forwarded_client, networks
from innofin.db import unit_of_work
from innofin.kernel.errors import InvalidInput, RateLimited, Unauthenticated
from innofin.kernel.settings import Settings
from innofin.server.app import create_app
from live_server import serve

LOGIN = "/api/v1/auth/login"
SETTINGS = Settings(database_url="unused", secret_key="k" * 40)


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api, Clock]]:
    clock = Clock()
    world = build_world(engine)
    yield world, make_api(engine, clock), clock


def _from(api: Api, address: str) -> TestClient:
    return TestClient(api.app, client=(address, 40000))


def _login(client: TestClient, username: str, password: str = PASSWORD, **headers: str) -> Any:
    return client.post(LOGIN, json={"username": username, "password": password}, headers=headers)


def test_thirty_concurrent_wrong_passwords_check_at_most_five(
    setup: tuple[World, Api, Clock], engine: Engine
) -> None:
    """The race of the attack: every try waits at a barrier, then all sign in at once."""
    outcomes: list[str] = []
    barrier = threading.Barrier(30)

    def guess(i: int) -> None:
        barrier.wait()
        try:
            access.login(engine, SETTINGS, "province", f"guess-{i:04d}-x", "10.9.9.9", T0)
            outcomes.append("signed in")
        except Unauthenticated:
            outcomes.append("checked")
        except RateLimited:
            outcomes.append("refused")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(outcomes) == {"checked": 5, "refused": 25}


def test_guessers_wait_longer_and_longer(setup: tuple[World, Api, Clock]) -> None:
    _, api, clock = setup
    client = _from(api, "10.0.0.66")
    for _ in range(5):
        assert _login(client, "firm", "guess-guess").status_code == 401
    waits = []
    for _ in range(4):
        refused = _login(client, "firm", "guess-guess")
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        waits.append(int(refused.headers["retry-after"]))
        clock.advance(seconds=waits[-1])
        assert _login(client, "firm", "guess-guess").status_code == 401  # checked, failed again
    assert waits == [15, 30, 60, 120]
    assert delay(40, 5, dt.timedelta(minutes=15)) == dt.timedelta(minutes=15)  # at most the window


def test_the_owner_is_not_locked_out_by_someone_elses_guesses(
    setup: tuple[World, Api, Clock],
) -> None:
    _, api, clock = setup
    attacker, owner = _from(api, "203.0.113.66"), _from(api, "198.51.100.7")
    checked = refused = 0
    while checked < 12:  # the attacker waits out every delay and keeps guessing
        answer = _login(attacker, "bank_a", "guess-guess")
        if answer.status_code == 429:
            refused += 1
            clock.advance(seconds=int(answer.headers["retry-after"]))
            continue
        assert answer.status_code == 401
        checked += 1
    assert refused == 7  # every guess past the fifth waited
    assert _login(attacker, "bank_a").status_code == 429  # even the right password waits there
    assert _login(owner, "bank_a").status_code == 200  # the owner, elsewhere, signs in at once


def test_rotating_forwarded_for_from_an_untrusted_peer_changes_nothing(
    setup: tuple[World, Api, Clock],
) -> None:
    """One address spraying guesses over many user names, each try claiming another address."""
    _, api, _ = setup
    client = _from(api, "127.0.0.1")
    answers = []
    for i in range(24):
        name = ["admin", "national", "province", "zone", "bank_b", "firm"][i % 6]
        spoofed = f"198.18.{i // 250}.{i % 250 + 1}"
        answers.append(
            _login(client, name, "guess-guess", **{"X-Forwarded-For": spoofed}).status_code
        )
    assert answers[:20] == [401] * 20  # 4 x the per-user limit from one address
    assert set(answers[20:]) == {429}


def _post(url: str, body: dict[str, str], **headers: str) -> int:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


@pytest.mark.slow
def test_rotating_forwarded_for_through_the_real_server(engine: Engine, tmp_path: Path) -> None:
    """The attack as it was made: `innofin serve` on loopback, each guess claiming another
    address in X-Forwarded-For (uvicorn believed it from 127.0.0.1 unasked)."""
    build_world(engine)
    names = ["admin", "national", "province", "zone", "bank_b", "firm"]
    with serve(engine, tmp_path / "server.log") as (base, _):
        answers = [
            _post(
                base + LOGIN,
                {"username": names[i % 6], "password": "guess-guess"},
                **{"X-Forwarded-For": f"198.18.0.{i + 1}"},
            )
            for i in range(22)
        ]
    assert answers[:20] == [401] * 20  # 4 x the per-user limit from one address, then no more
    assert set(answers[20:]) == {429}


def test_forwarded_for_is_believed_from_a_trusted_proxy_only(engine: Engine) -> None:
    build_world(engine)
    settings = Settings(database_url="unused", secret_key="k" * 40, trusted_proxies=("10.0.0.2",))
    app = create_app(engine, settings, Clock())
    via_proxy = TestClient(app, client=("10.0.0.2", 40000))
    for _ in range(5):
        answer = _login(via_proxy, "zone", "guess-guess", **{"X-Forwarded-For": "192.0.2.1"})
        assert answer.status_code == 401
    assert _login(via_proxy, "zone", **{"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    # another client behind the same proxy is another address
    assert _login(via_proxy, "zone", **{"X-Forwarded-For": "192.0.2.2"}).status_code == 200


def test_forwarded_client_reads_from_the_right() -> None:
    trusted = networks(["10.0.0.0/8"])
    assert forwarded_client("192.0.2.9", ["1.2.3.4"], trusted) == "192.0.2.9"  # peer not trusted
    assert forwarded_client("10.0.0.2", ["6.6.6.6, 1.2.3.4"], trusted) == "1.2.3.4"
    assert forwarded_client("10.0.0.2", ["6.6.6.6, 1.2.3.4, 10.0.0.3"], trusted) == "1.2.3.4"
    assert forwarded_client("10.0.0.2", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"
    assert forwarded_client("10.0.0.2", [], trusted) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", ["not-an-address"], trusted) == "10.0.0.2"
    assert forwarded_client("127.0.0.1", ["1.2.3.4"], ()) == "127.0.0.1"  # nothing trusted
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


WEAK = [
    ("short-pw", "at least 10"),
    ("password12345", "easy to guess"),
    ("1234567890", "common password"),
    ("qwertyuiop", "common password"),
    ("aaaaaaaaaaaa", "easy to guess"),
    ("newuser-2024-x", "user name"),
    ("NEWUSER1234", "user name"),
    ("innofin2024", "easy to guess"),
]


def test_weak_passwords_are_refused(setup: tuple[World, Api, Clock]) -> None:
    _, api, _ = setup
    for password, reason in WEAK:
        body = {
            "username": "newuser",
            "password": password,
            "roles": ["zone_officer"],
            "org_kind": "zone",
            "org_key": "Z1",
        }
        answer = api.call("admin", "POST", "/api/v1/users", json=body)
        assert answer.json()["field"] == "password", password
        if len(password) < 10:  # the schema's own bound
            assert answer.status_code == 422
        else:
            assert answer.status_code == 400 and reason in answer.json()["message"], password


def test_a_strong_password_is_accepted(setup: tuple[World, Api, Clock]) -> None:
    _, api, _ = setup
    body = {
        "username": "newuser",
        "password": "granite-lantern-okapi",
        "roles": ["zone_officer"],
        "org_kind": "zone",
        "org_key": "Z1",
    }
    assert api.call("admin", "POST", "/api/v1/users", json=body).status_code == 201
    assert _login(api.client(), "newuser", "granite-lantern-okapi").status_code == 200


def test_the_password_rule_holds_for_the_cli_and_the_service_too() -> None:
    with pytest.raises(InvalidInput, match="common password"):
        check_password("iloveyou123")
    with pytest.raises(InvalidInput, match="user name"):
        check_password("my-alice-password", "Alice")
    check_password(PASSWORD, "zone")  # the tests' own password passes
    check_password("granite lantern okapi " * 9)  # a long passphrase (198 characters)
    with pytest.raises(InvalidInput, match="easy to guess"):
        check_password("a" * 200)  # longer than zxcvbn reads, still judged


def test_one_account_guessed_from_many_addresses_is_slowed_at_100(
    setup: tuple[World, Api, Clock], engine: Engine
) -> None:
    """NIST SP 800-63B's ceiling: 100 failures of one account, from any addresses."""
    for i in range(100):  # 4 tries from each of 25 addresses: none of them is delayed
        with pytest.raises(Unauthenticated):
            access.login(engine, SETTINGS, "national", "guess-guess", f"192.0.2.{i // 4}", T0)
    with pytest.raises(RateLimited) as refused:
        access.login(engine, SETTINGS, "national", PASSWORD, "198.51.100.1", T0)
    assert refused.value.retry_after == 15
    later = T0 + dt.timedelta(seconds=15)
    assert access.login(engine, SETTINGS, "national", PASSWORD, "198.51.100.1", later).user_id


def test_forgiven_counters_are_removed(setup: tuple[World, Api, Clock], engine: Engine) -> None:
    with pytest.raises(Unauthenticated):
        access.login(engine, SETTINGS, "zone", "guess-guess", "192.0.2.1", T0)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(LoginThrottle)) == 3
        throttle.forget_stale(s, SETTINGS, T0 + dt.timedelta(minutes=29))
        assert s.scalar(select(func.count()).select_from(LoginThrottle)) == 3
        throttle.forget_stale(s, SETTINGS, T0 + dt.timedelta(minutes=31))
        assert s.scalar(select(func.count()).select_from(LoginThrottle)) == 0


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("INNOFIN_TRUSTED_PROXIES", "10.0.0.1, proxy.local", "not an IP address or network"),
        ("INNOFIN_ALLOWED_ORIGINS", "portal.example.cn", "not an origin"),
        ("INNOFIN_COOKIE_SECURE", "maybe", "must be 1 or 0"),
        ("INNOFIN_MAX_BODY_KB", "0", "at least 1"),
    ],
)
def test_security_settings_are_checked(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput, match=message) as refused:
        Settings.from_env()
    assert refused.value.field == name


def test_security_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNOFIN_TRUSTED_PROXIES", "10.0.0.1, 10.1.0.0/16,::1")
    monkeypatch.setenv("INNOFIN_ALLOWED_ORIGINS", "https://Portal.example.cn/")
    monkeypatch.setenv("INNOFIN_COOKIE_SECURE", "0")
    monkeypatch.setenv("INNOFIN_MAX_UPLOAD_MB", "8")
    settings = Settings.from_env()
    assert settings.trusted_proxies == ("10.0.0.1/32", "10.1.0.0/16", "::1/128")
    assert settings.allowed_origins == ("https://portal.example.cn",)
    assert settings.cookie_secure is False and settings.max_upload_bytes == 8 << 20
