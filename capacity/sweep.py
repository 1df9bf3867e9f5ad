"""What-if sweeps: expand a scenario's ``whatif`` section into points, run each point, tabulate the results.

Concepts:

* A **point** is one variation of the scenario: a named *case* (a set of ``key: value``) and one value of
  every *grid* key (``services.ranker.replicas: [4, 6, 8]``; keys are dotted as in ``--set``, list items by
  name). Points are the cases crossed with the grid (cases outer, grid keys in file order, the last key
  varying fastest); with no cases the grid alone, with no grid each case once, with neither the scenario
  itself. Each point's scenario is the scenario with its values applied, validated exactly like a file
  (`capacity.scenario.whatif_point`), its ``whatif`` section removed.
* A **run** is one point with one seed. Replication ``k`` (``0 <= k < replications``) of a point whose seed
  is ``s`` uses the seed ``s + k``; ``s`` is the scenario's ``seed``, or the value a grid key or a case
  gives ``seed`` (``--grid seed=1,2,3``: a *swept seed*). The seed reaches every random draw of the
  simulation, so replications are independent samples of the same point. Swept seeds closer together than
  ``replications`` share runs (``seed=1,2`` with 2 replications: seeds 1, 2 and 2, 3; the run with seed 2
  is one run with a row in each point): space them by at least ``replications`` (``seed=0,100,200``) for
  points whose samples are independent of each other.
* A run's **key** is the first 16 hex digits of `run_digest`: the SHA-256 of the run's scenario digest
  (`Scenario.digest`: canonical JSON, seed included) and, for every file the run reads
  (`Scenario.input_files`: the trace files), its path relative to the scenario file's folder and the
  SHA-256 of its bytes (read streaming, once per sweep). An edited trace therefore gives new keys: its
  runs are done again, never reused from the old trace. A finished run is written at once, atomically, to
  ``DIR/runs/KEY/report.json`` (the usual report; ``infeasible.json`` when the services do not fit), with
  ``provenance.inputs`` (path and SHA-256 of each input file) added. A sweep started again over the same
  ``DIR`` reuses every run whose record is there, has the shape of a record, and names the run's scenario
  digest and input hashes; a record that does not (cut short, not a JSON object, missing fields, other
  inputs) counts as missing: the run is done again and one ``note:`` line on stderr names the record. So
  an interrupted sweep loses nothing. Records are keyed by content, not by position: adding a grid value
  reuses the runs already done, and two points that come to the same scenario are run once (each still
  has its rows). (A record says which capacity version wrote it; after an upgrade, delete ``DIR/runs`` to
  rerun.)
* **Executors** run the runs: ``local`` (default: worker processes, one per core and at most
  `MAX_WORKERS`, each receiving the run's plain scenario dict; they end with the sweep, even a killed one,
  see `LocalExecutor`), ``dask`` (a Dask distributed cluster at ``scheduler``, checked and reached within
  `CONNECT_TIMEOUT_S` before anything runs, or a local one started for the sweep; every worker needs
  ``capacity`` installed and the trace files at the same paths), ``serial`` (in this process, one by
  one). A run's result does not depend on the executor.
* **Stopping**: Ctrl-C or SIGTERM stops the workers, keeps every finished run, writes the tables and
  raises `SweepInterrupted` (``capacity sweep`` exits 130); started again, the sweep resumes.
* **The output folder** ``DIR`` must be new, empty, or a sweep folder of this tool (it has a ``sweep.json``
  of ours): a folder holding anything else (a ``capacity run`` report) is refused, as are a path that is a
  file or lies below one (`check_output_folder`, `SweepError`). A failed write (disk full, I/O error) is a
  `SweepWriteError` naming the file (``capacity sweep`` exits 5).

Outputs (`write_outputs`; only with an output directory; every file written atomically, the tables again
as runs finish):

* ``results.csv`` / ``results.json`` — the tidy table, one row per run: ``point``, ``case``, one column per
  swept key (the validated value, in report.json units: seconds, bytes, cores, per second), ``replication``,
  ``seed`` (the run's: the point's seed + replication; a swept ``seed`` has no column of its own),
  ``key``, ``status`` (the placement's: optimal | feasible | infeasible), ``nodes``, ``lower_bound``,
  ``cost_per_hour`` (the plan's; in an autoscaled run the fleet's mean over the measured window,
  ``simulation.autoscaling.cost`` / its hours), ``slo_met`` (every SLO of the run met; empty without SLOs)
  and per class
  ``CLASS.mean_s``, ``.p50_s``, ``.p95_s``, ``.p99_s`` (latency), ``.throughput_per_s``,
  ``.slo_attained``, ``.slo_met``, ``.slo_status`` (met | missed | no data, as ``slo.status`` in
  report.json; empty without an SLO or a simulation), and ``report`` (the run's report, relative to
  ``DIR``). **No data is not a pass**: a class with an SLO but no measured request (none after the
  warm-up) has ``slo_met`` false and ``slo_status`` "no data", and so has its run (`slo_verdict`).
* ``summary.csv`` / ``summary.json`` — one row per point over its replications: the mean of each per-class
  statistic and the half-width of its 95 % Student-t confidence interval (``CLASS.p99_s_ci95``:
  ``t(0.975, n-1) · s / √n``, empty with one replication), ``replications`` done, ``complete``, ``nodes`` and
  ``cost_per_hour`` (the largest over replications; packing does not depend on the seed, so they are
  normally equal), and ``slo_met``: true when every replication met every SLO (the ``all`` rule of
  `capacity.sizing`), false when one did not or the services did not fit; ``slo_status`` says which: met,
  missed (a class missed its SLO, or the services do not fit) or no data (only classes without measured
  requests keep the point from passing); per class ``CLASS.slo_met`` and ``CLASS.slo_status`` (missed
  over no data over met). A swept ``seed`` column is the point's seed.
* ``report.md`` — the points side by side (cost, nodes, p99 per class, SLO pass / FAIL / no data), marking
  the cheapest point that meets every SLO (least cost per hour when every point has a cost, else fewest
  nodes; ties go to the earlier point). ``sweep.json`` — the sweep's definition (points, their values and
  run keys).
* ``sweep.png`` (`write_plot`, called by ``capacity sweep`` once the sweep is done) — p99 and cost against
  the last numeric grid key, a panel per case and value of the other grid keys (`sweep_figure`).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import itertools
import json
import logging
import math
import multiprocessing
import os
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from capacity._version import __version__
from capacity.errors import CapacityError, InfeasiblePlacement, SolverError
from capacity.scenario import Scenario, field_value, load_scenario, scenario_from_dict, whatif_point
from capacity.statistics import mean_ci

#: The per-class statistics in the table: column suffix → (section, key) of ``simulation.classes.NAME``.
CLASS_STATS: dict[str, tuple[str, str]] = {
    "mean_s": ("latency_s", "mean"), "p50_s": ("latency_s", "p50"), "p95_s": ("latency_s", "p95"),
    "p99_s": ("latency_s", "p99"), "throughput_per_s": ("", "throughput_per_s"),
    "slo_attained": ("slo", "attained"),
}
KEY_LENGTH = 16


class SweepError(CapacityError):
    """A sweep that cannot start: an unknown executor, or one whose package is missing."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the finished runs are kept (and the tables written); ``done`` of ``total``."""

    def __init__(self, done: int, total: int, out: Path | None) -> None:
        super().__init__(f"{done} of {total} runs done")
        self.done, self.total, self.out = done, total, out


