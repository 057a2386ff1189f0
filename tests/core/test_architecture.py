"""The shape of the code: no import cycles, layers that only import downwards.

Read from the source (``ast``), not by importing: an import inside a
function or under ``TYPE_CHECKING`` counts like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("payments", "bot", "accountbot")
# The small core of payments/: every other entry of payments/ is a capability package.
CORE = {"money", "jid", "errors", "config", "keys", "clock", "codes", "notices", "stores"}
CAPABILITIES = {
    "accounts", "billing", "cards", "catalog", "chores", "groups", "ledger", "store", "topup",
    "usage", "web", "notifications", "referrals", "moves",
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for each import of a project module."""
    tree = ast.parse(path.read_text("utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    functions = {
        child
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for name in imported_names(node, package, known):
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                yield name, node.lineno, node in functions


def imported_names(
    node: ast.Import | ast.ImportFrom, package: str, known: dict[str, Path]
) -> list[str]:
    """The dotted names one import statement brings in, relative imports resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
        base = f"{base}.{node.module}" if node.module else base
    names = [f"{base}.{alias.name}" for alias in node.names]
    return [n if n in known else base for n in names]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {target for target, _, _ in imports_of(path, known) if target != name}
        for name, path in known.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_the_projects_modules() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_inside_a_function() -> None:
    known = modules()
    inside = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in known.values()
        for target, line, in_function in imports_of(path, known)
        if in_function
    ]
    assert inside == []


def test_payments_never_imports_the_bot_or_the_command_line() -> None:
    edges = graph()
    wrong = [
        f"{source} -> {target}"
        for source, targets in edges.items()
        if source.startswith("payments")
        for target in targets
        if target.startswith(("bot", "accountbot"))
    ]
    assert wrong == []


def test_payments_top_level_holds_only_the_core_and_the_capability_packages() -> None:
    entries = {
        path.stem
        for path in (ROOT / "payments").iterdir()
        if path.name != "__init__.py" and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    assert entries - CORE - CAPABILITIES == set()
    modules_at_top = {p.stem for p in (ROOT / "payments").glob("*.py")} - {"__init__"}
    assert modules_at_top <= CORE


def test_the_core_imports_no_capability() -> None:
    core = {f"payments.{name}" for name in CORE - {"stores"}}  # stores gathers them all
    edges = graph()
    wrong = [
        f"{source} -> {target}"
        for source in sorted(core)
        for target in edges[source]
        if target.startswith("payments.") and target not in core
    ]
    assert wrong == []
