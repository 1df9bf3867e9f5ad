"""``--set`` overrides: ``KEY=VALUE`` with a dotted key (list items by name, resource names with dots
kept whole), applied to the raw document before validation, so that an override is checked exactly like the
file. The same addressing reads a value (`field_value`) and sets a what-if point's keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from capacity.errors import ScenarioError
from capacity.scenario.paths import Path_, display_path
from capacity.yamlio import load_value


def resolve_override(data: Any, key: str, file: str) -> tuple[Any, str | int, Path_]:
    """Find the container and final key that ``key`` (dotted, list items by name) addresses."""
    parts = key.split(".")
    if not key or any(p == "" for p in parts):
        raise ScenarioError(f"--set {key!r}: expected a dotted key such as services.ranker.replicas",
                            file=file)
    node: Any = data
    path: list[str | int] = []
    i = 0
    while i < len(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict) and (path == ["whatif", "grid"]
                                       or (path[:2] == ["whatif", "cases"] and len(path) == 3)):
            # The keys of a what-if grid or case are dotted keys themselves: the rest is one key.
            candidate = ".".join(parts[i:])
            return node, candidate, (*path, candidate)
        if isinstance(node, dict):
            # Resource names may contain dots (nvidia.com/gpu): take the longest key that exists.
            for j in range(len(parts), i, -1):
                candidate = ".".join(parts[i:j])
                if candidate in node:
                    break
            else:
                # A missing section is created; validation then names any unknown field.
                j = i + 1 if not last else len(parts)
                candidate = ".".join(parts[i:j])
                if j < len(parts):
                    node[candidate] = {}
            if j == len(parts):
                return node, candidate, (*path, candidate)
            path.append(candidate)
            node = node[candidate]
            i = j
        elif isinstance(node, list):
            part = parts[i]
            index = next((n for n, item in enumerate(node)
                          if isinstance(item, dict) and item.get("name") == part), None)
            if index is None and part.isdigit() and int(part) < len(node):
                index = int(part)
            if index is None:
                names = [str(item.get("name")) for item in node if isinstance(item, dict)]
                where = display_path(data, path)
                raise ScenarioError(
                    f"--set {key}: {where} has no item named {part!r} (have: {', '.join(names)})",
                    file=file)
            if last:
                return node, index, (*path, index)
            path.append(index)
            node = node[index]
            i += 1
        else:
            where = display_path(data, path)
            raise ScenarioError(f"--set {key}: {where} is a value, not a section", file=file)
    raise AssertionError("unreachable")


def apply_overrides(data: Any, overrides: Iterable[str], file: str) -> tuple[Any, list[Path_]]:
    """Apply ``KEY=VALUE`` overrides (VALUE parsed as YAML) to the raw document; return it and the
    paths that were set."""
    changed: list[Path_] = []
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. services.ranker.replicas=8",
                                file=file)
        key, _, text = item.partition("=")
        key = key.strip()
        value = load_value(text, f"{file} (--set {key})")
        container, last, path = resolve_override(data, key, file)
        container[last] = value
        changed.append(path)
    return data, changed


def field_value(data: Any, key: str, *, source: str = "<dict>") -> Any:
    """The value at a dotted key (``--set`` syntax, list items by name) of a scenario document."""
    container, last, _ = resolve_override(json.loads(json.dumps(data, default=str)), key, source)
    return (container[last]  # type: ignore[index]  # a list container is indexed by an int `last`
            if isinstance(container, list) or last in container else None)
