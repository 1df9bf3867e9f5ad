"""Proven lower bounds on the nodes (and the cost) that any placement needs, with their evidence.

A solver that stops at its time limit says how good its plan is only if someone can say how good a plan
*could* be. These bounds are combinatorial (no solver): cheap, always available, and each one comes with
its **evidence** (which services, which pools, which resource), which is also what explains an infeasible
problem (`capacity.packing.feasibility`).

Definitions. A service's *placeable pools* are the pools its node selector allows and where one replica
fits an empty node. Services that can share a pool are **connected**; connected services and their pools
form a **component**, and components never share a node, so their bounds add up. Inside a component,
for a *group* of pools Q, the services whose placeable pools all lie in Q must be placed on nodes of Q.
For each such group (the placeable set of each service, unions of two of them, the whole component, and
for each resource the pools at most a given size), each resource r:

* **capacity (cover)**: the fewest nodes of Q whose usable capacity adds up to the total demand for r,
  taking the largest nodes first and respecting pool sizes (``inf`` when even all of Q is too small);
* **large replicas** (the Martello–Toth L2 bound of one-dimensional bin packing, with the largest usable
  capacity M of Q as bin size): replicas above M/2 cannot share a node, replicas above M - a leave no room
  for replicas of size >= a, and the smaller ones fill what is left at best perfectly.

And for each service: **per node** — the fewest nodes that can hold all its replicas when one node of
pool p holds at most ``per_node[s, p]`` (``max_per_node``, or what fits): ``ceil(replicas / k)`` for one
pool. And for each component: **conflicts** — replicas that pairwise cannot share any node (together they
overflow some resource on every pool both may use, or ``max_per_node`` is 1) need a node each; a greedy
clique of such replicas, grown largest first, counts them. This is the vector-packing bound: two replicas
may each fit half a node in every single resource and still not fit together.

The bound on nodes is the sum over components of the largest evidence in each. The bound on cost (all
pools priced) is, per component, the largest of: the cheapest fractional cover of each group's demand for
each resource (pools taken by cost per unit of the resource), and the price of the cheapest n nodes of a
group whose evidence says it needs n nodes.

All comparisons lean towards the smaller bound by the fit tolerance, so a bound is never above what a
tolerance-respecting plan achieves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from capacity.packing.instance import FIT_RTOL, Instance, fits
from capacity.packing.problem import PackingProblem

_MAX_SETS_FOR_UNIONS = 24  # beyond this many distinct placeable sets, skip the pairwise unions
_MAX_SERVICES_FOR_CLIQUE = 2000  # the conflict matrix is services x services x resources


@dataclass(frozen=True)
class Evidence:
    """One reason why a component needs at least ``nodes`` nodes.

    ``kind`` is ``capacity`` (aggregate demand for ``resource``), ``large-replicas`` (replicas too large
    to share nodes in ``resource``), ``per-node`` (one service's replicas, at most ``per_node`` on one
    node; ``resource`` is empty) or ``conflicts`` (replicas that pairwise share no node; ``resource`` is
    the one that most often keeps them apart). ``demand`` is the total demand (or replicas for ``per-node``),
    ``offered`` what all nodes of ``pools`` offer together (or hold, for ``per-node``), ``available`` how
    many nodes those pools have. ``nodes`` is ``math.inf`` when the pools cannot hold the demand at all.
    """

    nodes: float
    kind: str
    resource: str
    services: tuple[int, ...]
    pools: tuple[int, ...]
    demand: float
    offered: float
    available: int

    @property
    def impossible(self) -> bool:
        return self.nodes > self.available


@dataclass(frozen=True)
class Component:
    """Services that can share pools, and those pools; its bounds hold for its nodes alone."""

    pools: tuple[int, ...]
    services: tuple[int, ...]
    nodes: int  # lower bound on the nodes this component uses
    cost: float | None  # lower bound on their cost per hour (None: some pool has no cost)
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Bounds:
    nodes: int
    cost: float | None
    components: tuple[Component, ...]

    @property
    def evidence(self) -> list[Evidence]:
        return [e for c in self.components for e in c.evidence]


def lower_bound(problem: PackingProblem) -> int:
    """A proven lower bound on the number of nodes any valid placement of ``problem`` uses.

    Services that cannot be placed at all are left out (the problem is infeasible then, and any bound is
    vacuously true).
    """
    return compute_bounds(Instance.compile(problem)).nodes


def compute_bounds(inst: Instance) -> Bounds:
    comps = []
    for pools, services in components(inst):
        evidence = _evidence(inst, pools, services)
        finite = [e.nodes for e in evidence if math.isfinite(e.nodes)]
        nodes = int(max(finite, default=0))
        comps.append(
            Component(pools, services, nodes, _cost_bound(inst, pools, services, evidence), tuple(evidence))
        )
    total_cost = None
    if all(c.cost is not None for c in comps):
        total_cost = float(sum(c.cost for c in comps if c.cost is not None))
    return Bounds(sum(c.nodes for c in comps), total_cost, tuple(comps))


def components(inst: Instance) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Connected (pools, services) of placeable services, ordered by their first pool."""
    parent = list(range(len(inst.pools)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    active = [s for s in range(len(inst.services)) if inst.replicas[s] > 0 and inst.placeable[s].any()]
    for s in active:
        ps = np.flatnonzero(inst.placeable[s])
        for p in ps[1:]:
            ra, rb = find(int(ps[0])), find(int(p))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    by_root: dict[int, list[int]] = {}
    for s in active:
        by_root.setdefault(find(int(np.flatnonzero(inst.placeable[s])[0])), []).append(s)
    out = []
    for root in sorted(by_root):
        pools = tuple(
            p for p in range(len(inst.pools)) if find(p) == root and inst.placeable[by_root[root]][:, p].any()
        )
        out.append((pools, tuple(by_root[root])))
    return out


def cover(values: Iterable[tuple[float, int]], demand: float) -> float:
    """Fewest nodes, taken from ``(value per node, nodes)`` largest first, that add up to ``demand``.

    ``math.inf`` when all of them together fall short (within the fit tolerance).
    """
    if fits(demand, 0.0):
        return 0
    taken, total = 0, 0.0
    for v, n in sorted(values, key=lambda t: -t[0]):
        if v <= 0 or n <= 0:
            continue
        rest = demand - total
        k = max(1, math.ceil(rest / v))
        while k > 1 and fits(rest, (k - 1) * v):
            k -= 1
        if k <= n:
            return taken + k
        taken += n
        total += n * v
    return math.inf


def l2_bound(sizes: np.ndarray, counts: np.ndarray, size_limit: float) -> int:
    """Martello–Toth L2 lower bound for items ``sizes`` (x ``counts``) in bins of ``size_limit``.

    The bin size is widened by the fit tolerance, so that items that fit together within the tolerance
    are never counted as conflicting.
    """
    keep = (sizes > 0) & (counts > 0)
    w, n = sizes[keep], counts[keep].astype(float)
    if w.size == 0:
        return 0
    cap = size_limit * (1.0 + FIT_RTOL) + 1e-12
    alphas = np.unique(np.concatenate(([0.0], w[w <= cap / 2])))[:, None]  # [A, 1]
    j1 = w[None, :] > cap - alphas
    j2 = (w[None, :] > cap / 2) & ~j1
    j3 = (w[None, :] >= alphas) & (w[None, :] <= cap / 2)
    n1 = (j1 * n).sum(axis=1)
    n2 = (j2 * n).sum(axis=1)
    room = n2 * cap - (j2 * n * w).sum(axis=1)
    rest = (j3 * n * w).sum(axis=1) - room
    extra = np.maximum(0.0, np.ceil(rest / cap - 1e-9))
    return int((n1 + n2 + extra).max())


def _groups(
    inst: Instance, pools: tuple[int, ...], services: tuple[int, ...]
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    sets = {frozenset(np.flatnonzero(inst.placeable[s]).tolist()) for s in services}
    candidates = set(sets) | {frozenset(pools)}
    ordered = sorted(sets, key=sorted)
    if len(ordered) <= _MAX_SETS_FOR_UNIONS:
        candidates |= {a | b for i, a in enumerate(ordered) for b in ordered[i + 1 :]}
    for r in range(len(inst.resources)):
        for t in np.unique(inst.usable[list(pools), r]):
            candidates.add(frozenset(p for p in pools if inst.usable[p, r] <= t))
    out = []
    for q in sorted(candidates, key=lambda c: (len(c), sorted(c))):
        members = tuple(s for s in services if set(np.flatnonzero(inst.placeable[s])) <= q)
        if members:
            out.append((tuple(sorted(q)), members))
    return out


def _evidence(inst: Instance, pools: tuple[int, ...], services: tuple[int, ...]) -> list[Evidence]:
    out: list[Evidence] = []
    for q, members in _groups(inst, pools, services):
        available = int(inst.count[list(q)].sum())
        reps = inst.replicas[list(members)]
        for r, name in enumerate(inst.resources):
            sizes = inst.demand[list(members), r]
            demand = float((sizes * reps).sum())
            if demand <= 0:
                continue
            offered = float((inst.usable[list(q), r] * inst.count[list(q)]).sum())
            nodes = cover(((float(inst.usable[p, r]), int(inst.count[p])) for p in q), demand)
            out.append(Evidence(nodes, "capacity", name, members, q, demand, offered, available))
            biggest = float(inst.usable[list(q), r].max())
            if biggest > 0:
                l2 = l2_bound(sizes, reps, biggest)
                out.append(Evidence(l2, "large-replicas", name, members, q, demand, offered, available))
    for s in services:
        ps = tuple(int(p) for p in np.flatnonzero(inst.placeable[s]))
        values = [(float(inst.per_node[s, p]), int(inst.count[p])) for p in ps]
        held = float(sum(v * n for v, n in values))
        out.append(
            Evidence(
                cover(values, float(inst.replicas[s])),
                "per-node",
                "",
                (s,),
                ps,
                float(inst.replicas[s]),
                held,
                int(inst.count[list(ps)].sum()),
            )
        )
    if len(services) <= _MAX_SERVICES_FOR_CLIQUE:
        out.append(_clique(inst, pools, services))
    return out


def conflicts(inst: Instance, services: tuple[int, ...]) -> np.ndarray:
    """[i, j] True when a replica of ``services[i]`` and one of ``services[j]`` can share no node.

    On the diagonal: two replicas of the same service can share no node (they do not fit twice, or
    ``max_per_node`` is 1).
    """
    idx = list(services)
    d = inst.demand[idx]  # [S, R]
    pair = d[:, None, :] + d[None, :, :]  # [S, S, R]
    share = np.zeros((len(idx), len(idx)), dtype=bool)
    for p in range(len(inst.pools)):
        here = inst.placeable[idx, p]
        if not here.any():
            continue
        both = here[:, None] & here[None, :]
        share |= both & np.all(fits(pair, inst.usable[p]), axis=2)
    for i, s in enumerate(idx):  # two replicas of s: not capped by s's replica count
        limit = inst.services[s].max_per_node
        twice = np.all(fits(2 * inst.demand[s], inst.usable), axis=1) & inst.placeable[s]
        share[i, i] = bool(twice.any()) and (limit is None or limit >= 2)
    return ~share


def _clique(inst: Instance, pools: tuple[int, ...], services: tuple[int, ...]) -> Evidence:
    """Replicas that pairwise share no node need one node each (a greedy clique, largest first).

    The clique is grown from several orders (each resource's share of the largest node, and their
    sum), keeping the largest.
    """
    conflict = conflicts(inst, services)
    largest = inst.usable[list(pools)].max(axis=0)
    norm = inst.demand[list(services)] / np.where(largest > 0, largest, 1.0)
    keys = [norm.sum(axis=1), *([norm.max(axis=1), *norm.T] if norm.shape[1] else [])]
    reps = inst.replicas[list(services)]
    size = np.where(np.diag(conflict), reps, np.minimum(reps, 1))
    best = 0
    members: tuple[int, ...] = ()
    for key in keys:
        allowed = np.ones(len(services), dtype=bool)
        chosen = []
        for i in sorted(range(len(services)), key=lambda i: (-key[i], i)):
            if allowed[i]:
                chosen.append(i)
                allowed &= conflict[i]
        total = int(size[chosen].sum())
        if total > best:
            best, members = total, tuple(services[i] for i in chosen)
    used_pools = tuple(p for p in pools if inst.placeable[list(members), p].any())
    resource = _conflict_resource(inst, members, used_pools)
    return Evidence(
        best,
        "conflicts",
        resource,
        members,
        used_pools,
        float(best),
        0.0,
        int(inst.count[list(used_pools)].sum()),
    )


def _conflict_resource(inst: Instance, members: tuple[int, ...], pools: tuple[int, ...]) -> str:
    """The resource that most often stops two clique members from sharing a node."""
    if not members or not pools:
        return ""
    d = inst.demand[list(members)]
    pair = d[:, None, :] + d[None, :, :]
    over = np.zeros(len(inst.resources))
    for p in pools:
        over += (~fits(pair, inst.usable[p])).sum(axis=(0, 1))
    return inst.resources[int(np.argmax(over))] if over.any() else ""


def _cheapest_nodes(inst: Instance, pools: Iterable[int], n: float) -> float:
    """Price of the ``n`` cheapest nodes of ``pools``."""
    total, left = 0.0, n
    for p in sorted(pools, key=lambda p: (inst.cost(p) or 0.0, p)):
        take = min(left, float(inst.count[p]))
        total += take * (inst.cost(p) or 0.0)
        left -= take
        if left <= 0:
            break
    return total


def _cheapest_cover(inst: Instance, pools: Iterable[int], r: int, demand: float) -> float:
    """Cheapest fractional set of nodes of ``pools`` whose resource ``r`` adds up to ``demand``."""
    need = demand / (1.0 + FIT_RTOL)
    total = 0.0
    usable = [p for p in pools if inst.usable[p, r] > 0]
    for p in sorted(usable, key=lambda p: ((inst.cost(p) or 0.0) / inst.usable[p, r], p)):
        take = min(need / inst.usable[p, r], float(inst.count[p]))
        total += take * (inst.cost(p) or 0.0)
        need -= take * inst.usable[p, r]
        if need <= 0:
            break
    return total


def _cost_bound(
    inst: Instance, pools: tuple[int, ...], services: tuple[int, ...], evidence: list[Evidence]
) -> float | None:
    if any(inst.cost(p) is None for p in pools):
        return None
    best = 0.0
    for e in evidence:
        if math.isfinite(e.nodes) and not e.impossible:
            best = max(best, _cheapest_nodes(inst, e.pools, e.nodes))
        if e.kind == "capacity" and math.isfinite(e.nodes):
            r = inst.resources.index(e.resource)
            best = max(best, _cheapest_cover(inst, e.pools, r, e.demand))
    return best
