"""Scheduler emulations (``k8s-least-allocated``, ``k8s-most-allocated``): Kubernetes, one pod at a time.

They replay what the Kubernetes scheduler and Cluster Autoscaler do when the replicas arrive as pending
pods, one at a time:

1. Replicas arrive in the ffd order (`size_order`: decreasing size, then service order; the replicas of a
   service arrive together, as pods from one deployment), by decreasing ``priority`` first (the
   scheduler's queue is ordered by pod priority).
2. *Filter* (NodeResourcesFit): the open nodes where the selector allows the pool, every resource fits
   after headroom and ``max_per_node`` is not reached (and spread and survive, as every baseline).
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
   **unplaced**.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from capacity.packing.baselines.greedy import Cluster, GreedyBaseline, Plan, arrival_order
from capacity.packing.instance import Instance
from capacity.packing.objectives import Objective

KubeStrategy = Literal["least-allocated", "most-allocated"]
DEFAULT_KUBE_WEIGHTS: Mapping[str, int] = {"cpu": 1, "memory": 1}
"""The scheduler's default NodeResourcesFit scoring resources (``kube-scheduler`` config v1 defaults)."""


@dataclass(frozen=True)
class KubeScheduler(GreedyBaseline):
    """Kubernetes scheduler + Cluster Autoscaler emulation (see the module docstring)."""

    strategy: KubeStrategy
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_KUBE_WEIGHTS))

    @property
    def name(self) -> str:
        return f"k8s-{self.strategy}"

    @property
    def summary(self) -> str:
        scoring = "LeastAllocated" if self.strategy == "least-allocated" else "MostAllocated"
        return f"the Kubernetes scheduler ({scoring} scoring), Cluster Autoscaler's price expander"

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

    def plan(self, inst: Instance, objective: Objective) -> Plan:
        cluster = Cluster(inst, objective)
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


