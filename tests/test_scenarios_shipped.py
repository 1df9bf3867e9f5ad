"""Every shipped scenario loads, packs and simulates; the seed example's optimum is 3 nodes."""

import pytest

from capacity import pipeline
from capacity.scenario import load_scenario

from .conftest import SCENARIOS

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def test_there_are_shipped_scenarios():
    assert {p.name for p in SHIPPED} >= {"seed-example.yaml", "inference-fleet.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_runs(path):
    # every shipped scenario runs from the repository alone (trace excerpts in scenarios/data/)
    scenario = load_scenario(path, ["workload.duration=3m", "workload.warmup=30s"])
    result = pipeline.run(scenario)
    report = result.report
    placement = report["placement"]
    assert placement["status"] in ("optimal", "feasible")
    assert placement["unplaced"] == []
    assert placement["lower_bound"] <= placement["nodes_used"]
    placed = sorted(r for n in placement["nodes"] for r in n["replicas"])
    assert placed == sorted(f"{s.name}-{i}" for s in scenario.services for i in range(s.replicas))
    simulation = report["simulation"]
    for c in result.model.classes:                    # a trace class split by tenant: one per tenant
        stats = simulation["classes"][c.name]
        assert stats["arrived"] > 0
        assert stats["arrived"] == sum(stats[k] for k in ("completed", "rejected", "timed_out", "dropped",
                                                          "lost"))
        assert stats["latency_s"]["p50"] <= stats["latency_s"]["p99"] <= stats["latency_s"]["max"]
    for node in placement["nodes"]:
        for r, used in node["used"].items():
            assert used <= node["capacity"][r] + 1e-9


def test_seed_example_optimum():
    placement = pipeline.pack(load_scenario(SCENARIOS / "seed-example.yaml"))
    assert (placement.nodes_used, placement.status, placement.lower_bound) == (3, "optimal", 3)


def test_inference_fleet_respects_its_constraints():
    scenario = load_scenario(SCENARIOS / "inference-fleet.yaml")
    placement = pipeline.pack(scenario)
    pool_of = {n.name: n.pool for n in placement.nodes}
    for svc in scenario.services:
        per_node: dict[str, int] = {}
        for i in range(svc.replicas):
            node = placement.assignment[f"{svc.name}-{i}"]
            per_node[node] = per_node.get(node, 0) + 1
            if svc.pools:
                assert pool_of[node] in svc.pools
        if svc.max_per_node:
            assert max(per_node.values()) <= svc.max_per_node
    for node in placement.nodes:
        for r, used in node.used.items():
            assert used <= node.capacity[r] * 0.9 + 1e-6   # 10% headroom
