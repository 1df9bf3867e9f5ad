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


def test_an_interrupt_turned_into_another_error_still_ends_with_130(tmp_path, monkeypatch, capsys):
    """CPython turns a KeyboardInterrupt inside a class body's ``__set_name__`` (e.g. while matplotlib is
    imported lazily) into ``RuntimeError``: seen as a traceback and exit 1 after a real SIGINT. Once a
    signal has arrived, any error is its consequence: exit 130, one line, nothing written."""
    import capacity.pipeline

    def run(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)             # the signal arrives (recorded) ...
        except KeyboardInterrupt as exc:                  # ... and surfaces as another error
            raise RuntimeError("Error calling __set_name__") from exc

    monkeypatch.setattr(capacity.pipeline, "run", run)
    out = tmp_path / "run"
    assert main(["run", SEED, "-o", str(out), *SHORT]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert not out.exists()


def test_an_error_without_a_signal_is_not_an_interrupt(tmp_path, monkeypatch):
    import capacity.pipeline

    def run(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(capacity.pipeline, "run", run)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["run", SEED, "-o", str(tmp_path / "run"), *SHORT])


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
    """``python -m capacity run SEED -o OUT`` (seed 2) in a child process."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "capacity", "run", SEED, "-o", str(out), *SHORT,
                             "--set", "seed=2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_handlers(proc: subprocess.Popen) -> None:
    """Wait until the child has installed its handlers (before that, Python itself starts up and imports:
    its own default applies, see `capacity.interrupts`)."""
    deadline = time.monotonic() + 60
    while not _handlers_installed(proc.pid):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the CLI never installed its signal handlers"
        time.sleep(0.001)


def _comparable(folder: Path) -> dict[str, bytes]:
    """The files of a report that two runs of one scenario and seed give identically (report.json less
    its run-time ``run`` section; report.html carries timings)."""
    import json

    out = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "report.html"}
    report = json.loads(out.pop("report.json"))
    report.pop("run")
    out["report.json"] = json.dumps(report, sort_keys=True).encode()
    return out


def _wait_for_staging(proc: subprocess.Popen, target: Path) -> None:
    """Wait until the child starts writing the new set (its temporary folder beside ``target`` appears)."""
    deadline = time.monotonic() + 120
    prefix = f".{target.name}.capacity-new-"
    while not any(p.name.startswith(prefix) for p in target.parent.iterdir()):
        if proc.poll() is not None or time.monotonic() > deadline:
            return
        time.sleep(0.0005)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_sigint_or_sigterm_at_any_moment_of_a_run_ends_with_130_or_a_complete_report(tmp_path):
    """Signals at many moments of a real run (``python -m capacity run``), from just after the CLI is up
    to the moment it writes the new report: every outcome is either exit 130 with one line and the
    previous report untouched, or a complete new report (exit 0, or 130 when the signal came after the
    swap); never a traceback, never a mix, no temporary left."""
    old, new = tmp_path / "old", tmp_path / "new"
    assert main(["run", SEED, "-o", str(old), *SHORT, "--set", "seed=1"]) == 0
    assert main(["run", SEED, "-o", str(new), *SHORT, "--set", "seed=2"]) == 0
    expected = {"old": _comparable(old), "new": _comparable(new)}

    # (signal, when): "up" = as soon as the handlers are installed, a number = seconds after that,
    # "writing" = when the new set's temporary folder appears, "writing+" = 5 ms later
    moments = [(signal.SIGINT, "up"), (signal.SIGTERM, "up"), (signal.SIGINT, 0.3), (signal.SIGINT, 1.0),
               (signal.SIGINT, "writing"), (signal.SIGINT, "writing+"), (signal.SIGTERM, "writing")]
    outcomes = []
    for k, (signum, when) in enumerate(moments):
        target = tmp_path / f"try{k}"
        shutil.copytree(old, target)
        proc = _start(target)
        _wait_for_handlers(proc)
        if isinstance(when, float):
            time.sleep(when)
        elif when.startswith("writing"):
            _wait_for_staging(proc, target)
            time.sleep(0.005 if when == "writing+" else 0)
        if proc.poll() is None:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
        where = f"{signal.Signals(signum).name} at {when}"
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
        outcomes.append((when, proc.returncode, state[0]))
    assert [o for o in outcomes if o[0] == "up"] == [("up", 130, "old")] * 2, outcomes
