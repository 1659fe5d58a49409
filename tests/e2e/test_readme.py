"""Every shell line of the README's examples runs as printed against a fresh small demo
database, with the exit code the README implies — so the README cannot drift from the code.

How the README is read:

- every ```sh block, in order, runs in **one** bash session (so `. .venv/bin/activate`,
  `export` and `TOKEN=$(…)` carry over from line to line), in a temporary folder that holds a
  copy of the demo database as `innofin-demo.db`, the repository's `examples/` and `.venv` (the
  virtual environment running this test); standard input is empty;
- a line ending in `\\` or `|` continues on the next;
- a line must exit 0, unless its comment starts with `exit N` (`# exit 5: the maker may not…`);
- `make …` lines are not run: `make demo` is what the session's demo database is built with
  (`innofin demo run --scale small --seed 42`, the Makefile's defaults), `make test` is this
  suite, `make bench-*` are the benchmarks, run apart;
- `innofin serve` starts the API on a free port (one worker) in the background and waits until it
  answers; later lines' `localhost:8000` / `127.0.0.1:8000` are pointed at that port.

`make demo`'s closing hints ("What to look at next") are run the same way.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
SCALE, SEED = "small", 42  # the Makefile's defaults for `make demo`
SERVE = re.compile(r"^innofin serve\s*(#.*)?$")
EXIT = re.compile(r"#\s*exit (\d+)\b")
NOT_RUN = {
    "make demo": "the session's demo database is built with the command make demo runs",
    "make test": "this suite is make test",
    "make bench-": "benchmarks run apart, for minutes",
}
DEMO_HINTS_NOT_RUN = {
    "innofin serve": "serves until stopped (the README's serve line is run)",
    "innofin user passwd": "asks for a password on a terminal (the README sets one from stdin)",
}


@dataclass(frozen=True)
class Step:
    command: str
    expected: int
    line: int  # in the README (1-based), or the hint's number


def shell_blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each ```sh block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start, body = i + 2, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            yield start, body
        i += 1


def _code(line: str) -> str:
    """The line without a trailing comment (naively: a ' #' outside quotes is rare here)."""
    return re.split(r"\s#", line, maxsplit=1)[0].rstrip()


def steps(text: str) -> tuple[list[Step], list[tuple[int, str, str]]]:
    """The commands to run and the lines not run, with the reason."""
    run: list[Step] = []
    skipped: list[tuple[int, str, str]] = []
    for start, body in shell_blocks(text):
        pending: list[str] = []
        first = start
        for offset, raw in enumerate(body):
            if not raw.strip() or (not pending and raw.lstrip().startswith("#")):
                continue
            if not pending:
                first = start + offset
            pending.append(raw)
            code = _code(raw)
            if code.endswith("\\") or code.endswith("|"):
                continue
            command, pending = "\n".join(pending), []
            reason = next((r for p, r in NOT_RUN.items() if command.startswith(p)), None)
            if reason is not None:
                skipped.append((first, command, reason))
                continue
            found = [int(m.group(1)) for m in EXIT.finditer(command)]
            run.append(Step(command, found[0] if found else 0, first))
        assert not pending, f"README line {first}: a continued line with nothing after it"
    return run, skipped


def test_the_readme_parser_reads_continuations_exit_codes_and_skips() -> None:
    text = (
        "x\n```sh\nmake demo   # builds\n. .venv/bin/activate\n"
        "TOKEN=$(curl -sf a \\\n  -d b |\n  python -c 'x')\n"
        "innofin ledger claim decide 1 --approve   # exit 5: the maker may not\n"
        "innofin ledger check   # replay; exit 4 if a balance disagrees\n```\n"
        "```\nnot shell\n```\n"
    )
    run, skipped = steps(text)
    assert [(s.line, s.expected) for s in run] == [(4, 0), (5, 0), (8, 5), (9, 0)]
    assert run[1].command == "TOKEN=$(curl -sf a \\\n  -d b |\n  python -c 'x')"
    assert [(line, cmd) for line, cmd, _ in skipped] == [(3, "make demo   # builds")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(run: Sequence[Step], port: int, codes: Path) -> str:
    """One bash script: each step, then its exit code into `codes`/N."""
    parts = [
        "exec </dev/null",
        "SERVER_PID=",
        'trap \'[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait\' EXIT',
    ]
    for n, step in enumerate(run):
        command = step.command
        if SERVE.match(command):
            command = (
                f"innofin serve --port {port} --workers 1 > serve.log 2>&1 &\n"
                "SERVER_PID=$!\n"
                f"for _ in $(seq 150); do curl -sf localhost:{port}/api/v1/health >/dev/null"
                " && break; sleep 0.2; done\n"
                f"curl -sf localhost:{port}/api/v1/health"
            )
        command = re.sub(r"\b(localhost|127\.0\.0\.1):8000\b", rf"\1:{port}", command)
        parts.append(f"printf '\\n@@ %d\\n' {n}; printf '\\n@@ %d\\n' {n} >&2; T=$EPOCHREALTIME")
        parts.append(command)
        parts.append(f'echo "$? $T $EPOCHREALTIME" > {codes}/{n}')
    return "\n".join(parts) + "\n"


def run_steps(run: Sequence[Step], folder: Path, timeout: float) -> list[str]:
    """Run the steps in one bash session in `folder`; the failures, each with its output."""
    codes = folder / ".codes"
    codes.mkdir()
    script = folder / ".readme.sh"
    script.write_text(_script(run, _free_port(), codes), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNOFIN_")}
    env.pop("VIRTUAL_ENV", None)
    env["COLUMNS"] = "120"
    proc = subprocess.Popen(
        ["bash", str(script)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this test started, server included
            proc.wait()
    chunks = dict(re.findall(r"@@ (\d+)\n(.*?)(?=\n@@ \d+\n|\Z)", output, flags=re.S))
    failures = []
    for n, step in enumerate(run):
        got_file = codes / str(n)
        got = int(got_file.read_text().split()[0]) if got_file.exists() else None
        if got != step.expected:
            shown = chunks.get(str(n), "").strip()[-2000:]
            failures.append(
                f"line {step.line}: {step.command}\n  exit {got}, expected {step.expected}\n"
                + "\n".join(f"  | {x}" for x in shown.splitlines())
            )
    return failures


@dataclass(frozen=True)
class Demo:
    database: Path
    output: str


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """A fresh small demo database, built once a test run as `make demo` builds it (with
    pytest-xdist, once for all workers: the first builds it, the others wait and copy)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, output = shared / "readme-demo", shared / "readme-demo" / "demo-run.out"
    with (shared / "readme-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not output.exists():
            folder.mkdir(exist_ok=True)
            output.with_suffix(".tmp").write_text(_build_demo(folder), encoding="utf-8")
            output.with_suffix(".tmp").rename(output)
    return Demo(folder / "innofin-demo.db", output.read_text(encoding="utf-8"))


def _build_demo(folder: Path) -> str:
    (folder / "innofin-demo.db").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNOFIN_")}
    env.update(INNOFIN_DATABASE_URL="sqlite:///innofin-demo.db", COLUMNS="200")
    done = subprocess.run(
        [_innofin(), "demo", "run", "--scale", SCALE, "--seed", str(SEED)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _innofin() -> str:
    found = Path(sys.executable).parent / "innofin"
    return str(found) if found.exists() else "innofin"


def _workdir(tmp_path: Path, demo: Demo) -> Path:
    if not (Path(sys.prefix) / "bin" / "activate").exists():
        pytest.skip("the README's examples activate a virtual environment; this is not one")
    shutil.copy(demo.database, tmp_path / "innofin-demo.db")
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return tmp_path


@pytest.mark.slow
def test_every_readme_example_runs_as_printed_on_the_demo(tmp_path: Path, demo: Demo) -> None:
    run, skipped = steps(README.read_text(encoding="utf-8"))
    assert len(run) >= 30 and {c.split()[0] for _, c, _ in skipped} == {"make"}
    folder = _workdir(tmp_path, demo)
    failures = run_steps(run, folder, timeout=900)
    assert not failures, f"{len(failures)} of {len(run)} README lines failed:\n" + "\n".join(
        failures
    )


def demo_hints(output: str) -> list[str]:
    """The commands `innofin demo run` suggests at its end (shell lines: command  # what)."""
    tail = output.split("What to look at next", 1)[1]
    commands = []
    for raw in tail.splitlines():
        command = _code(raw.strip())
        if command.startswith(("innofin ", "export ", ". ")):
            commands.append(command)
    return commands


@pytest.mark.slow
def test_the_demos_closing_hints_run(tmp_path: Path, demo: Demo) -> None:
    hints = demo_hints(demo.output)
    assert "innofin audit show key_list 1" in hints and len(hints) >= 8
    run = [
        Step(h, 0, n)
        for n, h in enumerate(hints, 1)
        if not any(h.startswith(p) for p in DEMO_HINTS_NOT_RUN)
    ]
    folder = _workdir(tmp_path, demo)
    # the hints name the database by the URL the demo was built with (a relative SQLite path)
    failures = run_steps(run, folder, timeout=300)
    assert not failures, "\n".join(failures)


def _cells(path: Path) -> list[list[object]]:
    book = load_workbook(path, read_only=True)
    try:
        return [
            [c for c in row]
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        book.close()


@pytest.mark.slow
def test_the_shipped_example_files_are_what_the_demo_generates(tmp_path: Path, demo: Demo) -> None:
    """examples/generate.py, run on a fresh demo database, writes the shipped files again (cell
    by cell): the example files name records the demo has."""
    spec = importlib.util.spec_from_file_location("examples_generate", EXAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(demo.database, tmp_path)
    for name in ("年度指标.xlsx", "贷款报送.xlsx"):
        assert _cells(tmp_path / name) == _cells(EXAMPLES / name), name
