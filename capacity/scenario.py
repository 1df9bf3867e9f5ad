"""Scenario files: the user-facing description of a cluster, its services and their traffic (version 1).

A scenario is a YAML document with these sections (all quantities in the units of `capacity.units`):

* ``cluster.pools`` — pools of identical nodes: how many may be used (``count``), what each offers
  (``resources``: cpu, memory and any other named resource), an hourly ``cost`` and ``labels``.
* ``services`` — what runs: ``replicas`` identical replicas, each requesting ``resources``; optional
  ``pools`` (node selector) and ``max_per_node`` (anti-affinity); ``serving`` says how one replica serves
  requests (``concurrency`` slots, a ``service_time`` — a distribution, a batch latency or a token time —
  optional ``batching``, dynamic or continuous, and an optional queue ``discipline``). A pool's ``speed``
  divides the service times of the replicas placed on it.
* ``services[].autoscaling`` — the replica range (``min``, ``max``) and ``metric``/``target`` of an
  autoscaler (``policy: hpa | kpa``): data read by the autoscaling simulation, not yet simulated.
* ``workload`` — request ``classes`` (each a tenant's traffic to one service at a priority, arriving by a
  stochastic process, with an optional latency SLO), the simulated ``duration`` and the ``warmup`` excluded
  from statistics.
* ``scheduling`` — how requests are routed to replicas and the default queue discipline.
* ``placement`` — the packer's ``objective``, ``headroom`` kept free on every node, ``solver`` and
  ``time_limit``.
* ``whatif`` — variations of the scenario for ``capacity sweep``: a ``grid`` of dotted keys (as ``--set``)
  to value lists, named ``cases`` (each sets several keys) and ``replications`` per point. Every grid value
  and every case is applied and validated at load, so a bad key is refused before any run
  (`capacity.sweep` expands and runs the points).
* ``limits`` — caps on the work a run may ask for (requests, replicas, packing size, ...); see
  `capacity.limits`. Which folders trace files may come from is the user's choice, not the scenario's
  (``--data-dir``, ``CAPACITY_DATA_DIRS``; see `capacity.sandbox`).
* ``kubernetes`` — written by ``capacity import-k8s``: the object behind each service and the existing
  nodes of each pool, for ``capacity plan --export k8s`` (`capacity.k8s`).

Loading is strict: unknown keys, wrong types (a boolean is never a number), bad units and dangling
references are refused with a `ScenarioError` that names the file, the line, the field path (list items by
their ``name``, e.g. ``services.ranker.resources.cpu``) and what is wrong. The text is read by
`capacity.yamlio`: YAML 1.2, merge keys, duplicate keys refused, bounded in size, nodes and depth.
``--set`` overrides (``services.ranker.replicas=8``) are applied to the document before validation, so an
override is checked exactly like the file.
"""

from __future__ import annotations

import hashlib
import json
import re
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from capacity.errors import ScenarioError
from capacity.limits import RETIRED_FIELDS, Limits, work_problems
from capacity.packing.existing import overflow as existing_overflow
from capacity.packing.objectives import OBJECTIVES, names_text
from capacity.sandbox import allowed_dirs, outside_problem, user_data_dirs
from capacity.units import not_a_boolean, parse_duration, parse_fraction, parse_quantity, parse_rate
from capacity.yamlio import LineMap, load_document, load_value, read_text

# ---------------------------------------------------------------------------------------------- types

#: Every number of the scenario is one of these: an int or a float that refuses a boolean.
Int = Annotated[int, BeforeValidator(not_a_boolean)]
Float = Annotated[float, BeforeValidator(not_a_boolean)]
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
ResourceName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]
Quantity = Annotated[float, BeforeValidator(parse_quantity), Field(ge=0)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Rate = Annotated[float, BeforeValidator(parse_rate), Field(gt=0)]
Fraction = Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, lt=1)]

#: SLO keys and the quantile each one stands for.
SLO_QUANTILES: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: Fields the format gained after scenarios were first hashed: left out of `Scenario.canonical` (and so
    #: of the digest) while they hold their default, so that an older scenario keeps its digest.
    added_fields: ClassVar[frozenset[str]] = frozenset()


def _unused_added_fields(model: BaseModel) -> dict[Any, Any]:
    """The pydantic ``exclude`` pattern of the `_Model.added_fields` at their default, at any depth."""
    out: dict[Any, Any] = {}
    added: frozenset[str] = getattr(type(model), "added_fields", frozenset())
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if name in added and value == info.get_default(call_default_factory=True):
            out[name] = True
        elif isinstance(value, BaseModel):
            if sub := _unused_added_fields(value):
                out[name] = sub
        elif isinstance(value, list | tuple | dict):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            inner = {key: sub for key, item in items
                     if isinstance(item, BaseModel) and (sub := _unused_added_fields(item))}
            if inner:
                out[name] = inner
    return out


# ---------------------------------------------------------------------------------------------- cluster

class Pool(_Model):
    """A pool of identical nodes; ``count`` is the most nodes the planner may use."""

    name: Name
    count: Int = Field(ge=1, le=100_000)
    resources: dict[ResourceName, Quantity] = Field(min_length=1)
    cost: Float | None = Field(default=None, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    speed: Float = Field(default=1.0, gt=0, le=1000)       # service times on these nodes are divided by it


class Cluster(_Model):
    pools: list[Pool] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------- services

class ServiceTime(_Model):
    """How long work takes on a replica of speed 1, in one of three forms told apart by their keys:

    * a **distribution** ``{dist, mean, cv}``: each request draws its time (dist defaults to exponential);
    * a **batch latency** ``{base, per_item, dist, cv}`` (with dynamic batching): a batch of ``k`` requests
      takes ``base`` plus each request's own time, drawn from ``dist`` with mean ``per_item``
      (deterministic by default: exactly ``base + per_item · k``);
    * a **token time** ``{base, per_input_token, per_output_token}``: a request with ``in`` input and
      ``out`` output tokens takes ``base + in · per_input_token + out · per_output_token``.
    """

    dist: Literal["exponential", "deterministic", "lognormal"] | None = None
    mean: PositiveDuration | None = None
    cv: Float | None = Field(default=None, ge=0, le=100)
    base: Duration | None = None
    per_item: PositiveDuration | None = None
    per_input_token: Duration | None = None
    per_output_token: Duration | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ServiceTime:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if self.form == "tokens":
            other = [k for k in given if k in ("dist", "mean", "cv", "per_item")]
            if other:
                raise ValueError(f"{other[0]!r} does not apply to a token service time (give base, "
                                 "per_input_token, per_output_token)")
        elif self.form == "batch":
            if self.mean is not None:
                raise ValueError("give per_item (the mean time each request adds to its batch), not mean, "
                                 "with base")
        elif self.mean is None:
            raise ValueError("give a distribution {dist, mean, cv}, a batch latency {base, per_item} "
                             "(dynamic batching) or a token time {base, per_input_token, per_output_token}")
        elif self.base is not None:
            raise ValueError("base applies to a batch latency {base, per_item} or a token time "
                             "{base, per_input_token, per_output_token}, not to a distribution with a mean")
        return self

    @property
    def form(self) -> Literal["distribution", "batch", "tokens"]:
        if self.per_input_token is not None or self.per_output_token is not None:
            return "tokens"
        if self.per_item is not None:
            return "batch"
        return "distribution"

    @property
    def distribution(self) -> Literal["exponential", "deterministic", "lognormal"]:
        """The distribution drawn per request (the default depends on the form)."""
        if self.dist is not None:
            return self.dist
        return "deterministic" if self.form == "batch" else "exponential"

    @property
    def effective_cv(self) -> float:
        if self.distribution == "exponential":
            return 1.0
        if self.distribution == "deterministic":
            return 0.0
        return 1.0 if self.cv is None else self.cv


class Batching(_Model):
    """How a replica batches requests (see `capacity.sim.batching`).

    ``dynamic`` (Triton-style; needs a batch-latency service time): a free slot takes up to ``max_size``
    waiting requests at once, waiting up to ``max_delay`` after the oldest one arrived for a fuller batch.
    ``continuous`` (vLLM-style; needs a token service time): each slot runs prefill and decode iterations
    over up to ``max_size`` requests, which join between iterations and leave when their output is done;
    a decode step of ``b`` requests takes ``per_output_token · (1 + step_growth · (b − 1))``.
    """

    mode: Literal["dynamic", "continuous"] = "dynamic"
    max_size: Int = Field(ge=1, le=100_000)
    max_delay: Duration | None = None                      # dynamic (default 0: no waiting for more)
    step_growth: Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, le=100)] | None = None
    # continuous: how much longer a decode step gets per extra request (4% or 0.04; default 0)


