"""Stranded capacity on hand cases, and in the report's placement section."""

from __future__ import annotations

import pytest

from capacity.packing import (
    BASELINES,
    NodeUsage,
    PackingProblem,
    Placement,
    Pool,
    Service,
    solve,
    stranded_by_pool,
    stranded_capacity,
)
from capacity.packing.stranded import stranded_total
from capacity.report.summary import placement_section
from capacity.scenario import scenario_from_dict

GiB = 2**30


def _placement(nodes: list[tuple[str, str, list[str], dict[str, float], dict[str, float]]]) -> Placement:
    """A hand-made plan: (node name, pool, replicas, used, capacity) per node."""
    usages = [NodeUsage(n, p, r, u, c) for n, p, r, u, c in nodes]
    return Placement(
        status="feasible",
        solver="hand",
        objective="min-nodes",
        nodes_used=len(usages),
        lower_bound=0,
        objective_value=float(len(usages)),
        objective_bound=None,
        cost_per_hour=None,
        solve_time_s=0.0,
        nodes=usages,
        assignment={r: n.name for n in usages for r in n.replicas},
    )


POOL = Pool("n", 4, {"cpu": 10, "memory": 10})


def test_exhausted_cpu_strands_all_free_memory() -> None:
    # two (5, 2) replicas fill the CPU; the 6 free memory is useless to a replica that needs a core
    problem = PackingProblem((POOL,), (Service("a", 2, {"cpu": 5, "memory": 2}),))
    plan = _placement([("n-0", "n", ["a-0", "a-1"], {"cpu": 10, "memory": 4}, dict(POOL.capacity))])
    assert stranded_capacity(problem, plan) == {"n-0": {"cpu": 0.0, "memory": 6.0}}


def test_only_what_the_best_single_service_cannot_claim_is_stranded() -> None:
    a = Service("a", 1, {"cpu": 5, "memory": 2})
    b = Service("b", 1, {"cpu": 2, "memory": 1})
    c = Service("c", 0, {"cpu": 1, "memory": 3})  # no replicas now, but it could scale up here
    # free (5, 8): another a claims (5, 2), two b claim (4, 2): cpu all claimable, 6 memory stranded
    plan = _placement([("n-0", "n", ["a-0"], {"cpu": 5, "memory": 2}, dict(POOL.capacity))])
    assert stranded_capacity(PackingProblem((POOL,), (a, b)), plan)["n-0"] == {"cpu": 0.0, "memory": 6.0}
    # free (3, 7): a no longer fits, one b claims (2, 1): (1, 6) stranded
    plan = _placement([("n-0", "n", ["a-0", "b-0"], {"cpu": 7, "memory": 3}, dict(POOL.capacity))])
    assert stranded_capacity(PackingProblem((POOL,), (a, b)), plan)["n-0"] == {"cpu": 1.0, "memory": 6.0}
    # with c, two c claim (2, 6): per resource the best single service counts, so (1, 1) stranded
    assert stranded_capacity(PackingProblem((POOL,), (a, b, c)), plan)["n-0"] == {"cpu": 1.0, "memory": 1.0}


def test_selector_and_max_per_node_decide_who_could_use_the_room() -> None:
    gpu = Pool("gpu", 2, {"cpu": 48, "memory": 192 * GiB, "gpu": 4})
    llm = Service("llm", 2, {"cpu": 8, "memory": 40 * GiB, "gpu": 1}, pools=("gpu",), max_per_node=2)
    web = Service("web", 1, {"cpu": 1, "memory": 1 * GiB}, pools=("cpu",))
    cpu = Pool("cpu", 1, {"cpu": 4, "memory": 8 * GiB})
    problem = PackingProblem((cpu, gpu), (web, llm))
    used = {"cpu": 16.0, "memory": 80.0 * GiB, "gpu": 2.0}
    plan = _placement([("gpu-0", "gpu", ["llm-0", "llm-1"], used, dict(gpu.capacity))])
    # llm is at max_per_node, web may not go there: every free amount is stranded
    assert stranded_capacity(problem, plan)["gpu-0"] == {"cpu": 32.0, "gpu": 2.0, "memory": 112.0 * GiB}
    looser = PackingProblem((cpu, gpu), (web, Service("llm", 2, dict(llm.demand), pools=("gpu",))))
    # without the limit two more llm replicas fit: (16, 80Gi, 2) claimed
    assert stranded_capacity(looser, plan)["gpu-0"] == {"cpu": 16.0, "gpu": 0.0, "memory": 32.0 * GiB}


def test_headroom_is_not_stranded() -> None:
    problem = PackingProblem(
        (POOL,), (Service("a", 2, {"cpu": 4, "memory": 4}),), headroom={"cpu": 0.2, "memory": 0.2}
    )
    plan = solve(problem)
    assert plan.nodes_used == 1
    assert stranded_capacity(problem, plan) == {"n-0": {"cpu": 0.0, "memory": 0.0}}


def test_float_noise_is_not_stranded() -> None:
    pool = Pool("n", 1, {"cpu": 0.3, "memory": 1.0})
    problem = PackingProblem((pool,), (Service("a", 3, {"cpu": 0.1, "memory": 0.2}),))
    amounts = stranded_capacity(problem, solve(problem))["n-0"]
    assert amounts["cpu"] == 0.0
    assert amounts["memory"] == pytest.approx(0.4)


def test_pool_and_total_sums() -> None:
    problem = PackingProblem((POOL,), (Service("a", 4, {"cpu": 5, "memory": 2}),))
    plan = BASELINES["ffd"](problem)
    per_node = stranded_capacity(problem, plan)
    assert per_node == {"n-0": {"cpu": 0.0, "memory": 6.0}, "n-1": {"cpu": 0.0, "memory": 6.0}}
    assert stranded_by_pool(problem, plan) == {"n": {"cpu": 0.0, "memory": 12.0}}
    assert stranded_total(per_node) == {"cpu": 0.0, "memory": 12.0}


def test_unknown_replica_is_an_error() -> None:
    problem = PackingProblem((POOL,), (Service("a", 1, {"cpu": 1}),))
    plan = _placement([("n-0", "n", ["ghost-0"], {"cpu": 1, "memory": 0}, dict(POOL.capacity))])
    with pytest.raises(ValueError, match="ghost-0"):
        stranded_capacity(problem, plan)


def test_report_lists_stranded_per_node_and_pool() -> None:
    scenario = scenario_from_dict(
        {
            "name": "strand",
            "cluster": {
                "pools": [
                    {"name": "cpu", "count": 3, "resources": {"cpu": 4, "memory": "16Gi"}},
                    {"name": "idle", "count": 2, "resources": {"cpu": 4, "memory": "16Gi"}},
                ]
            },
            "services": [
                {"name": "a", "replicas": 2, "resources": {"cpu": 2, "memory": "2Gi"}, "pools": ["cpu"]}
            ],
        }
    )
    from capacity.pipeline import packing_problem

    problem = packing_problem(scenario)
    section = placement_section(scenario, problem, solve(problem))
    assert [n["stranded"] for n in section["nodes"]] == [{"cpu": 0, "memory": 12 * GiB}]
    assert section["pools"]["cpu"]["stranded"] == {"cpu": 0, "memory": 12 * GiB}
    assert section["pools"]["idle"]["stranded"] == {}
    assert set(section.pools["cpu"].model_dump()) >= {"count", "nodes_used", "cost_per_hour", "allocated"}
