"""Validation of a parsed scenario document: the models (pydantic, unknown keys refused), then the
cross-checks (`capacity.scenario.checks`), the trace files' folders and existence, and the limits on the work
(`capacity.limits`). The first problem is raised as one located `ScenarioError`, with how many more there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from capacity.scenario.checks import check_references, trace_file_problems
from capacity.scenario.document import Scenario
from capacity.scenario.messages import from_validation, located
from capacity.scenario.paths import Path_
from capacity.scenario.work import work_problems
from capacity.yamlio import LineMap


def validate(data: Any, *, source: str, lines: Mapping[Path_, int], overridden: Sequence[Path_],
             data_dirs: tuple[Path, ...]) -> Scenario:
    """The `Scenario` of ``data`` (plain data, overrides already applied; its ``whatif`` points are not
    checked here: `capacity.scenario.points`), remembering ``source``, the resolved ``data_dirs`` and the
    line map. Raises `ScenarioError` at the first problem's field."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc, data, lines, source, overridden) from None
    problems = (check_references(scenario) or trace_file_problems(scenario, source, data_dirs)
                or work_problems(scenario))
    if problems:
        loc, msg = problems[0]
        if len(problems) > 1:
            msg += f" (and {len(problems) - 1} more)"
        raise located(msg, loc, data, lines, source, overridden)
    scenario._source = source
    scenario._data_dirs = data_dirs
    scenario._lines = lines if isinstance(lines, LineMap) else dict(lines)
    return scenario
