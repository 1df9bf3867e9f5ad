"""Each way services can fail to fit gives a Shortage naming the service and the resource."""

from __future__ import annotations

import pytest

from capacity.errors import InfeasiblePlacement, Shortage
from capacity.packing import PackingProblem, Pool, Service, first_fit_decreasing, solve

GiB = 2**30
CPU = Pool("cpu", count=4, capacity={"cpu": 8, "memory": 32 * GiB})


def shortages(problem: PackingProblem) -> list[Shortage]:
    with pytest.raises(InfeasiblePlacement) as info:
        solve(problem)
    assert info.value.shortages
    assert str(info.value)  # one readable line for the CLI
    return info.value.shortages


def test_replica_larger_than_any_allowed_node() -> None:
    problem = PackingProblem((CPU,), (Service("big", 2, {"cpu": 12, "memory": GiB}),), headroom={"cpu": 0.1})
    [s] = shortages(problem)
    assert (s.service, s.resource) == ("big", "cpu")
    assert "needs 12 cpu per replica" in s.reason
    assert "the largest allowed node offers 7.2 (pool cpu, after 10% headroom)" in s.reason


def test_each_short_resource_is_named_and_memory_in_binary_units() -> None:
    problem = PackingProblem((CPU,), (Service("m", 1, {"cpu": 1, "memory": 40 * GiB, "gpu": 1}),))
    found = {s.resource: s for s in shortages(problem)}
    assert set(found) == {"memory", "gpu"}
    assert "needs 40Gi memory per replica" in found["memory"].reason
    assert "offers 32Gi" in found["memory"].reason
    assert "no allowed node offers gpu" in found["gpu"].reason


def test_no_single_pool_offers_all_resources_at_once() -> None:
    pools = (Pool("a", 3, {"cpu": 16, "memory": 4 * GiB}), Pool("b", 3, {"cpu": 2, "memory": 64 * GiB}))
    [s] = shortages(PackingProblem(pools, (Service("x", 1, {"cpu": 8, "memory": 32 * GiB}),)))
    assert (s.service, s.resource) == ("x", "cpu+memory")
    assert "no allowed node offers all of it at once" in s.reason


def test_selector_names_no_existing_pool() -> None:
    problem = PackingProblem((CPU,), (Service("s", 1, {"cpu": 1}, pools=("gpu-large",)),))
    [s] = shortages(problem)
    assert (s.service, s.resource) == ("s", "selector")
    assert "gpu-large" in s.reason and "pools: cpu" in s.reason


def test_selector_keeps_a_service_off_the_pool_that_would_fit() -> None:
    gpu = Pool("gpu", 2, {"cpu": 32, "memory": 128 * GiB, "gpu": 4})
    problem = PackingProblem((CPU, gpu), (Service("s", 1, {"cpu": 16}, pools=("cpu",)),))
    [s] = shortages(problem)
    assert (s.service, s.resource) == ("s", "cpu")
    assert "offers 8 (pool cpu)" in s.reason


def test_anti_affinity_needs_more_nodes_than_exist() -> None:
    problem = PackingProblem((CPU,), (Service("ha", 6, {"cpu": 1}, max_per_node=1),))
    [s] = shortages(problem)
    assert (s.service, s.resource) == ("ha", "anti-affinity")
    assert "max_per_node 1 allows at most 4 replicas" in s.reason and "6 are requested" in s.reason


def test_aggregate_demand_exceeds_capacity_of_the_allowed_pools() -> None:
    # Each service alone fits (2 x a or 7 x b per 7.2-CPU node), together they do not.
    problem = PackingProblem(
        (CPU,), (Service("a", 8, {"cpu": 3}), Service("b", 12, {"cpu": 1})), headroom={"cpu": 0.1}
    )
    found = shortages(problem)
    assert {(s.service, s.resource) for s in found} == {("a", "cpu"), ("b", "cpu")}
    assert "services a, b need 36 cpu in total" in found[0].reason
    assert "the 4 nodes of pool cpu offer 28.8 cpu, after 10% headroom; short by 7.2 cpu" in found[0].reason


def test_aggregate_is_checked_per_group_of_pools() -> None:
    # Plenty of capacity overall, but the gpu pool alone is too small for what must go there.
    gpu = Pool("gpu", 1, {"cpu": 32, "memory": 128 * GiB, "gpu": 4})
    problem = PackingProblem(
        (CPU, gpu), (Service("llm", 5, {"cpu": 1, "gpu": 1}), Service("web", 4, {"cpu": 1}))
    )
    found = shortages(problem)
    assert [(s.service, s.resource) for s in found] == [("llm", "gpu")]


def test_what_fits_per_node_limits_like_anti_affinity() -> None:
    problem = PackingProblem((CPU,), (Service("f", 9, {"cpu": 3}),))
    [s] = shortages(problem)
    assert (s.service, s.resource) == ("f", "cpu")
    assert "at most 2 replicas fit on one node" in s.reason


def test_replicas_that_pairwise_conflict_in_different_resources() -> None:
    # Each replica fits half a node in neither resource alone, but any two overflow one of them.
    pool = Pool("n", 3, {"cpu": 10, "memory": 10})
    problem = PackingProblem(
        (pool,), (Service("a", 2, {"cpu": 6, "memory": 4.5}), Service("b", 2, {"cpu": 4.5, "memory": 6}))
    )
    found = shortages(problem)
    assert {s.service for s in found} == {"a", "b"}
    assert all("pairwise cannot share a node" in s.reason for s in found)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_solver_proves_that_the_replicas_do_not_pack(solver: str) -> None:
    # 20 CPU on 20 CPU, no quick check fails, but 4-CPU replicas fit only 2 per 10-CPU node.
    pool = Pool("n", 2, {"cpu": 10})
    problem = PackingProblem(
        (pool,), (Service("a", 3, {"cpu": 4}), Service("b", 2, {"cpu": 4})), solver=solver
    )
    with pytest.raises(InfeasiblePlacement) as info:
        solve(problem)
    found = info.value.shortages
    assert {(s.service, s.resource) for s in found} == {("a", "cpu"), ("b", "cpu")}
    assert all(f"no placement exists ({solver} proved it)" in s.reason for s in found)
    partial = info.value.placement
    assert partial is not None and partial.unplaced  # the greedy attempt, for the report


def test_ffd_reports_what_it_could_not_place() -> None:
    pool = Pool("n", 2, {"cpu": 10})
    problem = PackingProblem((pool,), (Service("a", 3, {"cpu": 4}), Service("b", 2, {"cpu": 4})))
    placement = first_fit_decreasing(problem)
    assert placement.status == "infeasible"
    assert placement.unplaced == ["b-1"]
    assert placement.objective_value is None
    assert "b-1" not in placement.assignment


def test_a_pool_without_nodes() -> None:
    problem = PackingProblem((Pool("n", 0, {"cpu": 4}),), (Service("s", 1, {"cpu": 1}),))
    found = shortages(problem)
    assert ("s", "nodes") in {(s.service, s.resource) for s in found}
    assert "pool n has 0 nodes" in found[0].reason
