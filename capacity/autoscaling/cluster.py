"""The cluster during an autoscaled run: nodes that come and go, and replicas placed on them online.

**Placing a replica** (`Cluster.place`), as the Kubernetes scheduler does one pod at a time: *filter* the
schedulable nodes (a pool the replica may use, every resource fits in what the node has left,
``max_per_node`` not reached), *score* them with NodeResourcesFit (``least-allocated``, the scheduler's
default, or ``most-allocated``: the same integer scores as `capacity.packing.baselines.KubeScheduler`,
weights cpu 1, memory 1), take the highest (ties: the oldest node). No node passes: the replica is
**pending**. A pending replica is placed as soon as some node can take it (a node became schedulable, or a
replica stopped and freed its resources), oldest pending first.

**Node autoscaling** per pool (Cluster Autoscaler; a pool without ``autoscaling`` keeps the plan's nodes),
every ``scan_s`` (10 s, ``--scan-interval``):

* **scale up** (`Cluster.scale_up`): the pending replicas, oldest first, are fitted onto the nodes being
  provisioned (what each will have left once those already fitted land there); a replica that fits on none
  asks for a new node, from a pool chosen by the **expander** (`EXPANDERS`: ``least-waste`` — the pool whose
  new node, filled with the pending replicas of that service it takes, leaves the smallest mean share of
  cpu and memory unused (Cluster Autoscaler's least-waste expander); ``price`` — the cheapest node) among
  the pools that allow the replica, can hold it and are below their ``max``. The node is billed from then
  on and becomes schedulable ``provision_s`` later. Nothing is asked for a replica that fits on an existing
  node (it will be placed there as soon as room is made).
* **scale down** (`Cluster.scale_down`): a schedulable node of a pool above its ``min`` is *unneeded* while
  its utilisation — requested / allocatable, the largest of cpu and memory, or of GPUs on a node that has
  them (Cluster Autoscaler's rule) — is below ``utilisation_threshold`` (0.5) and its replicas would fit on
  the other schedulable nodes. Once unneeded for ``scale_down_after_s`` (10 min) it is removed: cordoned,
  its replicas evicted (each replaced by a new replica placed elsewhere, the old one drained: it finishes
  what it holds), and deleted when the last one has stopped (an empty node at once). Empty nodes go all
  at once; at most one node with replicas per scan.

Nodes are billed from the moment they are asked for until they are deleted. Times are seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from capacity.autoscaling.model import ClusterSpec, PoolSpec
from capacity.packing.baselines.kube import DEFAULT_KUBE_WEIGHTS, KubeScheduler
from capacity.packing.registry import Registry

FIT_SLACK = 1e-9
"""Relative slack when comparing a request with what a node has left (float sums of requests)."""


@dataclass(eq=False)
class Pod:
    """One replica as the cluster sees it: what it requests, and where it runs (None: pending)."""

    name: str
    service: str
    demand: np.ndarray
    pools: tuple[int, ...]  # the pools it may run on
    max_per_node: int | None
    created_s: float
    node: Node | None = None
    placed_s: float | None = None


@dataclass(eq=False)
class Node:
    """One node: its pool, what it offers and what is requested of it, and its lifecycle times."""

    name: str
    pool: int
    capacity: np.ndarray
    used: np.ndarray
    created_s: float  # asked for (billed from then)
    ready_s: float  # schedulable from then
    pods: list[Pod] = field(default_factory=list)
    unneeded_since: float | None = None
    removing: bool = False
    deleted_s: float | None = None

    def schedulable(self, now: float) -> bool:
        return self.ready_s <= now and not self.removing and self.deleted_s is None


class Expander:
    """How the node autoscaler picks the pool of a new node (a registered policy)."""

    name: str = ""
    summary: str = ""

    def choose(self, cluster: Cluster, pod: Pod, candidates: list[int], pending_like: int) -> int:
        raise NotImplementedError


class LeastWaste(Expander):
    """Cluster Autoscaler's ``least-waste``: the smallest unused share of cpu and memory (see above)."""

    name = "least-waste"
    summary = "the pool whose new node leaves the least cpu and memory unused (Cluster Autoscaler)"

    def choose(self, cluster: Cluster, pod: Pod, candidates: list[int], pending_like: int) -> int:
        def waste(p: int) -> tuple[float, int]:
            cap = cluster.capacity[p]
            k = max(1, min(pending_like, cluster.copies(p, pod)))
            scored = cluster.scored(p)
            share = [(cap[r] - k * pod.demand[r]) / cap[r] for r in scored]
            return (sum(share) / len(share) if share else 0.0, p)

        return min(candidates, key=waste)


class Price(Expander):
    """Cluster Autoscaler's ``price``: the cheapest node (ties: the pool order)."""

    name = "price"
    summary = "the pool with the cheapest node"

    def choose(self, cluster: Cluster, pod: Pod, candidates: list[int], pending_like: int) -> int:
        return min(candidates, key=lambda p: (cluster.pools[p].cost, p))


