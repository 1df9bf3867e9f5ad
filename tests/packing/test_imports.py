"""The modules of `capacity.packing` import each other without a cycle, imports inside functions included.

The graph is read from the source (every ``import`` statement, wherever it is): an edge goes from a
module to each ``capacity.packing`` module it names. The layers this keeps, bottom up: the problem and the
registry; amounts, the existing placement and the instance; plans and bounds; objectives; how a plan
becomes an answer (outcome); feasibility and the baselines; the start of a formulation; the formulations
(model, patterns); the engine; the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import capacity.packing

PACKAGE = Path(capacity.packing.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """{module: the capacity.packing modules it imports} over every module of the package."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in modules:
                        graph[name].add(target)
                    elif base in modules:
                        graph[name].add(base)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of modules, the first repeated at the end), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle_in_the_packing_package():
    assert cycle(import_graph()) is None


def test_the_engine_and_the_pattern_formulation_do_not_import_each_other():
    graph = import_graph()
    assert "capacity.packing.patterns" in graph["capacity.packing.engine"]  # the engine routes to it
    assert "capacity.packing.engine" not in graph["capacity.packing.patterns"]


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
