"""The Kubernetes rules on public manifest sets (tests/k8s/data/README.md gives sources and licences): the
OpenTelemetry Demo (memory limits and no requests), Kubernetes' own vLLM example (a GPU Deployment and its
HorizontalPodAutoscaler) and KServe's samples (tests/k8s/test_k8s_kserve.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from capacity import pipeline
from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.k8s import import_k8s, parse_pool_option

DATA = Path(__file__).parent / "data"
OTEL = DATA / "otel-demo" / "otel-demo.yaml"
VLLM = DATA / "vllm" / "vllm.yaml"
MIB = 2**20


def services(result) -> dict:
    return {s["name"]: s for s in result.scenario["services"]}


def test_otel_demo_requests_its_memory_limits_as_the_api_server_defaults_them():
    pool = parse_pool_option("small=cpu:2,memory:1Gi,count:10")
    result = import_k8s([OTEL], pools=[pool])
    memory = {n.removeprefix("opentelemetry-demo-"): s["resources"]["memory"]
              for n, s in services(result).items()}
    assert memory == {"flagd": "20Mi", "frauddetectionservice": "200Mi", "frontend": "200Mi",
                      "frontendproxy": "50Mi", "kafka": "500Mi", "loadgenerator": "1Gi"}
    assert len(result.from_limits) == 6
    # 1994Mi in all on 1Gi nodes: the loadgenerator fills one, the other five (970Mi) a second; read the
    # old way (limits ignored), everything on 1
    assert pipeline.pack(result.validated()).nodes_used == 2
    old = import_k8s([OTEL], pools=[pool], fill_from_limits=False)
    assert pipeline.pack(old.validated()).nodes_used == 1
    # no pod slots given: 110 per node, said once per pool
    assert result.scenario["cluster"]["pools"][0]["resources"]["pods"] == 110
    # the busybox init container sets nothing: reported, counted 0
    assert any("wait-for-kafka (init): no cpu request or limit" in m for m in result.missing)


def test_otel_demo_refuses_a_half_byte_memory_limit(tmp_path):
    bad = tmp_path / "otel.yaml"
    bad.write_text(OTEL.read_text().replace("memory: 50Mi", "memory: 50m"))
    with pytest.raises(ScenarioError,
                       match=r"containers\[0\].resources.limits.memory: fractional byte value 50m"):
        import_k8s([bad], pools=[parse_pool_option("n=cpu:2,memory:1Gi")])


def test_otel_demo_running_pods_become_the_existing_placement(tmp_path):
    """A cluster dump: the demo's Deployments with one running pod each, five on one node (970Mi of its
    1200Mi), the loadgenerator (1Gi) on the other."""
    docs = list(yaml.safe_load_all(OTEL.read_text()))
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}", "labels": {
            "node.kubernetes.io/instance-type": "e2-standard-2"}},
         "status": {"allocatable": {"cpu": "1930m", "memory": "1200Mi", "pods": "110"}}} for i in range(2)]}))
    pods = []
    for i, d in enumerate(d for d in docs if d):
        template = d["spec"]["template"]
        pods.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": f"{d['metadata']['name']}-abc", "namespace": "otel-demo",
            "labels": template["metadata"]["labels"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                 "name": f"{d['metadata']['name']}-5d9c"}]},
                     "spec": {**template["spec"], "nodeName": f"node-{0 if i < 5 else 1}"},
                     "status": {"phase": "Running"}})
    dump = tmp_path / "dump.yaml"
    dump.write_text(OTEL.read_text() + "---\n" + yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                                                   "items": pods}))
    result = import_k8s([dump], nodes_path=str(nodes), grow=1)
    existing = result.scenario["placement"]["existing"]
    assert sum(sum(v.values()) for v in existing.values()) == 6
    placement = pipeline.pack(result.validated())
    assert placement.moves == 0 and not placement.unplaced


def test_vllm_example_hpa_and_gpu(tmp_path, capsys):
    gpu = "g2=cpu:8,memory:32Gi,nvidia.com/gpu:1,ephemeral-storage:100Gi,count:3," \
          "taint:nvidia.com/gpu=present:NoSchedule"
    cpu = "c2=cpu:8,memory:32Gi,ephemeral-storage:100Gi,count:3"
    out = tmp_path / "s.yaml"
    assert main(["import-k8s", str(VLLM), "--pool", gpu, "--pool", cpu, "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "HPA 1..5, concurrency 4" in text                      # vllm_num_requests_running, averageValue 4
    assert "HPA behavior (scale-up/down policies" in text
    # the GPU pool's taint keeps it off: plan names the taint
    assert main(["plan", str(out)]) == 3
    err = capsys.readouterr().err
    assert "pool g2 offers nvidia.com/gpu but its taint nvidia.com/gpu=present:NoSchedule" in err
    assert main(["import-k8s", str(VLLM), "--pool", gpu, "--pool", cpu, "--extended-resource-toleration",
                 "-o", str(out)]) == 0
    assert main(["plan", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    assert doc["services"][0]["autoscaling"] == {"min": 1, "max": 5, "metric": "concurrency", "target": 4,
                                                 "policy": "hpa"}


def test_vllm_example_refused_when_its_gpu_request_differs_from_the_limit(tmp_path):
    bad = tmp_path / "vllm.yaml"
    text = VLLM.read_text()
    head, _, tail = text.partition("          limits:\n")
    tail = tail.replace('nvidia.com/gpu: "1"', 'nvidia.com/gpu: "2"', 1)
    bad.write_text(head + "          limits:\n" + tail)
    with pytest.raises(ScenarioError, match=r"1 must be equal to nvidia\.com/gpu limit of 2"):
        import_k8s([bad], pools=[parse_pool_option("n=cpu:8,memory:32Gi,nvidia.com/gpu:2")])