# ---------------------------------------------------------------------------------------------- points

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


# ---------------------------------------------------------------------------------------------- one run

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
        return {"status": "done", "report": pipeline.run(scenario).report}
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


def _write_record(out: Path, run: Run, outcome: dict[str, Any]) -> None:
    """Record a finished run (atomically), removing a record of the other kind left in its folder."""
    from capacity.report.writers import write_json

    path = _record_path(out, run, outcome["status"])
    with _writing(path):
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


class _PlacementShape(_Shape):
    status: str
    nodes_used: int
    lower_bound: int
    cost_per_hour: float | None


class _SloShape(_Shape):
    attained: float | None
    met: bool | None


class _LatencyShape(_Shape):
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class _ClassShape(_Shape):
    latency_s: _LatencyShape
    throughput_per_s: float | None
    slo: _SloShape | None = None


class _SimulationShape(_Shape):
    classes: dict[str, _ClassShape]


class _DoneShape(_Shape):
    provenance: _ProvenanceShape
    placement: _PlacementShape
    simulation: _SimulationShape | None = None


class _InfeasibleShape(_Shape):
    provenance: _ProvenanceShape
    status: Literal["infeasible"]
    shortages: list[str]


_SHAPES: dict[str, type[_DoneShape] | type[_InfeasibleShape]] = {"done": _DoneShape,
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


def _load_record(out: Path, run: Run, notes: list[str] | None = None) -> dict[str, Any] | None:
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


# ---------------------------------------------------------------------------------------------- executors

#: At most this many worker processes on one machine (``--workers``); a Dask cluster has no such cap.
MAX_WORKERS = 256
#: Seconds to reach a Dask scheduler given with ``--scheduler`` before giving up.
CONNECT_TIMEOUT_S = 10.0


def _check_workers(workers: int | None, scheduler: str | None) -> None:
    """``--workers``: None (one per core) or a whole number from 1 to `MAX_WORKERS` (processes started on
    this machine; with a ``scheduler`` the cluster has its own workers and the number is not used)."""
    if workers is None:
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"--workers {workers}: give a whole number of worker processes, at least 1")
    if workers > MAX_WORKERS and scheduler is None:
        raise SweepError(f"--workers {workers}: at most {MAX_WORKERS} worker processes on one machine; for "
                         "more, run a Dask cluster and pass --executor dask --scheduler ADDRESS")


def _exit_with_the_sweep(alive: Any) -> None:
    """In a worker: wait on the read end of a pipe whose only write end the sweep holds, then end this
    process at once. The pipe reaches end-of-file when the sweep closes it or dies (SIGKILL included), so
    no worker outlives its sweep. (A worker's parent is the fork server, which lives as long as any
    worker does; so neither its death signal nor a change of parent would tell the worker in time.)"""
    with contextlib.suppress(Exception):
        alive.recv_bytes()                   # nothing is ever sent: this returns by EOFError
    os._exit(1)


