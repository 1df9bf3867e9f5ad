"""The broken-scenario corpus (`tests/data/broken/*.yaml`): hand-written mistakes in every section
(cluster, services, serving, batching, tokens, arrivals, SLOs, failures, whatif, placement constraints,
scheduling, limits, YAML itself). Each file's first line says ``# expect: TEXT``; ``capacity run`` and
``capacity validate`` must exit 2 with one line on stderr containing TEXT, and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from capacity.cli import main

BROKEN = sorted((Path(__file__).parent / "data" / "broken").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ")


def test_the_corpus_covers_every_section():
    assert len(BROKEN) >= 20
    names = " ".join(p.stem for p in BROKEN)
    for section in ("pool", "service", "batching", "tokens", "arrivals", "slo", "failure", "whatif",
                    "placement", "scheduling", "limits"):
        assert section in names, section


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_broken_scenario_exits_2_with_one_line(path, command, capsys, tmp_path):
    code = main([command, str(path), *(["-o", str(tmp_path / "out")] if command == "run" else [])])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith(f"error: {path}"), err
    assert _expected(path) in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", BROKEN[:: max(1, len(BROKEN) // 3)][:3], ids=lambda p: p.stem)
def test_broken_scenario_in_a_subprocess(path, tmp_path):
    done = subprocess.run([sys.executable, "-m", "capacity", "run", str(path), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and _expected(path) in done.stderr
