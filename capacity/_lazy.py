"""Lazy public names of a package (PEP 562): each public name is imported from its module on first use.

A package lists its public names with the module that defines each one; ``from capacity.packing import
solve`` imports ``capacity.packing.engine`` then, and not before. Importing one small module of a package
(the objective registry, a queue discipline) therefore no longer imports the whole package: ``capacity
validate`` reads and checks a scenario without loading the solver (PuLP, HiGHS) or the simulator (SimPy).
Each package also imports its names under ``TYPE_CHECKING`` for the type checker and lists them in
``__all__``; a test checks that the three lists agree (``tests/test_imports.py``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_names(package: str, exports: Mapping[str, Sequence[str]]
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose lazy public names are ``exports``
    (module → the names it defines)."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)        # once imported, a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
