"""``capacity plan --compare``: every baseline beside the optimiser and the bound, printed and in JSON."""

import json
import textwrap

from capacity.cli import main
from capacity.packing import BASELINES
from capacity.report import render_markdown, strip_runtime

from .conftest import SCENARIOS

FLEET = str(SCENARIOS / "inference-fleet.yaml")

# cpu 6, 5, 4, 3, 2 on two 10-core nodes: the optimiser fits them ({6, 4}, {5, 3, 2}); LeastAllocated
# spreads 4 and 3 over both nodes and has no room left for the 2.
TIGHT = textwrap.dedent("""\
    name: tight
    cluster:
      pools:
        - {name: n, count: 2, resources: {cpu: 10, memory: 64Gi}, cost: 1.5}
    services:
      - {name: a, replicas: 1, resources: {cpu: 6, memory: 1Gi}}
      - {name: b, replicas: 1, resources: {cpu: 5, memory: 1Gi}}
      - {name: c, replicas: 1, resources: {cpu: 4, memory: 1Gi}}
      - {name: d, replicas: 1, resources: {cpu: 3, memory: 1Gi}}
      - {name: e, replicas: 1, resources: {cpu: 2, memory: 1Gi}}
    """)

METHODS = [*BASELINES, "optimiser"]


def test_compare_prints_every_method_and_the_bound(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", FLEET, "--compare", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    table = printed[printed.index("compare (objective min-cost)") :].splitlines()
    labels = [line.split()[0] for line in table[2:8]]
    assert labels == ["ffd", "k8s-least-allocated", "k8s-most-allocated", "tetris", "optimiser", "lower"]
    assert "optimiser (highs)" in printed and "proven" in table[7]
    assert "stranded" in printed and "gpu" in printed

    report = json.loads(out.read_text())
    c = report["compare"]
    assert list(c["methods"]) == sorted(METHODS)  # canonical JSON sorts the keys
    assert c["objective"] == "min-cost" and c["lower_bound"] == report["placement"]["lower_bound"]
    opt = c["methods"]["optimiser"]
    assert opt["solver"] == "highs" and opt["status"] == "optimal"
    assert opt["nodes_used"] == report["placement"]["nodes_used"]
    for name, m in c["methods"].items():
        assert set(m) == {
            "solver",
            "status",
            "nodes_used",
            "cost_per_hour",
            "objective_value",
            "unplaced",
            "stranded",
        }, name
        assert m["unplaced"] == 0 and m["cost_per_hour"] >= opt["cost_per_hour"] - 1e-9, name
        assert set(m["stranded"]) == {"cpu", "gpu", "memory"}
    pools = report["placement"]["pools"]
    assert sum(p["stranded"].get("gpu", 0) for p in pools.values()) == opt["stranded"]["gpu"]
    assert set(report["run"]["compare_s"]) == set(METHODS)
    md = render_markdown(report)
    assert "## Compared with greedy baselines" in md and "| k8s-most-allocated |" in md
    assert md.index("| tetris |") < md.index("| optimiser (highs) |")
    assert "stranded" in md


def test_compare_shows_replicas_a_baseline_left_unplaced(write_scenario, tmp_path, capsys):
    out = tmp_path / "tight.json"
    assert main(["plan", str(write_scenario(TIGHT)), "--compare", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    least = next(line for line in printed.splitlines() if line.strip().startswith("k8s-least-allocated"))
    assert "infeasible, 1 unplaced" in least
    methods = json.loads(out.read_text())["compare"]["methods"]
    assert methods["k8s-least-allocated"]["unplaced"] == 1
    assert methods["k8s-least-allocated"]["status"] == "infeasible"
    assert methods["optimiser"]["nodes_used"] == 2 and methods["optimiser"]["unplaced"] == 0


def test_compare_is_deterministic_apart_from_run(write_scenario, tmp_path):
    path = str(write_scenario(TIGHT))
    reports = []
    for k in range(2):
        out = tmp_path / f"r{k}.json"
        assert main(["plan", path, "--compare", "--json", str(out)]) == 0
        reports.append(strip_runtime(json.loads(out.read_text())))
    assert reports[0] == reports[1]


def test_plan_without_compare_has_no_compare_section(tmp_path, capsys):
    out = tmp_path / "plain.json"
    assert main(["plan", FLEET, "--json", str(out)]) == 0
    assert "compare" not in json.loads(out.read_text())
    assert "compare (" not in capsys.readouterr().out