def _start_worker(alive: Any) -> None:
    """Initializer of each local worker: leave SIGINT and SIGTERM to the sweep (which stops the workers;
    a Ctrl-C or a SIGTERM sent to the whole process group must not lose the runs being recorded), and
    end with the sweep (`_exit_with_the_sweep`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with_the_sweep, args=(alive,), name="exit-with-the-sweep",
                     daemon=True).start()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while child processes start (a process started with SIGINT ignored keeps it so)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """While the sweep runs, SIGTERM stops it exactly as Ctrl-C does (`KeyboardInterrupt` in the main
    thread: the finished runs are kept, ``capacity sweep`` exits 130). The caller's handler is back
    afterwards; a caller that ignores SIGTERM keeps ignoring it."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class SerialExecutor:
    """Every run in this process, one after the other (no parallelism; for debugging and small sweeps)."""

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        if scheduler is not None:
            raise SweepError("--scheduler needs --executor dask")

    def open(self, runs: int) -> None:
        pass

    def run(self, runs: Sequence[Run]) -> Iterator[tuple[Run, dict[str, Any]]]:
        for r in runs:
            yield r, run_one(r.doc, r.source, r.data_dirs)

    def close(self, *, cancel: bool = False) -> None:
        pass


class LocalExecutor:
    """Worker processes on this machine (`ProcessPoolExecutor`, default one per core), started by a fork
    server so that no solver thread of this process is copied into a worker. Each worker holds the read
    end of a pipe whose write end only the sweep holds, and ends when it reaches EOF: when the sweep
    closes it or is killed (`_exit_with_the_sweep`)."""

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        if scheduler is not None:
            raise SweepError("--scheduler needs --executor dask")
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._alive: tuple[Any, Any] | None = None      # (read end for the workers, write end kept here)

    def open(self, runs: int) -> None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["capacity.sweep", "capacity.pipeline"])
        self._alive = ctx.Pipe(duplex=False)
        self._pool = ProcessPoolExecutor(max_workers=max(1, min(self.workers, runs)), mp_context=ctx,
                                         initializer=_start_worker, initargs=(self._alive[0],))

    def run(self, runs: Sequence[Run]) -> Iterator[tuple[Run, dict[str, Any]]]:
        if not runs:
            return
        if self._pool is None:
            self.open(len(runs))
        assert self._pool is not None
        futures = {self._pool.submit(run_one, r.doc, r.source, r.data_dirs): r for r in runs}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def close(self, *, cancel: bool = False) -> None:
        if self._pool is not None:
            if cancel:
                processes = list((getattr(self._pool, "_processes", None) or {}).values())
                self._pool.shutdown(wait=False, cancel_futures=True)
                for p in processes:          # the runs in progress are lost anyway: do not wait for them
                    with contextlib.suppress(Exception):
                        p.kill()
            else:
                self._pool.shutdown(wait=True)
            self._pool = None
        if self._alive is not None:
            for end in self._alive:
                end.close()
            self._alive = None


#: The Dask schemes a scheduler address may use (``tcp://HOST:PORT`` is the usual one).
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def scheduler_address(address: str) -> tuple[str, str, int]:
    """``--scheduler``: the scheme, host and port of a Dask scheduler address (``tcp://HOST:PORT``, or
    ``HOST:PORT`` for tcp); a `SweepError` naming the address when it is not one."""
    from distributed.comm.addressing import parse_address, parse_host_port

    usage = f"--scheduler {address!r}: not a scheduler address (expected tcp://HOST:PORT"
    try:
        scheme, location = parse_address(address.strip())
        host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise SweepError(f"{usage})") from None
    if scheme not in DASK_SCHEMES or not host or not isinstance(port, int) or not 0 < port < 65536:
        raise SweepError(f"{usage}; schemes: {', '.join(DASK_SCHEMES)})")
    return scheme, host, port


def _reason(exc: BaseException) -> str:
    """An exception as a short phrase for a one-line error."""
    text = getattr(exc, "strerror", None) or next(iter(str(exc).strip().splitlines()), "") \
        or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


#: Loggers of the Dask client's event loop, silenced while a sweep runs on Dask (see `DaskExecutor.open`).
_LOOP_LOGGERS = ("tornado.application", "tornado.general", "asyncio")


