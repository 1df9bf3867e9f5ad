"""import-k8s under hostile input (issue 12): alias bombs and deep nesting in YAML and JSON manifests, huge
and tiny quantities, FIFOs and devices as manifests or node lists, oversized files, merge keys and YAML 1.2
numbers; and CPU below a millicore, which the scheduler rounds up to 1m.

The inputs that used to take gigabytes or never end run the CLI in a subprocess (1.5 GB memory limit, a
hang guard only): exit 2, one line on stderr, no traceback."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from capacity.cli import main
from capacity.k8s import import_k8s
from capacity.k8s import quantities as q
from capacity.k8s.nodes import parse_pool_option
from capacity.scenario import load_scenario
from tests.test_yaml_input import assert_one_line_exit_2, run_guarded

POOL = "std=cpu:4,memory:16Gi,count:3"
DATA = Path(__file__).parent / "data"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: c
          resources: {requests: {cpu: CPU, memory: 64Mi}}
"""


def deployment(tmp_path: Path, cpu: str = "100m", replicas: str = "2") -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(DEPLOYMENT.replace("CPU", cpu).replace("replicas: 2", f"replicas: {replicas}"))
    return path


def imported(path: Path, *pools: str) -> dict:
    return import_k8s([path], pools=[parse_pool_option(p) for p in pools or (POOL,)], name="t").scenario


# ---------------------------------------------------------------------------------------------- bombs, depth

