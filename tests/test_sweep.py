"""What-if sweeps: expansion, key validation, tables, resume after a real kill, Ctrl-C, executors agree."""

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from capacity import ScenarioError, load_scenario, scenario_from_dict, sweep
from capacity.cli import main
from capacity.whatif import (
    InputFile,
    SweepInterrupted,
    expand,
    run_digest,
    runs_of,
    sweep_figure,
    with_whatif,
)

from .conftest import ROOT, SCENARIOS, SHARED_DATA

GROWTH = SCENARIOS / "whatif-growth.yaml"
SHORT = ["workload.duration=20s", "workload.warmup=5s"]

SMALL = """\
name: small
seed: 5
cluster:
  pools:
    - {name: std, count: 6, resources: {cpu: 4, memory: 8Gi}, cost: 0.25}
services:
  - name: api
    replicas: 2
    resources: {cpu: 2, memory: 2Gi}
    serving: {service_time: {mean: 20ms}}
workload:
  duration: 30s
  warmup: 5s
  classes:
    - {name: web, service: api, arrivals: {rate: 60/s}, slo: {p95: 100ms}}
whatif:
  grid:
    services.api.replicas: [2, 3, 4]
    workload.classes.web.arrivals.rate: [60/s, 90/s]
  cases:
    base: {}
    slow: {services.api.serving.service_time.mean: 30ms}
  replications: 2
"""


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["rows"]


# ---------------------------------------------------------------------------------------------- expansion

def test_grid_and_cases_expand_in_order_with_seeds(write_scenario):
    scenario = load_scenario(write_scenario(SMALL))
    points = expand(scenario)
    assert len(points) == 2 * 3 * 2
    assert [p.name for p in points[:3]] == ["p01", "p02", "p03"]
    first, last = points[0], points[-1]
    assert (first.case, first.settings) == ("base", {"services.api.replicas": 2,
                                                     "workload.classes.web.arrivals.rate": "60/s"})
    # cases outer, the last grid key fastest
    assert points[1].settings["workload.classes.web.arrivals.rate"] == "90/s"
    assert points[2].settings["services.api.replicas"] == 3
    assert last.case == "slow" and last.settings["services.api.serving.service_time.mean"] == "30ms"
    assert last.scenario.service("api").serving.service_time.mean == pytest.approx(0.030)
    assert last.scenario.workload.classes[0].arrivals.rate == 90.0
    assert last.scenario.whatif is None and last.scenario.service("api").replicas == 4
    runs = runs_of(points, 2)
    assert [r.seed for r in runs[:2]] == [5, 6]
    assert len({r.key for r in runs}) == len(runs) == 24        # every run its own key
    # the key is the digest of the run's validated scenario, seed included
    assert runs[1].digest == points[0].scenario.model_copy(update={"seed": 6}).digest()


def test_no_whatif_is_one_point_and_cli_grid_adds_keys(write_scenario):
    scenario = load_scenario(write_scenario(SMALL.split("whatif:")[0]))
    assert [p.label for p in expand(scenario)] == ["(the scenario as is)"]
    scenario = with_whatif(scenario, grid={"services.api.replicas": [3, 5]}, cases={"x": {"seed": 9}},
                           replications=3)
    points = expand(scenario)
    assert [(p.case, p.scenario.service("api").replicas, p.scenario.seed) for p in points] == [
        ("x", 3, 9), ("x", 5, 9)]
    assert scenario.whatif.replications == 3
    # --set reaches a what-if key (the rest of the key is one dotted key)
    path = write_scenario(SMALL.split("whatif:")[0], name="plain.yaml")
    scenario = load_scenario(path, ["whatif.grid.services.api.replicas=[3, 4]", "whatif.cases.c.seed=2"])
    assert [(p.case, p.settings) for p in expand(scenario)] == [
        ("c", {"seed": 2, "services.api.replicas": 3}), ("c", {"seed": 2, "services.api.replicas": 4})]


