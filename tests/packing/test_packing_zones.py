"""The zone split (`capacity.packing.zones`): zone spread and zone survival through the pattern formulation.

Checks: the split is as even as possible and rotated; a split no even share can make survive is refused
(and the engine falls back to the aggregated model, which explains it); plans are valid under the
independent checks of ``packing_checks`` (spread counts, survive after losing each zone), honest, and
their bound never exceeds the optimum the aggregated model proves on small problems.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packing_checks import assert_honest, assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import PackingProblem, Pool, Service, solve
from capacity.packing.problem import PodAffinity, Spread, Survive
from capacity.packing.zones import ZoneSplit, relaxation, solve_by_zones, zone_obstacles

ZONE = "topology.kubernetes.io/zone"


def pools(count: int = 6) -> tuple[Pool, ...]:
    return tuple(
        Pool(f"{kind}-{z}", count=count, capacity={"cpu": cpu, "mem": mem}, labels={ZONE: z})
        for z in "abc"
        for kind, cpu, mem in (("cpu", 8, 16), ("mem", 4, 32))
    )


def zonal(name: str, replicas: int, cpu: float, mem: float, keep: float | None = None) -> Service:
    return Service(
        name,
        replicas=replicas,
        demand={"cpu": cpu, "mem": mem},
        spread=Spread(ZONE, max_skew=1),
        survive=None if keep is None else Survive("zone", keep=keep, topology=ZONE),
    )


def test_shares_are_even_and_rotated():
    problem = PackingProblem(pools(), (zonal("a", 7, 1, 2), zonal("b", 7, 1, 2), Service("c", 3, {"cpu": 1})))
    split = ZoneSplit.build(problem)
    assert split is not None
    shares = {s.name: s.replicas for s in split.problem.services}
    assert shares == {"a@a": 3, "a@b": 2, "a@c": 2, "b@a": 2, "b@b": 3, "b@c": 2, "c": 3}
    assert split.origin == (0, 0, 0, 1, 1, 1, 2)
    assert split.problem.services[0].pools == ("cpu-a", "mem-a")


def test_a_split_that_cannot_survive_is_refused_and_explained():
    # 4 replicas over 3 zones: the largest share is 2, and losing it leaves 2 < ceil(0.75 * 4) = 3
    problem = PackingProblem(pools(), (zonal("a", 4, 1, 2, keep=0.75),))
    assert ZoneSplit.build(problem) is None
    assert solve_by_zones(problem) is None
    with pytest.raises(InfeasiblePlacement):
        solve(problem, formulation="zones")


def test_zones_refuses_what_it_cannot_express():
    other = Service("x", 1, {"cpu": 1}, anti_affinity=(PodAffinity("a"),))
    problem = PackingProblem(pools(), (zonal("a", 3, 1, 2), other))
    assert zone_obstacles(problem)
    with pytest.raises(ValueError, match="zones cannot express"):
        solve(problem, formulation="zones")


def test_relaxation_drops_zone_rules_only():
    node = Service("n", 4, {"cpu": 1}, survive=Survive("node", keep=0.5))
    problem = PackingProblem(pools(), (zonal("a", 3, 1, 2, keep=0.6), node))
    relaxed = relaxation(problem)
    assert relaxed.services[0].spread is None and relaxed.services[0].survive is None
    assert relaxed.services[1].survive == node.survive


@st.composite
def zonal_problems(draw: st.DrawFn) -> PackingProblem:
    n = draw(st.integers(1, 5))
    services = []
    for i in range(n):
        cpu = draw(st.sampled_from([0.5, 1, 2, 3]))
        mem = draw(st.sampled_from([1, 2, 4, 8, 12]))
        replicas = draw(st.integers(1, 9))
        kind = draw(st.sampled_from(["free", "spread", "survive", "cap"]))
        if kind == "free":
            services.append(Service(f"s{i}", replicas, {"cpu": cpu, "mem": mem}))
        elif kind == "cap":
            services.append(Service(f"s{i}", replicas, {"cpu": cpu, "mem": mem}, max_per_node=2))
        else:
            m = max(1, (2 * replicas) // 3)
            total = 3 * -(-m // 2)
            keep = m / total if kind == "survive" else None
            services.append(zonal(f"s{i}", total, cpu, mem, keep))
    return PackingProblem(pools(), tuple(services), time_limit_s=20.0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zonal_problems())
def test_zone_split_plans_are_valid_and_bounded_by_the_aggregated_optimum(problem):
    plan = solve(problem, formulation="zones")
    assert_valid(problem, plan)
    assert_honest(plan, problem)
    assert plan.lower_bound <= plan.nodes_used
    exact = solve(dataclasses.replace(problem, time_limit_s=60.0), formulation="aggregated")
    if exact.status == "optimal":
        assert plan.objective_bound is not None
        assert plan.objective_bound <= exact.objective_value + 1e-6
        assert plan.nodes_used >= exact.nodes_used