class DaskExecutor:
    """A Dask distributed cluster: the one at ``scheduler`` (``tcp://HOST:8786``), or a `LocalCluster` of
    ``workers`` single-threaded worker processes started for the sweep and closed after it. The address is
    checked when the executor is made, and reached (within `CONNECT_TIMEOUT_S`) before anything runs."""

    def __init__(self, *, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise SweepError("executor dask needs dask.distributed: pip install 'capacity[dask]'") from None
        self.workers = workers or os.cpu_count() or 1
        self.scheduler = scheduler
        self._where = None if scheduler is None else scheduler_address(scheduler)
        self._client: Any = None
        self._cluster: Any = None
        self._futures: list[Any] = []

    def open(self, runs: int) -> None:
        from distributed import Client, LocalCluster

        # Ctrl-C or SIGTERM inside `future.result()` makes the client cancel its pending call from its loop
        # thread, and tornado logs that callback's traceback (at ERROR, on `tornado.application`, which
        # distributed's logging config sets explicitly) while the sweep is already saying in one line what
        # it kept. Run outcomes come back as results, not logs, so these loggers say nothing the user needs.
        for name in _LOOP_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        if self._where is None:
            with _sigint_ignored():          # the workers inherit it: Ctrl-C is the sweep's to handle
                self._cluster = LocalCluster(n_workers=max(1, min(self.workers, runs)), threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
            return
        scheme, host, port = self._where
        cannot = f"--scheduler {self.scheduler!r}: cannot connect"
        if scheme in ("tcp", "tls", "ws", "wss"):        # a refused or unknown address fails at once
            try:
                socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
            except OSError as exc:
                raise SweepError(f"{cannot} ({_reason(exc)})") from None
        try:
            self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"{cannot} within {CONNECT_TIMEOUT_S:g} s ({_reason(exc)})") from None

    def run(self, runs: Sequence[Run]) -> Iterator[tuple[Run, dict[str, Any]]]:
        from distributed import as_completed

        if not runs:
            return
        if self._client is None:
            self.open(len(runs))
        futures = {self._client.submit(run_one, r.doc, r.source, r.data_dirs, pure=False): r for r in runs}
        self._futures = list(futures)
        for future in as_completed(self._futures):
            yield futures[future], future.result()

    def close(self, *, cancel: bool = False) -> None:
        if self._client is not None:
            if cancel and self._futures and self._cluster is None:   # a shared cluster: drop our tasks
                with contextlib.suppress(Exception):
                    self._client.cancel(self._futures)
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        self._futures = []


#: The executors by name (``--executor``).
EXECUTORS: dict[str, type[SerialExecutor] | type[LocalExecutor] | type[DaskExecutor]] = {
    "local": LocalExecutor, "dask": DaskExecutor, "serial": SerialExecutor,
}


# ---------------------------------------------------------------------------------------------- tables

def _columns_of(points: Sequence[Point]) -> list[str]:
    return list(dict.fromkeys(k for p in points for k in p.settings))


def _class_names(scenario: Scenario) -> list[str]:
    return [c.name for c in scenario.workload.classes] if scenario.workload else []


#: A class's SLO verdict in a run (``CLASS.slo_status``), as ``slo.status`` in report.json.
SLO_MET, SLO_MISSED, SLO_NO_DATA = "met", "missed", "no data"


def slo_verdict(slo: Mapping[str, Any] | None) -> tuple[bool, str]:
    """``(met, status)`` of one class's SLO from its ``slo`` section in a run's report. Met only when
    measured requests meet it: with no measured request (``attained`` null, ``status: no data``, or no
    section at all) the SLO is not met, and the status says "no data"."""
    if slo is None or slo.get("status") == SLO_NO_DATA or slo.get("attained") is None \
            or slo.get("met") is None:
        return False, SLO_NO_DATA
    return (True, SLO_MET) if slo["met"] is True else (False, SLO_MISSED)


def row_of(run: Run, outcome: dict[str, Any], keys: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """The results-table row of one finished run (see the module docstring for the columns)."""
    doc = run.point.scenario.model_dump(mode="json")
    row: dict[str, Any] = {"point": run.point.name, "case": run.point.case}
    for key in keys:
        row[key] = field_value(doc, key)
    row.update({"replication": run.replication, "seed": run.seed, "key": run.key})   # the run's seed
    report = outcome.get("report")
    placement = report["placement"] if report else None
    row.update({
        "status": placement["status"] if placement else "infeasible",
        "nodes": placement["nodes_used"] if placement else None,
        "lower_bound": placement["lower_bound"] if placement else None,
        "cost_per_hour": placement["cost_per_hour"] if placement else None,
        "slo_met": None,
    })
    autoscaled = ((report or {}).get("simulation") or {}).get("autoscaling")
    if autoscaled and report is not None:    # the fleet's mean cost per hour over the measured window
        window = report["simulation"]["window_s"]
        hours = (window["end"] - window["start"]) / 3600.0
        row["cost_per_hour"] = float(f"{autoscaled['cost'] / hours:.12g}") if hours > 0 else None
    workload = run.point.scenario.workload
    has_slo = {x.name: x.slo is not None for x in (workload.classes if workload else [])}
    sim = (report or {}).get("simulation") or {}
    verdicts: list[bool] = []
    for c in classes:
        stats = sim.get("classes", {}).get(c)
        for suffix, (section, key) in CLASS_STATS.items():
            value = None
            if stats is not None:
                part = stats.get(section) if section else stats
                value = part.get(key) if part else None
            row[f"{c}.{suffix}"] = value
        met: bool | None = None
        status: str | None = None
        if has_slo.get(c):
            if report is None:               # the services do not fit: nothing was simulated
                met = False
            else:
                met, status = slo_verdict(stats.get("slo") if stats else None)
            verdicts.append(met)
        row[f"{c}.slo_met"] = met
        row[f"{c}.slo_status"] = status
    row["slo_met"] = all(verdicts) if verdicts else None
    row["report"] = str(Path("runs") / run.key / ("report.json" if report else "infeasible.json"))
    return row


def summarize_points(points: Sequence[Point], rows: Sequence[dict[str, Any]], replications: int,
                     keys: Sequence[str], classes: Sequence[str]) -> list[dict[str, Any]]:
    """One row per point over its finished replications (see the module docstring)."""
    by_point: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_point.setdefault(row["point"], []).append(row)
    out = []
    for p in points:
        mine = sorted(by_point.get(p.name, []), key=lambda r: r["replication"])
        summary: dict[str, Any] = {"point": p.name, "case": p.case}
        doc = p.scenario.model_dump(mode="json") if keys else None
        for key in keys:                 # the point's values (its seed, not a replication's)
            summary[key] = field_value(doc, key)
        infeasible = any(r["status"] == "infeasible" for r in mine)
        nodes = [r["nodes"] for r in mine if r["nodes"] is not None]
        costs = [r["cost_per_hour"] for r in mine if r["cost_per_hour"] is not None]
        summary.update({
            "replications": len(mine), "complete": len(mine) == replications,
            "status": "infeasible" if infeasible else (mine[0]["status"] if mine else None),
            "nodes": max(nodes) if nodes else None,
            "cost_per_hour": max(costs) if costs else None,
        })
        met = [r["slo_met"] for r in mine if r["slo_met"] is not None]
        summary["slo_met"] = (False if infeasible else all(met)) if met or infeasible else None
        class_status: list[str | None] = []
        for c in classes:
            for suffix in CLASS_STATS:
                mean, ci = mean_ci([r[f"{c}.{suffix}"] for r in mine])
                summary[f"{c}.{suffix}"] = mean
                summary[f"{c}.{suffix}_ci95"] = ci
            verdicts = [r[f"{c}.slo_met"] for r in mine if r[f"{c}.slo_met"] is not None]
            summary[f"{c}.slo_met"] = all(verdicts) if verdicts else None
            summary[f"{c}.slo_status"] = _worst_status([r[f"{c}.slo_status"] for r in mine])
            class_status.append(summary[f"{c}.slo_status"])
        summary["slo_status"] = _point_slo_status(summary["slo_met"], infeasible, class_status)
        out.append(summary)
    return out


def _worst_status(statuses: Sequence[str | None]) -> str | None:
    """Of several SLO statuses: missed if one is, else no data if one is, else met if one is."""
    return next((x for x in (SLO_MISSED, SLO_NO_DATA, SLO_MET) if x in statuses), None)


def _point_slo_status(met: bool | None, infeasible: bool, class_status: Sequence[str | None]) -> str | None:
    """A point's ``slo_status``: none without SLOs; met; no data when only a class without measured
    requests keeps it from passing; else missed (a class missed its SLO, or the services do not fit)."""
    if met is None or met:
        return None if met is None else SLO_MET
    return SLO_NO_DATA if not infeasible and _worst_status(class_status) == SLO_NO_DATA else SLO_MISSED


def cheapest_meeting_slos(summary: Sequence[dict[str, Any]]) -> str | None:
    """The cheapest complete, feasible point that meets every SLO (cost when every candidate has one,
    else nodes; ties to the earlier point), or None."""
    ok = [s for s in summary if s["complete"] and s["status"] != "infeasible" and s["slo_met"] is not False]
    if not ok:
        return None
    if all(s["cost_per_hour"] is not None for s in ok):
        return min(ok, key=lambda s: (s["cost_per_hour"], s["nodes"]))["point"]
    return min(ok, key=lambda s: s["nodes"])["point"]


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row[c]).lower() if isinstance(row[c], bool)
                         else row[c] for c in columns])
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------- the sweep

