"""Safety: trace files only from the scenario's folder tree or ``limits.data_dirs``; a failing run leaves
no half-written report; scenario YAML is data only (python tags: `tests/test_fuzz_scenario.py`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.scenario import load_scenario
from tests.conftest import SCENARIOS, SHARED_DATA

SCENARIO = """\
name: safe
cluster: {{pools: [{{name: p, count: 2, resources: {{cpu: 8, memory: 16Gi}}}}]}}
services:
  - name: llm
    replicas: 1
    resources: {{cpu: 1, memory: 1Gi}}
    serving: {{service_time: {{base: 1ms, per_input_token: 0.01ms, per_output_token: 0.1ms}}}}
workload:
  duration: 5s
  classes:
    - {{name: chat, service: llm, arrivals: {{process: trace, file: {file}}}}}
{extra}"""
TRACE = "time,input_tokens,output_tokens\n0,5,5\n1,5,5\n2,5,5\n"


@pytest.fixture
def layout(tmp_path):
    (tmp_path / "scen" / "data").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    for folder in ("scen/data", "elsewhere"):
        (tmp_path / folder / "t.csv").write_text(TRACE)
    return tmp_path


def _write(layout: Path, file: str, extra: str = "") -> Path:
    path = layout / "scen" / "s.yaml"
    path.write_text(SCENARIO.format(file=file, extra=extra))
    return path


def test_a_trace_inside_the_scenario_folder_or_named_absolutely_loads(layout):
    load_scenario(_write(layout, "data/t.csv"))
    load_scenario(_write(layout, str(layout / "elsewhere" / "t.csv")))  # explicit: asked for


@pytest.mark.parametrize("file", ["../elsewhere/t.csv", "data/../../elsewhere/t.csv"])
def test_a_trace_outside_is_refused_unless_listed(layout, file, capsys):
    path = _write(layout, file.format(abs=layout))
    with pytest.raises(ScenarioError, match="outside the scenario's folder") as exc:
        load_scenario(path)
    assert exc.value.path == "workload.classes.chat.arrivals.file" and exc.value.line == 11
    assert main(["validate", str(path)]) == 2 and capsys.readouterr().err.count("\n") == 1
    load_scenario(_write(layout, file.format(abs=layout), "limits: {data_dirs: [../elsewhere]}\n"))
    load_scenario(path, [f"limits.data_dirs=[{layout / 'elsewhere'}]"])
    load_scenario(path, ["limits.data_dirs=[..]"])


def test_a_symlink_cannot_lead_outside(layout):
    (layout / "scen" / "data" / "link.csv").symlink_to(layout / "elsewhere" / "t.csv")
    with pytest.raises(ScenarioError, match="outside the scenario's folder"):
        load_scenario(_write(layout, "data/link.csv"))


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"needs the reference data in {SHARED_DATA}")
def test_the_shipped_trace_scenario_lists_its_data_folder():
    scenario = load_scenario(SCENARIOS / "azure-trace-replay.yaml")
    assert scenario.limits.data_dirs == ["../../shared/data/traces"]
    with pytest.raises(ScenarioError, match="outside"):
        load_scenario(SCENARIOS / "azure-trace-replay.yaml", ["limits.data_dirs=[]"])


SMALL = """\
name: small
cluster: {pools: [{name: p, count: 2, resources: {cpu: 8, memory: 16Gi}}]}
services:
  - {name: web, replicas: 2, resources: {cpu: 1, memory: 1Gi}, serving: {service_time: {mean: 10ms}}}
workload:
  duration: 5s
  classes: [{name: c, service: web, arrivals: {process: poisson, rate: 20/s}}]
"""


def test_a_run_failing_while_plotting_writes_nothing(write_scenario, tmp_path, monkeypatch):
    from capacity.report import plots

    def boom(*args, **kwargs):
        raise RuntimeError("plot failed")

    out = tmp_path / "out"
    path = write_scenario(SMALL)
    monkeypatch.setattr(plots, "png_bytes", boom)
    with pytest.raises(RuntimeError, match="plot failed"):
        main(["run", str(path), "-o", str(out)])
    assert not out.exists() or list(out.iterdir()) == []
    monkeypatch.undo()
    assert main(["run", str(path), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(plots, "png_bytes", boom)
    with pytest.raises(RuntimeError):
        main(["run", str(path), "-o", str(out), "--set", "seed=9"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous report stays intact


def test_writes_replace_a_symlink_instead_of_following_it(tmp_path):
    from capacity.report.writers import write_text

    target = tmp_path / "outside.txt"
    target.write_text("keep")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.md").symlink_to(target)
    write_text(tmp_path / "out" / "report.md", "new")
    assert target.read_text() == "keep"
    assert not os.path.islink(tmp_path / "out" / "report.md")
    assert (tmp_path / "out" / "report.md").read_text() == "new"