def test_an_alias_bomb_list_of_deployments_ends_at_once(tmp_path):
    lines = ["apiVersion: v1", "kind: List", "x-d: &d {apiVersion: apps/v1, kind: Deployment, "
             "metadata: {name: web}, spec: {replicas: 1, template: {spec: {containers: [{name: c}]}}}}"]
    lines.append("x-1: &l1 [" + ", ".join(["*d"] * 9) + "]")
    for i in range(2, 7):
        lines.append(f"x-{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    lines.append("items: *l6")                       # 531,441 Deployments after expanding
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    done = run_guarded("import-k8s", path, "--pool", POOL, "-o", tmp_path / "s.yaml")
    assert_one_line_exit_2(done, "CAPACITY_MAX_YAML_NODES", "bomb.yaml:")
    assert not (tmp_path / "s.yaml").exists()


@pytest.mark.parametrize("kind", ["yaml", "json"])
def test_deep_nesting_in_a_manifest_ends_with_one_line(tmp_path, kind):
    path = tmp_path / f"deep.{kind}"
    if kind == "json":
        path.write_text('{"kind": "Deployment", "metadata": {"name": "web"}, "spec": '
                        + '{"a": ' * 5000 + "1" + "}" * 5000 + "}")
    else:
        path.write_text("kind: Deployment\nmetadata: {name: web}\nspec: " + "[" * 500 + "]" * 500 + "\n")
    done = run_guarded("import-k8s", path, "--pool", POOL)
    assert_one_line_exit_2(done, "CAPACITY_MAX_YAML_DEPTH", f"deep.{kind}:")


def test_json_strings_with_brackets_do_not_count_as_nesting(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPACITY_MAX_YAML_DEPTH", "12")
    path = tmp_path / "ok.json"
    obj = yaml.safe_load(DEPLOYMENT.replace("CPU", "100m"))
    obj["metadata"]["annotations"] = {"note": "[[[[[[[[[[[[[[[[ {{{{{{{{{{{{ \\\" [[[["}
    path.write_text(json.dumps(obj))
    assert imported(path)["services"][0]["replicas"] == 2


# ---------------------------------------------------------------------------------------------- numbers

def test_a_huge_quantity_in_a_manifest_is_one_line(tmp_path, capsys):
    path = deployment(tmp_path, cpu="1e400")
    assert main(["import-k8s", str(path), "--pool", POOL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resources.requests.cpu" in err and "finite" in err, err


@pytest.mark.parametrize(("cpu", "cores"), [("'1e-999999999'", 0.001),   # a quantity: 1n, which is 1m
                                            ("1e-999999999", 0.0)])       # a YAML float: 0.0 already
def test_a_tiny_exponent_in_a_manifest_ends(tmp_path, cpu, cores):
    done = run_guarded("import-k8s", deployment(tmp_path, cpu=cpu), "--pool", POOL, "-o", tmp_path / "s.yaml")
    assert done.returncode == 0, done.stderr
    assert load_scenario(tmp_path / "s.yaml").service("web").resources.get("cpu", 0.0) == pytest.approx(cores)


def test_a_huge_pool_quantity_is_one_line(capsys):
    assert main(["import-k8s", str(DATA / "boutique"), "--pool", "std=cpu:1e400,memory:16Gi"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--pool" in err and "finite" in err, err


@pytest.mark.parametrize("option", ["std=cpu:4,memory:16Gi,count:" + "9" * 5000, "std=cpu:4,cost:1e400",
                                    "std=cpu:4,count:²"])
def test_bad_pool_numbers_are_one_short_line(option, capsys):
    assert main(["import-k8s", str(DATA / "boutique"), "--pool", option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 400, err


@pytest.mark.parametrize(("cpu", "written"), [("0.1m", "1m"), ("100u", "1m"), ("1500u", "2m"), ("1n", "1m"),
                                              ("250m", "250m"), ("0.0005", "1m")])
def test_cpu_below_a_millicore_is_rounded_up_as_the_scheduler_does(tmp_path, cpu, written):
    scenario = imported(deployment(tmp_path, cpu=cpu))
    assert scenario["services"][0]["resources"]["cpu"] == written


def test_other_resources_are_rounded_up_to_whole_units():
    assert q.scheduled("memory", Fraction(1, 2)) == 1 and q.scheduled("nvidia.com/gpu", Fraction(3, 2)) == 2
    assert q.scheduled("cpu", Fraction(1, 10_000)) == Fraction(1, 1000)
    assert parse_pool_option("p=cpu:0.1m,memory:0.5").allocatable == {"cpu": Fraction(1, 1000), "memory": 1}


def test_yaml_1_2_numbers_in_manifests(tmp_path):
    assert imported(deployment(tmp_path, replicas="010"))["services"][0]["replicas"] == 10


# ---------------------------------------------------------------------------------------------- files

@pytest.mark.parametrize("where", ["manifest", "nodes"])
def test_a_fifo_is_refused_without_waiting(tmp_path, where):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    args = ([fifo, "--pool", POOL] if where == "manifest" else [DATA / "boutique", "--nodes", fifo])
    assert_one_line_exit_2(run_guarded("import-k8s", *args), "not a regular file")


def test_dev_zero_as_a_node_list_is_refused():
    done = run_guarded("import-k8s", DATA / "boutique", "--nodes", "/dev/zero")
    assert_one_line_exit_2(done, "/dev/zero", "not a regular file")


def test_a_manifest_over_the_size_limit_is_refused(tmp_path, monkeypatch, capsys):
    path = deployment(tmp_path)
    monkeypatch.setenv("CAPACITY_MAX_INPUT_BYTES", "64")
    assert main(["import-k8s", str(path), "--pool", POOL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CAPACITY_MAX_INPUT_BYTES" in err and "web.yaml" in err, err


# ---------------------------------------------------------------------------------------------- merge keys

def test_merge_keys_in_manifests(tmp_path):
    path = tmp_path / "merged.yaml"
    path.write_text(DEPLOYMENT.replace("CPU", "100m").replace(
        "resources: {requests: {cpu: 100m, memory: 64Mi}}",
        "resources: {requests: &req {cpu: 100m, memory: 64Mi}, limits: {<<: *req, cpu: 200m}}"))
    svc = imported(path)["services"][0]
    assert svc["resources"]["cpu"] == "100m" and svc["resources"]["memory"] == "64Mi"


def test_label_values_that_look_like_yaml_1_2_numbers_survive_the_scenario_file(tmp_path):
    path = tmp_path / "web.yaml"
    path.write_text(DEPLOYMENT.replace("CPU", "100m").replace(
        "      containers:", "      nodeSelector: {tier: '1e3', gen: '0o17'}\n      containers:"))
    out = tmp_path / "s.yaml"
    pool = POOL + ",label:tier=1e3,label:gen=0o17"
    assert main(["import-k8s", str(path), "--pool", pool, "-o", str(out)]) == 0
    scenario = load_scenario(out)
    assert scenario.pool("std").labels["tier"] == "1e3" and scenario.pool("std").labels["gen"] == "0o17"
