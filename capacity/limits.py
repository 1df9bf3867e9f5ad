"""Limits: how much work a scenario may ask for.

A scenario that would run for days or exhaust memory is refused **before** any work starts, with an
estimate of the work and the cap it exceeds, e.g.::

    scenario.yaml:11: workload.classes.flood.arrivals.rate: about 8.64e+13 requests expected (rate 1e+09/s
    × duration 86400s; all classes 8.64e+13), more than the limit 3e+07 (about 1.9e+04 TB of simulator
    memory at ~220 B a request); lower the rate or the duration, or raise limits.max_requests

The caps are the scenario's optional ``limits`` section (every one overridable there or with ``--set
limits.KEY=VALUE``; the report states the caps in force under ``provenance.limits``):

* ``max_requests`` (default 3e7) — expected requests over an **exact** run (``workload.statistics``),
  all classes together: ``rate × duration`` for a synthetic class (every process's ``rate`` is its
  long-run mean), the trace rows inside the replayed window × ``rate_scale`` for a trace class (counted
  when the trace is read, before the simulation). An exact run's peak memory is about 220 bytes a
  simulated request (measured: 10M requests, about 2 GiB), so the default is about 6.6 GB.
* ``max_streamed_requests`` (default 2e8) — the same count for a **streaming** run
  (`capacity.sim.streaming`), whose memory does not grow with it: this cap bounds the work instead. The
  engine replays a few hundred thousand requests a second on an idle core and a few tens of thousands on a
  busy one (benchmarks/day_scale.py: 5.4 M requests in 97 s on the shared 2-core reference machine), so the
  default is some minutes to about an hour of simulation, and lets a day at 1,000 requests/s (8.64e7)
  through.
* The statistics mode: ``workload.statistics: auto`` (the default) runs **exact** up to
  `AUTO_STREAMING_ABOVE` expected requests (5e6, about 1.1 GB) and **streaming** above, when the
  scenario can stream (`streaming_obstacle`; otherwise exact, under ``max_requests``).
* ``max_decode_steps`` (default 2e8) — continuous batching and an LLM engine run one event per decode
  iteration; an iteration yields at most ``max_size`` (``llm.max_num_seqs``) tokens per engine, so a service
  needs at least ``requests × mean output tokens / max_size`` iterations.
* ``max_replicas`` (default 1e6) — replicas of all services together (the packer places each one; an
  autoscaled service counts at its ``autoscaling.max``).
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

The estimates a scenario alone gives are made at load by `capacity.scenario.work`; the pipeline counts
the rest (a trace's rows, the exact time series) when it builds the run.

Which folders data files may come from is not a limit of the scenario: see `capacity.sandbox`
(``--data-dir``, ``CAPACITY_DATA_DIRS``). A scenario that still has ``limits.data_dirs`` is refused with
`RETIRED_FIELDS`' line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from capacity.errors import ScenarioError
from capacity.units import not_a_boolean, parse_quantity

#: Peak memory (RSS) per simulated request, bytes: docs/pages/limits.md (benchmarks/big_replay.py).
BYTES_PER_REQUEST = 220

#: Peak memory per time-series value (Python lists of floats, their JSON text): docs/pages/limits.md
#: (50,000 windows × 91 series: 650 MB more peak RSS than with 500 windows).
BYTES_PER_SERIES_VALUE = 145

#: ``workload.statistics: auto`` streams above this many expected requests (exact up to it: about 1.1 GB
#: at `BYTES_PER_REQUEST`); the figure is fixed, not a scenario limit, so that a report's mode follows from
#: its scenario alone.
AUTO_STREAMING_ABOVE = 5e6

Problem = tuple[tuple[str | int, ...], str]
Float = Annotated[float, BeforeValidator(not_a_boolean)]  # a cap is a number, never a boolean


class Limits(BaseModel):
    """The caps in force for a scenario (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_requests: Float = Field(default=3e7, gt=0)
    max_streamed_requests: Float = Field(default=2e8, gt=0)
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


def statistics_mode(requested: str, expected: float, streamable: bool) -> str:
    """``exact`` or ``streaming``: the mode asked for, or for ``auto``, streaming above
    `AUTO_STREAMING_ABOVE` expected requests when the scenario can stream (``streamable``)."""
    if requested != "auto":
        return requested
    return "streaming" if expected > AUTO_STREAMING_ABOVE and streamable else "exact"


def requests_problem(total: float, per_class: Sequence[tuple[tuple[str | int, ...], float, str]],
                     limits: Limits, mode: str = "exact") -> Problem | None:
    """The problem when ``total`` expected requests exceed the cap of the statistics ``mode``
    (``limits.max_requests`` exact, ``limits.max_streamed_requests`` streaming): at the class that
    expects the most (``per_class``: its location, its expected requests and how they were estimated)."""
    cap = limits.max_streamed_requests if mode == "streaming" else limits.max_requests
    if total <= cap or not per_class:
        return None
    loc, n, how = max(per_class, key=lambda item: item[1])
    if mode == "streaming":
        return loc, (f"about {n:.3g} requests expected ({how}; all classes {total:.3g}), more than the limit "
                     f"{cap:.3g} of a streaming run (its time grows with its requests); lower the rate or "
                     "the duration, or raise limits.max_streamed_requests")
    return loc, (f"about {n:.3g} requests expected ({how}; all classes {total:.3g}), more than the limit "
                 f"{cap:.3g} (about {_bytes(total * BYTES_PER_REQUEST)} of simulator memory "
                 f"at ~{BYTES_PER_REQUEST} B a request); lower the rate or the duration, or raise "
                 "limits.max_requests")


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
