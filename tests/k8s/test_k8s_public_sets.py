"""The Kubernetes rules on public manifest sets (tests/k8s/data/README.md gives sources and licences): the
OpenTelemetry Demo (memory limits and no requests), Kubernetes' own vLLM example (a GPU Deployment and its
HorizontalPodAutoscaler), NVIDIA's device-plugin DaemonSet, KServe's disaggregated LLMInferenceService
sample and its InferenceService samples (also tests/k8s/test_k8s_kserve.py); the Kubernetes documentation's
own examples are in tests/k8s/test_k8s_website.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from capacity import pipeline
from capacity.cli import main
from capacity.errors import InfeasiblePlacement, ScenarioError
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
    assert "HPA behavior" not in text                            # carried, not ignored
    behavior = yaml.safe_load(out.read_text())["services"][0]["autoscaling"]["behavior"]
    assert behavior == {"scale_down": {"stabilization": 30,
                                       "policies": [{"type": "Percent", "value": 100, "period": 15}]}}
    # the GPU pool's taint keeps it off: plan names the taint
    assert main(["plan", str(out)]) == 3
    err = capsys.readouterr().err
    assert "pool g2 offers nvidia.com/gpu but its taint nvidia.com/gpu=present:NoSchedule" in err
    assert main(["import-k8s", str(VLLM), "--pool", gpu, "--pool", cpu, "--extended-resource-toleration",
                 "-o", str(out)]) == 0
    assert main(["plan", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    assert doc["services"][0]["autoscaling"] == {"min": 1, "max": 5, "metric": "concurrency", "target": 4,
                                                 "policy": "hpa", "behavior": behavior}


def test_vllm_example_refused_when_its_gpu_request_differs_from_the_limit(tmp_path):
    bad = tmp_path / "vllm.yaml"
    text = VLLM.read_text()
    head, _, tail = text.partition("          limits:\n")
    tail = tail.replace('nvidia.com/gpu: "1"', 'nvidia.com/gpu: "2"', 1)
    bad.write_text(head + "          limits:\n" + tail)
    with pytest.raises(ScenarioError, match=r"1 must be equal to nvidia\.com/gpu limit of 2"):
        import_k8s([bad], pools=[parse_pool_option("n=cpu:8,memory:32Gi,nvidia.com/gpu:2")])


# ---------------------------------------------------------------------------------------------- GPU sets

DEVICE_PLUGIN = DATA / "nvidia" / "nvidia-device-plugin.yml"
LLMISVC = DATA / "kserve-llm" / "llmisvc-pd.yaml"
GPU_POOL = ("g2=cpu:8,memory:32Gi,nvidia.com/gpu:1,ephemeral-storage:100Gi,pods:110,count:3,"
            "taint:nvidia.com/gpu=present:NoSchedule")
CPU_POOL = "c2=cpu:8,memory:32Gi,ephemeral-storage:100Gi,pods:110,count:3"


def test_device_plugin_daemonset_runs_on_the_tainted_gpu_nodes_and_the_rest():
    """NVIDIA's device-plugin DaemonSet tolerates ``nvidia.com/gpu:NoSchedule`` and selects no nodes, so
    the DaemonSet controller runs one pod on every node, the tainted GPU nodes included (docs: "DaemonSet",
    *Taints and tolerations*; "Taints and Tolerations"). It sets no requests: each node loses one pod slot.
    The vLLM Deployment beside it tolerates nothing, so the GPU pool's taint keeps it off, and the plan
    names that taint; its priorityClassName is listed (no preemption in the plan)."""
    result = import_k8s([DEVICE_PLUGIN, VLLM], pools=[parse_pool_option(GPU_POOL),
                                                       parse_pool_option(CPU_POOL)])
    assert [d.label for d in result.daemonsets] == ["DaemonSet kube-system/nvidia-device-plugin-daemonset"]
    assert {p.name: p.allocatable["pods"] for p in result.pools} == {"g2": 109, "c2": 109}
    assert any(k.startswith("priorityClassName system-node-critical") for k in result.ignored)
    with pytest.raises(InfeasiblePlacement, match=r"pool g2 offers nvidia\.com/gpu but its taint "
                                            r"nvidia\.com/gpu=present:NoSchedule is not tolerated"):
        pipeline.pack(result.validated())


def test_llm_inference_service_sample_prefill_and_decode_on_gpu_nodes():
    """KServe's disaggregated LLMInferenceService sample: decode (``spec.replicas`` 1) and prefill
    (``spec.prefill.replicas`` 2), each pod 2 CPU / 16Gi (the requests; the 4-CPU/32Gi limits do not
    count), one GPU and one ``rdma/roce_gdr`` (extended resources: request = limit). On one-GPU nodes that
    offer the RDMA device: three nodes. Without the RDMA device anywhere, nothing fits, and the plan says
    which resource no node offers."""
    rdma = parse_pool_option("g=cpu:16,memory:64Gi,nvidia.com/gpu:1,rdma/roce_gdr:1,pods:110,count:4")
    result = import_k8s([LLMISVC], pools=[rdma])
    s = {v["name"]: v for v in result.scenario["services"]}
    assert {n: (v["replicas"], v["resources"]) for n, v in s.items()} == {
        "qwen2-7b-instruct-pd": (1, {"cpu": 2, "memory": "16Gi", "nvidia.com/gpu": 1, "pods": 1,
                                     "rdma/roce_gdr": 1}),
        "qwen2-7b-instruct-pd-prefill": (2, {"cpu": 2, "memory": "16Gi", "nvidia.com/gpu": 1, "pods": 1,
                                             "rdma/roce_gdr": 1})}
    assert result.from_limits == []
    assert pipeline.pack(result.validated()).nodes_used == 3
    plain = import_k8s([LLMISVC], pools=[parse_pool_option("g=cpu:16,memory:64Gi,nvidia.com/gpu:1,count:4")])
    with pytest.raises(InfeasiblePlacement, match=r"no allowed node offers rdma/roce_gdr"):
        pipeline.pack(plain.validated())


def test_llm_inference_service_refused_when_a_gpu_request_differs_from_its_limit(tmp_path):
    """The API server refuses an extended resource whose request differs from its limit
    (``ValidateResourceRequirements``): the sample with a 2-GPU limit on the decode template."""
    bad = tmp_path / "llmisvc.yaml"
    bad.write_text(LLMISVC.read_text().replace('            nvidia.com/gpu: "1"\n            rdma',
                                               '            nvidia.com/gpu: "2"\n            rdma', 1))
    with pytest.raises(ScenarioError, match=r"LLMInferenceService default/qwen2-7b-instruct-pd\) spec."
                                            r"template.containers\[0\].resources.requests.nvidia.com/gpu: 1 "
                                            r"must be equal to nvidia.com/gpu limit of 2"):
        import_k8s([bad], pools=[parse_pool_option("g=cpu:16,memory:64Gi,nvidia.com/gpu:2,count:4")])


def test_kserve_llama3_sample_on_a_tainted_gpu_pool_names_the_taint():
    """KServe's Hugging Face Llama 3 InferenceService tolerates nothing: on a cluster whose only GPU pool
    carries ``nvidia.com/gpu=present:NoSchedule`` it stays Pending, and the plan names the taint; with
    the ExtendedResourceToleration admission plugin (docs: "Admission Controllers Reference") the pod
    requesting ``nvidia.com/gpu`` tolerates that taint and runs there."""
    kserve = DATA / "kserve"
    pools = [parse_pool_option(CPU_POOL), parse_pool_option(GPU_POOL)]
    result = import_k8s([kserve], pools=pools)
    with pytest.raises(InfeasiblePlacement, match=r"service 'huggingface-llama3-predictor'.*pool g2 "
                                                  r"offers nvidia\.com/gpu but its taint "
                                                  r"nvidia\.com/gpu=present:NoSchedule"):
        pipeline.pack(result.validated())
    tolerant = import_k8s([kserve], pools=pools, extended_resource_toleration=True)
    placement = pipeline.pack(tolerant.validated())
    assert not placement.unplaced
    assert placement.assignment["huggingface-llama3-predictor-0"].startswith("g2-")


def test_vllm_and_device_plugin_on_nodes_plus_a_gpu_pool_keep_each_pools_pod_slots(tmp_path):
    """``--nodes`` (written for the test: three EKS m5.large nodes, which report 29 pod slots) plus a GPU
    ``--pool`` that names none: the nodes keep 29, the pool gets the kubelet's default 110 (``maxPods``),
    each less the device plugin's one pod per node. The vLLM pod lands on the GPU pool once the
    ExtendedResourceToleration admission plugin lets it tolerate the GPU taint."""
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"ip-10-0-{i}-7.ec2.internal", "labels": {
            "kubernetes.io/hostname": f"ip-10-0-{i}-7.ec2.internal",
            "node.kubernetes.io/instance-type": "m5.large"}},
         "status": {"allocatable": {"cpu": "1930m", "memory": "7068Mi", "ephemeral-storage": "18242267924",
                                    "pods": "29"}}} for i in range(3)]}))
    gpu = "g2=cpu:8,memory:32Gi,nvidia.com/gpu:1,ephemeral-storage:100Gi,count:2," \
          "taint:nvidia.com/gpu=present:NoSchedule"
    result = import_k8s([DEVICE_PLUGIN, VLLM], nodes_path=str(nodes), pools=[parse_pool_option(gpu)],
                        extended_resource_toleration=True)
    slots = {p["name"]: p["resources"]["pods"] for p in result.scenario["cluster"]["pools"]}
    assert slots == {"m5.large": 28, "g2": 109}
    assert any("pool g2: pod slots not given, 110 assumed" in n for n in result.notes)
    placement = pipeline.pack(result.validated())
    assert placement.assignment == {"vllm-gemma-deployment-0": "g2-0"}


def test_kserve_transformer_sample_becomes_a_transformer_and_a_predictor():
    """KServe's TorchServe image-transformer sample: a custom transformer container and a ``pytorch``
    predictor, neither setting resources. Each component is its own Knative service (KServe docs,
    "Transformers"): KServe's default resources (cpu 1, memory 2Gi: the ``inferenceservice-config``
    defaults) plus Knative's queue-proxy (25m), one replica each (``minReplicas`` default 1). The
    predictor's ``gs://`` storage URI adds the storage initializer, an init container (100m, 100Mi) that
    does not raise the pod's peak. Two 1025m pods do not share a 2-CPU node."""
    result = import_k8s([DATA / "kserve-transformer"],
                        pools=[parse_pool_option("c=cpu:2,memory:8Gi,pods:110,count:4")])
    s = {v["name"]: v for v in result.scenario["services"]}
    assert {n: (v["replicas"], v["resources"]) for n, v in s.items()} == {
        "torchserve-transformer-predictor": (1, {"cpu": "1025m", "memory": "2Gi", "pods": 1}),
        "torchserve-transformer-transformer": (1, {"cpu": "1025m", "memory": "2Gi", "pods": 1})}
    assert result.scenario["kubernetes"]["workloads"]["torchserve-transformer-transformer"] == {
        "kind": "InferenceService", "namespace": "default", "name": "torchserve-transformer",
        "component": "transformer"}
    notes = "\n".join(result.notes)
    assert "predictor: pytorch: read as model.modelFormat.name pytorch" in notes
    assert "predictor: storageUri: the storage-initializer" in notes
    assert pipeline.pack(result.validated()).nodes_used == 2
