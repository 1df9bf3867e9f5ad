"""Tetris (``tetris``; Grandl et al., "Multi-resource packing for cluster schedulers", SIGCOMM 2014).

It fills one node at a time, as its scheduler does when a machine reports free resources: among the
replicas that fit the node (selector, resources after headroom, ``max_per_node``, spread and survive) it
places the one with the largest **alignment**, the dot product of the replica's demand and the node's free
resources, both divided by the node's usable capacity (resources the node lacks are left out), and repeats
until nothing fits. **Tie**: the earlier service in the ffd order (under ``fit``: the higher priority
first). Then it opens the next node for the first replica left in the ffd order, from the cheapest pool
as the scheduler emulations do (`capacity.packing.baselines.kube`), placing that replica first. A node
that nothing fits any more is never revisited (later replicas are a subset of those that did not fit).
Tetris's other term, favouring jobs with little remaining work, needs durations and does not apply to
placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capacity.packing.baselines.greedy import Cluster, GreedyBaseline, Plan, arrival_order
from capacity.packing.instance import Instance
from capacity.packing.objectives import Objective


@dataclass(frozen=True)
class Tetris(GreedyBaseline):
    """Tetris alignment packing, one node at a time (see the module docstring)."""

    name: str = "tetris"
    summary = "Tetris (Grandl et al., SIGCOMM 2014): one node at a time, the best-aligned replica next"

    def plan(self, inst: Instance, objective: Objective) -> Plan:
        fit = objective.partial
        order = arrival_order(inst, fit)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        cluster = Cluster(inst, objective)
        visited = 0  # nodes before this one are full (fixed cluster and existing nodes first)
        while True:
            left = inst.replicas - cluster.placed
            if not (left > 0).any():
                break
            first: int | None = None
            if visited < cluster.n:
                i = visited
            else:
                first = next((s for s in order if left[s] > 0 and cluster.openable(s)), None)
                if first is None:
                    break
                opened = cluster.open_for(first, int(left[first]), price_first=True)
                assert opened is not None  # openable(first) said a pool has a node left
                i = opened
            visited = i + 1
            self._fill(inst, cluster, i, first, rank, fit)
        return cluster.result()

    def _fill(self, inst: Instance, cluster: Cluster, i: int, first: int | None, rank: np.ndarray,
              fit: bool) -> None:
        p = int(cluster.pool_of[i])
        usable = inst.usable[p]
        scale = np.where(usable > 0, usable, 1.0)
        nxt = first
        while True:
            if nxt is not None:
                cluster.place(i, nxt)
            ok = (inst.replicas - cluster.placed > 0) & cluster.takes(i)
            if not ok.any():
                return
            free = (usable - cluster.used[i]) / scale
            align = (inst.demand / scale) @ np.where(usable > 0, free, 0.0)
            nxt = int(min(np.flatnonzero(ok),
                          key=lambda c: (-int(inst.priority[c]) if fit else 0, -align[c], rank[c])))


