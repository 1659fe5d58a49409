"""Idempotency-Key: a retried POST returns the first result and changes nothing more."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from api_world import Api, World, build_world, make_api
from innofin.audit.models import AuditEvent
from innofin.db import unit_of_work
from innofin.registry.models import DataSource, Zone

ZONE = {
    "code": "ZI",
    "name_zh": "幂等区",
    "name_en": "Idempotent zone",
    "province": "丙省",
    "city": "某市",
    "level": "national",
}


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


def _count(engine: Engine, stmt: Any) -> int:
    with unit_of_work(engine) as s:
        return int(s.scalar(stmt) or 0)


def test_a_retry_replays_the_first_response(setup: tuple[World, Api], engine: Engine) -> None:
    _, api = setup
    headers = {"Idempotency-Key": "create-zone-1"}
    first = api.call("admin", "POST", "/api/v1/zones", json=ZONE, headers=headers)
    again = api.call("admin", "POST", "/api/v1/zones", json=ZONE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _count(engine, select(func.count()).select_from(Zone).where(Zone.code == "ZI")) == 1
    audited = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.entity == "zone", AuditEvent.channel == "api")
    )
    assert _count(engine, audited) == 1  # the retry wrote nothing, not even an audit row
    # without a key, the same request is a new one (and conflicts)
    assert api.call("admin", "POST", "/api/v1/zones", json=ZONE).status_code == 409


def test_a_key_reused_for_another_request_is_refused(setup: tuple[World, Api]) -> None:
    _, api = setup
    headers = {"Idempotency-Key": "k-1"}
    assert api.call("admin", "POST", "/api/v1/zones", json=ZONE, headers=headers).status_code == 201
    other = ZONE | {"code": "ZJ"}
    response = api.call("admin", "POST", "/api/v1/zones", json=other, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


def test_keys_belong_to_their_user(setup: tuple[World, Api], engine: Engine) -> None:
    w, api = setup
    headers = {"Idempotency-Key": "same-key"}
    for who, enterprise in (("zone", "e1"), ("national", "e3")):
        body = {"enterprise_id": w.ids[enterprise], "institution_id": w.ids["b"]}
        response = api.call(who, "POST", "/api/v1/referrals", json=body, headers=headers)
        assert response.status_code == 201 and "idempotent-replayed" not in response.headers


def test_a_failed_request_is_not_remembered(setup: tuple[World, Api], engine: Engine) -> None:
    _, api = setup
    headers = {"Idempotency-Key": "will-fail-first"}
    bad = ZONE | {"province": "丙省", "code": "ZK"}
    assert api.call("admin", "POST", "/api/v1/zones", json=bad, headers=headers).status_code == 201
    clash = api.call("admin", "POST", "/api/v1/zones", json=bad)
    assert clash.status_code == 409
    headers2 = {"Idempotency-Key": "conflict-then-fix"}
    assert api.call("admin", "POST", "/api/v1/zones", json=bad, headers=headers2).status_code == 409
    fixed = bad | {"code": "ZL"}
    # the conflicting attempt rolled back with its key, so the key is free for the next request
    response = api.call("admin", "POST", "/api/v1/zones", json=fixed, headers=headers2)
    assert response.status_code == 201


def test_import_retries_change_nothing_more(setup: tuple[World, Api], engine: Engine) -> None:
    _, api = setup
    csv = "code,name_zh,name_en,province,city,level\nZU1,上传区,Upload,丁省,某市,national\n"
    files = {"file": ("zones.csv", csv.encode(), "text/csv")}
    headers = {"Idempotency-Key": "upload-1"}
    first = api.call("admin", "POST", "/api/v1/imports/zones", files=files, headers=headers)
    assert first.status_code == 200 and first.json()["written"] == 1
    again = api.call("admin", "POST", "/api/v1/imports/zones", files=files, headers=headers)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert _count(engine, select(func.count()).select_from(DataSource)) == 1


def test_concurrent_retries_create_one_row(setup: tuple[World, Api], engine: Engine) -> None:
    """Two retries racing (a client that timed out and resent): exactly one zone, one answer."""
    _, api = setup
    headers = {"Idempotency-Key": "race", **api.headers("admin")}
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        client = api.client()
        barrier.wait()
        results.append(client.post("/api/v1/zones", json=ZONE, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 4
    assert len({r.json()["id"] for r in results}) == 1
    assert sum("idempotent-replayed" in r.headers for r in results) == 3
    assert _count(engine, select(func.count()).select_from(Zone).where(Zone.code == "ZI")) == 1