DisciplineName = Literal["fifo", "priority", "preemptive", "fair", "drr", "priority-fair"]
RoutingName = Literal["central", "round-robin", "random", "least-outstanding", "power-of-two"]


class Queue(_Model):
    """The queue in front of a service (or of each replica, with per-replica routing)."""

    discipline: DisciplineName | None = None
    max_length: Int | None = Field(default=None, ge=0)     # waiting places; a full queue rejects
    timeout: PositiveDuration | None = None                # a request still waiting this long leaves
    preemption: Literal["resume", "restart"] = "resume"    # what an interrupted request does
    admission: Literal["accept", "deadline"] = "accept"    # deadline: drop arrivals that would miss the SLO
    cost: Literal["time", "tokens"] = "time"               # what fair/drr/priority-fair charge a request


class Serving(_Model):
    """How one replica serves requests: ``concurrency`` slots, each holding a request for a service time."""

    concurrency: Int = Field(default=1, ge=1, le=100_000)
    service_time: ServiceTime
    batching: Batching | None = None                       # dynamic or continuous batching
    queue: Queue = Field(default_factory=Queue)
    routing: RoutingName | None = None                     # defaults to scheduling.routing
    on_failure: Literal["retry", "lost"] | None = None     # defaults to scheduling.on_failure


LabelKey = Annotated[str, Field(min_length=1, max_length=253)]


class Spread(_Model):
    """Replica counts per value of a pool label (``topology``; ``kubernetes.io/hostname``: per node) differ
    by at most ``max_skew`` (`capacity.packing.problem`). ``domains``: label values that count as domains
    although the service may not use them (a zone whose nodes its node affinity admits but whose taint it
    does not tolerate). ``when_unsatisfiable: ScheduleAnyway`` is the scheduler's preference, not a rule:
    kept as data, not enforced by the plan."""

    added_fields = frozenset({"when_unsatisfiable", "domains"})

    topology: LabelKey
    max_skew: Int = Field(default=1, ge=1)
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = "DoNotSchedule"
    domains: list[Annotated[str, Field(max_length=253)]] | None = Field(default=None, max_length=10_000)


class PodAffinityTerm(_Model):
    """A required pod (anti-)affinity term: the replicas of ``service`` in the domains of ``topology`` (a
    pool label, or ``kubernetes.io/hostname``: each node). See `capacity.packing.problem`."""

    service: Name
    topology: LabelKey = "kubernetes.io/hostname"


class Survive(_Model):
    """After losing any one node (or zone), at least ``keep`` of the service's replicas remain."""

    failures: Literal["1 node", "1 zone"]
    keep: Fraction
    topology: LabelKey | None = None                       # the zone label (failures: 1 zone); "zone"


