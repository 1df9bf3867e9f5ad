"""Greedy baselines: what a cluster autoscaler would do, to measure the integer program against.

A **baseline** is a callable ``(PackingProblem) -> Placement`` (a function, or a small class instance)
registered in `BASELINES` under its name (the name is also ``Placement.solver``). Adding one is one
function or class and one dict entry. Every baseline obeys the same rules as the optimiser: node
selectors (pool names and labels), ``max_per_node``, headroom (a node offers its capacity after
headroom), pool counts, ``spread`` and ``survive``, as the Kubernetes scheduler's filters do:

* a replica may go on a node only while, after it, the service's domain of that node holds at most
  ``min over its domains + max_skew`` replicas (``PodTopologySpread`` with ``DoNotSchedule``: each step
  keeps every count within ``max_skew`` of the smallest, so the final plan does too);
* at most ``floor((1 - keep) * replicas)`` replicas of a ``survive`` service on one node (zone).

A replica that passes no filter anywhere is **unplaced**. A baseline that places only some replicas of a
``survive`` service then removes, from the most loaded node (zone), replicas whose loss would break
``survive`` for the smaller placed count, until it holds (so a partial plan obeys every rule too).

**Fixed cluster** (objectives ``fit`` and ``balance``): every node of every pool is open from the start
(as many per pool as replicas could go there), and no node is opened later. **Existing placement**: the
nodes of ``existing`` are opened first (under their names) and keep the replicas that still obey every
rule (what a running cluster does: running pods stay), the rest are placed by the heuristic.

**First-fit decreasing** (``ffd``) is what Kubernetes Cluster Autoscaler's binpacking estimator does:

1. Sort the replicas by decreasing **size**, the sum over resources of the replica's demand divided by
   the largest usable amount of that resource on any node of the cluster (Cluster Autoscaler's
   ``DecreasingPodOrderer`` scores ``cpu/node_cpu + mem/node_mem``; here every resource counts, GPUs
   included). Ties: larger largest-normalised-dimension first, then the order of the services in the
   problem. Replicas of one service are identical, so they stay together.
2. Put each replica on the first open node (in opening order) where its selector allows the pool, every
   resource fits after headroom and ``max_per_node`` is not reached.
3. When none fits, open a node of the pool that suits the replica best (`prefer_pool`), among the
   pools the replica may use and fits on that still have unopened nodes (and pass the filters above).
   When no such pool is left, the replica is **unplaced**.

Under ``fit`` the order is by decreasing ``priority`` first, then by size.

**Which pool a new node comes from** (`prefer_pool`, all baselines): with ``k`` the replicas of the
service that one new node of the pool takes (``per_node``, at most those left), and ``unused`` the
capacity the pool offers in resources the service does not ask for at all (each as a share of the
largest node's; a GPU node has 1 for a CPU-only service), the key is ``(cost / k, unused, pool order)``
under ``min-cost`` and ``(unused, -k, pool order)`` otherwise. So specialised nodes (GPUs) are not
spent on services that do not use them while a plain pool can take them (the problem's pool order used
to decide: on mixed pools a CPU service could take the last GPU nodes and leave a GPU service
unplaced), and the fewest (or cheapest per replica) nodes are opened.

The result has status ``optimal`` when it meets the proven lower bound (`capacity.packing.bounds`),
``feasible`` otherwise, and ``infeasible`` when it left replicas unplaced (a baseline's ``infeasible``
means *this heuristic* failed, not that no placement exists; `capacity.packing.solve` decides that).

**Scheduler emulations** (``k8s-least-allocated``, ``k8s-most-allocated``) replay what the Kubernetes
scheduler and Cluster Autoscaler do when the replicas arrive as pending pods, one at a time:

1. Replicas arrive in the ffd order (`size_order`: decreasing size, then service order; the replicas of a
   service arrive together, as pods from one deployment).
2. *Filter* (NodeResourcesFit): the open nodes where the selector allows the pool, every resource fits
   after headroom and ``max_per_node`` is not reached.
3. *Score* each of them with the NodeResourcesFit scoring strategy, as in the scheduler's
   ``least_allocated.go`` / ``most_allocated.go``: with ``requested`` the node's use *including* the
   replica and ``allocatable`` what the node offers after headroom, each scored resource gets the integer
   ``(allocatable - requested) * 100 // allocatable`` (LeastAllocated: spreads) or
   ``requested * 100 // allocatable`` (MostAllocated: packs), and the node's score is the integer
   weighted mean ``sum(score_r * w_r) // sum(w_r)`` over the resources the node has. The weights are
   the scheduler's defaults, ``cpu: 1, memory: 1`` (other resources are filtered on but not scored);
   a problem that names neither cpu nor memory (the ``data/vbp`` instances) scores every resource with
   weight 1. Not emulated: the other score plugins (BalancedAllocation, ...), the non-zero request
   defaults (100m CPU, 200 MiB) that the scheduler substitutes for an empty request when scoring, and
   ``percentageOfNodesToScore`` sampling on large clusters (every feasible node is scored).
4. The replica goes on the highest score; **tie**: the node opened first (the scheduler picks one of the
   tied nodes at random; we pick deterministically).
5. No node passes the filter: the pod is pending and Cluster Autoscaler scales up (as its *price* expander):
   one node of the cheapest pool (a pool without a cost counts as the most expensive; ties by the
   problem's pool order) among the pools the replica may use and fits on that still have unopened
   nodes (ties by `prefer_pool`). No such pool: the replica, and the rest of its service, stay
   **unplaced**. Pods arrive by decreasing ``priority`` first (the scheduler's queue is ordered by pod
   priority), then in the ffd order.

**Tetris** (``tetris``; Grandl et al., "Multi-resource packing for cluster schedulers", SIGCOMM 2014)
fills one node at a time, as its scheduler does when a machine reports free resources: among the
replicas that fit the node (selector, resources after headroom, ``max_per_node``) it places the one with
the largest **alignment**, the dot product of the replica's demand and the node's free resources, both
divided by the node's usable capacity (resources the node lacks are left out), and repeats until nothing
fits. **Tie**: the earlier service in the ffd order. Then it opens the next node for the first replica
left in the ffd order, from the cheapest pool as above, placing that replica first. A node that nothing
fits any more is never revisited (later replicas are a subset of those that did not fit). Tetris's other
term, favouring jobs with little remaining work, needs durations and does not apply to placement.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from capacity.packing.bounds import Bounds, compute_bounds
from capacity.packing.instance import FIT_RTOL, Instance, fits, keep_cap
from capacity.packing.plan import NodePlan, objective_value, to_placement
from capacity.packing.problem import PackingProblem, Placement, Status

Baseline = Callable[[PackingProblem], Placement]


def size_order(inst: Instance) -> list[int]:
    """Services by decreasing replica size (see the module docstring), as a list of indices."""
    largest = inst.usable.max(axis=0) if len(inst.pools) else np.zeros(len(inst.resources))
    scale = np.where(largest > 0, largest, 1.0)
    norm = inst.demand / scale
    total = norm.sum(axis=1)
    peak = norm.max(axis=1) if len(inst.resources) else np.zeros(len(inst.services))
    return sorted(range(len(inst.services)), key=lambda s: (-total[s], -peak[s], s))


def arrival_order(inst: Instance, by_priority: bool) -> list[int]:
    """`size_order`, by decreasing priority first when ``by_priority``."""
    order = size_order(inst)
    if by_priority:
        order.sort(key=lambda s: -int(inst.priority[s]))  # stable: size order within a priority
    return order


def _copies_that_fit(used: np.ndarray, usable: np.ndarray, d: np.ndarray) -> np.ndarray:
    """[node] how many more replicas of demand ``d`` fit on nodes with ``used`` of ``usable``."""
    k = np.full(used.shape[0], np.iinfo(np.int64).max // 4, dtype=np.int64)
    for r in np.flatnonzero(d > 0):
        free = usable[:, r] * (1.0 + FIT_RTOL) + 1e-12 - used[:, r]
        k = np.minimum(k, np.floor(np.maximum(free, 0.0) / d[r]).astype(np.int64))
    while True:  # floor() of a rounding error may overshoot by one
        over = (k > 0) & ~np.all(fits(used + k[:, None] * d, usable), axis=1)
        if not over.any():
            return k
        k[over] -= 1


PoolRule = Literal["objective", "per-replica", "most-left"]
POOL_RULES: tuple[PoolRule, ...] = ("objective", "per-replica", "most-left")


def prefer_pool(
    inst: Instance, s: int, left: int, pools: list[int], rule: PoolRule = "objective",
    price_first: bool = False, opened: np.ndarray | None = None,
) -> int:
    """The pool a new node for service ``s`` comes from (see the module docstring)."""
    largest = inst.usable.max(axis=0)
    idle = (inst.demand[s] <= 0) & (largest > 0)
    min_cost = inst.problem.objective == "min-cost"
    if rule == "per-replica":
        min_cost = not min_cost and all(inst.cost(p) is not None for p in pools)

    def key(p: int) -> tuple[float, ...]:
        k = max(1, min(int(inst.per_node[s, p]), left))
        unused = float((inst.usable[p, idle] / largest[idle]).sum())
        cost = inst.cost(p)
        if price_first:
            return (math.inf if cost is None else cost, unused, -k, p)
        if rule == "most-left" and opened is not None:
            return (unused, -float(inst.count[p] - opened[p]) / float(inst.count[p]), -k, p)
        if min_cost:
            return ((cost or 0.0) / k, unused, p)
        return (unused, -k, p)

    return min(pools, key=key)


class _Cluster:
    """The nodes a greedy scheduler has opened, what they hold, and the state of the constraints."""

    def __init__(
        self, inst: Instance, rule: PoolRule = "objective", plan: list[NodePlan] | None = None
    ) -> None:
        self.inst = inst
        self.rule = rule
        size = 16
        self.pool_of = np.zeros(size, dtype=np.int64)
        self.used = np.zeros((size, len(inst.resources)))
        self.here = np.zeros((size, len(inst.services)), dtype=np.int64)  # [node, service] replicas
        self.nodes: list[NodePlan] = []
        self.opened = np.zeros(len(inst.pools), dtype=np.int64)
        self.placed = np.zeros(len(inst.services), dtype=np.int64)
        self.domains = {s: np.zeros(inst.domain_count(s), dtype=np.int64)
                        for s, svc in enumerate(inst.services) if svc.spread is not None}
        self.zones = {s: np.zeros(inst.zone_count(s), dtype=np.int64)
                      for s, svc in enumerate(inst.services)
                      if svc.survive is not None and svc.survive.failure == "zone"}
        self.fixed = inst.fixed_cluster
        if plan is not None:
            for node in plan:
                i = self.open(node.pool, node.index)
                for s, k in node.counts.items():
                    self.place(i, s, k)
        elif inst.existing:
            self._seed_existing()
        if self.fixed:
            for p in range(len(inst.pools)):
                most = min(int(inst.count[p]), int(inst.replicas[inst.placeable[:, p]].sum()))
                while self.opened[p] < most:
                    self.open(p)

    @property
    def n(self) -> int:
        return len(self.nodes)

    def constrained(self, s: int) -> bool:
        return s in self.domains or s in self.zones

    def open(self, p: int, index: int | None = None) -> int:
        if self.n == len(self.pool_of):
            self.pool_of = np.concatenate([self.pool_of, np.zeros_like(self.pool_of)])
            self.used = np.vstack([self.used, np.zeros_like(self.used)])
            self.here = np.vstack([self.here, np.zeros_like(self.here)])
        self.opened[p] += 1
        self.pool_of[self.n] = p
        self.nodes.append(NodePlan(p, {}, index))
        return self.n - 1

    def place(self, i: int, s: int, k: int = 1) -> None:
        inst = self.inst
        node = self.nodes[i]
        node.counts[s] = node.counts.get(s, 0) + k
        if node.counts[s] == 0:
            del node.counts[s]
        self.used[i] += k * inst.demand[s]
        self.here[i, s] += k
        self.placed[s] += k
        p = node.pool
        if s in self.domains:
            self.domains[s][inst.spread_domain[s, p]] += k
        if s in self.zones:
            self.zones[s][inst.zone[s, p]] += k

    def allowance(self, s: int, p: int) -> int:
        """Most replicas of ``s`` the spread and zone filters let onto pool ``p`` now."""
        inst = self.inst
        if not inst.placeable[s, p]:
            return 0
        out = int(inst.replicas[s])
        if s in self.domains:
            counts = self.domains[s]
            skew = inst.services[s].spread.max_skew  # type: ignore[union-attr]
            out = min(out, int(counts.min()) + skew - int(counts[inst.spread_domain[s, p]]))
        if s in self.zones:
            out = min(out, inst.zone_cap(s) - int(self.zones[s][inst.zone[s, p]]))
        return max(out, 0)

    def room(self, s: int, nodes: slice | None = None) -> np.ndarray:
        """[open node] how many more replicas of ``s`` may go there (every rule, filters included);
        ``nodes`` selects some of the open nodes."""
        inst = self.inst
        sel = nodes if nodes is not None else slice(0, self.n)
        pools = self.pool_of[: self.n][sel]
        k = _copies_that_fit(self.used[: self.n][sel], inst.usable[pools], inst.demand[s])
        k[~inst.placeable[s, pools]] = 0
        k = np.minimum(k, inst.per_node[s, pools] - self.here[: self.n, s][sel])
        if self.constrained(s):
            allow = np.array([self.allowance(s, p) for p in range(len(inst.pools))], dtype=np.int64)
            k = np.minimum(k, allow[pools])
        return np.maximum(k, 0)

    def can_take(self, s: int) -> np.ndarray:
        """[open node] True where one more replica of ``s`` may go (every rule, filters included)."""
        inst = self.inst
        n = self.n
        pools = self.pool_of[:n]
        ok = inst.placeable[s, pools] & (self.here[:n, s] < inst.per_node[s, pools])
        ok &= np.all(fits(self.used[:n] + inst.demand[s], inst.usable[pools]), axis=1)
        if self.constrained(s):
            allow = np.array([self.allowance(s, p) > 0 for p in range(len(inst.pools))], dtype=bool)
            ok &= allow[pools]
        return ok

    def openable(self, s: int) -> list[int]:
        """Pools a new node for a replica of ``s`` may come from (none on a fixed cluster)."""
        if self.fixed:
            return []
        inst = self.inst
        return [
            p for p in range(len(inst.pools))
            if inst.placeable[s, p] and self.opened[p] < inst.count[p]
            and (not self.constrained(s) or self.allowance(s, p) > 0)
        ]

    def open_for(self, s: int, left: int, price_first: bool = False) -> int | None:
        pools = self.openable(s)
        if not pools:
            return None
        return self.open(prefer_pool(self.inst, s, left, pools, self.rule, price_first, self.opened))

    def _seed_existing(self) -> None:
        """Open the existing nodes and keep the replicas that still obey every rule."""
        inst = self.inst
        keep_at_most = {s: int(n) for s, n in enumerate(inst.replicas)}
        for s, svc in enumerate(inst.services):
            if svc.spread is None:
                continue
            per = np.zeros(inst.domain_count(s), dtype=np.int64)
            for e in inst.existing:
                d = inst.spread_domain[s, e.pool]
                if d >= 0:
                    per[d] += e.counts.get(s, 0)
            if len(per):
                most = int(np.minimum(per, per.min() + svc.spread.max_skew).sum())
                keep_at_most[s] = min(keep_at_most[s], most)
        for e in inst.existing:
            i = self.open(e.pool, e.index)
            for s, k in e.counts.items():
                take = min(k, keep_at_most[s] - int(self.placed[s]), int(self.room(s, slice(i, i + 1))[0]))
                if take > 0:
                    self.place(i, s, take)
            if not self.nodes[i].counts:  # nothing stays: the node is free again
                self.nodes.pop()
                self.opened[e.pool] -= 1
        # What capacity or totals cut may have left a spread out of balance: trim the largest domains.
        for s in self.domains:
            self._rebalance(s)

    def _rebalance(self, s: int) -> None:
        inst = self.inst
        skew = inst.services[s].spread.max_skew  # type: ignore[union-attr]
        counts = self.domains[s]
        while len(counts) and counts.max() - counts.min() > skew:
            d = int(np.argmax(counts))
            i = max((i for i, node in enumerate(self.nodes)
                     if node.counts.get(s, 0) > 0 and inst.spread_domain[s, node.pool] == d),
                    key=lambda i: (self.nodes[i].counts[s], -i))
            self.place(i, s, -1)

    def trim_for_survival(self) -> None:
        """Under ``fit``: remove replicas until ``survive`` holds for the placed counts."""
        inst = self.inst
        for s, svc in enumerate(inst.services):
            if svc.survive is None:
                continue
            while self.placed[s] > 0:
                cap = keep_cap(svc.survive.keep, int(self.placed[s]))
                if svc.survive.failure == "node":
                    i = max(range(self.n), key=lambda i: (self.nodes[i].counts.get(s, 0), -i))
                    if self.nodes[i].counts.get(s, 0) <= cap:
                        break
                else:
                    z = int(np.argmax(self.zones[s]))
                    if self.zones[s][z] <= cap:
                        break
                    i = max((i for i, node in enumerate(self.nodes)
                             if node.counts.get(s, 0) > 0 and inst.zone[s, node.pool] == z),
                            key=lambda i: (self.nodes[i].counts[s], -i))
                self.place(i, s, -1)
                if s in self.domains:
                    self._rebalance(s)

    def result(self) -> tuple[list[NodePlan], dict[int, int]]:
        if (self.placed < self.inst.replicas).any():  # a partial plan: survive holds for what is placed
            self.trim_for_survival()
        unplaced = {
            s: int(n - self.placed[s]) for s, n in enumerate(self.inst.replicas) if n > self.placed[s]
        }
        return [n for n in self.nodes if n.counts], unplaced


def ffd_plan(inst: Instance) -> tuple[list[NodePlan], dict[int, int]]:
    """First-fit decreasing in counts: the used nodes in opening order, and unplaced replicas.

    Cluster Autoscaler's estimator simulates a scale-up of every node group and lets an expander choose;
    likewise this tries each pool rule of `prefer_pool` (``objective``, then ``per-replica``, then
    ``most-left``) and keeps the first plan that places everything and is no worse than the others tried,
    or else the one that leaves the least priority-weighted replicas unplaced. A fixed cluster opens no
    nodes, so one rule does there.
    """
    best: tuple[tuple[float, ...], list[NodePlan], dict[int, int]] | None = None
    for rule in POOL_RULES if not inst.fixed_cluster else POOL_RULES[:1]:
        nodes, unplaced = _ffd(inst, rule)
        weight = float(sum(int(inst.priority[s]) * k for s, k in unplaced.items()))
        key = (weight, objective_value(inst, nodes, unplaced), float(len(nodes)))
        if best is None or key < best[0]:
            best = (key, nodes, unplaced)
    assert best is not None
    return best[1], best[2]


def _ffd(inst: Instance, rule: PoolRule) -> tuple[list[NodePlan], dict[int, int]]:
    cluster = _Cluster(inst, rule)
    for s in arrival_order(inst, inst.problem.objective == "fit"):
        left = int(inst.replicas[s] - cluster.placed[s])
        while left > 0:
            if cluster.n:
                k = cluster.room(s)
                if cluster.constrained(s):  # the filters change with every placement: one node at a time
                    first = np.flatnonzero(k > 0)
                    if len(first):
                        take = int(min(left, k[first[0]]))
                        cluster.place(int(first[0]), s, take)
                        left -= take
                        continue
                else:
                    for i in np.flatnonzero(k > 0):
                        take = int(min(left, k[i]))
                        cluster.place(int(i), s, take)
                        left -= take
                        if left == 0:
                            break
                    if left == 0:
                        break
            i = cluster.open_for(s, left)
            if i is None:
                break
            take = int(min(left, cluster.room(s, slice(i, i + 1))[0]))
            if take == 0:  # cannot happen: open_for checked the pool; guard against an endless loop
                break
            cluster.place(i, s, take)
            left -= take
    return cluster.result()


def fill_plan(
    inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int]
) -> tuple[list[NodePlan], dict[int, int]]:
    """A valid plan topped up: each unplaced replica (by priority, then size) goes on the first node where
    every rule allows it, or on a new node while pools have some; ``survive`` is restored afterwards
    under ``fit``."""
    cluster = _Cluster(inst, plan=nodes)
    for s in arrival_order(inst, True):
        while unplaced.get(s, 0) and cluster.placed[s] < inst.replicas[s]:
            room = np.flatnonzero(cluster.can_take(s))
            if len(room):
                i = int(room[0])
            else:
                opened = cluster.open_for(s, int(inst.replicas[s] - cluster.placed[s]))
                if opened is None:
                    break
                i = opened
            cluster.place(i, s)
    return cluster.result()


def heuristic_placement(
    inst: Instance, bounds: Bounds, nodes: list[NodePlan], unplaced: dict[int, int], name: str, started: float
) -> Placement:
    """Wrap a heuristic's plan: status from the bounds (see the module docstring)."""
    bound = objective_bound(inst, bounds)
    status: Status
    if unplaced and inst.problem.objective != "fit":
        status = "infeasible"
    elif meets(objective_value(inst, nodes, unplaced), bound):
        status = "optimal"
    else:
        status = "feasible"
    return to_placement(
        inst,
        nodes,
        unplaced,
        status=status,
        solver=name,
        lower_bound=bounds.nodes if not unplaced else 0,
        objective_bound=bound,
        solve_time_s=time.perf_counter() - started,
    )


