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
packages = [m for m, mod in sys.modules.items() if hasattr(mod, "__path__")]
print(json.dumps({"loaded": sorted(sys.modules), "packages": sorted(packages)}))
"""


def _probe() -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    found: dict[str, list[str]] = json.loads(done.stdout)
    return found


def test_importing_the_cli_loads_no_heavy_library_and_no_service() -> None:
    probe = _probe()
    loaded, packages = probe["loaded"], set(probe["packages"])
    heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
    assert heavy == [], f"the CLI's start-up imports {heavy}: import them inside the command"
    # innofin's own: the packages (rooms and sub-rooms), the kernel, and only the command modules
    # and what they share
    leaves = ("commands", "cli_options", "scales")
    too_much = [
        m
        for m in loaded
        if m.startswith("innofin.")
        and m.count(".") > 1
        and m not in packages
        and not m.startswith("innofin.kernel.")
        and not m.endswith(leaves)
    ]
    assert too_much == [], f"the CLI's start-up imports {too_much}"
