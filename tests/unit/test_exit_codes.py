"""Every exit code the CLI uses is in the README's table, with its meaning."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: where a code is set: an error class's exit_code, typer.Exit(N), SystemExit(N), sys.exit(N)
USES = re.compile(r"exit_code = (\d+)|Exit\((\d+)\)|SystemExit\((\d+)\)|sys\.exit\((\d+)\)")


def documented() -> dict[int, str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("Exit codes scripts can rely on:", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", table, re.M)
    return {int(code): meaning for code, meaning in rows}


def used() -> set[int]:
    codes = {0, 1, 2}  # success, an unexpected failure, usage errors (Typer's own)
    for path in (ROOT / "src" / "innofin").rglob("*.py"):
        for match in USES.finditer(path.read_text(encoding="utf-8")):
            codes.add(int(next(g for g in match.groups() if g is not None)))
    return codes


def test_every_exit_code_used_is_documented() -> None:
    table = documented()
    assert set(table) >= {0, 1, 2, 3, 4, 5}, table
    assert used() <= set(table), f"exit codes used but not in the README: {used() - set(table)}"
    assert "not allowed" in table[5]
