"""Output paths are checked before the work: a wrong one is one line naming the path and exit 2.

Each case makes the expensive step (packing and simulating, sizing, reading manifests) fail loudly if it
is reached, so a passing case proves the user did not wait for a simulation to learn the path is bad.
"""

import os
from pathlib import Path

import pytest

from .cli_support import run_cli
from .conftest import SCENARIOS

SEED = str(SCENARIOS / "seed-example.yaml")
SHOP = Path(__file__).parent / "k8s" / "data" / "shop"


@pytest.fixture
def no_work(monkeypatch):
    """Make every expensive step raise: it must not be reached."""
    import capacity.k8s
    import capacity.pipeline
    import capacity.sizing

    def reached(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")

    monkeypatch.setattr(capacity.pipeline, "run", reached)
    monkeypatch.setattr(capacity.sizing, "size", reached)
    monkeypatch.setattr(capacity.k8s, "import_k8s", reached)


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A folder with a file ``afile`` and a folder ``adir`` in it, as the current folder."""
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


CASES = [
    # (arguments, the path named, the problem)
    (["run", SEED, "-o", "afile"], "afile", "exists and is not a folder"),
    (["run", SEED, "-o", "afile/sub"], "afile/sub", "afile is a file, not a folder"),
    (["run", SEED, "-o", "/proc/x"], "/proc/x", "is in /dev, /proc or /sys"),
    (["run", SEED, "-o", ""], "''", "empty path"),
    (["plan", SEED, "--json", "adir"], "adir", "is a folder; name a file, e.g. adir/report.json"),
    (["plan", SEED, "--json", ""], "''", "empty path"),
    (["plan", SEED, "--json", "afile/x.json"], "afile/x.json", "afile is a file, not a folder"),
    (["simulate", SEED, "--json", "adir"], "adir", "is a folder"),
    (["simulate", SEED, "--json", "/proc/x"], "/proc/x", "is in /dev, /proc or /sys"),
    (["size", SEED, "--json", "adir"], "adir", "is a folder"),
    (["size", SEED, "--json", "afile/deeper/x.json"], "afile/deeper/x.json", "afile is a file, not a folder"),
    (["import-k8s", SHOP, "-o", "afile/x.yaml"], "afile/x.yaml", "afile is a file, not a folder"),
    (["import-k8s", SHOP, "-o", "adir"], "adir", "is a folder"),
    (["import-k8s", SHOP, "-o", ""], "''", "empty path"),
    (["plan", SEED, "--export", "k8s", "--export-dir", "afile"], "afile", "exists and is not a folder"),
    (["plan", SEED, "--export", "k8s", "--export-dir", "afile/k8s"], "afile/k8s", "afile is a file"),
    (["report", "adir", "-o", "afile"], "afile", "exists and is not a folder"),
]


@pytest.mark.parametrize(("args", "path", "problem"), CASES,
                         ids=[" ".join([args[0], *map(str, args[2:])]) for args, _, _ in CASES])
def test_a_bad_output_path_is_one_line_and_exit_2_before_any_work(place, no_work, capsys, args, path,
                                                                  problem):
    assert run_cli(*args) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"error: {path}: "), captured.err
    assert problem in captured.err
    assert "Traceback" not in captured.err
    assert sorted(os.listdir(place)) == ["adir", "afile"]              # nothing created


def test_default_run_folder_is_checked_too(place, no_work, capsys):
    """``run`` without ``-o`` writes to out/<scenario name>: a file there is found before the run."""
    (place / "out").mkdir()
    (place / "out" / "seed-example").write_text("a file")
    assert run_cli("run", SEED) == 2
    assert "error: out/seed-example: exists and is not a folder" in capsys.readouterr().err


# Devices are reached through links in tmp_path: were the in-place rule ever broken, the rename would
# replace the link, never the device itself (the tests run as root on CI).

@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="needs Linux /dev/full")
def test_a_full_device_is_an_io_failure_exit_5(tmp_path, capsys):
    full = tmp_path / "full"
    full.symlink_to("/dev/full")
    assert run_cli("plan", SEED, "--json", full) == 5
    err = capsys.readouterr().err
    assert err == f"error: {full}: cannot write it: No space left on device\n"
    assert full.is_symlink() and Path("/dev/full").is_char_device()


def test_a_device_is_written_in_place(tmp_path, capsys):
    """/dev/null (like /dev/stdout or a named pipe) cannot be replaced by a rename: it is written to."""
    null = tmp_path / "null"
    null.symlink_to(os.devnull)
    assert run_cli("plan", SEED, "--json", null) == 0
    assert null.is_symlink() and Path(os.devnull).is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_dev_stdout_redirected_to_a_file_gets_the_json(tmp_path, capsys):
    """``--json /dev/stdout > plan.json``: the file the shell opened receives the JSON (appended)."""
    import json

    target = tmp_path / "plan.json"
    with open(target, "wb") as fh:
        assert run_cli("plan", SEED, "--json", f"/proc/self/fd/{fh.fileno()}") == 0
    assert json.loads(target.read_text())["placement"]["nodes_used"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_a_named_pipe_receives_the_json(tmp_path, capsys):
    import json
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert run_cli("plan", SEED, "--json", fifo) == 0
    reader.join(timeout=60)
    assert json.loads(received[0])["placement"]["nodes_used"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_read_only_folder_is_a_bad_path(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert run_cli("plan", SEED, "--json", folder / "x.json") == 2
        assert "Permission denied" in capsys.readouterr().err
    finally:
        folder.chmod(0o755)
