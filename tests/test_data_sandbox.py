"""The data sandbox (`capacity.sandbox`): where trace files may come from is the user's decision
(``--data-dir DIR``, ``CAPACITY_DATA_DIRS``), never the scenario's; errors never echo a data file's content.

The first tests reproduce issue 12, item 7: a scenario that named ``/proc/self/environ`` (absolutely, or
after widening its own sandbox with ``limits.data_dirs: ["/"]``) printed the environment in its error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.sandbox import DATA_DIRS_ENV
from capacity.scenario import load_scenario, scenario_from_dict
from tests.conftest import ROOT

SECRET = "hunter2-do-not-print-7f3a9c"

SCENARIO = """\
name: sandbox
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


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``capacity ARGS`` in a child process (its own environment), output captured."""
    child_env = {k: v for k, v in os.environ.items() if k != DATA_DIRS_ENV}
    child_env.update({"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", **(env or {})})
    return subprocess.run([sys.executable, "-m", "capacity.cli", *args], capture_output=True, text=True,
                          env=child_env, timeout=120, check=False)


def _write(folder: Path, file: str, extra: str = "", name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(SCENARIO.format(file=file, extra=extra), encoding="utf-8")
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """``scen/`` (the scenario's folder, with ``data/t.csv``) and ``elsewhere/t.csv`` beside it."""
    (tmp_path / "scen" / "data").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    for folder in ("scen/data", "elsewhere"):
        (tmp_path / folder / "t.csv").write_text(TRACE, encoding="utf-8")
    return tmp_path


# --------------------------------------------------------------------------- the reproduction


@pytest.mark.parametrize("command", ["validate", "simulate", "run"])
@pytest.mark.parametrize("file, extra", [
    ("/proc/self/environ", ""),                                    # absolute: no longer "explicit"
    ("/proc/self/environ", "limits: {data_dirs: ['/']}\n"),        # the scenario widening its sandbox
    ("../../../../../../../../../proc/self/environ", ""),
])
def test_a_scenario_cannot_read_the_environment(tmp_path, command, file, extra):
    path = _write(tmp_path, file, extra)
    output = ["-o", str(tmp_path / "out")] if command == "run" else []
    done = _cli(command, str(path), *output, env={"MY_API_TOKEN": SECRET})
    assert done.returncode == 2, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
    assert ("--data-dir" in done.stderr) and (DATA_DIRS_ENV in done.stderr)


def test_an_allowed_file_that_is_no_trace_is_refused_without_echoing_it(tmp_path):
    """Even when the user allows /proc/self, the error names the file, the line and what was expected."""
    path = _write(tmp_path, "/proc/self/environ")
    done = _cli("simulate", str(path), "--data-dir", "/proc/self", env={"MY_API_TOKEN": SECRET})
    assert done.returncode == 2, done.stderr
    assert SECRET not in done.stdout + done.stderr and "MY_API_TOKEN" not in done.stderr
    assert done.stderr.count("\n") == 1 and "environ:1:" in done.stderr, done.stderr


# --------------------------------------------------------------------------- limits.data_dirs is gone


def test_data_dirs_in_a_scenario_is_refused_in_one_clear_line(layout, capsys):
    path = _write(layout / "scen", "data/t.csv", "limits: {data_dirs: [../elsewhere]}\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert exc.value.path == "limits.data_dirs" and exc.value.line == 12
    assert "--data-dir" in exc.value.message and DATA_DIRS_ENV in exc.value.message
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "limits.data_dirs" in err
    with pytest.raises(ScenarioError, match="--data-dir"):
        load_scenario(_write(layout / "scen", "data/t.csv"), ["limits.data_dirs=[/]"])


# --------------------------------------------------------------------------- the allowed folders


def test_the_scenario_folder_tree_is_allowed(layout):
    scenario = load_scenario(_write(layout / "scen", "data/t.csv"))
    assert scenario.data_dirs == ()
    load_scenario(_write(layout / "scen", str(layout / "scen" / "data" / "t.csv")))   # absolute, inside


@pytest.mark.parametrize("file", ["../elsewhere/t.csv", "data/../../elsewhere/t.csv", "{abs}"])
def test_a_trace_outside_is_refused_unless_the_user_allows_its_folder(layout, file, capsys, monkeypatch):
    monkeypatch.delenv(DATA_DIRS_ENV, raising=False)
    outside = layout / "elsewhere"
    path = _write(layout / "scen", file.format(abs=outside / "t.csv"))
    with pytest.raises(ScenarioError, match="outside the folders") as exc:
        load_scenario(path)
    assert exc.value.path == "workload.classes.chat.arrivals.file" and exc.value.line == 11
    assert main(["validate", str(path)]) == 2 and capsys.readouterr().err.count("\n") == 1
    # the user allows it: in Python, on the command line, in the environment
    scenario = load_scenario(path, data_dirs=[outside])
    assert scenario.data_dirs == (outside.resolve(),)
    assert main(["validate", str(path), "--data-dir", str(outside)]) == 0
    monkeypatch.setenv(DATA_DIRS_ENV, os.pathsep.join(["", str(layout / "nowhere"), str(outside)]))
    assert load_scenario(path).data_dirs == ((layout / "nowhere").resolve(), outside.resolve())
    assert main(["validate", str(path)]) == 0


def test_data_dirs_do_not_change_the_digest(layout):
    path = _write(layout / "scen", "data/t.csv")
    assert load_scenario(path).digest() == load_scenario(path, data_dirs=[layout / "elsewhere"]).digest()


def test_a_relative_data_dir_is_relative_to_the_working_directory(layout, monkeypatch):
    monkeypatch.chdir(layout)
    path = _write(layout / "scen", "../elsewhere/t.csv")
    assert main(["validate", str(path), "--data-dir", "elsewhere"]) == 0


def test_a_symlink_cannot_lead_outside(layout):
    (layout / "scen" / "data" / "link.csv").symlink_to(layout / "elsewhere" / "t.csv")
    with pytest.raises(ScenarioError, match="outside the folders"):
        load_scenario(_write(layout / "scen", "data/link.csv"))
    load_scenario(_write(layout / "scen", "data/link.csv"), data_dirs=[layout / "elsewhere"])


def test_a_scenario_without_a_file_is_confined_to_the_working_directory(layout, monkeypatch):
    from capacity.scenario import parse_yaml

    data, _ = parse_yaml(SCENARIO.format(file=str(layout / "elsewhere" / "t.csv"), extra=""), "<dict>")
    monkeypatch.chdir(layout / "scen")
    with pytest.raises(ScenarioError, match="outside the folders"):
        scenario_from_dict(data)
    scenario_from_dict(data, data_dirs=[layout / "elsewhere"])
    monkeypatch.chdir(layout)
    scenario_from_dict(data)                                     # inside the working directory


# --------------------------------------------------------------------------- passed on to runs


def test_a_run_reads_only_from_the_allowed_folders(layout):
    """The pipeline checks again when it reads (a scenario changed after loading cannot escape)."""
    from capacity import pipeline

    path = _write(layout / "scen", "data/t.csv")
    scenario = load_scenario(path)
    assert pipeline.run(scenario).report["simulation"]["classes"]["chat"]["arrived"] == 3
    (layout / "scen" / "data" / "t.csv").unlink()
    (layout / "scen" / "data" / "t.csv").symlink_to(layout / "elsewhere" / "t.csv")
    with pytest.raises(ScenarioError, match="outside the folders"):
        pipeline.run(scenario)


@pytest.mark.parametrize("executor", ["serial", "local"])
def test_sweeps_pass_the_allowed_folders_to_their_runs(layout, executor, tmp_path):
    from capacity.whatif import sweep

    path = _write(layout / "scen", "../elsewhere/t.csv",
                  "whatif: {grid: {services.llm.replicas: [1, 2]}}\n")
    scenario = load_scenario(path, data_dirs=[layout / "elsewhere"])
    result = sweep(scenario, tmp_path / "out", executor=executor, workers=1)
    assert result.done == 2 and not result.errors
    assert main(["sweep", str(path), "-o", str(tmp_path / "cli"), "--executor", "serial",
                 "--data-dir", str(layout / "elsewhere")]) == 0


def test_size_passes_the_allowed_folders_on(layout, tmp_path, capsys):
    path = _write(layout / "scen", "../elsewhere/t.csv")
    text = path.read_text(encoding="utf-8").replace("arrivals: {process: trace, file: ../elsewhere/t.csv}",
                                                    "arrivals: {process: trace, file: ../elsewhere/t.csv}, "
                                                    "slo: {p99: 1s}")
    path.write_text(text, encoding="utf-8")
    assert main(["size", str(path), "--replications", "1", "--data-dir", str(layout / "elsewhere"),
                 "--json", str(tmp_path / "size.json")]) == 0, capsys.readouterr().err
