"""An existing placement that cannot be true is refused at load (one line naming the node, the service and
the resource); what the plan may change (headroom, a scale-down, rules) stays allowed and counts moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from capacity import pipeline
from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.packing import PackingProblem, Pool, Service, solve
from capacity.scenario import load_scenario

GiB = 2**30

BASE = """\
name: existing
cluster:
  pools:
    - {name: cpu, count: 4, resources: {cpu: 4, memory: 16Gi}}
    - {name: gpu, count: 1, resources: {cpu: 32, memory: 128Gi, gpu: 4}}
services:
  - name: web
    replicas: 6
    resources: {cpu: 1, memory: 1Gi}
  - name: api
    replicas: 4
    resources: {cpu: 1, memory: 6Gi}
  - name: llm
    replicas: 1
    resources: {cpu: 4, memory: 16Gi, gpu: 1}
placement:
  objective: min-moves
  existing: {}
"""


def write(tmp_path: Path, existing: str, text: str = BASE) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text.replace("existing: {}", f"existing: {existing}"))
    return path


@pytest.mark.parametrize(("existing", "where", "words"), [
    ("{cpu-0: {web: 10}}", "placement.existing.cpu-0", "10 replicas of 'web' need 10 cpu, the node has 4"),
    ("{cpu-1: {web: 3, api: 2}}", "placement.existing.cpu-1",
     "3 replicas of 'web' and 2 of 'api' need 5 cpu, the node has 4"),
    ("{cpu-2: {api: 3}}", "placement.existing.cpu-2",
     "3 replicas of 'api' need 18Gi memory, the node has 16Gi"),
    ("{cpu-3: {llm: 1}}", "placement.existing.cpu-3", "1 replica of 'llm' needs 1 gpu, the node has 0"),
    ("{cpu-9: {web: 1}}", "placement.existing.cpu-9", "pool 'cpu' has 4 nodes"),
    ("{web-0: {web: 1}}", "placement.existing.web-0", "<pool>-<index>"),
    ("{cpu-0: {db: 1}}", "placement.existing.cpu-0.db", "no service named 'db'"),
])
def test_an_existing_placement_that_cannot_be_true_is_refused_at_load(tmp_path, capsys, existing, where,
                                                                      words) -> None:
    path = write(tmp_path, existing)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.path == where and words in info.value.message
    assert info.value.line == 18                                          # the line of the existing section
    assert main(["plan", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"error: {path}:18: {where}: {info.value.message}"


def test_the_same_check_through_set(tmp_path) -> None:
    with pytest.raises(ScenarioError, match=r"placement\.existing\.cpu-0: 5 replicas of 'web' need 5 cpu"):
        load_scenario(write(tmp_path, "{}"), ["placement.existing={cpu-0: {web: 5}}"])


def test_a_full_node_and_float_requests_are_true(tmp_path) -> None:
    """Exactly full is allowed, and ten 0.1-CPU replicas fit one core (the packer's FIT_RTOL)."""
    load_scenario(write(tmp_path, "{cpu-0: {web: 4}, cpu-1: {api: 2, web: 2}}"))
    text = BASE.replace("resources: {cpu: 1, memory: 1Gi}", "resources: {cpu: 100m, memory: 1Gi}").replace(
        "{cpu: 4, memory: 16Gi}}", "{cpu: 1, memory: 16Gi}}").replace("replicas: 6", "replicas: 10")
    load_scenario(write(tmp_path, "{cpu-0: {web: 10}}", text))


def test_headroom_does_not_make_a_running_node_false_it_makes_moves(tmp_path) -> None:
    """Headroom is a margin for the plan: a node that is fuller today is true, and min-moves moves replicas
    off it to honour the headroom (4 x 1 CPU on a 4-CPU node, 25 % headroom leaves 3: one moves)."""
    path = write(tmp_path, "{cpu-0: {web: 4}}", BASE.replace("objective: min-moves",
                                                             "objective: min-moves\n  headroom: 25%"))
    placement = pipeline.run(load_scenario(path), simulate_traffic=False).report["placement"]
    assert placement["moves"] == 1 and placement["moved"] == {"web": 1}


def test_a_scale_down_is_true_and_not_a_move(tmp_path) -> None:
    """Running more replicas than the plan wants is a scale-down (documented: not a move), not a false
    placement: 4 + 4 running, 6 wanted -> two removed, none moved."""
    path = write(tmp_path, "{cpu-0: {web: 4}, cpu-1: {web: 4}}")
    placement = pipeline.run(load_scenario(path), simulate_traffic=False).report["placement"]
    assert placement["moves"] == 0


def test_the_packing_api_refuses_it_too() -> None:
    pool = Pool("a", 2, {"cpu": 4, "memory": 16 * GiB})
    web = Service("web", 6, {"cpu": 1, "memory": 1 * GiB})
    with pytest.raises(ValueError, match=r"existing node 'a-0': 10 replicas of 'web' need 10 cpu, the node "
                                         r"has 4"):
        solve(PackingProblem((pool,), (web,), objective="min-moves", existing={"a-0": {"web": 10}}))