@pytest.mark.parametrize(("grid", "expected"), [
    ("{services.apx.replicas: [2]}",
     ":17: whatif.grid.services.apx.replicas: value 2: services has no item named 'apx' (have: api)"),
    ("{services.api.replica: [2]}",
     ":17: whatif.grid.services.api.replica: value 2: unknown field 'replica' (allowed: name, replicas,"),
    ("{services.api.replicas: [2, lots]}",
     ":17: whatif.grid.services.api.replicas: value 'lots': Input should be a valid integer"),
    ("{workload.warmup: [1m]}",
     ":17: whatif.grid.workload.warmup: value '1m': warmup (60s) must be shorter than duration (30s)"),
])
def test_a_bad_grid_key_is_one_line_naming_the_whatif_key(write_scenario, grid, expected):
    text = SMALL.replace("""  grid:
    services.api.replicas: [2, 3, 4]
    workload.classes.web.arrivals.rate: [60/s, 90/s]""", f"  grid: {grid}")
    path = write_scenario(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = info.value.one_line()
    assert "\n" not in message
    assert message.startswith(f"{path}{expected}")


def test_case_errors_name_the_case_and_a_key_in_both_places(write_scenario):
    path = write_scenario(SMALL.replace("slow: {services.api.serving.service_time.mean: 30ms}",
                                        "slow: {services.api.serving.service_time.mean: -1s}"))
    with pytest.raises(ScenarioError, match=r":22: whatif\.cases\.slow: services\.api\.serving\.service_time"
                                            r"\.mean: Input should be greater than 0 \(got '-1s'\)"):
        load_scenario(path)
    path = write_scenario(SMALL.replace("slow: {", "slow: {services.api.replicas: 9, "))
    with pytest.raises(ScenarioError, match=r"whatif\.cases\.slow\.services\.api\.replicas: this key is also "
                                            r"in whatif\.grid"):
        load_scenario(path)


def test_cli_unknown_grid_key_exits_2_with_one_line(write_scenario, tmp_path, capsys):
    path = write_scenario(SMALL)
    code = main(["sweep", str(path), "-o", str(tmp_path / "o"), "--grid", "services.api.replicaz=1,2"])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {path}: whatif.grid.services.api.replicaz: value 1: unknown field "
                           "'replicaz' (allowed: name, replicas, resources,")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenarios_survive_the_round_trip_points_take(path):
    """A point is the validated scenario dumped to plain data, changed and validated again: dumping must
    lose nothing (same digest), or a sweep would run something else than the file says."""
    if "shared/data/" in path.read_text(encoding="utf-8") and not SHARED_DATA.is_dir():
        pytest.skip(f"needs the reference data in {SHARED_DATA}")
    scenario = load_scenario(path)
    again = scenario_from_dict(scenario.as_document(), source=str(path))
    assert again.digest() == scenario.digest()


