"""One run and its record: `run_one` packs and simulates a run's scenario (what a worker executes) and
the record of a finished run is written to ``DIR/runs/KEY/report.json`` (a `RunRecord`: the run's report
with ``provenance.inputs``) or ``infeasible.json``; `load_record` reads one back for a resumed sweep, and a
record that cannot stand for the run (cut short, another shape, another scenario or other input files)
counts as missing, with a note naming it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from capacity._version import __version__
from capacity.errors import InfeasiblePlacement, SolverError
from capacity.report.model import Provenance, Report
from capacity.scenario import scenario_from_dict
from capacity.whatif.errors import writing
from capacity.whatif.points import Run


def run_one(doc: dict[str, Any], source: str, data_dirs: Sequence[Path] = ()) -> dict[str, Any]:
    """Pack and simulate one run's scenario (a plain dict): what a worker executes (``data_dirs``: the
    folders the user allowed trace files to come from, `capacity.sandbox`).

    Returns ``{"status": "done", "report": ...}``, ``{"status": "infeasible", "shortages": [...]}`` or
    ``{"status": "error", "error": ...}`` (the solver failed; the run is not recorded, so it is retried
    when the sweep is started again).
    """
    from capacity import pipeline

    scenario = scenario_from_dict(doc, source=source, data_dirs=data_dirs)
    try:
        return {"status": "done", "report": pipeline.run(scenario).report.document()}
    except InfeasiblePlacement as exc:
        return {"status": "infeasible", "shortages": [str(s) for s in exc.shortages] or [str(exc)]}
    except SolverError as exc:
        return {"status": "error", "error": f"solver failed: {exc}"}


def _record(run: Run, outcome: dict[str, Any]) -> dict[str, Any]:
    """What is stored for a finished run: the report, or the infeasibility, with its provenance and the
    input files the run read (``provenance.inputs``: path and SHA-256 of each), checked when reused."""
    inputs = [i.as_dict() for i in run.inputs]
    if outcome["status"] == "done":
        report = outcome["report"]
        return {**report, "provenance": {**report["provenance"], "inputs": inputs}}
    return {"scenario": run.point.scenario.name, "status": "infeasible", "shortages": outcome["shortages"],
            "provenance": {"capacity_version": __version__, "scenario_sha256": run.digest, "seed": run.seed,
                           "source": run.source, "inputs": inputs}}


def _record_path(out: Path, run: Run, status: str) -> Path:
    return out / "runs" / run.key / ("report.json" if status == "done" else "infeasible.json")


def write_record(out: Path, run: Run, outcome: dict[str, Any]) -> None:
    """Record a finished run (atomically), removing a record of the other kind left in its folder."""
    from capacity.report.writers import write_json

    path = _record_path(out, run, outcome["status"])
    with writing(path):
        write_json(path, _record(run, outcome))
        _record_path(out, run, "infeasible" if outcome["status"] == "done" else "done").unlink(
            missing_ok=True)


class _Shape(BaseModel):
    """The part of a run record that a sweep reads (the rest is kept as it is)."""

    model_config = ConfigDict(extra="allow", strict=True)


class _InputShape(_Shape):
    path: str
    sha256: str


class _ProvenanceShape(_Shape):
    scenario_sha256: str
    inputs: list[_InputShape] = Field(default_factory=list)


class _RecordedInput(BaseModel):
    """An input file a recorded run read (``provenance.inputs[]``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    path: str
    sha256: str


class RecordedProvenance(Provenance):
    """A run record's provenance: the report's, and the input files the run read."""

    inputs: list[_RecordedInput] = Field(default_factory=list)


class RunRecord(Report):
    """``runs/KEY/report.json``: the run's report (`capacity.report.model.Report`), its provenance naming
    the input files the run read."""

    provenance: RecordedProvenance


class _InfeasibleShape(_Shape):
    provenance: _ProvenanceShape
    status: Literal["infeasible"]
    shortages: list[str]


_SHAPES: dict[str, type[RunRecord] | type[_InfeasibleShape]] = {"done": RunRecord,
                                                                 "infeasible": _InfeasibleShape}


def _record_problem(record: Any, run: Run, status: str) -> str | None:
    """Why a parsed record cannot stand for ``run`` (its shape, its scenario, its input files), or None."""
    if not isinstance(record, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(record), "a number")
        return f"not a run record ({kind}, not an object)"
    try:
        shape = _SHAPES[status].model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])[:200]
        where = "".join(ch if ch.isprintable() else "?" for ch in where)   # one line, whatever the keys
        return f"not a run record ({where}: {first['msg']})"
    if shape.provenance.scenario_sha256 != run.digest:
        return "written for another scenario (provenance.scenario_sha256 differs)"
    if [i.model_dump(include={"path", "sha256"}) for i in shape.provenance.inputs] != \
            [i.as_dict() for i in run.inputs]:
        return "it names other input files (provenance.inputs differs)"
    return None


def load_record(out: Path, run: Run, notes: list[str] | None = None) -> dict[str, Any] | None:
    """The outcome of a run already recorded in ``out``, or None. A record that is there but cannot be
    used (unreadable, truncated, of the wrong shape, for another scenario or other input files) counts as
    missing: the run is done again, and a note naming the record is added to ``notes``."""
    problems: list[str] = []
    for status in ("done", "infeasible"):
        path = _record_path(out, run, status)
        try:
            record = json.loads(path.read_bytes())
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"note: {path}: cannot read it ({exc.strerror or type(exc).__name__}); "
                            "running it again")
            continue
        except ValueError:                   # JSONDecodeError and UnicodeDecodeError
            problems.append(f"note: {path}: not valid JSON (cut short?); running it again")
            continue
        problem = _record_problem(record, run, status)
        if problem is not None:
            problems.append(f"note: {path}: {problem}; running it again")
            continue
        if status == "done":
            return {"status": "done", "report": record}
        return {"status": "infeasible", "shortages": record["shortages"]}
    if notes is not None:
        notes.extend(problems)
    return None
