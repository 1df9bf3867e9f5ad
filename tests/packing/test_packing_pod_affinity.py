"""Required pod (anti-)affinity in the packer (the scheduler's InterPodAffinity filter,
``pkg/scheduler/framework/plugins/interpodaffinity``), on instances whose answer is known."""

from __future__ import annotations

import pytest
from packing_checks import assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import BASELINES, OBJECTIVES, PackingProblem, PodAffinity, Pool, Service, solve
from capacity.packing.engine import pattern_obstacles

HOST, ZONE = "kubernetes.io/hostname", "zone"
ZONES = tuple(Pool(f"z{z}", count=4, capacity={"cpu": 8.0}, labels={"zone": z}) for z in "abc")


def test_anti_affinity_of_a_workload_over_zones_is_one_per_zone():
    web = Service("web", 3, {"cpu": 1.0}, anti_affinity=(PodAffinity("web", ZONE),))
    placement = solve(PackingProblem(ZONES, (web,)))
    assert sorted(n.pool for n in placement.nodes) == ["za", "zb", "zc"]
    why = r"anti-affinity with itself over zone \(at most one replica per zone\): at most 3 of the 4 replicas"
    with pytest.raises(InfeasiblePlacement, match=why):
        solve(PackingProblem(ZONES, (Service("web", 4, {"cpu": 1.0}, anti_affinity=web.anti_affinity),)))
    partial = solve(PackingProblem(ZONES, (Service("web", 4, {"cpu": 1.0},
                                                   anti_affinity=web.anti_affinity),), objective="fit"))
    assert len(partial.assignment) == 3 and partial.unplaced == ["web-3"]


def test_nodes_without_the_topology_label_take_any_number_under_anti_affinity():
    """A node without the term's label is in no domain: the InterPodAffinity filter lets the pod pass
    (found by Hypothesis: one replica with zone anti-affinity on unlabelled pools was refused)."""
    plain = Pool("plain", count=2, capacity={"cpu": 8.0})
    web = Service("web", 5, {"cpu": 1.0}, anti_affinity=(PodAffinity("web", ZONE),))
    placement = solve(PackingProblem((plain,), (web,)))
    assert placement.nodes_used == 1 and len(placement.assignment) == 5
    # with one labelled zone beside them: one replica there at most, the rest on the unlabelled nodes
    problem = PackingProblem((ZONES[0], plain), (web,))
    placement = solve(problem)
    assert sum(1 for n in placement.nodes if n.pool == "za" for _ in n.replicas) <= 1
    assert len(placement.assignment) == 5
    assert_valid(problem, placement)


def test_anti_affinity_between_workloads_over_nodes_and_zones():
    a = Service("a", 2, {"cpu": 1.0}, anti_affinity=(PodAffinity("b", HOST),))
    b = Service("b", 2, {"cpu": 1.0})
    placement = solve(PackingProblem(ZONES[:1], (a, b)))
    assert placement.nodes_used == 2               # without the rule all four share one node
    assert all(len({r.rsplit("-", 1)[0] for r in n.replicas}) == 1 for n in placement.nodes)
    a_zone = Service("a", 2, {"cpu": 1.0}, anti_affinity=(PodAffinity("b", ZONE),))
    placement = solve(PackingProblem(ZONES, (a_zone, b)))
    zones = {s: {n.pool for n in placement.nodes for r in n.replicas if r.startswith(s)} for s in "ab"}
    assert not zones["a"] & zones["b"]


def test_affinity_follows_the_other_workload_and_itself():
    cache = Service("cache", 1, {"cpu": 2.0}, pools=("zb",))
    web = Service("web", 3, {"cpu": 1.0}, affinity=(PodAffinity("cache", ZONE),))
    placement = solve(PackingProblem(ZONES, (cache, web)))
    assert {n.pool for n in placement.nodes} == {"zb"}
    together = Service("web", 12, {"cpu": 2.0}, affinity=(PodAffinity("web", ZONE),))
    placement = solve(PackingProblem(ZONES, (together,)))
    assert len({n.pool for n in placement.nodes}) == 1 and placement.nodes_used == 3
    with pytest.raises(InfeasiblePlacement):       # 20 replicas of 2 CPU do not fit one zone (32 CPU)
        solve(PackingProblem(ZONES, (Service("web", 20, {"cpu": 2.0}, affinity=together.affinity),)))


