"""Greedy baselines: what a cluster autoscaler would do, to measure the integer program against.

A **baseline** is a callable ``(PackingProblem) -> Placement`` (a function, or a small class instance)
registered in `BASELINES` under its name (the name is also ``Placement.solver``). Adding one is one
function or class and one dict entry. Every baseline obeys the same rules as the optimiser: node
selectors, ``max_per_node``, headroom (a node offers its capacity after headroom) and pool counts.

**First-fit decreasing** (``ffd``) is what Kubernetes Cluster Autoscaler's binpacking estimator does:

1. Sort the replicas by decreasing **size**, the sum over resources of the replica's demand divided by
   the largest usable amount of that resource on any node of the cluster (Cluster Autoscaler's
   ``DecreasingPodOrderer`` scores ``cpu/node_cpu + mem/node_mem``; here every resource counts, GPUs
   included). Ties: larger largest-normalised-dimension first, then the order of the services in the
   problem. Replicas of one service are identical, so they stay together.
2. Put each replica on the first open node (in opening order) where its selector allows the pool, every
   resource fits after headroom and ``max_per_node`` is not reached.
3. When none fits, open a node: under ``min-nodes`` of the first pool in the problem's order, under
   ``min-cost`` of the cheapest pool (ties by order), among the pools the replica may use and fits on
   that still have unopened nodes. When no such pool is left, the replica is **unplaced**.

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
   nodes. No such pool: the replica, and the rest of its service, stay **unplaced**.

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
from capacity.packing.instance import FIT_RTOL, Instance, fits
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


def ffd_plan(inst: Instance) -> tuple[list[NodePlan], dict[int, int]]:
    """First-fit decreasing in counts: the used nodes in opening order, and unplaced replicas."""
    nodes: list[NodePlan] = []
    pool_of = np.zeros(0, dtype=np.int64)
    used = np.zeros((0, len(inst.resources)))
    opened = np.zeros(len(inst.pools), dtype=np.int64)
    unplaced: dict[int, int] = {}
    min_cost = inst.problem.objective == "min-cost"
    for s in size_order(inst):
        left = int(inst.replicas[s])
        if left == 0:
            continue
        d = inst.demand[s]
        limit = inst.services[s].max_per_node
        if nodes:
            k = _copies_that_fit(used, inst.usable[pool_of], d)
            k[~inst.placeable[s, pool_of]] = 0
            if limit is not None:
                here = np.array([n.counts.get(s, 0) for n in nodes], dtype=np.int64)
                k = np.minimum(k, limit - here)
            for i in np.flatnonzero(k > 0):
                take = int(min(left, k[i]))
                nodes[i].counts[s] = nodes[i].counts.get(s, 0) + take
                used[i] += take * d
                left -= take
                if left == 0:
                    break
        while left > 0:
            pools = [p for p in range(len(inst.pools)) if inst.placeable[s, p] and opened[p] < inst.count[p]]
            if not pools:
                unplaced[s] = left
                break
            p = min(pools, key=lambda p: ((inst.cost(p) or 0.0) if min_cost else 0.0, p))
            take = int(min(left, inst.per_node[s, p]))
            opened[p] += 1
            nodes.append(NodePlan(p, {s: take}))
            pool_of = np.append(pool_of, p)
            used = np.vstack([used, take * d])
            left -= take
    return nodes, unplaced


def heuristic_placement(
    inst: Instance, bounds: Bounds, nodes: list[NodePlan], unplaced: dict[int, int], name: str, started: float
) -> Placement:
    """Wrap a heuristic's plan: status from the bounds (see the module docstring)."""
    bound = objective_bound(inst, bounds)
    status: Status
    if unplaced:
        status = "infeasible"
    elif meets(objective_value(inst, nodes), bound):
        status = "optimal"
    else:
        status = "feasible"
    return to_placement(
        inst,
        nodes,
        unplaced,
        status=status,
        solver=name,
        lower_bound=bounds.nodes,
        objective_bound=bound,
        solve_time_s=time.perf_counter() - started,
    )


def objective_bound(inst: Instance, bounds: Bounds) -> float | None:
    """The combinatorial bound on the objective: nodes (``min-nodes``) or cost (``min-cost``)."""
    if inst.problem.objective == "min-cost":
        return bounds.cost
    return float(bounds.nodes)


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