@dataclass
class SweepResult:
    """A sweep's points, its table of runs and its per-point summary."""

    scenario: Scenario
    points: list[Point]
    replications: int
    rows: list[dict[str, Any]]                       # finished runs, in point then replication order
    summary: list[dict[str, Any]]                    # one row per point
    keys: list[str]                                  # the swept keys (table columns)
    classes: list[str]
    total: int                                       # runs in the sweep
    reused: int = 0                                  # runs found already done in the output directory
    errors: list[tuple[str, str]] = field(default_factory=list)   # (run key, message), not recorded
    out: Path | None = None
    cheapest: str | None = None                      # the cheapest point meeting every SLO
    runs: list[Run] = field(default_factory=list)    # every run, in point then replication order
    notes: list[str] = field(default_factory=list)   # records found unusable (run again), one line each

    COLUMNS_FIXED: ClassVar[tuple[str, ...]] = (
        "replication", "seed", "key", "status", "nodes", "lower_bound", "cost_per_hour", "slo_met")

    @property
    def done(self) -> int:
        return len(self.rows)

    @property
    def has_slos(self) -> bool:
        """Whether any point has a class with an SLO (else the cheapest point is just the cheapest)."""
        return any(c.slo is not None for p in self.points
                   for c in (p.scenario.workload.classes if p.scenario.workload else []))

    @property
    def seed_swept(self) -> bool:
        """Whether points set their own seed (a grid or case key ``seed``)."""
        return "seed" in self.keys

    def columns(self) -> list[str]:
        """The results table's columns: a swept ``seed`` is the one ``seed`` column (the run's seed)."""
        per_class = [f"{c}.{s}" for c in self.classes for s in (*CLASS_STATS, "slo_met", "slo_status")]
        keys = [k for k in self.keys if k not in self.COLUMNS_FIXED]
        return ["point", "case", *keys, *self.COLUMNS_FIXED, *per_class, "report"]

    def summary_columns(self) -> list[str]:
        per_class = [f"{c}.{s}{ci}" for c in self.classes for s in CLASS_STATS for ci in ("", "_ci95")]
        per_class += [f"{c}.{s}" for c in self.classes for s in ("slo_met", "slo_status")]
        return ["point", "case", *self.keys, "replications", "complete", "status", "nodes", "cost_per_hour",
                "slo_met", "slo_status", *per_class]

    def seeds_text(self) -> str:
        """How the runs' seeds come about, for sweep.json and report.md."""
        if self.seed_swept:
            return "seed of each point + replication (0, 1, ...)"
        return "scenario seed + replication (0, 1, ...)"

    def definition(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name, "source": self.scenario.source,
            "scenario_sha256": self.scenario.digest(), "capacity_version": __version__,
            "replications": self.replications, "seeds": self.seeds_text(),
            "keys": self.keys, "classes": self.classes,
            "points": [{"point": p.name, "case": p.case, "settings": p.settings,
                        "runs": [r.key for r in self.runs if r.point.name == p.name]} for p in self.points],
        }


