"""Limits: how much work a scenario may ask for.

A scenario that would run for days or exhaust memory is refused **before** any work starts, with an
estimate of the work and the cap it exceeds, e.g.::

    scenario.yaml:11: workload.classes.flood.arrivals.rate: about 8.64e+13 requests expected (rate 1e+09/s
    × duration 86400s; all classes 8.64e+13), more than the limit 3e+07 (about 1.9e+04 TB of simulator
    memory at ~220 B a request); lower the rate or the duration, or raise limits.max_requests

The caps are the scenario's optional ``limits`` section (every one overridable there or with ``--set
limits.KEY=VALUE``; the report states the caps in force under ``provenance.limits``):

* ``max_requests`` (default 3e7) — expected requests over the run, all classes together: ``rate ×
  duration`` for a synthetic class (every process's ``rate`` is its long-run mean), the trace rows inside
  the replayed window × ``rate_scale`` for a trace class (counted when the trace is read, before the
  simulation). A run's peak memory is about 220 bytes a simulated request (measured: 10M requests, about
  2 GiB), so the default is about 6.6 GB.
* ``max_decode_steps`` (default 2e8) — continuous batching runs one event per decode iteration; an
  iteration yields at most ``max_size`` tokens per engine, so a service needs at least
  ``requests × mean output tokens / max_size`` iterations.
* ``max_replicas`` (default 1e6) — replicas of all services together (the packer places each one).
* ``max_packing_size`` (default 5e6) — node × service pairs the packer considers: the nodes the pools may
  use (the sum of their ``count``) times the number of services.
* ``max_windows`` (default 1e6) — time-series windows of the statistics (``(duration − warmup) /
  metrics.interval``).
* ``max_series_values`` (default 2e6) — values the time series hold: windows × the series stored per window
  (`series_per_window`: the edges, 8 per request class — 5 outcome counts, arrivals, p50 and p99 — and
  one utilisation per replica, node, pool and service). Estimated at load (nodes at most the replicas or
  the pools' nodes; a class split by a trace's tenant column counted once) and counted again exactly
  when the run is built. Measured: about 145 bytes of peak memory and 16 bytes of report.json a value
  (4.55e6 values: 650 MB, 74 MB), so the default is about 300 MB and a 33 MB report.
* ``max_runs`` (default 1e5) — runs of a sweep: the grid's points × cases × ``replications``.
* ``max_onoff_periods`` (default 1e8) — ON and OFF periods an ``onoff`` class draws: about ``2 ×
  duration / (on + off)``. They cost time whatever the rate (1 µs periods over an hour are 3.6e9 periods
  for 3,600 requests); the engine draws them in bounded chunks, so memory does not grow with them.
* ``max_trace_rows`` (default 3e7) — rows of one trace file kept for a replay: the rows inside its replayed
  window (rows outside it are read, checked and dropped as the file streams by). About 24 bytes a row.

Which folders data files may come from is not a limit of the scenario: see `capacity.sandbox`
(``--data-dir``, ``CAPACITY_DATA_DIRS``). A scenario that still has ``limits.data_dirs`` is refused with
`RETIRED_FIELDS`' line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from capacity.errors import ScenarioError
from capacity.units import not_a_boolean, parse_quantity

if TYPE_CHECKING:
    from capacity.scenario import Scenario

#: Peak memory (RSS) per simulated request, bytes: docs/pages/limits.md (benchmarks/big_replay.py).
BYTES_PER_REQUEST = 220

#: Peak memory per time-series value (Python lists of floats, their JSON text): docs/pages/limits.md
#: (50,000 windows × 91 series: 650 MB more peak RSS than with 500 windows).
BYTES_PER_SERIES_VALUE = 145

Problem = tuple[tuple[str | int, ...], str]
Float = Annotated[float, BeforeValidator(not_a_boolean)]  # a cap is a number, never a boolean


class Limits(BaseModel):
    """The caps in force for a scenario (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_requests: Float = Field(default=3e7, gt=0)
    max_decode_steps: Float = Field(default=2e8, gt=0)
    max_replicas: Float = Field(default=1e6, gt=0)
    max_packing_size: Float = Field(default=5e6, gt=0)
    max_windows: Float = Field(default=1e6, gt=0)
    max_series_values: Float = Field(default=2e6, gt=0)
    max_runs: Float = Field(default=1e5, gt=0)
    max_onoff_periods: Float = Field(default=1e8, gt=0)
    max_trace_rows: Float = Field(default=3e7, gt=0)


RETIRED_FIELDS: dict[tuple[str, ...], str] = {
    ("limits", "data_dirs"): "a scenario can no longer choose the folders its data files come from: the "
                             "user allows them with --data-dir DIR or the environment variable "
                             "CAPACITY_DATA_DIRS; remove data_dirs",
}
"""Fields a scenario may no longer have, each with the one line that says what replaced it."""


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.3g} B"


