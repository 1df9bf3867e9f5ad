"""Extending the packer from outside the package: a new objective and a new greedy baseline.

Each is one class and one registration; the scenario format, the CLI (``capacity plan``, ``--compare``)
and the report take it from the registry with no other change. This file is the worked example of the
documentation's "extending" page, so the two classes below are written to be read.

**An objective: the fewest GPU nodes.** GPUs are what an inference budget is about. ``min-nodes`` may
put CPU-only services on a GPU node (a big node holds more of them) and so provision a second GPU node
to save a small CPU node; ``min-gpu-nodes`` counts only the nodes that have a GPU. It is *node-priced*
(a plan is worth the sum of a price per used node), so it derives from `NodePriced` and gives the price:
both formulations, the bounds and the greedy pool choice then work for it unchanged.

**A baseline: best-fit decreasing.** The classic alternative to first-fit decreasing: each replica goes on
the open node it leaves fullest. It derives from `GreedyBaseline` and writes ``plan`` with the shared
`Cluster`, which enforces every rule (selectors, capacity after headroom, ``max_per_node``, spread,
survive) and opens nodes from the pool the objective prefers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from packing_checks import assert_honest, assert_valid

from capacity.cli import main
from capacity.packing import (
    BASELINES,
    OBJECTIVES,
    GreedyBaseline,
    NodePriced,
    Objective,
    PackingProblem,
    solve,
)
from capacity.packing.baselines import Cluster, Plan, arrival_order
from capacity.packing.instance import Instance
from capacity.pipeline import pack, packing_problem
from capacity.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# --------------------------------------------------------------------------------------------------
# The extensions


class MinGpuNodes(NodePriced):
    """Fewest nodes with a GPU (nodes without one count nothing)."""

    name = "min-gpu-nodes"
    summary = "nodes with a GPU used"
    unit = "GPU nodes"
    integral_prices = True  # every price is 0 or 1: bounds round up

    def price(self, inst: Instance, p: int) -> float:
        return 1.0 if inst.pools[p].capacity.get("gpu", 0) > 0 else 0.0

    def check(self, problem: PackingProblem) -> None:
        super().check(problem)  # the flags: move_cost only where priced, costs where needed
        if not any(pool.capacity.get("gpu", 0) > 0 for pool in problem.pools):
            raise ValueError("objective min-gpu-nodes: no pool has a GPU (use min-nodes)")


class BestFitDecreasing(GreedyBaseline):
    """Each replica, largest first, on the open node it leaves fullest; else on a new node."""

    name = "bfd"
    summary = "best-fit decreasing: each replica on the open node it leaves fullest"

    def plan(self, inst: Instance, objective: Objective) -> Plan:
        cluster = Cluster(inst, objective)
        for s in arrival_order(inst, by_priority=objective.partial):
            while cluster.placed[s] < inst.replicas[s]:
                candidates = np.flatnonzero(cluster.can_take(s))
                if len(candidates):
                    # the fullest after the replica; ties: the node opened first
                    node = int(candidates[np.argmax(fullness(inst, cluster, candidates, s))])
                else:
                    opened = cluster.open_for(s, int(inst.replicas[s] - cluster.placed[s]))
                    if opened is None:
                        break  # no node left for it: unplaced
                    node = opened
                cluster.place(node, s)
        return cluster.result()


def fullness(inst: Instance, cluster: Cluster, nodes: np.ndarray, s: int) -> np.ndarray:
    """[node] the summed share of each node's usable capacity in use once a replica of ``s`` is added."""
    usable = inst.usable[cluster.pool_of[nodes]]
    after = cluster.used[nodes] + inst.demand[s]
    return np.divide(after, usable, out=np.zeros_like(after), where=usable > 0).sum(axis=1)


# --------------------------------------------------------------------------------------------------
# Registering them (a plugin would do it once, at import)


@pytest.fixture
def min_gpu_nodes() -> Iterator[None]:
    OBJECTIVES.register(MinGpuNodes())
    yield
    OBJECTIVES.unregister("min-gpu-nodes")


@pytest.fixture
def best_fit() -> Iterator[None]:
    BASELINES.register(BestFitDecreasing())
    yield
    BASELINES.unregister("bfd")


# Four LLM replicas need one GPU node (4 GPUs). Eight API replicas of 4 cores fit on GPU nodes (32 cores) or
# two to a CPU node (8 cores). Fewest nodes: two GPU nodes hold everything. Fewest GPU nodes: one GPU node
# (the LLM and four API replicas) and two CPU nodes.
FLEET = """\
name: gpu-fleet
cluster:
  pools:
    - {name: cpu, count: 10, resources: {cpu: 8, memory: 32Gi}, cost: 0.4}
    - {name: gpu, count: 4, resources: {cpu: 32, memory: 256Gi, gpu: 4}, cost: 9.8}
services:
  - {name: llm, replicas: 4, resources: {cpu: 4, memory: 40Gi, gpu: 1}}
  - {name: api, replicas: 8, resources: {cpu: 4, memory: 8Gi}}
placement:
  objective: OBJECTIVE
"""


