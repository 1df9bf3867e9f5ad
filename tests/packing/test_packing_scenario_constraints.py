"""Scenario YAML -> PackingProblem -> plan -> report.json for every new placement field, and the
one-line `ScenarioError` for each kind of bad input."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from packing_checks import assert_valid

from capacity import pipeline
from capacity.errors import ScenarioError
from capacity.scenario import load_scenario

BASE = """\
name: constraints
cluster:
  pools:
    - {name: a, count: 3, resources: {cpu: 8, memory: 32Gi}, cost: 1.0, labels: {zone: a, tier: x}}
    - {name: b, count: 3, resources: {cpu: 8, memory: 32Gi}, cost: 1.0, labels: {zone: b, tier: x}}
    - {name: g, count: 1, resources: {cpu: 32, memory: 128Gi, gpu: 4}, cost: 9.0,
       labels: {zone: a, tier: gpu}}
services:
  - name: web
    replicas: 6
    resources: {cpu: 2, memory: 4Gi}
    node_selector: {tier: x}
    spread: {topology: zone, max_skew: 1}
    survive: {failures: 1 node, keep: 50%}
  - name: llm
    replicas: 2
    resources: {cpu: 8, memory: 32Gi, gpu: 1}
    priority: 10
placement:
  objective: min-nodes
"""


def write(tmp_path: Path, text: str = BASE) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_every_field_reaches_the_report(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path), ["placement.existing={a-1: {web: 3}, b-2: {web: 1}}",
                                               "placement.move_cost=0.01"])
    result = pipeline.run(scenario, simulate_traffic=False)
    assert_valid(result.problem, result.placement)
    p = result.report["placement"]
    # web: 3 per zone (spread), at most 3 per node (survive), tier x only; llm on g: 3 nodes
    assert (p["nodes_used"], p["status"], p["objective_value"]) == (3, "optimal", 3)
    web_nodes = {n["name"] for n in p["nodes"] if any(r.startswith("web") for r in n["replicas"])}
    assert web_nodes == {"a-1", "b-2"}  # the running nodes, kept
    assert p["moves"] == 0 and p["moved"] == {}
    assert p["max_utilisation"] == pytest.approx(0.75)
    assert p["unplaced"] == [] and p["unplaced_reasons"] == {}


def test_fit_lists_the_unplaced_with_reasons(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path), ["placement.objective=fit", "services.llm.replicas=8",
                                               "services.web.replicas=20"])
    result = pipeline.run(scenario, simulate_traffic=False)
    assert_valid(result.problem, result.placement)
    p = result.report["placement"]
    # llm: 4 GPUs on the only GPU node -> 4 of 8; web: 8 per zone on 3 nodes of 8 CPU (4 each, survive
    # allows 10 per node), 3 nodes x 4 = 12 per zone -> all 20
    assert p["objective"] == "fit" and p["status"] == "optimal"
    assert p["objective_value"] == 4 * 10
    assert sorted(p["unplaced"]) == [f"llm-{i}" for i in range(4, 8)]
    assert "4 of 8 replicas not placed (priority 10)" in p["unplaced_reasons"]["llm"]


def test_balance_and_min_moves_reach_the_report(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path), ["placement.objective=balance"])
    p = pipeline.run(scenario, simulate_traffic=False).report["placement"]
    # web: 6 x 2 CPU over the 6 x-nodes (spread 3 + 3) -> 25 %; llm: 2 on g -> 16 / 32 cpu, 2 / 4 gpu,
    # 64 / 128 GiB: 50 % is the most
    assert p["objective_value"] == pytest.approx(0.5) and p["max_utilisation"] == pytest.approx(0.5)
    assert p["status"] == "optimal"
    scenario = load_scenario(write(tmp_path), ["placement.objective=min-moves",
                                               "placement.existing={a-0: {web: 4}, b-0: {web: 2}}"])
    p = pipeline.run(scenario, simulate_traffic=False).report["placement"]
    # survive allows 3 per node: one of a-0's 4 moves (to another node of zone a: spread 3 + 3)
    assert (p["moves"], p["moved"], p["objective_value"], p["status"]) == (1, {"web": 1}, 1, "optimal")


@pytest.mark.parametrize(
    ("override", "where", "words"),
    [
        ("services.web.node_selector={rack: r1}", "services.web.node_selector.rack",
         "no pool has label 'rack'"),
        ("services.web.spread={topology: rack}", "services.web.spread.topology", "no pool has label 'rack'"),
        ("services.web.spread={topology: zone, max_skew: 0}", "services.web.spread.max_skew", "greater than"),
        ("services.web.survive={failures: 2 nodes, keep: 50%}", "services.web.survive.failures", "1 node"),
        ("services.web.survive={failures: 1 zone, keep: 50%, topology: rack}",
         "services.web.survive.topology", "labelled 'rack'"),
        ("services.web.survive={failures: 1 node, keep: 100%}", "services.web.survive.keep", "less than 1"),
        ("services.web.priority=0", "services.web.priority", "greater than or equal to 1"),
        ("placement.existing={c-0: {web: 1}}", "placement.existing.c-0", "<pool>-<index>"),
        ("placement.existing={a-3: {web: 1}}", "placement.existing.a-3", "pool 'a' has 3 nodes"),
        ("placement.existing={a-0: {api: 1}}", "placement.existing.a-0.api", "no service named 'api'"),
        ("placement.objective=min-moves", "placement.objective", "needs placement.existing"),
        ("placement.move_cost=1", None, None),
    ],
)
def test_bad_input_is_one_line_naming_the_field(tmp_path: Path, override: str, where: str | None,
                                                words: str | None) -> None:
    path = write(tmp_path)
    if where is None:  # move_cost with min-nodes is fine; with fit it is not
        load_scenario(path, [override])
        with pytest.raises(ScenarioError) as info:
            load_scenario(path, [override, "placement.objective=fit"])
        assert "move_cost applies to objectives min-nodes and min-cost" in str(info.value)
        return
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, [override])
    assert info.value.path == where, str(info.value)
    assert words in info.value.message and "\n" not in str(info.value)


def test_a_typo_in_the_file_names_its_line(tmp_path: Path) -> None:
    text = BASE.replace("node_selector: {tier: x}", "node_selector: {teir: x}")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text))
    assert info.value.line == textwrap.dedent(text).splitlines().index("    node_selector: {teir: x}") + 1
