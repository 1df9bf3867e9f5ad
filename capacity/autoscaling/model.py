"""What an autoscaled run is given, as plain data (no scenario file): per service, its replica autoscaler;
per pool, its node autoscaler; and the cluster's nodes at time 0.

* `ServiceScaling` — one service's replica autoscaler: ``policy`` (a name of `capacity.autoscaling.POLICIES`:
  ``hpa``, ``kpa``), the replica range ``[min, max]``, the ``metric`` it watches and its per-replica
  ``target``, the averaging ``window_s``, the policy's own settings (``hpa``: `HpaSettings`; ``kpa``:
  `KpaSettings`), the replica's ``cold_start`` (`ColdStart`: created → ready), and what one replica asks of
  a node (``demand``, the pools it may use, ``max_per_node``).
* `PoolScaling` — one pool's node autoscaler (Cluster Autoscaler / Karpenter): ``min`` and ``max`` nodes,
  ``provision_s`` (a new node is schedulable that long after it is asked for), ``scale_down_after_s`` (an
  underused node is removed once it has been unneeded that long), ``utilisation_threshold``.
* `ClusterSpec` — every pool (capacity after headroom, hourly cost, node autoscaling or None: a fixed pool
  keeps the plan's nodes), the nodes of the plan at time 0, the node-pool ``expander`` (a name of
  `capacity.autoscaling.EXPANDERS`) and the scheduler's scoring (``least-allocated`` or ``most-allocated``,
  as `capacity.packing.baselines.KubeScheduler`).

**Metrics** (each per *ready* replica, sampled every ``sample_s`` and averaged over ``window_s``):
``utilisation`` — busy slots / (ready replicas × concurrency); ``concurrency`` — requests in the service
(in service, queued, and held by the activator) / ready replicas; ``queue`` — waiting requests / ready
replicas; ``rps`` — arrivals per second over the window / ready replicas.

Times are seconds; resources in the packer's units (CPU cores, memory bytes, GPUs); cost per node-hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from capacity.llm import GpuSpec

Metric = Literal["concurrency", "rps", "utilisation", "queue"]
METRICS: tuple[Metric, ...] = ("concurrency", "rps", "utilisation", "queue")
Scoring = Literal["least-allocated", "most-allocated"]


@dataclass(frozen=True)
class ColdStart:
    """How long a new replica takes from created (placed on a node) to ready: ``mean_s`` fixed
    (``dist="deterministic"``), or drawn per replica (``exponential``, ``lognormal`` with ``cv``)."""

    mean_s: float = 0.0
    dist: Literal["deterministic", "exponential", "lognormal"] = "deterministic"
    cv: float = 0.0


@dataclass(frozen=True)
class ScalingPolicy:
    """One HPA scaling policy (``behavior.scaleUp/scaleDown.policies[]``): change at most ``value`` pods
    (``type="Pods"``) or ``value`` percent (``"Percent"``) of the replicas within ``period_s``."""

    type: Literal["Pods", "Percent"]
    value: int
    period_s: float


@dataclass(frozen=True)
class ScalingRules:
    """One direction of an HPA's ``behavior``: a stabilization window, the policies and how to pick
    among them (``Max``: the largest change, ``Min``: the smallest, ``Disabled``: no change)."""

    stabilization_s: float
    policies: tuple[ScalingPolicy, ...]
    select: Literal["Max", "Min", "Disabled"] = "Max"


HPA_SCALE_UP = ScalingRules(0.0, (ScalingPolicy("Percent", 100, 15.0), ScalingPolicy("Pods", 4, 15.0)))
"""Kubernetes' default scale-up behavior: no stabilization, at most max(100 %, 4 pods) per 15 s."""
HPA_SCALE_DOWN = ScalingRules(300.0, (ScalingPolicy("Percent", 100, 15.0),))
"""Kubernetes' default scale-down behavior: 300 s stabilization, at most 100 % per 15 s."""


@dataclass(frozen=True)
class HpaSettings:
    """The HorizontalPodAutoscaler's settings (defaults: the controller's, see `capacity.autoscaling.hpa`)."""

    sync_s: float = 15.0  # --horizontal-pod-autoscaler-sync-period
    tolerance: float = 0.1  # --horizontal-pod-autoscaler-tolerance
    scale_up: ScalingRules = HPA_SCALE_UP
    scale_down: ScalingRules = HPA_SCALE_DOWN


@dataclass(frozen=True)
class KpaSettings:
    """Knative's pod autoscaler settings (``config-autoscaler``'s defaults; `capacity.autoscaling.kpa`)."""

    tick_s: float = 2.0  # tick-interval
    stable_window_s: float = 60.0  # stable-window
    panic_window_fraction: float = 0.1  # panic-window-percentage: 10 %
    panic_threshold: float = 2.0  # panic-threshold-percentage: 200 %
    target_utilisation: float = 0.7  # container-concurrency-target-percentage: 70 %
    scale_to_zero_grace_s: float = 30.0  # scale-to-zero-grace-period
    max_scale_up_rate: float = 1000.0  # max-scale-up-rate
    max_scale_down_rate: float = 2.0  # max-scale-down-rate


@dataclass(frozen=True)
class ServiceScaling:
    """One service's replica autoscaler (see the module docstring)."""

    service: str
    policy: str
    min: int
    max: int
    metric: Metric
    target: float  # per replica, in the metric's unit
    demand: dict[str, float]  # what one replica requests of a node
    window_s: float | None = None  # None: the policy's default (hpa 15 s; kpa its stable window)
    pools: tuple[str, ...] | None = None  # the pools it may run on (None: any that has its resources)
    max_per_node: int | None = None
    cold_start: ColdStart = ColdStart()
    hpa: HpaSettings = HpaSettings()
    kpa: KpaSettings = KpaSettings()


@dataclass(frozen=True)
class PoolScaling:
    """One pool's node autoscaler (see the module docstring)."""

    min: int = 0
    max: int = 0
    provision_s: float = 0.0
    scale_down_after_s: float = 600.0  # Cluster Autoscaler --scale-down-unneeded-time
    utilisation_threshold: float = 0.5  # Cluster Autoscaler --scale-down-utilization-threshold


@dataclass(frozen=True)
class PoolSpec:
    """A pool: its node's usable capacity (after headroom), hourly cost, and node autoscaling (None:
    fixed, the plan's nodes)."""

    name: str
    capacity: dict[str, float]
    cost: float = 0.0
    autoscaling: PoolScaling | None = None
    speed: float = 1.0  # divides the service times of the replicas on its nodes
    gpu: GpuSpec | None = None  # the GPU of its nodes (LLM engine replicas time their iterations on it)


@dataclass(frozen=True)
class ClusterSpec:
    """The pools, the plan's nodes at time 0 (``(node, pool)``), and how new replicas and nodes are chosen."""

    pools: tuple[PoolSpec, ...]
    nodes: tuple[tuple[str, str], ...]
    demands: dict[str, dict[str, float]] = field(default_factory=dict)  # every service's replica request
    expander: str = "least-waste"
    scoring: Scoring = "least-allocated"
    scan_s: float = 10.0  # Cluster Autoscaler --scan-interval


@dataclass(frozen=True)
class AutoscalingModel:
    """Everything the autoscaled run needs besides the `capacity.sim.SimModel`."""

    services: tuple[ServiceScaling, ...]
    cluster: ClusterSpec
    sample_s: float = 1.0  # how often the metrics are sampled