def requests_problem(total: float, per_class: Sequence[tuple[tuple[str | int, ...], float, str]],
                     limits: Limits) -> Problem | None:
    """The problem when ``total`` expected requests exceed ``limits.max_requests``: at the class that
    expects the most (``per_class``: its location, its expected requests and how they were estimated)."""
    if total <= limits.max_requests or not per_class:
        return None
    loc, n, how = max(per_class, key=lambda item: item[1])
    return loc, (f"about {n:.3g} requests expected ({how}; all classes {total:.3g}), more than the limit "
                 f"{limits.max_requests:.3g} (about {_bytes(total * BYTES_PER_REQUEST)} of simulator memory "
                 f"at ~{BYTES_PER_REQUEST} B a request); lower the rate or the duration, or raise "
                 "limits.max_requests")


def work_problems(s: Scenario) -> list[Problem]:
    """Every cap a scenario exceeds that can be estimated without reading its traces."""
    limits = s.limits
    problems: list[Problem] = []
    replicas = sum(svc.replicas for svc in s.services)
    if replicas > limits.max_replicas:
        problems.append((("services",), f"{replicas:.3g} replicas in all, more than the limit "
                                        f"{limits.max_replicas:.3g}; raise limits.max_replicas"))
    nodes = sum(p.count for p in s.cluster.pools)
    size = nodes * len(s.services)
    if size > limits.max_packing_size:
        problems.append((("cluster", "pools"),
                         f"the packer would consider {nodes} nodes × {len(s.services)} services = {size:.3g} "
                         f"node-service pairs, more than the limit {limits.max_packing_size:.3g}; lower the "
                         "pools' count, or raise limits.max_packing_size"))
    if s.workload is not None:
        duration = s.workload.duration
        per_class = []
        for i, cls in enumerate(s.workload.classes):
            a = cls.arrivals
            if a.process != "trace" and a.rate is not None:
                per_class.append(((("workload", "classes", i, "arrivals", "rate")), a.rate * duration,
                                  f"rate {a.rate:.3g}/s × duration {duration:g}s"))
            elif a.process == "steps" and a.steps:
                ends = [step.at for step in a.steps[1:]] + [duration]
                n = sum(step.rate * max(0.0, min(end, duration) - step.at)
                        for step, end in zip(a.steps, ends, strict=True))
                per_class.append(((("workload", "classes", i, "arrivals", "steps")), n,
                                  f"{n:.3g} requests over the steps in {duration:g}s"))
        total = sum(n for _, n, _ in per_class)
        problem = requests_problem(total, per_class, limits)
        if problem is not None:
            problems.append(problem)
        else:
            problems.extend(_decode_problems(s))
        problems.extend(_onoff_problems(s))
        problems.extend(_series_problems(s))
    if s.whatif is not None:
        runs = math.prod(len(v) for v in s.whatif.grid.values()) * max(1, len(s.whatif.cases))
        runs *= s.whatif.replications
        if runs > limits.max_runs:
            problems.append((("whatif",), f"{runs:.3g} runs (grid points × cases × replications), more than "
                                          f"the limit {limits.max_runs:.3g}; try fewer values, or raise "
                                          "limits.max_runs"))
    return problems


