"""The ``services`` section: what runs, how many replicas and what each requests, where it may be placed
(pools, node selector, spread, survive, pod (anti-)affinity), how one replica serves requests (``serving``:
slots, service time, batching, queue, cold start) and its replica autoscaler (``autoscaling``: simulated
when it names a metric and a target and the service serves; see `capacity.autoscaling`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from capacity.autoscaling.registry import POLICIES
from capacity.llm import MODELS, ModelSpec
from capacity.scenario.fields import (
    Duration,
    Float,
    Fraction,
    Int,
    LabelKey,
    Model,
    Name,
    OneOf,
    PositiveDuration,
    Quantity,
    ResourceName,
    name_or_figures,
)
from capacity.sim.disciplines import DISCIPLINES
from capacity.sim.routing import ROUTINGS
from capacity.sim.service_times import SERVICE_TIMES
from capacity.units import parse_duration, parse_fraction, parse_rate

#: A service-time distribution: a name of `capacity.sim.service_times.SERVICE_TIMES`.
DistributionName = Annotated[str, OneOf(lambda: SERVICE_TIMES)]
#: A batching mode: the names of `capacity.sim.batching.BATCHERS`, written out because that module runs
#: the simulator (SimPy), which loading a scenario does not import; tests/test_registries.py checks them.
BatchMode = Literal["dynamic", "continuous"]


def effective_cv(distribution: str, cv: float | None) -> float:
    """The coefficient of variation a ``distribution`` draws with: its own when it has one
    (`capacity.sim.service_times` ``fixed_cv``: exponential 1, deterministic 0), else ``cv`` (default 1)."""
    fixed = SERVICE_TIMES[distribution].fixed_cv
    if fixed is not None:
        return fixed
    return 1.0 if cv is None else cv


class ServiceTime(Model):
    """How long work takes on a replica of speed 1, in one of three forms told apart by their keys:

    * a **distribution** ``{dist, mean, cv}``: each request draws its time (dist defaults to exponential);
    * a **batch latency** ``{base, per_item, dist, cv}`` (with dynamic batching): a batch of ``k`` requests
      takes ``base`` plus each request's own time, drawn from ``dist`` with mean ``per_item``
      (deterministic by default: exactly ``base + per_item · k``);
    * a **token time** ``{base, per_input_token, per_output_token}``: a request with ``in`` input and
      ``out`` output tokens takes ``base + in · per_input_token + out · per_output_token``.
    """

    dist: DistributionName | None = None
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
    def distribution(self) -> str:
        """The distribution drawn per request (the default depends on the form)."""
        if self.dist is not None:
            return self.dist
        return "deterministic" if self.form == "batch" else "exponential"

    @property
    def effective_cv(self) -> float:
        """The coefficient of variation drawn with: the distribution's own when it has one (exponential
        1, deterministic 0), else ``cv`` (default 1)."""
        return effective_cv(self.distribution, self.cv)


class Batching(Model):
    """How a replica batches requests (see `capacity.sim.batching`).

    ``dynamic`` (Triton-style; needs a batch-latency service time): a free slot takes up to ``max_size``
    waiting requests at once, waiting up to ``max_delay`` after the oldest one arrived for a fuller batch.
    ``continuous`` (vLLM-style; needs a token service time): each slot runs prefill and decode iterations
    over up to ``max_size`` requests, which join between iterations and leave when their output is done;
    a decode step of ``b`` requests takes ``per_output_token · (1 + step_growth · (b − 1))``.
    """

    mode: BatchMode = "dynamic"
    max_size: Int = Field(ge=1, le=100_000)
    max_delay: Duration | None = None                      # dynamic (default 0: no waiting for more)
    step_growth: Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, le=100)] | None = None
    # continuous: how much longer a decode step gets per extra request (4% or 0.04; default 0)


#: A queue discipline: a name of `capacity.sim.disciplines.DISCIPLINES`.
DisciplineName = Annotated[str, OneOf(lambda: DISCIPLINES)]
#: A routing: a name of `capacity.sim.routing.ROUTINGS`.
RoutingName = Annotated[str, OneOf(lambda: ROUTINGS)]


class Queue(Model):
    """The queue in front of a service (or of each replica, with per-replica routing)."""

    discipline: DisciplineName | None = None
    max_length: Int | None = Field(default=None, ge=0)     # waiting places; a full queue rejects
    timeout: PositiveDuration | None = None                # a request still waiting this long leaves
    preemption: Literal["resume", "restart"] = "resume"    # what an interrupted request does
    admission: Literal["accept", "deadline"] = "accept"    # deadline: drop arrivals that would miss the SLO
    cost: Literal["time", "tokens"] = "time"               # what fair/drr/priority-fair charge a request


class ColdStart(Model):
    """A cold start drawn per new replica: ``dist`` (exponential, lognormal with ``cv``) of mean ``mean``."""

    dist: Literal["deterministic", "exponential", "lognormal"] = "deterministic"
    mean: Duration
    cv: Float | None = Field(default=None, ge=0, le=100)


def _catalogue_model(name: str) -> str:
    if name.lower() not in MODELS:
        raise ValueError(f"unknown model {name!r}: the catalogue has {', '.join(sorted(MODELS))}; or give "
                         "the figures (name, layers, hidden_size, intermediate_size, attention_heads, ...)")
    return name.lower()


ModelName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_catalogue_model)]
LlmModel = Annotated[Annotated[ModelName, Tag("catalogue-name")] | Annotated[ModelSpec, Tag("figures")],
                     Discriminator(name_or_figures)]

#: vLLM's engine-argument defaults (https://docs.vllm.ai/en/latest/configuration/engine_args.html):
#: ``--gpu-memory-utilization`` 0.9, ``--block-size`` 16, ``--max-num-seqs`` 256 (V0; V1 raises it on large
#: GPUs), ``--max-num-batched-tokens`` 8192 for the OpenAI server with chunked prefill, chunked prefill on
#: (V1's default), ``--dtype auto`` (the model's format), ``--kv-cache-dtype auto`` (the activation format).
LLM_DEFAULTS = {"gpu_memory_utilization": 0.9, "block_size": 16, "max_num_seqs": 256,
                "max_num_batched_tokens": 8192, "chunked_prefill": True}


class Llm(Model):
    """An LLM engine replica as vLLM runs it (`capacity.sim.llm_batching`): ``model`` (a catalogue name or
    its figures, `capacity.llm.ModelSpec`) on ``tensor_parallel`` GPUs of the pool it is placed on, with
    vLLM's settings (`LLM_DEFAULTS` when absent). Its iteration times come from the GPU and the model
    (roofline), so the service needs no ``service_time`` or ``batching``."""

    model: LlmModel
    tensor_parallel: Int = Field(default=1, ge=1, le=64)
    dtype: Literal["bf16", "fp16", "fp8"] | None = None    # weights (default: the model's own)
    kv_dtype: Literal["auto", "bf16", "fp16", "fp8"] = "auto"
    gpu_memory_utilization: Float = Field(default=0.9, gt=0, le=1)
    block_size: Int = Field(default=16, ge=1, le=1024)
    max_num_seqs: Int = Field(default=256, ge=1, le=100_000)
    max_num_batched_tokens: Int = Field(default=8192, ge=1, le=10_000_000)
    chunked_prefill: bool = True

    @property
    def model_spec(self) -> ModelSpec:
        """The `capacity.llm.ModelSpec` of ``model``."""
        return MODELS[self.model] if isinstance(self.model, str) else self.model


class Serving(Model):
    """How one replica serves requests: ``concurrency`` slots, each holding a request for a service time;
    or, with ``llm``, one LLM engine whose times come from its GPU. ``cold_start``: how long a replica added
    during an autoscaled run takes from created (placed on a node, holding its resources) to ready: a
    duration, or a distribution `ColdStart` (default 0)."""

    added_fields = frozenset({"cold_start", "llm"})

    concurrency: Int = Field(default=1, ge=1, le=100_000)
    service_time: ServiceTime | None = None                # required unless llm
    batching: Batching | None = None                       # dynamic or continuous batching
    llm: Llm | None = None                                 # an LLM engine (no service_time, no batching)
    queue: Queue = Field(default_factory=Queue)
    routing: RoutingName | None = None                     # defaults to scheduling.routing
    on_failure: Literal["retry", "lost"] | None = None     # defaults to scheduling.on_failure
    cold_start: Duration | ColdStart | None = None         # autoscaled runs: created → ready

    @model_validator(mode="after")
    def _times(self) -> Serving:
        if self.llm is None and self.service_time is None:
            raise ValueError("give a service_time, or llm: {model: ...} for an LLM engine")
        return self

    @property
    def times(self) -> ServiceTime:
        """The service time (a service with ``llm`` has none: an empty token time, its engine times it)."""
        return self.service_time if self.service_time is not None else ServiceTime(per_output_token=0.0)


class Spread(Model):
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


class PodAffinityTerm(Model):
    """A required pod (anti-)affinity term: the replicas of ``service`` in the domains of ``topology`` (a
    pool label, or ``kubernetes.io/hostname``: each node). See `capacity.packing.problem`."""

    service: Name
    topology: LabelKey = "kubernetes.io/hostname"


class Survive(Model):
    """After losing any one node (or zone), at least ``keep`` of the service's replicas remain."""

    failures: Literal["1 node", "1 zone"]
    keep: Fraction
    topology: LabelKey | None = None                       # the zone label (failures: 1 zone); "zone"