def test_cli_sweep_with_grid_and_case(write_scenario, tmp_path, capsys):
    path = write_scenario(SMALL.split("whatif:")[0])
    out = tmp_path / "o"
    code = main(["sweep", str(path), "-o", str(out), "--executor", "serial", "--replications", "1",
                 "--grid", "services.api.replicas=2,3", "--case", "slow",
                 "services.api.serving.service_time.mean=30ms", "workload.classes.web.arrivals.rate=50/s"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert stdout.splitlines()[0] == "sweep small: 2 points × 1 replications = 2 runs (2 done)"
    assert "p01  case=slow, services.api.replicas=2:" in stdout and f"wrote {out / 'results.csv'}" in stdout
    rows = _rows(out)
    assert [(r["services.api.replicas"], r["workload.classes.web.arrivals.rate"],
             r["services.api.serving.service_time.mean"]) for r in rows] == [(2, 50.0, 0.03), (3, 50.0, 0.03)]
    assert main(["sweep", str(path), "-o", str(out), "--executor", "nope"]) == 2
    assert "unknown executor 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- tables

def test_sweep_writes_tidy_tables_summary_and_report(write_scenario, tmp_path):
    out = tmp_path / "sweep"
    result = sweep(write_scenario(SMALL), out, executor="serial")
    assert (result.total, result.done, result.reused) == (24, 24, 0)
    rows = _rows(out)
    assert len(rows) == 24 and rows == result.rows
    with (out / "results.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 24
    assert list(table[0])[:4] == ["point", "case", "services.api.replicas",
                                  "workload.classes.web.arrivals.rate"]
    for column in ("replication", "seed", "key", "status", "nodes", "cost_per_hour", "slo_met", "web.p50_s",
                   "web.p95_s", "web.p99_s", "web.mean_s", "web.throughput_per_s", "web.slo_attained",
                   "web.slo_met", "report"):
        assert column in table[0]
    assert table[1]["workload.classes.web.arrivals.rate"] == "60.0" and table[1]["seed"] == "6"
    assert table[-1]["services.api.serving.service_time.mean"] == "0.03"   # validated, in seconds
    assert table[0]["services.api.serving.service_time.mean"] == "0.02"    # the scenario's own value
    for row in rows:     # each row is the run's report, flattened
        report = json.loads((out / row["report"]).read_text())
        prov = report["provenance"]       # the key: the scenario's digest and the input files' hashes
        assert run_digest(prov["scenario_sha256"], [InputFile(**i) for i in prov["inputs"]]).startswith(
            row["key"])
        assert report["provenance"]["seed"] == row["seed"]
        web = report["simulation"]["classes"]["web"]
        assert row["web.p99_s"] == web["latency_s"]["p99"]
        assert row["nodes"] == report["placement"]["nodes_used"]
        assert row["web.slo_met"] == web["slo"]["met"]
    summary = json.loads((out / "summary.json").read_text())
    points = summary["points"]
    assert len(points) == 12 and all(p["complete"] and p["replications"] == 2 for p in points)
    p = points[0]
    pair = [r["web.p99_s"] for r in rows if r["point"] == "p01"]
    assert p["web.p99_s"] == pytest.approx(sum(pair) / 2)
    assert p["web.p99_s_ci95"] == pytest.approx(12.7062 * abs(pair[0] - pair[1]) / 2, rel=1e-4)  # t(.975, 1)
    # the cheapest point meeting every SLO, by cost then nodes
    meeting = [q for q in points if q["slo_met"]]
    assert meeting and any(not q["slo_met"] for q in points)
    best = min(meeting, key=lambda q: (q["cost_per_hour"], q["nodes"]))
    assert summary["cheapest_meeting_slos"] == result.cheapest
    assert next(q for q in points if q["point"] == result.cheapest)["cost_per_hour"] == best["cost_per_hour"]
    report_md = (out / "report.md").read_text()
    assert f"| ★ | {result.cheapest} |" in report_md and "FAIL" in report_md and "pass" in report_md
    assert len(re.findall(r"^\| ★? *\| p\d\d \|", report_md, flags=re.MULTILINE)) == 12
    # sweep.png: p99 and cost against the rate (the last grid key), a panel per case and replica count
    fig = sweep_figure(result)
    panels = [ax for ax in fig.axes if ax.get_xlabel() == "workload.classes.web.arrivals.rate"]
    assert len(panels) == 6
    best = next(q for q in points if q["point"] == result.cheapest)
    title = f"case {best['case']}, services.api.replicas = {best['services.api.replicas']}"
    (panel,) = [ax for ax in panels if ax.get_title() == title]
    twin = next(a for a in fig.axes if a is not panel and a.bbox.bounds == panel.bbox.bounds)
    star = next(line for line in twin.lines if line.get_marker() == "*")
    assert float(star.get_xdata()[0]) == best["workload.classes.web.arrivals.rate"]
    assert result.cheapest in fig.get_suptitle()


def test_summary_of_a_point_not_run_yet_shows_its_values(write_scenario):
    """An interrupted sweep's summary: a point with no finished run still names what it sets."""
    from capacity.whatif import summarize_points

    points = expand(load_scenario(write_scenario(SMALL)))
    keys = ["services.api.replicas", "workload.classes.web.arrivals.rate",
            "services.api.serving.service_time.mean"]
    summary = summarize_points(points, [], 2, keys, ["web"])
    assert [(s["services.api.replicas"], s["workload.classes.web.arrivals.rate"],
             s["services.api.serving.service_time.mean"]) for s in summary[-2:]] == [(4, 60.0, 0.03),
                                                                                      (4, 90.0, 0.03)]
    assert all(s["replications"] == 0 and not s["complete"] and s["slo_met"] is None for s in summary)


def test_infeasible_points_are_rows_not_crashes(write_scenario, tmp_path):
    text = SMALL.replace("services.api.replicas: [2, 3, 4]", "services.api.replicas: [2, 40]")
    result = sweep(with_whatif(load_scenario(write_scenario(text)), replications=1), tmp_path / "o",
                   executor="serial")
    big = [r for r in result.rows if r["services.api.replicas"] == 40]
    assert big and all(r["status"] == "infeasible" and r["slo_met"] is False for r in big)
    assert all(Path(tmp_path / "o" / r["report"]).name == "infeasible.json" for r in big)
    assert "does not fit" in (tmp_path / "o" / "report.md").read_text()


def test_without_slos_the_cheapest_point_is_not_said_to_meet_them(write_scenario, tmp_path, capsys):
    text = SMALL.replace(", slo: {p95: 100ms}", "").split("  cases:")[0]
    path = write_scenario(text.replace("[2, 3, 4]", "[2, 3]").replace("[60/s, 90/s]", "[60/s]"))
    out_dir = tmp_path / "o"
    assert main(["sweep", str(path), "-o", str(out_dir), "--replications", "1", "--executor", "serial"]) == 0
    out = capsys.readouterr().out
    assert "cheapest point (no class has an SLO): p01" in out and "meeting every SLO" not in out
    report_md = (out_dir / "report.md").read_text()
    assert "**Cheapest point (no class has an SLO): p01**" in report_md and "meeting" not in report_md
    assert (out_dir / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"    # the CLI draws it


def test_points_with_the_same_scenario_run_once(write_scenario, tmp_path):
    text = SMALL.split("whatif:")[0] + """whatif:
  grid: {workload.classes.web.arrivals.rate: [60/s, 90/s]}
  cases: {as-is: {}, explicit: {services.api.replicas: 2}}
"""
    result = sweep(write_scenario(text), tmp_path / "o", executor="serial")
    assert result.total == result.done == 4
    assert [r["point"] for r in result.rows] == ["p01", "p02", "p03", "p04"]
    assert [r["key"] for r in result.rows[:2]] == [r["key"] for r in result.rows[2:]]
    assert len(list(tmp_path.glob("o/runs/*/report.json"))) == 2


# ---------------------------------------------------------------------------------------------- resume

def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "capacity", "sweep", str(GROWTH), *args,
            *(x for s in SHORT for x in ("--set", s))]


def _start(out: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(_cli("-o", str(out), "--workers", "2", *args), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_runs(proc: subprocess.Popen, out: Path, n: int) -> None:
    """Until ``n`` runs are recorded (the sweep has 24); fails if the sweep ends first."""
    while len(list((out / "runs").glob("*/report.json"))) < n:
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.02)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The shipped what-if scenario (shortened), swept in this process: 12 points × 2 seeds."""
    out = tmp_path_factory.mktemp("whole")
    return out, sweep(load_scenario(GROWTH, SHORT), out, executor="serial").rows


def test_killed_and_interrupted_sweeps_resume_and_lose_nothing(tmp_path, uninterrupted):
    out = tmp_path / "sweep"
    proc = _start(out)
    _wait_for_runs(proc, out, 3)
    os.killpg(proc.pid, signal.SIGKILL)                  # the sweep and its workers, no clean-up
    proc.wait()
    killed = len(list((out / "runs").glob("*/report.json")))
    assert 3 <= killed < 24

    proc = _start(out)                                   # resumes, then Ctrl-C
    _wait_for_runs(proc, out, killed + 3)
    proc.send_signal(signal.SIGINT)                      # to the sweep only, as a terminal's Ctrl-C would
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    done = len(_rows(out))                               # the tables hold every finished run
    assert killed + 3 <= done < 24
    assert f"interrupted: {done} of 24 runs done, kept in {out}; run the same command again" in err
    assert "Traceback" not in err
    assert len(json.loads((out / "summary.json").read_text())["points"]) == 12

    again = sweep(load_scenario(GROWTH, SHORT), out, executor="serial")
    assert (again.reused, again.done) == (done, 24)
    assert _rows(out) == again.rows == uninterrupted[1]  # same rows as a sweep never interrupted


def test_ctrl_c_between_a_runs_record_and_its_row_keeps_the_row(write_scenario, tmp_path, monkeypatch):
    """Ctrl-C lands after a run's record is written but before its row is added: the tables still hold
    every recorded run (the one a resumed sweep would reuse), none missing."""
    sweep_module = sys.modules["capacity.whatif.runner"]   # where the sweep adds its rows
    real, calls = sweep_module.row_of, []

    def interrupted_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:                  # the second finished run: its record is already on disk
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "row_of", interrupted_once)
    text = SMALL.replace("[2, 3, 4]", "[2, 3]").replace("[60/s, 90/s]", "[60/s]").split("  cases:")[0]
    text = text.replace("p95: 100ms", "p95: 1ms")                  # no point can meet it
    out = tmp_path / "o"
    with pytest.raises(SweepInterrupted) as caught:
        sweep(with_whatif(load_scenario(write_scenario(text)), replications=2), out, executor="serial")
    recorded = len(list(out.glob("runs/*/report.json")))
    assert recorded == 2 and caught.value.done == 2 and len(_rows(out)) == 2
    report_md = (out / "report.md").read_text()       # 2 of 4 runs: no verdict on a partial sweep
    assert "not finished" in report_md and "No point meets every SLO" not in report_md


# ---------------------------------------------------------------------------------------------- executors

def test_dask_local_cluster_gives_the_local_executors_results(tmp_path, uninterrupted):
    """The same runs on a real Dask cluster (two worker processes): the same rows and reports as in this
    process, and so as the local executor's (the resume test checks those against the same rows)."""
    distributed = pytest.importorskip("distributed")
    here, rows = uninterrupted
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = sweep(load_scenario(GROWTH, SHORT), tmp_path, executor="dask",
                        scheduler=cluster.scheduler_address)
    assert (on_dask.total, on_dask.reused) == (24, 0)
    assert on_dask.rows == rows
    for row in rows:
        a = json.loads((here / row["report"]).read_text())
        b = json.loads((tmp_path / row["report"]).read_text())
        assert {k: v for k, v in a.items() if k != "run"} == {k: v for k, v in b.items() if k != "run"}
