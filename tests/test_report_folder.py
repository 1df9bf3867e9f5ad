"""A report folder always holds one run's files: the whole set is written beside it and swapped in.

A full disk, an interrupt or a kill at any point leaves the previous report whole (never report.md of one
run beside the plots of another), temporaries are cleaned up, and a folder that holds anything else is
refused rather than emptied.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from .cli_support import run_cli
from .conftest import ROOT, SCENARIOS

SEED = str(SCENARIOS / "seed-example.yaml")
SHORT = ["--set", "workload.duration=30s", "--set", "workload.warmup=5s"]


def quick_pngs(report):
    """Stand-in PNG bytes, one per plot the report has data for (drawing real plots takes seconds; these
    tests are about how the set is written, not what is drawn)."""
    from capacity.report.plots import available

    seed = report["provenance"]["seed"]
    return {name: f"{name} of seed {seed}\n".encode() * 100 for name in available(report)}


@pytest.fixture
def fast_plots(monkeypatch):
    from capacity.report import plots

    monkeypatch.setattr(plots, "render_pngs", quick_pngs)


def snapshot(folder):
    """Every file under ``folder`` (relative name → bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def temporaries(parent):
    return sorted(p.name for p in parent.iterdir() if ".capacity-" in p.name or p.name.endswith(".tmp"))


@pytest.fixture
def previous(tmp_path, capsys, fast_plots):
    """A folder holding a complete report of seed 1, and its files."""
    out = tmp_path / "run"
    assert run_cli("run", SEED, "-o", out, *SHORT, "--set", "seed=1") == 0
    capsys.readouterr()
    return out, snapshot(out)


def failing_on_call(n, exc):
    """A replacement for ``os.fsync`` that raises ``exc`` on its ``n``-th call (1-based)."""
    real = os.fsync
    calls = {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        return real(fd)

    return fsync


@pytest.mark.parametrize("nth", [1, 3, 6, 9])
def test_a_full_disk_leaves_the_previous_report_whole_and_exits_5(previous, monkeypatch, capsys, nth):
    """ENOSPC on the n-th file: one line naming the folder and the reason, exit 5, nothing mixed."""
    out, before = previous
    monkeypatch.setattr(os, "fsync", failing_on_call(nth, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    assert run_cli("run", SEED, "-o", out, *SHORT, "--set", "seed=2") == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {out}: ") and "No space left on device" in err
    assert snapshot(out) == before
    assert temporaries(out.parent) == [] and temporaries(out) == []


def test_a_short_write_error_mid_file_exits_5(previous, monkeypatch, capsys):
    """The file writer itself fails (EIO from os.write in the middle of a PNG)."""
    out, before = previous
    real = os.write
    calls = {"n": 0}

    def write(fd, data):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    assert run_cli("run", SEED, "-o", out, *SHORT, "--set", "seed=2") == 5
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Input/output error" in err
    assert snapshot(out) == before and temporaries(out.parent) == []


@pytest.mark.parametrize("nth", [2, 8])
def test_an_interrupt_while_writing_leaves_the_previous_report_whole(previous, monkeypatch, capsys, nth):
    out, before = previous
    monkeypatch.setattr(os, "fsync", failing_on_call(nth, KeyboardInterrupt()))
    assert run_cli("run", SEED, "-o", out, *SHORT, "--set", "seed=2") == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert snapshot(out) == before and temporaries(out.parent) == []


def test_a_new_report_replaces_every_file_of_the_old_one(previous, capsys):
    out, before = previous
    assert run_cli("run", SEED, "-o", out, *SHORT, "--set", "seed=2") == 0
    after = snapshot(out)
    assert sorted(after) == sorted(before)
    assert after["report.md"] != before["report.md"]
    assert json.loads(after["report.json"])["provenance"]["seed"] == 2
    assert temporaries(out.parent) == []
    umask = os.umask(0o022)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~umask                  # shareable, as mkdir gives


KILL_BEFORE_SWAP = textwrap.dedent("""\
    import os, signal, sys
    from capacity.cli import main
    from capacity.report import plots
    from tests.test_report_folder import quick_pngs
    plots.render_pngs = quick_pngs
    real = os.rename
    calls = []

    def rename(src, dst):
        calls.append(src)
        if len(calls) > {renames_allowed}:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)

    os.rename = rename
    sys.exit(main(sys.argv[1:]))
    """)


@pytest.mark.parametrize("renames_allowed", [0, 1], ids=["before the swap", "between the two renames"])
def test_a_kill_during_the_swap_keeps_both_sets_whole_and_the_next_run_cleans_up(previous, renames_allowed):
    """SIGKILL after the new set is written: the old report stays whole (under its own name, or under a
    temporary name if the kill fell between the renames), and the next run removes every temporary."""
    out, before = previous
    script = KILL_BEFORE_SWAP.format(renames_allowed=renames_allowed)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    args = ["run", SEED, "-o", str(out), *SHORT, "--set", "seed=2"]
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = temporaries(out.parent)
    if renames_allowed == 0:
        assert snapshot(out) == before
        assert len(left) == 1 and ".run.capacity-new-" in left[0]
    else:
        assert not out.exists()
        olds = [n for n in left if ".run.capacity-old-" in n]
        news = [n for n in left if ".run.capacity-new-" in n]
        assert len(olds) == len(news) == 1
        assert snapshot(out.parent / olds[0]) == before               # the old report, whole
        assert sorted(snapshot(out.parent / news[0])) == sorted(before)   # and the new one, whole
    assert run_cli("run", SEED, "-o", out, *SHORT, "--set", "seed=3") == 0
    assert temporaries(out.parent) == []
    assert json.loads((out / "report.json").read_text())["provenance"]["seed"] == 3


def test_a_temporary_folder_that_a_live_writer_holds_is_left_alone(tmp_path):
    """Another writer's folder in progress (locked) survives a write beside it; once free, it goes."""
    import fcntl

    from capacity.report.output import FolderKind, write_folder

    kind = FolderKind("a test set", frozenset({"a.txt"}))
    busy = tmp_path / ".out.capacity-new-live1234"
    busy.mkdir()
    fd = os.open(busy, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        write_folder(tmp_path / "out", {"a.txt": b"1"}, kind)
        assert busy.exists()
    finally:
        os.close(fd)
    write_folder(tmp_path / "out", {"a.txt": b"2"}, kind)
    assert not busy.exists()
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"2"


def test_concurrent_writers_into_one_folder_leave_one_whole_set(tmp_path):
    """Two writers racing into one folder, many times: the folder always ends up as one of the sets."""
    from capacity.report.output import FolderKind, write_folder

    kind = FolderKind("a test set", frozenset({f"f{i}" for i in range(6)}))
    target = tmp_path / "out"
    sets = {w: {f"f{i}": f"{w}-{i}".encode() * 100 for i in range(6)} for w in ("a", "b")}
    errors = []

    def writer(name):
        try:
            for _ in range(25):
                write_folder(target, sets[name], kind)
        except Exception as exc:                          # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in sets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert snapshot(target) in list(sets.values())
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("stranger", ["results.csv", "runs/", "notes.txt", ".hidden"])
def test_run_refuses_a_folder_that_holds_other_files(tmp_path, capsys, fast_plots, stranger):
    """A sweep folder, a project folder: the swap would delete the user's files, so it is refused."""
    out = tmp_path / "somewhere"
    out.mkdir()
    (out / "report.md").write_text("keep me")
    if stranger.endswith("/"):
        (out / stranger).mkdir()
    else:
        (out / stranger).write_text("keep me too")
    before = snapshot(out)
    assert run_cli("run", SEED, "-o", out, *SHORT) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {out}: holds ") and stranger.rstrip("/") in err
    assert snapshot(out) == before and (out / stranger.rstrip("/")).exists()


def test_run_refuses_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    assert run_cli("run", SEED, "-o", ".", *SHORT) == 2
    assert "holds 'pyproject.toml'" in capsys.readouterr().err
    (tmp_path / "pyproject.toml").unlink()
    assert run_cli("run", SEED, "-o", ".", *SHORT) == 2                      # even empty: it is where we are
    assert "is the current folder" in capsys.readouterr().err


def test_kubernetes_export_replaces_the_previous_export_whole(tmp_path, capsys):
    """No patch of an earlier plan stays beside the new ones (apply.sh would not apply it, but a
    ``kubectl apply -f patches/`` would)."""
    k8s = tmp_path / "k8s"
    (k8s / "patches").mkdir(parents=True)
    (k8s / "patches" / "deployment.default.gone.yaml").write_text("kind: Deployment\n")
    (k8s / "nodes.yaml").write_text("old\n")
    (k8s / "apply.sh").write_text("old\n")
    assert run_cli("plan", SEED, "--export", "k8s", "--export-dir", k8s) == 0
    assert not (k8s / "patches" / "deployment.default.gone.yaml").exists()
    assert (k8s / "nodes.yaml").read_text() != "old\n"
    (k8s / "kustomization.yaml").write_text("resources: []\n")         # the user's file: refused, kept
    assert run_cli("plan", SEED, "--export", "k8s", "--export-dir", k8s) == 2
    assert "holds 'kustomization.yaml'" in capsys.readouterr().err
    assert (k8s / "kustomization.yaml").exists()
