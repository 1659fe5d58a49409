"""How a long-running use case reports progress without knowing who shows it (CLI, API, tests)."""

from __future__ import annotations

from collections.abc import Callable

#: Called with the number of units (rows, steps) just done.
ProgressCallback = Callable[[int], None]
