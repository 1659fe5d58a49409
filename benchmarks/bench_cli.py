"""Benchmark: how long the `innofin` command takes to answer `--version` and `--help`.

    .venv/bin/python benchmarks/bench_cli.py [--repeat 7]

Runs, interleaved and `--repeat` times each, in fresh processes: `python -c pass`,
`python -c "import typer"` (the baseline: any Typer CLI pays it), `innofin --version` and
`innofin --help`, the console script of this interpreter's environment. Prints the median wall
and CPU seconds of each, each command's ratio to the Typer baseline, the load average of the
machine, and whether the goals hold (`--version` ≤ 0.3 s, `--help` ≤ 0.6 s wall). Wall time
depends on how busy the machine is; CPU time and the ratio to the baseline much less.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOALS = {"innofin --version": 0.3, "innofin --help": 0.6}


def commands() -> dict[str, list[str]]:
    innofin = str(Path(sys.executable).parent / "innofin")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "innofin --version": [innofin, "--version"],
        "innofin --help": [innofin, "--help"],
    }


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of `argv`."""
    env = {**os.environ, "COLUMNS": "100"}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="Runs of each command.")
    args = parser.parse_args()
    cmds = commands()
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    load_before = os.getloadavg()[0]
    for argv in cmds.values():  # warm the file cache once
        timed(argv)
    for _ in range(args.repeat):
        for name, argv in cmds.items():
            wall, cpu = timed(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    load_after = os.getloadavg()[0]
    baseline = "python -c 'import typer'"
    base_wall = statistics.median(walls[baseline])
    base_cpu = statistics.median(cpus[baseline])
    print(f"median of {args.repeat} runs; load average {load_before:.2f} → {load_after:.2f}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'command':<28}{'wall s':>9}{'cpu s':>9}{'wall/typer':>12}{'cpu/typer':>11}  goal")
    met = True
    for name in cmds:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        goal = GOALS.get(name)
        verdict = ""
        if goal is not None:
            ok = wall <= goal
            met = met and ok
            verdict = f"≤ {goal:.1f} s wall: {'met' if ok else 'NOT met'}"
        print(
            f"{name:<28}{wall:>9.3f}{cpu:>9.3f}{wall / base_wall:>12.2f}"
            f"{cpu / base_cpu:>11.2f}  {verdict}"
        )
    print("goals met" if met else "goals NOT met (see the load average: wall time is shared)")


if __name__ == "__main__":
    main()
