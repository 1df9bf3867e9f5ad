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
Every one of these defaults to the behaviour of a plain unbounded FIFO queue. ``admission`` says whether
an arrival is always queued (``accept``) or dropped when it cannot meet its class's SLO target
(``deadline``; a class may override it, see `capacity.sim.engine`).

**Token workloads.** A class that replays a trace (``process: trace``, `capacity.sim.traces`) takes each
request's input and output tokens from the trace; a synthetic class may draw them (``tokens``). A trace
class split among tenants becomes one class per tenant, each replaying its tenant's share of one replay
(``tenant_index``, drawn from the ``stream`` of the class it came from). A service's ``queue_cost`` says
what the fair disciplines charge a request: its service seconds or its input + output tokens.

A **failure** (`Failure`) is a what-if: at ``at_s`` the listed nodes go down and every replica on them
stops serving; the requests queued on or served by those replicas are retried on the service's other
replicas or lost, as the service's ``on_failure`` says; after ``recover_s`` (if given) the replicas come
back, empty. See `capacity.sim.failures`.

A replica may **batch** (`Batching`: dynamic or continuous, see `capacity.sim.batching`), and its
``speed`` (its pool's) divides every service time it runs. An **LLM engine** service (`LlmServing`, batching
mode ``llm``, `capacity.sim.llm_batching`) times its iterations from the model and the GPU of the pool each
replica is placed on (`Replica.gpu`), with a KV cache in blocks, chunked prefill and preemption.
A **token service** (``ServiceTime.dist == "tokens"``) takes ``base_s + in · per_input_token_s + out ·
per_output_token_s`` per request.

**Paths.** A class may travel through several services (``RequestClass.path``: `Visit`, `Parallel`,
`Repeat` stages, each hop with an optional network `Delay`); ``service`` is then its entry service and
`capacity.sim.journeys` runs it. A class may override a service's ``service_time``
(``RequestClass.service_times``).

Everything is in seconds; rates are per second. Every random draw comes from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from capacity.llm import Efficiency, GpuSpec, IterationModel, ModelSpec
from capacity.sim.traces import Trace

Dist = Literal["exponential", "deterministic", "lognormal"]
ServiceDist = Literal["exponential", "deterministic", "lognormal", "tokens"]
BatchMode = Literal["dynamic", "continuous", "llm"]
Process = Literal["poisson", "deterministic", "gamma", "onoff", "diurnal", "trace", "steps"]
Discipline = Literal["fifo", "priority", "preemptive", "fair", "drr", "priority-fair"]
Routing = Literal["central", "round-robin", "random", "least-outstanding", "power-of-two"]
Preemption = Literal["resume", "restart"]
QueueCost = Literal["time", "tokens"]
Admission = Literal["accept", "deadline"]
OnFailure = Literal["retry", "lost"]


@dataclass(frozen=True)
class ServiceTime:
    """How long work takes on a replica of speed 1 (seconds); see `capacity.sim.service_times`.

    A distribution (``dist``, ``mean_s``, ``cv``): each request draws its time. With dynamic batching the
    draw is the request's own part of its batch's latency, and a batch takes ``base_s`` + the sum of its
    requests' draws. ``dist="tokens"``: a request takes ``base_s + input_tokens · per_input_token_s +
    output_tokens · per_output_token_s`` (``mean_s`` is then filled in by the engine from the requests).
    """

    dist: ServiceDist
    mean_s: float = 0.0
    cv: float = 1.0                        # used by lognormal; exponential has cv 1, deterministic 0
    base_s: float = 0.0                    # dynamic batching: fixed part of a batch; tokens: of a request
    per_input_token_s: float = 0.0         # tokens: prefill time per input token
    per_output_token_s: float = 0.0        # tokens: time per output token (one decode step alone)

    @property
    def tokens(self) -> bool:
        """Whether a request's time comes from its token counts."""
        return self.dist == "tokens"


@dataclass(frozen=True)
class Batching:
    """How a replica batches requests; see `capacity.sim.batching`.

    ``dynamic``: a free slot takes up to ``max_size`` waiting requests as one batch, waiting up to
    ``max_delay_s`` after the oldest waiting request's arrival for a fuller one. ``continuous``: each slot
    runs iterations over a batch of up to ``max_size`` requests that join after their prefill and leave
    when their output is done; a decode step with ``b`` requests takes
    ``per_output_token_s · (1 + step_growth · (b − 1))``.
    """

    mode: BatchMode = "dynamic"
    max_size: int = 8
    max_delay_s: float = 0.0               # dynamic only
    step_growth: float = 0.0               # continuous only


@dataclass(frozen=True)
class LlmServing:
    """An LLM engine replica as vLLM runs it (`capacity.sim.llm_batching`); the defaults are vLLM's.

    ``model`` on ``tensor_parallel`` GPUs of its replica's pool (`Replica.gpu`), weights in ``dtype`` (None:
    the model's own), KV cache in ``kv_dtype``; ``gpu_memory_utilization``, ``block_size`` (tokens per KV
    block), ``max_num_seqs`` (requests in a running batch), ``max_num_batched_tokens`` (tokens one
    iteration processes), ``chunked_prefill``, ``watermark`` (the share of KV blocks admission keeps free).
    ``profile``: measured iteration times instead of the roofline (then a replica needs no GPU figures for
    its timing, but still for its KV cache); ``efficiency``: the roofline's efficiencies (None: defaults).
    """

    model: ModelSpec
    tensor_parallel: int = 1
    dtype: str | None = None
    kv_dtype: str = "auto"
    gpu_memory_utilization: float = 0.9
    block_size: int = 16
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    chunked_prefill: bool = True
    watermark: float = 0.01
    efficiency: Efficiency | None = None
    profile: IterationModel | None = None


