"""Sweeps under hostile input and faults (issue 12): run keys that hash the files a run reads, one seed
column, workers that die with a killed sweep, SIGTERM as Ctrl-C, refused grids, workers, schedulers and
output folders, damaged run records, write failures, and SLOs without data that never pass."""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capacity import load_scenario, sweep
from capacity.cli import main
from capacity.whatif import SweepInterrupted

from .conftest import ROOT, SCENARIOS

GROWTH = SCENARIOS / "whatif-growth.yaml"
SHORT = ["workload.duration=20s", "workload.warmup=5s"]

TINY = """\
name: tiny
seed: 3
cluster:
  pools:
    - {name: std, count: 4, resources: {cpu: 4, memory: 8Gi}, cost: 0.25}
services:
  - name: api
    replicas: 1
    resources: {cpu: 1, memory: 1Gi}
    serving: {service_time: {mean: 10ms}}
workload:
  duration: 10s
  warmup: 2s
  classes:
    - {name: web, service: api, arrivals: {rate: 20/s}, slo: {p95: 200ms}}
"""


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["rows"]


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------------- item 2: input files

TRACE_SCENARIO = """\
name: traced
seed: 1
cluster:
  pools:
    - {name: std, count: 4, resources: {cpu: 4, memory: 8Gi}, cost: 0.25}
services:
  - name: llm
    replicas: 1
    resources: {cpu: 3, memory: 1Gi}
    serving: {service_time: {base: 10ms, per_input_token: 0ms, per_output_token: 0ms}}
workload:
  duration: 20s
  warmup: 2s
  classes:
    - {name: chat, service: llm, arrivals: {process: trace, file: t.csv}, slo: {p99: 50ms}}
scheduling: {routing: central}
whatif:
  grid: {services.llm.replicas: [1, 2]}
"""


def _trace(burst: int) -> str:
    """``burst`` requests at the same instant every second for 20 s (10 ms each: one replica serves a burst
    of 8 in 80 ms, two in 40 ms)."""
    rows = [f"{t},1,1" for t in range(20) for _ in range(burst)]
    return "time,input_tokens,output_tokens\n" + "\n".join(rows) + "\n"


def test_an_edited_trace_reruns_its_runs_and_moves_the_star(tmp_path):
    """The run key hashes the trace's bytes: after the trace is edited a resumed sweep runs again (it
    used to reuse the old runs and still star a point whose SLO a fresh run misses)."""
    (tmp_path / "t.csv").write_text(_trace(1))
    path = tmp_path / "s.yaml"
    path.write_text(TRACE_SCENARIO)
    out = tmp_path / "o"
    first = sweep(path, out, executor="serial")
    assert first.cheapest == "p01" and all(r["slo_met"] for r in first.rows)
    record = json.loads((out / first.rows[0]["report"]).read_text())
    digest = hashlib.sha256((tmp_path / "t.csv").read_bytes()).hexdigest()
    assert record["provenance"]["inputs"] == [{"path": "t.csv", "sha256": digest}]

    (tmp_path / "t.csv").write_text(_trace(8))              # same name, same scenario, other requests
    again = sweep(path, out, executor="serial")
    assert again.reused == 0
    assert {r["key"] for r in again.rows}.isdisjoint({r["key"] for r in first.rows})
    assert [r["slo_met"] for r in again.rows] == [False, True]
    assert again.cheapest == "p02"
    fresh = sweep(path, tmp_path / "fresh", executor="serial")
    assert again.rows == fresh.rows
    assert "| ★ | p02 |" in (out / "report.md").read_text()


def test_input_files_are_the_resolved_trace_paths_in_scenario_order(tmp_path):
    (tmp_path / "data").mkdir()
    for name in ("a.csv", "data/b.csv"):
        (tmp_path / name).write_text(_trace(1))
    text = TRACE_SCENARIO.replace(
        "    - {name: chat, service: llm, arrivals: {process: trace, file: t.csv}, slo: {p99: 50ms}}",
        "    - {name: b, service: llm, arrivals: {process: trace, file: ./data/b.csv}}\n"
        "    - {name: syn, service: llm, arrivals: {rate: 1/s},\n"
        "       tokens: {input: {mean: 1}, output: {mean: 1}}}\n"
        "    - {name: a, service: llm, arrivals: {process: trace, file: a.csv}}\n"
        "    - {name: b2, service: llm, arrivals: {process: trace, file: data/b.csv}}")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    scenario = load_scenario(path)
    assert scenario.input_files() == [(tmp_path / "data" / "b.csv").resolve(), (tmp_path / "a.csv").resolve()]
    assert load_scenario(GROWTH).input_files() == []


