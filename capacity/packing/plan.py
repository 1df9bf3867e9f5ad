"""A plan in counts, and how it becomes a `Placement`.

Replicas of one service are identical, so every packer works with **counts**: a `NodePlan` says "this node
of pool ``p`` holds 3 replicas of service 0 and 1 of service 2". Only at the end does `to_placement` give
names to nodes and replicas, always in the same way, so that the same plan gives the same `Placement`:

* nodes are listed in pool order, then in the order the packer listed them, and renumbered
  ``{pool}-0, {pool}-1, ...`` within each pool (nodes of a pool are identical, so this is only a name);
* replicas are numbered per service along that node order: the first node that holds service ``a`` gets
  ``a-0, a-1, ...``, the next one continues the count.

`violations` re-checks a plan against the problem (capacity after headroom, selector, ``max_per_node``,
every replica placed once, pool sizes). The engine runs it on every solver answer before trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from capacity.packing.instance import Instance, fits
from capacity.packing.problem import NodeUsage, Placement, Status


@dataclass
class NodePlan:
    """One used node: its pool (index) and how many replicas of each service (index) it holds."""

    pool: int
    counts: dict[int, int] = field(default_factory=dict)

    def used(self, inst: Instance) -> np.ndarray:
        """[resource] amount used on this node."""
        total = np.zeros(len(inst.resources))
        for s, k in self.counts.items():
            total += k * inst.demand[s]
        return total


def objective_value(inst: Instance, nodes: list[NodePlan]) -> float:
    """Nodes used (``min-nodes``) or cost per hour (``min-cost``) of a plan."""
    if inst.problem.objective == "min-cost":
        return float(sum(inst.cost(n.pool) or 0.0 for n in nodes))
    return float(len(nodes))


def cost_per_hour(inst: Instance, nodes: list[NodePlan]) -> float | None:
    costs = [inst.cost(n.pool) for n in nodes]
    if any(c is None for c in costs):
        return None
    return float(sum(c for c in costs if c is not None))


def violations(inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int]) -> list[str]:
    """What is wrong with a plan (empty when it is valid): one line per broken rule."""
    problems: list[str] = []
    placed = np.zeros(len(inst.services), dtype=np.int64)
    per_pool = np.zeros(len(inst.pools), dtype=np.int64)
    for i, node in enumerate(nodes):
        per_pool[node.pool] += 1
        for s, k in node.counts.items():
            if k < 0:
                problems.append(f"node {i}: negative count of service {s}")
            placed[s] += k
            if k > 0 and not inst.selected[s, node.pool]:
                problems.append(f"node {i}: service {s} is not allowed on pool {node.pool}")
            limit = inst.services[s].max_per_node
            if limit is not None and k > limit:
                problems.append(f"node {i}: {k} replicas of service {s} exceed max_per_node {limit}")
        used = node.used(inst)
        over = ~fits(used, inst.usable[node.pool])
        for r in np.flatnonzero(over):
            problems.append(
                f"node {i}: {inst.resources[r]} used {used[r]} exceeds usable {inst.usable[node.pool, r]}"
            )
    for s in range(len(inst.services)):
        if placed[s] + unplaced.get(s, 0) != inst.replicas[s]:
            problems.append(
                f"service {s}: {placed[s]} placed + {unplaced.get(s, 0)} unplaced "
                f"!= {inst.replicas[s]} replicas"
            )
    for p in range(len(inst.pools)):
        if per_pool[p] > inst.count[p]:
            problems.append(f"pool {p}: {per_pool[p]} nodes used, only {inst.count[p]} exist")
    return problems


def to_placement(
    inst: Instance,
    nodes: list[NodePlan],
    unplaced: dict[int, int],
    *,
    status: Status,
    solver: str,
    lower_bound: int,
    objective_bound: float | None,
    solve_time_s: float,
) -> Placement:
    """Name nodes and replicas (see the module docstring) and fill every field of `Placement`.

    Nodes that hold no replica are dropped. ``objective_value`` is None when replicas are unplaced
    (a partial plan has no comparable objective).
    """
    problem = inst.problem
    used_nodes = [n for n in nodes if any(k > 0 for k in n.counts.values())]
    ordered = sorted(enumerate(used_nodes), key=lambda t: (t[1].pool, t[0]))  # pool, then listed
    next_replica = [0] * len(inst.services)
    next_node = [0] * len(inst.pools)
    usages: list[NodeUsage] = []
    assignment: dict[str, str] = {}
    for _, node in ordered:
        pool = inst.pools[node.pool]
        name = f"{pool.name}-{next_node[node.pool]}"
        next_node[node.pool] += 1
        names: list[str] = []
        for s in sorted(node.counts):
            for _ in range(node.counts[s]):
                replica = f"{inst.services[s].name}-{next_replica[s]}"
                next_replica[s] += 1
                names.append(replica)
                assignment[replica] = name
        used = node.used(inst)
        usages.append(
            NodeUsage(
                name=name,
                pool=pool.name,
                replicas=names,
                used={r: float(used[i]) for i, r in enumerate(inst.resources)},
                capacity={r: float(inst.capacity[node.pool, i]) for i, r in enumerate(inst.resources)},
            )
        )
    unplaced_names = [
        f"{inst.services[s].name}-{i}"
        for s in sorted(unplaced)
        for i in range(inst.replicas[s] - unplaced[s], inst.replicas[s])
    ]
    return Placement(
        status=status,
        solver=solver,
        objective=problem.objective,
        nodes_used=len(usages),
        lower_bound=int(lower_bound),
        objective_value=None if unplaced_names else objective_value(inst, used_nodes),
        objective_bound=objective_bound,
        cost_per_hour=cost_per_hour(inst, used_nodes),
        solve_time_s=solve_time_s,
        nodes=usages,
        unplaced=unplaced_names,
        assignment=assignment,
    )
