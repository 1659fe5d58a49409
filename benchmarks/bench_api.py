"""Benchmark: the REST API's enterprise list and detail endpoints under an open-loop load.

    .venv/bin/python benchmarks/bench_api.py [--backends sqlite postgresql] [--scale medium]
        [--rate 200] [--seconds 60] [--workers 1 2]          (or: make bench-api)

For each backend, builds the demo data (`innofin demo generate --scale medium --seed 42`, timed)
into a fresh database — a temporary SQLite file, or a PostgreSQL database created for the run
and dropped after it — gives `demo.admin` and `demo.zone1` a password, and starts `innofin serve`
as a subprocess on a free loopback port. This process is the load generator: one asyncio
`aiohttp.ClientSession` (HTTP/1.1 keep-alive, a pool of `--connections` connections, 100 by
default; aiohttp because it needs ~0.9 ms of client CPU a request where httpx2 needs ~2.1 ms, and
the client shares the cores with the server it measures) that starts requests on a fixed
schedule, `--rate` per second whatever the earlier ones are doing (an open loop: a slow server
shows as queueing, not as a lower rate), reads each whole response and measures each latency
from the request's *scheduled* time, so the time spent waiting for a connection counts too.

Phases, each after `--warmup` seconds of the same load that are not counted:
  health   GET /api/v1/health for --baseline-seconds: the floor (uvicorn + FastAPI + client)
  admin    --seconds of half list, half detail requests as demo.admin (platform administrator)
  zone     --zone-seconds of the same mix as demo.zone1 (zone officer: scoped queries; 0 = skip)
List requests: `limit=50`, a random offset in the first 2,000 rows, `sort` one of name, -name,
id; a quarter filter on `zone_id` (then the offset is in the first 200 rows). Detail requests:
a random enterprise id that exists (any id for the administrator, one of its zone's for the
officer). Prints per backend, worker count, user and kind: count, errors by kind (non-2xx,
timeouts — `--timeout` bounds the whole request —, connection errors), p50/p90/p99/max latency
in ms over all requests, the achieved rate (successful answers per second), p99 over the health
p99, and PASS/MISS against the goal: p99 <= 100 ms and no errors. Per phase, the CPU used by
the server, the database (PostgreSQL), this client and other programs — server and client share
the machine, so a busy machine or a client that cannot keep its schedule (send lag) shows.
The load generator and the server's set-up are `loadgen.py`'s (bench_pages.py uses them too).
Writes everything to benchmarks/out/bench_api.json (machine, versions, server workers,
settings). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from loadgen import (
    PASSWORD,
    Call,
    CpuMeter,
    Scope,
    add_arguments,
    build_demo,
    busy_before,
    client_for,
    config_of,
    database_info,
    descendants,
    find_scope,
    login,
    open_loop,
    run_cli,
    server_env,
    server_log_summary,
    serving,
    write_results,
)
from machine import database, src_state

GOAL_P99_MS = 100.0
USERS = {"admin": "demo.admin", "zone": "demo.zone1"}
PAGE = 50
LIST_OFFSETS = 2_000
ZONE_FILTER_SHARE = 0.25
ZONE_FILTER_OFFSETS = 200


# --------------------------------------------------------------------------- the request mix


def mix(rng: random.Random, scope: Scope, count: int) -> list[Call]:
    """Half list pages (some filtered on a zone), half detail reads, in random order."""
    calls = []
    for _ in range(count):
        if rng.random() < 0.5:
            params: dict[str, str | int] = {
                "limit": PAGE,
                "sort": rng.choice(("name", "-name", "id")),
            }
            if rng.random() < ZONE_FILTER_SHARE:
                params["zone_id"] = rng.choice(scope.zone_ids)
                params["offset"] = rng.randrange(min(ZONE_FILTER_OFFSETS, scope.total))
            else:
                params["offset"] = rng.randrange(min(LIST_OFFSETS, scope.total))
            calls.append(Call("list", "/api/v1/enterprises", params))
        else:
            calls.append(Call("detail", f"/api/v1/enterprises/{rng.choice(scope.detail_ids)}"))
    return calls


# --------------------------------------------------------------------------- one server


async def measure_server(
    base: str,
    pid: int,
    log: Path,
    workers: int,
    args: argparse.Namespace,
    label: str,
    database: str | None,
) -> list[dict[str, Any]]:
    """Log in, find each user's scope, run the phases; returns one dict per phase."""
    async with client_for(base, pid, log, args, workers) as client:
        meter = CpuMeter(descendants(pid), database)
        rng = random.Random(f"{args.seed}-{label}")
        warm = round(args.rate * args.warmup)
        health = [Call("health", "/api/v1/health")] * (
            warm + round(args.rate * args.baseline_seconds)
        )
        plan: list[tuple[str, str, float, dict[str, str], list[Call]]] = [
            ("health", "-", args.baseline_seconds, {}, health)
        ]
        for who, seconds in (("admin", args.seconds), ("zone", args.zone_seconds)):
            if seconds > 0:
                headers = await login(client, USERS[who])
                scope = await find_scope(client, who, headers, USERS[who])
                calls = mix(rng, scope, warm + round(args.rate * seconds))
                plan.append((who, USERS[who], seconds, headers, calls))
                print(
                    f"  {USERS[who]}: sees {scope.total:,} enterprises, "
                    f"{len(scope.zone_ids)} zone(s)"
                )
        phases = []
        for name, user, seconds, headers, calls in plan:
            kinds, usage = await open_loop(client, calls, headers, args.rate, warm, meter)
            phase = {
                "phase": name,
                "user": user,
                "rate": args.rate,
                "seconds": seconds,
                "warmup_seconds": args.warmup,
                "usage": usage,
                "kinds": {k: v.summary() for k, v in sorted(kinds.items())},
            }
            phases.append(phase)
            counts = ", ".join(f"{k} {v['count']:,}" for k, v in phase["kinds"].items())
            print(
                f"  {name:<6} {counts}; CPU % of a core: server {usage['server_cpu_pct']:.0f}, "
                f"database {usage['db_cpu_pct']:.0f} + {usage['db_exited_cpu_pct']:.0f} in "
                f"exited backends ({usage['db_backends_seen']} backends seen), "
                f"client {usage['client_cpu_pct']:.0f}, "
                f"other programs {usage['other_cpu_pct']:.0f} (machine "
                f"{usage['machine_busy_pct']:.0f}% busy); client send lag p99 "
                f"{usage['client_lag_p99_ms']:.1f} ms"
            )
    return phases