def test_a_record_whose_inputs_differ_is_run_again_with_a_note(tmp_path, capsys):
    (tmp_path / "t.csv").write_text(_trace(1))
    path = tmp_path / "s.yaml"
    path.write_text(TRACE_SCENARIO)
    out = tmp_path / "o"
    first = sweep(path, out, executor="serial")
    record_path = out / first.rows[0]["report"]
    record = json.loads(record_path.read_text())
    record["provenance"]["inputs"][0]["sha256"] = "0" * 64
    record_path.write_text(json.dumps(record))
    capsys.readouterr()
    again = sweep(path, out, executor="serial")
    assert again.reused == 1 and again.rows == first.rows
    (note,) = capsys.readouterr().err.strip().splitlines()
    assert note.startswith(f"note: {record_path}: ") and "running it again" in note
    assert json.loads(record_path.read_text())["provenance"]["inputs"][0]["sha256"] != "0" * 64


# ------------------------------------------------------------------------------------- item 6: seed

def test_a_swept_seed_is_one_column_and_replications_add_to_it(tmp_path, write_scenario, capsys):
    path = write_scenario(TINY)
    out = tmp_path / "o"
    assert main(["sweep", str(path), "-o", str(out), "--executor", "serial", "--grid", "seed=1,2,3",
                 "--replications", "2"]) == 0
    with (out / "results.csv").open() as fh:
        header = next(csv.reader(fh))
    assert header.count("seed") == 1
    columns = json.loads((out / "results.json").read_text())["columns"]
    assert len(columns) == len(set(columns)) and columns.count("seed") == 1
    rows = _rows(out)
    # replication k of the point whose seed is s uses the seed s + k
    assert [(r["point"], r["replication"], r["seed"]) for r in rows] == [
        ("p01", 0, 1), ("p01", 1, 2), ("p02", 0, 2), ("p02", 1, 3), ("p03", 0, 3), ("p03", 1, 4)]
    # runs of equal scenarios and seeds are one run: 4 distinct of 6
    assert len({r["key"] for r in rows}) == 4 and len(list(out.glob("runs/*/report.json"))) == 4
    assert rows[1]["web.p99_s"] == rows[2]["web.p99_s"]
    summary = json.loads((out / "summary.json").read_text())
    assert [p["seed"] for p in summary["points"]] == [1, 2, 3]
    assert summary["columns"].count("seed") == 1
    report_md = (out / "report.md").read_text()
    assert "seed of each point + 0–1" in report_md


# ------------------------------------------------------------------------------------- item 15: kills

