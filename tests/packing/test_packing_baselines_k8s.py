"""The scheduler-style baselines (Kubernetes LeastAllocated / MostAllocated, Tetris): valid plans, the
documented scoring and tie-breaks, hand cases with known node counts, and the optimiser never worse."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from packing_checks import assert_honest, assert_valid
from test_packing_properties import problems

from capacity.errors import InfeasiblePlacement
from capacity.packing import BASELINES, PackingProblem, Placement, Pool, Service, solve
from capacity.packing.baselines import KubeScheduler, Tetris
from capacity.packing.instance import Instance
from tests.conftest import examples

SCHEDULERS = ["k8s-least-allocated", "k8s-most-allocated", "tetris"]
PROPERTY = settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_rules(problem: PackingProblem, placement: Placement) -> None:
    """The rules every plan obeys, complete or not (a partial plan lists the rest as unplaced)."""
    assert_valid(problem, placement, partial=True)


@PROPERTY
@given(problems())
def test_every_scheduler_baseline_obeys_every_rule(problem: PackingProblem) -> None:
    for name in SCHEDULERS:
        placement = BASELINES[name](problem)
        assert placement.solver == name
        assert_rules(problem, placement)
        if placement.unplaced:
            assert placement.status == "infeasible" and placement.objective_value is None
        else:
            assert_valid(problem, placement)
            assert_honest(placement)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(objective="min-cost") | problems())
def test_the_optimiser_is_never_worse_than_any_baseline(problem: PackingProblem) -> None:
    plans = {name: baseline(problem) for name, baseline in BASELINES.items()}
    try:
        best = solve(problem)
    except InfeasiblePlacement:
        assert all(p.unplaced for p in plans.values()), "a baseline placed everything"
        return
    assert best.objective_value is not None
    for name, plan in plans.items():
        if plan.unplaced:
            continue
        assert plan.objective_value is not None
        assert best.objective_value <= plan.objective_value + 1e-9, name


# ----------------------------------------------------------------------------------------- scoring


def _score(strategy: str, requested: list[float], allocatable: list[float], weights: list[int]) -> int:
    kube = KubeScheduler(strategy)  # type: ignore[arg-type]
    return int(kube.score(np.array([requested]), np.array([allocatable]), np.array(weights))[0])


def test_least_allocated_score_is_the_integer_mean_of_free_shares() -> None:
    # cpu 3 of 4 requested: (1 * 100) // 4 = 25; memory 1 of 8: (7 * 100) // 8 = 87; (25 + 87) // 2 = 56
    assert _score("least-allocated", [3, 1], [4, 8], [1, 1]) == 56
    # MostAllocated: 75 and 12 -> 43
    assert _score("most-allocated", [3, 1], [4, 8], [1, 1]) == 43
    # a resource the node lacks is not scored (most_allocated.go skips allocatable 0)
    assert _score("most-allocated", [3, 0], [4, 0], [1, 1]) == 75
    # exact shares survive floating point: 0.7 of 1 is 30 free, not 29
    assert _score("least-allocated", [0.7], [1.0], [1]) == 30


def test_default_weights_score_cpu_and_memory_only() -> None:
    problem = PackingProblem(
        (Pool("n", 1, {"cpu": 4, "memory": 8, "gpu": 4}),), (Service("s", 1, {"cpu": 1}),)
    )
    inst = Instance.compile(problem)
    weights = dict(zip(inst.resources, KubeScheduler("least-allocated").resource_weights(inst), strict=True))
    assert weights == {"cpu": 1, "gpu": 0, "memory": 1}
    vbp = Instance.compile(
        PackingProblem((Pool("bin", 1, {"r0": 4, "r1": 4}),), (Service("s", 1, {"r0": 1}),))
    )
    assert list(KubeScheduler("most-allocated").resource_weights(vbp)) == [1, 1]


# --------------------------------------------------------------------------------------- hand cases

# cpu 6, 5, 4, 3, 2 on 10-core nodes: 20 cores, 2 nodes suffice ({6, 4}, {5, 3, 2}).
CHAIN = tuple(Service(n, 1, {"cpu": v, "memory": 1.0}) for n, v in zip("abcde", [6, 5, 4, 3, 2], strict=True))


def test_least_allocated_spreads_and_strands_the_last_replica() -> None:
    # 6 -> n0, 5 -> n1 (no room), 4 -> n1 (more free), 3 -> n0, 2 fits neither (9 + 2 > 10): a third node
    placement = BASELINES["k8s-least-allocated"](
        PackingProblem((Pool("n", 5, {"cpu": 10, "memory": 64}),), CHAIN)
    )
    assert [n.replicas for n in placement.nodes] == [["a-0", "d-0"], ["b-0", "c-0"], ["e-0"]]
    assert placement.status == "feasible" and placement.lower_bound == 2


def test_most_allocated_packs() -> None:
    placement = BASELINES["k8s-most-allocated"](
        PackingProblem((Pool("n", 5, {"cpu": 10, "memory": 64}),), CHAIN)
    )
    assert [n.replicas for n in placement.nodes] == [["a-0", "c-0"], ["b-0", "d-0", "e-0"]]
    assert placement.status == "optimal"


def test_least_allocated_fails_where_the_cluster_is_tight() -> None:
    problem = PackingProblem((Pool("n", 2, {"cpu": 10, "memory": 64}),), CHAIN)
    least = BASELINES["k8s-least-allocated"](problem)
    assert least.unplaced == ["e-0"] and least.status == "infeasible"
    assert solve(problem).nodes_used == 2


def test_small_replicas_go_to_the_emptiest_or_the_fullest_node() -> None:
    pool = Pool("n", 4, {"cpu": 8, "memory": 64})
    services = (Service("big", 2, {"cpu": 5, "memory": 1}), Service("small", 2, {"cpu": 1, "memory": 1}))
    problem = PackingProblem((pool,), services)
    least = BASELINES["k8s-least-allocated"](problem)
    most = BASELINES["k8s-most-allocated"](problem)
    assert [n.replicas for n in least.nodes] == [["big-0", "small-0"], ["big-1", "small-1"]]  # tie: first
    assert [n.replicas for n in most.nodes] == [["big-0", "small-0", "small-1"], ["big-1"]]


def test_scale_up_opens_the_cheapest_allowed_pool() -> None:
    pools = (
        Pool("dear", 3, {"cpu": 8}, cost=2.0),
        Pool("cheap", 3, {"cpu": 8}, cost=1.0),
        Pool("cheapest", 3, {"cpu": 8}, cost=0.5),
    )
    services = (Service("s", 3, {"cpu": 5}, pools=("dear", "cheap")),)
    for name in SCHEDULERS:
        placement = BASELINES[name](PackingProblem(pools, services))
        assert [n.pool for n in placement.nodes] == ["cheap"] * 3, name


def test_pool_counts_and_max_per_node_are_respected() -> None:
    pools = (Pool("small", 1, {"cpu": 16}, cost=0.5), Pool("large", 2, {"cpu": 16}, cost=1.0))
    services = (Service("ha", 5, {"cpu": 1}, max_per_node=2),)
    for name in SCHEDULERS:
        placement = BASELINES[name](PackingProblem(pools, services))
        assert [len(n.replicas) for n in placement.nodes] == [2, 2, 1], name  # small-0 first, then large
        assert [n.pool for n in placement.nodes] == ["small", "large", "large"], name
        over = BASELINES[name](PackingProblem(pools, (Service("ha", 7, {"cpu": 1}, max_per_node=2),)))
        assert over.unplaced == ["ha-6"] and over.status == "infeasible", name


def test_headroom_is_kept_free() -> None:
    problem = PackingProblem(
        (Pool("n", 4, {"cpu": 10}),), (Service("s", 4, {"cpu": 4}),), headroom={"cpu": 0.2}
    )
    for name in SCHEDULERS:  # 8 usable cores per node: two replicas each
        assert [len(n.replicas) for n in BASELINES[name](problem).nodes] == [2, 2], name


def test_tetris_pairs_complementary_shapes() -> None:
    # a = (cpu 5, mem 2) x2, b = (cpu 2, mem 4) x3 on (10, 10) nodes. First fit decreasing puts a + a on
    # one node (cpu full, 6 memory stranded) and needs 3 nodes. Tetris seeds a node with a, then b aligns
    # better with the free (5, 8) than a does (0.42 > 0.41): a + b + b, then a + b: 2 nodes.
    pool = Pool("n", 5, {"cpu": 10, "memory": 10})
    problem = PackingProblem(
        (pool,), (Service("a", 2, {"cpu": 5, "memory": 2}), Service("b", 3, {"cpu": 2, "memory": 4}))
    )
    tetris = Tetris()(problem)
    assert [n.replicas for n in tetris.nodes] == [["a-0", "b-0", "b-1"], ["a-1", "b-2"]]
    assert tetris.status == "optimal"
    assert BASELINES["ffd"](problem).nodes_used == 3


@pytest.mark.parametrize("name", SCHEDULERS)
def test_baselines_are_deterministic(name: str) -> None:
    problem = PackingProblem(
        (Pool("a", 6, {"cpu": 8, "memory": 32}, cost=1.0), Pool("b", 6, {"cpu": 16, "memory": 32}, cost=1.5)),
        (Service("x", 7, {"cpu": 3, "memory": 4}), Service("y", 9, {"cpu": 1, "memory": 6}, max_per_node=3)),
    )
    first, second = BASELINES[name](problem), BASELINES[name](problem)
    assert first.assignment == second.assignment