def render_markdown(result: SweepResult) -> str:
    """The sweep's ``report.md``: every point side by side, the cheapest one meeting every SLO marked."""
    from capacity.units import format_duration

    s = result.scenario
    last = s.seed + result.replications - 1
    seeds = f" {s.seed}" if result.replications == 1 else f"s {s.seed}–{last}"
    if result.seed_swept:
        seeds = (" of each point" if result.replications == 1
                 else f"s: the seed of each point + 0–{result.replications - 1}")
    p99_classes = result.classes
    out = [f"# What-if sweep: {s.name}", "",
           f"capacity {__version__} · {len(result.points)} points × {result.replications} replication"
           f"{'s' if result.replications != 1 else ''} (seed{seeds}) · {result.done} of {result.total} runs "
           "done", ""]
    if result.cheapest:
        point = next(p for p in result.points if p.name == result.cheapest)
        what = "meeting every SLO" if result.has_slos else "(no class has an SLO)"
        out += [f"**Cheapest point {what}: {point.name}** ({point.label}).", ""]
    elif result.has_slos:
        out += ["**No point meets every SLO.**" if result.done == result.total else
                "**No complete point meets every SLO yet** (the sweep is not finished).", ""]
    header = ["", "point", "case", *result.keys, "nodes", "cost/h",
              *[f"p99 {c}" for c in p99_classes], "SLO"]
    rows = []
    settings = {p.name: p.settings for p in result.points}
    for row in result.summary:
        mark = "★" if row["point"] == result.cheapest else ""
        p99 = []
        for c in p99_classes:
            mean, ci = row[f"{c}.p99_s"], row[f"{c}.p99_s_ci95"]
            p99.append("-" if mean is None else format_duration(mean)
                       + ("" if ci is None else f" ± {format_duration(ci)}"))
        verdict = {True: "pass", False: "FAIL", None: "-"}[row["slo_met"]]
        if row["slo_status"] == SLO_NO_DATA:
            verdict = "no data"
        if not row["complete"]:
            verdict += f" ({row['replications']}/{result.replications} runs)"
        cost = "-" if row["cost_per_hour"] is None else f"{row['cost_per_hour']:.2f}"
        nodes = "-" if row["nodes"] is None else str(row["nodes"])
        if row["status"] == "infeasible":
            nodes = "does not fit"
        rows.append([mark, row["point"], row["case"] or "",
                     *[str(settings[row["point"]].get(k, "")) for k in result.keys],
                     nodes, cost, *p99, verdict])
    out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", "Values as written in the what-if section; an empty cell keeps the scenario's own value. "
            "p99: mean over replications ± half-width of the 95 % t-interval. SLO: pass when every "
            "replication met every SLO; no data when a class with an SLO had no measured request (after "
            "the warm-up) in a replication, which is not a pass. One row per run: `results.csv`; per "
            "point: `summary.csv`; "
            "each run's report: `runs/KEY/report.json`."]
    return "\n".join(out) + "\n"


#: At most this many panels in ``sweep.png`` (one per value of the keys other than the plotted one).
MAX_PANELS = 12


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _shown(key: str, value: Any) -> str:
    """A swept value as read in report units (rates per second)."""
    if not _number(value):
        return str(value)
    return f"{value:g}/s" if key.endswith(".rate") else f"{value:g}"


