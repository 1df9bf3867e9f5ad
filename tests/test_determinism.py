"""Same scenario and seed, same report: byte for byte apart from the run-time ``run`` section.

Checked across processes with different string-hash seeds (``PYTHONHASHSEED``: set and dict-of-set orders
differ between them, so any report content that depends on set iteration order shows up), for every
shipped scenario (shortened with ``--set``), through the CLI's own ``report.json`` file, and across the
sweep executors (``serial`` in this process against ``local`` worker processes; the Dask executor is
compared with ``serial`` in tests/test_sweep.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from capacity.report.summary import strip_runtime
from capacity.report.writers import to_json
from capacity.scenario import load_scenario
from capacity.whatif import sweep

from .conftest import ROOT, SCENARIOS

SHORT = ["workload.duration=3m", "workload.warmup=30s"]

# Run in a child process: every shipped scenario, its report as `capacity run -o` writes it (report, plot
# series and input), without the run-time section, serialised as report.json is; print name and text.
CHILD = """
import json, sys
from pathlib import Path
from capacity import pipeline
from capacity.report.writers import to_json
from capacity.scenario import load_scenario
out = {}
for path in sys.argv[2:]:
    result = pipeline.run(load_scenario(path, json.loads(sys.argv[1])))
    out[Path(path).stem] = to_json(result.full_report().without_runtime())
print(json.dumps(out))
"""


def _shipped() -> list[str]:
    return [str(p) for p in sorted(SCENARIOS.glob("*.yaml"))]   # they run from the repository alone


def _start(args: list[str], hash_seed: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> str:
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    return stdout


def test_every_shipped_scenario_gives_the_same_report_bytes_across_processes_and_hash_seeds():
    args = ["-c", CHILD, json.dumps(SHORT), *_shipped()]
    procs = [_start(args, "0"), _start(args, "4242")]          # two processes at once
    first, second = (json.loads(_finish(p)) for p in procs)
    assert set(first) == {p.rsplit("/", 1)[-1].removesuffix(".yaml") for p in _shipped()}
    differ = [name for name in first if first[name] != second[name]]
    assert differ == [], f"reports differ between PYTHONHASHSEED=0 and 4242: {differ}"
    for name, text in first.items():                  # and they are real reports
        report = json.loads(text)
        assert report["placement"]["nodes_used"] > 0, name
        assert "run" not in report


def test_cli_report_json_files_are_identical_apart_from_run(tmp_path):
    """Two `capacity run -o` processes: the files themselves, which are the canonical serialisation of
    their content, so equal content apart from ``run`` means equal bytes apart from ``run``."""
    sets = [a for s in SHORT for a in ("--set", s)]
    procs = [_start(["-m", "capacity", "run", str(SCENARIOS / "multi-tenant-fair.yaml"), "-o",
                     str(tmp_path / d), *sets], seed) for d, seed in (("a", "1"), ("b", "2"))]
    for p in procs:
        _finish(p)
    a, b = ((tmp_path / d / "report.json").read_text(encoding="utf-8") for d in ("a", "b"))
    ra, rb = json.loads(a), json.loads(b)
    assert a == to_json(ra) and b == to_json(rb)      # the file is exactly its content, serialised
    assert "run" in ra and "started_at" in ra["run"]  # the run-time fields exist and are set aside
    assert to_json(strip_runtime(ra)) == to_json(strip_runtime(rb))


@pytest.mark.parametrize("executor", ["local"])
def test_sweep_executors_write_the_same_per_point_reports(tmp_path, executor):
    scenario = load_scenario(SCENARIOS / "whatif-growth.yaml",
                             ["workload.duration=40s", "workload.warmup=5s"])
    serial = sweep(scenario, tmp_path / "serial", executor="serial", replications=1, progress=False)
    other = sweep(scenario, tmp_path / executor, executor=executor, workers=2, replications=1, progress=False)
    assert other.rows == serial.rows
    assert len(serial.rows) > 1
    for row in serial.rows:
        a = json.loads((tmp_path / "serial" / row["report"]).read_text(encoding="utf-8"))
        b = json.loads((tmp_path / executor / row["report"]).read_text(encoding="utf-8"))
        assert to_json(strip_runtime(a)) == to_json(strip_runtime(b)), row["report"]