class _OpenNodes:
    """The nodes a greedy scheduler has opened so far: pool, use, and replicas of one service on each."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        most = int(min(inst.count.sum(), inst.replicas.sum()))
        self.pool_of = np.zeros(most, dtype=np.int64)
        self.used = np.zeros((most, len(inst.resources)))
        self.nodes: list[NodePlan] = []
        self.opened = np.zeros(len(inst.pools), dtype=np.int64)

    @property
    def n(self) -> int:
        return len(self.nodes)

    def open_for(self, s: int) -> int | None:
        """Open a node of the cheapest pool that can take a replica of ``s`` (its index; None: no pool)."""
        inst = self.inst
        pools = [p for p in range(len(inst.pools)) if inst.placeable[s, p] and self.opened[p] < inst.count[p]]
        if not pools:
            return None
        p = min(pools, key=lambda p: (math.inf if inst.cost(p) is None else inst.cost(p), p))
        self.opened[p] += 1
        self.pool_of[self.n] = p
        self.nodes.append(NodePlan(p, {}))
        return self.n - 1

    def place(self, i: int, s: int, k: int = 1) -> None:
        self.nodes[i].counts[s] = self.nodes[i].counts.get(s, 0) + k
        self.used[i] += k * self.inst.demand[s]

    def room_for(self, s: int, here: np.ndarray) -> np.ndarray:
        """[node] True where one more replica of ``s`` may go (selector, resources, ``max_per_node``).

        ``here`` [node] counts the replicas of ``s`` on each node (at least `n` entries).
        """
        n, inst = self.n, self.inst
        pools = self.pool_of[:n]
        ok = inst.placeable[s, pools]
        ok &= np.all(fits(self.used[:n] + inst.demand[s], inst.usable[pools]), axis=1)
        limit = inst.services[s].max_per_node
        if limit is not None:
            ok &= here[:n] < limit
        return ok


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
        nodes = _OpenNodes(inst)
        weights = self.resource_weights(inst)
        unplaced: dict[int, int] = {}
        for s in size_order(inst):
            here = np.zeros(len(nodes.pool_of), dtype=np.int64)
            for placed in range(int(inst.replicas[s])):
                candidates = np.flatnonzero(nodes.room_for(s, here))
                if len(candidates):
                    pools = nodes.pool_of[candidates]
                    scores = self.score(nodes.used[candidates] + inst.demand[s], inst.usable[pools], weights)
                    i = int(candidates[int(np.argmax(scores))])  # argmax: the first (earliest opened) max
                else:
                    opened = nodes.open_for(s)
                    if opened is None:
                        unplaced[s] = int(inst.replicas[s]) - placed
                        break
                    i = opened
                nodes.place(i, s)
                here[i] += 1
        return nodes.nodes, unplaced


@dataclass(frozen=True)
class Tetris(_Baseline):
    """Tetris alignment packing, one node at a time (see the module docstring)."""

    name: str = "tetris"

    def plan(self, inst: Instance) -> tuple[list[NodePlan], dict[int, int]]:
        order = size_order(inst)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        left = inst.replicas.astype(np.int64).copy()
        limit = np.array(
            [s.max_per_node if s.max_per_node is not None else np.iinfo(np.int64).max for s in inst.services],
            dtype=np.int64,
        )
        nodes = _OpenNodes(inst)
        unplaced: dict[int, int] = {}
        for s in order:
            while left[s] > 0:
                i = nodes.open_for(s)
                if i is None:
                    unplaced[s] = int(left[s])
                    left[s] = 0
                    break
                p = int(nodes.pool_of[i])
                usable = inst.usable[p]
                scale = np.where(usable > 0, usable, 1.0)
                here = np.zeros(len(inst.services), dtype=np.int64)
                nxt: int | None = s
                while nxt is not None:
                    nodes.place(i, nxt)
                    left[nxt] -= 1
                    here[nxt] += 1
                    free = (usable - nodes.used[i]) / scale
                    ok = (left > 0) & inst.placeable[:, p] & (here < limit)
                    ok &= np.all(fits(nodes.used[i] + inst.demand, usable), axis=1)
                    if not ok.any():
                        nxt = None
                        continue
                    align = (inst.demand / scale) @ np.where(usable > 0, free, 0.0)
                    candidates = np.flatnonzero(ok)
                    nxt = int(min(candidates, key=lambda c: (-align[c], rank[c])))
        return nodes.nodes, unplaced


BASELINES: dict[str, Baseline] = {
    "ffd": first_fit_decreasing,
    "k8s-least-allocated": KubeScheduler("least-allocated"),
    "k8s-most-allocated": KubeScheduler("most-allocated"),
    "tetris": Tetris(),
}
"""Every greedy baseline by name (the name is also its ``Placement.solver``)."""
