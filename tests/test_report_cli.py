"""``capacity run -o DIR`` writes the report files; ``capacity report DIR`` redraws them from report.json."""

import json
import os

from capacity.report.plots import PLOTS

from .cli_support import run_cli
from .conftest import SCENARIOS
from .schema_check import assert_valid

SEED = str(SCENARIOS / "seed-example.yaml")
FILES = ["report.json", "report.md", "report.html", *(n for n, spec in PLOTS.items() if spec.needs is None)]


def test_run_writes_every_file_and_report_redraws_them_identically(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli("run", SEED, "-o", out, "--set", "workload.duration=1m",
                   "--set", "workload.warmup=10s") == 0
    assert sorted(os.listdir(out)) == sorted(FILES)
    assert f"{out}/{{report.json, report.md, report.html}} and 5 plots" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert {"input", "series"} <= set(report)
    assert_valid("report", report)                        # as written, against `capacity schema report`
    written = {name: (out / name).read_bytes() for name in FILES}
    mode = (out / "report.html").stat().st_mode & 0o777
    assert mode == 0o666 & ~_umask()                      # shareable, as open() would create it

    for name in FILES[1:]:
        (out / name).unlink()
    assert run_cli("report", out) == 0                    # from report.json alone
    for name in FILES:
        assert (out / name).read_bytes() == written[name], f"{name} differs when redrawn"
    assert not list(out.glob(".*.tmp"))


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_report_of_a_missing_or_bad_directory_is_one_line_exit_2(tmp_path, capsys):
    assert run_cli("report", tmp_path / "nowhere") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "report.json: no such file" in err
    (tmp_path / "report.json").write_text("{not json", encoding="utf-8")
    assert run_cli("report", tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable report" in err
    (tmp_path / "report.json").write_text("[1, 2]", encoding="utf-8")
    assert run_cli("report", tmp_path) == 2
    assert "not a capacity report" in capsys.readouterr().err


def test_report_of_a_placement_only_json_renders_its_tables(tmp_path, capsys):
    """``plan --json`` has no plot data: the pages are written, the plots skipped with a note."""
    assert run_cli("plan", SEED, "--json", tmp_path / "report.json") == 0
    capsys.readouterr()
    assert run_cli("report", tmp_path) == 0
    captured = capsys.readouterr()
    assert "plots skipped" in captured.err
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.json", "report.md"]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "standard-0" in html and "3 nodes" in html
    other = tmp_path / "copy"
    assert run_cli("report", tmp_path, "-o", other) == 0      # elsewhere: a complete directory, same files
    for name in ("report.html", "report.json", "report.md"):
        assert (other / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_run_into_a_directory_of_an_earlier_run_leaves_no_stale_plot(tmp_path, capsys):
    """A run without a simulation into a directory that held one with: the old latency plots go."""
    import yaml

    out = tmp_path / "run"
    assert run_cli("run", SEED, "-o", out, "--set", "workload.duration=30s",
                   "--set", "workload.warmup=5s") == 0
    assert sorted(os.listdir(out)) == sorted(FILES)
    doc = yaml.safe_load((SCENARIOS / "seed-example.yaml").read_text(encoding="utf-8"))
    doc.pop("workload")
    (tmp_path / "noload.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert run_cli("run", tmp_path / "noload.yaml", "-o", out) == 0
    capsys.readouterr()
    report = json.loads((out / "report.json").read_text())
    assert not report.get("simulation")
    assert sorted(os.listdir(out)) == sorted(["report.json", "report.md", "report.html", "placement_map.png",
                                              "node_usage.png"])
    (out / "queue_length.png").write_bytes(b"not ours to keep")     # redrawing prunes it too
    assert run_cli("report", out) == 0
    assert not (out / "queue_length.png").exists()
