"""The composition root is the only place outside ``storage/`` that names a concrete adapter, and it sits in
no import cycle. Read from the source (like ``grep``), so that a new module cannot quietly break either."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "signaling", "client", "crypto", "storage", "bench", "scripts")
COMPOSITION_ROOT = "server/app.py"
ADAPTER_MODULES = ("storage.sqlite", "storage.mongodb", "storage.redis_broker", "storage.memory_broker")
ADAPTER_NAMES = {"SqliteStorage", "MongoStorage", "RedisBroker", "MemoryBroker", "Engine"}


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            yield rel, ast.parse(path.read_text(encoding="utf-8"), rel)


def _is_adapter(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in ADAPTER_MODULES)


def _adapter_uses(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _is_adapter(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if _is_adapter(node.module) or (
                node.module == "storage" and any(_is_adapter(f"storage.{a.name}") for a in node.names)
            ):
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Name) and node.id in ADAPTER_NAMES:
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr == "engine":
            found.append(".engine")
        elif isinstance(node, ast.Constant) and node.value == "engine":
            found.append('"engine"')
    return found


def test_no_module_outside_storage_and_the_composition_root_names_an_adapter() -> None:
    offenders = {
        rel: uses
        for rel, tree in _sources()
        if not rel.startswith("storage/") and rel != COMPOSITION_ROOT and (uses := _adapter_uses(tree))
    }
    assert offenders == {}


def test_the_tripwire_sees_what_it_looks_for() -> None:
    # The composition root does name the adapters: if this stops matching, the test above proves nothing.
    tree = ast.parse((ROOT / COMPOSITION_ROOT).read_text(encoding="utf-8"))
    assert {"SqliteStorage", "MongoStorage"} <= set(_adapter_uses(tree))
    assert _adapter_uses(ast.parse("x = getattr(storage, 'engine')\nfrom storage.sqlite import _engine"))


def _module_name(rel: str) -> str:
    name = rel.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def _runtime_imports(tree: ast.Module, module: str, known: set[str]) -> set[str]:
    """First-party modules imported when this module runs (at import time or in a function), not the
    ones imported only for type checking."""
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            # Importing a.b.c runs a, a.b and a.b.c.
            out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & known
    out.discard(module)
    return out


def test_the_composition_root_is_in_no_import_cycle() -> None:
    trees = {_module_name(rel): tree for rel, tree in _sources()}
    known = set(trees)
    graph = {module: _runtime_imports(tree, module, known) for module, tree in trees.items()}
    root = _module_name(COMPOSITION_ROOT)
    seen: set[str] = set()
    stack = list(graph[root])
    while stack:
        module = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        stack += graph.get(module, set())
    assert root not in seen, "a module imported by server.app imports server.app back"
    assert "server.services" in seen and "storage.protocols" in seen  # the walk did reach the graph
