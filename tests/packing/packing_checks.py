"""Independent checks of a `Placement` against its `PackingProblem` (no code shared with the packer)."""

from __future__ import annotations

from collections import Counter

from capacity.packing import PackingProblem, Placement

RTOL = 1e-9  # the documented fit tolerance (capacity.packing.instance.FIT_RTOL)


def assert_valid(problem: PackingProblem, placement: Placement) -> None:
    """Every documented property of a complete placement."""
    pools = {p.name: p for p in problem.pools}
    services = {s.name: s for s in problem.services}
    resources = problem.resources()
    wanted = {r for s in problem.services for r in s.replica_names()}

    assert placement.unplaced == []
    assert set(placement.assignment) == wanted, "every replica placed"
    assert placement.nodes_used == len(placement.nodes)
    assert 0 <= placement.lower_bound <= placement.nodes_used
    assert len({n.name for n in placement.nodes}) == len(placement.nodes), "node names unique"

    seen: list[str] = []
    per_pool: Counter[str] = Counter()
    order = [p.name for p in problem.pools]
    assert [order.index(n.pool) for n in placement.nodes] == sorted(
        order.index(n.pool) for n in placement.nodes
    ), "nodes listed in pool order"
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
            if service.pools is not None:
                assert pool.name in service.pools, f"{replica} on {node.name}: selector broken"
            for r, d in service.demand.items():
                used[r] += d
        for name, k in count.items():
            limit = services[name].max_per_node
            assert limit is None or k <= limit, f"{node.name}: {k} x {name} > max_per_node {limit}"
        for r in resources:
            assert abs(node.used[r] - used[r]) <= 1e-9 * max(1.0, used[r])
            usable = problem.usable(pool, r)
            assert used[r] <= usable * (1 + RTOL) + 1e-12, f"{node.name}: {r} {used[r]} over usable {usable}"
        seen.extend(node.replicas)
    assert sorted(seen) == sorted(wanted), "each replica exactly once"
    for name, k in per_pool.items():
        assert k <= pools[name].count
    costs = [pools[n.pool].cost for n in placement.nodes]
    if any(c is None for c in costs):
        assert placement.cost_per_hour is None
    else:
        assert placement.cost_per_hour is not None
        assert abs(placement.cost_per_hour - sum(c for c in costs if c is not None)) < 1e-9


def assert_honest(placement: Placement) -> None:
    """Status ``optimal`` only when the objective meets its proven bound."""
    assert placement.objective_value is not None
    if placement.objective == "min-nodes":
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
