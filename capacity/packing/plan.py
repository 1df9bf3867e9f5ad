"""A plan in counts, and how it becomes a `Placement`.

Replicas of one service are identical, so every packer works with **counts**: a `NodePlan` says "this node
of pool ``p`` holds 3 replicas of service 0 and 1 of service 2". Only at the end does `to_placement` give
names to nodes and replicas, always in the same way, so that the same plan gives the same `Placement`:

* nodes are listed in pool order, then in the order the packer listed them, and renumbered
  ``{pool}-0, {pool}-1, ...`` within each pool (nodes of a pool are identical, so this is only a name);
  a node with an ``index`` (a node of the existing placement, whose name matters) keeps
  ``{pool}-{index}``, and the others take the lowest indices left (`assign_indices`);
* replicas are numbered per service along that node order: the first node that holds service ``a`` gets
  ``a-0, a-1, ...``, the next one continues the count.

`violations` re-checks a plan against the problem (capacity after headroom, selectors, ``max_per_node``,
``spread``, ``survive``, every replica placed once or counted unplaced, pool sizes, distinct node
indices). The engine runs it on every solver answer and on every greedy plan before trusting it.
`moves` counts moved replicas against the existing placement and `max_utilisation` is the highest
``used / capacity``; a plan's value under its objective is `capacity.packing.objectives.Objective.value`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from capacity.packing.instance import AffinityKind, Instance, fits, keep_cap
from capacity.packing.problem import HOSTNAME, NodeUsage, Placement, Status


@dataclass
class NodePlan:
    """One used node: its pool (index), how many replicas of each service (index) it holds, and its
    index within the pool when that matters (None: any free index)."""

    pool: int
    counts: dict[int, int] = field(default_factory=dict)
    index: int | None = None

    def used(self, inst: Instance) -> np.ndarray:
        """[resource] amount used on this node."""
        total = np.zeros(len(inst.resources))
        for s, k in self.counts.items():
            total += k * inst.demand[s]
        return total


def used_nodes(nodes: list[NodePlan]) -> list[NodePlan]:
    """The nodes that hold some replica."""
    return [n for n in nodes if any(k > 0 for k in n.counts.values())]


def max_utilisation(inst: Instance, nodes: list[NodePlan]) -> float:
    """Highest ``used / capacity`` (capacity before headroom) over the nodes and their resources."""
    best = 0.0
    for node in nodes:
        cap = inst.capacity[node.pool]
        used = node.used(inst)
        has = cap > 0
        if has.any():
            best = max(best, float((used[has] / cap[has]).max()))
    return best


def assign_indices(inst: Instance, nodes: list[NodePlan]) -> list[int]:
    """The index within its pool of each node of ``nodes`` (see the module docstring)."""
    taken: list[set[int]] = [set() for _ in inst.pools]
    for n in nodes:
        if n.index is not None:
            taken[n.pool].add(n.index)
    following = [0] * len(inst.pools)
    out = []
    for n in nodes:
        if n.index is not None:
            out.append(n.index)
            continue
        j = following[n.pool]
        while j in taken[n.pool]:
            j += 1
        taken[n.pool].add(j)
        following[n.pool] = j + 1
        out.append(j)
    return out


def moves(inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int] | None = None) -> dict[int, int]:
    """{service: moved replicas} against the existing placement (only services with moves); see
    `capacity.packing.problem` for the definition."""
    if not inst.existing:
        return {}
    used = used_nodes(nodes)
    where = {(n.pool, j): n for n, j in zip(used, assign_indices(inst, used), strict=True)}
    removed: dict[int, int] = {}
    running: dict[int, int] = {}
    for e in inst.existing:
        node = where.get((e.pool, e.index))
        for s, k in e.counts.items():
            running[s] = running.get(s, 0) + k
            now = node.counts.get(s, 0) if node is not None else 0
            removed[s] = removed.get(s, 0) + max(0, k - now)
    out = {}
    for s, r in removed.items():
        placed = int(inst.replicas[s]) - (unplaced or {}).get(s, 0)
        moved = r - max(0, running[s] - placed)
        if moved > 0:
            out[s] = moved
    return out


def cost_per_hour(inst: Instance, nodes: list[NodePlan]) -> float | None:
    costs = [inst.cost(n.pool) for n in nodes]
    if any(c is None for c in costs):
        return None
    return float(sum(c for c in costs if c is not None))


def violations(
    inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int], *, fixed_cluster: bool = False
) -> list[str]:
    """What is wrong with a plan (empty when it is valid): one line per broken rule. ``fixed_cluster``
    (the objective's `Objective.fixed_cluster`): every node of every pool exists, used or not, which a
    spread over nodes counts."""
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
    problems.extend(_index_violations(inst, nodes))
    problems.extend(_spread_and_survive_violations(inst, nodes, placed, fixed_cluster))
    problems.extend(affinity_violations(inst, nodes))
    return problems


def affinity_domains(inst: Instance, nodes: list[NodePlan], topology: str) -> list[str | None]:
    """The ``topology`` domain of each plan node (its index for the hostname; None: no label)."""
    if topology == HOSTNAME:
        return [str(i) for i in range(len(nodes))]
    return [inst.pool_domain(node.pool, topology) for node in nodes]


def affinity_violations(inst: Instance, nodes: list[NodePlan]) -> list[str]:
    """Broken pod (anti-)affinity terms (`capacity.packing.problem`), one line each."""
    problems = []
    kinds: tuple[AffinityKind, ...] = ("anti", "with")
    for kind in kinds:
        for s, t, topology in inst.affinity_terms(kind):
            domains = affinity_domains(inst, nodes, topology)
            per: dict[str | None, list[int]] = {}
            for node, d in zip(nodes, domains, strict=True):
                counts = per.setdefault(d, [0, 0])
                counts[0] += node.counts.get(s, 0)
                counts[1] += node.counts.get(t, 0)
            for d, (here, other) in per.items():
                if kind == "anti" and d is not None and here and (here > 1 if s == t else other):
                    problems.append(f"service {s}: anti-affinity with service {t} over {topology} broken "
                                    f"in domain {d}")
                if kind == "with" and here and s != t and (d is None or not other):
                    problems.append(f"service {s}: affinity with service {t} over {topology}: domain {d} "
                                    "holds none of it")
            if kind == "with" and s == t and sum(1 for d, (h, _) in per.items() if h and d is not None) > 1:
                problems.append(f"service {s}: affinity with itself over {topology}: more than one domain")
            if kind == "with" and s == t and per.get(None, [0, 0])[0]:
                problems.append(f"service {s}: affinity over {topology} on nodes without the label")
    return problems


def _index_violations(inst: Instance, nodes: list[NodePlan]) -> list[str]:
    problems = []
    seen: set[tuple[int, int]] = set()
    for i, (node, j) in enumerate(zip(nodes, assign_indices(inst, nodes), strict=True)):
        if not 0 <= j < inst.count[node.pool]:
            problems.append(f"node {i}: index {j} outside pool {node.pool}'s {inst.count[node.pool]} nodes")
        if (node.pool, j) in seen:
            problems.append(f"node {i}: index {j} of pool {node.pool} used twice")
        seen.add((node.pool, j))
    return problems


def _spread_and_survive_violations(
    inst: Instance, nodes: list[NodePlan], placed: np.ndarray, fixed_cluster: bool
) -> list[str]:
    problems = []
    for s, svc in enumerate(inst.services):
        if svc.spread is None and svc.survive is None:
            continue
        here = [(node.pool, node.counts.get(s, 0)) for node in nodes if node.counts.get(s, 0) > 0]
        total = int(placed[s])
        host = inst.host_skew(s)
        if host is not None:
            counts = [node.counts.get(s, 0) for node in nodes if inst.selected[s, node.pool]]
            if fixed_cluster:   # every node of the allowed pools exists
                counts += [0] * int(sum(int(inst.count[p]) for p in range(len(inst.pools))
                                        if inst.selected[s, p]) - len(counts))
            if counts and max(counts) - min(counts) > host:
                problems.append(f"service {s}: spread over nodes has skew {max(counts) - min(counts)} > "
                                f"max_skew {host} (counts {sorted(counts)})")
        elif svc.spread is not None and inst.domain_count(s):
            per = np.zeros(inst.domain_count(s), dtype=np.int64)
            for p, k in here:
                per[inst.spread_domain[s, p]] += k  # a pool outside the domains is a selector violation
            if per.max() - per.min() > svc.spread.max_skew:
                problems.append(
                    f"service {s}: spread over {svc.spread.topology} has skew {per.max() - per.min()} "
                    f"> max_skew {svc.spread.max_skew} (counts {per.tolist()})"
                )
        if svc.survive is not None:
            cap = keep_cap(svc.survive.keep, total)
            if svc.survive.failure == "node":
                worst = max((k for _, k in here), default=0)
            else:
                per = np.zeros(max(inst.zone_count(s), 1), dtype=np.int64)
                for p, k in here:
                    per[max(inst.zone[s, p], 0)] += k
                worst = int(per.max())
            if worst > cap:
                problems.append(
                    f"service {s}: losing one {svc.survive.failure} loses {worst} of {total} replicas, "
                    f"more than the {cap} that keep {svc.survive.keep:g} allows"
                )
    return problems


def to_placement(
    inst: Instance,
    nodes: list[NodePlan],
    unplaced: dict[int, int],
    *,
    status: Status,
    solver: str,
    objective_value: float | None,
    lower_bound: int,
    objective_bound: float | None,
    solve_time_s: float,
    unplaced_reasons: dict[str, str] | None = None,
    time_limit_reached: bool = False,
) -> Placement:
    """Name nodes and replicas (see the module docstring) and fill every field of `Placement`.

    Nodes that hold no replica are dropped. ``objective_value`` is the plan's value under its objective
    (None for a partial plan where the objective wants a complete one: see `capacity.packing.outcome`).
    """
    used = used_nodes(nodes)
    indices = assign_indices(inst, used)
    ordered = sorted(zip(indices, used, strict=True), key=lambda t: (t[1].pool, t[0]))
    next_replica = [0] * len(inst.services)
    usages: list[NodeUsage] = []
    assignment: dict[str, str] = {}
    for j, node in ordered:
        pool = inst.pools[node.pool]
        name = f"{pool.name}-{j}"
        names: list[str] = []
        for s in sorted(node.counts):
            for _ in range(node.counts[s]):
                replica = f"{inst.services[s].name}-{next_replica[s]}"
                next_replica[s] += 1
                names.append(replica)
                assignment[replica] = name
        amounts = node.used(inst)
        usages.append(
            NodeUsage(
                name=name,
                pool=pool.name,
                replicas=names,
                used={r: float(amounts[i]) for i, r in enumerate(inst.resources)},
                capacity={r: float(inst.capacity[node.pool, i]) for i, r in enumerate(inst.resources)},
            )
        )
    unplaced_names = [
        f"{inst.services[s].name}-{i}"
        for s in sorted(unplaced)
        for i in range(inst.replicas[s] - unplaced[s], inst.replicas[s])
    ]
    moved = moves(inst, used, unplaced)
    return Placement(
        status=status,
        solver=solver,
        objective=inst.problem.objective,
        nodes_used=len(usages),
        lower_bound=int(lower_bound),
        objective_value=objective_value,
        objective_bound=objective_bound,
        cost_per_hour=cost_per_hour(inst, used),
        solve_time_s=solve_time_s,
        nodes=usages,
        unplaced=unplaced_names,
        assignment=assignment,
        unplaced_reasons=dict(unplaced_reasons or {}),
        moves=sum(moved.values()) if inst.existing else None,
        moved={inst.services[s].name: k for s, k in sorted(moved.items())},
        max_utilisation=max_utilisation(inst, used),
        time_limit_reached=time_limit_reached,
    )
