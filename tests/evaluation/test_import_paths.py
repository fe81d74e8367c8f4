"""Exports and evaluation share the reviewed truth (`lookout.truth`) and never import each other.

The graph is read from the source (ast), with every import: at module level, inside functions
and under `if TYPE_CHECKING:`. A module importing `lookout.a.b` also imports `lookout.a`.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "lookout"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Lookout modules one file imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(node, module, is_package)
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    with_parents = {".".join(name.split(".")[:i]) for name in found for i in range(1, 99)}
    return {name for name in with_parents if name in known and name != module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each lookout module and the lookout modules it imports."""
    files = {_module_name(path): path for path in root.rglob("*.py")}
    known = set(files)
    return {
        name: _targets(ast.parse(path.read_text()), name, path.name == "__init__.py", known)
        for name, path in files.items()
    }


def path_between(graph: dict[str, set[str]], source: str, target: str) -> list[str] | None:
    """A chain of imports from a module of package `source` to one of `target`, if any."""

    def inside(name: str, package: str) -> bool:
        return name == package or name.startswith(package + ".")

    starts = [name for name in graph if inside(name, source)]
    came_from: dict[str, str | None] = dict.fromkeys(starts)
    todo = deque(starts)
    while todo:
        name = todo.popleft()
        if inside(name, target):
            chain = [name]
            while (previous := came_from[chain[-1]]) is not None:
                chain.append(previous)
            return chain[::-1]
        for imported in sorted(graph[name]):
            if imported not in came_from:
                came_from[imported] = name
                todo.append(imported)
    return None


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("lookout.exports", "lookout.evaluation"),
        ("lookout.evaluation", "lookout.exports"),
        ("lookout.truth", "lookout.exports"),
        ("lookout.truth", "lookout.evaluation"),
        ("lookout.formats", "lookout.exports"),
        ("lookout.formats", "lookout.datasets"),
        ("lookout.formats", "lookout.evaluation"),
    ],
)
def test_no_import_path(source, target):
    chain = path_between(import_graph(), source, target)
    assert chain is None, f"{source} reaches {target}: {' -> '.join(chain or [])}"


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    # exports/cli.py imports the exports service inside the command function.
    assert "lookout.exports.service" in graph["lookout.exports.cli"]


if __name__ == "__main__":
    graph = import_graph()
    pairs = [("lookout.exports", "lookout.evaluation"), ("lookout.evaluation", "lookout.exports")]
    for source, target in pairs:
        chain = path_between(graph, source, target)
        print(f"{source} -> {target}:", " -> ".join(chain) if chain else "no path")
