"""The load generator the API and page benchmarks share (`bench_api.py`, `bench_pages.py`): the
open loop and its measurement, the CPU meter, the client's sign-in and reads, the server under
test (`innofin serve` as a subprocess) and its demo database, and the command-line options both
take. The measurement: each request's latency from its *scheduled* time to its last answer, over
all requests, errors included (see `fire` and `open_loop`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from sqlalchemy.engine import make_url

from machine import database_backends, machine_ticks, plain, proc_stat, proc_ticks

PASSWORD = "bench-password-1"
ADMIN_PASSWORD = "bench-admin-password-1"  # the `admin` user `innofin serve` creates on first run
SECRET_KEY = "innofin-bench-api-signing-key-0123456789"  # 40 characters: tokens stay valid
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------- measuring


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


@dataclass
class Kind:
    """The outcomes of one kind of request (list, detail, health) in one phase."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    first_due: float = float("inf")
    last_done: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        errors = sum(self.errors.values())
        span = self.last_done - self.first_due
        ms = {f"p{q}_ms": percentile(ordered, q) * 1000 for q in (50, 90, 99)}
        return {
            "count": len(ordered),
            "errors": errors,
            "errors_by_kind": dict(self.errors.most_common()),
            **ms,
            "max_ms": ordered[-1] * 1000 if ordered else float("nan"),
            "mean_ms": sum(ordered) / len(ordered) * 1000 if ordered else float("nan"),
            # successful responses per second, from the first scheduled send to the last answer
            "achieved_rps": (len(ordered) - errors) / span if span > 0 else float("nan"),
        }


@dataclass(frozen=True)
class Call:
    kind: str
    path: str
    params: dict[str, str | int] | None = None
    #: further requests sent one after the other, timed with the first as one call (what a
    #: client reads to show one page: bench_pages compares a page with the API's reads of
    #: the same data)
    then: tuple[tuple[str, dict[str, str | int] | None], ...] = ()