def target_value(value: object) -> float:
    """An autoscaling target: ``70%`` (a utilisation), ``40/s`` (a rate) or a plain number."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return parse_fraction(value)
    return parse_rate(value)


class ScalingPolicy(Model):
    """One HPA ``behavior`` policy: change at most ``value`` pods (``Pods``) or percent (``Percent``) of the
    replicas within ``period`` (Kubernetes: 1 s to 30 min)."""

    type: Literal["Pods", "Percent"]
    value: Int = Field(ge=1, le=1_000_000)
    period: Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=1800)]


class ScalingRules(Model):
    """One direction of an HPA ``behavior``: ``stabilization`` window (0 to 1 h), ``policies``, ``select``
    (Max, Min, Disabled). Unset keys take Kubernetes' defaults for the direction."""

    stabilization: Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=3600)] | None = None
    policies: list[ScalingPolicy] | None = Field(default=None, min_length=1, max_length=10)
    select: Literal["Max", "Min", "Disabled"] | None = None


class Behavior(Model):
    """The HPA's ``behavior`` (``scaleUp``/``scaleDown``)."""

    scale_up: ScalingRules | None = None
    scale_down: ScalingRules | None = None


HPA_ONLY = ("sync", "tolerance", "behavior")
KPA_ONLY = ("panic_window", "panic_threshold", "target_utilisation", "scale_to_zero_grace")
Share = Annotated[float, BeforeValidator(parse_fraction), Field(gt=0, le=1)]


