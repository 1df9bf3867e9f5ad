"""Lower bounds: each piece on a case whose answer is known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from capacity.packing import PackingProblem, Pool, Service, lower_bound, solve
from capacity.packing.bounds import compute_bounds, conflicts, cover, l2_bound
from capacity.packing.instance import Instance


def test_cover_takes_the_largest_nodes_first_and_respects_pool_sizes() -> None:
    assert cover([(4.0, 10)], 9.0) == 3
    assert cover([(4.0, 10)], 8.0) == 2
    assert cover([(2.0, 5), (8.0, 1)], 12.0) == 3  # 8 + 2 + 2
    assert cover([(4.0, 2)], 9.0) == math.inf
    assert cover([(4.0, 2)], 0.0) == 0
    assert cover([(0.1, 3)], 0.30000000000000004) == 3  # within the fit tolerance


def test_l2_counts_items_above_half_a_bin() -> None:
    # six items of 6 in bins of 10: none can share
    assert l2_bound(np.array([6.0]), np.array([6]), 10.0) == 6
    # L1 = ceil(3*6 + 3*4 / 10) = 3, but the 6s need their own bins and the 4s fill them: 3
    assert l2_bound(np.array([6.0, 4.0]), np.array([3, 3]), 10.0) == 3
    # 7s leave room 3 < 4: the 4s need ceil(12/10) = 2 more bins (L1 would say 4)
    assert l2_bound(np.array([7.0, 4.0]), np.array([3, 3]), 10.0) == 5
    # two halves fit together exactly
    assert l2_bound(np.array([5.0]), np.array([4]), 10.0) == 2


def test_conflicts_see_vectors_not_single_resources() -> None:
    pool = Pool("n", 3, {"cpu": 10, "memory": 10})
    problem = PackingProblem(
        (pool,),
        (
            Service("a", 2, {"cpu": 6, "memory": 4.5}),
            Service("b", 2, {"cpu": 4.5, "memory": 6}),
            Service("c", 1, {"cpu": 1, "memory": 1}),
        ),
    )
    inst = Instance.compile(problem)
    c = conflicts(inst, (0, 1, 2))
    assert c[0, 1] and c[1, 0]  # a + b overflows both resources
    assert c[0, 0] and c[1, 1]  # two a (12 cpu) or two b cannot share
    assert not c[0, 2] and not c[2, 2]  # c fits with anything
    assert lower_bound(problem) == 4  # per resource alone: 3


def test_components_add_up() -> None:
    cpu = Pool("cpu", 10, {"cpu": 4})
    gpu = Pool("gpu", 10, {"cpu": 4, "gpu": 1})
    problem = PackingProblem(
        (cpu, gpu), (Service("web", 3, {"cpu": 4}, pools=("cpu",)), Service("llm", 2, {"cpu": 1, "gpu": 1}))
    )
    bounds = compute_bounds(Instance.compile(problem))
    assert [c.nodes for c in bounds.components] == [3, 2]
    assert bounds.nodes == 5


def test_pool_groups_catch_services_confined_to_small_pools() -> None:
    small = Pool("small", 10, {"cpu": 2})
    large = Pool("large", 10, {"cpu": 16})
    problem = PackingProblem(
        (small, large), (Service("pinned", 8, {"cpu": 1}, pools=("small",)), Service("free", 8, {"cpu": 1}))
    )
    # 16 cpu would fit one large node, but the pinned 8 cpu need 4 small nodes
    assert lower_bound(problem) == 4
    # The optimum is 5 (free needs a node of its own): the solver's bound proves it.
    placement = solve(problem)
    assert placement.nodes_used == 5
    assert placement.lower_bound == 5 and placement.status == "optimal"


def test_anti_affinity_bound() -> None:
    pool = Pool("n", 10, {"cpu": 64})
    problem = PackingProblem((pool,), (Service("ha", 7, {"cpu": 1}, max_per_node=2),))
    assert lower_bound(problem) == 4


def test_cost_bound_is_at_most_the_optimal_cost() -> None:
    small = Pool("small", 10, {"cpu": 4}, cost=0.2)
    large = Pool("large", 10, {"cpu": 16}, cost=1.0)
    problem = PackingProblem((small, large), (Service("w", 8, {"cpu": 2}),), objective="min-cost")
    bounds = compute_bounds(Instance.compile(problem))
    assert bounds.cost == pytest.approx(0.8)  # 16 cpu at 0.05 per cpu: exactly four small nodes