def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _still_running(pids: list[int], guard_s: float = 60.0) -> list[str]:
    """The command lines of the processes of ``pids`` still running once they all ended or ``guard_s``
    passed (only a hang guard: a process that has closed its files may take a moment to exit)."""
    deadline = time.monotonic() + guard_s
    while (running := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [f"{p}: {Path(f'/proc/{p}/cmdline').read_bytes()[:200]!r}" for p in running if _alive(p)]


def _read_to_eof(proc: subprocess.Popen, guard_s: float = 60.0) -> tuple[bytes, bytes]:
    """Read the child's stdout and stderr until both reach EOF (``guard_s`` is only a hang guard)."""
    data: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    still_open = set(data)
    deadline = time.monotonic() + guard_s
    while still_open and time.monotonic() < deadline:
        ready, _, _ = select.select(sorted(still_open), [], [], 1.0)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                data[fd].append(chunk)
            else:
                still_open.discard(fd)
    assert not still_open, "a process of the killed sweep still holds its stdout or stderr"
    return b"".join(data[proc.stdout.fileno()]), b"".join(data[proc.stderr.fileno()])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize(("how", "executor"), [("SIGKILL", "local"), ("SIGTERM", "local"),
                                               ("SIGKILL", "dask"), ("SIGTERM", "dask")])
def test_a_killed_sweep_leaves_no_process_and_no_open_pipe(tmp_path, how, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "capacity", "sweep", str(GROWTH), "-o", str(out), "--workers", "2",
         "--executor", executor, *(x for s in SHORT for x in ("--set", s))],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        while len(list((out / "runs").glob("*/report.json"))) < 2:
            assert proc.poll() is None, proc.communicate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)
        below = _descendants(proc.pid)
        assert below, "the sweep has worker processes"
        os.kill(proc.pid, getattr(signal, how))           # the main process only, not its group
        _, stderr = _read_to_eof(proc)
        code = proc.wait(timeout=60)
        assert _still_running(below) == []
        if how == "SIGTERM":                               # as Ctrl-C: finished runs kept, exit 130
            err = stderr.decode()
            assert code == 130, err
            done = len(_rows(out))
            assert done >= 2 and f"interrupted: {done} of 24 runs done, kept in {out}" in err
            assert "Traceback" not in err
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_sigterm_stops_an_in_process_sweep_like_ctrl_c(tmp_path, write_scenario, monkeypatch):
    """SIGTERM during `sweep` (serial, in this process) raises `SweepInterrupted` with the finished runs
    kept, and the previous SIGTERM handler is back afterwards."""
    sweep_module = sys.modules["capacity.whatif.executors"]   # where the serial executor runs
    real, calls = sweep_module.run_one, []

    def terminated_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "run_one", terminated_on_second)
    before = signal.getsignal(signal.SIGTERM)
    path = write_scenario(TINY)
    with pytest.raises(SweepInterrupted) as caught:
        sweep(path, tmp_path / "o", executor="serial", grid={"services.api.replicas": [1, 2, 3]})
    assert caught.value.done == 1 and len(_rows(tmp_path / "o")) == 1
    assert signal.getsignal(signal.SIGTERM) is before


# ------------------------------------------------------------------------------------- item 18

@pytest.mark.parametrize(("grid", "what"), [
    ("services.api.replicas=[2,2]", "value 2: listed twice"),
    ("workload.duration=[1m,60s]", "value '60s': the same as '1m'"),
])
def test_a_grid_with_duplicate_values_is_refused_before_any_run(write_scenario, tmp_path, capsys, grid, what):
    path = write_scenario(TINY)
    assert main(["sweep", str(path), "-o", str(tmp_path / "o"), "--executor", "serial", "--grid", grid]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"whatif.grid.{grid.split('=')[0]}: {what}" in line
    assert not (tmp_path / "o").exists()


def test_a_whatif_grid_in_the_file_with_duplicates_is_refused_at_load(write_scenario):
    from capacity import ScenarioError

    path = write_scenario(TINY + "whatif:\n  grid:\n    services.api.replicas: [1, 3, 1]\n")
    with pytest.raises(ScenarioError, match=r":18: whatif\.grid\.services\.api\.replicas: value 1: listed "
                                            r"twice"):
        load_scenario(path)


@pytest.mark.parametrize("workers", ["0", "-3", "100000"])
def test_bad_worker_counts_exit_2_at_once(write_scenario, tmp_path, capsys, workers):
    path = write_scenario(TINY)
    assert main(["sweep", str(path), "-o", str(tmp_path / "o"), "--workers", workers]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"--workers {workers}: " in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("address", "what"), [
    ("nonsense", "not a scheduler address"),
    ("tcp://", "not a scheduler address"),
    ("tcp://127.0.0.1:notaport", "not a scheduler address"),
    ("gopher://127.0.0.1:8786", "not a scheduler address"),
    ("tcp://127.0.0.1:{port}", "cannot connect"),
])
def test_a_bad_or_unreachable_scheduler_is_one_line_and_exit_2(write_scenario, tmp_path, capsys, address,
                                                                 what):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:                       # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = address.format(port=port)
    path = write_scenario(TINY)
    assert main(["sweep", str(path), "-o", str(tmp_path / "o"), "--executor", "dask",
                 "--scheduler", address]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: --scheduler {address!r}: {what}")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("damage", "why"), [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: "[1, 2, 3]", "not a run record"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "placement"}),
     "placement"),
    (lambda text: json.dumps({**json.loads(text), "placement": {"status": "optimal"}}), "placement"),
    (lambda text: "", "not valid JSON"),
])
def test_a_damaged_run_record_is_run_again_with_one_note(write_scenario, tmp_path, capsys, damage, why):
    path = write_scenario(TINY)
    out = tmp_path / "o"
    first = sweep(path, out, executor="serial", grid={"services.api.replicas": [1, 2]})
    record = out / first.rows[1]["report"]
    record.write_text(damage(record.read_text()))
    capsys.readouterr()
    assert main(["sweep", str(path), "-o", str(out), "--executor", "serial",
                 "--grid", "services.api.replicas=1,2"]) == 0
    captured = capsys.readouterr()
    (note,) = captured.err.strip().splitlines()
    assert note.startswith(f"note: {record}: ") and why in note and note.endswith("running it again")
    assert "(2 done, 1 reused from an earlier run)" in captured.out
    assert _rows(out) == first.rows
    json.loads(record.read_text())                   # whole again


