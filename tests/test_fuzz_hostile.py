"""Hostile scenario documents through the real command, in a subprocess with a memory cap.

Hypothesis builds a small valid scenario (`tests.test_fuzz_scenario.valid_documents`) and then spoils its
YAML text the way an adversary would: an alias bomb ("billion laughs"), nesting hundreds or thousands deep,
extreme numbers (``1e400``, ``1e-999999999``, YAML 1.1 octal and base-60 forms, booleans, huge integers),
odd keys (a newline or a forged ``error:`` line in a key, merge keys, very long or non-ASCII keys). Each
spoiled file goes through ``capacity validate|plan|simulate`` in a child process whose address space is capped
(`MEMORY_CAP`), so a blow-up ends the child instead of the machine.

What must hold for every document: the exit code is 0, 2 or 3 (never a crash, never 1 or a signal); no
traceback on stderr; on exit 2 exactly one line on stderr, starting ``error:``. The child's run time is only
guarded (`HANG_GUARD_S`), not measured: a hang fails the test, a slow machine does not.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_fuzz_scenario import valid_documents

from .conftest import examples

#: Address-space cap of the child (a normal run of a shipped scenario needs well under 1 GiB).
MEMORY_CAP = 3 * 2**30 // 2
#: A child still running after this long is taken as hung (generous: 2 cores shared with other jobs).
HANG_GUARD_S = 180
ROOT = Path(__file__).resolve().parents[1]

HOSTILE = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                   max_examples=examples(int(os.environ.get("CAPACITY_HOSTILE_EXAMPLES", "20"))),
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Numbers an adversary writes where the schema wants a number (as YAML text, inserted verbatim).
EXTREME_NUMBERS = ["1e400", "-1e400", "1e-400", ".inf", "-.inf", ".nan", "9" * 400, "-" + "9" * 30,
                   "0x7fffffffffffffffffffffff", "1e308", "5e-324", "010", "0o17", "1:30", "1:30:00",
                   "true", "false", "null", "~", "'1e999999999m'", "1e-999999999", "'1e-999999999'",
                   "999999999Ei", "'1e400Gi'", "1_000", "0b101", "'  7  '", "''", "[]", "{}"]

#: Keys an adversary writes (inserted verbatim as YAML keys).
ODD_KEYS = ['"a\\nerror: forged second line"', '"tab\\there"', '"' + "k" * 5000 + '"', "ключ", "🙂",
            '"\\u0000"', "<<", "'<<'", "? [a, b]", "1e400", "null", "true", "''"]


def _alias_bomb(levels: int, width: int) -> str:
    """A "billion laughs" value: each level a list of ``width`` aliases of the level before."""
    lines = ["  - &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for k in range(1, levels):
        refs = ", ".join(f"*l{k - 1}" for _ in range(width))
        lines.append(f"  - &l{k} [{refs}]")
    return "\n".join(lines)


def _nested(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else "{a: " * depth + "1" + "}" * depth


def _numeric_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Paths to every number and every quantity-like string in the document."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _numeric_paths(v, (*prefix, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _numeric_paths(v, (*prefix, i))]
    if isinstance(node, bool) or node is None:
        return []
    if isinstance(node, int | float) or (isinstance(node, str) and node[:1].isdigit()):
        return [prefix]
    return []


PLACEHOLDER = "__HOSTILE_VALUE__"


def _set(doc: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


@st.composite
def hostile_texts(draw: st.DrawFn) -> str:
    """A valid scenario's YAML text with one to three hostile spoils applied."""
    doc = draw(valid_documents())
    spoils = draw(st.lists(st.sampled_from(["bomb", "nest", "number", "key"]), min_size=1, max_size=3))
    inserts: list[tuple[str, str]] = []     # (placeholder value, verbatim YAML replacing it)
    top_lines: list[str] = []
    for n, spoil in enumerate(spoils):
        mark = f"{PLACEHOLDER}{n}"
        if spoil == "number":
            paths = _numeric_paths(doc)
            if paths:
                _set(doc, draw(st.sampled_from(paths)), mark)
                inserts.append((mark, draw(st.sampled_from(EXTREME_NUMBERS))))
        elif spoil == "nest":
            where = draw(st.sampled_from([("description",), ("cluster", "pools", 0, "labels", "deep"),
                                          ("services", 0, "resources", "cpu"), ("extra",)]))
            _set(doc, where, mark)
            inserts.append((mark, _nested(draw(st.sampled_from([40, 300, 1000, 5000])),
                                          draw(st.sampled_from(["list", "map"])))))
        elif spoil == "bomb":
            levels = draw(st.integers(3, 12))
            top_lines.append(f"bomb{n}:\n{_alias_bomb(levels, draw(st.integers(2, 10)))}")
            where = draw(st.sampled_from([("description",), ("cluster", "pools", 0, "labels"),
                                          ("services", 0, "replicas")]))
            _set(doc, where, mark)
            inserts.append((mark, f"*l{levels - 1}"))
        else:
            key = draw(st.sampled_from(ODD_KEYS))
            top_lines.append(f"{key}: 1" if key != "<<" else "<<: {seed: 3}")
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)
    for mark, verbatim in inserts:
        text = text.replace(mark, verbatim)
    return "\n".join([*top_lines, text])


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "capacity", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, errors="replace", timeout=HANG_GUARD_S, preexec_fn=_capped)


def check_contract(proc: subprocess.CompletedProcess[str], what: str) -> None:
    assert proc.returncode in (0, 2, 3), f"{what}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, f"{what}: traceback\n{proc.stderr[-2000:]}"
    if proc.returncode == 2:
        lines = proc.stderr.rstrip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: stderr {proc.stderr[:2000]!r}"


@pytest.mark.slow
@HOSTILE
@given(text=hostile_texts(), command=st.sampled_from(["validate", "plan", "simulate"]))
def test_hostile_documents_end_with_a_clean_exit_in_bounded_memory(text, command, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    proc = run_capped(command, "scenario.yaml", cwd=folder)
    check_contract(proc, f"capacity {command} on\n{text[:3000]}")


@pytest.mark.parametrize("override", ["services.svc0.replicas=1e400", "services.svc0.replicas=010",
                                      "services.svc0.replicas=true", "cluster.pools.pool0.count=1:30",
                                      "services.svc0.resources.cpu=1e400", "seed=" + "9" * 400])
def test_hostile_overrides_end_with_a_clean_exit(override, tmp_path):
    doc = {"name": "t", "cluster": {"pools": [{"name": "pool0", "count": 2, "resources": {"cpu": 4}}]},
           "services": [{"name": "svc0", "replicas": 2, "resources": {"cpu": 1}}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    proc = run_capped("plan", "s.yaml", "--set", override, cwd=tmp_path)
    check_contract(proc, f"--set {override}")
    # YAML 1.2: 010 is ten replicas, which do not fit on 8 CPUs (YAML 1.1 read it as 8, which fit)
    assert proc.returncode == (3 if override.endswith("=010") else 2), proc.stderr
