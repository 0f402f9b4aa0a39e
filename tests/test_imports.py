"""The package's import graph has no cycle: no module imports one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import fakeai_contract

PACKAGE = Path(fakeai_contract.__file__).parent
NAME = "fakeai_contract"


def _module_name(path: Path) -> str:
    parts = (NAME, *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules MODULE imports anywhere in its source (module level and in functions)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from a import b` reads a's namespace, unless b is a module of its own: then a is
            # (or is being) initialised first anyway, and only a.b is what this module needs.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            # importing a.b.c runs a/__init__ and a.b too; only the named module can close a cycle
            # with what it imports, so record the deepest module of the package that name reaches.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith(NAME) and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p): p for p in paths}
    names = set(modules)
    return {m: _imported(ast.parse(p.read_text(encoding="utf-8")), m, p.name == "__init__.py", names)
            for m, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of GRAPH as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_every_module_and_its_imports():
    graph = import_graph()
    assert {"fakeai_contract.cli", "fakeai_contract.commands.run", "fakeai_contract.reference.cli"} <= set(graph)
    assert "fakeai_contract.commands.common" in graph["fakeai_contract.cli"]          # module level
    assert "fakeai_contract.contract" in graph["fakeai_contract.commands.run"]        # inside a function
    assert "fakeai_contract.reference.cli" in graph["fakeai_contract.reference.__main__"]   # relative


def test_find_cycle_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_module_of_the_package_imports_one_that_imports_it_back():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
