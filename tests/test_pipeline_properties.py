"""Property tests over random scenarios: a plan never overfills a node and places every replica once."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity import pipeline
from capacity.errors import InfeasiblePlacement
from capacity.scenario import scenario_from_dict

from .conftest import examples

RESOURCES = ["cpu", "memory", "gpu"]


@st.composite
def scenarios(draw):
    n_pools = draw(st.integers(1, 3))
    pools = []
    for p in range(n_pools):
        resources = {"cpu": draw(st.sampled_from([2, 4, 8, 16])),
                     "memory": f"{draw(st.sampled_from([4, 8, 16, 64]))}Gi"}
        if draw(st.booleans()):
            resources["gpu"] = draw(st.integers(1, 4))
        pools.append({"name": f"p{p}", "count": draw(st.integers(1, 6)), "resources": resources,
                      "cost": draw(st.sampled_from([0.5, 1.0, 2.5]))})
    services = []
    for s in range(draw(st.integers(1, 5))):
        svc = {"name": f"s{s}", "replicas": draw(st.integers(1, 6)),
               "resources": {"cpu": f"{draw(st.integers(100, 6000))}m",
                             "memory": f"{draw(st.integers(128, 16384))}Mi"}}
        if draw(st.integers(0, 4)) == 0:
            svc["resources"]["gpu"] = 1
        if draw(st.booleans()):
            svc["pools"] = sorted(draw(st.sets(st.sampled_from([p["name"] for p in pools]), min_size=1)))
        if draw(st.booleans()):
            svc["max_per_node"] = draw(st.integers(1, 3))
        services.append(svc)
    placement = {"objective": draw(st.sampled_from(["min-nodes", "min-cost"])),
                 "headroom": draw(st.sampled_from([0, "10%", {"cpu": "5%"}])), "time_limit": "5s"}
    return {"name": "random", "cluster": {"pools": pools}, "services": services, "placement": placement}


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_scenarios_fit_or_explain(doc):
    scenario = scenario_from_dict(doc)
    try:
        placement = pipeline.pack(scenario)
    except InfeasiblePlacement as exc:
        assert exc.shortages, "an infeasible plan must say which service and resource"
        names = {s.name for s in scenario.services}
        assert all(sh.service in names for sh in exc.shortages)
        return
    headroom = scenario.placement.headroom_for(RESOURCES)
    expected = sorted(f"{s.name}-{i}" for s in scenario.services for i in range(s.replicas))
    placed = sorted([r for n in placement.nodes for r in n.replicas] + list(placement.unplaced))
    assert placed == expected
    assert sorted(placement.assignment) == sorted(r for n in placement.nodes for r in n.replicas)
    pool_count = {}
    for node in placement.nodes:
        pool = scenario.pool(node.pool)
        pool_count[node.pool] = pool_count.get(node.pool, 0) + 1
        for r, cap in pool.resources.items():
            used = sum(scenario.service(rep.rsplit("-", 1)[0]).resources.get(r, 0.0) for rep in node.replicas)
            assert used <= cap * (1 - headroom.get(r, 0.0)) + 1e-6
            assert abs(node.used.get(r, 0.0) - used) <= 1e-6 * max(1.0, used)
        for rep in node.replicas:
            svc = scenario.service(rep.rsplit("-", 1)[0])
            assert set(svc.resources) <= set(pool.resources) or all(
                svc.resources[r] == 0 for r in set(svc.resources) - set(pool.resources))
            if svc.pools:
                assert node.pool in svc.pools
            if svc.max_per_node:
                assert sum(1 for x in node.replicas if x.rsplit("-", 1)[0] == svc.name) <= svc.max_per_node
    for name, used in pool_count.items():
        assert used <= scenario.pool(name).count
    assert placement.lower_bound <= placement.nodes_used
