"""Loading: read a scenario file (bounded, by `capacity.yamlio`: YAML 1.2, merge keys, duplicate keys
refused), parse it with its line map, apply ``--set`` overrides (`capacity.scenario.overrides`), validate it
(`capacity.scenario.validation`) and check every what-if point (`capacity.scenario.points`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from capacity.errors import ScenarioError
from capacity.sandbox import user_data_dirs
from capacity.scenario.document import Scenario
from capacity.scenario.overrides import apply_overrides
from capacity.scenario.paths import Path_
from capacity.scenario.points import check_whatif
from capacity.scenario.validation import validate
from capacity.yamlio import LineMap, load_document, read_text


def parse_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse a scenario's YAML (data only, YAML 1.2, bounded: `capacity.yamlio`); return the data and its
    line map."""
    return load_document(text, file)


def scenario_from_dict(data: Any, *, source: str = "<dict>", lines: Mapping[Path_, int] | None = None,
                       overrides: Iterable[str] = (), overridden: Sequence[Path_] = (),
                       data_dirs: Iterable[str | Path] = ()) -> Scenario:
    """Validate a scenario document (already parsed) and return the `Scenario`.

    Raises `ScenarioError` naming ``source``, the line (when ``lines`` is given), the field path and the
    problem. ``overrides`` (``KEY=VALUE``) are applied to a copy of ``data`` first. Trace files must lie in
    the scenario's folder tree (``source``'s folder; the working directory for a scenario without a file),
    in one of ``data_dirs`` or in a folder of ``CAPACITY_DATA_DIRS`` (`capacity.sandbox`); the scenario
    keeps these folders as `Scenario.data_dirs`.
    """
    dirs = user_data_dirs(data_dirs)
    lines = lines or {}
    if not isinstance(data, dict):
        raise ScenarioError("a scenario must be a mapping (name:, cluster:, services:, ...)",
                            file=source, line=1)
    data = json.loads(json.dumps(data, default=str))  # a deep copy of plain data
    data, changed = apply_overrides(data, overrides, source)
    scenario = validate(data, source=source, lines=lines, overridden=[*overridden, *changed], data_dirs=dirs)
    if scenario.whatif is not None:
        check_whatif(scenario.whatif, data, lines, source, dirs)
    return scenario


def load_scenario(path: str | Path, overrides: Iterable[str] = (), *,
                  data_dirs: Iterable[str | Path] = ()) -> Scenario:
    """Read, parse and validate a scenario file, applying ``--set`` style ``overrides`` first; its trace
    files may come from its folder tree, ``data_dirs`` and ``CAPACITY_DATA_DIRS`` (`capacity.sandbox`)."""
    file = str(path)
    text = read_text(path, what="scenario file")
    data, lines = parse_yaml(text, file)
    if data is None:
        raise ScenarioError("the file is empty", file=file, line=1)
    return scenario_from_dict(data, source=file, lines=lines, overrides=overrides, data_dirs=data_dirs)
