"""The scheduler's PodTopologySpread rule in the packer
(``pkg/scheduler/framework/plugins/podtopologyspread``): every node of the allowed pools that exists
is a domain of a spread over ``kubernetes.io/hostname`` (also the nodes other services use), and a zone
domain counts whether or not a replica fits there."""

from __future__ import annotations

import pytest
from packing_checks import assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import BASELINES, PackingProblem, Pool, Service, Spread, solve

HOST = "kubernetes.io/hostname"


def test_nodes_other_services_use_count_as_empty_domains():
    """A: 3 replicas of 4 CPU, max_skew 1 over nodes; B: one 8-CPU replica. Without the spread 3 nodes do
    (A 2+1, B alone); with it B's node counts as an A domain with 0, so A must be 1+1+1: 4 nodes."""
    pool = Pool("n", count=6, capacity={"cpu": 8.0})
    a = Service("a", 3, {"cpu": 4.0}, spread=Spread(HOST, 1))
    b = Service("b", 1, {"cpu": 8.0})
    problem = PackingProblem((pool,), (a, b))
    placement = solve(problem)
    assert placement.nodes_used == 4 and placement.status == "optimal"
    assert_valid(problem, placement)
    unconstrained = solve(PackingProblem((pool,), (Service("a", 3, {"cpu": 4.0}), b)))
    assert unconstrained.nodes_used == 3
    # B on a pool A may not use: its node is no domain of A, 2 + 1 is fine again
    other = Pool("m", count=2, capacity={"cpu": 8.0})
    problem = PackingProblem((pool, other), (Service("a", 3, {"cpu": 4.0}, pools=("n",),
                                                     spread=Spread(HOST, 1)),
                                             Service("b", 1, {"cpu": 8.0}, pools=("m",))))
    assert solve(problem).nodes_used == 3


def test_in_a_fixed_cluster_every_node_counts():
    pool = Pool("n", count=4, capacity={"cpu": 8.0})
    problem = PackingProblem((pool,), (Service("a", 6, {"cpu": 1.0}, spread=Spread(HOST, 1)),),
                             objective="balance")
    placement = solve(problem)
    assert sorted(len(n.replicas) for n in placement.nodes) == [1, 1, 2, 2]
    assert_valid(problem, placement)


def test_listed_and_unfitting_domains_count_with_zero():
    a = Pool("a", count=4, capacity={"cpu": 8.0}, labels={"zone": "a"})
    b = Pool("b", count=4, capacity={"cpu": 8.0}, labels={"zone": "b"})
    small = Pool("c", count=4, capacity={"cpu": 1.0}, labels={"zone": "c"})   # a replica does not fit
    web = Service("web", 4, {"cpu": 2.0}, spread=Spread("zone", 1))
    with pytest.raises(InfeasiblePlacement):
        solve(PackingProblem((a, b, small), (web,)))
    assert len(solve(PackingProblem((a, b), (web,))).assignment) == 4
    listed = Service("web", 4, {"cpu": 2.0}, spread=Spread("zone", 1, ("c",)))
    with pytest.raises(InfeasiblePlacement):
        solve(PackingProblem((a, b), (listed,)))
    partial = solve(PackingProblem((a, b), (listed,), objective="fit"))
    assert len(partial.assignment) == 2


@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_obey_a_spread_over_nodes(name):
    pool = Pool("n", count=8, capacity={"cpu": 8.0})
    problem = PackingProblem((pool,), (Service("a", 6, {"cpu": 1.0}, spread=Spread(HOST, 2)),
                                       Service("b", 3, {"cpu": 6.0})))
    assert_valid(problem, BASELINES[name](problem), partial=True)
