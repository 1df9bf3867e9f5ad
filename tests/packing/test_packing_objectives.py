"""Hand-made cases whose answer is known: objectives, headroom, selectors, anti-affinity, input errors."""

from __future__ import annotations

import pytest
from packing_checks import assert_honest, assert_valid

from capacity.packing import PackingProblem, Pool, Service, first_fit_decreasing, solve

GiB = 2**30
SMALL = Pool("small", count=10, capacity={"cpu": 4, "memory": 16 * GiB}, cost=0.2)
LARGE = Pool("large", count=10, capacity={"cpu": 16, "memory": 64 * GiB}, cost=1.0)
WEB = Service("web", replicas=8, demand={"cpu": 2, "memory": 4 * GiB})


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_min_cost_picks_the_cheaper_pool_combination(solver: str) -> None:
    # 16 CPU of replicas: one large node (1.00/h) or four small ones (0.80/h).
    problem = PackingProblem((SMALL, LARGE), (WEB,), objective="min-cost", solver=solver)
    placement = solve(problem)
    assert_valid(problem, placement)
    assert_honest(placement)
    assert {n.pool for n in placement.nodes} == {"small"}
    assert placement.nodes_used == 4
    assert placement.cost_per_hour == pytest.approx(0.8)
    assert placement.objective_value == pytest.approx(0.8)
    assert placement.status == "optimal"


def test_min_cost_mixes_pools_when_that_is_cheapest() -> None:
    # 20 CPU, but only 3 small nodes (12 CPU) exist: large + small (1.20/h) is cheapest
    # (large + 3 small 1.60/h, 2 large 2.00/h).
    small = Pool("small", count=3, capacity={"cpu": 4, "memory": 16 * GiB}, cost=0.2)
    web = Service("web", replicas=10, demand={"cpu": 2, "memory": 4 * GiB})
    problem = PackingProblem((small, LARGE), (web,), objective="min-cost")
    placement = solve(problem)
    assert_valid(problem, placement)
    assert placement.cost_per_hour == pytest.approx(1.2)
    assert sorted(n.pool for n in placement.nodes) == ["large", "small"]
    assert placement.status == "optimal"


def test_min_nodes_prefers_the_large_node() -> None:
    problem = PackingProblem((SMALL, LARGE), (WEB,), objective="min-nodes")
    placement = solve(problem)
    assert_valid(problem, placement)
    assert placement.nodes_used == 1
    assert placement.nodes[0].pool == "large"
    assert placement.cost_per_hour == pytest.approx(1.0)
    assert placement.status == "optimal"


def test_ffd_opens_the_cheapest_pool_under_min_cost() -> None:
    problem = PackingProblem((LARGE, SMALL), (WEB,), objective="min-cost")
    placement = first_fit_decreasing(problem)
    assert {n.pool for n in placement.nodes} == {"small"}
    assert placement.cost_per_hour == pytest.approx(0.8)


def test_headroom_reduces_usable_capacity() -> None:
    pool = Pool("node", count=10, capacity={"cpu": 4, "memory": 8 * GiB})
    svc = Service("api", replicas=4, demand={"cpu": 1, "memory": 1 * GiB})
    plain = solve(PackingProblem((pool,), (svc,)))
    assert plain.nodes_used == 1  # 4 x 1 CPU fill one 4-CPU node exactly
    problem = PackingProblem((pool,), (svc,), headroom={"cpu": 0.1})
    kept = solve(problem)  # 3.6 usable CPU: at most 3 replicas per node
    assert_valid(problem, kept)
    assert kept.nodes_used == 2
    assert kept.lower_bound == 2
    assert kept.status == "optimal"
    assert max(len(n.replicas) for n in kept.nodes) == 3
    # capacity is reported before headroom
    assert kept.nodes[0].capacity["cpu"] == 4.0


