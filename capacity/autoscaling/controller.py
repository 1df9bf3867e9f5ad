"""The autoscaling loop inside a run: a `capacity.sim.Controller` that scales replicas and nodes.

`AutoscaleController.start` (called by the engine before the first arrival) sets up, on the simulation
clock:

* **sampling** every ``sample_s`` (from time 0): each autoscaled service's load
  (`capacity.autoscaling.metrics.LoadSamples`);
* per autoscaled service, its **scaler** (`capacity.autoscaling.POLICIES`) every ``interval_s``; a change of
  the replica count is a **scale event** ``(t, from, to)``. Up: new replicas are created, each placed by
  the scheduler (`capacity.autoscaling.cluster.Cluster.place`) and then *starting* for its cold start
  (drawn per replica from the service's own stream), or *pending* until a node can take it. Down: replicas
  are removed in Kubernetes' ReplicaSet order (``controller_utils.go``, ``ActivePodsWithRanks``):
  pending first, then starting, then ready; among those, the ones on a node with more replicas of the
  service first, then the newest. A started replica is drained (it finishes what it holds);
* the **node autoscaler** every ``scan_s`` (`Cluster.scale_up`, `Cluster.scale_down`); a new node
  becomes schedulable after its provisioning, and the pending replicas are placed then;
* under ``kpa`` the **activator**: arrivals while no replica is ready are held and the scaler is poked.

Within one instant: completions first, then the controller's actions in the order they were scheduled
(samples before decisions, both at the same times when the intervals are multiples of ``sample_s``),
then arrivals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from capacity.autoscaling.cluster import Cluster, Node, Pod
from capacity.autoscaling.metrics import ArrivalFeed, LoadSamples
from capacity.autoscaling.model import AutoscalingModel, ColdStart, ServiceScaling
from capacity.autoscaling.policies import Recommendation, Scaler, ScaleView
from capacity.autoscaling.registry import POLICIES
from capacity.sim.model import Replica, SimModel
from capacity.sim.replicas import ReplicaState, ServingReplica
from capacity.sim.runtime import RunControl, ServiceRuntime
from capacity.sim.streams import COLD_START_STREAM, class_rng


@dataclass(frozen=True)
class ScaleEvent:
    """One change of a service's replica count by its autoscaler."""

    t_s: float
    from_: int
    to: int
    metric: float | None
    reason: str


def draw_cold_start(spec: ColdStart, rng: np.random.Generator) -> float:
    """One replica's cold start (s)."""
    if spec.dist == "deterministic" or spec.mean_s <= 0:
        return spec.mean_s
    if spec.dist == "exponential":
        return float(rng.exponential(spec.mean_s))
    sigma2 = float(np.log1p(spec.cv**2))
    return float(rng.lognormal(np.log(spec.mean_s) - sigma2 / 2, np.sqrt(sigma2)))


@dataclass
class ServiceLoop:
    """One autoscaled service during the run: its runtime, samples, scaler, pods and history."""

    spec: ServiceScaling
    runtime: ServiceRuntime
    samples: LoadSamples
    scaler: Scaler
    rng: np.random.Generator
    pods: dict[str, Pod] = field(default_factory=dict)  # by replica name, not stopped
    events: list[ScaleEvent] = field(default_factory=list)
    pending: list[tuple[float, int]] = field(default_factory=list)  # (t, pending replicas) on change
    serial: int = 0
    cold_starts: list[float] = field(default_factory=list)
    decisions: list[tuple[ScaleView, Recommendation]] = field(default_factory=list)  # every one