def _decode_problems(s: Scenario) -> list[Problem]:
    """Continuous-batching services whose synthetic classes need too many decode iterations."""
    assert s.workload is not None
    problems: list[Problem] = []
    duration = s.workload.duration
    for i, svc in enumerate(s.services):
        b = svc.serving.batching if svc.serving is not None else None
        if b is None or b.mode != "continuous":
            continue
        tokens = sum(cls.arrivals.rate * duration * cls.tokens.output.mean
                     for cls in s.workload.classes
                     if cls.service == svc.name and cls.arrivals.rate is not None and cls.tokens is not None)
        steps = tokens / b.max_size
        if steps > s.limits.max_decode_steps:
            problems.append((("services", i, "serving", "batching"),
                             f"at least {steps:.3g} decode iterations expected ({tokens:.3g} output tokens / "
                             f"max_size {b.max_size}), more than the limit {s.limits.max_decode_steps:.3g}; "
                             "lower the rate, the duration or the output tokens, or raise "
                             "limits.max_decode_steps"))
    return problems


def _onoff_problems(s: Scenario) -> list[Problem]:
    """``onoff`` classes that would draw more ON and OFF periods than ``limits.max_onoff_periods``."""
    assert s.workload is not None
    problems: list[Problem] = []
    duration = s.workload.duration
    for i, cls in enumerate(s.workload.classes):
        a = cls.arrivals
        if a.process != "onoff" or a.on is None or a.off is None:
            continue
        periods = 2.0 * duration / (a.on + a.off)
        if periods > s.limits.max_onoff_periods:
            problems.append((("workload", "classes", i, "arrivals"),
                             f"about {periods:.3g} on/off periods to draw (2 × duration {duration:g}s / (on "
                             f"{a.on:g}s + off {a.off:g}s)), more than the limit "
                             f"{s.limits.max_onoff_periods:.3g}; use longer on and off periods, or raise "
                             "limits.max_onoff_periods"))
    return problems


def statistics_windows(duration_s: float, warmup_s: float, interval_s: float | None) -> float:
    """How many time-series windows the statistics cut ``[warmup, duration]`` into
    (`capacity.sim.metrics.window_edges`; infinite for an interval too small to count them)."""
    from capacity.sim.metrics import DEFAULT_WINDOWS

    if interval_s is None:
        return float(DEFAULT_WINDOWS)
    ratio = (duration_s - warmup_s) / interval_s
    return float(max(1, math.ceil(ratio - 1e-9))) if math.isfinite(ratio) else math.inf


def series_per_window(classes: int, replicas: int, nodes: int, pools: int, services: int) -> int:
    """The values `capacity.sim.metrics` stores per time-series window: its edge, 8 per request class
    (5 outcome counts, arrivals, p50, p99 latency) and one utilisation per replica, node, pool and service."""
    return 1 + 8 * classes + replicas + nodes + pools + services


def series_problem(windows: float, per_window: int, counted: str, limits: Limits) -> Problem | None:
    """The problem when ``windows × per_window`` time-series values exceed ``limits.max_series_values``
    (``counted`` says what ``per_window`` is made of)."""
    values = windows * per_window
    if values <= limits.max_series_values:
        return None
    memory = _bytes(values * BYTES_PER_SERIES_VALUE)
    return (("metrics", "interval"),
            f"{windows:.3g} time-series windows × {per_window} series ({counted}) = {values:.3g} values, "
            f"more than the limit {limits.max_series_values:.3g} (about {memory} of memory); use a longer "
            "metrics.interval, or raise limits.max_series_values")


def _series_problems(s: Scenario) -> list[Problem]:
    """Too many time-series windows, or windows × series: estimated from the scenario alone."""
    assert s.workload is not None
    duration, warmup, interval = s.workload.duration, s.workload.warmup, s.metrics.interval
    windows = statistics_windows(duration, warmup, interval)
    if windows > s.limits.max_windows:
        how = "the default when metrics.interval is not set" if interval is None else \
            f"(duration {duration:g}s − warmup {warmup:g}s) / interval {interval:g}s"
        return [(("metrics", "interval"),
                 f"{windows:.3g} time-series windows ({how}), more than the limit "
                 f"{s.limits.max_windows:.3g}; use a longer interval, or raise limits.max_windows")]
    serving = [svc for svc in s.services if svc.serving is not None]
    replicas = sum(svc.replicas for svc in serving)
    classes = sum(len(c.tenants.weights) if c.tenants is not None and c.tenants.weights and
                  c.tenants.column is None else 1 for c in s.workload.classes)
    nodes = min(replicas, sum(p.count for p in s.cluster.pools))
    pools = min(replicas, len(s.cluster.pools))
    per_window = series_per_window(classes, replicas, nodes, pools, len(serving))
    problem = series_problem(windows, per_window, f"{classes} classes, {replicas} replicas, up to {nodes} "
                                                  f"nodes and {pools} pools, {len(serving)} services",
                             s.limits)
    return [problem] if problem is not None else []


