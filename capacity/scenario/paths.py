"""Paths in a scenario: field paths as messages name them (``services.ranker.resources.cpu``, list items by
name) and the line of a field in the file; data file paths relative to the scenario file's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Path_ = tuple[str | int, ...]


def display_path(data: Any, loc: Sequence[str | int]) -> str:
    """``('services', 0, 'resources', 'cpu')`` → ``services.ranker.resources.cpu`` (items by name). A
    name with other characters than letters, digits, ``_``, ``.``, ``/``, ``-`` is quoted as Python's
    ``repr`` does (``services.web.'odd key'``), so a key can never break the message's line."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node):
            item = node[key]
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(_path_part(name) if isinstance(name, str) and name else str(key))
            node = item
        else:
            parts.append(_path_part(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


_PLAIN_PATH_PART = re.compile(r"[A-Za-z0-9_./-]+")


def _path_part(key: object) -> str:
    text = str(key)
    return text if _PLAIN_PATH_PART.fullmatch(text) else repr(text)


def line_of(lines: Mapping[Path_, int], loc: Sequence[str | int]) -> int | None:
    loc = tuple(loc)
    while True:
        if loc in lines:
            return lines[loc]
        if not loc:
            return None
        loc = loc[:-1]


def resolve_path(source: str, file: str) -> Path:
    """A file named in a scenario: absolute, or relative to the scenario file's folder (to the working
    directory when the scenario did not come from a file). Not yet checked against the allowed folders:
    see `trace_path`."""
    path = Path(file).expanduser()
    if path.is_absolute() or source.startswith("<"):
        return path
    return Path(source).parent / path