class AutoscaleController:
    """Scales the model's autoscaled services and the cluster's pools during one run (module docstring)."""

    def __init__(self, model: SimModel, scaling: AutoscalingModel, arrivals: dict[str, ArrivalFeed]) -> None:
        self.model, self.scaling, self.arrivals = model, scaling, arrivals
        resources = sorted(
            {r for p in scaling.cluster.pools for r in p.capacity}
            | {r for d in scaling.cluster.demands.values() for r in d}
            | {r for s in scaling.services for r in s.demand}
        )
        self.cluster = Cluster(scaling.cluster, resources)
        self.cluster.on_evict = self._evict
        self.loops: dict[str, ServiceLoop] = {}
        self.run: RunControl | None = None
        self.speed = {p.name: p.speed for p in scaling.cluster.pools}

    # ----------------------------------------------------------------------------------- set-up

    def start(self, run: RunControl) -> None:
        self.run = run
        cluster = self.cluster
        by_name = {s.service: s for s in self.scaling.services}
        cluster.movable = set(by_name)
        pods: dict[str, dict[str, Pod]] = {name: {} for name in by_name}
        for svc in self.model.services:  # the plan's replicas hold their nodes
            spec = by_name.get(svc.name)
            demand = cluster.vector(
                spec.demand if spec is not None else self.scaling.cluster.demands.get(svc.name, {})
            )
            pools = self._pools(spec) if spec is not None else tuple(range(len(cluster.pools)))
            for r in svc.replicas:
                pod = Pod(r.name, svc.name, demand, pools, spec.max_per_node if spec else None, 0.0)
                cluster.attach(pod, cluster.node(r.node), 0.0)
                if spec is not None:
                    pods[svc.name][r.name] = pod
        for spec in self.scaling.services:
            runtime = run.service(spec.service)
            policy = POLICIES.lookup(spec.policy)
            samples = LoadSamples(
                runtime,
                self.arrivals.get(spec.service, ArrivalFeed()),
                policy.window_s(spec) + self.scaling.sample_s,
            )
            loop = ServiceLoop(
                spec,
                runtime,
                samples,
                policy.scaler(spec),
                class_rng(self.model.seed, spec.service, COLD_START_STREAM),
                pods=pods[spec.service],
                serial=len(runtime.replicas),
            )
            self.loops[spec.service] = loop
            if spec.policy == "kpa":
                runtime.hold_when_cold(partial(self._poke, loop))
            runtime.on_stopped = partial(self._stopped, loop)
            run.at(loop.scaler.interval_s, partial(self._decide, loop))
        run.at(0.0, self._sample)
        run.at(self.scaling.cluster.scan_s, self._scan)

    def _pools(self, spec: ServiceScaling) -> tuple[int, ...]:
        index = self.cluster.pool_index
        if spec.pools is None:
            return tuple(range(len(self.cluster.pools)))
        return tuple(index[p] for p in spec.pools if p in index)

    @property
    def _run(self) -> RunControl:
        assert self.run is not None
        return self.run

    # ----------------------------------------------------------------------------------- loops

    def _horizon(self) -> bool:
        """Whether the loops go on: until the arrivals end (the run then drains on its own)."""
        return self._run.now < self.model.duration_s

    def _sample(self) -> None:
        now = self._run.now
        for loop in self.loops.values():
            loop.samples.sample(now)
        if self._horizon():
            self._run.at(now + self.scaling.sample_s, self._sample)

    def _view(self, loop: ServiceLoop) -> ScaleView:
        ready = loop.runtime.router.n_ready
        current = sum(1 for p in loop.pods.values() if not self._draining(loop, p))
        return ScaleView(self._run.now, current, ready, loop.samples)

    def _draining(self, loop: ServiceLoop, pod: Pod) -> bool:
        replica = loop.runtime.fleet.get(pod.name)
        return replica is not None and replica.state in (ReplicaState.DRAINING, ReplicaState.STOPPED)

    def _decide(self, loop: ServiceLoop) -> None:
        view = self._view(loop)
        self._apply(loop, view, loop.scaler.recommend(view))
        if self._horizon():
            self._run.at(view.now + loop.scaler.interval_s, partial(self._decide, loop))

    def _poke(self, loop: ServiceLoop) -> None:
        view = self._view(loop)
        rec = loop.scaler.poke(view)
        if rec is not None:
            self._apply(loop, view, rec)

    def _apply(self, loop: ServiceLoop, view: ScaleView, rec: Recommendation) -> None:
        loop.decisions.append((view, rec))
        if rec.desired == view.current:
            return
        loop.events.append(ScaleEvent(view.now, view.current, rec.desired, rec.metric, rec.reason))
        if rec.desired > view.current:
            for _ in range(rec.desired - view.current):
                self._create(loop, view.now)
        else:
            for pod in self._victims(loop, view.current - rec.desired):
                self._remove(loop, pod, view.now)
        self._log_pending(loop, view.now)

    # ----------------------------------------------------------------------------------- replicas

    def _create(self, loop: ServiceLoop, now: float) -> Pod:
        spec = loop.spec
        name = f"{spec.service}-{loop.serial}"
        loop.serial += 1
        pod = Pod(
            name, spec.service, self.cluster.vector(spec.demand), self._pools(spec), spec.max_per_node, now
        )
        loop.pods[name] = pod
        node = self.cluster.place(pod, now)
        if node is None:
            self.cluster.pending.append(pod)
        else:
            self._start(loop, pod, node)
        return pod

    def _start(self, loop: ServiceLoop, pod: Pod, node: Node) -> None:
        cold = draw_cold_start(loop.spec.cold_start, loop.rng)
        loop.cold_starts.append(cold)
        pool = self.cluster.pools[node.pool]
        replica = Replica(pod.name, node.name, pool.name, speed=pool.speed, gpu=pool.gpu)
        loop.runtime.add_replica(replica, cold)

    def _victims(self, loop: ServiceLoop, k: int) -> list[Pod]:
        """``k`` replicas to remove, in the ReplicaSet's order (see the module docstring)."""
        rank = {ReplicaState.STARTING: 1, ReplicaState.DOWN: 1, ReplicaState.READY: 2}
        fleet = loop.runtime.fleet

        def key(pod: Pod) -> tuple[int, int, float]:
            replica = fleet.get(pod.name)
            state = 0 if replica is None else rank.get(replica.state, 2)
            colocated = 0 if pod.node is None else sum(1 for q in pod.node.pods if q.service == pod.service)
            return (state, -colocated, -pod.created_s)

        live = [p for p in loop.pods.values() if not self._draining(loop, p)]
        return sorted(live, key=key)[:k]

    def _remove(self, loop: ServiceLoop, pod: Pod, now: float) -> None:
        if pod.node is None:  # pending: never started
            self.cluster.release(pod, now)
            del loop.pods[pod.name]
            return
        loop.runtime.drain(pod.name)  # stops at once if starting or empty

    def _stopped(self, loop: ServiceLoop, replica: ServingReplica) -> None:
        pod = loop.pods.pop(replica.name, None)
        if pod is None:
            return
        now = self._run.now
        self.cluster.release(pod, now)
        if self.cluster.pending:  # after the runtime's own bookkeeping
            self._run.at(now, lambda: self._place_pending(self._run.now))

    def _evict(self, pod: Pod) -> None:
        """The node autoscaler removes ``pod``'s node: a replacement is created, ``pod`` drained."""
        loop = self.loops.get(pod.service)
        if loop is None:
            return  # a fixed service's replica stays: not movable
        now = self._run.now
        self._create(loop, now)
        loop.runtime.drain(pod.name)
        self._log_pending(loop, now)

    def _place_pending(self, now: float) -> None:
        for pod in self.cluster.place_pending(now):
            loop = self.loops[pod.service]
            assert pod.node is not None
            self._start(loop, pod, pod.node)
            self._log_pending(loop, now)

    def _log_pending(self, loop: ServiceLoop, now: float) -> None:
        count = sum(1 for p in loop.pods.values() if p.node is None)
        series = loop.pending
        if series and series[-1][0] == now:
            series.pop()
        if (series[-1][1] if series else 0) != count:
            series.append((now, count))

    # ----------------------------------------------------------------------------------- nodes

    def _scan(self) -> None:
        now = self._run.now
        for node in self.cluster.scale_up(now):
            self._run.at(node.ready_s, lambda: self._place_pending(self._run.now))
        self.cluster.scale_down(now)
        if self._horizon():
            self._run.at(now + self.scaling.cluster.scan_s, self._scan)
