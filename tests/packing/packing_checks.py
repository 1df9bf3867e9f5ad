"""Independent checks of a `Placement` against its `PackingProblem` (no code shared with the packer).

`assert_valid` checks every documented rule: capacity after headroom, pool and label selectors,
``max_per_node``, pool counts, ``spread`` (domain counts within ``max_skew``), ``survive`` (losing the
worst node or zone keeps ``ceil(keep * placed)``), names of existing nodes, reported moves and
utilisation. A partial plan passes only under objective ``fit`` (or with ``partial=True``, for a
heuristic that gave up), and then its ``unplaced`` list completes the replicas.
"""

from __future__ import annotations

import math
from collections import Counter

from capacity.packing import PackingProblem, Placement, Pool, Service

RTOL = 1e-9  # the documented fit tolerance (capacity.packing.instance.FIT_RTOL)
HOSTNAME = "kubernetes.io/hostname"
FIXED = ("fit", "balance")


def allows(service: Service, pool: Pool) -> bool:
    """Pool names, label selector, and the topology labels that spread and zone-survive need."""
    if service.pools is not None and pool.name not in service.pools:
        return False
    if any(pool.labels.get(k) != v for k, v in (service.node_selector or {}).items()):
        return False
    labels = [service.spread.topology] if service.spread and service.spread.topology != HOSTNAME else []
    # (pod affinity does not restrict pools: a pool without its label is in no domain)
    if service.survive is not None and service.survive.failure == "zone":
        labels.append(service.survive.topology)
    return all(label in pool.labels for label in labels)


def fits_empty(problem: PackingProblem, service: Service, pool: Pool) -> bool:
    return all(d <= problem.usable(pool, r) * (1 + RTOL) + 1e-12 for r, d in service.demand.items())


def _counts(problem: PackingProblem, placement: Placement) -> dict[str, Counter[str]]:
    """{node name: Counter(service: replicas)}"""
    names = {s.name for s in problem.services}
    out: dict[str, Counter[str]] = {}
    for node in placement.nodes:
        c: Counter[str] = Counter()
        for replica in node.replicas:
            service = replica.rsplit("-", 1)[0]
            assert service in names
            c[service] += 1
        out[node.name] = c
    return out


def expected_moves(problem: PackingProblem, placement: Placement) -> dict[str, int]:
    """Replicas that leave their existing node, less the scale-down (see capacity.packing.problem)."""
    counts = _counts(problem, placement)
    placed = Counter(r.rsplit("-", 1)[0] for r in placement.assignment)
    removed: Counter[str] = Counter()
    running: Counter[str] = Counter()
    for node, services in problem.existing.items():
        for name, k in services.items():
            running[name] += k
            removed[name] += max(0, k - counts.get(node, Counter())[name])
    out = {}
    for name, r in removed.items():
        moved = r - max(0, running[name] - placed[name])
        if moved > 0:
            out[name] = moved
    return out


def assert_valid(problem: PackingProblem, placement: Placement, *, partial: bool = False) -> None:
    """Every documented property of a placement (complete unless ``fit`` or ``partial``)."""
    pools = {p.name: p for p in problem.pools}
    services = {s.name: s for s in problem.services}
    resources = problem.resources()
    wanted = {r for s in problem.services for r in s.replica_names()}

    if problem.objective != "fit" and not partial:
        assert placement.unplaced == []
    assert not set(placement.unplaced) & set(placement.assignment), "a replica both placed and unplaced"
    assert set(placement.assignment) | set(placement.unplaced) == wanted, "every replica placed or unplaced"
    assert len(placement.unplaced) == len(set(placement.unplaced))
    for replica in placement.unplaced:
        assert replica.rsplit("-", 1)[0] in placement.unplaced_reasons or partial, f"{replica}: no reason"
    assert placement.nodes_used == len(placement.nodes)
    assert 0 <= placement.lower_bound <= max(placement.nodes_used, 0)
    assert len({n.name for n in placement.nodes}) == len(placement.nodes), "node names unique"

    seen: list[str] = []
    per_pool: Counter[str] = Counter()
    order = [p.name for p in problem.pools]
    assert [order.index(n.pool) for n in placement.nodes] == sorted(
        order.index(n.pool) for n in placement.nodes
    ), "nodes listed in pool order"
    utilisation = 0.0
    for node in placement.nodes:
        pool = pools[node.pool]
        per_pool[pool.name] += 1
        index = int(node.name.removeprefix(f"{pool.name}-"))
        assert 0 <= index < pool.count, f"{node.name}: index beyond the pool's {pool.count} nodes"
        assert node.replicas, f"{node.name}: a used node holds replicas"
        assert set(node.used) == set(resources)
        assert node.capacity == {r: float(pool.capacity.get(r, 0.0)) for r in resources}
        used = dict.fromkeys(resources, 0.0)
        count: Counter[str] = Counter()
        for replica in node.replicas:
            assert placement.assignment[replica] == node.name
            service = services[replica.rsplit("-", 1)[0]]
            count[service.name] += 1
            assert allows(service, pool), f"{replica} on {node.name}: selector broken"
            for r, d in service.demand.items():
                used[r] += d
        for name, k in count.items():
            limit = services[name].max_per_node
            assert limit is None or k <= limit, f"{node.name}: {k} x {name} > max_per_node {limit}"
        for r in resources:
            assert abs(node.used[r] - used[r]) <= 1e-9 * max(1.0, used[r])
            usable = problem.usable(pool, r)
            assert used[r] <= usable * (1 + RTOL) + 1e-12, f"{node.name}: {r} {used[r]} over usable {usable}"
            if pool.capacity.get(r, 0.0) > 0:
                utilisation = max(utilisation, used[r] / pool.capacity[r])
        seen.extend(node.replicas)
    assert sorted(seen) == sorted(placement.assignment), "each replica exactly once"
    for name, k in per_pool.items():
        assert k <= pools[name].count
    costs = [pools[n.pool].cost for n in placement.nodes]
    if any(c is None for c in costs):
        assert placement.cost_per_hour is None
    else:
        assert placement.cost_per_hour is not None
        assert abs(placement.cost_per_hour - sum(c for c in costs if c is not None)) < 1e-9
    assert placement.max_utilisation is not None
    assert abs(placement.max_utilisation - utilisation) <= 1e-9
    _assert_spread_and_survive(problem, placement)
    _assert_pod_affinity(problem, placement)
    if problem.existing:
        moved = expected_moves(problem, placement)
        assert placement.moves == sum(moved.values()) and placement.moved == moved
    else:
        assert placement.moves is None