class Autoscaling(Model):
    """A service's replica autoscaler (``import-k8s`` fills it from a HorizontalPodAutoscaler or a KServe
    component). With a ``metric`` and a ``target``, and ``serving``, the simulation scales the service
    (`capacity.autoscaling`); a range alone is data only. The plan places ``replicas``, the count at 0.

    ``metric`` and ``target``: ``utilisation`` (busy share of a replica, a fraction: ``70%`` or ``0.7``;
    may exceed 1 as a Kubernetes utilisation of the request may), ``concurrency`` (requests in flight per
    replica), ``rps`` (requests per second per replica, ``40/s`` or ``40``), ``queue`` (waiting requests
    per replica). ``policy``: ``hpa`` (Kubernetes' HorizontalPodAutoscaler) or ``kpa`` (Knative's pod
    autoscaler, KServe's serverless mode). ``window``: the metric's averaging window (hpa 15 s; kpa: the
    stable window, 60 s). hpa only: ``sync`` (15 s), ``tolerance`` (10 %), ``behavior``. kpa only:
    ``panic_window`` (share of the stable window, 10 %), ``panic_threshold`` (200 %),
    ``target_utilisation`` (70 %), ``scale_to_zero_grace`` (30 s).
    """

    added_fields = frozenset({"window", *HPA_ONLY, *KPA_ONLY})

    min: Int = Field(ge=0, le=1_000_000)
    max: Int = Field(ge=1, le=1_000_000)
    metric: Literal["concurrency", "rps", "utilisation", "queue"] | None = None
    target: Annotated[float, BeforeValidator(target_value), Field(gt=0)] | None = None
    policy: Annotated[str, OneOf(lambda: POLICIES)] = "hpa"          # capacity.autoscaling POLICIES
    window: Annotated[float, BeforeValidator(parse_duration), Field(ge=1, le=86_400)] | None = None
    sync: Annotated[float, BeforeValidator(parse_duration), Field(ge=1, le=3600)] | None = None
    tolerance: Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, lt=1)] | None = None
    behavior: Behavior | None = None
    panic_window: Share | None = None
    panic_threshold: Annotated[float, BeforeValidator(parse_fraction), Field(gt=1, le=10)] | None = None
    target_utilisation: Share | None = None
    scale_to_zero_grace: Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=3600)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if (self.metric is None) != (self.target is None):
            raise ValueError("metric and target go together (give both, or neither for a range only)")
        other = KPA_ONLY if self.policy == "hpa" else HPA_ONLY
        given = [key for key in other if getattr(self, key) is not None]
        if given:
            raise ValueError(f"{given[0]} applies to policy {'kpa' if self.policy == 'hpa' else 'hpa'}, "
                             f"not {self.policy}")
        return self

    @property
    def simulated(self) -> bool:
        """Whether the simulation scales the service (a metric and a target, not a range only)."""
        return self.metric is not None and self.target is not None


class Service(Model):
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
    autoscaling: Autoscaling | None = None                 # the replica autoscaler (capacity.autoscaling)
    anti_affinity: list[PodAffinityTerm] | None = Field(default=None, min_length=1, max_length=100)
    affinity: list[PodAffinityTerm] | None = Field(default=None, min_length=1, max_length=100)