# ------------------------------------------------------------------------------------- item 22: output paths

def test_sweep_refuses_a_folder_that_holds_a_run_report(write_scenario, tmp_path, capsys):
    path = write_scenario(TINY)
    run_dir = tmp_path / "run"
    assert main(["run", str(path), "-o", str(run_dir)]) == 0
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    capsys.readouterr()
    assert main(["sweep", str(path), "-o", str(run_dir), "--executor", "serial"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {run_dir}: not a sweep folder")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before


def test_sweep_reuses_its_own_folder_and_an_empty_one(write_scenario, tmp_path, capsys):
    path = write_scenario(TINY)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["sweep", str(path), "-o", str(empty), "--executor", "serial"]) == 0
    assert main(["sweep", str(path), "-o", str(empty), "--executor", "serial"]) == 0
    assert "(1 done, 1 reused from an earlier run)" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_sweep_output_that_is_a_file_or_below_one_exits_2(write_scenario, tmp_path, capsys, where):
    (tmp_path / "file").write_text("keep me")
    target = tmp_path / where
    assert main(["sweep", str(write_scenario(TINY)), "-o", str(target), "--executor", "serial"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {target}: ") and "file" in line.removeprefix(f"error: {target}: ")
    assert (tmp_path / "file").read_text() == "keep me"


def test_a_full_disk_while_writing_tables_is_one_line_and_exit_5(write_scenario, tmp_path, capsys,
                                                                monkeypatch):
    from capacity.report import output

    real = output.write_bytes

    def full(path, data):
        if Path(path).name == "summary.csv":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(output, "write_bytes", full)
    out = tmp_path / "o"
    assert main(["sweep", str(write_scenario(TINY)), "-o", str(out), "--executor", "serial"]) == 5
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"error: {out / 'summary.csv'}: {os.strerror(errno.ENOSPC)}"


# ------------------------------------------------------------------------------------- item 3: no data

NO_DATA = TINY.replace("    - {name: web, service: api, arrivals: {rate: 20/s}, slo: {p95: 200ms}}", """\
    - {name: web, service: api, arrivals: {rate: 20/s}, slo: {p95: 200ms}}
    - {name: rare, service: api, arrivals: {process: deterministic, rate: 0.01/s}, slo: {p99: 1s}}""")


def test_a_class_with_an_slo_and_no_measured_request_never_passes(write_scenario, tmp_path, capsys):
    """``rare`` arrives at 0 s and next at 100 s: no request after the 2 s warm-up, so its SLO has no data;
    ``web`` meets its SLO. No point may be starred, and every table says so."""
    path = write_scenario(NO_DATA)
    out = tmp_path / "o"
    assert main(["sweep", str(path), "-o", str(out), "--executor", "serial",
                 "--grid", "services.api.replicas=1,2"]) == 0
    stdout = capsys.readouterr().out
    rows = _rows(out)
    assert [r["web.slo_met"] for r in rows] == [True, True]
    assert [r["rare.slo_met"] for r in rows] == [False, False]
    assert [r["rare.slo_status"] for r in rows] == ["no data", "no data"]
    assert [r["slo_met"] for r in rows] == [False, False]
    with (out / "results.csv").open() as fh:
        assert [r["slo_met"] for r in csv.DictReader(fh)] == ["false", "false"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cheapest_meeting_slos"] is None
    assert [(p["slo_met"], p["slo_status"]) for p in summary["points"]] == [(False, "no data")] * 2
    report_md = (out / "report.md").read_text()
    assert "★" not in report_md and report_md.count("| no data |") == 2
    assert "**No point meets every SLO.**" in report_md
    assert stdout.count("no data (rare)") == 2 and "*p0" not in stdout
    assert "no point meets every SLO" in stdout
