"""The greedy machinery every baseline shares: replica order, pool choice, and the open nodes' state.

A greedy baseline obeys the same rules as the optimiser: node selectors (pool names and labels),
``max_per_node``, headroom (a node offers its capacity after headroom), pool counts, ``spread`` and
``survive``, as the Kubernetes scheduler's filters do (`Cluster.room`, `Cluster.can_take`):

* a replica may go on a node only while, after it, the service's domain of that node holds at most
  ``min over its domains + max_skew`` replicas (``PodTopologySpread`` with ``DoNotSchedule``: each step
  keeps every count within ``max_skew`` of the smallest, so the final plan does too);
* under a spread over nodes (``kubernetes.io/hostname``) at most ``max_skew`` replicas of the service on
  one node (`Cluster.node_cap`): the scheduler counts every node of the allowed pools, so the smallest count
  is 0 as soon as one such node holds none, and a plan with at most ``max_skew`` on every node keeps the skew
  within it however many nodes the cluster ends up with;
* at most ``floor((1 - keep) * replicas)`` replicas of a ``survive`` service on one node (zone);
* required pod (anti-)affinity as the scheduler's InterPodAffinity filter (`Cluster.affinity`, a
  `capacity.packing.baselines.affinity.PodAffinityFilter`); a service with an affinity term to another
  one arrives after it.

A replica that passes no filter anywhere is **unplaced**. A baseline that places only some replicas of a
``survive`` service then removes, from the most loaded node (zone), replicas whose loss would break
``survive`` for the smaller placed count, until it holds (so a partial plan obeys every rule too); replicas
that a removal leaves breaking a pod affinity term are removed too (`Cluster.trim_for_affinity`).

**Fixed cluster** (an objective's ``fixed_cluster``: ``fit``, ``balance``): every node of every pool is open
from the start (as many per pool as replicas could go there), and no node is opened later. **Existing
placement**: the nodes of ``existing`` are opened first (under their names) and keep the replicas that
still obey every rule (what a running cluster does: running pods stay), the rest are placed by the
heuristic.

**Replica order** (`size_order`): by decreasing **size**, the sum over resources of the replica's demand
divided by the largest usable amount of that resource on any node of the cluster (Cluster Autoscaler's
``DecreasingPodOrderer`` scores ``cpu/node_cpu + mem/node_mem``; here every resource counts, GPUs
included). Ties: larger largest-normalised-dimension first, then the order of the services in the
problem. Replicas of one service are identical, so they stay together. Under an objective that may leave
replicas unplaced (``partial``: ``fit``) they arrive by decreasing ``priority`` first (`arrival_order`).

**Which pool a new node comes from** (`prefer_pool`): with ``k`` the replicas of the service that one new
node of the pool takes (`Cluster.node_cap`, at most those left), and ``unused`` the capacity the pool offers
in resources the service does not ask for at all (each as a share of the largest node's; a GPU node has 1
for a CPU-only service), the key is ``(price / k, unused, pool order)`` when the objective prices a new
node (`capacity.packing.objectives.Objective.greedy_price`: the cost under ``min-cost``) and ``(unused,
-k, pool order)`` otherwise. So specialised nodes (GPUs) are not spent on services that do not use them
while a plain pool can take them (the problem's pool order used to decide: on mixed pools a CPU service
could take the last GPU nodes and leave a GPU service unplaced), and the fewest (or cheapest per replica)
nodes are opened. The rule ``per-replica`` swaps the two keys (cost per replica when the objective does
not price nodes and every pool has a cost), ``most-left`` prefers the pool with the largest share of
nodes left; first-fit decreasing tries all three (`capacity.packing.baselines.ffd`).

The result (`GreedyBaseline.__call__`) has status ``optimal`` when it meets the proven bound
(`capacity.packing.bounds`), ``feasible`` otherwise, and ``infeasible`` when it left replicas unplaced
under an objective that wants a complete plan (a baseline's ``infeasible`` means *this heuristic* failed,
not that no placement exists; `capacity.packing.solve` decides that).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from capacity.packing.baselines.affinity import PodAffinityFilter, after_affinity
from capacity.packing.bounds import compute_bounds
from capacity.packing.instance import FIT_RTOL, Instance, fits, keep_cap
from capacity.packing.objectives import Objective, compile_problem
from capacity.packing.outcome import heuristic_placement
from capacity.packing.plan import NodePlan
from capacity.packing.problem import PackingProblem, Placement

Plan = tuple[list[NodePlan], dict[int, int]]
"""A plan in counts: the used nodes, and the unplaced replicas by service index."""


def size_order(inst: Instance) -> list[int]:
    """Services by decreasing replica size (see the module docstring), as a list of indices."""
    largest = inst.usable.max(axis=0) if len(inst.pools) else np.zeros(len(inst.resources))
    scale = np.where(largest > 0, largest, 1.0)
    norm = inst.demand / scale
    total = norm.sum(axis=1)
    peak = norm.max(axis=1) if len(inst.resources) else np.zeros(len(inst.services))
    return sorted(range(len(inst.services)), key=lambda s: (-total[s], -peak[s], s))


def arrival_order(inst: Instance, by_priority: bool) -> list[int]:
    """`size_order`, by decreasing priority first when ``by_priority``; a service with a pod affinity term
    to another one after it (`after_affinity`)."""
    order = size_order(inst)
    if by_priority:
        order.sort(key=lambda s: -int(inst.priority[s]))  # stable: size order within a priority
    return after_affinity(inst, order)


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
    inst: Instance, objective: Objective, s: int, left: int, pools: list[int], rule: PoolRule = "objective",
    price_first: bool = False, opened: np.ndarray | None = None, node_cap: np.ndarray | None = None,
) -> int:
    """The pool a new node for service ``s`` comes from (see the module docstring); ``node_cap``
    [service, pool] is the most replicas one node takes (default `Instance.per_node`)."""
    cap = inst.per_node if node_cap is None else node_cap
    largest = inst.usable.max(axis=0)
    idle = (inst.demand[s] <= 0) & (largest > 0)
    price = {p: objective.greedy_price(inst, p) for p in pools}
    by_price = all(v is not None for v in price.values())
    if rule == "per-replica":
        by_price = not by_price and all(inst.cost(p) is not None for p in pools)
        price = {p: inst.cost(p) for p in pools}

    def key(p: int) -> tuple[float, ...]:
        k = max(1, min(int(cap[s, p]), left))
        unused = float((inst.usable[p, idle] / largest[idle]).sum())
        cost = inst.cost(p)
        if price_first:
            return (math.inf if cost is None else cost, unused, -k, p)
        if rule == "most-left" and opened is not None:
            return (unused, -float(inst.count[p] - opened[p]) / float(inst.count[p]), -k, p)
        if by_price:
            return ((price[p] or 0.0) / k, unused, p)
        return (unused, -k, p)

    return min(pools, key=key)


class Cluster:
    """The nodes a greedy scheduler has opened, what they hold, and the state of the constraints.

    Open nodes are numbered from 0 in opening order: ``pool_of[i]`` is node ``i``'s pool, ``used[i]`` what
    it uses [resource], ``here[i]`` its replicas [service]; ``placed`` counts the placed replicas
    [service]. `place` puts replicas on a node, `open_for` opens a node (`prefer_pool`), `room`,
    `can_take` and `takes` say where the rules let more replicas go, and `result` is the plan.
    ``node_cap`` [service, pool] is the most replicas of a service one node may hold (`Instance.per_node`,
    at most ``max_skew`` under a spread over nodes).
    """

    def __init__(
        self, inst: Instance, objective: Objective, rule: PoolRule = "objective",
        plan: list[NodePlan] | None = None,
    ) -> None:
        self.inst = inst
        self.objective = objective
        self.rule = rule
        size = 16
        self.pool_of = np.zeros(size, dtype=np.int64)
        self.used = np.zeros((size, len(inst.resources)))
        self.here = np.zeros((size, len(inst.services)), dtype=np.int64)  # [node, service] replicas
        self.nodes: list[NodePlan] = []
        self.opened = np.zeros(len(inst.pools), dtype=np.int64)
        self.placed = np.zeros(len(inst.services), dtype=np.int64)
        self.node_cap = inst.per_node.copy()
        self.max_skew: dict[int, int] = {}   # spreads over a pool label (zones)
        for s, svc in enumerate(inst.services):
            if svc.spread is not None and inst.host_skew(s) is not None:
                self.node_cap[s] = np.minimum(self.node_cap[s], svc.spread.max_skew)
            elif svc.spread is not None:
                self.max_skew[s] = svc.spread.max_skew
        self.domains = {s: np.zeros(inst.domain_count(s), dtype=np.int64) for s in self.max_skew}
        self.zones = {s: np.zeros(inst.zone_count(s), dtype=np.int64)
                      for s, svc in enumerate(inst.services)
                      if svc.survive is not None and svc.survive.failure == "zone"}
        self.affinity = PodAffinityFilter(inst)
        self.fixed = objective.fixed_cluster
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
        """Filters beyond one node (spread, zone survival, pod affinity) decide where ``s`` may go."""
        return s in self.domains or s in self.zones or self.affinity.involves(s)

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
        """Most replicas of ``s`` the spread, zone and pod affinity (over pool labels) filters let onto a
        node of pool ``p`` now."""
        inst = self.inst
        if not inst.placeable[s, p]:
            return 0
        out = int(inst.replicas[s])
        if s in self.domains:
            counts = self.domains[s]
            skew = self.max_skew[s]
            out = min(out, int(counts.min()) + skew - int(counts[inst.spread_domain[s, p]]))
        if s in self.zones:
            out = min(out, inst.zone_cap(s) - int(self.zones[s][inst.zone[s, p]]))
        if self.affinity.involves(s):
            out = min(out, self.affinity.pool_allowance(s, p, self.pool_of[: self.n], self.here[: self.n]))
        return max(out, 0)

    def _filtered(self, s: int, sel: slice) -> np.ndarray:
        """[selected open node] most replicas of ``s`` the filters beyond one node let there now."""
        pools = self.pool_of[: self.n][sel]
        allow = {int(p): self.allowance(s, int(p)) for p in np.unique(pools)}
        out = np.array([allow[int(p)] for p in pools], dtype=np.int64)
        if self.affinity.involves(s):
            out[~self.affinity.node_mask(s, self.pool_of[: self.n], self.here[: self.n])[sel]] = 0
        return out

    def room(self, s: int, nodes: slice | None = None, filters: bool = True) -> np.ndarray:
        """[open node] how many more replicas of ``s`` may go there (every rule, filters included unless
        ``filters`` is False); ``nodes`` selects some of the open nodes."""
        inst = self.inst
        sel = nodes if nodes is not None else slice(0, self.n)
        pools = self.pool_of[: self.n][sel]
        k = _copies_that_fit(self.used[: self.n][sel], inst.usable[pools], inst.demand[s])
        k[~inst.placeable[s, pools]] = 0
        k = np.minimum(k, self.node_cap[s, pools] - self.here[: self.n, s][sel])
        if filters and self.constrained(s):
            k = np.minimum(k, self._filtered(s, sel))
        return np.maximum(k, 0)

    def can_take(self, s: int) -> np.ndarray:
        """[open node] True where one more replica of ``s`` may go (every rule, filters included)."""
        inst = self.inst
        n = self.n
        pools = self.pool_of[:n]
        ok = inst.placeable[s, pools] & (self.here[:n, s] < self.node_cap[s, pools])
        ok &= np.all(fits(self.used[:n] + inst.demand[s], inst.usable[pools]), axis=1)
        if self.constrained(s):
            ok &= self._filtered(s, slice(0, n)) > 0
        return ok

    def takes(self, i: int) -> np.ndarray:
        """[service] True where one more replica of the service may go on open node ``i`` (every rule,
        filters included; whether replicas are left is the caller's business)."""
        inst = self.inst
        p = int(self.pool_of[i])
        ok = inst.placeable[:, p] & (self.here[i] < self.node_cap[:, p])
        ok &= np.all(fits(self.used[i] + inst.demand, inst.usable[p]), axis=1)
        for s in range(len(inst.services)):
            if ok[s] and self.constrained(s):
                ok[s] = self._filtered(s, slice(i, i + 1))[0] > 0
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
            and self.affinity.new_node_ok(s, self.here[: self.n])
        ]

    def open_for(self, s: int, left: int, price_first: bool = False) -> int | None:
        pools = self.openable(s)
        if not pools:
            return None
        return self.open(prefer_pool(self.inst, self.objective, s, left, pools, self.rule, price_first,
                                     self.opened, self.node_cap))

    def _seed_existing(self) -> None:
        """Open the existing nodes and keep the replicas that still obey every rule."""
        inst = self.inst
        keep_at_most = {s: int(n) for s, n in enumerate(inst.replicas)}
        for s, skew in self.max_skew.items():
            per = np.zeros(inst.domain_count(s), dtype=np.int64)
            for e in inst.existing:
                d = inst.spread_domain[s, e.pool]
                if d >= 0:
                    per[d] += e.counts.get(s, 0)
            if len(per):
                most = int(np.minimum(per, per.min() + skew).sum())
                keep_at_most[s] = min(keep_at_most[s], most)
        quotas = {s: self._seed_quotas(s) for s in set(self.domains) | set(self.zones)
                  if not self.affinity.involves(s)}
        for e in inst.existing:
            i = self.open(e.pool, e.index)
            for s, k in e.counts.items():
                if s in quotas:  # the final counts per domain were set above: no sequential filter
                    room = int(self.room(s, slice(i, i + 1), filters=False)[0])
                    limits = self._seed_counts(s, e.pool, quotas[s])
                    room = min(room, *(int(q[d] - c[d]) for q, c, d in limits))
                else:
                    room = int(self.room(s, slice(i, i + 1))[0])
                take = min(k, keep_at_most[s] - int(self.placed[s]), room)
                if take > 0:
                    self.place(i, s, take)
            if not self.nodes[i].counts:  # nothing stays: the node is free again
                self.nodes.pop()
                self.opened[e.pool] -= 1
        # What capacity or totals cut may have left a spread out of balance: trim the largest domains.
        for s in self.domains:
            self._rebalance(s)

    def _seed_quotas(self, s: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """How many of the running replicas of ``s`` each spread domain and each zone keeps: the running
        counts cut to ``min + max_skew`` and to the zone cap, then trimmed from the largest domain down
        to the replicas wanted. Kept in one go, they obey spread and zone survival whatever order the
        nodes are seeded in (a sequential filter would let the first domain keep only ``max_skew``)."""
        inst = self.inst
        spread = zone = None
        if s in self.domains:
            per = np.zeros(inst.domain_count(s), dtype=np.int64)
            for e in inst.existing:
                d = inst.spread_domain[s, e.pool]
                if d >= 0:
                    per[d] += e.counts.get(s, 0)
            spread = np.minimum(per, per.min() + self.max_skew[s]) if len(per) else per
            while spread.sum() > inst.replicas[s]:
                spread[int(np.argmax(spread))] -= 1
        if s in self.zones:
            zone = np.full(inst.zone_count(s), inst.zone_cap(s), dtype=np.int64)
        return spread, zone

    def _seed_counts(
        self, s: int, p: int, quotas: tuple[np.ndarray | None, np.ndarray | None]
    ) -> list[tuple[np.ndarray, np.ndarray, int]]:
        """(quota, count so far, index) of the spread domain and the zone of pool ``p`` for ``s``."""
        inst = self.inst
        out = []
        spread, zone = quotas
        if spread is not None and inst.spread_domain[s, p] >= 0:
            out.append((spread, self.domains[s], int(inst.spread_domain[s, p])))
        if zone is not None and inst.zone[s, p] >= 0:
            out.append((zone, self.zones[s], int(inst.zone[s, p])))
        out.append((np.array([inst.replicas[s]]), np.array([self.placed[s]]), 0))
        return out

    def _rebalance(self, s: int) -> None:
        inst = self.inst
        skew = self.max_skew[s]
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

    def trim_for_affinity(self) -> None:
        """Remove the replicas that break a required pod (anti-)affinity term
        (`capacity.packing.baselines.affinity`: they stay Pending), until none does; then the spreads are
        rebalanced."""
        changed = True
        while changed:
            changed = False
            for term in self.affinity.terms:
                for i, k in self.affinity.removals(term, self.pool_of[: self.n], self.here[: self.n]):
                    self.place(i, term[1], -k)
                    changed = True
        for s in self.domains:
            self._rebalance(s)

    def result(self) -> Plan:
        """The used nodes in opening order and the unplaced replicas (pod affinity and ``survive`` restored
        first: each trim may break what another holds, so they repeat until neither removes a replica)."""
        while True:
            before = int(self.placed.sum())
            if self.affinity.terms:
                self.trim_for_affinity()
            if (self.placed < self.inst.replicas).any():  # a partial plan: survive holds for what is placed
                self.trim_for_survival()
            if int(self.placed.sum()) == before:
                break
        unplaced = {
            s: int(n - self.placed[s]) for s, n in enumerate(self.inst.replicas) if n > self.placed[s]
        }
        return [n for n in self.nodes if n.counts], unplaced


def fill_plan(inst: Instance, objective: Objective, nodes: list[NodePlan], unplaced: dict[int, int]) -> Plan:
    """A valid plan topped up: each unplaced replica (by priority, then size) goes on the first node where
    every rule allows it, or on a new node while pools have some; ``survive`` is restored afterwards
    under ``fit``."""
    cluster = Cluster(inst, objective, plan=nodes)
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


class GreedyBaseline(ABC):
    """A greedy baseline: ``plan`` (in counts) turned into a `Placement` named after ``name``.

    Subclasses set ``name`` (the registry's key and ``Placement.solver``) and ``summary`` (one line for
    the CLI and the documentation), and implement ``plan``, usually with a `Cluster`.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """The registry's key and the plan's ``Placement.solver``."""

    @property
    @abstractmethod
    def summary(self) -> str:
        """One line for the CLI and the documentation."""

    @abstractmethod
    def plan(self, inst: Instance, objective: Objective) -> Plan:
        """The plan of ``inst`` in counts (every rule of the module docstring obeyed)."""

    def __call__(self, problem: PackingProblem) -> Placement:
        """The plan of ``problem`` as a `Placement`; `ValueError` on malformed input."""
        started = time.perf_counter()
        inst, objective = compile_problem(problem)
        nodes, unplaced = self.plan(inst, objective)
        return heuristic_placement(inst, objective, compute_bounds(inst), nodes, unplaced, self.name, started)