def objective_bound(inst: Instance, bounds: Bounds) -> float | None:
    """The combinatorial bound on the objective: nodes (``min-nodes``), cost (``min-cost``), moves
    (``min-moves``: 0), unplaced weight (``fit``: what cannot go anywhere), highest utilisation
    (``balance``: `balance_bound`)."""
    objective = inst.problem.objective
    if objective == "min-cost":
        return bounds.cost
    if objective == "min-moves":
        return 0.0
    if objective == "fit":
        hopeless = ~inst.placeable.any(axis=1)
        return float((inst.priority * inst.replicas)[hopeless].sum())
    if objective == "balance":
        return balance_bound(inst)
    return float(bounds.nodes)


def balance_bound(inst: Instance) -> float:
    """A lower bound on the highest utilisation: for each resource, all of its demand spread evenly over
    the capacity of every node that could hold some of it; and one replica on the roomiest node it may use."""
    best = 0.0
    for r in range(len(inst.resources)):
        users = (inst.demand[:, r] > 0) & (inst.replicas > 0)
        if not users.any():
            continue
        pools = inst.placeable[users].any(axis=0)
        total = float((inst.capacity[pools, r] * inst.count[pools]).sum())
        if total > 0:
            best = max(best, float((inst.demand[users, r] * inst.replicas[users]).sum()) / total)
        for s in np.flatnonzero(users):
            caps = inst.capacity[inst.placeable[s], r]
            if len(caps) and caps.max() > 0:
                best = max(best, float(inst.demand[s, r] / caps.max()))
    return best * (1.0 - 1e-9)