def descendants(root: int) -> list[int]:
    """`root` and every process below it (uvicorn's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class CpuMeter:
    """CPU used between start() and stop(), in % of one core: the server (all its processes),
    the database server's backends for the bench database (PostgreSQL only), this client, and
    the rest of the machine (other programs: a busy machine skews the latencies).

    Backends come and go (a connection pool's overflow connections are closed after use), so a
    thread looks for them every 0.2 s and counts them; the CPU of those that exit meanwhile is
    taken from the postmaster's exited-children time, which also holds other databases' backends.
    """

    def __init__(self, server_pids: list[int], database: str | None) -> None:
        self.pids, self.database = server_pids, database
        self.db: dict[int, tuple[int, int]] = {}  # pid -> (ticks first seen, ticks last seen)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.postmaster: int | None = None
        self.exited = 0

    def _look(self, first: bool = False) -> None:
        for pid in database_backends(self.database) if self.database else []:
            if self.postmaster is None and (fields := proc_stat(pid)):
                self.postmaster = int(fields[1])
                self.exited = proc_ticks(self.postmaster, children=True)
            ticks = proc_ticks(pid)
            if ticks:
                seen = self.db.get(pid)
                self.db[pid] = (ticks if first else 0, ticks) if seen is None else (seen[0], ticks)

    def _watch(self) -> None:
        while not self._done.wait(0.2):
            self._look()

    def start(self) -> None:
        self.wall = time.perf_counter()
        self.client = time.process_time()
        self.server = sum(proc_ticks(p) for p in self.pids)
        self.db.clear()
        self.postmaster, self.exited = None, 0
        self._look(first=True)
        self.machine = machine_ticks()
        if self.database:
            self._done.clear()
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        busy, total = machine_ticks()
        server = (sum(proc_ticks(p) for p in self.pids) - self.server) / TICKS
        if self._thread is not None:
            self._done.set()
            self._thread.join()
            self._thread = None
        self._look()
        db = sum(last - first for first, last in self.db.values()) / TICKS
        exited = 0.0
        if self.postmaster is not None:
            exited = (proc_ticks(self.postmaster, children=True) - self.exited) / TICKS
        client = time.process_time() - self.client
        machine = (busy - self.machine[0]) / TICKS
        return {
            "server_cpu_pct": 100 * server / wall,
            "db_cpu_pct": 100 * db / wall,
            "db_backends_seen": len(self.db),
            "db_exited_cpu_pct": 100 * exited / wall,
            "client_cpu_pct": 100 * client / wall,
            "other_cpu_pct": max(0.0, 100 * (machine - server - db - exited - client) / wall),
            "machine_busy_pct": 100 * (busy - self.machine[0]) / max(1, total - self.machine[1]),
        }


async def fire(
    client: aiohttp.ClientSession,
    call: Call,
    headers: dict[str, str],
    due: float,
    kind: Kind | None,
) -> float:
    """Send one request (then the call's `then` requests, one after the other) and read each whole
    body; record the latency from `due` (its scheduled time) to the last answer. Returns the
    lag. Errors: `HTTP <status>` for a non-2xx answer (redirects are not followed), `timeout
    (<class>)` for the session's timeout (`TimeoutError`) and aiohttp's own timeouts
    (ConnectionTimeoutError, SocketTimeoutError…), else the exception's class (connection
    errors: ClientConnectorError, ServerDisconnectedError, ClientOSError…)."""
    lag = time.perf_counter() - due
    error = None
    try:
        for path, params in ((call.path, call.params), *call.then):
            async with client.get(
                path, params=params, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if not 200 <= response.status < 300:
                    error = f"HTTP {response.status}"
                    break
    except TimeoutError as exc:  # before the connection errors: ServerTimeoutError is both
        error = f"timeout ({type(exc).__name__})"
    except Exception as exc:  # a benchmark records failures, whatever they are
        error = type(exc).__name__
    done = time.perf_counter()
    if kind is not None:
        kind.latencies.append(done - due)
        kind.first_due = min(kind.first_due, due)
        kind.last_done = max(kind.last_done, done)
        if error:
            kind.errors[error] += 1
    return lag


async def open_loop(
    client: aiohttp.ClientSession,
    calls: list[Call],
    headers: dict[str, str],
    rate: float,
    counted_from: int,
    meter: CpuMeter,
) -> tuple[dict[str, Kind], dict[str, float]]:
    """Start calls[i] at start + i / rate whatever is still running; count those from
    `counted_from` on (the earlier ones are the warm-up), then wait for every one to end."""
    kinds: dict[str, Kind] = {}
    tasks: list[asyncio.Task[float]] = []
    start = time.perf_counter() + 0.05
    for i, call in enumerate(calls):
        due = start + i / rate
        if i == counted_from:
            meter.start()
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        kind = kinds.setdefault(call.kind, Kind()) if i >= counted_from else None
        tasks.append(asyncio.create_task(fire(client, call, headers, due, kind)))
    lags = sorted(await asyncio.gather(*tasks[counted_from:]))
    usage = meter.stop()
    usage["client_lag_p99_ms"] = percentile(lags, 99) * 1000
    usage["client_lag_max_ms"] = lags[-1] * 1000 if lags else float("nan")
    await asyncio.gather(*tasks[:counted_from])
    return kinds, usage


# --------------------------------------------------------------------------- the client


@dataclass
class Scope:
    """What one user can see, found through the API before the load starts."""

    total: int  # enterprises the user's list shows
    detail_ids: list[int] | range
    zone_ids: list[int]


async def login(client: aiohttp.ClientSession, username: str) -> dict[str, str]:
    async with client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    ) as response:
        response.raise_for_status()
        token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def get_json(
    client: aiohttp.ClientSession,
    path: str,
    params: dict[str, str | int],
    headers: dict[str, str],
) -> Any:
    async with client.get(path, params=params, headers=headers) as response:
        response.raise_for_status()
        return await response.json()


async def find_scope(
    client: aiohttp.ClientSession, who: str, headers: dict[str, str], username: str = ""
) -> Scope:
    """What `who` ("admin": everything; else the enterprises its list shows) can see."""
    url = "/api/v1/enterprises"
    if who == "admin":
        last = await get_json(client, url, {"limit": 1, "sort": "-id"}, headers)
        top = last["items"][0]["id"]
        if top != last["total"]:
            print(f"  note: enterprise ids are not 1..{last['total']} (max {top})")
        zones = await get_json(client, "/api/v1/zones", {"limit": 500}, headers)
        return Scope(last["total"], range(1, top + 1), [z["id"] for z in zones["items"]])
    ids, zone_ids, offset = [], set(), 0
    while True:
        params: dict[str, str | int] = {"limit": 500, "offset": offset, "sort": "id"}
        page = await get_json(client, url, params, headers)
        ids += [e["id"] for e in page["items"]]
        zone_ids |= {e["zone_id"] for e in page["items"] if e["zone_id"] is not None}
        offset += 500
        if offset >= page["total"]:
            break
    if not ids:
        raise SystemExit(f"{username or who} sees no enterprise: nothing to measure")
    return Scope(len(ids), ids, sorted(zone_ids))


@asynccontextmanager
async def client_for(
    base: str, pid: int, log: Path, args: argparse.Namespace, workers: int
) -> AsyncIterator[aiohttp.ClientSession]:
    """The load generator's HTTP client, once the server answers and its workers have started."""
    connector = aiohttp.TCPConnector(
        limit=args.connections,
        keepalive_timeout=4.0,  # below uvicorn's 5 s keep-alive: never reuse a closing socket
    )
    # the whole request: waiting for a pooled connection, connecting, sending, reading the body
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
        await wait_ready(client, pid, log)
        await asyncio.sleep(1.0 if workers == 1 else 3.0)  # let every worker finish starting
        yield client


# --------------------------------------------------------------------------- server, databases


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        [str(BIN / "innofin"), *args], env=env, input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"innofin {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """`innofin serve` in its own process group; yields (base URL, pid); stops it however the
    block ends (SIGTERM to the group, SIGKILL after 15 s)."""
    port = free_port()
    command = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "innofin"), *command, "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def wait_ready(
    client: aiohttp.ClientSession, pid: int, log: Path, seconds: float = 90
) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        try:
            async with client.get("/api/v1/health") as response:
                await response.read()
                if 200 <= response.status < 300:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    raise SystemExit(f"the server did not come up; its log ends:\n{tail}")


def database_info(backend: str, url: str, pg_url: str) -> dict[str, Any]:
    if backend == "sqlite":
        path = Path(make_url(url).database or "")
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return {"bytes": size, "version": sqlite3.sqlite_version}
    with psycopg.connect(pg_url) as conn:
        name = make_url(url).database
        row = conn.execute("SELECT pg_database_size(%s), version()", (name,)).fetchone()
    assert row is not None
    return {"bytes": row[0], "version": row[1]}


def server_env(url: str) -> dict[str, str]:
    """The environment of the CLI and the server for the database at `url`."""
    return {
        **os.environ,
        "INNOFIN_DATABASE_URL": url,
        "INNOFIN_SECRET_KEY": SECRET_KEY,
        "INNOFIN_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


def build_demo(backend: str, env: dict[str, str], args: argparse.Namespace) -> float:
    """`innofin demo generate` at `args.scale` and `args.seed`; returns the seconds it took."""
    print(f"{backend}: building the {args.scale} demo (seed {args.seed}) …", flush=True)
    started = time.perf_counter()
    run_cli(env, "demo", "generate", "--scale", args.scale, "--seed", str(args.seed))
    return time.perf_counter() - started


def server_log_summary(log: Path) -> dict[str, Any]:
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = text.splitlines()
    return {
        "lines": len(lines),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "errors": sum(1 for line in lines if "ERROR" in line),
        "tail": lines[-20:],
    }


# --------------------------------------------------------------------------- the command line


def add_arguments(parser: argparse.ArgumentParser, rate: float, name: str) -> None:
    """The options both benchmarks take (`name`: the benchmark, for its PostgreSQL database and
    its JSON results)."""
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "national"])
    parser.add_argument("--seed", type=int, default=42, help="demo data and request mix")
    parser.add_argument("--rate", type=float, default=rate, help="requests started per second")
    parser.add_argument("--warmup", type=float, default=5.0, help="uncounted seconds per phase")
    parser.add_argument("--connections", type=int, default=100, help="client connection pool")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL maintenance database (CREATE/DROP DATABASE run there)",
    )
    parser.add_argument(
        "--pg-database",
        default=f"innofin_{name}_{os.getpid()}",
        help=f"created for the run, dropped after it (default: innofin_{name}_PID)",
    )
    out = Path(__file__).resolve().parent / "out" / f"{name}.json"
    parser.add_argument("--out", type=Path, default=out, help="JSON results")


def busy_before(seconds: float = 2.0) -> float:
    """How busy the machine is (% of all CPUs) over the next `seconds`."""
    before = machine_ticks()
    time.sleep(seconds)
    busy, total = machine_ticks()
    return 100 * (busy - before[0]) / max(1, total - before[1])


def config_of(args: argparse.Namespace) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def write_results(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plain(result), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}")
