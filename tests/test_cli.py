"""The command line: exit codes, one-line errors, written reports, determinism across processes."""

import json
import subprocess
import sys
import textwrap

import pytest

from capacity.cli import main
from capacity.report import strip_runtime

from .cli_support import run_cli
from .conftest import SCENARIOS

SEED = str(SCENARIOS / "seed-example.yaml")

SMALL = textwrap.dedent("""\
    name: small
    seed: 5
    cluster:
      pools:
        - {name: cpu, count: 3, resources: {cpu: 4, memory: 8Gi}}
    services:
      - name: web
        replicas: 2
        resources: {cpu: 1, memory: 1Gi}
        serving: {concurrency: 2, service_time: {mean: 10ms}}
    workload:
      duration: 30s
      warmup: 5s
      classes:
        - {name: api, service: web, arrivals: {rate: 100/s}, slo: {p99: 100ms}}
    """)


def test_plan_seed_example_is_optimal_on_three_nodes(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert run_cli("plan", SEED, "--json", out) == 0
    report = json.loads(out.read_text())
    p = report["placement"]
    assert (p["nodes_used"], p["status"], p["lower_bound"]) == (3, "optimal", 3)
    assert report["simulation"] is None
    assert sorted(r for n in p["nodes"] for r in n["replicas"]) == ["A-0", "B-0", "C-0", "D-0", "E-0"]
    assert "3 nodes" in capsys.readouterr().out


def test_validate(capsys):
    assert run_cli("validate", SEED) == 0
    assert capsys.readouterr().out.startswith("ok: seed-example")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("replicas: 2\n", "replicas: 2\n    colour: red\n", "services.web.colour: unknown field 'colour'"),
        ("cpu: 1, memory: 1Gi", "cpu: -1, memory: 1Gi", "resources.cpu: Input should be greater"),
        ("cpu: 1, memory: 1Gi", "cpu: 1, memory: 1 GB", "services.web.resources.memory: bad quantity"),
        ("service: web,", "service: webb,", "workload.classes.api.service: no service named 'webb'"),
        ("mean: 10ms", "mean: 10 lightyears", "services.web.serving.service_time.mean: bad duration"),
    ],
)
def test_bad_input_exits_2_with_one_line(write_scenario, capsys, old, new, words):
    path = write_scenario(SMALL.replace(old, new, 1))
    for command in ("validate", "plan", "run"):
        assert run_cli(command, path) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith(f"error: {path}:")
        assert words in lines[0]
        assert "Traceback" not in captured.err


def test_bad_override_exits_2(capsys):
    assert run_cli("plan", SEED, "--set", "services.Z.replicas=2") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no item named 'Z'" in err


def test_replica_bigger_than_every_node_exits_3_naming_service_and_resource(write_scenario, capsys):
    path = write_scenario(SMALL.replace("cpu: 1, memory: 1Gi", "cpu: 6, memory: 1Gi"))
    assert run_cli("plan", path) == 3
    err = capsys.readouterr().err
    assert "web" in err and "cpu" in err and "Traceback" not in err


def test_resource_no_pool_has_exits_3(write_scenario, capsys):
    path = write_scenario(SMALL.replace("cpu: 1, memory: 1Gi", "cpu: 1, memory: 1Gi, gpu: 1"))
    assert run_cli("plan", path) == 3
    err = capsys.readouterr().err
    assert "web" in err and "gpu" in err


def test_not_enough_nodes_exits_3(write_scenario, capsys):
    path = write_scenario(SMALL.replace("replicas: 2", "replicas: 13"))
    assert run_cli("plan", path) == 3
    assert "web" in capsys.readouterr().err


def test_run_writes_reports_and_plots(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("run", SEED, "-o", out, "--set", "workload.duration=2m",
                   "--set", "workload.warmup=10s") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["scenario"] == "seed-example"
    assert set(report["simulation"]["classes"]) == {"a-web", "b-batch", "c-web", "d-web", "d-batch", "e-web"}
    md = (out / "report.md").read_text()
    assert "## Placement" in md and "## Simulation" in md and "| a-web |" in md
    for png in ("latency_cdf.png", "node_usage.png", "latency_over_time.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))
    printed = capsys.readouterr().out
    assert "placement: 3 nodes" in printed and "a-web" in printed


def test_simulate_json(tmp_path, write_scenario):
    out = tmp_path / "sim.json"
    assert run_cli("simulate", write_scenario(SMALL), "--json", out) == 0
    report = json.loads(out.read_text())
    api = report["simulation"]["classes"]["api"]
    assert api["arrived"] > 0 and api["completed"] == api["arrived"]
    assert 0 <= api["slo"]["attained"] <= 1


def test_same_scenario_same_report_across_processes(tmp_path, write_scenario):
    """Two separate processes produce the same report.json, apart from the run-time section."""
    path = write_scenario(SMALL)
    reports = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        proc = subprocess.run([sys.executable, "-m", "capacity", "run", str(path), "-o", str(out)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        reports.append(json.loads((out / "report.json").read_text()))
    assert json.dumps(strip_runtime(reports[0]), sort_keys=True) == json.dumps(
        strip_runtime(reports[1]), sort_keys=True)
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "capacity", "run", str(path), "-o", str(other), "--set", "seed=6"],
                   capture_output=True, check=True)
    changed = json.loads((other / "report.json").read_text())
    assert changed["simulation"] != reports[0]["simulation"]


def test_entry_point_bad_input_has_no_traceback(write_scenario):
    path = write_scenario("name: [unclosed\n")
    proc = subprocess.run([sys.executable, "-m", "capacity", "validate", str(path)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"error: {path}:")


def test_sweep_and_size_errors_are_one_line_even_when_they_quote_a_newline(tmp_path, capsys):
    """A value the user gave may hold a line break; the error quoting it stays one line."""

    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: t\ncluster: {pools: [{name: p, count: 1, resources: {cpu: 4}}]}\n"
        "services: [{name: s, replicas: 1, resources: {cpu: 1},\n"
        "  serving: {service_time: {mean: 10ms}}}]\n"
        "workload: {duration: 10s, classes: [{name: c, service: s, arrivals: {rate: 1}, slo: {p99: 1s}}]}\n",
        encoding="utf-8")
    assert main(["size", str(scenario), "--max-rate", "no\nerror: forged"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "\\n" in err
    assert main(["sweep", str(scenario), "--executor", "nope\nerror: forged", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
