"""The ``workload``, ``scheduling``, ``failures`` and ``metrics`` sections: request classes (a
tenant's traffic to one service at a priority, arriving by a stochastic process or a trace, with an
optional latency SLO and token counts), the simulated duration and warm-up, the default routing and
discipline, what-if failures and the statistics' window width. Durations in seconds, rates per second.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from capacity.scenario.fields import (
    Duration,
    Float,
    Fraction,
    Int,
    Model,
    Name,
    OneOf,
    PositiveDuration,
    Rate,
)
from capacity.scenario.services import (
    DisciplineName,
    DistributionName,
    RoutingName,
    ServiceTime,
    effective_cv,
)
from capacity.sim.arrivals import ARRIVAL_PROCESSES
from capacity.sim.traces import TRACE_FORMATS
from capacity.units import parse_rate

#: An arrival process: a name of `capacity.sim.arrivals.ARRIVAL_PROCESSES`.
ArrivalProcessName = Annotated[str, OneOf(lambda: ARRIVAL_PROCESSES)]
#: A trace format: ``auto`` (told from the header) or a name of `capacity.sim.traces.TRACE_FORMATS`.
TraceFormatName = Annotated[str, OneOf(lambda: ["auto", *TRACE_FORMATS])]


class Step(Model):
    """One step of ``steps`` arrivals: from ``at`` on, Poisson arrivals at ``rate`` (0 allowed: quiet)."""

    at: Duration
    rate: Annotated[float, BeforeValidator(parse_rate), Field(ge=0)]


class Arrivals(Model):
    """How a class arrives: a process at a mean ``rate``, with the parameters of that process only.

    ``gamma``: ``cv`` of the gaps (required). ``onoff``: mean ``on`` and ``off`` periods (required; ``rate``
    is the long-run mean). ``diurnal``: ``amplitude`` (required), ``period`` (24h), ``peak_at`` (time of day
    of the peak, 14h) and ``start`` (time of day at t = 0, 0 = midnight). See `capacity.sim.arrivals`.
    ``trace`` (no ``rate``: the trace has its own): ``file`` (required; a relative path is relative to the
    scenario file's folder), ``format`` (auto | azure | plain), ``time_scale`` and ``rate_scale`` (1) and
    ``start`` (the trace time replayed at t = 0). See `capacity.sim.traces`. ``steps`` (no ``rate``):
    ``steps: [{at: 0s, rate: 20/s}, {at: 1h, rate: 60/s}]``, the first at 0, each ``at`` after the one
    before; Poisson within each step.
    """

    added_fields = frozenset({"steps"})

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
    format: TraceFormatName | None = None
    time_scale: Float | None = Field(default=None, gt=0, le=1e6)
    rate_scale: Float | None = Field(default=None, gt=0, le=1000)
    steps: list[Step] | None = Field(default=None, min_length=1, max_length=10_000)


#: SLO keys and the quantile each one stands for.
SLO_QUANTILES: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


class Target(Model):
    """A target on one timing: exactly one of p50, p90, p95, p99, p999 (a duration)."""

    p50: PositiveDuration | None = None
    p90: PositiveDuration | None = None
    p95: PositiveDuration | None = None
    p99: PositiveDuration | None = None
    p999: PositiveDuration | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
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


class SLO(Model):
    """A class's objectives: a latency target as one of p50, p90, p95, p99, p999 (``slo: {p99: 200ms}``), or
    several targets by timing — ``latency`` (arrival to last token or completion), ``ttft`` (time to first
    token) and ``tpot`` (time per output token after the first), each a `Target`
    (``slo: {ttft: {p99: 2s}, tpot: {p99: 50ms}}``). Reports and sizing use them all; goodput counts the
    requests that meet every one."""

    added_fields = frozenset({"latency", "ttft", "tpot"})

    p50: PositiveDuration | None = None
    p90: PositiveDuration | None = None
    p95: PositiveDuration | None = None
    p99: PositiveDuration | None = None
    p999: PositiveDuration | None = None
    latency: Target | None = None
    ttft: Target | None = None
    tpot: Target | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SLO:
        given = [k for k in SLO_QUANTILES if getattr(self, k) is not None]
        named = [k for k in ("latency", "ttft", "tpot") if getattr(self, k) is not None]
        if given and named:
            raise ValueError(f"give the latency target as latency: {{{given[0]}: ...}} beside {named[0]}")
        if not named and len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SLO_QUANTILES)} (got {len(given)}), or targets "
                             "by timing: latency, ttft, tpot")
        return self

    @property
    def latency_target(self) -> Target | None:
        """The latency target, whichever way it was written (None without one)."""
        if self.latency is not None:
            return self.latency
        given = {k: getattr(self, k) for k in SLO_QUANTILES if getattr(self, k) is not None}
        return Target(**given) if given else None

    @property
    def key(self) -> str:
        target = self.latency_target
        assert target is not None, "an SLO without a latency target has no key"
        return target.key

    @property
    def quantile(self) -> float:
        return SLO_QUANTILES[self.key]

    @property
    def target_s(self) -> float:
        target = self.latency_target
        assert target is not None, "an SLO without a latency target has no target_s"
        return target.target_s


class TokenCount(Model):
    """Token counts of synthetic requests: a distribution with a ``mean`` (tokens), rounded to whole
    tokens and clipped to ``[min, max]``."""

    dist: DistributionName = "exponential"
    mean: Float = Field(gt=0, le=1e9)
    cv: Float | None = Field(default=None, ge=0, le=100)
    min: Int = Field(default=1, ge=0)
    max: Int | None = Field(default=None, ge=1)

    @property
    def effective_cv(self) -> float:
        """The coefficient of variation drawn with (see `capacity.scenario.services.effective_cv`)."""
        return effective_cv(self.dist, self.cv)


class Tokens(Model):
    """Input (prompt) and output (generated) tokens of each request of a synthetic class."""

    input: TokenCount
    output: TokenCount


class TenantSplit(Model):
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


class HopDelay(Model):
    """A network delay on a hop: ``{dist, mean, cv}`` (deterministic unless ``dist`` says), or a bare
    duration (fixed)."""

    dist: Literal["exponential", "deterministic", "lognormal"] = "deterministic"
    mean: Duration
    cv: Float | None = Field(default=None, ge=0, le=100)

    @property
    def effective_cv(self) -> float:
        return {"exponential": 1.0, "deterministic": 0.0}.get(self.dist, 1.0 if self.cv is None else self.cv)


def _delay(value: object) -> object:
    return value if isinstance(value, dict) else {"mean": value}


class VisitStage(Model):
    """A visit to ``service`` (a bare service name is one), after an optional network ``delay``."""

    service: Name
    delay: Annotated[HopDelay, BeforeValidator(_delay, json_schema_input_type=Duration | HopDelay)] | None = (
        None)


class RepeatCount(Model):
    """A random repeat count: ``geometric`` with mean ``mean`` (1, 2, ...: feedback)."""

    dist: Literal["geometric"] = "geometric"
    mean: Float = Field(ge=1, le=100)


def _stage_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "visit"
    if isinstance(value, dict):
        return next((k for k in ("parallel", "repeat") if k in value), "visit")
    model: type[Model]
    for kind, model in (("visit", VisitStage), ("parallel", ParallelStage), ("repeat", RepeatStage)):
        if isinstance(value, model):
            return kind
    return None


def _visit(value: object) -> object:
    return {"service": value} if isinstance(value, str) else value


Stage = Annotated[
    Annotated[Annotated["VisitStage", BeforeValidator(_visit, json_schema_input_type=Name | VisitStage)],
              Tag("visit")]
    | Annotated["ParallelStage", Tag("parallel")]
    | Annotated["RepeatStage", Tag("repeat")],
    Discriminator(_stage_kind),
]


def _branch(value: object) -> object:
    return value if isinstance(value, list) else [value]


Branch = Annotated[list[Stage], BeforeValidator(_branch, json_schema_input_type=list[Stage] | Stage),
                   Field(min_length=1, max_length=256)]


class ParallelStage(Model):
    """Fork-join: each branch (a stage, or a list of stages run in order) starts at once; the request
    goes on when ``all`` are done, or the first one is (``any``)."""

    parallel: list[Branch] = Field(min_length=1, max_length=64)
    wait: Literal["all", "any"] = "all"


class RepeatStage(Model):
    """``path`` run ``repeat`` times over: a whole number, or ``{dist: geometric, mean: M}``."""

    repeat: Annotated[Int, Field(ge=1, le=10_000)] | RepeatCount
    path: list[Stage] = Field(min_length=1, max_length=256)


ParallelStage.model_rebuild()
RepeatStage.model_rebuild()


def first_service(stages: list[Any]) -> str | None:
    """The first service a path (raw or parsed) visits, None if it has none."""
    for stage in stages:
        if isinstance(stage, str):
            return stage
        if isinstance(stage, VisitStage):
            return stage.service
        if isinstance(stage, ParallelStage):
            return first_service(stage.parallel[0]) if stage.parallel else None
        if isinstance(stage, RepeatStage):
            return first_service(stage.path)
        if isinstance(stage, dict):
            if "service" in stage:
                return stage["service"] if isinstance(stage["service"], str) else None
            inner = stage.get("parallel") or stage.get("path")
            if isinstance(inner, list) and inner:
                head = inner[0] if "parallel" in stage else inner
                return first_service(head if isinstance(head, list) else [head])
        return None
    return None


def _service_or_path(schema: dict[str, Any]) -> None:
    """The file's schema: ``service`` may be left out when ``path`` is given (the loader fills it in)."""
    schema["required"] = [k for k in schema.get("required", []) if k != "service"]
    schema["anyOf"] = [{"required": ["service"]}, {"required": ["path"]}]


class RequestClass(Model):
    """``service``: the one service a request visits; or ``path``: the stages it travels through
    (`capacity.sim.paths`; ``service`` may then be left out: it is the path's first service).
    ``service_times``: this class's own service time at some services (a distribution)."""

    model_config = ConfigDict(**Model.model_config, json_schema_extra=_service_or_path)
    added_fields = frozenset({"path", "service_times"})

    @model_validator(mode="before")
    @classmethod
    def _service_from_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and "service" not in data and isinstance(data.get("path"), list):
            first = first_service(data["path"])
            if first is not None:
                data = {**data, "service": first}
        return data

    name: Name
    service: Name
    path: list[Stage] | None = Field(default=None, min_length=1, max_length=256)
    service_times: dict[Name, ServiceTime] | None = Field(default=None, min_length=1, max_length=256)
    priority: Int = Field(default=0, ge=0, le=1000)
    tenant: Name = "default"
    weight: Float = Field(default=1.0, gt=0)
    arrivals: Arrivals
    slo: SLO | None = None
    admission: AdmissionName | None = None                 # overrides the service's queue.admission
    tokens: Tokens | None = None                           # synthetic token counts (a trace has its own)
    tenants: TenantSplit | None = None                     # trace classes: split among tenants


class Workload(Model):
    added_fields = frozenset({"statistics"})

    duration: PositiveDuration
    warmup: Duration = 0.0
    classes: list[RequestClass] = Field(default_factory=list)
    # exact: every request's record, numpy percentiles; streaming: bounded memory, sketched quantiles
    # (capacity.sim.streaming); auto: exact up to capacity.limits.AUTO_STREAMING_ABOVE expected requests
    statistics: Literal["exact", "streaming", "auto"] = "auto"


class Scheduling(Model):
    routing: RoutingName = "central"
    discipline: DisciplineName = "fifo"
    on_failure: OnFailureName = "retry"                    # default for services that name none


class Failure(Model):
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


class Metrics(Model):
    """Options of the simulation's statistics: ``interval``, the width of the time-series windows
    (default: the statistics window in 60 equal windows)."""

    interval: PositiveDuration | None = None
