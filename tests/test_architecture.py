"""The package structure holds: packages of `lookout/` import one another downward only.

Each domain's tables are shared through `lookout/models.py` (every `<package>.models`), so
importing another package's models is no dependency on that package; importing its
service, repository or routes is. A function-level import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lookout"


def _imported_modules(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "lookout":
                found += [f"lookout.{alias.name}" for alias in node.names]
            else:
                found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("lookout.")]


def _package_of(module: str) -> str | None:
    """The subpackage a module belongs to, or None for the shared layers (models, top level)."""
    parts = module.split(".")
    if len(parts) < 2 or not (PACKAGE / parts[1]).is_dir():
        return None
    if len(parts) >= 3 and parts[2] == "models":
        return None
    return parts[1]


def package_imports() -> dict[str, set[str]]:
    """Which subpackages each subpackage of lookout/ imports."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).parts
        if len(relative) < 2 or relative[0] == "migrations":
            continue
        source = relative[0]
        for module in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
            target = _package_of(module)
            if target is not None and target != source:
                edges[source].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_package_imports_another_that_imports_it_back():
    edges = package_imports()
    found = cycles(edges)
    detail = {p: sorted(edges[p] & set(group)) for group in found for p in group}
    assert found == [], f"import cycles between packages: {detail}"


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