# --------------------------------------------------------------------------- report


def rows_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        for served in run["servers"]:
            health = next((p for p in served["phases"] if p["phase"] == "health"), None)
            floor = health["kinds"]["health"]["p99_ms"] if health else float("nan")
            for phase in served["phases"]:
                for kind, s in phase["kinds"].items():
                    ok = s["p99_ms"] <= GOAL_P99_MS and s["errors"] == 0 and s["count"] > 0
                    rows.append(
                        {
                            "backend": run["backend"],
                            "workers": served["workers"],
                            "user": phase["phase"] if phase["phase"] != "health" else "-",
                            "kind": kind,
                            **s,
                            "p99_over_health": s["p99_ms"] / floor,
                            "server_cpu_pct": phase["usage"]["server_cpu_pct"],
                            "other_cpu_pct": phase["usage"]["other_cpu_pct"],
                            "client_lag_p99_ms": phase["usage"]["client_lag_p99_ms"],
                            "verdict": "PASS" if ok else "MISS",
                        }
                    )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'backend':<10} {'wk':>2} {'user':<5} {'kind':<6} {'count':>6} {'errors':>6} "
        f"{'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'ok/s':>6} {'×health':>7}  goal"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        print(
            f"{r['backend']:<10} {r['workers']:>2} {r['user']:<5} {r['kind']:<6} "
            f"{r['count']:>6,} {r['errors']:>6,} {r['p50_ms']:>7.1f} {r['p90_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['achieved_rps']:>6.1f} "
            f"{r['p99_over_health']:>7.1f}  {r['verdict']}"
        )
    print("latencies in ms from the scheduled send time, over all requests (errors included)")
    for r in rows:
        if r["errors"]:
            detail = ", ".join(f"{k}: {n}" for k, n in r["errors_by_kind"].items())
            print(f"  errors {r['backend']} w{r['workers']} {r['user']} {r['kind']}: {detail}")
    phases = {(r["backend"], r["workers"], r["user"]): r for r in rows}
    for (backend, workers, user), r in phases.items():
        where = f"  note {backend} w{workers} {user or '-'}:"
        if r["other_cpu_pct"] > 25:
            print(f"{where} other programs used {r['other_cpu_pct']:.0f}% of a core meanwhile")
        if r["client_lag_p99_ms"] > 20:
            print(
                f"{where} the client sent late (p99 {r['client_lag_p99_ms']:.0f} ms after the "
                "scheduled time: the machine is saturated); that is part of the latencies"
            )
    misses = sum(r["verdict"] == "MISS" for r in rows)
    print(
        f"goal: p99 <= {GOAL_P99_MS:.0f} ms with no errors — "
        + ("PASS on every row" if not misses else f"MISS on {misses} of {len(rows)} rows")
    )


