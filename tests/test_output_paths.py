"""Output paths are checked before the work: a wrong one is one line naming the path and exit 2.

Each case makes the expensive step (packing and simulating, sizing, reading manifests) fail loudly if it
is reached, so a passing case proves the user did not wait for a simulation to learn the path is bad.
"""

import os
from pathlib import Path

import pytest

from capacity.cli import main

from .conftest import SCENARIOS

SEED = str(SCENARIOS / "seed-example.yaml")
SHOP = Path(__file__).parent / "k8s" / "data" / "shop"


def cli(*args):
    return main([str(a) for a in args])


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
    assert cli(*args) == 2
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
    assert cli("run", SEED) == 2
    assert "error: out/seed-example: exists and is not a folder" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux /dev/full")
def test_a_full_device_is_an_io_failure_exit_5(tmp_path, capsys):
    assert cli("plan", SEED, "--json", "/dev/full") == 5
    err = capsys.readouterr().err
    assert err == "error: /dev/full: cannot write it: No space left on device\n"


def test_a_device_or_fifo_is_written_in_place(tmp_path, capsys):
    """/dev/null (and /dev/stdout, a named pipe) cannot be replaced by a rename: written as they are."""
    assert cli("plan", SEED, "--json", os.devnull) == 0
    assert Path(os.devnull).exists() and not Path(os.devnull).is_file()
    assert list(Path(tmp_path).iterdir()) == []


def test_a_read_only_folder_is_a_bad_path(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert cli("plan", SEED, "--json", folder / "x.json") == 2
        assert "Permission denied" in capsys.readouterr().err
    finally:
        folder.chmod(0o755)
