"""What-if points: a scenario document with some dotted keys set (``--set`` addressing), validated exactly
like a file. At load, every grid value and every case of the ``whatif`` section is applied alone and
validated (`check_whatif`), so a bad key is refused before any run; `capacity.whatif` expands and runs the
points.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from capacity.errors import ScenarioError
from capacity.sandbox import user_data_dirs
from capacity.scenario.document import Scenario
from capacity.scenario.overrides import field_value, resolve_override
from capacity.scenario.paths import Path_, display_path
from capacity.scenario.validation import validate
from capacity.scenario.whatif import WhatIf


def whatif_point(base: Mapping[str, Any], values: Mapping[str, Any], *, source: str,
                 where: Path_ = ("whatif",), lines: Mapping[Path_, int] | None = None,
                 label: str = "", data_dirs: Sequence[str | Path] = ()) -> Scenario:
    """The scenario ``base`` (a document, its ``whatif`` section ignored) with ``values`` (dotted key →
    value, addressed as ``--set`` does) applied, validated exactly like a file.

    A problem raises `ScenarioError` at the what-if entry ``where`` (its line when ``lines`` has it), e.g.
    ``whatif.grid.services.rankr.replicas: services has no item named 'rankr'``; ``label`` (``value 8``,
    ``point p03``) is put before the message. ``data_dirs``: the folders the user allowed
    (`capacity.sandbox`).
    """
    data = json.loads(json.dumps({k: v for k, v in base.items() if k != "whatif"}, default=str))
    line = (lines or {}).get(tuple(where))
    path = display_path({}, where)
    prefix = f"{label}: " if label else ""
    changed: list[Path_] = []
    for key, value in values.items():
        if key == "whatif" or key.startswith("whatif."):
            raise ScenarioError(f"{prefix}a what-if key cannot change the whatif section", file=source,
                                line=line, path=path)
        try:
            container, last, at = resolve_override(data, key, source)
        except ScenarioError as exc:
            message = exc.message.removeprefix(f"--set {key!r}: ").removeprefix(f"--set {key}: ")
            raise ScenarioError(f"{prefix}{message}", file=source, line=line, path=path) from None
        container[last] = json.loads(json.dumps(value, default=str))
        changed.append(at)
    try:
        return validate(data, source=source, lines={}, overridden=changed,
                        data_dirs=user_data_dirs(data_dirs))
    except ScenarioError as exc:
        inner = f"{exc.path}: " if exc.path and exc.path != path.removeprefix("whatif.grid.") else ""
        raise ScenarioError(f"{prefix}{inner}{exc.message}", file=source, line=line, path=path) from None


#: How a what-if value is named in a message: cut short (a value may hold millions of items).
_VALUE_REPR = reprlib.Repr()
_VALUE_REPR.maxlevel, _VALUE_REPR.maxlist, _VALUE_REPR.maxdict, _VALUE_REPR.maxstring = 2, 4, 4, 60


def check_whatif(whatif: WhatIf, data: Mapping[str, Any], lines: Mapping[Path_, int], source: str,
                  data_dirs: Sequence[Path]) -> None:
    """Apply every grid value and every case alone to the scenario and validate it (see `whatif_point`).

    Two values of one grid key that validate to the same value (``[2, 2]``, ``[1m, 60s]``) are refused:
    they would be two points of one scenario, drawn on top of each other."""
    for key, values in whatif.grid.items():
        where: Path_ = ("whatif", "grid", key)
        seen: dict[str, Any] = {}                     # validated value (canonical JSON) -> value as given
        for value in values:
            label = f"value {_VALUE_REPR.repr(value)}"
            point = whatif_point(data, {key: value}, source=source, where=where, lines=lines, label=label,
                                 data_dirs=data_dirs)
            validated = json.dumps(field_value(point.model_dump(mode="json"), key), sort_keys=True)
            if validated in seen:
                first = seen[validated]
                same = "listed twice" if json.dumps(first, sort_keys=True, default=str) == json.dumps(
                    value, sort_keys=True, default=str) else f"the same as {first!r} ({validated})"
                raise ScenarioError(f"{label}: {same}; give each value once", file=source,
                                    line=lines.get(where), path=display_path({}, where))
            seen[validated] = value
    for name, case in whatif.cases.items():
        for key in case:
            if key in whatif.grid:
                where = ("whatif", "cases", name, key)
                raise ScenarioError("this key is also in whatif.grid: set it in the grid or in cases, not "
                                    "both", file=source, line=lines.get(where), path=display_path({}, where))
        whatif_point(data, case, source=source, where=("whatif", "cases", name), lines=lines,
                     data_dirs=data_dirs)
