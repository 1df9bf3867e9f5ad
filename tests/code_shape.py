"""Static facts about the source tree, read with `ast` (no tool to install): imports and function lengths.

`import_graph` maps every module under a package folder to the modules of that package it imports — at
module level, inside functions and classes, and under ``if TYPE_CHECKING:`` alike (a type-only import
still ties the two modules together; the issue asks for none). Relative imports are resolved against the
importing module's package. ``from package import name`` is an edge to ``package.name`` when that is a
module, and to the package (its ``__init__``) otherwise. Importing a submodule also runs its parents'
``__init__`` files; those implicit edges are not drawn, as import checkers do not draw them.

`cycles` returns the strongly connected components of more than one module, and a module that imports
itself (Tarjan's algorithm): each one holds at least one import cycle. (`import_graph` draws no edge
from a module to itself; a graph built by hand may.) `long_functions` lists functions and methods (nested
ones too) longer than a limit, counted from the ``def`` line to the last line of the body.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the package folder ``root``, by dotted name (a package by its ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _base(name: str, path: Path, module: str | None, level: int) -> str:
    """The absolute module an ``import``/``from`` names, relative imports resolved."""
    if not level:
        return module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = package[: len(package) - (level - 1)]
    return ".".join([*package, *([module] if module else [])])


def _known(name: str, modules: Mapping[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of ``modules`` (None: outside the package)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The modules of ``modules`` that module ``name`` (file ``path``) imports, anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(name, path, node.module, node.level)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        found.update(t for t in (_known(target, modules) for target in targets) if t is not None)
    found.discard(name)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package folder it imports."""
    modules = module_files(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def restrict(graph: Mapping[str, set[str]], prefixes: Iterable[str]) -> dict[str, set[str]]:
    """The subgraph of the modules in the packages ``prefixes`` (imports leaving them dropped)."""
    prefixes = tuple(prefixes)

    def inside(module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    return {m: {d for d in deps if inside(d)} for m, deps in graph.items() if inside(m)}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two modules or more, or of one that imports itself, each sorted,
    in sorted order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def long_functions(root: Path, limit: int) -> list[str]:
    """``path:line: name is N lines`` for every function under ``root`` longer than ``limit`` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append(f"{path}:{node.lineno}: {node.name} is {length} lines")
    return found