def _target_value(value: object) -> float:
    """An autoscaling target: ``70%`` (a utilisation), ``40/s`` (a rate) or a plain number."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return parse_fraction(value)
    return parse_rate(value)


class Autoscaling(_Model):
    """The replica range an autoscaler keeps a service in and the metric it watches (``import-k8s`` fills it
    from a HorizontalPodAutoscaler or a KServe component). **Data only for now**: read by the autoscaling
    simulation, not yet simulated; the plan places ``replicas``.

    ``metric`` and ``target``: ``utilisation`` (busy share of a replica, a fraction: ``70%`` or ``0.7``;
    may exceed 1 as a Kubernetes utilisation of the request may), ``concurrency`` (requests in flight per
    replica), ``rps`` (requests per second per replica, ``40/s`` or ``40``), ``queue`` (waiting requests
    per replica). ``policy``: ``hpa`` (Kubernetes' HorizontalPodAutoscaler) or ``kpa`` (Knative's pod
    autoscaler, KServe's serverless mode).
    """

    min: Int = Field(ge=0, le=1_000_000)
    max: Int = Field(ge=1, le=1_000_000)
    metric: Literal["concurrency", "rps", "utilisation", "queue"] | None = None
    target: Annotated[float, BeforeValidator(_target_value), Field(gt=0)] | None = None
    policy: Literal["hpa", "kpa"] = "hpa"

    @model_validator(mode="after")
    def _consistent(self) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if (self.metric is None) != (self.target is None):
            raise ValueError("metric and target go together (give both, or neither for a range only)")
        return self


class Service(_Model):
    added_fields = frozenset({"autoscaling", "anti_affinity", "affinity"})

    name: Name
    replicas: Int = Field(ge=1, le=1_000_000)
    resources: dict[ResourceName, Quantity] = Field(min_length=1)
    pools: list[Name] | None = Field(default=None, min_length=1)
    node_selector: dict[LabelKey, str] | None = Field(default=None, min_length=1)
    max_per_node: Int | None = Field(default=None, ge=1)
    priority: Int = Field(default=1, ge=1, le=1_000_000)  # objective fit: higher is more important
    spread: Spread | None = None
    survive: Survive | None = None
    serving: Serving | None = None
    autoscaling: Autoscaling | None = None                 # data for the autoscaling simulation (not yet)
    anti_affinity: list[PodAffinityTerm] | None = Field(default=None, min_length=1, max_length=100)
    affinity: list[PodAffinityTerm] | None = Field(default=None, min_length=1, max_length=100)


# ---------------------------------------------------------------------------------------------- workload

ArrivalProcessName = Literal["poisson", "deterministic", "gamma", "onoff", "diurnal", "trace"]


class Arrivals(_Model):
    """How a class arrives: a process at a mean ``rate``, with the parameters of that process only.

    ``gamma``: ``cv`` of the gaps (required). ``onoff``: mean ``on`` and ``off`` periods (required; ``rate``
    is the long-run mean). ``diurnal``: ``amplitude`` (required), ``period`` (24h), ``peak_at`` (time of day
    of the peak, 14h) and ``start`` (time of day at t = 0, 0 = midnight). See `capacity.sim.arrivals`.
    ``trace`` (no ``rate``: the trace has its own): ``file`` (required; a relative path is relative to the
    scenario file's folder), ``format`` (auto | azure | plain), ``time_scale`` and ``rate_scale`` (1) and
    ``start`` (the trace time replayed at t = 0). See `capacity.sim.traces`.
    """

    process: ArrivalProcessName = "poisson"
    rate: Rate | None = None
    cv: Float | None = Field(default=None, gt=0, le=100)
    on: PositiveDuration | None = None
    off: PositiveDuration | None = None
    amplitude: Fraction | None = None
    period: PositiveDuration | None = None
    peak_at: Duration | None = None
    start: Duration | None = None
    file: str | None = Field(default=None, min_length=1, max_length=4096)
    format: Literal["auto", "azure", "plain"] | None = None
    time_scale: Float | None = Field(default=None, gt=0, le=1e6)
    rate_scale: Float | None = Field(default=None, gt=0, le=1000)


#: The parameters each arrival process accepts, and which of them it requires.
ARRIVAL_PARAMETERS: dict[str, tuple[str, ...]] = {
    "poisson": ("rate",), "deterministic": ("rate",), "gamma": ("rate", "cv"),
    "onoff": ("rate", "on", "off"), "diurnal": ("rate", "amplitude", "period", "peak_at", "start"),
    "trace": ("file", "format", "time_scale", "rate_scale", "start"),
}
ARRIVAL_REQUIRED: dict[str, tuple[str, ...]] = {
    "poisson": ("rate",), "deterministic": ("rate",), "gamma": ("rate", "cv"),
    "onoff": ("rate", "on", "off"), "diurnal": ("rate", "amplitude"), "trace": ("file",),
}


class SLO(_Model):
    """A latency objective: exactly one of p50, p90, p95, p99, p999 (a duration)."""

    p50: PositiveDuration | None = None
    p90: PositiveDuration | None = None
    p95: PositiveDuration | None = None
    p99: PositiveDuration | None = None
    p999: PositiveDuration | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLO:
        given = [k for k in SLO_QUANTILES if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SLO_QUANTILES)} (got {len(given)})")
        return self

    @property
    def key(self) -> str:
        return next(k for k in SLO_QUANTILES if getattr(self, k) is not None)

    @property
    def quantile(self) -> float:
        return SLO_QUANTILES[self.key]

    @property
    def target_s(self) -> float:
        return float(getattr(self, self.key))


class TokenCount(_Model):
    """Token counts of synthetic requests: a distribution with a ``mean`` (tokens), rounded to whole
    tokens and clipped to ``[min, max]``."""

    dist: Literal["exponential", "deterministic", "lognormal"] = "exponential"
    mean: Float = Field(gt=0, le=1e9)
    cv: Float | None = Field(default=None, ge=0, le=100)
    min: Int = Field(default=1, ge=0)
    max: Int | None = Field(default=None, ge=1)

    @property
    def effective_cv(self) -> float:
        if self.dist == "exponential":
            return 1.0
        if self.dist == "deterministic":
            return 0.0
        return 1.0 if self.cv is None else self.cv


class Tokens(_Model):
    """Input (prompt) and output (generated) tokens of each request of a synthetic class."""

    input: TokenCount
    output: TokenCount


class TenantSplit(_Model):
    """How a trace class's requests are shared among tenants: by a ``column`` of the trace (each value a
    tenant), or drawn with odds ``weights`` (seeded). ``weights`` are also the tenants' fair-queueing
    weights (with a column: tenants not listed get the class's ``weight``)."""

    column: str | None = Field(default=None, min_length=1, max_length=200)
    weights: dict[Name, Annotated[Float, Field(gt=0, le=1e9)]] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _column_or_weights(self) -> TenantSplit:
        if self.column is None and self.weights is None:
            raise ValueError("give a tenant column of the trace, or weights to draw tenants with")
        return self


AdmissionName = Literal["accept", "deadline"]
OnFailureName = Literal["retry", "lost"]


class RequestClass(_Model):
    name: Name
    service: Name
    priority: Int = Field(default=0, ge=0, le=1000)
    tenant: Name = "default"
    weight: Float = Field(default=1.0, gt=0)
    arrivals: Arrivals
    slo: SLO | None = None
    admission: AdmissionName | None = None                 # overrides the service's queue.admission
    tokens: Tokens | None = None                           # synthetic token counts (a trace has its own)
    tenants: TenantSplit | None = None                     # trace classes: split among tenants


class Workload(_Model):
    duration: PositiveDuration
    warmup: Duration = 0.0
    classes: list[RequestClass] = Field(default_factory=list)



class Scheduling(_Model):
    routing: RoutingName = "central"
    discipline: DisciplineName = "fifo"
    on_failure: OnFailureName = "retry"                    # default for services that name none


class Failure(_Model):
    """A what-if failure: at ``at``, one ``node`` (named as in the placement, ``POOL-INDEX``), every node
    of the pools whose label ``zone`` is ``zone``, or every node of ``pool``, goes down; after
    ``recover`` (if given) it comes back. See `capacity.sim.failures`."""

    at: Duration
    node: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    zone: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    pool: Name | None = None
    recover: PositiveDuration | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Failure:
        given = [k for k in ("node", "zone", "pool") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of node, zone, pool (got {len(given)})")
        return self

    @property
    def target(self) -> str:
        """``node gpu-2``, ``zone b`` or ``pool gpu``."""
        key = next(k for k in ("node", "zone", "pool") if getattr(self, k) is not None)
        return f"{key} {getattr(self, key)}"


class Metrics(_Model):
    """Options of the simulation's statistics: ``interval``, the width of the time-series windows
    (default: the statistics window in 60 equal windows)."""

    interval: PositiveDuration | None = None


def _registered_objective(name: object) -> object:
    """``placement.objective`` names an objective of `capacity.packing.objectives.OBJECTIVES` (read when the
    scenario is loaded, so that an objective registered by a plugin is allowed)."""
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ValueError(f"Input should be {names_text((repr(n) for n in OBJECTIVES), 'or')}")
    return name


ObjectiveName = Annotated[str, BeforeValidator(_registered_objective),
                          Field(json_schema_extra=lambda schema: schema.update(enum=list(OBJECTIVES)))]


class PlacementOptions(_Model):
    objective: ObjectiveName = "min-nodes"
    headroom: Fraction | dict[ResourceName, Fraction] = 0.0
    solver: Literal["highs", "cbc"] = "highs"
    time_limit: PositiveDuration = 30.0
    existing: dict[str, dict[Name, Int]] = Field(default_factory=dict)  # node -> service -> replicas
    move_cost: Float = Field(default=0.0, ge=0)                         # per moved replica

    def headroom_for(self, resources: Iterable[str]) -> dict[str, float]:
        """Headroom per resource: one fraction for all, or the per-resource map (others 0)."""
        if isinstance(self.headroom, Mapping):
            return {r: float(self.headroom.get(r, 0.0)) for r in resources}
        return {r: float(self.headroom) for r in resources}


# ---------------------------------------------------------------------------------------------- whatif

WhatIfKey = Annotated[str, Field(min_length=1, max_length=1000)]


class WhatIf(_Model):
    """What-if variations, run by ``capacity sweep`` (`capacity.sweep` expands them into points).

    ``grid`` maps dotted keys (``--set`` syntax, list items by name) to the values to try; every combination
    is a point; a key's values must differ once validated (``[1m, 60s]`` is refused). ``cases`` are named
    sets of ``key: value``; each case is crossed with the grid (with no grid, each case is one point). A key
    may be in the grid or in cases, not both. ``replications`` runs each point with the seeds ``s, s + 1,
    ..., s + replications - 1``, ``s`` the point's seed (``seed``, or its value in the grid or the case).
    """

    grid: dict[WhatIfKey, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    cases: dict[Name, dict[WhatIfKey, Any]] = Field(default_factory=dict)   # {} is the scenario as is
    replications: Int = Field(default=1, ge=1, le=1000)


# ---------------------------------------------------------------------------------------------- kubernetes

K8sName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]


class KubernetesWorkload(_Model):
    """The Kubernetes object a service was imported from (``capacity import-k8s``)."""

    added_fields = frozenset({"component"})

    kind: Literal["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Pod",
                  "InferenceService", "LLMInferenceService"]
    namespace: K8sName = "default"
    name: K8sName
    component: Literal["predictor", "transformer", "explainer", "decode", "prefill"] | None = None  # KServe

    @model_validator(mode="after")
    def _component_of_kserve_objects(self) -> KubernetesWorkload:
        components = {"InferenceService": ("predictor", "transformer", "explainer"),
                      "LLMInferenceService": ("decode", "prefill")}
        if self.component not in components.get(self.kind, (None,)):
            raise ValueError(f"component {self.component} does not go with kind {self.kind} (an "
                             "InferenceService has predictor | transformer | explainer, an "
                             "LLMInferenceService decode | prefill, other kinds none)")
        return self


class KubernetesSection(_Model):
    """Where an imported scenario came from, read by ``capacity plan --export k8s``: the object behind each
    service, and the existing nodes of each pool (node ``{pool}-{j}`` of a plan is ``nodes[pool][j]``; a
    plan that uses more nodes than the list holds needs new ones). See `capacity.k8s`."""

    added_fields = frozenset({"excluded"})

    workloads: dict[Name, KubernetesWorkload] = Field(default_factory=dict)
    nodes: dict[Name, list[K8sName]] = Field(default_factory=dict)
    excluded: dict[Name, dict[Name, str]] = Field(default_factory=dict)   # service -> pool -> why not there


# ---------------------------------------------------------------------------------------------- scenario

class Scenario(_Model):
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
        line = _line_of(self._lines, loc) if self._lines else None
        return ScenarioError(message, file=self._source, line=line,
                             path=display_path(self.model_dump(include={str(loc[0])}), loc))

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def pool(self, name: str) -> Pool:
        return next(p for p in self.cluster.pools if p.name == name)

    def canonical(self) -> dict[str, Any]:
        """The validated scenario as JSON data, as the digest and the report's echo see it: without
        ``limits`` (they change whether a run is allowed, never its result) and without the fields the
        format gained later while they hold their default (`_Model.added_fields`)."""
        return self.model_dump(mode="json", exclude={**_unused_added_fields(self), "limits": True})

    def digest(self) -> str:
        """SHA-256 of the validated scenario in canonical JSON (`canonical`): equal scenarios, equal
        digests."""
        canonical = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def input_files(self) -> list[Path]:
        """Every file a run of this scenario reads besides the scenario itself, resolved (absolute,
        symbolic links followed), in scenario order, each once: today the trace file of each trace
        class. The digest covers the names; a sweep's run key also hashes these files' contents
        (`capacity.sweep`), so an edited file is never mistaken for the one a recorded run read."""
        files: dict[Path, None] = {}
        for cls in self.workload.classes if self.workload is not None else []:
            if cls.arrivals.process == "trace" and cls.arrivals.file is not None:
                files[resolve_path(self._source, cls.arrivals.file).resolve()] = None
        return list(files)


# ---------------------------------------------------------------------------------------------- loading

Path_ = tuple[str | int, ...]


def parse_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse a scenario's YAML (data only, YAML 1.2, bounded: `capacity.yamlio`); return the data and its
    line map."""
    return load_document(text, file)


def display_path(data: Any, loc: Sequence[str | int]) -> str:
    """``('services', 0, 'resources', 'cpu')`` → ``services.ranker.resources.cpu`` (items by name). A
    name with other characters than letters, digits, ``_``, ``.``, ``/``, ``-`` is quoted as Python's
    ``repr`` does (``services.web.'odd key'``), so a key can never break the message's line."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node):
            item = node[key]
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(_path_part(name) if isinstance(name, str) and name else str(key))
            node = item
        else:
            parts.append(_path_part(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


_PLAIN_PATH_PART = re.compile(r"[A-Za-z0-9_./-]+")


def _path_part(key: object) -> str:
    text = str(key)
    return text if _PLAIN_PATH_PART.fullmatch(text) else repr(text)


def _line_of(lines: Mapping[Path_, int], loc: Sequence[str | int]) -> int | None:
    loc = tuple(loc)
    while True:
        if loc in lines:
            return lines[loc]
        if not loc:
            return None
        loc = loc[:-1]


# ---------------------------------------------------------------------------------------------- --set

def _resolve_override(data: Any, key: str, file: str) -> tuple[Any, str | int, Path_]:
    """Find the container and final key that ``key`` (dotted, list items by name) addresses."""
    parts = key.split(".")
    if not key or any(p == "" for p in parts):
        raise ScenarioError(f"--set {key!r}: expected a dotted key such as services.ranker.replicas",
                            file=file)
    node: Any = data
    path: list[str | int] = []
    i = 0
    while i < len(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict) and (path == ["whatif", "grid"]
                                       or (path[:2] == ["whatif", "cases"] and len(path) == 3)):
            # The keys of a what-if grid or case are dotted keys themselves: the rest is one key.
            candidate = ".".join(parts[i:])
            return node, candidate, (*path, candidate)
        if isinstance(node, dict):
            # Resource names may contain dots (nvidia.com/gpu): take the longest key that exists.
            for j in range(len(parts), i, -1):
                candidate = ".".join(parts[i:j])
                if candidate in node:
                    break
            else:
                # A missing section is created; validation then names any unknown field.
                j = i + 1 if not last else len(parts)
                candidate = ".".join(parts[i:j])
                if j < len(parts):
                    node[candidate] = {}
            if j == len(parts):
                return node, candidate, (*path, candidate)
            path.append(candidate)
            node = node[candidate]
            i = j
        elif isinstance(node, list):
            part = parts[i]
            index = next((n for n, item in enumerate(node)
                          if isinstance(item, dict) and item.get("name") == part), None)
            if index is None and part.isdigit() and int(part) < len(node):
                index = int(part)
            if index is None:
                names = [str(item.get("name")) for item in node if isinstance(item, dict)]
                where = display_path(data, path)
                raise ScenarioError(
                    f"--set {key}: {where} has no item named {part!r} (have: {', '.join(names)})",
                    file=file)
            if last:
                return node, index, (*path, index)
            path.append(index)
            node = node[index]
            i += 1
        else:
            where = display_path(data, path)
            raise ScenarioError(f"--set {key}: {where} is a value, not a section", file=file)
    raise AssertionError("unreachable")


def apply_overrides(data: Any, overrides: Iterable[str], file: str) -> tuple[Any, list[Path_]]:
    """Apply ``KEY=VALUE`` overrides (VALUE parsed as YAML) to the raw document; return it and the
    paths that were set."""
    changed: list[Path_] = []
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. services.ranker.replicas=8",
                                file=file)
        key, _, text = item.partition("=")
        key = key.strip()
        value = load_value(text, f"{file} (--set {key})")
        container, last, path = _resolve_override(data, key, file)
        container[last] = value
        changed.append(path)
    return data, changed


# ---------------------------------------------------------------------------------------------- errors

def _allowed_fields(loc: Sequence[str | int]) -> list[str] | None:
    """The field names the model at ``loc`` accepts (for an 'unknown key' message)."""
    model: Any = Scenario
    for key in loc:
        if isinstance(key, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(key)
        if field is None:
            return None
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return None


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: Mapping[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """Turn one pydantic error into (loc, message) in the planner's words."""
    # Drop the validator labels pydantic puts in locations of union members ("function-before[...]").
    loc = tuple(k for k in error["loc"]
                if not (isinstance(k, str) and ("[" in k or k.startswith("function-"))))
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "extra_forbidden":
        if loc in RETIRED_FIELDS:
            return loc, RETIRED_FIELDS[loc]
        allowed = _allowed_fields(loc[:-1])
        tail = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return loc, f"unknown field {loc[-1]!r}{tail}"
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "string_pattern_mismatch":
        msg = "use letters, digits, '.', '_' and '-', starting with a letter or digit"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "input" in error and kind not in ("model_type", "dict_type", "list_type"):
        value = error["input"]
        short = isinstance(value, str | int | float) and not isinstance(value, bool) and len(repr(value)) < 60
        if short and repr(value) not in msg:
            msg = f"{msg} (got {value!r})"
    return loc, msg


def _from_validation(exc: ValidationError, data: Any, lines: Mapping[Path_, int], file: str,
                     overridden: Sequence[Path_]) -> ScenarioError:
    errors = exc.errors(include_url=False)
    loc, msg = _message(errors[0])
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return _located(msg, loc, data, lines, file, overridden)


def _located(msg: str, loc: Sequence[str | int], data: Any, lines: Mapping[Path_, int], file: str,
             overridden: Sequence[Path_]) -> ScenarioError:
    loc = tuple(loc)
    path = display_path(data, loc)
    for o in overridden:
        if loc[: len(o)] == o:
            return ScenarioError(msg, file=f"{file} (--set {display_path(data, o)})", path=path)
    return ScenarioError(msg, file=file, line=_line_of(lines, loc), path=path)


# ---------------------------------------------------------------------------------------------- references

def _check_references(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field rules pydantic cannot express per field; each problem as (loc, message)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def unique(items: Sequence[Any], section: tuple[str | int, ...], what: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                problems.append(((*section, i, "name"), f"duplicate {what} name {item.name!r}"))
            seen.add(item.name)

    unique(s.cluster.pools, ("cluster", "pools"), "pool")
    unique(s.services, ("services",), "service")
    pools = {p.name for p in s.cluster.pools}
    for i, svc in enumerate(s.services):
        st = svc.serving.service_time if svc.serving else None
        if svc.serving is not None:
            problems.extend(_serving_problems(s, svc.serving, ("services", i, "serving")))
        if (st is not None and st.cv is not None and st.distribution != "lognormal"
                and st.cv != st.effective_cv):
            problems.append((("services", i, "serving", "service_time", "cv"),
                             f"the cv of the {st.distribution} distribution is {st.effective_cv:g}; "
                             "use dist: lognormal for another cv"))
        for j, pool in enumerate(svc.pools or []):
            if pool not in pools:
                problems.append(((("services", i, "pools", j)),
                                 f"no pool named {pool!r} (pools: {', '.join(sorted(pools))})"))
    services = {svc.name: svc for svc in s.services}
    if s.workload is not None:
        if s.workload.warmup >= s.workload.duration:
            problems.append((("workload", "warmup"),
                             f"warmup ({s.workload.warmup:g}s) must be shorter than duration "
                             f"({s.workload.duration:g}s)"))
        unique(s.workload.classes, ("workload", "classes"), "class")
        for i, cls in enumerate(s.workload.classes):
            target = services.get(cls.service)
            if target is None:
                problems.append((("workload", "classes", i, "service"),
                                 f"no service named {cls.service!r} (services: {', '.join(services)})"))
            elif target.serving is None:
                problems.append((("workload", "classes", i, "service"),
                                 f"service {cls.service!r} has no 'serving' section, so it cannot "
                                 "serve requests"))
            problems.extend(_arrival_problems(cls.arrivals, ("workload", "classes", i, "arrivals")))
            serving = target.serving if target is not None else None
            if (serving is not None and serving.service_time.form == "tokens" and cls.tokens is None
                    and cls.arrivals.process != "trace"):
                problems.append((("workload", "classes", i, "tokens"),
                                 f"service {cls.service!r} has a token service time: give the class "
                                 "token counts (tokens: {input: ..., output: ...}) or trace arrivals"))
            if serving is not None and serving.batching is not None and cls.admission == "deadline":
                problems.append((("workload", "classes", i, "admission"),
                                 "deadline-aware admission is not available with batching"))
        problems.extend(_token_problems(s))
    if isinstance(s.placement.headroom, Mapping):
        known = {r for p in s.cluster.pools for r in p.resources}
        for r in s.placement.headroom:
            if r not in known:
                problems.append((("placement", "headroom", r),
                                 f"no pool declares resource {r!r} (resources: {', '.join(sorted(known))})"))
    objective = OBJECTIVES.get(s.placement.objective)
    if objective is not None and objective.needs_costs:
        for i, p in enumerate(s.cluster.pools):
            if p.cost is None:
                problems.append((("cluster", "pools", i, "cost"),
                                 f"objective {objective.name} needs a cost on every pool"))
    if s.kubernetes is not None:
        problems.extend(_kubernetes_problems(s, s.kubernetes))
    problems.extend(_failure_admission_problems(s))
    problems.extend(_placement_constraint_problems(s))
    return problems


def _placement_constraint_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Label selectors, spread, survive, existing placements and move costs (`capacity.packing`)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    labels = sorted({k for p in s.cluster.pools for k in p.labels})
    known = f"(labels: {', '.join(labels) or 'none'})"
    for i, svc in enumerate(s.services):
        for key in svc.node_selector or {}:
            if key not in labels:
                problems.append((("services", i, "node_selector", key), f"no pool has label {key!r} {known}"))
        if svc.spread is not None and svc.spread.topology not in (*labels, "kubernetes.io/hostname"):
            problems.append((("services", i, "spread", "topology"),
                             f"no pool has label {svc.spread.topology!r} {known}"))
        if svc.survive is not None:
            if svc.survive.failures == "1 node" and svc.survive.topology is not None:
                problems.append((("services", i, "survive", "topology"),
                                 "topology applies to failures: 1 zone"))
            zone = svc.survive.topology or "zone"
            if svc.survive.failures == "1 zone" and zone not in labels:
                key = "topology" if svc.survive.topology else "failures"
                problems.append((("services", i, "survive", key),
                                 f"failures: 1 zone needs pools labelled {zone!r} {known}"))
    pools = {p.name: p for p in s.cluster.pools}
    services = {svc.name: svc for svc in s.services}
    for i, svc in enumerate(s.services):
        for kind in ("anti_affinity", "affinity"):
            for j, term in enumerate(getattr(svc, kind) or ()):
                if term.service not in services:
                    problems.append((("services", i, kind, j, "service"),
                                     f"no service named {term.service!r} (services: {', '.join(services)})"))
                if term.topology not in (*labels, "kubernetes.io/hostname"):
                    problems.append((("services", i, kind, j, "topology"),
                                     f"no pool has label {term.topology!r} {known}"))
    for node, counts in s.placement.existing.items():
        pool, sep, index = node.rpartition("-")
        where = ("placement", "existing", node)
        checkable = True
        if not sep or pool not in pools or not index.isdigit() or (len(index) > 1 and index[0] == "0"):
            problems.append((where, f"a node name is <pool>-<index> of a pool (pools: {', '.join(pools)})"))
            checkable = False
        elif int(index) >= pools[pool].count:
            problems.append((where, f"pool {pool!r} has {pools[pool].count} nodes, numbered from 0"))
            checkable = False
        for name, k in counts.items():
            if name not in services:
                problems.append(((*where, name),
                                 f"no service named {name!r} (services: {', '.join(services)})"))
                checkable = False
            elif k < 0:
                problems.append(((*where, name), f"replicas must be 0 or more (got {k})"))
                checkable = False
        if checkable:   # the node holds what runs on it (capacity before headroom: capacity.packing.existing)
            why = existing_overflow(counts, {n: services[n].resources for n in counts}, pools[pool].resources)
            if why is not None:
                problems.append((where, why))
    objective = OBJECTIVES.get(s.placement.objective)
    if objective is not None and objective.needs_existing and not s.placement.existing:
        problems.append((("placement", "objective"),
                         f"{objective.name} needs placement.existing (the running placement)"))
    if objective is not None and s.placement.move_cost and not objective.prices_moves:
        priced = names_text(o.name for o in OBJECTIVES.values() if o.prices_moves)
        problems.append((("placement", "move_cost"),
                         f"move_cost applies to objectives {priced}, not {objective.name}"))
    return problems


def _failure_admission_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Failures name nodes that a plan can have (``POOL-INDEX``, index below the pool's count), zones
    that some pool is labelled with, existing pools, and a time inside the workload; a class with
    ``admission: deadline`` has an SLO."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    counts = {p.name: p.count for p in s.cluster.pools}
    zones = sorted({p.labels["zone"] for p in s.cluster.pools if "zone" in p.labels})
    for i, f in enumerate(s.failures):
        where: tuple[str | int, ...] = ("failures", i)
        if s.workload is None:
            problems.append((where, "failures need a workload to simulate"))
        elif f.at >= s.workload.duration:
            problems.append(((*where, "at"), f"must be before the end of the workload "
                                            f"({f.at:g}s >= duration {s.workload.duration:g}s)"))
        if f.node is not None:
            pool, _, index = f.node.rpartition("-")
            if (pool not in counts or not index.isdigit() or str(int(index)) != index
                    or int(index) >= counts[pool]):
                ranges = ", ".join(f"{p}-0..{p}-{c - 1}" for p, c in counts.items())
                problems.append(((*where, "node"), f"no node {f.node!r}: nodes are named POOL-INDEX as in "
                                                   f"the placement (nodes: {ranges})"))
        if f.zone is not None and f.zone not in zones:
            problems.append(((*where, "zone"), f"no pool has the label zone: {f.zone} "
                                               f"(zones: {', '.join(zones) or 'none'})"))
        if f.pool is not None and f.pool not in counts:
            problems.append(((*where, "pool"), f"no pool named {f.pool!r} (pools: {', '.join(counts)})"))
    if s.workload is not None:
        for i, cls in enumerate(s.workload.classes):
            if cls.admission == "deadline" and cls.slo is None:
                problems.append((("workload", "classes", i, "admission"),
                                 "deadline admission drops requests that would miss the SLO: "
                                 "give the class an slo"))
    return problems


def _kubernetes_problems(s: Scenario, k8s: KubernetesSection) -> list[tuple[tuple[str | int, ...], str]]:
    """The ``kubernetes`` section names existing services and pools, and no more nodes than a pool has."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    services = {svc.name for svc in s.services}
    for name in k8s.workloads:
        if name not in services:
            problems.append((("kubernetes", "workloads", name), f"no service named {name!r}"))
    counts = {p.name: p.count for p in s.cluster.pools}
    for name, pools in k8s.excluded.items():
        if name not in services:
            problems.append((("kubernetes", "excluded", name), f"no service named {name!r}"))
        for pool in pools:
            if pool not in counts:
                problems.append((("kubernetes", "excluded", name, pool), f"no pool named {pool!r}"))
    seen: set[str] = set()
    for pool, nodes in k8s.nodes.items():
        if pool not in counts:
            problems.append((("kubernetes", "nodes", pool), f"no pool named {pool!r}"))
        elif len(nodes) > counts[pool]:
            problems.append((("kubernetes", "nodes", pool),
                             f"{len(nodes)} nodes listed but the pool has count {counts[pool]}"))
        for j, node in enumerate(nodes):
            if node in seen:
                problems.append((("kubernetes", "nodes", pool, j), f"node {node!r} is listed twice"))
            seen.add(node)
    return problems


def _serving_problems(s: Scenario, serving: Serving, where: tuple[str | int, ...]
                      ) -> list[tuple[tuple[str | int, ...], str]]:
    """Batching and service-time forms that do not go together (see `ServiceTime` and `Batching`)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    st, b = serving.service_time, serving.batching
    form = st.form
    mode = b.mode if b is not None else None
    discipline = serving.queue.discipline or s.scheduling.discipline
    if form == "batch" and mode is None:
        problems.append(((*where, "service_time", "per_item"),
                         "a batch latency {base, per_item} needs dynamic batching: add batching: "
                         "{max_size: ..., max_delay: ...}"))
    if mode == "dynamic" and form != "batch":
        problems.append(((*where, "batching", "mode"),
                         "dynamic batching needs a batch latency: service_time: {base: ..., per_item: ...} "
                         "(a batch of k takes base + per_item·k)"))
    if mode == "continuous" and form != "tokens":
        problems.append(((*where, "batching", "mode"),
                         "continuous batching needs a token service time: service_time: {base: ..., "
                         "per_input_token: ..., per_output_token: ...}"))
    if b is not None and b.max_delay is not None and mode != "dynamic":
        problems.append(((*where, "batching", "max_delay"), "max_delay applies to mode dynamic"))
    if b is not None and b.step_growth is not None and mode != "continuous":
        problems.append(((*where, "batching", "step_growth"), "step_growth applies to mode continuous"))
    if discipline == "preemptive" and (b is not None or form == "tokens"):
        at = (*where, "queue", "discipline") if serving.queue.discipline else ("scheduling", "discipline")
        what = "a batching service" if b is not None else "a token service"
        problems.append((at, f"{what} cannot use the preemptive discipline"))
    if b is not None and serving.queue.max_length == 0:
        problems.append(((*where, "queue", "max_length"),
                         "a batching service needs waiting places (>= 1): requests wait to form a batch"))
    if b is not None and serving.queue.admission == "deadline":
        problems.append(((*where, "queue", "admission"),
                         "deadline-aware admission is not available with batching"))
    return problems


def _arrival_problems(a: Arrivals, where: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Parameters given to a process that does not use them, required ones missing, times of day."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    accepted = ARRIVAL_PARAMETERS[a.process]
    for key in ("rate", "cv", "on", "off", "amplitude", "period", "peak_at", "start", "file", "format",
                "time_scale", "rate_scale"):
        if getattr(a, key) is not None and key not in accepted:
            users = [p for p, keys in ARRIVAL_PARAMETERS.items() if key in keys]
            if key == "rate":
                problems.append(((*where, key), "a trace brings its own rate: change it with rate_scale "
                                                "(more or fewer requests) or time_scale (stretch time)"))
                continue
            problems.append(((*where, key), f"{key!r} applies to process {' or '.join(users)}, "
                                            f"not {a.process}"))
    for key in ARRIVAL_REQUIRED.get(a.process, ()):
        if getattr(a, key) is None:
            problems.append(((*where, key), f"process {a.process} needs {key!r}"))
    if a.process == "diurnal":
        period = a.period if a.period is not None else 86_400.0
        for key in ("peak_at", "start"):
            value = getattr(a, key)
            if value is not None and value >= period:
                problems.append(((*where, key), f"{key} is a time of day and must be shorter than the "
                                                f"period ({value:g}s >= {period:g}s)"))
    return problems


# ---------------------------------------------------------------------------------------------- whatif points

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
            container, last, at = _resolve_override(data, key, source)
        except ScenarioError as exc:
            message = exc.message.removeprefix(f"--set {key!r}: ").removeprefix(f"--set {key}: ")
            raise ScenarioError(f"{prefix}{message}", file=source, line=line, path=path) from None
        container[last] = json.loads(json.dumps(value, default=str))
        changed.append(at)
    try:
        return scenario_from_dict(data, source=source, overridden=changed, data_dirs=data_dirs)
    except ScenarioError as exc:
        inner = f"{exc.path}: " if exc.path and exc.path != path.removeprefix("whatif.grid.") else ""
        raise ScenarioError(f"{prefix}{inner}{exc.message}", file=source, line=line, path=path) from None


def field_value(data: Any, key: str, *, source: str = "<dict>") -> Any:
    """The value at a dotted key (``--set`` syntax, list items by name) of a scenario document."""
    container, last, _ = _resolve_override(json.loads(json.dumps(data, default=str)), key, source)
    return (container[last]  # type: ignore[index]  # a list container is indexed by an int `last`
            if isinstance(container, list) or last in container else None)


#: How a what-if value is named in a message: cut short (a value may hold millions of items).
_VALUE_REPR = reprlib.Repr()
_VALUE_REPR.maxlevel, _VALUE_REPR.maxlist, _VALUE_REPR.maxdict, _VALUE_REPR.maxstring = 2, 4, 4, 60


def _check_whatif(whatif: WhatIf, data: Mapping[str, Any], lines: Mapping[Path_, int], source: str,
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


def _token_problems(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Token specs, tenant splits and token-priced queues: what each needs of the rest of the scenario."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if s.workload is None:
        return problems
    for i, cls in enumerate(s.workload.classes):
        where: tuple[str | int, ...] = ("workload", "classes", i)
        trace = cls.arrivals.process == "trace"
        if cls.tokens is not None and trace:
            problems.append(((*where, "tokens"), "a trace gives each request's token counts: remove "
                                                 "tokens (or use a synthetic process)"))
        for part in ("input", "output"):
            spec = getattr(cls.tokens, part) if cls.tokens is not None else None
            if spec is None:
                continue
            if spec.cv is not None and spec.dist != "lognormal" and spec.cv != spec.effective_cv:
                problems.append(((*where, "tokens", part, "cv"),
                                 f"the cv of the {spec.dist} distribution is {spec.effective_cv:g}; "
                                 "use dist: lognormal for another cv"))
            if spec.max is not None and spec.max < spec.min:
                problems.append(((*where, "tokens", part, "max"),
                                 f"max ({spec.max}) must be at least min ({spec.min})"))
        if cls.tenants is not None:
            if not trace:
                problems.append(((*where, "tenants"), "tenants splits a trace's requests; for "
                                                      "synthetic traffic give one class per tenant"))
            if "tenant" in cls.model_fields_set:
                problems.append(((*where, "tenant"), "the tenants section names the tenants: remove "
                                                     "tenant"))
            if cls.tenants.weights is not None and "weight" in cls.model_fields_set:
                problems.append(((*where, "weight"), "tenants.weights gives each tenant's weight: "
                                                     "remove weight"))
    for i, svc in enumerate(s.services):
        if svc.serving is None or svc.serving.queue.cost != "tokens":
            continue
        discipline = svc.serving.queue.discipline or s.scheduling.discipline
        if discipline not in ("fair", "drr", "priority-fair"):
            problems.append((("services", i, "serving", "queue", "cost"),
                             f"cost applies to the fair disciplines (fair, drr, priority-fair), not "
                             f"{discipline}"))
        for j, cls in enumerate(s.workload.classes):
            if cls.service == svc.name and cls.tokens is None and cls.arrivals.process != "trace":
                problems.append((("workload", "classes", j, "tokens"),
                                 f"service {svc.name!r} charges tokens (queue.cost: tokens), so this "
                                 "class needs token counts: a tokens section, or trace arrivals"))
    return problems


def resolve_path(source: str, file: str) -> Path:
    """A file named in a scenario: absolute, or relative to the scenario file's folder (to the working
    directory when the scenario did not come from a file). Not yet checked against the allowed folders:
    see `trace_path`."""
    path = Path(file).expanduser()
    if path.is_absolute() or source.startswith("<"):
        return path
    return Path(source).parent / path


def _trace_file_problems(s: Scenario, source: str,
                         data_dirs: Sequence[Path]) -> list[tuple[tuple[str | int, ...], str]]:
    """Trace files outside the allowed folders (`capacity.sandbox`: checked first, so that nothing is said
    of a file outside), then those that are missing or not regular files (the pipeline reads them; loading
    only looks)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    allowed = allowed_dirs(source, data_dirs)
    for i, cls in enumerate(s.workload.classes if s.workload is not None else []):
        if cls.arrivals.process == "trace" and cls.arrivals.file is not None:
            loc: tuple[str | int, ...] = ("workload", "classes", i, "arrivals", "file")
            path = resolve_path(source, cls.arrivals.file)
            outside = outside_problem(path, allowed)
            if outside is not None:
                problems.append((loc, outside))
            elif not path.is_file():
                what = "is not a regular file" if path.exists() else "does not exist"
                problems.append((loc, f"trace file {str(path)!r} {what}"))
    return problems


def trace_path(scenario: Scenario, file: str) -> Path:
    """The resolved path of a data file the scenario names, checked again against the allowed folders
    (`capacity.sandbox`) just before it is read; raises `ValueError` saying why it may not be read."""
    path = resolve_path(scenario.source, file)
    outside = outside_problem(path, allowed_dirs(scenario.source, scenario.data_dirs))
    if outside is not None:
        raise ValueError(outside)
    return path.resolve()


# ---------------------------------------------------------------------------------------------- entry points

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
    overridden = [*overridden, *changed]
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, data, lines, source, overridden) from None
    problems = (_check_references(scenario) or _trace_file_problems(scenario, source, dirs)
                or work_problems(scenario))
    if problems:
        loc, msg = problems[0]
        if len(problems) > 1:
            msg += f" (and {len(problems) - 1} more)"
        raise _located(msg, loc, data, lines, source, overridden)
    if scenario.whatif is not None:
        _check_whatif(scenario.whatif, data, lines, source, dirs)
    scenario._source = source
    scenario._data_dirs = dirs
    scenario._lines = lines if isinstance(lines, LineMap) else dict(lines)
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
