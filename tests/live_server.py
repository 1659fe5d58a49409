"""`innofin serve` as a real process on a loopback port, for tests of what only a real server and
real sockets show (proxy headers, unread bodies, processes killed mid-upload)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, text


def database_url(engine: Engine) -> str:
    """The URL a subprocess uses to reach the test's database (its own schema on PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        return engine.url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    base = engine.url.render_as_string(hide_password=False)
    return f"{base}?options={quote(f'-csearch_path={schema}')}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    engine: Engine, log: Path, workers: int = 1, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `innofin serve`; yields its base URL and process, and stops it afterwards."""
    port = free_port()
    environ = {
        **os.environ,
        "INNOFIN_DATABASE_URL": database_url(engine),
        "INNOFIN_SECRET_KEY": "k" * 40,
        "INNOFIN_ADMIN_PASSWORD": "granite-lantern-okapi",
        **env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "innofin",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
