"""Ctrl-C (SIGINT) and SIGTERM always end a command with exit 130, and never after a report was written
as if nothing had happened, even when Python swallows the KeyboardInterrupt ("Exception ignored in ...")."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capacity.cli import main

from .conftest import ROOT, SCENARIOS

SEED = str(SCENARIOS / "seed-example.yaml")
SHORT = ["--set", "workload.duration=10s", "--set", "workload.warmup=2s"]


class SwallowedInterrupt:
    """An object whose destructor receives SIGINT: the KeyboardInterrupt raised inside ``__del__`` cannot
    propagate, so Python prints "Exception ignored" and carries on (what a library destructor or a
    callback from C code does when Ctrl-C lands in it)."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def test_an_interrupt_swallowed_during_the_run_ends_with_130_and_writes_nothing(tmp_path, monkeypatch,
                                                                                capsys):
    import capacity.pipeline

    original = capacity.pipeline.run

    def run(*args, **kwargs):
        result = original(*args, **kwargs)
        SwallowedInterrupt()                   # destroyed at once: the interrupt is swallowed here
        return result

    monkeypatch.setattr(capacity.pipeline, "run", run)
    out = tmp_path / "run"
    assert main(["run", SEED, "-o", str(out), *SHORT]) == 130
    captured = capsys.readouterr()
    assert captured.err == "interrupted\n"
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_interrupt_swallowed_while_drawing_leaves_the_previous_report(tmp_path, monkeypatch, capsys):
    from capacity.report import html, plots

    from .test_report_folder import quick_pngs

    monkeypatch.setattr(plots, "render_pngs", quick_pngs)
    out = tmp_path / "run"
    assert main(["run", SEED, "-o", str(out), *SHORT]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    original = html.render_html

    def render_html(*args, **kwargs):
        SwallowedInterrupt()
        return original(*args, **kwargs)

    monkeypatch.setattr(html, "render_html", render_html)
    capsys.readouterr()
    assert main(["run", SEED, "-o", str(out), *SHORT, "--set", "seed=5"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_main_restores_the_handlers_it_replaced():
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert main(["validate", SEED]) == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == previous


# ---------------------------------------------------------------------------------------------- real signals

def _handlers_installed(pid: int) -> bool:
    """Whether the process catches SIGTERM yet (Linux /proc): the CLI's handlers are in place."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def _start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "capacity", "run", SEED, "-o", str(out), *SHORT,
                             "--set", "seed=2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_handlers(proc: subprocess.Popen) -> float:
    """Wait until the child has installed its handlers (before that, Python itself starts up and imports:
    its own default applies); returns the time then."""
    deadline = time.monotonic() + 60
    while not _handlers_installed(proc.pid):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the CLI never installed its signal handlers"
        time.sleep(0.002)
    return time.monotonic()


def _comparable(folder: Path) -> dict[str, bytes]:
    """The files of a report that two runs of one scenario and seed give identically (report.json less
    its run-time ``run`` section; report.html carries timings)."""
    import json

    out = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "report.html"}
    report = json.loads(out.pop("report.json"))
    report.pop("run")
    out["report.json"] = json.dumps(report, sort_keys=True).encode()
    return out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_sigint_or_sigterm_at_any_moment_of_a_run_ends_with_130_or_a_complete_report(tmp_path):
    """Signals at many moments of a real run: every outcome is either exit 130 with one line and the
    previous report untouched, or exit 0 with the new report complete; never a traceback, never a mix."""
    old = tmp_path / "old"
    assert main(["run", SEED, "-o", str(old), *SHORT, "--set", "seed=1"]) == 0
    new = tmp_path / "new"
    proc = _start(new)
    started = _wait_for_handlers(proc)
    out, err = proc.communicate(timeout=120)
    span = time.monotonic() - started
    assert proc.returncode == 0 and err == "", err
    expected = {"old": _comparable(old), "new": _comparable(new)}

    outcomes = []
    # denser towards the end, where the files are written and swapped in
    moments = [(signal.SIGINT, f) for f in (0.05, 0.4, 0.75, 0.88, 0.95, 0.99)]
    moments += [(signal.SIGTERM, f) for f in (0.5, 0.9)]
    for signum, fraction in moments:
        target = tmp_path / f"try-{signum}-{fraction:.3f}"
        shutil.copytree(old, target)
        proc = _start(target)
        _wait_for_handlers(proc)
        time.sleep(fraction * span)
        if proc.poll() is None:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
        where = f"{signal.Signals(signum).name} at {fraction:.2f} of the run"
        assert "Traceback" not in err and "Exception ignored" not in err, (where, err)
        assert proc.returncode in (0, 130), (where, proc.returncode, err)
        if proc.returncode == 130:
            assert err == "interrupted\n", (where, err)
        else:
            assert err == "" and "wrote " in out, (where, err)
        state = [name for name, files in expected.items() if _comparable(target) == files]
        assert state in (["old"], ["new"]), f"{where}: the folder holds neither report whole"
        if proc.returncode == 0:
            assert state == ["new"], where
        leftovers = [p.name for p in tmp_path.iterdir() if ".capacity-" in p.name]
        assert leftovers == [], (where, leftovers)
        outcomes.append(proc.returncode)
    assert outcomes.count(130) >= len(moments) // 2, outcomes       # most signals landed mid-run