# --------------------------------------------------------------------------- main


def bench_backend(backend: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with database(backend, tmp, args.pg_url, args.pg_database) as url:
        env = server_env(url)
        build = build_demo(backend, env, args)
        for user in USERS.values():
            run_cli(env, "user", "passwd", user, "--password-stdin", stdin=PASSWORD + "\n")
        info = database_info(backend, url, args.pg_url)
        print(f"  built in {build:.1f} s ({info['bytes'] / 1024**2:,.0f} MiB)")
        run: dict[str, Any] = {
            "backend": backend,
            "scale": args.scale,
            "build_seconds": build,
            "database": info,
            "servers": [],
        }
        for workers in args.workers:
            log = tmp / f"serve-{backend}-{workers}.log"
            print(f"  innofin serve --workers {workers}", flush=True)
            with serving(env, workers, log) as (base, pid):
                db = args.pg_database if backend == "postgresql" else None
                phases = asyncio.run(measure_server(base, pid, log, workers, args, backend, db))
            run["servers"].append(
                {"workers": workers, "phases": phases, "server_log": server_log_summary(log)}
            )
        return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser, rate=200.0, name="bench_api")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured admin phase")
    parser.add_argument("--zone-seconds", type=float, default=30.0, help="zone phase; 0 skips")
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="health phase")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="server workers")
    args = parser.parse_args(argv)

    machine: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
    }
    print(
        f"{args.rate:.0f} requests/s, open loop; {machine['cpu_count']} CPUs, "
        f"Python {machine['python']}; server and client share this machine"
    )
    machine["busy_before_pct"] = busy_before()
    if machine["busy_before_pct"] > 25:
        print(
            f"warning: the machine is already {machine['busy_before_pct']:.0f}% busy: other "
            "programs will compete with the server and the client"
        )
    code = src_state()
    runs = []
    with tempfile.TemporaryDirectory(prefix="innofin-bench-api-") as tmp:
        for backend in args.backends:
            runs.append(bench_backend(backend, args, Path(tmp)))
    code_after = src_state()
    rows = rows_of(runs)
    print_table(rows)
    for run in runs:
        for served in run["servers"]:
            logged = served["server_log"]
            if logged["tracebacks"] or logged["errors"]:
                print(
                    f"server log {run['backend']} w{served['workers']}: "
                    f"{logged['tracebacks']} tracebacks, {logged['errors']} ERROR lines"
                )
    print(
        f"code: {code['commit'] and code['commit'][:10]} + {len(code['changed_files'])} changed "
        f"file(s) under src/ (content digest {code['src_sha256']})"
    )
    if code_after["src_sha256"] != code["src_sha256"]:
        print("  warning: src/ changed during the run: the runs may not measure the same code")
    result = {
        "benchmark": "bench_api",
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "goal": {"p99_ms": GOAL_P99_MS, "errors": 0},
        "machine": machine,
        "code": {"at_start": code, "at_end": code_after},
        "config": config_of(args),
        "runs": runs,
        "rows": rows,
    }
    write_results(args.out, result)
    return 0 if all(r["verdict"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
