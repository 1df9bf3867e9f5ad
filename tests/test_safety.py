"""Safety: a failing run leaves no half-written report; scenario YAML is data only (python tags:
`tests/test_fuzz_scenario.py`). Where trace files may come from: `tests/test_data_sandbox.py`."""

from __future__ import annotations

import os

import pytest

from capacity.cli import main

SMALL = """\
name: small
cluster: {pools: [{name: p, count: 2, resources: {cpu: 8, memory: 16Gi}}]}
services:
  - {name: web, replicas: 2, resources: {cpu: 1, memory: 1Gi}, serving: {service_time: {mean: 10ms}}}
workload:
  duration: 5s
  classes: [{name: c, service: web, arrivals: {process: poisson, rate: 20/s}}]
"""


def test_a_run_failing_while_plotting_writes_nothing(write_scenario, tmp_path, monkeypatch):
    from capacity.report import plots

    def boom(*args, **kwargs):
        raise RuntimeError("plot failed")

    out = tmp_path / "out"
    path = write_scenario(SMALL)
    monkeypatch.setattr(plots, "png_bytes", boom)
    with pytest.raises(RuntimeError, match="plot failed"):
        main(["run", str(path), "-o", str(out)])
    assert not out.exists() or list(out.iterdir()) == []
    monkeypatch.undo()
    assert main(["run", str(path), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(plots, "png_bytes", boom)
    with pytest.raises(RuntimeError):
        main(["run", str(path), "-o", str(out), "--set", "seed=9"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous report stays intact


def test_writes_replace_a_symlink_instead_of_following_it(tmp_path):
    from capacity.report.writers import write_text

    target = tmp_path / "outside.txt"
    target.write_text("keep")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "report.md").symlink_to(target)
    write_text(tmp_path / "out" / "report.md", "new")
    assert target.read_text() == "keep"
    assert not os.path.islink(tmp_path / "out" / "report.md")
    assert (tmp_path / "out" / "report.md").read_text() == "new"