def sweep_figure(result: SweepResult) -> Any:
    """``sweep.png``: p99 per class and cost against the last numeric grid key (the one varying fastest),
    one panel per case and value of the other keys (`capacity.report.plots.sweep_p99_cost` on the summary
    rows: mean ± 95 % t-interval; dotted: the p99 SLO targets; star: the cheapest point meeting every SLO
    in the panel). None when no grid key has numeric values, nothing is done yet or there would be more
    than `MAX_PANELS` panels."""
    from matplotlib.figure import Figure

    from capacity.report.plots import sweep_p99_cost

    grid = result.scenario.whatif.grid if result.scenario.whatif else {}
    rows = [r for r in result.summary if r["replications"]]
    numeric = [k for k in grid if rows and all(_number(r[k]) for r in rows)]
    if not numeric:
        return None
    x = numeric[-1]
    others = [k for k in grid if k != x]            # a case's own keys go with its name
    panels: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        panels.setdefault((r["case"], *(json.dumps(r[k]) for k in others)), []).append(r)
    if len(panels) > MAX_PANELS:
        return None
    classes = result.scenario.workload.classes if result.scenario.workload else []
    slo_s = {c.name: c.slo.p99 for c in classes if c.slo is not None and c.slo.p99 is not None}
    cols = min(3, len(panels))
    height = -(-len(panels) // cols)
    fig = Figure(figsize=(5.6 * cols, 4.6 * height), layout="constrained")
    for i, ((case, *_), mine) in enumerate(panels.items()):
        ax = fig.add_subplot(height, cols, i + 1)
        sweep_p99_cost(ax, mine, x, slo_s=slo_s)
        fixed = ([f"case {case}"] if case else []) + [f"{k} = {_shown(k, mine[0][k])}" for k in others]
        ax.set_title(textwrap.fill(", ".join(fixed), 64) or f"{result.scenario.name}: p99 and cost",
                     fontsize=9)
    best = next((p for p in result.points if p.name == result.cheapest), None)
    what = "meeting every SLO" if result.has_slos else "(no SLOs)"
    seeds = "one seed" if result.replications == 1 else f"mean ± 95 % CI over {result.replications} seeds"
    fig.suptitle(f"What-if sweep {result.scenario.name}: p99 (left, log; {seeds}) and "
                 f"cost (right) against {x}\n"
                 + (f"cheapest point {what}: {best.name} ({best.label})" if best
                    else "no point meets every SLO"), fontsize=10)
    return fig


def write_plot(out: Path, result: SweepResult) -> Path | None:
    """Write ``sweep.png`` (see `sweep_figure`) if there is something to draw; remove a stale one if not."""
    from capacity.report.plots import png_bytes
    from capacity.report.writers import write_bytes

    fig = sweep_figure(result)
    path = out / "sweep.png"
    with _writing(path):
        if fig is None:
            path.unlink(missing_ok=True)
            return None
        return write_bytes(path, png_bytes(fig))


# ---------------------------------------------------------------------------------------------- the folder

class SweepWriteError(CapacityError):
    """Writing the sweep's files failed (disk full, I/O error, quota, ...): ``path`` and the OS's reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an `OSError` while writing ``path`` into a `SweepWriteError` naming it."""
    try:
        yield
    except OSError as exc:
        raise SweepWriteError(path, exc.strerror or type(exc).__name__) from None


def is_sweep_folder(out: Path) -> bool:
    """Whether ``out`` holds a sweep of this tool: a ``sweep.json`` it wrote (its definition)."""
    try:
        definition = json.loads((out / "sweep.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(definition, dict) and {"capacity_version", "points", "replications"} <= set(definition)


def check_output_folder(out: Path) -> None:
    """Refuse (`SweepError` naming the path) an output folder a sweep must not write to: an existing
    file, a path below a file, or a folder that holds something else than a sweep (a ``capacity run``
    report, say): a sweep writes only to a new or empty folder or to one of its own sweeps (which it
    resumes). Nothing is written here."""
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out}: exists and is a file, not a folder; give a folder for the sweep")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SweepError(f"{out}: {parent} is a file, not a folder")
            if not out.exists() and not os.access(parent, os.W_OK | os.X_OK):
                raise SweepError(f"{out}: cannot create it ({parent} is not writable)")
            break
    if out.is_dir():
        try:
            empty = next(out.iterdir(), None) is None
        except OSError as exc:
            raise SweepError(f"{out}: cannot read the folder ({exc.strerror})") from None
        if not empty and not is_sweep_folder(out):
            raise SweepError(f"{out}: not a sweep folder (no sweep.json, and not empty): a sweep writes to a "
                             "new or empty folder or resumes one of its own; give another -o")
        if not os.access(out, os.W_OK | os.X_OK):
            raise SweepError(f"{out}: the folder is not writable")


def write_outputs(out: Path, result: SweepResult) -> None:
    """Write sweep.json, the tables, the summary and report.md to ``out`` (atomically, each file); an
    `OSError` is a `SweepWriteError` naming the file."""
    from capacity.report.writers import to_json, write_text

    files = {
        "sweep.json": lambda: to_json(result.definition()),
        "results.json": lambda: to_json({"scenario": result.scenario.name, "columns": result.columns(),
                                         "rows": result.rows}),
        "results.csv": lambda: _csv(result.rows, result.columns()),
        "summary.json": lambda: to_json({"scenario": result.scenario.name,
                                         "columns": result.summary_columns(),
                                         "cheapest_meeting_slos": result.cheapest, "points": result.summary}),
        "summary.csv": lambda: _csv(result.summary, result.summary_columns()),
        "report.md": lambda: render_markdown(result),
    }
    for name, text in files.items():
        with _writing(out / name):
            write_text(out / name, text())


def _adopt_recorded(out: Path | None, pending: Sequence[Run], same: Mapping[str, Sequence[Run]],
                    result: SweepResult, keys: Sequence[str], classes: Sequence[str]) -> None:
    """After Ctrl-C: add the rows of runs whose record reached the disk but not yet the table (the
    interrupt came between the two), so that the tables hold every run a resumed sweep will reuse."""
    if out is None:
        return
    tabled = {(row["point"], row["replication"]) for row in result.rows}
    for r in pending:
        missing = [t for t in same[r.key] if (t.point.name, t.replication) not in tabled]
        if missing and (found := _load_record(out, r)) is not None:
            result.rows.extend(row_of(twin, found, keys, classes) for twin in missing)


def sweep(scenario: Scenario | str | Path, out: str | Path | None = None, *,
          grid: Mapping[str, Sequence[Any]] | None = None,
          cases: Mapping[str, Mapping[str, Any]] | None = None,
          replications: int | None = None, executor: str = "local", scheduler: str | None = None,
          workers: int | None = None, progress: bool | None = None) -> SweepResult:
    """Run every point of the scenario's what-if section (plus ``grid``, ``cases``) ``replications`` times.

    With ``out``, each finished run is recorded there at once and runs already recorded are reused (see
    the module docstring); the tables are rewritten as runs finish. ``executor`` is a name in `EXECUTORS`;
    ``progress`` shows a progress bar with an ETA on stderr (default: when stderr is a terminal).
    Ctrl-C or SIGTERM stops the workers, writes the tables of the finished runs and raises
    `SweepInterrupted`. Bad arguments, an output path that is not a sweep folder, or a scheduler that
    cannot be reached raise `SweepError` before anything is written; a failed write `SweepWriteError`.
    """
    if executor not in EXECUTORS:
        raise SweepError(f"unknown executor {executor!r} (executors: {', '.join(EXECUTORS)})")
    _check_workers(workers, scheduler)
    runner = EXECUTORS[executor](workers=workers, scheduler=scheduler)
    with _sigterm_as_ctrl_c():
        return _sweep(runner, scenario, None if out is None else Path(out), grid=grid, cases=cases,
                      replications=replications, progress=progress)


def _sweep(runner: SerialExecutor | LocalExecutor | DaskExecutor, scenario: Scenario | str | Path,
           out_dir: Path | None, *, grid: Mapping[str, Sequence[Any]] | None,
           cases: Mapping[str, Mapping[str, Any]] | None, replications: int | None,
           progress: bool | None) -> SweepResult:
    """`sweep` once its arguments are checked (and SIGTERM is Ctrl-C)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = with_whatif(scenario, grid=grid, cases=cases, replications=replications)
    reps = scenario.whatif.replications if scenario.whatif else 1
    points = expand(scenario)
    runs = runs_of(points, reps)
    keys = _columns_of(points)
    classes = list(dict.fromkeys(c for p in points for c in _class_names(p.scenario)))
    if out_dir is not None:
        check_output_folder(out_dir)
    result = SweepResult(scenario=scenario, points=points, replications=reps, rows=[], summary=[], keys=keys,
                         classes=classes, total=len(runs), out=out_dir, runs=runs)
    order = {(r.point.name, r.replication): i for i, r in enumerate(runs)}
    same: dict[str, list[Run]] = {}                  # runs of identical scenarios (and seeds) run once
    for r in runs:
        same.setdefault(r.key, []).append(r)
    pending: list[Run] = []
    for group in same.values():
        found = _load_record(out_dir, group[0], result.notes) if out_dir is not None else None
        if found is None:
            pending.append(group[0])
        else:
            result.rows.extend(row_of(r, found, keys, classes) for r in group)
    result.reused = len(result.rows)
    for note in result.notes:
        print(note, file=sys.stderr)

    def refresh() -> None:
        result.rows.sort(key=lambda row: order[row["point"], row["replication"]])
        result.summary = summarize_points(points, result.rows, reps, keys, classes)
        result.cheapest = cheapest_meeting_slos(result.summary)
        if out_dir is not None:
            write_outputs(out_dir, result)

    from tqdm import tqdm

    bar = None
    started = False                          # whether the tables were written once (so may be again)
    try:
        if pending:
            runner.open(len(pending))        # a scheduler that cannot be reached fails before any write
        refresh()
        started = True
        bar = tqdm(total=len(runs), initial=result.reused, unit="run", desc=f"sweep {scenario.name}",
                   file=sys.stderr, disable=(not sys.stderr.isatty()) if progress is None else not progress,
                   dynamic_ncols=True)
        last_write = time.monotonic()
        for r, outcome in runner.run(pending):
            if outcome["status"] == "error":
                result.errors.append((r.key, f"{r.point.name} seed {r.seed}: {outcome['error']}"))
                bar.write(f"error: {r.point.name} ({r.point.label}) seed {r.seed}: {outcome['error']}",
                          file=sys.stderr)
            else:
                if out_dir is not None:
                    _write_record(out_dir, r, outcome)
                result.rows.extend(row_of(twin, outcome, keys, classes) for twin in same[r.key])
                if time.monotonic() - last_write >= 1.0:
                    refresh()
                    last_write = time.monotonic()
            bar.update(len(same[r.key]))
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        runner.close(cancel=True)
        _adopt_recorded(out_dir, pending, same, result, keys, classes)
        if started:
            refresh()
        raise SweepInterrupted(result.done, result.total, out_dir) from None
    except BaseException:
        if bar is not None:
            bar.close()
        runner.close(cancel=True)
        if started:
            with contextlib.suppress(SweepWriteError):   # keep the tables of the finished runs if we can
                refresh()
        raise
    bar.close()
    runner.close()
    refresh()
    return result
