"""The modules of `capacity.packing` import each other without a cycle, imports inside functions included.

The graph is read from the source (every ``import`` statement, wherever it is): an edge goes from a
module to each ``capacity.packing`` module it names. The layers this keeps, bottom up: the problem and the
registry; amounts, the existing placement and the instance; plans and bounds; objectives; how a plan
becomes an answer (outcome); feasibility and the baselines; the start of a formulation; the formulations
(model, patterns); the engine; the package.
"""

from __future__ import annotations

from pathlib import Path

import capacity.packing
from tests import code_shape
from tests.code_shape import restrict

PACKAGE = Path(capacity.packing.__file__).resolve().parent


def import_graph() -> dict[str, set[str]]:
    """{module: the capacity.packing modules it imports} over every module of the package."""
    return restrict(code_shape.import_graph(PACKAGE.parent), ["capacity.packing"])


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
