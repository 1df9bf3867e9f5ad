"""Stranded capacity: what a placement leaves free on its nodes but no replica could use.

A node is paid for whole. What its replicas do not use is **free** (measured against the usable capacity,
after headroom: headroom is kept free on purpose and is never stranded). Free capacity is **stranded**
when the workload cannot use it because something else on the node ran out first: 16 free GiB of memory
on a node whose CPU is used up are worth nothing to a replica that needs a core.

Definition. The **workload** of a node is one more replica of each service whose node selector allows
the node's pool and that asks for something (services with an all-zero request can use nothing), unless
the node already holds ``max_per_node`` replicas of it. For each such service ``s`` let ``k_s`` be the
most extra replicas of ``s`` that fit the node's free capacity in every resource at once (and within
``max_per_node``). For each resource ``r``, the amount a **single service's scale-up** could still claim
is ``claim_r = max_s k_s * demand[s, r]`` (0 when nothing fits), and

    stranded_r = free_r - claim_r        (never below 0)

So when no replica of any allowed service fits, every free amount is stranded (the textbook case: one
resource is exhausted and strands the others); otherwise only what even the best-suited service could
not take. Anti-affinity counts as a reason too: free room on a GPU node that holds the most LLM replicas
it may hold is stranded if nothing else may run there.

Why one service at a time. A scale-up is one deployment growing, so the question "could this free memory
be used?" is asked per service. A mix of services could sometimes claim more (the exact answer is a small
multi-dimensional knapsack per node); this definition is exact, cheap, and reports at least as much
stranding as the mixed definition would, never less.

A pool's stranded capacity is the sum over its used nodes (unused nodes are not provisioned).
Amounts are in the problem's units: CPU in cores, memory in bytes, others plain. Tiny amounts within the
fit tolerance (`capacity.packing.instance.FIT_RTOL`) are reported as 0.
"""

from __future__ import annotations

import numpy as np

from capacity.packing.instance import FIT_RTOL, Instance, fits
from capacity.packing.problem import PackingProblem, Placement


def stranded_capacity(problem: PackingProblem, placement: Placement) -> dict[str, dict[str, float]]:
    """{node name: {resource: stranded amount}} for every used node (see the module docstring).

    Every resource of the problem is listed for every node, 0 included. `ValueError` if the placement
    names a pool or a replica that the problem does not have.
    """
    inst = Instance.compile(problem)
    pool_index = {p.name: i for i, p in enumerate(problem.pools)}
    service_of = {r: i for i, s in enumerate(problem.services) for r in s.replica_names()}
    asks = inst.demand.sum(axis=1) > 0
    has_limit = np.array([s.max_per_node is not None for s in problem.services], dtype=bool)
    limits = np.array([s.max_per_node or 0 for s in problem.services], dtype=np.int64)
    out: dict[str, dict[str, float]] = {}
    for node in placement.nodes:
        if node.pool not in pool_index:
            raise ValueError(f"node {node.name!r}: no pool named {node.pool!r} in the problem")
        p = pool_index[node.pool]
        here = np.zeros(len(problem.services), dtype=np.int64)
        for replica in node.replicas:
            if replica not in service_of:
                raise ValueError(f"node {node.name!r}: replica {replica!r} belongs to no service")
            here[service_of[replica]] += 1
        used = np.array([float(node.used.get(r, 0.0)) for r in inst.resources])
        usable = inst.usable[p]
        free = np.maximum(usable - used, 0.0)
        limit = np.where(has_limit, limits - here, np.iinfo(np.int64).max)
        candidates = np.flatnonzero(inst.selected[:, p] & asks & (limit > 0))
        k = np.minimum(_copies(used, usable, inst.demand[candidates]), limit[candidates])
        claim = (k[:, None] * inst.demand[candidates]).max(axis=0, initial=0.0)
        left = free - claim
        left[left <= usable * FIT_RTOL + 1e-12] = 0.0
        out[node.name] = {r: float(left[i]) for i, r in enumerate(inst.resources)}
    return out


def _copies(used: np.ndarray, usable: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """[service] how many more replicas of each row of ``demand`` fit a node with ``used`` of ``usable``
    (every row asks for something)."""
    room = usable * (1.0 + FIT_RTOL) + 1e-12 - used
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(demand > 0, np.maximum(room, 0.0) / demand, np.inf)
    k = np.floor(np.minimum(ratio.min(axis=1, initial=np.inf), 2.0**62)).astype(np.int64)
    while True:  # floor() of a rounding error may overshoot by one
        over = (k > 0) & ~np.all(fits(used + k[:, None] * demand, usable), axis=1)
        if not over.any():
            return k
        k[over] -= 1


def stranded_by_pool(
    problem: PackingProblem, placement: Placement, per_node: dict[str, dict[str, float]] | None = None
) -> dict[str, dict[str, float]]:
    """{pool name: {resource: stranded amount}} summed over the pool's used nodes; pools with no used
    node are left out. ``per_node`` is `stranded_capacity`'s answer when the caller already has it."""
    per_node = stranded_capacity(problem, placement) if per_node is None else per_node
    out: dict[str, dict[str, float]] = {}
    for node in placement.nodes:
        total = out.setdefault(node.pool, {})
        for r, v in per_node[node.name].items():
            total[r] = total.get(r, 0.0) + v
    return out


def stranded_total(per_node: dict[str, dict[str, float]]) -> dict[str, float]:
    """{resource: stranded amount} summed over every node of `stranded_capacity`'s answer."""
    total: dict[str, float] = {}
    for amounts in per_node.values():
        for r, v in amounts.items():
            total[r] = total.get(r, 0.0) + v
    return total
