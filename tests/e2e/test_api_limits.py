"""What the server reads and holds: request bodies bounded before they are read (and before
anyone is authenticated), SQLite writers that queue or are told to come back (503, never 500),
and uploads that do not outlive a killed server."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from api_world import T0, Api, Clock, build_world, make_api
from innofin.access.service import OrgRef, create_user
from innofin.api import staging, uploads
from innofin.db import make_engine, unit_of_work
from innofin.kernel.codes import OrgKind, Role
from innofin.kernel.ids import make_uscc
from innofin.kernel.settings import Settings
from innofin.registry.models import Enterprise, User
from innofin.server.app import create_app
from live_server import serve

ADMIN_PASSWORD = "granite-lantern-okapi"


def _raw(base: str, head: str, body: bytes, wait: float = 20.0) -> tuple[int, bytes, float]:
    """Send a request's head and the start of its body on a plain socket; the status, the
    answer and the seconds it took — without ever sending the rest of the body."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n")
        with contextlib.suppress(OSError):  # the server may have answered and closed already
            sock.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 20:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer, time.monotonic() - started


def _head(method: str, path: str, port: str, **headers: str) -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines)


@pytest.mark.slow
def test_a_huge_body_without_a_token_is_refused_before_it_is_read(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    with serve(sqlite_engine, tmp_path / "server.log") as (base, _):
        port = base.rsplit(":", 1)[1]
        start = b'{"username": "' + b"x" * 60_000
        # 100 MB announced, 60 KB sent: the answer comes without the rest
        head = _head(
            "POST",
            "/api/v1/users",
            port,
            Content_Type="application/json",
            Content_Length=str(100 << 20),
        )
        status, answer, seconds = _raw(base, head, start)
        assert status == 413 and b'"too_large"' in answer and seconds < 10
        # the import route takes files up to INNOFIN_MAX_UPLOAD_MB (64): 100 MB is too large too
        head = _head(
            "POST",
            "/api/v1/imports/zones",
            port,
            Content_Type="multipart/form-data; boundary=x",
            Content_Length=str(100 << 20),
        )
        status, answer, _ = _raw(base, head, start)
        assert status == 413
        # a file the route would take (10 MB) is not read without a valid session
        head = _head(
            "POST",
            "/api/v1/imports/zones",
            port,
            Content_Type="multipart/form-data; boundary=x",
            Content_Length=str(10 << 20),
            Authorization="Bearer not-a-token",
        )
        status, answer, seconds = _raw(base, head, start)
        assert status == 401 and seconds < 10
        # a body sent in chunks, with no length announced, is cut off at the limit
        chunk = b"x" * 65536
        chunks = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(40))
        head = _head(
            "POST",
            "/api/v1/auth/login",
            port,
            Content_Type="application/json",
            Transfer_Encoding="chunked",
        )
        status, answer, _ = _raw(base, head, chunks)
        assert status == 413 and b"INNOFIN_MAX_BODY_KB" in answer


def test_body_limits_are_settings(sqlite_engine: Engine) -> None:
    settings = Settings(database_url="unused", secret_key="k" * 40, max_body_bytes=2048)
    client = TestClient(create_app(sqlite_engine, settings, Clock()))
    big = {"username": "x" * 3000, "password": "y"}
    answer = client.post("/api/v1/auth/login", json=big)
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    small = {"username": "nobody", "password": "whatever-it-is"}
    assert client.post("/api/v1/auth/login", json=small).status_code == 401


def _admin(engine: Engine) -> None:
    with unit_of_work(engine) as s:
        create_user(
            s,
            username="admin",
            password=ADMIN_PASSWORD,
            roles=[Role.PLATFORM_ADMIN],
            org=OrgRef(OrgKind.GOVERNMENT),
        )


def _new_user(i: int) -> dict[str, Any]:
    return {
        "username": f"officer{i:03d}",
        "password": ADMIN_PASSWORD,
        "roles": ["platform_admin"],
        "org_kind": "government",
    }


