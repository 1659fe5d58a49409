"""Benchmark: the enterprise list and profile pages beside the JSON API's list and detail, under
the same open-loop load, on the same data, in the same run.

    .venv/bin/python benchmarks/bench_pages.py [--backends sqlite postgresql] [--scale medium]
        [--rate 100] [--seconds 60] [--workers 2] [--rounds 1]           (or: make bench-pages)

For each backend: builds the demo (`innofin demo generate --scale medium --seed 42`) into a
fresh database, scores its last two years (`innofin score run`, so that profiles show points,
their breakdown, peers and improvements, as after `make demo`), starts `innofin serve` (the API
and the pages in one server) and signs in as `demo.admin` once: the API's token serves both, as
a bearer header for the API and as the session cookie for the pages (the pages' sign-in sets the
same token). Then, per round, two phases of `--seconds` at `--rate` requests per second (after
`--warmup` uncounted seconds), the API's first and the pages' second:

  api    half `GET /api/v1/enterprises?limit=50&offset=…&sort=name` (a quarter with `zone_id`),
         half the API's reads of what a profile shows, one after the other, timed as one call:
         `GET /api/v1/enterprises/{id}`, `…/{id}/certifications`, `…/{id}/reports` and
         `…/{id}/score?year=…` (the points explained: breakdown, peers, improvements)
  pages  the same data as pages: `GET /enterprises?page=…` (a quarter with `zone=…`) and
         `GET /enterprises/{id}` (the profile: registry record, reports, certifications, points
         breakdown with improvements, history, list memberships)

The list requests of both phases ask for the same 50 rows in the same order; profile reads the
same enterprise ids (one seeded sequence). The profile page also shows the history of points and
list memberships, which have no API read of their own (so the API side reads a little less). The
load generator, its measurement (from each request's scheduled time to its last answer, over all
requests, errors included) and the CPU meter are bench_api's (`benchmarks/loadgen.py`). Prints
p50/p90/p99 and errors per phase and kind, and the pages' p99 over the API's p99 for the same
kind; the goal is a ratio <= 2 and no errors. Writes benchmarks/out/bench_pages.json. Not part
of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from innofin.demo.scales import SCALES
from loadgen import (
    PASSWORD,
    Call,
    CpuMeter,
    add_arguments,
    build_demo,
    busy_before,
    client_for,
    config_of,
    database_info,
    descendants,
    find_scope,
    get_json,
    login,
    open_loop,
    run_cli,
    server_env,
    server_log_summary,
    serving,
    write_results,
)
from machine import database, src_state

GOAL_RATIO = 2.0
USER = "demo.admin"
PAGE = 50  # the pages' list size (innofin.web.pages.enterprises.PAGE_SIZE)
LIST_PAGES = 40  # the first 2,000 rows, as bench_api
ZONE_FILTER_SHARE = 0.25
ZONE_FILTER_PAGES = 4


def plans(rng: random.Random, total: int, ids: Any, zones: list[int], count: int, year: int) -> Any:
    """The same requests twice: as API calls and as page visits."""
    api, pages = [], []
    for _ in range(count):
        if rng.random() < 0.5:
            zone = rng.choice(zones) if rng.random() < ZONE_FILTER_SHARE else None
            most = ZONE_FILTER_PAGES if zone is not None else LIST_PAGES
            number = 1 + rng.randrange(min(most, max(1, total // PAGE)))
            query: dict[str, str | int] = {"limit": PAGE, "offset": (number - 1) * PAGE}
            query["sort"] = "name"
            shown: dict[str, str | int] = {"page": number}
            if zone is not None:
                query["zone_id"] = zone
                shown["zone"] = zone
            api.append(Call("list", "/api/v1/enterprises", query))
            pages.append(Call("list", "/enterprises", shown))
        else:
            one = rng.choice(ids)
            base = f"/api/v1/enterprises/{one}"
            then = ((f"{base}/certifications", None), (f"{base}/reports", None))
            score = (f"{base}/score", {"year": year})
            api.append(Call("detail", base, None, (*then, score)))
            pages.append(Call("detail", f"/enterprises/{one}"))
    return api, pages


async def measure(
    base: str, pid: int, log: Path, args: argparse.Namespace, label: str, db: str | None
) -> list[dict[str, Any]]:
    async with client_for(base, pid, log, args, args.workers) as client:
        bearer = await login(client, USER)
        token = bearer["Authorization"].removeprefix("Bearer ")
        cookie = {"Cookie": f"innofin_session={token}"}
        check = await client.get("/enterprises", headers=cookie, allow_redirects=False)
        if check.status != 200:
            raise SystemExit(f"the pages did not take the session cookie: HTTP {check.status}")
        scope = await find_scope(client, "admin", bearer, USER)
        print(f"  {USER}: sees {scope.total:,} enterprises, {len(scope.zone_ids)} zone(s)")
        # the first explanation of a run in a server process reads the whole year (seconds on a
        # loaded machine, and the API phase runs first): let every worker read it beforehand
        year = SCALES[args.scale].years[-1]
        for _ in range(3):  # a try that times out still fills the worker: try again
            primed = await asyncio.gather(
                *(
                    get_json(client, f"/api/v1/enterprises/{one}/score", {"year": year}, bearer)
                    for one in scope.detail_ids[: 4 * args.workers]
                ),
                return_exceptions=True,
            )
            if not any(isinstance(x, BaseException) for x in primed):
                break
        print(f"  {len(primed)} explanations read first (every worker's kept population)")
        meter = CpuMeter(descendants(pid), db)
        rng = random.Random(f"{args.seed}-{label}")
        warm = round(args.rate * args.warmup)
        phases = []
        for round_no in range(1, args.rounds + 1):
            api, pages = plans(
                rng, scope.total, scope.detail_ids, scope.zone_ids,
                warm + round(args.rate * args.seconds), year,
            )  # fmt: skip
            for name, calls, headers in (("api", api, bearer), ("pages", pages, cookie)):
                kinds, usage = await open_loop(client, calls, headers, args.rate, warm, meter)
                phase = {
                    "phase": name,
                    "round": round_no,
                    "usage": usage,
                    "kinds": {k: v.summary() for k, v in sorted(kinds.items())},
                }
                phases.append(phase)
                print(
                    f"  round {round_no} {name:<5} "
                    + ", ".join(
                        f"{k} p50 {s['p50_ms']:.1f} / p99 {s['p99_ms']:.1f} ms, "
                        f"{s['errors']} errors"
                        for k, s in phase["kinds"].items()
                    )
                    + f"; server {usage['server_cpu_pct']:.0f}% of a core, "
                    f"machine {usage['machine_busy_pct']:.0f}% busy",
                    flush=True,
                )
    return phases


def rows_of(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        by = {(p["phase"], p["round"], k): s for p in run["phases"] for k, s in p["kinds"].items()}
        for (phase, round_no, kind), s in sorted(by.items()):
            if phase != "pages":
                continue
            api = by[("api", round_no, kind)]
            ratio = s["p99_ms"] / api["p99_ms"]
            ok = ratio <= GOAL_RATIO and s["errors"] == 0 and api["errors"] == 0
            rows.append(
                {
                    "backend": run["backend"],
                    "round": round_no,
                    "kind": "list" if kind == "list" else "profile",
                    "api": api,
                    "pages": s,
                    "p99_ratio": ratio,
                    "verdict": "PASS" if ok else "MISS",
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'backend':<10} {'rd':>2} {'kind':<15} {'API p50':>8} {'p99':>7} {'err':>4} "
        f"{'pages p50':>10} {'p99':>7} {'err':>4} {'p99 ×API':>8}  goal"
    )
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        a, p = r["api"], r["pages"]
        print(
            f"{r['backend']:<10} {r['round']:>2} {r['kind']:<15} {a['p50_ms']:>8.1f} "
            f"{a['p99_ms']:>7.1f} {a['errors']:>4} {p['p50_ms']:>10.1f} {p['p99_ms']:>7.1f} "
            f"{p['errors']:>4} {r['p99_ratio']:>8.2f}  {r['verdict']}"
        )
    print(f"ms from the scheduled send; goal: pages p99 <= {GOAL_RATIO:.0f}× the API's, no errors")


def bench_backend(backend: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with database(backend, tmp, args.pg_url, args.pg_database) as url:
        env = server_env(url)
        build = build_demo(backend, env, args)
        for year in SCALES[args.scale].years[-2:]:
            run_cli(env, "score", "run", "--year", str(year), "--top", "0")
        run_cli(env, "user", "passwd", USER, "--password-stdin", stdin=PASSWORD + "\n")
        info = database_info(backend, url, args.pg_url)
        print(f"  built in {build:.1f} s ({info['bytes'] / 1024**2:,.0f} MiB)", flush=True)
        log = tmp / f"serve-{backend}.log"
        with serving(env, args.workers, log) as (base, pid):
            db = args.pg_database if backend == "postgresql" else None
            phases = asyncio.run(measure(base, pid, log, args, backend, db))
        return {
            "backend": backend,
            "scale": args.scale,
            "build_seconds": build,
            "database": info,
            "workers": args.workers,
            "phases": phases,
            "server_log": server_log_summary(log),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser, rate=100.0, name="bench_pages")
    parser.add_argument("--seconds", type=float, default=60.0, help="each measured phase")
    parser.add_argument("--rounds", type=int, default=1, help="API then pages, this many times")
    parser.add_argument("--workers", type=int, default=2, help="server workers")
    args = parser.parse_args(argv)
    busy = busy_before()
    print(
        f"{args.rate:.0f} requests/s, open loop, {args.workers} server worker(s); "
        f"{os.cpu_count()} CPUs, machine {busy:.0f}% busy before the run"
    )
    code = src_state()
    runs = []
    with tempfile.TemporaryDirectory(prefix="innofin-bench-pages-") as tmp:
        for backend in args.backends:
            runs.append(bench_backend(backend, args, Path(tmp)))
    rows = rows_of(runs)
    print_table(rows)
    for run in runs:
        logged = run["server_log"]
        if logged["tracebacks"] or logged["errors"]:
            print(
                f"server log {run['backend']}: {logged['tracebacks']} tracebacks, "
                f"{logged['errors']} ERROR lines"
            )
    result = {
        "benchmark": "bench_pages",
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "goal": {"p99_ratio": GOAL_RATIO, "errors": 0},
        "machine": {"cpu_count": os.cpu_count(), "busy_before_pct": busy},
        "code": code,
        "config": config_of(args),
        "runs": runs,
        "rows": rows,
    }
    write_results(args.out, result)
    return 0 if rows and all(r["verdict"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
