"""``capacity ... | head -1``: when the reader of standard output goes away, every command stops quietly
with exit 141 (128 + SIGPIPE, as a Unix filter), no traceback, and the files it wrote are complete."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SCENARIOS

SEED = str(SCENARIOS / "seed-example.yaml")
SHOP = Path(__file__).parent / "k8s" / "data" / "shop"
SHORT = ["--set", "workload.duration=10s", "--set", "workload.warmup=2s"]


def with_closed_stdout(*args):
    """Run ``capacity ARGS`` with the reader of its standard output gone before it writes anything (what
    ``| head -1`` becomes once head has its line); returns (exit code, stderr)."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "capacity", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    try:
        err = proc.stderr.read()
        return proc.wait(timeout=120), err
    finally:
        proc.kill()


def assert_quiet(err):
    for noise in ("Traceback", "BrokenPipeError", "Exception ignored", "error:"):
        assert noise not in err, err


def test_import_k8s_into_a_closed_pipe_stops_quietly():
    code, err = with_closed_stdout("import-k8s", SHOP, "--nodes", SHOP.parent / "nodes.json")
    assert code == 141
    assert_quiet(err)


def test_sweep_into_a_closed_pipe_keeps_its_results(tmp_path):
    out = tmp_path / "sweep"
    code, err = with_closed_stdout("sweep", SEED, "-o", out, "--grid", "services.A.replicas=1,2",
                                   "--executor", "serial", "--no-progress", *SHORT)
    assert code == 141
    assert_quiet(err)
    assert len((out / "results.csv").read_text().splitlines()) == 3          # header and both runs


def test_run_into_a_closed_pipe_writes_its_whole_report_first(tmp_path):
    out = tmp_path / "run"
    code, err = with_closed_stdout("run", SEED, "-o", out, *SHORT)
    assert code == 141
    assert_quiet(err)
    assert json.loads((out / "report.json").read_text())["scenario"] == "seed-example"
    assert (out / "report.html").is_file() and (out / "report.md").is_file()


@pytest.mark.parametrize("args", [["validate", SEED], ["plan", SEED], ["--help"]],
                         ids=["validate", "plan", "help"])
def test_other_commands_into_a_closed_pipe_stop_quietly(args):
    code, err = with_closed_stdout(*args)
    assert code == 141 or (args == ["--help"] and code == 0)   # argparse drops a help it cannot print
    assert_quiet(err)
