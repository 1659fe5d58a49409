"""What the benchmarks share: reading this machine's CPU counters from /proc, the state of the
code under test, JSON-safe values, and a fresh database per run."""

from __future__ import annotations

import hashlib
import math
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from sqlalchemy.engine import make_url


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first); [] once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def proc_ticks(pid: int, children: bool = False) -> int:
    """CPU time (user + system, in clock ticks) of one process, or of its exited children."""
    fields = proc_stat(pid)
    if not fields:
        return 0
    return int(fields[13]) + int(fields[14]) if children else int(fields[11]) + int(fields[12])


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def database_backends(name: str) -> list[int]:
    """PostgreSQL server processes working for database `name` (by their process title)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if title.startswith(b"postgres:") and name.encode() in title.replace(b"\0", b" ").split():
            found.append(int(cmdline.parent.name))
    return found


def src_state() -> dict[str, Any]:
    """The code under test: the commit, the files under src/ changed since, and a digest of the
    content of src/ (the project is edited while benchmarks run: equal digests, same code)."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout if done.returncode == 0 else ""

    digest = hashlib.sha256()
    for name in sorted(
        git("ls-files", "--cached", "--others", "--exclude-standard", "src").split()
    ):
        path = root / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return {
        "commit": git("rev-parse", "HEAD").strip() or None,
        "changed_files": [line[3:] for line in git("status", "--porcelain", "src").splitlines()],
        "src_sha256": digest.hexdigest()[:16],
    }


def plain(value: Any) -> Any:
    """`value` with NaN and infinities as null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@contextmanager
def database(
    backend: str, tmp: Path, pg_url: str, pg_name: str, sqlite_name: str = "bench.db"
) -> Iterator[str]:
    """A fresh, empty database for `backend`; yields its URL. The PostgreSQL one is created
    here — never an existing one, which may be another run's — and dropped at the end (the
    SQLite file goes with the temporary directory)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / sqlite_name}"
        return
    with psycopg.connect(pg_url, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_name)))
        except pg_errors.DuplicateDatabase:
            raise SystemExit(f"database {pg_name} exists: drop it, or name another") from None
    try:
        url = make_url(pg_url).set(drivername="postgresql+psycopg", database=pg_name)
        yield url.render_as_string(hide_password=False)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(drop.format(sql.Identifier(pg_name)))
