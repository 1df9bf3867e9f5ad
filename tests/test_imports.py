"""How `capacity` imports itself: no import cycle among its modules (imports inside functions and under
``TYPE_CHECKING`` included), the lazy public names of its packages agree with their lists, ``sizing`` does
not import ``sweep``, and ``capacity validate`` loads neither the solver nor the simulator.

The graph is read from the source by `tests.code_shape` (every ``import`` statement, wherever it is): an
edge goes from a module to each `capacity` module it names (``from capacity.packing import solve`` names the
package ``capacity.packing``; ``from capacity import interrupts`` the module ``capacity.interrupts``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .code_shape import cycles, import_graph
from .conftest import ROOT

PACKAGE = ROOT / "capacity"


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["e"]]


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_no_import_cycle_through_the_scenario_package():
    """The scenario package, and what it stands on (limits, the YAML reader, units, the sandbox), is below
    everything else: none of them is in a cycle."""
    graph = import_graph(PACKAGE)
    below = {"capacity.scenario", *reachable(graph, "capacity.scenario")}
    assert "capacity.limits" in below and "capacity.yamlio" in below
    assert [c for c in cycles(graph) if below & set(c)] == []
    assert not {m for m in below if m.startswith("capacity.scenario")} & reachable(graph, "capacity.limits")


def test_no_import_cycle_among_capacity_modules():
    assert cycles(import_graph(PACKAGE)) == []


def test_sizing_does_not_import_the_sweep():
    reached = reachable(import_graph(PACKAGE), "capacity.sizing")
    assert not {m for m in reached if m.startswith("capacity.whatif")}


LAZY = ["capacity", "capacity.autoscaling", "capacity.packing", "capacity.sim"]


@pytest.mark.parametrize("package", LAZY)
def test_the_lazy_names_of_a_package_agree(package):
    """`capacity._lazy`: the table of lazy names, the ``TYPE_CHECKING`` imports and ``__all__`` name the same
    things, each from the module that defines it."""
    import importlib

    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    guarded = next(n for n in tree.body
                   if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    typed = {(i.module, a.name) for i in guarded.body if isinstance(i, ast.ImportFrom) for a in i.names}
    table = {(m, n) for m, names in module._EXPORTS.items() for n in names}
    assert typed == table
    assert {n for _, n in table} <= set(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
    for m, n in table:
        assert getattr(importlib.import_module(m), n) is getattr(module, n)


IMPORT = """
import sys
import capacity
heavy = ("pulp", "highspy", "simpy", "numpy", "scipy", "matplotlib", "pandas", "pydantic",
         "capacity.packing", "capacity.sim", "capacity.pipeline", "capacity.report", "capacity.whatif")
print(*sorted(m for m in heavy if m in sys.modules))
print(*sorted(n for n in capacity.__all__ if n in vars(capacity)))
"""


def test_import_capacity_loads_nothing_heavy():
    """``import capacity`` alone imports no solver, simulator, numpy, matplotlib (nor any of capacity's own
    engines): its public names are imported on first use, in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", IMPORT], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    loaded, bound = proc.stdout.splitlines()
    assert loaded == "" and bound == "__version__", proc.stdout


VALIDATE = """
import sys
from capacity.cli import main
code = main(["validate", sys.argv[1]])
heavy = ("pulp", "highspy", "simpy", "capacity.packing.engine", "capacity.sim.engine",
         "capacity.sim.batching", "matplotlib", "pandas", "scipy.interpolate")
print(code, *sorted(m for m in heavy if m in sys.modules))
"""


@pytest.mark.parametrize("name", ["inference-fleet.yaml", "llm-serving.yaml", "whatif-growth.yaml"])
def test_validate_loads_neither_the_solver_nor_the_simulator(name):
    """``capacity validate`` reads and checks a scenario (what-if points and the objective's rules
    included) without importing PuLP, HiGHS, SimPy, the engines or scipy.interpolate (an LLM profile's), in a
    fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", VALIDATE, str(ROOT / "scenarios" / name)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0", proc.stdout
