"""The house's layering (docs/architecture.md, "Layers"), enforced on the import graph.

The graph is read with `ast` from the source under ``src/innofin`` — every ``import`` and
``from … import`` of innofin's own modules, at module level, inside functions and under
``TYPE_CHECKING`` alike (a type-only arrow is still an arrow) — so nothing is imported and the
test needs no configuration or extra dependency (import-linter would need both, and cannot say
"an engine's imports stay in its own room"). The rules:

- ``kernel``: the kernel imports nothing of innofin's.
- ``engines``: an engine (a module ``engine`` or ``*_engine``) is pure: everything it imports,
  directly or through other modules, is the kernel or its own room's modules, which obey the same.
- ``composition-root``: no room imports the composition root (``innofin.server``, ``innofin.cli``,
  ``__main__``; Alembic's environment script, which must see every table, belongs to it).
- ``layers``: a room's modules import only rooms at or below its layer (`LAYERS`). Entry modules
  (``routes``, ``commands`` and their ``*_routes``/``*_commands``, ``cli_options``) are thin
  adapters and may call any room below the composition root, and only they use the toolkits.
- ``toolkits``: the API and CLI toolkits (``api``, ``cli_support``) are used by entry modules only.
- ``below-the-ledger``: no room below the ledger imports it, entry modules included.
- ``sub-rooms``: a room's sub-rooms (``ledger/loans``, ``ledger/pools``, ``matching/referrals``,
  …) reach one another only through the modules at the room's root.

`KNOWN_EXCEPTIONS` lists the arrows that break a rule today, each with who removes it; it may only
shrink (an exception no longer needed fails `test_known_exceptions_are_still_needed`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import innofin

SRC = Path(innofin.__file__).parent
ROOT = "innofin"

#: the rooms from the bottom up; a room imports only its own layer and those below it
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kernel",),
    ("db",),
    ("audit",),
    ("registry",),
    ("access",),
    ("api", "cli_support"),  # the toolkits of the entry modules (HTTP, CLI)
    ("ingest",),
    ("ledger",),
    ("scoring",),
    ("matching",),
    ("events",),
    ("monitoring",),
    ("demo",),
    ("web",),  # server-rendered pages over every room: all entry modules (ENTRY_ROOMS)
)
TOOLKITS = frozenset({"api", "cli_support"})
#: modules that assemble the house; everything may be imported by them, they by nothing
COMPOSITION_ROOT = ("innofin.server", "innofin.cli", "innofin.__main__", "innofin.db.migrations")
ENTRY_NAMES = ("routes", "commands", "cli_options")
#: rooms whose every module is an entry module (pages)
ENTRY_ROOMS = frozenset({"web"})
#: named like an engine but not a computation engine: SQLAlchemy's Engine and the unit of work
NOT_ENGINES = frozenset({"innofin.db.engine"})

#: the scoped use cases behind routes and pages (``records.py``): they put the access policy's
#: row scopes into their queries, so they may read the policy whatever their room's layer; only
#: entry modules and other records modules import them (`test_records_serve_entry_modules_only`)
SCOPED_NAMES = ("records",)
POLICY = "innofin.access.policy"

#: (rule, importer, imported) → why: arrows against the order that are decided, not pending.
#: Each is named in docs/architecture.md ("Layers"); a new one needs a reason there too.
DECIDED_ARROWS: dict[tuple[str, str, str], str] = {
    # scoring reads the ledger (troubled_enterprises, a query); a risk pool's claim reads whether
    # the firm is on the programme's candidate list (备选企业库), a key list scoring publishes:
    # the two tables of published lists, read-only, and nothing else of scoring
    ("layers", "innofin.ledger.pools.service", "innofin.scoring.models"): (
        "a pool reads scoring's published key list (its candidate pool)"
    ),
    # a programme report has a section on the programme's funnel, and the scenarios' demo
    # prints the institutions' scorecards beside the runs: reports and scenarios read the
    # funnel's public results (the summary, the scorecards), nothing else of it
    ("sub-rooms", "innofin.monitoring.reports.service", "innofin.monitoring.funnel.service"): (
        "a programme report's funnel section"
    ),
    ("sub-rooms", "innofin.monitoring.scenarios.commands", "innofin.monitoring.funnel.scorecard"): (
        "the scenarios' demo prints the scorecards"
    ),
}

#: arrows that break a rule today and are to be removed. This list may only shrink; it is empty.
KNOWN_EXCEPTIONS: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    importer: str
    imported: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.importer, self.imported)


# --- reading the graph -------------------------------------------------------------------------


def _module_names(src: Path) -> dict[str, Path]:
    names = {}
    for path in src.rglob("*.py"):
        parts = [ROOT, *path.relative_to(src).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _resolve(name: str, known: Iterable[str]) -> str | None:
    """The innofin module `name` refers to: itself, or the module that defines it."""
    modules = set(known)
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in modules else None


def import_graph(src: Path = SRC) -> dict[str, frozenset[str]]:
    """Each innofin module → the innofin modules it imports (``from p import m`` names the
    module ``p.m`` when there is one, else ``p``)."""
    names = _module_names(src)
    graph: dict[str, frozenset[str]] = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            wanted: list[str] = []
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    wanted.append(sub if sub in names else module)
            for target in wanted:
                if target == ROOT or target.startswith(ROOT + "."):
                    resolved = _resolve(target, names)
                    if resolved is not None and resolved != name:
                        found.add(resolved)
        graph[name] = frozenset(found)
    return graph


# --- the rules ---------------------------------------------------------------------------------


def room(module: str) -> str:
    """The room a module belongs to: ``innofin.ledger.loans.service`` → ``ledger``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def in_root(module: str) -> bool:
    return any(module == r or module.startswith(r + ".") for r in COMPOSITION_ROOT)


