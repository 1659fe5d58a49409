"""`innofin.ingest` declares its public surface; other rooms' imports (bank returns) use only it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import innofin.ingest
import innofin.ledger


def test_every_public_name_resolves() -> None:
    for name in innofin.ingest.__all__:
        assert getattr(innofin.ingest, name) is not None, name


def _ingest_imports(path: Path) -> set[str]:
    """The modules of `innofin.ingest` that `path` imports from."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("innofin.ingest"):
            found.add(node.module or "")
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("innofin.ingest"))
    return found


def test_bank_returns_use_only_the_public_surface() -> None:
    folder = Path(next(iter(innofin.ledger.__path__)))
    returns = folder / "returns.py"
    assert returns.is_file()
    assert _ingest_imports(returns) == {"innofin.ingest"}
    module = importlib.import_module("innofin.ledger.returns")
    for name in ("run_pipeline", "RowHandler", "register_foreign_kind"):
        assert getattr(module, name) is getattr(innofin.ingest, name)
