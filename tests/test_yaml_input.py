"""Reading input under hostile conditions (issue 12): YAML 1.2 numbers, booleans where numbers belong, alias
bombs, deep nesting, huge and tiny numbers, files that are not regular or too big, merge keys, and one error
on exactly one line.

The inputs that used to take gigabytes or never end run the CLI in a subprocess under a 1.5 GB address-space
limit, with a generous timeout that only guards against a hang (never a speed test); each must exit 2 with
exactly one line on stderr and no traceback.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from capacity import yamlio
from capacity.cli import _parse_value, _parse_values, main
from capacity.errors import ScenarioError
from capacity.limits import InputLimits
from capacity.scenario import Scenario, load_scenario
from tests.test_scenario import BASE

from .conftest import examples

MEMORY_LIMIT = 1536 * 2**20
HANG_GUARD_S = 60


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_guarded(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m capacity ARGS`` under a 1.5 GB memory limit, with a hang guard."""
    return subprocess.run([sys.executable, "-m", "capacity", *map(str, args)], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, preexec_fn=_limit_memory, check=False,
                          env={**os.environ, **(env or {})})


def assert_one_line_exit_2(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, exactly one stderr line starting ``error: ``, no traceback, and every one of ``words``."""
    err = done.stderr
    assert done.returncode == 2, (done.returncode, err[-2000:])
    assert err.startswith("error: ") and err.count("\n") == 1 and len(err.splitlines()) == 1, err[-2000:]
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def _error(path: Path, overrides: tuple[str, ...] = ()) -> ScenarioError:
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, overrides)
    return err.value


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


# --------------------------------------------------------------------------------------- YAML 1.2 numbers

def test_leading_zeros_are_decimal_in_files_and_in_set(write_scenario):
    text = BASE.replace("count: 4", "count: 010").replace("replicas: 2", "replicas: 010")
    s = load_scenario(write_scenario(text))
    assert s.pool("cpu").count == 10 and s.service("web").replicas == 10
    assert load_scenario(write_scenario(BASE), ["services.web.replicas=012"]).service("web").replicas == 12


def test_octal_and_hexadecimal_need_their_yaml_1_2_prefixes(write_scenario):
    text = BASE.replace("count: 4", "count: 0o10").replace("replicas: 2", "replicas: 0x10")
    s = load_scenario(write_scenario(text))
    assert s.pool("cpu").count == 8 and s.service("web").replicas == 16


@pytest.mark.parametrize("how", ["file", "set"])
def test_base_60_is_not_a_number(write_scenario, how):
    if how == "file":
        path = write_scenario(BASE.replace("count: 4", "count: 1:30"))
        err = _error(path)
        assert err.line == _line(BASE, "count: 4")
    else:
        err = _error(write_scenario(BASE), ("cluster.pools.cpu.count=1:30",))
    assert err.path == "cluster.pools.cpu.count" and "'1:30'" in err.message


@pytest.mark.parametrize(("replace", "override", "path"), [
    (("replicas: 2", "replicas: true"), None, "services.web.replicas"),
    (("count: 4", "count: true"), None, "cluster.pools.cpu.count"),
    (("cpu: 500m", "cpu: true"), None, "services.web.resources.cpu"),
    (("cost: 0.5", "cost: false"), None, "cluster.pools.cpu.cost"),
    (("concurrency: 2", "concurrency: true"), None, "services.web.serving.concurrency"),
    (None, "services.web.replicas=true", "services.web.replicas"),
    (None, "seed=true", "seed"),
    (None, "limits.max_requests=true", "limits.max_requests"),
    (None, "services.web.serving.service_time.cv=true", "services.web.serving.service_time.cv"),
])
def test_a_boolean_where_a_number_is_expected_is_refused(write_scenario, replace, override, path):
    text = BASE.replace(*replace) if replace else BASE
    err = _error(write_scenario(text), (override,) if override else ())
    assert err.path == path, err.one_line()
    assert "boolean" in err.message, err.one_line()


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for info in model.model_fields.values():
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _models(arg, seen)


def _flatten(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        return _flatten(args[0])
    return [annotation, *(a for arg in args for a in _flatten(arg))]


def _with_a_boolean(annotation: Any) -> Any:
    """A value of ``annotation``'s shape with ``True`` where its number goes (``None``: no number in it)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _with_a_boolean(args[0])
    if annotation in (int, float):
        return True
    if origin is typing.Literal:  # Literal[1] would take True as 1
        return True if any(isinstance(a, int) and not isinstance(a, bool) for a in args) else None
    if origin is dict:
        inner = _with_a_boolean(args[1])
        return None if inner is None else {"x": inner}
    if origin is list:
        inner = _with_a_boolean(args[0])
        return None if inner is None else [inner]
    for arg in args:  # a union (X | None, Fraction | dict[...]): its first numeric member
        inner = _with_a_boolean(arg)
        if inner is not None:
            return inner
    return None


def test_every_numeric_field_of_the_scenario_refuses_a_boolean():
    """Type level: pydantic's lax mode would read ``True`` as 1 for an int or float field."""
    models: set[type[BaseModel]] = set()
    _models(Scenario, models)
    checked = []
    for model in sorted(models, key=lambda m: m.__name__):
        for name, info in model.model_fields.items():
            value = _with_a_boolean(info.annotation)
            if value is None:
                continue
            checked.append(f"{model.__name__}.{name}")
            with pytest.raises(ValidationError):
                TypeAdapter(Annotated[info.annotation, info]).validate_python(value)
    assert {"Pool.count", "Service.replicas", "Pool.cost", "Scenario.seed", "Scenario.version",
            "Limits.max_requests", "PlacementOptions.existing", "TenantSplit.weights"} <= set(checked)


def test_yaml_1_1_words_and_dates_are_plain_strings(write_scenario):
    text = BASE.replace("cost: 0.5", "cost: 0.5\n      labels: {spot: yes, since: 2024-01-01, rack: on}")
    s = load_scenario(write_scenario(text))
    assert s.pool("cpu").labels == {"spot": "yes", "since": "2024-01-01", "rack": "on"}


def test_grid_and_case_values_are_read_by_the_same_loader():
    assert _parse_values("010,012") == [10, 12]
    assert _parse_values("[0o10, 0x10, 1:30]") == [8, 16, "1:30"]
    assert _parse_value("010") == 10 and _parse_value("true") is True and _parse_value("yes") == "yes"
    assert _parse_value("{a: 1") == "{a: 1"            # not YAML: the text itself, as --set does


@pytest.mark.parametrize(("old", "new", "path"), [
    ("cpu: 500m", "cpu: .inf", "services.web.resources.cpu"),
    ("cost: 0.5", "cost: .nan", "cluster.pools.cpu.cost"),
])
def test_inf_and_nan_are_read_and_then_refused_by_validation(write_scenario, old, new, path):
    err = _error(write_scenario(BASE.replace(old, new)))
    assert err.path == path and "finite" in err.message


# ---------------------------------------------------------------------------------------- extreme numbers

@pytest.mark.parametrize(("old", "new", "path"), [
    ("cpu: 500m", "cpu: 1e400", "services.web.resources.cpu"),
    ("cpu: 500m", "cpu: '1e400'", "services.web.resources.cpu"),
    ("memory: 1Gi", "memory: 1e99999999999", "services.web.resources.memory"),
    ("cost: 0.5", "cost: 1e400", "cluster.pools.cpu.cost"),
    ("seed: 3", "seed: 1e400", "seed"),
    ("replicas: 2", "replicas: " + "9" * 5000, "services.web.replicas"),
])
def test_huge_numbers_are_refused_with_the_field(write_scenario, old, new, path):
    err = _error(write_scenario(BASE.replace(old, new)))
    assert err.path == path or (err.path is None and err.line == _line(BASE, old)), err.one_line()


@pytest.mark.parametrize("override", ["services.web.resources.cpu=1e400",
                                      "services.web.resources.cpu='1e400'", "workload.duration=1e400"])
def test_huge_numbers_in_set_are_refused_with_the_field(write_scenario, override):
    err = _error(write_scenario(BASE), (override,))
    assert err.path == override.partition("=")[0] and "finite" in err.message, err.one_line()


def test_huge_numbers_in_grid_exit_2_with_one_line(write_scenario, tmp_path, capsys):
    code = main(["sweep", str(write_scenario(BASE)), "--grid", "services.web.resources.cpu=1,1e400",
                 "-o", str(tmp_path / "sweep")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "services.web.resources.cpu" in err, err


def test_tiny_numbers_end_at_once(write_scenario):
    s = load_scenario(write_scenario(BASE.replace("cpu: 500m", "cpu: 1e-999999999")))
    assert s.service("web").resources["cpu"] == 0.0


# -------------------------------------------------------------------------------------------- alias bombs

def billion_laughs(levels: int, key: str = "x-lol") -> str:
    """A document whose anchors multiply: 9 ** levels strings after expanding aliases."""
    lines = [f'{key}0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"{key}{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_scenario_ends_at_once_with_one_line(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text("name: laughs\n" + billion_laughs(9))
    assert_one_line_exit_2(run_guarded("validate", path), "CAPACITY_MAX_YAML_NODES", "laughs.yaml:")


def test_an_alias_bomb_in_set_is_refused(write_scenario):
    # 19 nodes written, 91 after expanding the aliases
    bomb = "[&a [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + ", ".join(["*a"] * 8) + "]"
    done = run_guarded("validate", write_scenario(BASE), "--set", f"description={bomb}",
                       env={"CAPACITY_MAX_YAML_NODES": "90"})   # the file has 89
    assert_one_line_exit_2(done, "CAPACITY_MAX_YAML_NODES", "--set description")


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request, monkeypatch):
    """Both event parsers: libyaml's (PyYAML's C binding) and PyYAML's own, used when libyaml is missing."""
    if request.param == "pure-python":
        monkeypatch.setattr(yamlio, "_parser", yamlio._PurePythonParser)
    return request.param


def test_both_parsers_read_the_same(parser):
    text = "a: 010\nb: [0o10, 0x10, 1:30, yes, ~, .inf, 2024-01-01]\nc: &c {x: 1}\nd: {<<: *c, y: 2}\n"
    data, lines = yamlio.load_document(text, "t.yaml")
    assert data["a"] == 10 and data["b"][:5] == [8, 16, "1:30", "yes", None] and data["b"][6] == "2024-01-01"
    assert data["d"] == {"x": 1, "y": 2} and lines[("d", "x")] == 3
    with pytest.raises(ScenarioError, match="CAPACITY_MAX_YAML_DEPTH"):
        yamlio.load_document("[" * 5000 + "]" * 5000, "t.yaml")
    with pytest.raises(ScenarioError, match="duplicate key 'a'") as err:
        yamlio.load_document("a: 1\nb: 2\na: 3\n", "t.yaml")
    assert err.value.line == 3


def test_nodes_are_counted_after_expanding_aliases(parser):
    text = "a: &a [x, x, x]\nb: [*a, *a, *a]\n"   # 11 nodes written; 20 after expanding the aliases
    tight, enough = InputLimits(max_nodes=19), InputLimits(max_nodes=20)
    with pytest.raises(ScenarioError, match="more than the limit of 19 nodes") as err:
        yamlio.load_document(text, "a.yaml", limits=tight)
    assert err.value.line == 2
    assert yamlio.load_document(text, "a.yaml", limits=enough)[0] == {"a": ["x"] * 3, "b": [["x"] * 3] * 3}


def test_the_node_limit_is_raised_by_its_environment_variable(write_scenario, monkeypatch):
    path = write_scenario(BASE + billion_laughs(2))
    monkeypatch.setenv("CAPACITY_MAX_YAML_NODES", "150")
    err = _error(path)
    assert "CAPACITY_MAX_YAML_NODES" in err.message and "x-lol" in (BASE + billion_laughs(2)).splitlines()[
        err.line - 1]
    monkeypatch.setenv("CAPACITY_MAX_YAML_NODES", "5000")
    assert "unknown field 'x-lol0'" in _error(path).message     # loads, then validation speaks


def test_aliases_within_the_limit_load_and_keep_their_lines(write_scenario):
    text = BASE.replace("    resources:\n      cpu: 500m", "    resources: &res\n      cpu: 500m").replace(
        "resources: {cpu: 1, memory: 2Gi, example.com/fpga: 1}", "resources: *res")
    s = load_scenario(write_scenario(text))
    assert s.service("batch").resources == {"cpu": 0.5, "memory": 2**30}
    _, lines = yamlio.load_document(text, "s.yaml")
    assert lines[("services", 1, "resources")] == _line(text, "resources: *res")
    assert lines[("services", 1, "resources", "memory")] == _line(text, "memory: 1Gi")


def test_a_recursive_alias_is_refused(write_scenario):
    err = _error(write_scenario(BASE + "description: &d [*d]\n"))
    assert "recursive" in err.message and err.line == _line(BASE + "description: &d [*d]\n", "description")


# ------------------------------------------------------------------------------------------ nesting depth

def test_deep_nesting_ends_with_one_line(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\ndescription: " + "[" * 500 + "]" * 500 + "\n")
    assert_one_line_exit_2(run_guarded("validate", path), "CAPACITY_MAX_YAML_DEPTH", "deep.yaml:2")


def test_deep_block_nesting_ends_with_one_line(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\n" + "".join(" " * i + f"k{i}:\n" for i in range(3000)))
    assert_one_line_exit_2(run_guarded("validate", path), "CAPACITY_MAX_YAML_DEPTH")


def test_deep_nesting_in_set_ends_with_one_line(write_scenario):
    done = run_guarded("validate", write_scenario(BASE), "--set", "description=" + "[" * 5000 + "]" * 5000)
    assert_one_line_exit_2(done, "CAPACITY_MAX_YAML_DEPTH", "--set")


def test_nesting_through_aliases_counts_too(write_scenario, monkeypatch):
    chain = "".join(f"x-{i}: &n{i} [*n{i - 1}]\n" for i in range(1, 30))
    text = BASE + "x-0: &n0 [1]\n" + chain
    monkeypatch.setenv("CAPACITY_MAX_YAML_DEPTH", "20")
    err = _error(write_scenario(text))
    assert "CAPACITY_MAX_YAML_DEPTH" in err.message and err.line == _line(text, "x-19:")


def test_the_depth_limit_is_inclusive(monkeypatch):
    monkeypatch.setenv("CAPACITY_MAX_YAML_DEPTH", "10")
    assert yamlio.load_value("[" * 10 + "]" * 10) == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(ScenarioError, match="nested too deeply, more than the limit of 10 levels"):
        yamlio.load_value("[" * 11 + "]" * 11)


# ------------------------------------------------------------------------------------------ reading files

def test_dev_zero_is_refused_at_once():
    assert_one_line_exit_2(run_guarded("validate", "/dev/zero"), "/dev/zero", "not a regular file")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    assert_one_line_exit_2(run_guarded("validate", fifo), "not a regular file")


def test_a_scenario_with_300000_labels_loads(tmp_path):
    """7 MB, 600,000 values: PyYAML's pure-Python loader took 47 s of CPU (parsing twice); within the limits,
    it must load (the timeout is a hang guard, not a speed test)."""
    path = tmp_path / "labels.yaml"
    labels = "".join(f"        k{i}: v{i}\n" for i in range(300_000))
    path.write_text("name: labels\ncluster:\n  pools:\n    - name: p\n      count: 10\n"
                    "      resources: {cpu: 4, memory: 8Gi}\n      labels:\n" + labels
                    + "services:\n  - {name: a, replicas: 1, resources: {cpu: 1, memory: 1Gi}}\n")
    done = run_guarded("validate", path)
    assert done.returncode == 0 and done.stdout.startswith("ok: labels"), done.stderr[-2000:]


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(write_scenario, monkeypatch):
    path = write_scenario(BASE)
    monkeypatch.setenv("CAPACITY_MAX_INPUT_BYTES", "100")
    err = _error(path)
    assert err.file == str(path) and "more than the limit of 100 bytes" in err.message
    assert "CAPACITY_MAX_INPUT_BYTES" in err.message
    monkeypatch.setenv("CAPACITY_MAX_INPUT_BYTES", "1Mi")
    assert load_scenario(path).name == "small"


@pytest.mark.parametrize("setting", ["CAPACITY_MAX_YAML_DEPTH=abc", "CAPACITY_MAX_YAML_NODES=0",
                                     "CAPACITY_MAX_INPUT_BYTES=-5", "CAPACITY_MAX_YAML_DEPTH=5000"])
def test_a_bad_limit_setting_is_one_line(write_scenario, setting):
    name, _, value = setting.partition("=")
    done = run_guarded("validate", write_scenario(BASE), env={name: value})
    assert_one_line_exit_2(done, name)


def test_limits_are_read_from_the_environment():
    limits = InputLimits.from_env({"CAPACITY_MAX_INPUT_BYTES": "8Mi", "CAPACITY_MAX_YAML_NODES": "1e6",
                                   "CAPACITY_MAX_YAML_DEPTH": "64"})
    assert limits == InputLimits(max_bytes=8 * 2**20, max_nodes=10**6, max_depth=64)
    assert InputLimits.from_env({}) == InputLimits()


# ------------------------------------------------------------------------------------ one error, one line

def test_a_newline_in_a_key_cannot_forge_a_second_line(write_scenario, capsys):
    text = BASE.replace("    replicas: 2\n", '    replicas: 2\n    "x\\nerror: forged": 1\n')
    assert main(["validate", str(write_scenario(text))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err.splitlines()) == 1 and "\\n" in err, err


def test_one_line_escapes_every_line_break_and_control_character():
    err = ScenarioError("bad\nerror: forged\r\u2028\x1b[31m", file="a\nb.yaml", line=3, path="x\x85y")
    one = err.one_line()
    assert len(one.splitlines()) == 1 and "\x1b" not in one and "\n" not in one
    assert "\\n" in one and "\\x1b" in one and "\\u2028" in one and "\\x85" in one


def test_a_huge_whatif_value_is_named_in_a_short_line(write_scenario):
    big = "[" + ", ".join(["x"] * 100_000) + "]"
    text = BASE + f"whatif:\n  cases:\n    big: {{description: &big {big}}}\n  grid:\n" \
                  "    services.web.replicas: [*big]\n"
    err = _error(write_scenario(text))
    assert err.path == "whatif.grid.services.web.replicas" and len(err.one_line()) < 400, err.one_line()[:400]


def test_odd_names_in_field_paths_are_quoted(write_scenario):
    text = BASE.replace("    replicas: 2\n", "    replicas: 2\n    'odd key': 1\n")
    err = _error(write_scenario(text))
    assert err.path == "services.web.'odd key'", err.one_line()


# --------------------------------------------------------------------------------------------- merge keys

MERGED = textwrap.dedent("""\
    name: merged
    cluster:
      pools:
        - {name: p, count: 4, resources: {cpu: 8, memory: 32Gi, nvidia.com/gpu: 4}}
    services:
      - name: a
        replicas: 2
        resources: &small {cpu: 250m, memory: 256Mi}
        serving: &serving
          concurrency: 2
          service_time: {dist: exponential, mean: 20ms}
      - name: b
        replicas: 1
        resources:
          <<: *small
          memory: 1Gi
        serving:
          <<: *serving
          concurrency: 4
      - name: c
        replicas: 1
        resources: {<<: [*small, {cpu: 2, nvidia.com/gpu: 1}]}
    """)


def test_merge_keys_insert_keys_and_explicit_keys_win():
    data, _ = yamlio.load_document(MERGED, "m.yaml")
    b, c = data["services"][1], data["services"][2]
    assert b["resources"] == {"cpu": "250m", "memory": "1Gi"}
    assert b["serving"] == {"concurrency": 4, "service_time": {"dist": "exponential", "mean": "20ms"}}
    # of several merged mappings, the earlier one wins
    assert c["resources"] == {"cpu": "250m", "memory": "256Mi", "nvidia.com/gpu": 1}
    assert data["services"][0]["resources"] == {"cpu": "250m", "memory": "256Mi"}  # the anchor is unchanged


def test_a_scenario_with_merge_keys_loads(write_scenario):
    s = load_scenario(write_scenario(MERGED))
    assert s.service("b").resources == {"cpu": 0.25, "memory": 2**30}
    assert s.service("b").serving.concurrency == 4 and s.service("c").resources["nvidia.com/gpu"] == 1


def test_duplicate_explicit_keys_are_still_refused_beside_a_merge():
    text = MERGED.replace("      memory: 1Gi\n", "      memory: 1Gi\n      memory: 2Gi\n")
    with pytest.raises(ScenarioError, match="duplicate key 'memory'") as err:
        yamlio.load_document(text, "m.yaml")
    assert err.value.line == _line(text, "memory: 2Gi")


def test_two_merge_keys_in_one_mapping_are_a_duplicate():
    text = MERGED.replace("      memory: 1Gi\n", "      memory: 1Gi\n      <<: *small\n")
    with pytest.raises(ScenarioError, match="duplicate key '<<'"):
        yamlio.load_document(text, "m.yaml")


@pytest.mark.parametrize("value", ["3", "[1, 2]", "[*small, 3]"])
def test_a_merge_of_something_else_than_mappings_is_refused(value):
    text = MERGED.replace("<<: *serving", f"<<: {value}")
    with pytest.raises(ScenarioError, match="merge key") as err:
        yamlio.load_document(text, "m.yaml")
    assert err.value.line == _line(text, f"<<: {value}")


def test_lines_follow_merged_values_to_where_they_were_written():
    _, lines = yamlio.load_document(MERGED, "m.yaml")
    assert lines[("services", 1, "resources", "cpu")] == _line(MERGED, "resources: &small")
    assert lines[("services", 1, "resources", "memory")] == _line(MERGED, "memory: 1Gi")
    assert lines[("services", 1, "serving", "service_time", "mean")] == _line(MERGED, "service_time:")
    assert lines[("services", 1, "serving", "concurrency")] == _line(MERGED, "concurrency: 4")
    assert lines[("services", 2, "resources", "nvidia.com/gpu")] == _line(MERGED, "nvidia.com/gpu: 1")
    assert lines[("services", 2)] == _line(MERGED, "- name: c")


def test_merged_values_are_validated_with_their_own_line(write_scenario):
    text = MERGED.replace("resources: &small {cpu: 250m", "resources: &small {cpu: lots")
    err = _error(write_scenario(text))
    assert err.path == "services.a.resources.cpu" and err.line == _line(text, "cpu: lots")
    text = MERGED.replace("concurrency: 4", "concurrency: many")
    err = _error(write_scenario(text))
    assert err.path == "services.b.serving.concurrency" and err.line == _line(text, "concurrency: many")


# ----------------------------------------------------------------------------------------- fuzzing the reader

FRAGMENTS = st.sampled_from([
    "a", "b", "<<", "'<<'", "010", "0o17", "0x1F", "1:30", "1e400", "-1e-999999999", ".inf", ".nan", "true",
    "yes", "~", "null", "2024-01-01", "9" * 5000, "!!python/name:os.system x", "!!binary aGk=", "!!set {a}",
    "!!int '010'", "!!float x", "&x", "*x", "&y", "*y", "*z", "[", "]", "{", "}", ", ", ": ", "- ", "\n",
    "\n  ", "\n    - ", "\t", "#c", '"q\\n"', "---\n", "\x07", "é", "\u2028", "? ", "|\n  text",
])


@settings(deadline=None, derandomize=True, database=None, max_examples=examples(300), print_blob=False)
@given(st.lists(FRAGMENTS, max_size=40).map("".join))
def test_the_reader_returns_plain_data_or_one_scenario_error(text):
    """Whatever the text, reading it returns JSON-able data (no cycles, sets, bytes or dates) with a usable
    line map, or raises a `ScenarioError` of one line; within small limits, so each case is quick."""
    limits = InputLimits(max_bytes=2**20, max_nodes=500, max_depth=8)
    try:
        data, lines = yamlio.load_document(text, "f.yaml", limits=limits)
    except ScenarioError as exc:
        assert len(exc.one_line().splitlines()) == 1
        return
    json.dumps(data)
    for loc in lines:
        assert lines[loc] >= 1


@settings(deadline=None, derandomize=True, database=None, max_examples=examples(300), print_blob=False)
@given(st.one_of(st.text(st.characters(exclude_characters="\x85"), max_size=12),  # PyYAML folds NEL
                 st.sampled_from(["0o17", "1e3", "+.5e3", "-1E-3", "010", "0x1F",
                                  "1:30", ".inf", "-.Inf", ".NaN", "~", "Null", "TRUE", "yes"])))
def test_what_the_dumper_writes_reads_back_the_same(text):
    """`yamlio.Dumper` quotes every string a YAML 1.2 reader would take for a number, boolean or null."""
    written = yaml.dump({"k": text, "n": [1, 2.5, True, None]}, Dumper=yamlio.Dumper, allow_unicode=True)
    assert yamlio.load_document(written, "w.yaml")[0] == {"k": text, "n": [1, 2.5, True, None]}


@pytest.mark.parametrize("override", ["name=a\udcffb", "services.api.replicas=\udcff"])
def test_a_set_value_that_is_not_utf8_is_one_line(write_scenario, capsys, override):
    """Bytes that are not UTF-8 on the command line reach Python as lone surrogates (``surrogateescape``);
    no YAML reader takes them: one line naming the byte, exit 2 (was a UnicodeEncodeError traceback)."""
    path = write_scenario(BASE)
    assert main(["validate", str(path), "--set", override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not UTF-8 text (byte 0xff at character" in err[0], err