EXPANDERS: Registry[Expander] = Registry("expander")
"""Every node-pool expander by name (``cluster.autoscaling.expander``)."""
EXPANDERS.register(LeastWaste())
EXPANDERS.register(Price())


class Cluster:
    """The nodes and pods of one run (see the module docstring)."""

    def __init__(self, spec: ClusterSpec, resources: list[str]) -> None:
        self.spec = spec
        self.pools: tuple[PoolSpec, ...] = spec.pools
        self.pool_index = {p.name: k for k, p in enumerate(spec.pools)}
        self.resources = resources
        self.capacity = [np.array([p.capacity.get(r, 0.0) for r in resources]) for p in spec.pools]
        self.scheduler = KubeScheduler(spec.scoring)
        w = np.array([DEFAULT_KUBE_WEIGHTS.get(r, 0) for r in resources], dtype=np.int64)
        self.weights = w if w.any() else np.ones(len(resources), dtype=np.int64)
        self.expander = EXPANDERS.lookup(spec.expander)
        self.nodes: list[Node] = []
        self.pending: list[Pod] = []
        self.counts: dict[str, list[tuple[float, int]]] = {p.name: [] for p in spec.pools}
        self._serial = {p.name: 0 for p in spec.pools}
        for name, pool_name in spec.nodes:
            self._new_node(self.pool_index[pool_name], 0.0, 0.0, name)
        for p, pool in enumerate(spec.pools):  # a pool's minimum, from time 0
            if pool.autoscaling is not None:
                for _ in range(pool.autoscaling.min - self.live(p)):
                    self._new_node(p, 0.0, 0.0)
        self.on_evict: Callable[[Pod], None] | None = None
        self.movable: set[str] = set()  # services whose replicas can be moved

    # ---------------------------------------------------------------------------------- bookkeeping

    def vector(self, demand: dict[str, float]) -> np.ndarray:
        return np.array([demand.get(r, 0.0) for r in self.resources])

    def live(self, p: int) -> int:
        """Nodes of pool ``p`` that exist (provisioning, schedulable or being removed)."""
        return sum(1 for n in self.nodes if n.pool == p and n.deleted_s is None)

    def _record(self, p: int, now: float) -> None:
        series = self.counts[self.pools[p].name]
        count = self.live(p)
        if series and series[-1][0] == now:
            series.pop()
        if not series or series[-1][1] != count:
            series.append((now, count))

    def _new_node(self, p: int, now: float, ready_s: float, name: str | None = None) -> Node:
        pool = self.pools[p]
        if name is None:
            self._serial[pool.name] += 1
            name = f"{pool.name}-as{self._serial[pool.name]}"
        node = Node(name, p, self.capacity[p], np.zeros(len(self.resources)), now, ready_s)
        self.nodes.append(node)
        self._record(p, now)
        return node

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def scored(self, p: int) -> list[int]:
        """The resources whose share counts for waste and utilisation on pool ``p``'s nodes: GPUs on a
        node that has them, else cpu and memory (every resource the node has when it has neither)."""
        cap = self.capacity[p]
        gpu = [r for r, name in enumerate(self.resources) if "gpu" in name.lower() and cap[r] > 0]
        if gpu:
            return gpu
        main = [r for r, name in enumerate(self.resources) if name in ("cpu", "memory") and cap[r] > 0]
        return main or [r for r in range(len(self.resources)) if cap[r] > 0]

    def copies(self, p: int, pod: Pod) -> int:
        """How many replicas like ``pod`` one empty node of pool ``p`` takes."""
        d, cap = pod.demand, self.capacity[p]
        k = min((math.floor(cap[r] * (1 + FIT_SLACK) / d[r]) for r in range(len(d)) if d[r] > 0), default=1)
        return min(k, pod.max_per_node) if pod.max_per_node is not None else k

    # ---------------------------------------------------------------------------------- placement

    def _fits(self, node: Node, pod: Pod, extra: np.ndarray | None = None) -> bool:
        if node.pool not in pod.pools:
            return False
        used = node.used if extra is None else node.used + extra
        if np.any(used + pod.demand > node.capacity * (1 + FIT_SLACK) + 1e-12):
            return False
        if pod.max_per_node is not None:
            same = sum(1 for q in node.pods if q.service == pod.service)
            if same >= pod.max_per_node:
                return False
        return True

    def attach(self, pod: Pod, node: Node, now: float) -> None:
        """Put ``pod`` on ``node`` (a replica of the plan, or the scheduler's choice)."""
        pod.node, pod.placed_s = node, now
        node.pods.append(pod)
        node.used = node.used + pod.demand
        node.unneeded_since = None

    def place(self, pod: Pod, now: float) -> Node | None:
        """Schedule ``pod`` now (see the module docstring); None: no node can take it (pending)."""
        candidates = [n for n in self.nodes if n.schedulable(now) and self._fits(n, pod)]
        if not candidates:
            return None
        requested = np.array([n.used + pod.demand for n in candidates])
        allocatable = np.array([n.capacity for n in candidates])
        scores = self.scheduler.score(requested, allocatable, self.weights)
        node = candidates[int(np.argmax(scores))]  # argmax: the first (oldest) of the best
        self.attach(pod, node, now)
        return node

    def release(self, pod: Pod, now: float) -> None:
        """``pod`` stopped (or was never placed): its resources are free again."""
        if pod in self.pending:
            self.pending.remove(pod)
        node = pod.node
        if node is None:
            return
        node.pods.remove(pod)
        node.used = node.used - pod.demand
        pod.node = None
        if node.removing and not node.pods:
            self._delete(node, now)

    def _delete(self, node: Node, now: float) -> None:
        node.deleted_s = now
        self._record(node.pool, now)

    def place_pending(self, now: float) -> list[Pod]:
        """Place what pending replicas now fit, oldest first; return those placed."""
        placed = []
        for pod in list(self.pending):
            if self.place(pod, now) is not None:
                self.pending.remove(pod)
                placed.append(pod)
        return placed

    # ---------------------------------------------------------------------------------- node autoscaling

    def scale_up(self, now: float) -> list[Node]:
        """Ask for the nodes the pending replicas need (see the module docstring); return them."""
        provisioning = [n for n in self.nodes if n.deleted_s is None and n.ready_s > now]
        planned = {id(n): np.zeros(len(self.resources)) for n in provisioning}
        planned_pods: dict[int, list[Pod]] = {id(n): [] for n in provisioning}
        new: list[Node] = []
        for pod in self.pending:
            if any(self._fits(n, pod) for n in self.nodes if n.schedulable(now)):
                continue  # room exists: the scheduler will use it
            home = next((n for n in provisioning if self._fits_planned(n, pod, planned, planned_pods)), None)
            if home is None:
                candidates = [
                    p
                    for p in pod.pools
                    if self._can_grow(p)
                    and self.copies(p, pod) >= 1
                    and np.all(pod.demand <= self.capacity[p] * (1 + FIT_SLACK) + 1e-12)
                ]
                if not candidates:
                    continue  # no pool can take it: it stays pending
                like = sum(1 for q in self.pending if q.service == pod.service)
                p = self.expander.choose(self, pod, candidates, like)
                scaling = self.pools[p].autoscaling
                assert scaling is not None
                home = self._new_node(p, now, now + scaling.provision_s)
                provisioning.append(home)
                planned[id(home)] = np.zeros(len(self.resources))
                planned_pods[id(home)] = []
                new.append(home)
            planned[id(home)] += pod.demand
            planned_pods[id(home)].append(pod)
        return new

    def _fits_planned(
        self, node: Node, pod: Pod, planned: dict[int, np.ndarray], planned_pods: dict[int, list[Pod]]
    ) -> bool:
        if not self._fits(node, pod, planned[id(node)]):
            return False
        if pod.max_per_node is not None:
            same = sum(1 for q in planned_pods[id(node)] if q.service == pod.service)
            return same < pod.max_per_node
        return True

    def _can_grow(self, p: int) -> bool:
        scaling = self.pools[p].autoscaling
        return scaling is not None and self.live(p) < scaling.max

    def utilisation(self, node: Node) -> float:
        """Requested / allocatable: the largest over the node's scored resources (GPUs, else cpu/memory)."""
        scored = self.scored(node.pool)
        return max((node.used[r] / node.capacity[r] for r in scored), default=0.0)

    def _movable(self, node: Node, now: float) -> bool:
        """Whether every replica on ``node`` fits on the other schedulable nodes (first fit, in order)."""
        if any(pod.service not in self.movable for pod in node.pods):
            return False  # a fixed service's replica stays put
        others = [n for n in self.nodes if n is not node and n.schedulable(now)]
        extra = {id(n): np.zeros(len(self.resources)) for n in others}
        for pod in node.pods:
            home = next((n for n in others if self._fits(n, pod, extra[id(n)])), None)
            if home is None:
                return False
            extra[id(home)] += pod.demand
        return True

    def scale_down(self, now: float) -> list[Node]:
        """Mark unneeded nodes and remove those unneeded long enough; return the nodes removed."""
        removed: list[Node] = []
        busy_removed = False
        for node in self.nodes:
            scaling = self.pools[node.pool].autoscaling
            if scaling is None or not node.schedulable(now):
                continue
            unneeded = (
                self.utilisation(node) < scaling.utilisation_threshold
                and self._removable_count(node.pool) > scaling.min
                and self._movable(node, now)
            )
            if not unneeded:
                node.unneeded_since = None
                continue
            if node.unneeded_since is None:
                node.unneeded_since = now
            if now - node.unneeded_since < scaling.scale_down_after_s:
                continue
            if node.pods and busy_removed:
                continue
            node.removing = True
            removed.append(node)
            if not node.pods:
                self._delete(node, now)
                continue
            busy_removed = True
            for pod in list(node.pods):
                if self.on_evict is not None:
                    self.on_evict(pod)
        return removed

    def _removable_count(self, p: int) -> int:
        return sum(1 for n in self.nodes if n.pool == p and n.deleted_s is None and not n.removing)
