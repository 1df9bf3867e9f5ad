"""Perfect packings (`capacity.packing.patterns_perfect`): enumeration and exact cover.

Checks: the enumeration of perfect patterns equals brute force on small random instances; a planted
perfect packing (random triplets that fill a bin exactly, shuffled) is found at its bound, valid, and
by `solve_patterns` proven optimal; nothing is attempted when no resource is tight or the bound is
too low.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packing_checks import assert_honest, assert_valid

from capacity.packing import PackingProblem, Pool, Service
from capacity.packing.instance import Instance
from capacity.packing.patterns import solve_patterns
from capacity.packing.patterns_perfect import perfect_patterns, perfect_plan
from capacity.packing.plan import to_placement
from tests.conftest import examples


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(1, 3)), min_size=1, max_size=5),
    st.tuples(st.integers(1, 10), st.integers(1, 10)),
    st.lists(st.booleans(), min_size=2, max_size=2).filter(any),
)
def test_perfect_patterns_match_brute_force(items, cap, tight):
    weights = np.array([[a, b] for a, b, _ in items], dtype=np.int64)
    if not (weights.sum(axis=1) > 0).all():
        weights[:, 0] += 1  # a replica of no size would make patterns unbounded in number
    most = np.array([m for *_, m in items], dtype=np.int64)
    cap_a = np.array(cap, dtype=np.int64)
    tight_a = np.array(tight)
    found = perfect_patterns(weights, cap_a, most, tight_a, time.perf_counter() + 60)
    assert found is not None
    expected = set()
    for counts in itertools.product(*(range(m + 1) for m in most)):
        a = np.array(counts)
        load = a @ weights
        if a.any() and (load <= cap_a).all() and (load[tight_a] == cap_a[tight_a]).all():
            expected.add(tuple(counts))
    got = [tuple(int(x) for x in a) for a in found]
    assert len(got) == len(set(got))  # each pattern once
    assert set(got) == expected


def planted_triplets(n_bins: int, seed: int, cap: int = 100) -> PackingProblem:
    """``n_bins`` bins of three items each that fill the bin exactly in both resources, shuffled."""
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(n_bins):
        first = rng.integers(cap // 4, cap // 2, size=2)
        second = rng.integers(cap // 4, (cap - first) // 2 + 1)
        items += [first, second, cap - first - second]
    order = rng.permutation(len(items))
    services = tuple(
        Service(f"i{k}", replicas=1, demand={"cpu": float(items[i][0]), "memory": float(items[i][1])})
        for k, i in enumerate(order)
    )
    pool = Pool("bin", count=len(items), capacity={"cpu": float(cap), "memory": float(cap)})
    return PackingProblem((pool,), services, time_limit_s=20)


def test_planted_perfect_packing_is_found_at_the_bound():
    for seed in range(3):
        problem = planted_triplets(12, seed)
        inst = Instance.compile(problem)
        plan = perfect_plan(inst, 12, time.perf_counter() + 60)
        assert plan is not None and len(plan) == 12
        placement = to_placement(
            inst,
            plan,
            {},
            status="optimal",
            solver="highs",
            objective_value=12.0,
            lower_bound=12,
            objective_bound=12.0,
            solve_time_s=0.0,
        )
        assert_valid(problem, placement)


def test_solve_patterns_proves_a_planted_perfect_packing():
    problem = planted_triplets(15, seed=7)
    plan = solve_patterns(problem)
    assert_valid(problem, plan)
    assert_honest(plan)
    assert (plan.nodes_used, plan.lower_bound, plan.status) == (15, 15, "optimal")


def test_no_attempt_without_a_tight_resource_or_below_the_volume():
    problem = planted_triplets(6, seed=1)
    inst = Instance.compile(problem)
    assert perfect_plan(inst, 5, time.perf_counter() + 60) is None  # below the volume bound
    assert perfect_plan(inst, 7, time.perf_counter() + 60) is None  # slack: no resource is tight
    loose = PackingProblem(
        problem.pools,
        tuple(Service(s.name, 1, {r: v * 0.99 for r, v in s.demand.items()}) for s in problem.services),
    )
    assert perfect_plan(Instance.compile(loose), 6, time.perf_counter() + 60) is None