def test_exact_fit_with_float_rounding_counts_as_fitting() -> None:
    # 3 x 0.1 CPU = 0.30000000000000004 > 0.3: within the documented tolerance it fits.
    pool = Pool("tiny", count=2, capacity={"cpu": 0.3})
    problem = PackingProblem((pool,), (Service("s", 3, {"cpu": 0.1}),))
    placement = solve(problem)
    assert placement.nodes_used == 1
    assert first_fit_decreasing(problem).nodes_used == 1


def test_selector_and_max_per_node_are_honoured() -> None:
    cpu = Pool("cpu", count=6, capacity={"cpu": 16, "memory": 64 * GiB})
    gpu = Pool("gpu", count=4, capacity={"cpu": 32, "memory": 256 * GiB, "gpu": 4})
    services = (
        Service("llm", 3, {"cpu": 8, "memory": 64 * GiB, "gpu": 1}),
        Service("ranker", 6, {"cpu": 4, "memory": 8 * GiB}, pools=("cpu",), max_per_node=1),
        Service("embed", 3, {"cpu": 2, "memory": 4 * GiB}, pools=("gpu",)),
    )
    problem = PackingProblem((cpu, gpu), services)
    placement = solve(problem)
    assert_valid(problem, placement)
    assert_honest(placement)
    # ranker needs 6 distinct cpu nodes; llm + embed (30 cpu, 3 gpu) fit one gpu node
    assert placement.nodes_used == 7
    assert placement.status == "optimal"
    ranker_nodes = {placement.assignment[r] for r in services[1].replica_names()}
    assert len(ranker_nodes) == 6


def test_services_without_replicas_or_demand() -> None:
    pool = Pool("node", count=2, capacity={"cpu": 4})
    problem = PackingProblem((pool,), (Service("idle", 0, {"cpu": 100}), Service("free", 3, {})))
    placement = solve(problem)
    assert_valid(problem, placement)
    assert placement.nodes_used == 1  # something that asks for nothing still needs a node
    empty = solve(PackingProblem((pool,), ()))
    assert empty.nodes_used == 0 and empty.status == "optimal" and empty.objective_value == 0


def test_awkward_names_are_safe_in_the_model() -> None:
    # PuLP maps "-", " ", "+" ... to "_": these names would collide without care.
    pool = Pool("pool a", count=3, capacity={"cpu": 4})
    problem = PackingProblem(
        (pool,), (Service("a-b", 2, {"cpu": 2}), Service("a_b", 2, {"cpu": 2}), Service("a+b", 1, {"cpu": 1}))
    )
    placement = solve(problem)
    assert_valid(problem, placement)
    assert placement.nodes_used == 3  # 9 CPU on 4-CPU nodes


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"objective": "min-cost"}, "pool 'node': has no cost"),
        ({"headroom": {"cpu": 1.0}}, "headroom.cpu"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"solver": "gurobi"}, "solver"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_field(change: dict[str, object], words: str) -> None:
    pool = Pool("node", count=2, capacity={"cpu": 4})
    problem = PackingProblem((pool,), (Service("s", 1, {"cpu": 1}),), **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=words):
        solve(problem)


@pytest.mark.parametrize(
    ("service", "words"),
    [
        (Service("s", -1, {"cpu": 1}), "service 's': replicas"),
        (Service("s", 1, {"cpu": -1}), r"service 's': demand\.cpu"),
        (Service("s", 1, {"cpu": 1}, max_per_node=0), "service 's': max_per_node"),
    ],
)
def test_bad_services_are_named(service: Service, words: str) -> None:
    pool = Pool("node", count=2, capacity={"cpu": 4})
    with pytest.raises(ValueError, match=words):
        solve(PackingProblem((pool,), (service,)))
    with pytest.raises(ValueError, match=words):
        first_fit_decreasing(PackingProblem((pool,), (service,)))


def test_a_problem_without_any_resource() -> None:
    problem = PackingProblem((Pool("n", 2, {}),), (Service("s", 2, {}),))
    placement = solve(problem)
    assert_valid(problem, placement)
    assert placement.nodes_used == 1 and placement.status == "optimal"
