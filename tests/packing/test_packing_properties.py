"""Property tests on random small problems: whatever comes back obeys every rule, or the refusal is explained.

Problems: 2-3 resources, 1-3 pools, 1-6 services, at most 20 replicas, random selectors (sometimes naming
a pool that does not exist), ``max_per_node`` and headroom. Sizes are drawn from small grids so that
replicas often fill nodes exactly (the hard case for tolerances) and problems are often infeasible.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packing_checks import assert_honest, assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import PackingProblem, Pool, Service, first_fit_decreasing, lower_bound, solve
from tests.conftest import examples

GiB = 2**30
RESOURCES = ["cpu", "memory", "gpu"]
CAPACITY = {
    "cpu": [4.0, 8.0, 16.0],
    "memory": [8.0 * GiB, 16.0 * GiB, 32.0 * GiB],
    "gpu": [0.0, 1.0, 4.0, 4.0],
}
DEMAND = {
    "cpu": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0],
    "memory": [0.5 * GiB, 1.0 * GiB, 2.0 * GiB, 4.0 * GiB, 6.0 * GiB],
    "gpu": [0.0, 0.0, 0.0, 1.0, 2.0],
}


@st.composite
def problems(draw: st.DrawFn, objective: str = "min-nodes") -> PackingProblem:
    resources = RESOURCES[: draw(st.integers(2, 3))]
    n_pools = draw(st.integers(1, 3))
    pools = tuple(
        Pool(
            f"p{i}",
            count=draw(st.integers(1, 8)),
            capacity={r: draw(st.sampled_from(CAPACITY[r])) for r in resources},
            cost=draw(st.sampled_from([0.1, 0.25, 0.5, 1.0, 3.0])),
        )
        for i in range(n_pools)
    )
    budget = 20
    services = []
    for i in range(draw(st.integers(1, 6))):
        replicas = draw(st.integers(0, min(6, budget)))
        budget -= replicas
        selector = None
        if draw(st.integers(0, 2)) == 0:
            names = [p.name for p in pools] * 3 + ["ghost"]  # a missing pool now and then
            selector = tuple(sorted(set(draw(st.lists(st.sampled_from(names), min_size=1, max_size=2)))))
        services.append(
            Service(
                f"s{i}",
                replicas,
                {r: draw(st.sampled_from(DEMAND[r])) for r in resources},
                pools=selector,
                max_per_node=draw(st.one_of(st.none(), st.integers(1, 3))),
            )
        )
    headroom = {r: draw(st.sampled_from([0.0, 0.0, 0.1, 0.25])) for r in resources}
    return PackingProblem(
        pools,
        tuple(services),
        objective=objective,  # type: ignore[arg-type]
        headroom=headroom,
        time_limit_s=10,
    )


COMMON = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(problems())
def test_solve_obeys_every_rule_or_explains_why_not(problem: PackingProblem) -> None:
    ffd = first_fit_decreasing(problem)
    try:
        placement = solve(problem)
    except InfeasiblePlacement as exc:
        assert ffd.unplaced, "first-fit decreasing placed everything, so a placement exists"
        names = {s.name for s in problem.services}
        for shortage in exc.shortages:
            assert shortage.service in names and shortage.resource and shortage.reason
        return
    assert_valid(problem, placement)
    assert_honest(placement)
    assert placement.lower_bound == max(lower_bound(problem), placement.lower_bound)
    if not ffd.unplaced:
        assert placement.nodes_used <= ffd.nodes_used
    # the instances are tiny: the solver should prove optimality well within the limit
    assert placement.status == "optimal"


@settings(max_examples=examples(25), deadline=None)
@given(problems())
def test_cbc_agrees_with_highs(problem: PackingProblem) -> None:
    cbc = PackingProblem(
        problem.pools, problem.services, headroom=problem.headroom, solver="cbc", time_limit_s=10
    )
    try:
        expected = solve(problem)
    except InfeasiblePlacement:
        try:
            solve(cbc)
        except InfeasiblePlacement:
            return
        raise AssertionError("CBC placed what HiGHS could not") from None
    got = solve(cbc)
    assert got.solver == "cbc"
    assert_valid(cbc, got)
    assert_honest(got)
    assert got.nodes_used == expected.nodes_used  # both proven optimal


@COMMON
@given(problems(objective="min-cost"))
def test_min_cost_never_costs_more_than_ffd(problem: PackingProblem) -> None:
    ffd = first_fit_decreasing(problem)
    try:
        placement = solve(problem)
    except InfeasiblePlacement:
        assert ffd.unplaced
        return
    assert_valid(problem, placement)
    assert_honest(placement)
    assert placement.cost_per_hour is not None
    if not ffd.unplaced:
        assert ffd.cost_per_hour is not None
        assert placement.cost_per_hour <= ffd.cost_per_hour + 1e-9


@COMMON
@given(problems())
def test_ffd_obeys_every_rule(problem: PackingProblem) -> None:
    placement = first_fit_decreasing(problem)
    assert placement.solver == "ffd"
    if placement.unplaced:
        assert placement.status == "infeasible"
        assert not set(placement.unplaced) & set(placement.assignment)
        return
    assert_valid(problem, placement)
    assert_honest(placement)


@COMMON
@given(problems())
def test_lower_bound_never_exceeds_a_placement(problem: PackingProblem) -> None:
    bound = lower_bound(problem)
    assert isinstance(bound, int) and bound >= 0
    placement = first_fit_decreasing(problem)
    if not placement.unplaced:
        assert bound <= placement.nodes_used
    replicas = sum(s.replicas for s in problem.services)
    assert bound <= max(replicas, 0) or math.isinf(bound)
