"""First-fit decreasing (``ffd``): what Kubernetes Cluster Autoscaler's binpacking estimator does.

1. Take the replicas in the greedy order (`capacity.packing.baselines.greedy.arrival_order`: decreasing
   size; under ``fit`` by decreasing ``priority`` first).
2. Put each replica on the first open node (in opening order) where its selector allows the pool, every
   resource fits after headroom, ``max_per_node`` is not reached and the spread and survive filters pass.
3. When none fits, open a node of the pool that suits the replica best (`prefer_pool`), among the pools the
   replica may use and fits on that still have unopened nodes (and pass the filters). When no such pool is
   left, the replica is **unplaced**.

Cluster Autoscaler's estimator simulates a scale-up of every node group and lets an expander choose;
likewise `ffd_plan` runs this with each pool rule of `prefer_pool` and keeps the best plan. It is also
the first incumbent of every formulation (`capacity.packing.start`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capacity.packing.baselines.greedy import (
    POOL_RULES,
    Cluster,
    GreedyBaseline,
    Plan,
    PoolRule,
    arrival_order,
)
from capacity.packing.instance import Instance
from capacity.packing.objectives import Objective
from capacity.packing.plan import NodePlan


def ffd_plan(inst: Instance, objective: Objective, rules: tuple[PoolRule, ...] | None = None) -> Plan:
    """First-fit decreasing in counts: the used nodes in opening order, and unplaced replicas.

    Tries each pool rule of `prefer_pool` (``objective``, then ``per-replica``, then ``most-left``) and
    keeps the first plan that places everything and is no worse than the others tried, or else the one
    that leaves the least priority-weighted replicas unplaced. A fixed cluster opens no nodes, so one rule
    does there. ``rules``: only these (`capacity.packing.replan` tries one, for speed at scale).
    """
    best: tuple[tuple[float, ...], list[NodePlan], dict[int, int]] | None = None
    tried = rules if rules is not None else (POOL_RULES if not objective.fixed_cluster else POOL_RULES[:1])
    for rule in tried:
        nodes, unplaced = _ffd(inst, objective, rule)
        weight = float(sum(int(inst.priority[s]) * k for s, k in unplaced.items()))
        key = (weight, objective.value(inst, nodes, unplaced), float(len(nodes)))
        if best is None or key < best[0]:
            best = (key, nodes, unplaced)
    assert best is not None
    return best[1], best[2]


def _ffd(inst: Instance, objective: Objective, rule: PoolRule) -> Plan:
    cluster = Cluster(inst, objective, rule)
    for s in arrival_order(inst, objective.partial):
        left = int(inst.replicas[s] - cluster.placed[s])
        while left > 0:
            if cluster.n:
                before = left
                left = _fill_open_nodes(cluster, s, left)
                if left == 0:
                    break
                if cluster.constrained(s) and left < before:
                    continue  # the filters changed with the last placement: look again
            opened = cluster.open_for(s, left)
            if opened is None:
                break
            take = int(min(left, cluster.room(s, slice(opened, opened + 1))[0]))
            if take == 0:  # cannot happen: open_for checked the pool; guard against an endless loop
                break
            cluster.place(opened, s, take)
            left -= take
    return cluster.result()


def _fill_open_nodes(cluster: Cluster, s: int, left: int) -> int:
    """First fit of ``left`` replicas of ``s`` into the open nodes; returns how many are left. A service
    under spread or survive filters goes one node at a time (the filters change with every placement)."""
    k = cluster.room(s)
    for i in np.flatnonzero(k > 0):
        take = int(min(left, k[i]))
        cluster.place(int(i), s, take)
        left -= take
        if left == 0 or cluster.constrained(s):
            break
    return left


@dataclass(frozen=True)
class FirstFitDecreasing(GreedyBaseline):
    """First-fit decreasing (see the module docstring)."""

    name: str = "ffd"
    summary = "first-fit decreasing, as Cluster Autoscaler's binpacking estimator"

    def plan(self, inst: Instance, objective: Objective) -> Plan:
        return ffd_plan(inst, objective)


first_fit_decreasing = FirstFitDecreasing()
"""The ``ffd`` baseline: ``first_fit_decreasing(problem)`` is its `Placement` (`ValueError` on malformed
input)."""