def test_parallel_writers_queue_and_all_succeed(engine: Engine) -> None:
    """Twenty administrators' clients create users at once, while a sign-in storm goes on."""
    build_world(engine)
    api = make_api(engine)
    headers = api.headers("admin")
    statuses: list[int] = []
    barrier = threading.Barrier(24)

    def create(i: int) -> None:
        client = api.client()
        barrier.wait()
        statuses.append(
            client.post("/api/v1/users", json=_new_user(i), headers=headers).status_code
        )

    def sign_in(name: str) -> None:
        client = api.client()
        barrier.wait()
        body = {"username": name, "password": "correct-horse-battery"}
        statuses.append(client.post("/api/v1/auth/login", json=body).status_code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    threads += [
        threading.Thread(target=sign_in, args=(n,)) for n in ("zone", "firm", "bank_a", "national")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(statuses) == {201: 20, 200: 4}


def test_a_write_that_cannot_get_the_lock_is_told_to_retry(sqlite_engine: Engine) -> None:
    """SQLite's write lock held by another process past the busy timeout: 503 with Retry-After,
    for a sign-in and for an administrator's write alike — never a 500."""
    _admin(sqlite_engine)
    impatient = make_engine(str(sqlite_engine.url), sqlite_busy_ms=300)
    settings = Settings(database_url="unused", secret_key="k" * 40)
    client = TestClient(create_app(impatient, settings, Clock()), raise_server_exceptions=False)
    login = {"username": "admin", "password": ADMIN_PASSWORD}
    token = client.post("/api/v1/auth/login", json=login).json()["access_token"]
    holder = sqlite3.connect(sqlite_engine.url.database or "", timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # another writer, e.g. a long import
    try:
        for answer in (
            client.post("/api/v1/auth/login", json=login),
            client.post(
                "/api/v1/users", json=_new_user(1), headers={"Authorization": f"Bearer {token}"}
            ),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "busy"
            assert int(answer.headers["retry-after"]) >= 1
    finally:
        holder.rollback()
        holder.close()
    answer = client.post(
        "/api/v1/users", json=_new_user(1), headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 201  # and the retry works
    impatient.dispose()


def test_a_row_lock_past_postgresqls_lock_timeout_is_told_to_retry(engine: Engine) -> None:
    """PostgreSQL's counterpart: a sign-in waiting on a row another transaction holds, past
    lock_timeout, answers 503 with Retry-After — never a 500."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's counterpart is the test above")
    _admin(engine)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    options = f"-csearch_path={schema} -c lock_timeout=300"
    impatient = make_engine(
        engine.url.render_as_string(hide_password=False), connect_args={"options": options}
    )
    settings = Settings(database_url="unused", secret_key="k" * 40)
    client = TestClient(create_app(impatient, settings, Clock()), raise_server_exceptions=False)
    login = {"username": "admin", "password": ADMIN_PASSWORD}
    assert client.post("/api/v1/auth/login", json=login).status_code == 200
    with engine.connect() as holder, holder.begin():  # e.g. a sign-in stuck mid-way
        holder.execute(
            text("SELECT 1 FROM login_throttle WHERE username = 'admin' AND client = '' FOR UPDATE")
        ).one()
        answer = client.post("/api/v1/auth/login", json=login)
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "busy" and int(answer.headers["retry-after"]) >= 1
    assert client.post("/api/v1/auth/login", json=login).status_code == 200
    impatient.dispose()


def _big_enterprises(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("id_scheme,identifier,name\n")
        for n in range(rows):
            out.write(f"uscc,{make_uscc(f'91110108MA{n:07d}')},企业{n}\n")
    return path


@pytest.mark.slow
def test_sign_ins_and_writes_during_a_long_import_never_fail(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A real import in another process holds SQLite's write lock for seconds; meanwhile users
    sign in and an administrator creates users: each queues (200/201) or is told to retry
    (503 with Retry-After) — never a 500 "database is locked"."""
    build_world(sqlite_engine)
    api = make_api(sqlite_engine)
    headers = api.headers("admin")
    source = _big_enterprises(tmp_path / "enterprises.csv", 60_000)
    env = {**os.environ, "INNOFIN_DATABASE_URL": str(sqlite_engine.url)}
    importer = subprocess.Popen(
        [sys.executable, "-m", "innofin", "import", "enterprises", str(source)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answers: list[tuple[int, str | None]] = []
    try:
        deadline = time.monotonic() + 120
        i = 0
        while importer.poll() is None and time.monotonic() < deadline:
            client = api.client()
            body = {"username": "zone", "password": "correct-horse-battery"}
            for answer in (
                client.post("/api/v1/auth/login", json=body),
                client.post("/api/v1/users", json=_new_user(i), headers=headers),
            ):
                answers.append((answer.status_code, answer.headers.get("retry-after")))
            i += 1
    finally:
        importer.wait(timeout=300)
    assert importer.returncode == 0
    with unit_of_work(sqlite_engine) as s:
        assert s.scalar(select(func.count()).select_from(Enterprise)) == 60_003
        assert s.scalar(select(func.count()).select_from(User)) >= 7
    assert answers, "the import ended before any request was made"
    assert all(status in (200, 201) or (status == 503 and retry) for status, retry in answers)


@pytest.mark.slow
def test_an_upload_left_by_a_killed_server_is_removed_at_the_next_start(
    engine: Engine, tmp_path: Path
) -> None:
    _admin(engine)
    folder = tmp_path / "uploads"
    source = _big_enterprises(tmp_path / "enterprises.csv", 60_000)
    env = {"INNOFIN_UPLOAD_DIR": str(folder), "INNOFIN_MAX_UPLOAD_MB": "64"}
    with serve(engine, tmp_path / "first.log", **env) as (base, proc):
        login = json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode()
        request = urllib.request.Request(
            f"{base}/api/v1/auth/login", data=login, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            token = json.loads(answer.read())["access_token"]
        boundary = "innofin-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="enterprises.csv"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + source.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        upload = urllib.request.Request(
            f"{base}/api/v1/imports/enterprises",
            data=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Authorization": f"Bearer {token}",
            },
        )

        def send() -> None:
            with contextlib.suppress(OSError):  # the server is killed under it
                urllib.request.urlopen(upload, timeout=120).read()

        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 60
        while not (folder.is_dir() and any(folder.iterdir())):
            assert time.monotonic() < deadline, "the upload never reached its folder"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # no clean-up code runs
        proc.wait()
        sender.join()
    left = list(folder.iterdir())
    assert len(left) == 1 and (left[0] / "enterprises.csv").exists()
    with serve(engine, tmp_path / "second.log", **env):
        assert list(folder.iterdir()) == []


def test_leftovers_are_only_those_of_processes_that_are_gone(tmp_path: Path) -> None:
    settings = Settings(database_url="unused", upload_dir=str(tmp_path))
    with uploads.upload_folder(settings) as mine:
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        gone = tmp_path / f"{dead.stdout.strip()}-1-abc"
        gone.mkdir()
        recycled = tmp_path / f"{os.getpid()}-1-def"  # this process id, another start time
        recycled.mkdir()
        removed = uploads.remove_leftovers(settings)
        assert sorted(removed) == sorted([gone, recycled])
        assert mine.is_dir()
    assert not mine.exists()


def test_the_servers_start_sweeps_expired_staged_files_and_keeps_the_others(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(database_url="unused", secret_key="k" * 40, upload_dir=str(tmp_path))
    owner = staging.Owner(1, 1)

    def stage(minutes: int) -> staging.Staged:
        at = (T0 + dt.timedelta(minutes=minutes)).timestamp()
        data = io.BytesIO(b"code\nZ1\n")
        return staging.stage(settings, owner, data, name="z.csv", kind="zones", now=at)

    old, fresh = stage(0), stage(25)
    create_app(engine, settings, Clock(T0 + dt.timedelta(minutes=31)))  # no upload since
    assert not old.folder.exists()
    assert fresh.folder.is_dir()  # a check a visitor may still confirm


def test_uploads_still_import(engine: Engine, tmp_path: Path) -> None:
    build_world(engine)
    folder = tmp_path / "uploads"
    settings = Settings(database_url="unused", secret_key="k" * 40, upload_dir=str(folder))
    api = Api(create_app(engine, settings, Clock()))
    csv = "code,name_zh,province,city,level\nZ9,新区,丙省,丙市,provincial\n".encode()
    answer = api.call(
        "admin", "POST", "/api/v1/imports/zones", files={"file": ("z.csv", csv, "text/csv")}
    )
    assert answer.status_code == 200 and answer.json()["written"] == 1
    assert list(folder.iterdir()) == []  # the upload's folder is gone


def _call(url: str, body: dict[str, Any], **headers: str) -> tuple[int, str | None]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return int(answer.status), answer.headers.get("Retry-After")
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.headers.get("Retry-After")


@pytest.mark.slow
def test_parallel_writers_on_the_real_server(engine: Engine, tmp_path: Path) -> None:
    """The attack as made: `innofin serve` with two worker processes, real Argon2, users
    created and signed in at once — each answer is a success, or 503 with Retry-After."""
    build_world(engine)
    with serve(engine, tmp_path / "server.log", workers=2) as (base, _):
        login = {"username": "admin", "password": "correct-horse-battery"}
        status, _ = _call(f"{base}/api/v1/auth/login", login)
        assert status == 200
        request = urllib.request.Request(
            f"{base}/api/v1/auth/login",
            data=json.dumps(login).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            token = json.loads(answer.read())["access_token"]
        answers: list[tuple[int, str | None]] = []
        barrier = threading.Barrier(16)

        def create(i: int) -> None:
            barrier.wait()
            answers.append(
                _call(f"{base}/api/v1/users", _new_user(i), Authorization=f"Bearer {token}")
            )

        def sign_in(name: str) -> None:
            barrier.wait()
            body = {"username": name, "password": "correct-horse-battery"}
            answers.append(_call(f"{base}/api/v1/auth/login", body))

        threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
        threads += [
            threading.Thread(target=sign_in, args=(n,))
            for n in ("zone", "firm", "bank_a", "national")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(answers) == 16
    assert all(s in (200, 201) or (s == 503 and retry) for s, retry in answers), answers
    log = (tmp_path / "server.log").read_text()
    assert "database is locked" not in log or "database busy" in log