@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_leave_pending_what_breaks_a_rule(name):
    web = Service("web", 5, {"cpu": 1.0}, anti_affinity=(PodAffinity("web", ZONE),))
    b = Service("b", 2, {"cpu": 1.0}, affinity=(PodAffinity("web", HOST),))
    problem = PackingProblem(ZONES, (web, b))
    assert_valid(problem, BASELINES[name](problem), partial=True)


FILTERED = {   # the scheduler's InterPodAffinity filter places every replica of these, one at a time
    "apart over nodes": (ZONES[:1], (Service("a", 2, {"cpu": 1.0}, anti_affinity=(PodAffinity("b", HOST),)),
                                     Service("b", 2, {"cpu": 1.0}))),
    "one per zone": (ZONES, (Service("web", 3, {"cpu": 1.0}, anti_affinity=(PodAffinity("web", ZONE),)),)),
    "follows a smaller service": (ZONES, (Service("web", 3, {"cpu": 3.0},
                                                  affinity=(PodAffinity("cache", ZONE),)),
                                          Service("cache", 1, {"cpu": 1.0}, pools=("zb",)))),
    "follows itself onto one node": (ZONES, (Service("web", 3, {"cpu": 1.0},
                                                     affinity=(PodAffinity("web", HOST),)),)),
    "follows another onto its node": (ZONES, (Service("web", 3, {"cpu": 2.0},
                                                      affinity=(PodAffinity("cache", HOST),)),
                                              Service("cache", 1, {"cpu": 1.0}))),
}


@pytest.mark.parametrize("case", list(FILTERED))
@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_filter_nodes_as_the_scheduler_does(name, case):
    """Each replica goes only where the terms allow it (and a service arrives after the one it follows), so
    the greedy plan is complete where the scheduler's would be, not trimmed afterwards."""
    pools, services = FILTERED[case]
    problem = PackingProblem(pools, services)
    placement = BASELINES[name](problem)
    assert placement.unplaced == []
    assert_valid(problem, placement)


@pytest.mark.parametrize("objective", ["fit", "min-nodes"])
def test_affinity_over_a_label_no_used_pool_has(objective):
    """Nodes without the label are in no domain: affinity keeps the service off them (Pending under fit,
    infeasible otherwise), and no packer trips over a plan without any labelled node."""
    pools = (Pool("a", 4, {"cpu": 8.0}), Pool("b", 4, {"cpu": 8.0}, labels={"zone": "x"}))
    web = Service("web", 2, {"cpu": 1.0}, pools=("a",))
    follower = Service("c", 2, {"cpu": 1.0}, pools=("a",), affinity=(PodAffinity("web", ZONE),))
    problem = PackingProblem(pools, (web, follower), objective=objective)
    for name in BASELINES:
        placement = BASELINES[name](problem)
        assert_valid(problem, placement, partial=True)
        assert sorted(placement.unplaced) == ["c-0", "c-1"]
    if objective == "fit":
        assert sorted(solve(problem).unplaced) == ["c-0", "c-1"]
    else:
        with pytest.raises(InfeasiblePlacement):
            solve(problem)


def test_the_pattern_formulation_refuses_pod_affinity_and_auto_routes_it_to_the_aggregated_model():
    """A pattern fills one node with no view of the others: it cannot count replicas per domain."""
    web = Service("web", 3, {"cpu": 1.0}, anti_affinity=(PodAffinity("web", ZONE),))
    problem = PackingProblem(ZONES, (web,))
    assert pattern_obstacles(problem, OBJECTIVES.lookup(problem.objective)) == ["pod affinity"]
    with pytest.raises(ValueError, match="patterns cannot express pod affinity"):
        solve(problem, formulation="patterns")
    placement = solve(problem)
    assert placement.status == "optimal" and sorted(n.pool for n in placement.nodes) == ["za", "zb", "zc"]