def meets(value: float | None, bound: float | None) -> bool:
    """True when ``value`` is proven optimal by ``bound`` (relative tolerance 1e-6)."""
    if value is None or bound is None:
        return False
    return value <= bound + 1e-6 * max(1.0, abs(value))


def first_fit_decreasing(problem: PackingProblem) -> Placement:
    """The ``ffd`` baseline (see the module docstring). `ValueError` on malformed input."""
    started = time.perf_counter()
    inst = Instance.compile(problem)
    nodes, unplaced = ffd_plan(inst)
    return heuristic_placement(inst, compute_bounds(inst), nodes, unplaced, "ffd", started)


KubeStrategy = Literal["least-allocated", "most-allocated"]
DEFAULT_KUBE_WEIGHTS: Mapping[str, int] = {"cpu": 1, "memory": 1}
"""The scheduler's default NodeResourcesFit scoring resources (``kube-scheduler`` config v1 defaults)."""


class _Baseline:
    """A greedy baseline: ``plan`` (in counts) turned into a `Placement` named after ``self.name``."""

    def plan(self, inst: Instance) -> tuple[list[NodePlan], dict[int, int]]:
        raise NotImplementedError

    def __call__(self, problem: PackingProblem) -> Placement:
        started = time.perf_counter()
        inst = Instance.compile(problem)
        nodes, unplaced = self.plan(inst)
        return heuristic_placement(inst, compute_bounds(inst), nodes, unplaced, self.name, started)