def _assert_spread_and_survive(problem: PackingProblem, placement: Placement) -> None:
    pools = {p.name: p for p in problem.pools}
    counts = _counts(problem, placement)
    pool_of = {n.name: pools[n.pool] for n in placement.nodes}
    for svc in problem.services:
        on = {node: c[svc.name] for node, c in counts.items() if c[svc.name]}
        placed = sum(on.values())
        if svc.spread is not None and svc.spread.topology == HOSTNAME:
            # Kubernetes' PodTopologySpread over nodes: every node of the allowed pools that exists
            # counts, whatever runs on it (the plan's nodes; in a fixed cluster every node)
            present = [n.name for n in placement.nodes if allows(svc, pools[n.pool])]
            per_node = [counts[n][svc.name] for n in present]
            if problem.objective in FIXED:
                per_node += [0] * (sum(p.count for p in problem.pools if allows(svc, p)) - len(present))
            if per_node:
                skew = max(per_node) - min(per_node)
                assert skew <= svc.spread.max_skew, f"{svc.name}: node spread skew {skew} ({per_node})"
        elif svc.spread is not None:
            # every allowed pool's value is a domain whether a replica fits there or not, plus the listed
            # ones (nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore: fit and taints do not matter)
            label = svc.spread.topology
            domains = {p.labels[label] for p in problem.pools if allows(svc, p)} | set(svc.spread.domains)
            per = Counter({d: 0 for d in domains})
            for node, k in on.items():
                per[pool_of[node].labels[label]] += k
            if per:
                skew = max(per.values()) - min(per.values())
                assert skew <= svc.spread.max_skew, f"{svc.name}: spread skew {skew} ({dict(per)})"
        if svc.survive is not None and placed:
            keep = math.ceil(svc.survive.keep * placed - 1e-9)
            if svc.survive.failure == "node":
                worst = max(on.values())
            else:
                per_zone: Counter[str] = Counter()
                for node, k in on.items():
                    per_zone[pool_of[node].labels[svc.survive.topology]] += k
                worst = max(per_zone.values())
            assert placed - worst >= keep, (
                f"{svc.name}: losing one {svc.survive.failure} leaves {placed - worst} of {placed}, "
                f"needs {keep}"
            )


def _assert_pod_affinity(problem: PackingProblem, placement: Placement) -> None:
    """Required pod (anti-)affinity, as the scheduler's InterPodAffinity filter leaves a final state."""
    pools = {p.name: p for p in problem.pools}
    counts = _counts(problem, placement)
    for svc in problem.services:
        for kind, terms in (("anti", svc.anti_affinity), ("with", svc.affinity)):
            for term in terms:
                per: dict[str | None, Counter[str]] = {}
                for node in placement.nodes:
                    d = node.name if term.topology == HOSTNAME else pools[node.pool].labels.get(term.topology)
                    per.setdefault(d, Counter()).update(counts[node.name])
                mine = {d: c[svc.name] for d, c in per.items() if c[svc.name]}
                if kind == "anti" and term.service == svc.name:
                    assert all(k <= 1 for d, k in mine.items() if d is not None), (svc.name, "apart", mine)
                elif kind == "anti":
                    assert not any(d is not None and per[d][term.service] for d in mine), (svc.name, term)
                elif term.service == svc.name:
                    assert None not in mine and len(mine) <= 1, (svc.name, "together", mine)
                else:
                    assert all(d is not None and per[d][term.service] for d in mine), (svc.name, term)


def assert_honest(placement: Placement, problem: PackingProblem | None = None) -> None:
    """Status ``optimal`` only when the objective meets its proven bound."""
    assert placement.objective_value is not None
    plain = placement.objective == "min-nodes" and (problem is None or not problem.move_cost)
    if plain:
        assert placement.objective_value == placement.nodes_used
        assert placement.objective_bound == placement.lower_bound
        assert (placement.status == "optimal") == (placement.nodes_used == placement.lower_bound)
    else:
        assert placement.objective_bound is not None
        assert placement.objective_bound <= placement.objective_value * (1 + 1e-6) + 1e-9
        meets = placement.objective_value <= placement.objective_bound + 1e-6 * max(
            1.0, placement.objective_value
        )
        assert (placement.status == "optimal") == meets
    assert placement.gap is not None and placement.gap >= 0
