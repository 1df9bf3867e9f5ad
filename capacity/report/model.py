"""The report model: report.json described as pydantic models, one per section, exactly as capacity writes it.

`capacity run -o DIR` writes report.json from plain dictionaries (`capacity.report.summary`,
`capacity.sim.metrics.summarize`, `capacity.report.series`); these models say what each key holds, so that
a report read back (``capacity report DIR``) is checked before anything is drawn from it, with an error
that names the field::

    error: out/run/report.json: simulation.classes.chat.latency_s.p99: Input should be a valid number

Conventions (as in the report): times in seconds, memory in bytes, CPU in cores, other resources in their
own units; fractions in [0, 1]; rates per second. A key that capacity writes as ``null`` is typed
``X | None``; a key that it leaves out in some reports (``compare`` without ``plan --compare``, ``input``
and ``series`` outside ``run -o``, ``ttft_s`` and ``tpot_s`` without token timings, ``itl_s`` and ``llm``
without an LLM engine service, ``slos`` without a TTFT or TPOT target, ``batch_occupancy`` without batching)
is ``X | None = None`` with its condition in the field's comment. Unknown keys are refused, numbers are
never read from strings (strict mode) and NaN or infinities are refused (JSON has none): a valid report is
one capacity could have written. Beyond types, the models check what the writers and plots rely on: the
outcome counts of a class add up to ``arrived``, every per-window list has one value per window, the CDF's
levels and latencies pair up, window edges never go back.

The scenario echoed under ``input.scenario`` is the validated `capacity.scenario.Scenario` itself (its dump,
units parsed, without ``limits``: `Scenario.canonical`), and ``provenance.limits`` the
`capacity.limits.Limits` in force, so those two follow the scenario format by construction.

`parse_report` validates a decoded report.json; `error_line` turns a validation error into the one line
the CLI prints.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_serializer,
    field_validator,
    model_validator,
)

from capacity.limits import Limits
from capacity.packing.problem import Status
from capacity.scenario import ObjectiveName as Objective
from capacity.scenario import Scenario

_T = TypeVar("_T")


class _Section(BaseModel):
    """A section of report.json: keys as written, nothing else, numbers as numbers.

    A section also reads like the JSON object it is written as: ``report["placement"]["nodes_used"]`` is
    ``report.placement.nodes_used`` (for scripts and notebooks written against the dictionary; a key the
    report leaves out, such as ``compare`` outside ``plan --compare``, is a `KeyError` and not ``in`` it).
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        """Whether report.json holds ``key`` here (an optional key counts once it was written)."""
        return isinstance(key, str) and key in type(self).model_fields and (
            key in self.model_fields_set or type(self).model_fields[key].is_required())

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self else default