# ---------------------------------------------------------------------------------------------- reading input

#: Default bounds on reading input (see `InputLimits`); each is raised by the environment variable named
#: beside it. The measured figures behind them: docs/pages/limits.md, "Reading input".
MAX_INPUT_BYTES = 128 * 2**20          # CAPACITY_MAX_INPUT_BYTES: bytes of one file read
MAX_YAML_NODES = 10_000_000            # CAPACITY_MAX_YAML_NODES: nodes of one file after expanding aliases
MAX_YAML_DEPTH = 100                   # CAPACITY_MAX_YAML_DEPTH: lists and mappings nested in each other
#: The most CAPACITY_MAX_YAML_DEPTH may be: deeper data would exhaust Python's recursion limit (1000) in the
#: code that walks it (JSON copies, validation, manifests).
MAX_YAML_DEPTH_CEILING = 500

INPUT_LIMIT_VARIABLES = {"max_bytes": "CAPACITY_MAX_INPUT_BYTES", "max_nodes": "CAPACITY_MAX_YAML_NODES",
                         "max_depth": "CAPACITY_MAX_YAML_DEPTH"}


@dataclass(frozen=True)
class InputLimits:
    """How much input one file (a scenario, a manifest, a node list) or one ``--set`` value may be, so
    that reading it takes bounded time and memory whatever it holds.

    These are process-level settings, not part of a scenario: they must hold before a scenario's own
    ``limits:`` section can even be read. Each has a default (the module constants above) and is raised (or
    lowered) by an environment variable, e.g. ``CAPACITY_MAX_INPUT_BYTES=1Gi``; a value is a whole positive
    number, with a quantity suffix if wanted (``64Mi``, ``2e7``).

    * ``max_bytes`` — the size of one file: a larger one (or ``/dev/zero``) is refused before it is read.
    * ``max_nodes`` — the values (scalars, lists, mappings, keys) one file or value holds once its aliases
      are expanded: a "billion laughs" document of a few hundred bytes is refused as soon as its count passes
      the bound, without expanding anything.
    * ``max_depth`` — how deeply lists and mappings nest (through aliases too): deeper input is refused
      before anything recursive reads it.
    """

    max_bytes: int = MAX_INPUT_BYTES
    max_nodes: int = MAX_YAML_NODES
    max_depth: int = MAX_YAML_DEPTH

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InputLimits:
        """The limits in force: each variable of ``environ`` (default: the process environment) that is
        set, the default otherwise. A bad setting raises `ScenarioError` naming the variable."""
        env = os.environ if environ is None else environ
        values = {}
        for field_name, variable in INPUT_LIMIT_VARIABLES.items():
            text = env.get(variable)
            if text is not None and text.strip():
                values[field_name] = _whole_positive(variable, text)
        depth = values.get("max_depth", 0)
        if depth > MAX_YAML_DEPTH_CEILING:
            raise ScenarioError(f"environment variable CAPACITY_MAX_YAML_DEPTH={depth}: at most "
                                f"{MAX_YAML_DEPTH_CEILING} (deeper data would exhaust Python's recursion "
                                "limit)")
        return cls(**values)

    def error(self, field_name: str, what: str) -> str:
        """``WHAT, more than the limit of N UNIT; raise it with ...``: a message for an input beyond the
        limit ``field_name``, naming the environment variable that raises it."""
        variable = INPUT_LIMIT_VARIABLES[field_name]
        limit = getattr(self, field_name)
        unit = {"max_bytes": "bytes", "max_nodes": "nodes", "max_depth": "levels"}[field_name]
        return (f"{what}, more than the limit of {limit} {unit}; raise it with the environment variable "
                f"{variable} (e.g. {variable}={limit * 4})")


def _whole_positive(variable: str, text: str) -> int:
    try:
        value = parse_quantity(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1 and value == int(value)):
        raise ScenarioError(f"environment variable {variable}={text!r}: expected a whole positive number, "
                            "e.g. 1000000 or 64Mi")
    return int(value)
