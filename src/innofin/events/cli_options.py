"""What the event commands share: one write as the operator, in its own unit of work."""

from __future__ import annotations

from typing import Any

from innofin.cli_support import engine


def cli_write(action: Any, reason: str | None = None) -> Any:
    """Run one write as the operator, in its own unit of work; returns what `action` returns."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work

    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=Actor.cli(reason)) as session:
            return action(session)
    finally:
        eng.dispose()
