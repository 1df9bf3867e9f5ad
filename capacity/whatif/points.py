"""Points and runs: the scenario's ``whatif`` section expanded into points, each point into runs.

A **point** is the scenario with a case's values and one value of every grid key applied (`expand`,
validated as a file is); a **run** is a point with one seed (replication ``k`` of a point whose seed is
``s`` uses ``s + k``; `runs_of`). A run's **key** (`Run.key`) is the first `KEY_LENGTH` hex digits of
`run_digest`: the scenario's digest and the SHA-256 of every input file it reads (`InputHasher`), so a run
is reused only when it would read the very same bytes (see `capacity.whatif`)."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capacity.scenario import Scenario, scenario_from_dict, whatif_point
from capacity.whatif.errors import SweepError

KEY_LENGTH = 16


@dataclass(frozen=True)
class Point:
    """One variation of the scenario: its case, the values it sets (as given) and its scenario."""

    index: int
    name: str                               # p01, p02, ... (zero-padded to the number of points)
    case: str | None
    settings: dict[str, Any]                # dotted key -> value as written in the whatif section
    scenario: Scenario                      # validated; seed = the scenario's seed (replication 0)

    grid_keys: tuple[str, ...] = ()         # the keys of ``settings`` that come from the grid

    @property
    def label(self) -> str:
        """``case=NAME, key=value, ...``: the case by name, then the grid values."""
        return _label(self.case, {k: self.settings[k] for k in self.grid_keys})


def _label(case: str | None, settings: Mapping[str, Any]) -> str:
    parts = ([f"case={case}"] if case else []) + [f"{k}={v}" for k, v in settings.items()]
    return ", ".join(parts) or "(the scenario as is)"


@dataclass(frozen=True)
class InputFile:
    """A file a run reads besides its scenario (a trace): its path relative to the scenario file's folder
    (``/``-separated; ``..`` where it lies outside) and the SHA-256 of its bytes."""

    path: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


class InputHasher:
    """The `InputFile` of each file a sweep's runs read, each file hashed once (streamed) per sweep."""

    def __init__(self) -> None:
        self._sha256: dict[Path, str] = {}

    def inputs(self, scenario: Scenario) -> tuple[InputFile, ...]:
        """The scenario's `Scenario.input_files`, in its order, each with its path and content hash."""
        base = (Path.cwd() if scenario.source.startswith("<") else Path(scenario.source).parent).resolve()
        return tuple(InputFile(Path(os.path.relpath(path, base)).as_posix(), self._hash(path))
                     for path in scenario.input_files())

    def _hash(self, path: Path) -> str:
        if path not in self._sha256:
            try:
                with path.open("rb") as fh:
                    self._sha256[path] = hashlib.file_digest(fh, "sha256").hexdigest()
            except OSError as exc:
                raise SweepError(f"{path}: cannot read an input file of the sweep "
                                 f"({exc.strerror or type(exc).__name__})") from None
        return self._sha256[path]


def run_digest(scenario_sha256: str, inputs: Sequence[InputFile]) -> str:
    """The SHA-256 that keys a run: of its scenario's digest and of each input file's path and content
    hash (canonical JSON), so that a run is reused only when it would read the very same bytes."""
    canonical = json.dumps({"scenario_sha256": scenario_sha256, "inputs": [i.as_dict() for i in inputs]},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Run:
    """One point with one seed: what a worker receives (``doc``, ``source``) and where its record goes."""

    point: Point
    replication: int
    seed: int
    digest: str                             # sha256 of the run's scenario (canonical JSON, seed included)
    doc: dict[str, Any]                     # the run's scenario as a plain dict
    inputs: tuple[InputFile, ...] = ()      # the files it reads, with the hashes of their contents

    @functools.cached_property
    def key(self) -> str:
        """The run's record folder under ``DIR/runs``: `run_digest` of its scenario and input files."""
        return run_digest(self.digest, self.inputs)[:KEY_LENGTH]

    @property
    def source(self) -> str:
        """The scenario file: relative paths in the scenario (traces) are relative to it."""
        return self.point.scenario.source

    @property
    def data_dirs(self) -> tuple[Path, ...]:
        """The folders the user allowed trace files to come from (`capacity.sandbox`), for the worker."""
        return self.point.scenario.data_dirs


def with_whatif(scenario: Scenario, *, grid: Mapping[str, Sequence[Any]] | None = None,
                cases: Mapping[str, Mapping[str, Any]] | None = None,
                replications: int | None = None) -> Scenario:
    """The scenario with grid keys and cases added to (or replacing those of) its ``whatif`` section, and
    ``replications`` set; validated again (an unknown key is a `ScenarioError` naming it)."""
    if not grid and not cases and replications is None:
        return scenario
    doc = scenario.as_document()
    whatif = doc.get("whatif") or {}
    whatif["grid"] = {**whatif.get("grid", {}), **{k: list(v) for k, v in (grid or {}).items()}}
    whatif["cases"] = {**whatif.get("cases", {}), **{k: dict(v) for k, v in (cases or {}).items()}}
    if replications is not None:
        whatif["replications"] = replications
    doc["whatif"] = whatif
    return scenario_from_dict(doc, source=scenario.source, data_dirs=scenario.data_dirs)


def expand(scenario: Scenario) -> list[Point]:
    """The points of the scenario's ``whatif`` section (see the module docstring), each validated."""
    whatif = scenario.whatif
    grid = dict(whatif.grid) if whatif else {}
    cases: list[tuple[str | None, dict[str, Any]]] = list(whatif.cases.items()) if whatif and whatif.cases \
        else [(None, {})]
    base = scenario.as_document()
    combos = list(itertools.product(*grid.values()))
    total = len(cases) * len(combos)
    width = max(2, len(str(total)))
    points: list[Point] = []
    for case, case_values in cases:
        for combo in combos:
            settings = {**case_values, **dict(zip(grid, combo, strict=True))}
            index = len(points)
            name = f"p{index + 1:0{width}d}"
            label = _label(case, dict(zip(grid, combo, strict=True)))
            point_scenario = whatif_point(base, settings, source=scenario.source,
                                          label=f"point {name} ({label})", data_dirs=scenario.data_dirs)
            points.append(Point(index=index, name=name, case=case, settings=settings,
                                scenario=point_scenario, grid_keys=tuple(grid)))
    return points


def runs_of(points: Sequence[Point], replications: int, hasher: InputHasher | None = None) -> list[Run]:
    """Every run: each point with the seeds ``s + k`` for ``k < replications``, ``s`` the point's seed (the
    scenario's, or its swept value), in point order; each with its input files hashed (by ``hasher``)."""
    hasher = hasher or InputHasher()
    runs = []
    for p in points:
        inputs = hasher.inputs(p.scenario)
        for k in range(replications):
            seed = (p.scenario.seed + k) % 2**63
            s = p.scenario.model_copy(update={"seed": seed})
            runs.append(Run(point=p, replication=k, seed=seed, digest=s.digest(), doc=s.as_document(),
                            inputs=inputs))
    return runs