def _as_written(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A number checked as a float, kept as written: an integer stays an integer, so that a report read
    back and written again is the same text (``4``, not ``4.0``)."""
    checked = handler(value)
    return value if type(value) is int else checked


def _as_is(value: Any) -> Any:
    """A number written as it is held (an annotated ``float`` here would write ``4`` as ``4.0``)."""
    return value


#: A number as capacity writes it (an integral amount as an integer, a measurement as a float), kept so:
#: validation checks it as a float (bounds, finite, never a string) without turning ``4`` into ``4.0``.
Number = Annotated[float, WrapValidator(_as_written), PlainSerializer(_as_is)]
Count = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0), WrapValidator(_as_written), PlainSerializer(_as_is)]
Positive = Annotated[float, Field(gt=0), WrapValidator(_as_written), PlainSerializer(_as_is)]
Share = Annotated[float, Field(ge=0, le=1), WrapValidator(_as_written), PlainSerializer(_as_is)]
Level = Annotated[float, Field(gt=0, lt=1), WrapValidator(_as_written), PlainSerializer(_as_is)]
Amounts = dict[str, NonNegative]
"""Resource name → amount (cores, bytes or the resource's own unit)."""


def _one_per_window(edges: Sequence[float | None], series: dict[str, Sequence[Any]]) -> None:
    """Every list in ``series`` has one value per window (one fewer than ``edges``)."""
    for name, values in series.items():
        if len(values) != len(edges) - 1:
            raise ValueError(f"{name}: {len(values)} values for {len(edges) - 1} windows "
                             f"({len(edges)} edges)")


def _non_decreasing(edges: Sequence[float]) -> None:
    if any(b < a for a, b in itertools.pairwise(edges)):
        raise ValueError("window edges must not decrease")


# ---------------------------------------------------------------------------------------------- provenance

class Provenance(_Section):
    """Where the report comes from: ``capacity_version``, the scenario's SHA-256 (canonical JSON of the
    validated scenario without its limits: `Scenario.canonical`), its ``seed``, ``source`` (the file, or
    ``<dict>``) and the ``limits`` in force."""

    capacity_version: str
    scenario_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    seed: Count
    source: str
    limits: Limits


# ---------------------------------------------------------------------------------------------- placement

class PlacedNode(_Section):
    """A used node: its ``replicas``, what they request (``used``), the node's ``capacity`` (before
    headroom), ``allocated`` (used / capacity per resource) and ``stranded`` (free, but no allowed
    replica fits)."""

    name: str
    pool: str
    replicas: list[str]
    used: Amounts
    capacity: Amounts
    allocated: Amounts
    stranded: Amounts


class PoolUsage(_Section):
    """A pool: its ``count`` (most nodes), ``nodes_used``, their ``cost_per_hour`` (null when the pool has
    no cost), ``allocated`` (fraction per resource over its used nodes) and ``stranded`` (total)."""

    count: Count
    nodes_used: Count
    cost_per_hour: NonNegative | None
    allocated: Amounts
    stranded: Amounts


class PlacementSection(_Section):
    """``placement``: the packer's plan (`capacity.report.summary.placement_section`).

    ``objective_value``/``objective_bound`` are in the objective's units (nodes, cost per hour, moved
    replicas, unplaced priority weight, or utilisation for ``balance``); ``gap`` is their relative gap
    (null when either is unknown); ``moves`` is null without an existing placement.
    """

    status: Status
    solver: str
    objective: Objective
    nodes_used: Count
    lower_bound: Count
    objective_value: Number | None
    objective_bound: Number | None
    gap: Share | None
    cost_per_hour: NonNegative | None
    replicas: Count
    nodes: list[PlacedNode]
    pools: dict[str, PoolUsage]
    unplaced: list[str]
    unplaced_reasons: dict[str, str]
    max_utilisation: NonNegative | None
    moves: Count | None
    moved: dict[str, Count]


# ---------------------------------------------------------------------------------------------- compare

class ComparedMethod(_Section):
    """One method's plan of the same problem (a greedy baseline, or ``optimiser``); ``unplaced`` counts
    the replicas it could not place, ``stranded`` totals its stranded capacity per resource."""

    solver: str
    status: Status
    nodes_used: Count
    cost_per_hour: NonNegative | None
    objective_value: Number | None
    unplaced: Count
    stranded: Amounts


class CompareSection(_Section):
    """``compare`` (``plan --compare`` only): each method beside the best proven bounds."""

    objective: Objective
    lower_bound: Count
    objective_bound: Number | None
    methods: dict[str, ComparedMethod]


# ---------------------------------------------------------------------------------------------- simulation

class Summary(_Section):
    """``{mean, p50, p95, p99, max}`` of a sample, seconds; every value null when there is no sample."""

    mean: NonNegative | None
    p50: NonNegative | None
    p95: NonNegative | None
    p99: NonNegative | None
    max: NonNegative | None


class SloResult(_Section):
    """A class's SLO: ``attained`` is the fraction of its measured requests within ``target_s`` (null
    without measured requests), ``met`` whether it reaches ``quantile`` (null: no data), ``status`` the
    verdict in words (written by capacity versions that report "no data"; absent before)."""

    target_s: Positive
    quantile: Level
    attained: Share | None
    met: bool | None
    status: Literal["met", "missed", "no data"] | None = None

    @property
    def verdict(self) -> Literal["met", "missed", "no data"]:
        """The verdict in words: ``status``, or for a report written before it existed, from ``met`` (null
        meant no data: nothing measured is never a pass)."""
        if self.status is not None:
            return self.status
        return "no data" if self.met is None else "met" if self.met else "missed"


class _Outcomes(_Section):
    """The outcome counts of measured requests (``arrived = completed + rejected + timed_out + dropped +
    lost``; ``retried`` also counted by their final outcome), throughput and goodput per second, and the
    latency, wait and (token runs only) time-to-first-token summaries of the completed ones."""

    arrived: Count
    completed: Count
    rejected: Count
    timed_out: Count
    dropped: Count
    lost: Count
    retried: Count
    throughput_per_s: NonNegative
    goodput_per_s: NonNegative | None
    latency_s: Summary
    wait_s: Summary
    ttft_s: Summary | None = None              # token runs only
    tpot_s: Summary | None = None              # token runs only: time per output token after the first

    @model_validator(mode="after")
    def _outcomes_add_up(self) -> Self:
        outcomes = self.completed + self.rejected + self.timed_out + self.dropped + self.lost
        if outcomes != self.arrived:
            raise ValueError(f"the outcomes (completed + rejected + timed_out + dropped + lost = {outcomes}) "
                             f"must add up to arrived ({self.arrived})")
        return self


class ClassSlos(_Section):
    """``simulation.classes.NAME.slos``: every target of a class that has a TTFT or TPOT target, one
    `SloResult` each (``latency`` when it also has a latency target). Goodput counts the requests that met
    all of them."""

    latency: SloResult | None = None           # with a latency target only
    ttft: SloResult | None = None              # with a TTFT target only
    tpot: SloResult | None = None              # with a TPOT target only


class ClassStats(_Outcomes):
    """``simulation.classes.NAME``: the outcomes of a request class and its SLO (null without one)."""

    slo: SloResult | None
    slos: ClassSlos | None = None              # classes with a TTFT or TPOT target only
    itl_s: Summary | None = None               # LLM engine services only: inter-token latency


class ReplicaLlm(_Section):
    """``simulation.replicas.NAME.llm`` (LLM engine replicas): its GPU type and count, KV capacity
    (tokens), time-average KV utilisation over the seconds it existed in the window, preemptions (whole
    run) and output tokens per second of the window."""

    gpu: str
    gpus: Count
    kv_capacity_tokens: Count
    kv_utilisation: Share | None
    preemptions: Count
    output_tokens_per_s: NonNegative


class ServiceLlm(_Section):
    """``simulation.services.NAME.llm`` (LLM engine services): ``kv_capacity_tokens`` per replica (the
    smallest when replicas are on different GPUs), time-average ``kv_utilisation`` over its replicas and per
    time-series window, ``preemptions`` (whole run), output tokens per second of the window (in all, per
    replica and per GPU present) and its GPUs."""

    kv_capacity_tokens: Count
    kv_utilisation: Share | None
    kv_utilisation_over_time: list[Share]
    preemptions: Count
    output_tokens_per_s: NonNegative
    output_tokens_per_s_per_replica: NonNegative | None
    output_tokens_per_s_per_gpu: NonNegative | None
    gpus: Count


class TenantStats(_Outcomes):
    """``simulation.tenants.NAME``: the outcomes over a tenant's classes and its ``share`` of the busy
    slot-seconds (null when nothing was served)."""

    share: Share | None


class ReplicaStats(_Section):
    """``simulation.replicas.NAME``: where it ran, busy share of its slots, requests ``served``, seconds
    ``down_s`` in the window (failures); ``batch_occupancy`` for a batching service only."""

    node: str
    pool: str
    utilisation: NonNegative
    served: Count
    down_s: NonNegative
    batch_occupancy: NonNegative | None = None  # batching services only
    llm: ReplicaLlm | None = None               # LLM engine services only


class NodeStats(_Section):
    """``simulation.nodes.NAME``: busy share of the slots of the replicas on the node."""

    pool: str
    utilisation: NonNegative | None
    replicas: list[str]


class PoolStats(_Section):
    """``simulation.pools.NAME``: busy share of the slots of the replicas in the pool."""

    utilisation: NonNegative | None


class ServiceStats(_Section):
    """``simulation.services.NAME``: busy share over its replicas (null without replicas), their number
    and slots; ``batch_occupancy`` for a batching service only."""

    utilisation: NonNegative | None
    replicas: Count
    slots: Count
    batch_occupancy: NonNegative | None = None  # batching services only
    llm: ServiceLlm | None = None               # LLM engine services only


class Fairness(_Section):
    """Jain's index over the weighted tenant shares (null when several tenants got nothing)."""

    jain: NonNegative | None


class FailureEvent(_Section):
    """A failure of the run: when, what (``target``), the ``replicas`` it took down, when it recovers
    (null: never) and how many requests it ``retried`` and ``lost``."""

    at_s: NonNegative
    target: str
    replicas: list[str]
    recover_at_s: NonNegative | None
    retried: Count
    lost: Count


class Window(_Section):
    """The statistics window ``[start, end]`` (after the warm-up), seconds."""

    start: NonNegative
    end: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class ClassOverTime(_Section):
    """Per window, over the measured requests of a class that arrived in it: outcome counts and the
    p50/p99 latency of the completed ones (null: none completed)."""

    arrived: list[Count]
    completed: list[Count]
    rejected: list[Count]
    timed_out: list[Count]
    dropped: list[Count]
    lost: list[Count]
    latency_p50_s: list[NonNegative | None]
    latency_p99_s: list[NonNegative | None]


class UtilisationOverTime(_Section):
    """Per window, the busy share of the slots of each replica, node, pool and service (null: no slots)."""

    replicas: dict[str, list[NonNegative | None]]
    nodes: dict[str, list[NonNegative | None]]
    pools: dict[str, list[NonNegative | None]]
    services: dict[str, list[NonNegative | None]]


class OverTime(_Section):
    """``simulation.over_time``: the statistics window cut into windows of ``interval_s`` (``edges_s``
    their bounds, from ``start_s``; the last may be shorter)."""

    interval_s: NonNegative | None
    edges_s: list[NonNegative] = Field(min_length=2)
    start_s: NonNegative
    classes: dict[str, ClassOverTime]
    utilisation: UtilisationOverTime

    @model_validator(mode="after")
    def _one_value_per_window(self) -> Self:
        _non_decreasing(self.edges_s)
        lists: dict[str, Sequence[Any]] = {}
        for name, c in self.classes.items():
            lists |= {f"classes.{name}.{key}": value for key, value in c if isinstance(value, list)}
        for group, by_name in self.utilisation:
            lists |= {f"utilisation.{group}.{name}": value for name, value in by_name.items()}
        _one_per_window(self.edges_s, lists)
        return self


class NodeCounts(_Section):
    """A pool's node count after each change: ``t_s`` (from 0) and ``count``, one each."""

    t_s: list[NonNegative]
    count: list[Count]

    @model_validator(mode="after")
    def _paired(self) -> Self:
        if len(self.t_s) != len(self.count):
            raise ValueError(f"{len(self.t_s)} times for {len(self.count)} counts")
        _non_decreasing(self.t_s)
        return self


class PoolScalingStats(_Section):
    """``simulation.autoscaling.pools.NAME``: node-hours and cost over the measured window, the nodes
    over time (billed: from the request until deleted) and their peak."""

    node_hours: NonNegative
    cost: NonNegative
    nodes: NodeCounts
    peak: Count


class ReplicaCounts(_Section):
    """A service's replicas by state after each change (``t_s`` from 0; one value of each per time)."""

    t_s: list[NonNegative]
    ready: list[Count]
    starting: list[Count]
    draining: list[Count]
    pending: list[Count]

    @model_validator(mode="after")
    def _paired(self) -> Self:
        n = len(self.t_s)
        for key in ("ready", "starting", "draining", "pending"):
            if len(getattr(self, key)) != n:
                raise ValueError(f"{key}: {len(getattr(self, key))} values for {n} times")
        _non_decreasing(self.t_s)
        return self


class ScaleDecision(_Section):
    """One change of a service's replica count by its autoscaler: when, from, to, the metric it read
    (null: none, e.g. a bound or the activator), and why."""

    model_config = ConfigDict(populate_by_name=True)

    t_s: NonNegative
    from_: Count = Field(alias="from")
    to: Count
    metric: NonNegative | None
    reason: str


class ServiceScalingStats(_Section):
    """``simulation.autoscaling.services.NAME``: its policy, replicas over time, scale events,
    replica-seconds pending (no node) and starting (cold) in the measured window, and the peak of ready +
    starting replicas."""

    policy: str
    replicas: ReplicaCounts
    events: list[ScaleDecision]
    pending_replica_s: NonNegative
    starting_replica_s: NonNegative
    peak: Count


class SloOverTime(_Section):
    """``simulation.autoscaling.slo.CLASS``: per time-series window (``t_s`` its start), the share of
    measured arrivals completed within the SLO target (null: none arrived) and whether the SLO was missed."""

    t_s: list[NonNegative]
    attainment: list[Share | None]
    missed: list[bool]


class StaticComparison(_Section):
    """``simulation.autoscaling.static``: the static plan sized for the peak, beside the autoscaled fleet
    (same requests): its replicas per service, nodes per pool, cost over the measured window, and per class
    with an SLO whether it was met (null: no SLO) and the latency at its quantile."""

    replicas: dict[str, Count]
    nodes: dict[str, Count]
    cost: NonNegative
    slo_met: dict[str, bool | None]
    latency_at_slo_s: dict[str, NonNegative | None]


class Autoscaling(_Section):
    """``simulation.autoscaling`` (only when some service is autoscaled; `capacity.autoscaling.outcome`):
    the fleet's ``cost`` over the measured window in the pools' cost units, per pool and service what
    happened over time, SLO attainment per window, and the static comparison (``run`` only)."""

    cost: NonNegative
    pools: dict[str, PoolScalingStats]
    services: dict[str, ServiceScalingStats]
    slo: dict[str, SloOverTime]
    static: StaticComparison | None = None     # absent unless the comparison was run


class StageStats(_Section):
    """``simulation.paths.classes.NAME.stages.LABEL``: one stage node of a class's path
    (`capacity.sim.path_metrics`): its service, its position on the path, visits per measured request,
    mean network delay, wait and service seconds (null: no visit), and the visits that failed there."""

    service: str
    position: Count                            # its number on the path (pre-order), from 0
    visits_per_request: NonNegative | None
    delay_s: NonNegative | None
    wait_s: NonNegative | None
    service_s: NonNegative | None
    failed: Count


class FailedBy(_Section):
    """Requests that failed end to end, by the outcome of their first failed visit."""

    rejected: Count
    timed_out: Count
    dropped: Count
    lost: Count


class PathClassStats(_Section):
    """``simulation.paths.classes.NAME``: end-to-end outcomes, latency summary and SLO of a class, and
    its per-stage breakdown."""

    arrived: Count
    completed: Count
    failed: Count
    failed_by: FailedBy
    latency_s: Summary
    slo: SloResult | None
    stages: dict[str, StageStats]

    @model_validator(mode="after")
    def _add_up(self) -> Self:
        by = self.failed_by
        if self.completed + self.failed != self.arrived or (
                by.rejected + by.timed_out + by.dropped + by.lost != self.failed):
            raise ValueError("completed + failed must be arrived, and failed_by must add up to failed")
        return self


class PathServiceStats(_Section):
    """``simulation.paths.services.NAME``: visits it received per second, over every class and path."""

    arrival_rate_per_s: NonNegative


class Paths(_Section):
    """``simulation.paths`` (only when some class has a ``path``; `capacity.sim.path_metrics`)."""

    classes: dict[str, PathClassStats]
    services: dict[str, PathServiceStats]


class Statistics(_Section):
    """How the statistics were computed: ``exact`` (every request's record kept; numpy percentiles) or
    ``streaming`` (counts, means and SLO attainment exact, quantiles from a sketch within
    ``relative_error`` of the sample's value at their rank; `capacity.sim.sketch`); null
    ``relative_error`` in exact mode."""

    mode: Literal["exact", "streaming"]
    relative_error: Annotated[float, Field(gt=0, lt=1)] | None


class Simulation(_Section):
    """``simulation``: `capacity.sim.metrics.summarize`'s dictionary (definitions in its docstring),
    floats rounded to 12 significant digits."""

    classes: dict[str, ClassStats]
    tenants: dict[str, TenantStats]
    replicas: dict[str, ReplicaStats]
    nodes: dict[str, NodeStats]
    pools: dict[str, PoolStats]
    services: dict[str, ServiceStats]
    fairness: Fairness
    failures: list[FailureEvent]
    window_s: Window
    over_time: OverTime
    autoscaling: Autoscaling | None = None     # only when some service is autoscaled
    paths: Paths | None = None                 # only when some class has a path
    statistics: Statistics | None = None           # written since statistics modes exist


# ---------------------------------------------------------------------------------------------- plot data

class Cdf(_Section):
    """The latency distribution of a class's measured, completed requests: latency ``latency_s`` at each
    quantile level ``q`` (pairs), and ``served_fraction`` (served / arrived; null: nothing arrived)."""

    q: list[Level]
    latency_s: list[NonNegative | None]
    served_fraction: Share | None

    @model_validator(mode="after")
    def _pairs(self) -> Self:
        if len(self.q) != len(self.latency_s):
            raise ValueError(f"{len(self.q)} levels q but {len(self.latency_s)} latencies")
        return self


class ClassSeriesOverTime(_Section):
    """Per window, over the requests of a class that *arrived* in it (warm-up included): p50/p99 latency of
    the served ones (null: none), ``arrived`` and ``failed``."""

    p50_s: list[NonNegative | None]
    p99_s: list[NonNegative | None]
    arrived: list[Count]
    failed: list[Count]


class ClassSeries(_Section):
    """``series.classes[]``: one request class's curves."""

    name: str
    cdf: Cdf
    over_time: ClassSeriesOverTime


class Queue(_Section):
    """Requests waiting for a service per window: time-average ``mean`` and the most at an instant."""

    mean: list[NonNegative | None]
    max: list[NonNegative | None]


class ServiceSeries(_Section):
    """``series.services[]``: one serving service's queue."""

    name: str
    queue: Queue


class Series(_Section):
    """``series`` (``run -o`` only): the plot data of `capacity.report.series`, windows over the whole run
    (``window_s`` wide, ``edges_s`` their bounds), lists in the scenario's order."""

    window_s: Positive | None
    edges_s: list[NonNegative] = Field(min_length=2)
    classes: list[ClassSeries]
    services: list[ServiceSeries]

    @model_validator(mode="after")
    def _one_value_per_window(self) -> Self:
        _non_decreasing(self.edges_s)
        lists: dict[str, Sequence[Any]] = {}
        for k, c in enumerate(self.classes):
            lists |= {f"classes.{k}.over_time.{key}": value for key, value in c.over_time}
        for k, s in enumerate(self.services):
            lists |= {f"services.{k}.queue.{key}": value for key, value in s.queue}
        _one_per_window(self.edges_s, lists)
        return self


class Input(_Section):
    """``input`` (``run -o`` only): the validated scenario as run (units parsed, after ``--set``), written
    as the digest sees it (`Scenario.canonical`)."""

    scenario: Scenario

    @field_serializer("scenario")
    def _canonical(self, scenario: Scenario) -> dict[str, Any]:
        return scenario.canonical()


# ---------------------------------------------------------------------------------------------- run, report

class RunTimes(_Section):
    """``run``: the fields that change from run to run: wall-clock seconds of each step and the start time
    (UTC, ISO 8601); two runs of one scenario and seed differ only here. ``placement_time_limit_reached``
    is true when the packer's search was cut by its time limit rather than ending on its work budgets or
    a proof: the plan then depends on the machine's speed (`capacity.packing.effort`)."""

    placement_solve_s: NonNegative
    placement_time_limit_reached: bool = False
    started_at: str | None = None              # absent when the caller gave no start time
    pack_s: NonNegative | None = None          # capacity.pipeline.run
    simulate_s: NonNegative | None = None      # capacity.pipeline.run
    compare_s: dict[str, NonNegative] | None = None    # plan --compare: seconds per method

    @field_validator("started_at")
    @classmethod
    def _iso_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("expected a time in ISO 8601, e.g. 2026-01-31T12:00:00+00:00") from None
        return value


class Report(_Section):
    """A whole report.json: what ``capacity run -o DIR`` writes (``plan``/``simulate --json`` write the same
    without ``input`` and ``series``; ``simulation`` is null for ``plan``)."""

    scenario: str
    provenance: Provenance
    placement: PlacementSection
    simulation: Simulation | None
    run: RunTimes
    compare: CompareSection | None = None      # plan --compare only
    input: Input | None = None                 # run -o only
    series: Series | None = None               # run -o only

    def document(self) -> dict[str, Any]:
        """report.json as JSON data: the keys this report holds (an optional key only once written), numbers
        as written; `capacity.report.writers.to_json` makes it the text."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)

    def without_runtime(self) -> dict[str, Any]:
        """`document` without ``run`` (the only fields that change between two runs of one scenario)."""
        return {key: value for key, value in self.document().items() if key != "run"}

    def in_scenario_order(self) -> Report:
        """This report with its by-name sections (pools; classes, tenants, services, replicas, pools of the
        simulation) in the scenario's order rather than the alphabetical order of a saved report.json (it
        sorts its keys). Unchanged without the echoed scenario (``input``)."""
        if self.input is None:
            return self
        scenario = self.input.scenario
        workload = scenario.workload.classes if scenario.workload is not None else []
        pools = [p.name for p in scenario.cluster.pools]
        update: dict[str, Any] = {"placement": self.placement.model_copy(
            update={"pools": _ordered(self.placement.pools, pools)})}
        if self.simulation is not None:
            sim = self.simulation
            classes = [c.name for c in self.series.classes] if self.series and self.series.classes else [
                c.name for c in workload]
            orders: dict[str, list[str]] = {
                "classes": classes,
                "tenants": list(dict.fromkeys(c.tenant for c in workload)),
                "services": [s.name for s in scenario.services],
                "replicas": [f"{s.name}-{i}" for s in scenario.services for i in range(s.replicas)],
                "pools": pools}
            update["simulation"] = sim.model_copy(
                update={key: _ordered(getattr(sim, key), order) for key, order in orders.items()})
        return self.model_copy(update=update)


def _ordered(mapping: dict[str, _T], order: Sequence[str]) -> dict[str, _T]:
    """``mapping`` with the names in ``order`` first, in that order, then the others as they come."""
    first = [k for k in order if k in mapping]
    return {**{k: mapping[k] for k in first}, **{k: v for k, v in mapping.items() if k not in first}}


def parse_report(data: Any) -> Report:
    """The `Report` of a decoded report.json; raises pydantic's `ValidationError` (see `error_line`)."""
    return Report.model_validate(data)


def as_model(report: Report | Mapping[str, Any]) -> Report:
    """``report`` itself, or the `Report` of report.json's data (`parse_report`)."""
    return report if isinstance(report, Report) else parse_report(report)


def _loc(loc: Sequence[int | str]) -> str:
    """``simulation.classes.chat.latency_s.p99``: list indices as numbers, odd keys quoted."""
    parts = []
    for part in loc:
        text = str(part)
        parts.append(text if text and text.isprintable() and "." not in text and " " not in text
                     else repr(text))
    return ".".join(parts) or "(top level)"


def error_line(exc: ValidationError) -> str:
    """The first problem of a validation error on one line: ``field.path: what is wrong``, and how many
    more there are."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    message = " ".join(str(first["msg"]).split())
    if not message.isprintable():
        message = repr(message)
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{_loc(first['loc'])}: {message}{more}"
