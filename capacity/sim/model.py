"""The serving model handed to the simulation engine, as plain data (no scenario file, no solver).

A **service** has replicas, each placed on a node of a pool by the packer; a replica is a server with
``concurrency`` slots (requests it serves at once). A **class** of requests (interactive, bulk, ...) belongs
to one tenant, targets one service, has a priority (0 is the most urgent) and arrives by a stochastic process
at ``rate_per_s``. Service times are drawn from a distribution with a mean (seconds) and a coefficient of
variation. Statistics exclude requests that arrive during the first ``warmup_s`` seconds.

A service's **queue policy**: its ``discipline`` (`capacity.sim.disciplines`), its ``routing`` across
replicas (`capacity.sim.routing`: one shared queue, or one queue per replica), ``max_length`` (waiting
places per queue, not counting requests in service: an arrival that finds the queue full is rejected),
``timeout_s`` (a request that has waited that long without starting leaves, *timed out*) and, for the
``preemptive`` discipline, whether an interrupted request later resumes or restarts its service.
Every one of these defaults to the behaviour of a plain unbounded FIFO queue.

Everything is in seconds; rates are per second. Every random draw comes from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dist = Literal["exponential", "deterministic", "lognormal"]
Process = Literal["poisson", "deterministic", "gamma", "onoff", "diurnal"]
Discipline = Literal["fifo", "priority", "preemptive", "fair", "drr", "priority-fair"]
Routing = Literal["central", "round-robin", "random", "least-outstanding", "power-of-two"]
Preemption = Literal["resume", "restart"]


@dataclass(frozen=True)
class ServiceTime:
    dist: Dist
    mean_s: float
    cv: float = 1.0                        # used by lognormal; exponential has cv 1, deterministic 0


@dataclass(frozen=True)
class Replica:
    name: str                              # "{service}-{i}"
    node: str
    pool: str


@dataclass(frozen=True)
class ServingService:
    name: str
    replicas: tuple[Replica, ...]          # placed replicas only (unplaced ones do not serve)
    concurrency: int
    service_time: ServiceTime
    discipline: Discipline = "fifo"
    routing: Routing = "central"
    max_length: int | None = None          # waiting places per queue (None: unbounded; 0: no waiting)
    timeout_s: float | None = None         # a request that waits this long leaves (None: never)
    preemption: Preemption = "resume"      # what an interrupted request does ("preemptive" discipline)


@dataclass(frozen=True)
class Arrivals:
    """How one class arrives: a process at a mean ``rate_per_s``; each process reads only its own fields."""

    process: Process
    rate_per_s: float                      # mean rate (per second)
    cv: float = 1.0                        # gamma: cv of the gaps (1 is Poisson)
    on_s: float | None = None              # onoff: mean ON period (s)
    off_s: float | None = None             # onoff: mean OFF period (s)
    amplitude: float = 0.0                 # diurnal: relative swing of the rate, in [0, 1)
    period_s: float = 86_400.0             # diurnal: length of the cycle (s)
    peak_at_s: float = 14 * 3600.0         # diurnal: time of day of the peak rate (s since midnight)
    start_s: float = 0.0                   # diurnal: time of day at t = 0 (s since midnight)


@dataclass(frozen=True)
class RequestClass:
    name: str
    service: str
    arrivals: Arrivals
    priority: int = 0                      # 0 is served first under "priority" (and its variants)
    tenant: str = "default"
    weight: float = 1.0                    # fair share; a tenant's weight is the sum over its classes
    slo_target_s: float | None = None      # latency target ...
    slo_quantile: float | None = None      # ... that this fraction of requests must meet (0.99 for p99)


@dataclass(frozen=True)
class SimModel:
    services: tuple[ServingService, ...]
    classes: tuple[RequestClass, ...]
    duration_s: float                      # arrivals happen in [0, duration_s)
    warmup_s: float = 0.0
    seed: int = 0