def plan(write_scenario, objective: str, tmp_path, *extra: str) -> tuple[int, dict]:
    path = write_scenario(FLEET.replace("OBJECTIVE", objective))
    out = tmp_path / f"{objective}.json"
    code = main(["plan", str(path), "--json", str(out), *extra])
    return code, json.loads(out.read_text()) if out.exists() else {}


def gpu_nodes(report: dict) -> int:
    return sum(1 for node in report["placement"]["nodes"] if node["pool"] == "gpu")


# --------------------------------------------------------------------------------------------------
# The objective


def test_a_registered_objective_plans_a_scenario_end_to_end(min_gpu_nodes, write_scenario, tmp_path, capsys):
    code, fewest = plan(write_scenario, "min-nodes", tmp_path)
    assert code == 0
    assert (fewest["placement"]["nodes_used"], gpu_nodes(fewest)) == (2, 2)

    code, report = plan(write_scenario, "min-gpu-nodes", tmp_path)
    assert code == 0
    p = report["placement"]
    assert p["objective"] == "min-gpu-nodes"
    assert gpu_nodes(report) == 1
    assert (p["objective_value"], p["objective_bound"], p["status"]) == (1, 1, "optimal")
    llm_nodes = {node["pool"] for node in p["nodes"] if any(r.startswith("llm-") for r in node["replicas"])}
    assert llm_nodes == {"gpu"}
    assert "objective min-gpu-nodes (GPU nodes): 1, bound 1" in capsys.readouterr().out

    scenario = load_scenario(write_scenario(FLEET.replace("OBJECTIVE", "min-gpu-nodes")))
    placement = pack(scenario)  # the same plan through the Python API, checked rule by rule
    assert_valid(packing_problem(scenario), placement)
    assert_honest(placement)


def test_every_formulation_and_baseline_takes_the_new_objective(min_gpu_nodes, write_scenario):
    problem = packing_problem(load_scenario(write_scenario(FLEET.replace("OBJECTIVE", "min-gpu-nodes"))))
    for formulation in ("patterns", "aggregated"):
        placement = solve(problem, formulation=formulation)
        assert_valid(problem, placement)
        assert (placement.objective_value, placement.status) == (1, "optimal"), formulation
    for name, baseline in BASELINES.items():
        placement = baseline(problem)
        assert_valid(problem, placement)
        assert placement.objective_value == 1, name  # the greedy pool choice follows the GPU price


def test_the_objective_is_a_scenario_name_only_while_registered(write_scenario, capsys):
    path = write_scenario(FLEET.replace("OBJECTIVE", "min-gpu-nodes"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "placement.objective: Input should be 'min-nodes'" in err and "(got 'min-gpu-nodes')" in err
    OBJECTIVES.register(MinGpuNodes())
    try:
        assert main(["validate", str(path)]) == 0
        assert "min-gpu-nodes" in Scenario.model_json_schema()["$defs"]["PlacementOptions"]["properties"][
            "objective"]["enum"]
    finally:
        OBJECTIVES.unregister("min-gpu-nodes")


def test_the_objectives_own_rule_is_a_one_line_input_error(min_gpu_nodes, write_scenario, capsys):
    text = FLEET.replace("OBJECTIVE", "min-gpu-nodes").replace(", gpu: 4}", "}").replace(", gpu: 1}", "}")
    path = write_scenario(text)
    for command in ("validate", "plan"):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith("placement.objective: objective min-gpu-nodes: no pool has a GPU (use min-nodes)")
        assert err.startswith(f"error: {path}:") and len(err.splitlines()) == 1


def test_the_flags_are_checked_for_a_new_objective_too(min_gpu_nodes, write_scenario, capsys):
    path = write_scenario(FLEET.replace("OBJECTIVE", "fit") + "  move_cost: 1\n")
    assert main(["validate", str(path)]) == 2
    assert "move_cost applies to objectives min-nodes, min-cost and min-gpu-nodes, not fit" in (
        capsys.readouterr().err)


# --------------------------------------------------------------------------------------------------
# The baseline


def test_a_registered_baseline_runs_in_plan_compare(best_fit, tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", str(SCENARIOS / "inference-fleet.yaml"), "--compare", "--json", str(out)]) == 0
    compare = json.loads(out.read_text())["compare"]
    bfd, optimiser = compare["methods"]["bfd"], compare["methods"]["optimiser"]
    assert (bfd["solver"], bfd["unplaced"]) == ("bfd", 0)
    assert optimiser["cost_per_hour"] <= bfd["cost_per_hour"]  # objective min-cost
    assert any(line.split()[:1] == ["bfd"] for line in capsys.readouterr().out.splitlines())
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    assert "bfd" in capsys.readouterr().out  # the --compare help lists the registry


@pytest.mark.parametrize("name", ["inference-fleet", "zone-outage", "llm-serving"])
def test_the_new_baseline_obeys_every_rule(best_fit, name):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    for objective in ("min-cost", "fit"):  # fit: a fixed cluster, every node open from the start
        problem = dataclasses.replace(packing_problem(scenario), objective=objective)
        placement = BASELINES["bfd"](problem)
        assert placement.solver == "bfd"
        assert_valid(problem, placement)
        assert_honest(placement)
