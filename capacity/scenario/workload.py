"""The ``workload``, ``scheduling``, ``failures`` and ``metrics`` sections: request classes (a
tenant's traffic to one service at a priority, arriving by a stochastic process or a trace, with an
optional latency SLO and token counts), the simulated duration and warm-up, the default routing and
discipline, what-if failures and the statistics' window width. Durations in seconds, rates per second.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, model_validator

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
from capacity.scenario.services import DisciplineName, DistributionName, RoutingName, effective_cv
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


class RequestClass(Model):
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


class Workload(Model):
    duration: PositiveDuration
    warmup: Duration = 0.0
    classes: list[RequestClass] = Field(default_factory=list)


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
