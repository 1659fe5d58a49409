"""The CLI starts at once: importing it (and building every command's options, as `--help` does)
loads none of the heavy libraries or innofin's services and models; commands import those
inside their functions (docs/architecture.md, "CLI wiring")."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "polars",
    "numpy",
    "pandas",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "highspy",
    "argon2",
    "pydantic",
    "openpyxl",
)

PROBE = """
import json, sys
from typer.main import get_command
from innofin.cli import app
get_command(app)  # every command's options, as --help and every invocation build them
print(json.dumps(sorted(sys.modules)))
"""


def _loaded() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_importing_the_cli_loads_no_heavy_library_and_no_service() -> None:
    loaded = _loaded()
    heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
    assert heavy == [], f"the CLI's start-up imports {heavy}: import them inside the command"
    # innofin's own: the packages, the kernel, and only the command modules and what they share
    leaves = ("commands", "programme_commands", "cli_options", "scales")
    too_much = [
        m
        for m in loaded
        if m.startswith("innofin.")
        and m.count(".") > 1
        and not m.startswith("innofin.kernel.")
        and not m.endswith(leaves)
    ]
    assert too_much == [], f"the CLI's start-up imports {too_much}"
