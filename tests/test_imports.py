"""How `capacity` imports itself: no import cycle among its modules (imports inside functions and under
``TYPE_CHECKING`` included), the lazy public names of its packages agree with their lists, ``sizing`` does
not import ``sweep``, and ``capacity validate`` loads neither the solver nor the simulator.

The graph is read from the source (every ``import`` statement, wherever it is): an edge goes from a module
to each `capacity` module it names (``from capacity.packing import solve`` names the package
``capacity.packing``; ``from capacity import interrupts`` the module ``capacity.interrupts``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "capacity"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the modules under ``root`` it imports} over every module under ``root``."""
    modules = {module_name(path): path for path in root.rglob("*.py")}
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


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (or a module importing
    itself), each sorted: every import cycle lies inside one (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


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
    graph = import_graph()
    below = {"capacity.scenario", *reachable(graph, "capacity.scenario")}
    assert "capacity.limits" in below and "capacity.yamlio" in below
    assert [c for c in cycles(graph) if below & set(c)] == []
    assert not {m for m in below if m.startswith("capacity.scenario")} & reachable(graph, "capacity.limits")


def test_no_import_cycle_among_capacity_modules():
    assert cycles(import_graph()) == []


def test_sizing_does_not_import_the_sweep():
    assert not {m for m in reachable(import_graph(), "capacity.sizing") if m.startswith("capacity.whatif")}


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