@dataclass(frozen=True)
class Replica:
    name: str                              # "{service}-{i}"
    node: str
    pool: str
    speed: float = 1.0                     # the pool's speed: every service time here is divided by it
    gpu: GpuSpec | None = None             # the GPU of the pool's nodes (LLM engine services need it)


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
    batching: Batching | None = None       # dynamic or continuous batching (None: one request per slot)
    queue_cost: QueueCost = "time"         # fair disciplines charge service seconds, or input+output tokens
    admission: Admission = "accept"        # "deadline": drop an arrival that cannot meet its SLO target
    on_failure: OnFailure = "retry"        # what a failed replica's requests do: retried elsewhere or lost
    llm: LlmServing | None = None          # an LLM engine (batching mode "llm"): iterations from the hardware


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
    start_s: float = 0.0                   # diurnal: time of day at t = 0 (s since midnight);
                                           # trace: trace time at t = 0 (s on the trace's clock)
    trace: Trace | None = None             # trace: the recorded requests (read by the pipeline)
    time_scale: float = 1.0                # trace: run seconds per trace second (2: half the rate)
    rate_scale: float = 1.0                # trace: rate multiplier (thinning < 1, shifted copies > 1)
    tenant_weights: tuple[float, ...] | None = None  # trace: draw each request's tenant with these odds
    tenant_index: int | None = None        # trace: replay only this tenant's requests (None: all)
    stream: str | None = None              # the class name whose arrival stream is drawn (None: own)
    steps: tuple[tuple[float, float], ...] = ()  # steps: (from s, rate per s), the first at 0, increasing


@dataclass(frozen=True)
class TokenCount:
    """A distribution of token counts: drawn like a service time, rounded, clipped to ``[min, max]``."""

    dist: Dist
    mean: float                            # tokens (before rounding and clipping)
    cv: float = 1.0                        # used by lognormal
    min: int = 1
    max: int | None = None


@dataclass(frozen=True)
class Tokens:
    """Input (prompt) and output (generated) tokens per request, drawn independently."""

    input: TokenCount
    output: TokenCount


TokenMetric = Literal["ttft", "tpot"]


@dataclass(frozen=True)
class TokenSlo:
    """A target on a token timing of a class's requests: ``quantile`` of them must have their ``metric``
    (``ttft``: time to first token; ``tpot``: time per output token after the first) at most ``target_s``."""

    metric: TokenMetric
    target_s: float
    quantile: float


@dataclass(frozen=True)
class Delay:
    """A network delay on a hop (seconds): drawn like a service time (``deterministic``: fixed)."""

    dist: Dist
    mean_s: float
    cv: float = 1.0                        # used by lognormal


@dataclass(frozen=True)
class RepeatCount:
    """How many times a `Repeat` runs its stages: ``fixed`` (``mean`` times) or ``geometric`` (1, 2, ...
    with ``P(N = k) = (1 − p)^(k−1) p``, ``p = 1 / mean``: feedback that leaves after each pass with
    probability ``p``)."""

    dist: Literal["fixed", "geometric"]
    mean: float


@dataclass(frozen=True)
class Visit:
    """One visit to ``service``, after a network ``delay`` (None: none)."""

    service: str
    delay: Delay | None = None


@dataclass(frozen=True)
class Parallel:
    """Fork-join: every branch (a sequence of stages) starts at once; the request goes on when ``all``
    branches are done, or when the first one is (``any``; the others still run to the end)."""

    branches: tuple[tuple[Stage, ...], ...]
    wait: Literal["all", "any"] = "all"


@dataclass(frozen=True)
class Repeat:
    """``stages`` run in order, ``count`` times over (an agent's steps, a feedback loop)."""

    count: RepeatCount
    stages: tuple[Stage, ...]


Stage = Visit | Parallel | Repeat


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
    tokens: Tokens | None = None           # token counts of synthetic LLM requests (trace classes: None)
    admission: Admission | None = None     # overrides the service's admission for this class
    token_slos: tuple[TokenSlo, ...] = ()  # targets on TTFT and TPOT, besides the latency one
    path: tuple[Stage, ...] = ()           # the stages it travels through (empty: ``service`` alone);
                                           # ``service`` is then the path's entry service
    service_times: tuple[tuple[str, ServiceTime], ...] = ()  # (service, its time for this class)

    def service_time_at(self, service: ServingService) -> ServiceTime:
        """This class's service time at ``service``: its override there, else the service's own."""
        for name, st in self.service_times:
            if name == service.name:
                return st
        return service.service_time


@dataclass(frozen=True)
class Failure:
    """Nodes that go down at ``at_s`` (and come back ``recover_s`` later, if given): a what-if."""

    at_s: float                            # in [0, duration_s)
    nodes: tuple[str, ...]                 # the nodes that fail (a zone: every node of its pools)
    recover_s: float | None = None         # down for this long, then back (None: for the rest of the run)
    target: str = ""                       # what failed, for the report: "node gpu-2", "zone b"


@dataclass(frozen=True)
class SimModel:
    services: tuple[ServingService, ...]
    classes: tuple[RequestClass, ...]
    duration_s: float                      # arrivals happen in [0, duration_s)
    warmup_s: float = 0.0
    seed: int = 0
    failures: tuple[Failure, ...] = ()     # what-if node failures, in the order they are listed
    interval_s: float | None = None        # width of the report's time-series windows (None: 60 windows)
    # "exact" (every request's record; `capacity.sim.engine`) or "streaming" (`capacity.sim.streaming`)
    statistics: str = "exact"