def is_entry(module: str) -> bool:
    if room(module) in ENTRY_ROOMS:
        return True
    last = module.rsplit(".", 1)[-1]
    return last in ENTRY_NAMES or last.endswith(tuple(f"_{n}" for n in ENTRY_NAMES))


def is_scoped(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last in SCOPED_NAMES or last.endswith(tuple(f"_{n}" for n in SCOPED_NAMES))


def is_engine(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return (last == "engine" or last.endswith("_engine")) and module not in NOT_ENGINES


def layer(module: str) -> int | None:
    if module == ROOT:
        return -1  # the package itself: its version only
    for rank, rooms in enumerate(LAYERS):
        if room(module) in rooms:
            return rank
    return None


#: modules of a room's root split into a package of their own (``ledger/bulk/``: rows, reading,
#: batch, writing): they keep the root's standing, not a sub-room's. Monitoring's balance cube and
#: the targets over it are what the whole room reads (its reports, records and commands), as the
#: ledger's sub-rooms read its models and journal: packages at the room's root
ROOT_PACKAGES = frozenset({"ledger.bulk", "monitoring.cube", "monitoring.targets"})


def sub_room(module: str) -> str | None:
    """``ledger.loans`` for ``innofin.ledger.loans.service``, ``matching.referrals`` for
    ``innofin.matching.referrals.rematch``; None at a room's root (and in its `ROOT_PACKAGES`)."""
    parts = module.split(".")
    if len(parts) > 3 and f"{parts[1]}.{parts[2]}" not in ROOT_PACKAGES:
        return f"{parts[1]}.{parts[2]}"
    return None


def _reach(graph: Mapping[str, frozenset[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), frozenset()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def violations(graph: Mapping[str, frozenset[str]]) -> list[Violation]:
    found: set[Violation] = set()
    ledger = layer("innofin.ledger.x")
    assert ledger is not None
    for importer, imported_all in graph.items():
        for imported in imported_all:
            if room(importer) == "kernel" and room(imported) != "kernel":
                found.add(Violation("kernel", importer, imported))
            if in_root(importer):
                continue
            if in_root(imported):
                found.add(Violation("composition-root", importer, imported))
                continue
            here, there = layer(importer), layer(imported)
            if here is None or there is None:
                unknown = importer if here is None else imported
                found.add(Violation(f"unplaced room {room(unknown)!r}", importer, imported))
                continue
            entry = is_entry(importer)
            if here < ledger and room(imported) == "ledger":
                found.add(Violation("below-the-ledger", importer, imported))
            scoped = is_scoped(importer) and imported == POLICY
            if there > here and not entry and not scoped:
                found.add(Violation("layers", importer, imported))
            if room(imported) in TOOLKITS and room(importer) != room(imported) and not entry:
                found.add(Violation("toolkits", importer, imported))
            a, b = sub_room(importer), sub_room(imported)
            if a is not None and b is not None and a != b and room(importer) == room(imported):
                found.add(Violation("sub-rooms", importer, imported))
        if is_engine(importer):
            home = room(importer)
            for reached in _reach(graph, importer):
                if room(reached) not in ("kernel", home):
                    found.add(Violation("engines", importer, reached))
    return sorted(found)


# --- the house as it is ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, frozenset[str]]:
    return import_graph()


def test_the_graph_is_read(graph: dict[str, frozenset[str]]) -> None:
    # a sanity check of the reader itself: a few arrows that must be seen
    assert "innofin.kernel.money" in graph["innofin.kernel.jsontypes"]
    assert "innofin.kernel.money" in graph["innofin.db.base"]
    assert all(m.startswith("innofin") for targets in graph.values() for m in targets)


def test_every_room_has_a_layer(graph: dict[str, frozenset[str]]) -> None:
    unplaced = sorted(
        {room(m) for m in graph if layer(m) is None and not in_root(m)},
    )
    assert unplaced == [], f"rooms without a layer in LAYERS (and docs/architecture.md): {unplaced}"


def test_the_house_keeps_its_layers(graph: dict[str, frozenset[str]]) -> None:
    allowed = set(KNOWN_EXCEPTIONS) | set(DECIDED_ARROWS)
    new = [v for v in violations(graph) if v.key not in allowed]
    shown = "\n".join(f"  {v.rule}: {v.importer} -> {v.imported}" for v in new)
    assert new == [], f"arrows that break the layering (docs/architecture.md, Layers):\n{shown}"


def test_known_exceptions_are_still_needed(graph: dict[str, frozenset[str]]) -> None:
    current = {v.key for v in violations(graph)}
    gone = sorted((set(KNOWN_EXCEPTIONS) | set(DECIDED_ARROWS)) - current)
    assert gone == [], f"these arrows are gone: remove them from the test's lists: {gone}"


def test_records_serve_entry_modules_only(graph: dict[str, frozenset[str]]) -> None:
    # the policy's reach into a records module is granted because only the entry points call it
    callers = sorted(
        (importer, imported)
        for importer, imported_all in graph.items()
        for imported in imported_all
        if is_scoped(imported)
        and not (is_entry(importer) or is_scoped(importer) or in_root(importer))
    )
    assert callers == [], f"records modules are for routes, commands and pages only: {callers}"


# --- the checker fails when an arrow is added ----------------------------------------------------


def _fine() -> dict[str, frozenset[str]]:
    """A small house that keeps every rule."""
    g = {
        "innofin": (),
        "innofin.kernel.money": (),
        "innofin.kernel.periods": (),
        "innofin.db.base": ("innofin.kernel.money",),
        "innofin.registry.models": ("innofin.db.base",),
        "innofin.access.policy": ("innofin.registry.models",),
        "innofin.api.deps": ("innofin.access.policy",),
        "innofin.cli_support": ("innofin.db.base",),
        "innofin.ledger.models": ("innofin.db.base", "innofin.registry.models"),
        "innofin.ledger.queries": ("innofin.ledger.models",),
        "innofin.ledger.loans.engine": ("innofin.kernel.periods", "innofin.ledger.loans.rules"),
        "innofin.ledger.loans.rules": ("innofin.kernel.money",),
        "innofin.ledger.loans.service": ("innofin.ledger.loans.engine", "innofin.ledger.models"),
        "innofin.ledger.loans.routes": ("innofin.api.deps", "innofin.ledger.loans.service"),
        "innofin.ledger.pools.service": ("innofin.ledger.queries", "innofin.ledger.models"),
        "innofin.scoring.lists": ("innofin.ledger.queries",),
        "innofin.matching.queries": ("innofin.ledger.models",),
        "innofin.matching.recommend.service": ("innofin.matching.queries",),
        "innofin.matching.referrals.service": ("innofin.matching.queries",),
        "innofin.registry.routes": ("innofin.api.deps", "innofin.access.policy"),
        "innofin.registry.commands": ("innofin.cli_support",),
        "innofin.server.app": ("innofin.ledger.loans.routes", "innofin.registry.routes"),
        "innofin.cli": ("innofin", "innofin.registry.commands"),
        "innofin.db.migrations.env": ("innofin.server.app",),
    }
    return {k: frozenset(v) for k, v in g.items()}


def test_the_synthetic_house_passes() -> None:
    assert violations(_fine()) == []


def test_a_root_module_split_into_a_package_keeps_the_roots_standing() -> None:
    assert sub_room("innofin.ledger.bulk.batch") is None
    assert sub_room("innofin.ledger.loans.rules_engine") == "ledger.loans"
    assert sub_room("innofin.matching.referrals.rematch") == "matching.referrals"
    assert sub_room("innofin.matching.queries") is None
    graph = {"innofin.ledger.bulk.batch": frozenset({"innofin.ledger.loans.service"})}
    assert violations(graph) == []


@pytest.mark.parametrize(
    ("importer", "imported", "rule"),
    [
        ("innofin.kernel.money", "innofin.db.base", "kernel"),
        ("innofin.kernel.periods", "innofin", "kernel"),
        ("innofin.ledger.loans.engine", "innofin.ledger.models", "engines"),
        ("innofin.ledger.loans.rules", "innofin.db.base", "engines"),  # reached through a helper
        ("innofin.ledger.loans.service", "innofin.server.app", "composition-root"),
        ("innofin.registry.routes", "innofin.cli", "composition-root"),
        ("innofin.access.policy", "innofin.ledger.models", "below-the-ledger"),
        ("innofin.registry.commands", "innofin.ledger.queries", "below-the-ledger"),
        ("innofin.registry.models", "innofin.access.policy", "layers"),
        ("innofin.ledger.models", "innofin.scoring.lists", "layers"),
        ("innofin.ledger.queries", "innofin.api.deps", "toolkits"),
        ("innofin.ledger.pools.service", "innofin.ledger.loans.service", "sub-rooms"),
        ("innofin.ledger.loans.routes", "innofin.ledger.pools.service", "sub-rooms"),
        ("innofin.matching.referrals.service", "innofin.matching.recommend.service", "sub-rooms"),
    ],
)
def test_the_checker_fails_when_an_arrow_is_added(importer: str, imported: str, rule: str) -> None:
    g = _fine()
    g[importer] = g[importer] | {imported}
    assert rule in {v.rule for v in violations(g)}


def test_entry_modules_may_call_any_room_below_the_root_but_not_the_root() -> None:
    g = _fine()
    g["innofin.registry.routes"] = g["innofin.registry.routes"] | {"innofin.scoring.lists"}
    assert violations(g) == []  # a thin adapter may call a room above its own
    g["innofin.registry.routes"] = g["innofin.registry.routes"] | {"innofin.server.app"}
    assert [v.rule for v in violations(g)] == ["composition-root"]


def test_the_reader_sees_every_form_of_import(tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    (tmp_path / "kernel").mkdir()
    for name in ("__init__.py", "kernel/__init__.py", "kernel/money.py", "ledger/__init__.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "ledger" / "models.py").write_text("X = 1\n")
    (tmp_path / "ledger" / "service.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from . import models\n"
        "if TYPE_CHECKING:\n"
        "    import innofin.kernel.money\n"
        "def f() -> None:\n"
        "    from innofin.ledger.models import X\n"
    )
    (tmp_path / "kernel" / "periods.py").write_text("from innofin.ledger import service\n")
    g = import_graph(tmp_path)
    assert g["innofin.ledger.service"] == {"innofin.ledger.models", "innofin.kernel.money"}
    assert g["innofin.kernel.periods"] == {"innofin.ledger.service"}
    assert {v.rule for v in violations(g)} == {"kernel", "layers", "below-the-ledger"}


def test_a_records_module_may_read_the_policy_and_nothing_else_above_it() -> None:
    g = _fine()
    g["innofin.registry.records"] = frozenset({"innofin.registry.models", POLICY})
    g["innofin.registry.routes"] = g["innofin.registry.routes"] | {"innofin.registry.records"}
    assert violations(g) == []  # the policy's scopes, called from a route
    g["innofin.registry.records"] = g["innofin.registry.records"] | {"innofin.ingest.lookups"}
    assert [v.rule for v in violations(g)] == ["layers"]
