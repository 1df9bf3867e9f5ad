"""`Scenario`, the validated document: its sections, where it came from (file, allowed data folders, line
map), its canonical JSON and digest, and the files a run of it reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr

from capacity.errors import ScenarioError
from capacity.limits import Limits
from capacity.sandbox import allowed_dirs, outside_problem
from capacity.scenario.cluster import Cluster, Pool
from capacity.scenario.fields import Int, Model, Name, unused_added_fields
from capacity.scenario.kubernetes import KubernetesSection
from capacity.scenario.paths import display_path, line_of, resolve_path
from capacity.scenario.placement import PlacementOptions
from capacity.scenario.services import Service
from capacity.scenario.whatif import WhatIf
from capacity.scenario.workload import Failure, Metrics, Scheduling, Workload
from capacity.units import not_a_boolean


class Scenario(Model):
    """A validated scenario. Build it with `load_scenario` (a file) or `scenario_from_dict`."""

    version: Annotated[Literal[1], BeforeValidator(not_a_boolean)] = 1
    name: Name
    description: str | None = None
    seed: Int = Field(default=0, ge=0, le=2**63 - 1)
    cluster: Cluster
    services: list[Service] = Field(min_length=1)
    workload: Workload | None = None
    scheduling: Scheduling = Field(default_factory=Scheduling)
    placement: PlacementOptions = Field(default_factory=PlacementOptions)
    failures: list[Failure] = Field(default_factory=list)  # what-ifs: nodes that go down during the run
    metrics: Metrics = Field(default_factory=Metrics)
    whatif: WhatIf | None = None
    kubernetes: KubernetesSection | None = None
    limits: Limits = Field(default_factory=Limits)  # caps on the work (capacity.limits)

    _source: str = PrivateAttr(default="<scenario>")
    _data_dirs: tuple[Path, ...] = PrivateAttr(default=())
    _lines: Mapping[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        """The file the scenario was loaded from (or ``<dict>``)."""
        return self._source

    @property
    def data_dirs(self) -> tuple[Path, ...]:
        """The folders the user allowed data files to come from besides the scenario's own (resolved;
        ``--data-dir`` and ``CAPACITY_DATA_DIRS``, see `capacity.sandbox`); not part of the digest."""
        return self._data_dirs

    def error(self, message: str, loc: tuple[str | int, ...]) -> ScenarioError:
        """A `ScenarioError` at field ``loc`` (``("workload", "classes", 0, "arrivals", "file")``), with
        its line in the file when known: for problems found after loading (reading a trace)."""
        line = line_of(self._lines, loc) if self._lines else None
        return ScenarioError(message, file=self._source, line=line,
                             path=display_path(self.model_dump(include={str(loc[0])}), loc))

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def pool(self, name: str) -> Pool:
        return next(p for p in self.cluster.pools if p.name == name)

    def canonical(self) -> dict[str, Any]:
        """The validated scenario as JSON data, as the digest and the report's echo see it: without
        ``limits`` (they change whether a run is allowed, never its result) and without the fields the
        format gained later while they hold their default (`Model.added_fields`)."""
        return self.model_dump(mode="json", exclude={**unused_added_fields(self), "limits": True})

    def digest(self) -> str:
        """SHA-256 of the validated scenario in canonical JSON (`canonical`): equal scenarios, equal
        digests."""
        canonical = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_document(self) -> dict[str, Any]:
        """The validated scenario as plain data, as it was given (fields left to their defaults left out;
        units parsed: seconds, bytes, cores, per second): validating it again gives the same scenario (same
        digest)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def input_files(self) -> list[Path]:
        """Every file a run of this scenario reads besides the scenario itself, resolved (absolute,
        symbolic links followed), in scenario order, each once: today the trace file of each trace
        class. The digest covers the names; a sweep's run key also hashes these files' contents
        (`capacity.whatif`), so an edited file is never mistaken for the one a recorded run read."""
        files: dict[Path, None] = {}
        for cls in self.workload.classes if self.workload is not None else []:
            if cls.arrivals.process == "trace" and cls.arrivals.file is not None:
                files[resolve_path(self._source, cls.arrivals.file).resolve()] = None
        return list(files)


def trace_path(scenario: Scenario, file: str) -> Path:
    """The resolved path of a data file the scenario names, checked again against the allowed folders
    (`capacity.sandbox`) just before it is read; raises `ValueError` saying why it may not be read."""
    path = resolve_path(scenario.source, file)
    outside = outside_problem(path, allowed_dirs(scenario.source, scenario.data_dirs))
    if outside is not None:
        raise ValueError(outside)
    return path.resolve()
