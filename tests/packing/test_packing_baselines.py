"""First-fit decreasing behaves like Cluster Autoscaler's estimator, as documented."""

from __future__ import annotations

from capacity.packing import BASELINES, PackingProblem, Placement, Pool, Service, first_fit_decreasing
from capacity.packing.baselines import size_order
from capacity.packing.instance import Instance


def test_every_baseline_is_a_registered_function_returning_a_placement() -> None:
    problem = PackingProblem((Pool("n", 3, {"cpu": 4}),), (Service("s", 3, {"cpu": 2}),))
    for name, baseline in BASELINES.items():
        placement = baseline(problem)
        assert isinstance(placement, Placement)
        assert placement.solver == name


def test_size_is_the_sum_of_shares_of_the_largest_node() -> None:
    pools = (Pool("a", 1, {"cpu": 8, "memory": 100}), Pool("b", 1, {"cpu": 4, "memory": 200}))
    services = (
        Service("small", 1, {"cpu": 1, "memory": 10}),  # 1/8 + 10/200 = 0.175
        Service("cpu", 1, {"cpu": 4, "memory": 10}),  # 0.5 + 0.05 = 0.55
        Service("mem", 1, {"cpu": 1, "memory": 100}),  # 0.125 + 0.5 = 0.625
        Service("tie", 1, {"cpu": 4, "memory": 10}),  # as "cpu": problem order breaks the tie
    )
    inst = Instance.compile(PackingProblem(pools, services))
    assert [services[s].name for s in size_order(inst)] == ["mem", "cpu", "tie", "small"]


def test_first_fit_uses_the_first_open_node_that_fits() -> None:
    # decreasing: 6, 5, 4, 3 -> node0: 6+4, node1: 5+3 (first fit, not best fit)
    pool = Pool("n", 5, {"cpu": 10})
    services = (
        Service("a", 1, {"cpu": 6}),
        Service("b", 1, {"cpu": 5}),
        Service("c", 1, {"cpu": 4}),
        Service("d", 1, {"cpu": 3}),
    )
    placement = first_fit_decreasing(PackingProblem((pool,), services))
    assert [sorted(n.replicas) for n in placement.nodes] == [["a-0", "c-0"], ["b-0", "d-0"]]
    assert placement.status == "optimal"  # 18 cpu need 2 nodes


def test_new_nodes_come_from_the_first_allowed_pool_with_room() -> None:
    first = Pool("first", 1, {"cpu": 4})
    second = Pool("second", 5, {"cpu": 4})
    placement = first_fit_decreasing(PackingProblem((first, second), (Service("s", 3, {"cpu": 3}),)))
    assert [n.name for n in placement.nodes] == ["first-0", "second-0", "second-1"]


def test_max_per_node_spreads_replicas() -> None:
    pool = Pool("n", 5, {"cpu": 16})
    placement = first_fit_decreasing(
        PackingProblem((pool,), (Service("ha", 3, {"cpu": 1}, max_per_node=1), Service("x", 2, {"cpu": 1})))
    )
    assert placement.nodes_used == 3
    assert all(sum(r.startswith("ha-") for r in n.replicas) == 1 for n in placement.nodes)
