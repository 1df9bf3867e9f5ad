"""Greedy baselines: what a cluster autoscaler would do, to measure the integer program against.

A **baseline** is a function ``(PackingProblem) -> Placement`` registered in `BASELINES` under its name
(the name is also ``Placement.solver``). Adding one is one function and one dict entry.

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
"""

from __future__ import annotations

import time
from collections.abc import Callable

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


BASELINES: dict[str, Baseline] = {
    "ffd": first_fit_decreasing,
}
"""Every greedy baseline by name (the name is also its ``Placement.solver``)."""