@dataclass(frozen=True)
class KubeScheduler(_Baseline):
    """Kubernetes scheduler + Cluster Autoscaler emulation (see the module docstring)."""

    strategy: KubeStrategy
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_KUBE_WEIGHTS))

    @property
    def name(self) -> str:
        return f"k8s-{self.strategy}"

    def resource_weights(self, inst: Instance) -> np.ndarray:
        """[resource] integer weight; every resource weighs 1 when none of ``weights`` is in the problem."""
        w = np.array([self.weights.get(r, 0) for r in inst.resources], dtype=np.int64)
        return w if w.any() else np.ones(len(inst.resources), dtype=np.int64)

    def score(self, requested: np.ndarray, allocatable: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """[node] the integer NodeResourcesFit score (0-100) of nodes with ``requested`` [node, resource]."""
        scored = (allocatable > 0) & (weights > 0)
        alloc = np.where(scored, allocatable, 1.0)
        req = np.minimum(requested, alloc)
        share = (alloc - req) if self.strategy == "least-allocated" else req
        per = np.floor(share * 100.0 / alloc + 1e-9).astype(np.int64)  # Go's integer division
        total = (per * weights * scored).sum(axis=1)
        wsum = (weights * scored).sum(axis=1)
        return np.where(wsum > 0, total // np.maximum(wsum, 1), 0)

    def plan(self, inst: Instance) -> tuple[list[NodePlan], dict[int, int]]:
        cluster = _Cluster(inst)
        weights = self.resource_weights(inst)
        for s in arrival_order(inst, True):
            while cluster.placed[s] < inst.replicas[s]:
                candidates = np.flatnonzero(cluster.can_take(s))
                if len(candidates):
                    pools = cluster.pool_of[candidates]
                    requested = cluster.used[candidates] + inst.demand[s]
                    scores = self.score(requested, inst.usable[pools], weights)
                    i = int(candidates[int(np.argmax(scores))])  # argmax: the first (earliest opened) max
                else:
                    opened = cluster.open_for(s, int(inst.replicas[s] - cluster.placed[s]), price_first=True)
                    if opened is None:
                        break
                    i = opened
                cluster.place(i, s)
        return cluster.result()


@dataclass(frozen=True)
class Tetris(_Baseline):
    """Tetris alignment packing, one node at a time (see the module docstring)."""

    name: str = "tetris"

    def plan(self, inst: Instance) -> tuple[list[NodePlan], dict[int, int]]:
        fit = inst.problem.objective == "fit"
        order = arrival_order(inst, fit)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        cluster = _Cluster(inst)
        constrained = [s for s in range(len(inst.services)) if cluster.constrained(s)]
        visited = 0  # nodes before this one are full (fixed cluster and existing nodes first)
        while True:
            left = inst.replicas - cluster.placed
            if not (left > 0).any():
                break
            if visited < cluster.n:
                i, first = visited, None
            else:
                first = next((s for s in order if left[s] > 0 and cluster.openable(s)), None)
                if first is None:
                    break
                i = cluster.open_for(first, int(left[first]), price_first=True)
                assert i is not None
            visited = i + 1
            self._fill(inst, cluster, i, first, rank, constrained, fit)
        return cluster.result()

    def _fill(self, inst: Instance, cluster: _Cluster, i: int, first: int | None, rank: np.ndarray,
              constrained: list[int], fit: bool) -> None:
        p = int(cluster.pool_of[i])
        usable = inst.usable[p]
        scale = np.where(usable > 0, usable, 1.0)
        nxt = first
        while True:
            if nxt is not None:
                cluster.place(i, nxt)
            here = cluster.here[i]
            ok = (inst.replicas - cluster.placed > 0) & inst.placeable[:, p] & (here < inst.per_node[:, p])
            ok &= np.all(fits(cluster.used[i] + inst.demand, usable), axis=1)
            for s in constrained:
                ok[s] &= cluster.allowance(s, p) > 0
            if not ok.any():
                return
            free = (usable - cluster.used[i]) / scale
            align = (inst.demand / scale) @ np.where(usable > 0, free, 0.0)
            nxt = int(min(np.flatnonzero(ok),
                          key=lambda c: (-int(inst.priority[c]) if fit else 0, -align[c], rank[c])))


BASELINES: dict[str, Baseline] = {
    "ffd": first_fit_decreasing,
    "k8s-least-allocated": KubeScheduler("least-allocated"),
    "k8s-most-allocated": KubeScheduler("most-allocated"),
    "tetris": Tetris(),
}
"""Every greedy baseline by name (the name is also its ``Placement.solver``)."""
