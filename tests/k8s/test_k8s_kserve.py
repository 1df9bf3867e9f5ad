"""KServe InferenceServices expanded into the pods KServe runs: the runtime's container, KServe's default
resources, Knative's queue-proxy, the storage initializer, replicas and autoscaling; on KServe's own samples
(tests/k8s/data/kserve) and on small hand-written cases."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from capacity import pipeline
from capacity.errors import ScenarioError
from capacity.k8s import export_plan, import_k8s, parse_pool_option

DATA = Path(__file__).parent / "data" / "kserve"
POOLS = [parse_pool_option("cpu=cpu:8,memory:32Gi,pods:110,count:4"),
         parse_pool_option("gpu=cpu:16,memory:64Gi,nvidia.com/gpu:1,pods:110,count:2,"
                           "label:accelerator=a10,taint:nvidia.com/gpu=present:NoSchedule")]


def services(result) -> dict:
    return {s["name"]: s for s in result.scenario["services"]}


def test_kserve_samples_become_services_with_runtime_resources_and_sidecars():
    result = import_k8s([DATA], pools=POOLS)
    s = services(result)
    assert set(s) == {"sklearn-iris-predictor", "huggingface-llama3-predictor"}
    # sklearn: the runtime's 1 cpu / 2Gi, Knative's queue-proxy 25m; the storage initializer (100m, 100Mi)
    # runs before them and does not raise the peak
    assert s["sklearn-iris-predictor"]["resources"] == {"cpu": "1025m", "memory": "2Gi", "pods": 1}
    assert s["huggingface-llama3-predictor"]["resources"] == {"cpu": "6025m", "memory": "24Gi",
                                                             "nvidia.com/gpu": 1, "pods": 1}
    assert s["sklearn-iris-predictor"]["autoscaling"] == {"min": 1, "max": 1, "metric": "concurrency",
                                                          "target": 100, "policy": "kpa"}
    notes = "\n".join(result.notes)
    assert "sklearn: read as model.modelFormat.name sklearn" in notes
    assert "runtime ClusterServingRuntime kserve-sklearnserver" in notes
    assert "queue-proxy" in notes and "storage-initializer" in notes
    workloads = result.scenario["kubernetes"]["workloads"]
    assert workloads["huggingface-llama3-predictor"] == {
        "kind": "InferenceService", "namespace": "default", "name": "huggingface-llama3",
        "component": "predictor"}
    assert not [k for k in result.ignored if "ServingRuntime" in k or "InferenceService" in k]


def test_the_samples_plan_on_a_gpu_pool_without_taints():
    pools = [POOLS[0], parse_pool_option("gpu=cpu:16,memory:64Gi,nvidia.com/gpu:1,pods:110,count:2")]
    scenario = import_k8s([DATA], pools=pools).validated()
    placement = pipeline.pack(scenario)
    assert not placement.unplaced
    where = {r: n for r, n in placement.assignment.items()}
    assert where["huggingface-llama3-predictor-0"].startswith("gpu-")


def write(tmp_path: Path, *parts: str) -> Path:
    """Each part dedented on its own, then joined."""
    path = tmp_path / "isvc.yaml"
    path.write_text("".join(textwrap.dedent(p) for p in parts))
    return path


RUNTIMES = """\
    apiVersion: serving.kserve.io/v1alpha1
    kind: ClusterServingRuntime
    metadata: {name: cluster-vllm}
    spec:
      supportedModelFormats: [{name: vllm, autoSelect: true, priority: 5}]
      containers: [{name: kserve-container, resources: {limits: {nvidia.com/gpu: 1}}}]
    ---
    apiVersion: serving.kserve.io/v1alpha1
    kind: ServingRuntime
    metadata: {name: team-vllm, namespace: ml}
    spec:
      supportedModelFormats: [{name: vllm, autoSelect: true, priority: 5}]
      tolerations: [{key: nvidia.com/gpu, operator: Exists}]
      nodeSelector: {accelerator: a10}
      containers:
      - name: kserve-container
        resources: {requests: {cpu: "4", memory: 16Gi}, limits: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}}
      - name: metrics-exporter
        resources: {requests: {cpu: 100m, memory: 64Mi}}
    ---
    """


def test_runtime_selection_namespace_first_its_pod_fields_and_raw_mode_hpa(tmp_path):
    path = write(tmp_path, RUNTIMES, """\
        apiVersion: serving.kserve.io/v1beta1
        kind: InferenceService
        metadata:
          name: chat
          namespace: ml
          annotations: {serving.kserve.io/deploymentMode: RawDeployment}
        spec:
          predictor:
            minReplicas: 2
            maxReplicas: 6
            scaleMetric: cpu
            scaleTarget: 60
            model:
              modelFormat: {name: vllm}
              storageUri: pvc://models/chat
              resources: {requests: {memory: 20Gi}, limits: {memory: 20Gi}}
          transformer:
            containers:
            - name: tokenizer
              resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: 500m, memory: 1Gi}}
        """)
    result = import_k8s([path], pools=POOLS)
    s = services(result)
    # the namespace's runtime (same priority as the cluster one): its cpu 4 with the model's memory 20Gi,
    # its GPU, plus its exporter; no queue-proxy (raw mode) and no storage initializer (pvc://)
    assert s["chat-predictor"]["resources"] == {"cpu": "4100m", "memory": "20544Mi", "nvidia.com/gpu": 1,
                                                "pods": 1}
    assert s["chat-predictor"]["replicas"] == 2
    assert s["chat-predictor"]["pools"] == ["gpu"]        # the runtime's toleration and nodeSelector
    assert s["chat-predictor"]["autoscaling"] == {"min": 2, "max": 6, "metric": "utilisation",
                                                  "target": 0.6, "policy": "hpa"}
    assert s["chat-transformer"]["resources"] == {"cpu": "500m", "memory": "1Gi", "pods": 1}
    # the export patches the InferenceService's component (a merge patch: a custom resource)
    scenario = result.validated()
    files, _ = export_plan(scenario, pipeline.pack(scenario))
    assert not [f for f in files if f.startswith("patches/") and "chat" in f]   # pools used = allowed


@pytest.mark.parametrize(("predictor", "expected"), [
    ("    minReplicas: 0\n    containerConcurrency: 4\n",
     {"replicas": 1, "autoscaling": {"min": 0, "max": 1, "metric": "concurrency", "target": 2.8,
                                     "policy": "kpa"}}),
    ("    scaleMetric: rps\n    scaleTarget: 50\n    maxReplicas: 10\n",
     {"replicas": 1, "autoscaling": {"min": 1, "max": 10, "metric": "rps", "target": 50, "policy": "kpa"}}),
])
def test_replicas_and_knative_autoscaling(tmp_path, predictor, expected):
    path = write(tmp_path, "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
                           "metadata: {name: m}\nspec:\n  predictor:\n" + predictor
                 + "    containers: [{name: c}]\n")
    s = services(import_k8s([path], pools=POOLS))["m-predictor"]
    assert {k: s[k] for k in expected} == expected
    assert s["resources"] == {"cpu": "1025m", "memory": "2Gi", "pods": 1}    # KServe's defaults + proxy


@pytest.mark.parametrize("field", ["scaleTarget", "containerConcurrency"])
def test_a_boolean_where_kserve_wants_an_integer_is_refused(tmp_path, field):
    path = write(tmp_path, "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
                           f"metadata: {{name: m}}\nspec:\n  predictor:\n    {field}: true\n"
                           "    containers: [{name: c}]\n")
    with pytest.raises(ScenarioError, match=rf"spec.predictor.{field}: expected an integer, got True"):
        import_k8s([path], pools=POOLS)


def test_a_fractional_gpu_in_an_inference_service_is_refused_where_it_is_written(tmp_path):
    path = write(tmp_path, RUNTIMES, """\
        apiVersion: serving.kserve.io/v1beta1
        kind: InferenceService
        metadata: {name: chat, namespace: ml}
        spec:
          predictor:
            model:
              modelFormat: {name: vllm}
              resources: {limits: {nvidia.com/gpu: 0.5}}
        """)
    with pytest.raises(ScenarioError, match=r"\(InferenceService ml/chat\) spec.predictor.model.resources."
                                            r"limits.nvidia.com/gpu: 500m must be an integer"):
        import_k8s([path], pools=POOLS)


def test_the_kserve_export_patch_targets_the_component(tmp_path):
    path = write(tmp_path, """\
        apiVersion: serving.kserve.io/v1beta1
        kind: InferenceService
        metadata: {name: m, namespace: ml}
        spec:
          predictor:
            minReplicas: 1
            containers:
            - {name: c, resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}}
        """)
    pools = [parse_pool_option("a=cpu:4,memory:8Gi,count:1,label:tier=a"),
             parse_pool_option("b=cpu:4,memory:8Gi,count:1,cost:5,label:tier=b")]
    result = import_k8s([path], pools=pools)
    scenario = result.validated()
    files, _ = export_plan(scenario, pipeline.pack(scenario))
    patch = yaml.safe_load(files["patches/inferenceservice.ml.m.predictor.yaml"])
    assert patch == {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                     "metadata": {"name": "m", "namespace": "ml"},
                     "spec": {"predictor": {"nodeSelector": {"tier": "a"}}}}
    assert "--type merge" in files["patches/inferenceservice.ml.m.predictor.yaml"]


def test_an_llm_inference_service_gives_decode_and_prefill_workloads(tmp_path):
    path = write(tmp_path, """\
        apiVersion: serving.kserve.io/v1alpha1
        kind: LLMInferenceService
        metadata: {name: llama, namespace: ml}
        spec:
          model: {uri: "hf://meta-llama/Llama-3.1-8B-Instruct"}
          replicas: 2
          template:
            tolerations: [{key: nvidia.com/gpu, operator: Exists}]
            containers:
            - name: main
              resources: {limits: {cpu: "4", memory: 32Gi, nvidia.com/gpu: "1"}}
          prefill:
            replicas: 1
            template:
              tolerations: [{key: nvidia.com/gpu, operator: Exists}]
              containers:
              - name: main
                resources: {limits: {cpu: "4", memory: 32Gi, nvidia.com/gpu: "1"}}
          router: {scheduler: {}}
        """)
    untainted = parse_pool_option("gpu2=cpu:16,memory:64Gi,nvidia.com/gpu:1,pods:110,count:2")
    result = import_k8s([path], pools=[*POOLS[1:], untainted])
    s = services(result)
    assert {n: (v["replicas"], v["resources"]) for n, v in s.items()} == {
        "llama": (2, {"cpu": 4, "memory": "32Gi", "nvidia.com/gpu": 1, "pods": 1}),
        "llama-prefill": (1, {"cpu": 4, "memory": "32Gi", "nvidia.com/gpu": 1, "pods": 1})}
    assert result.scenario["kubernetes"]["workloads"]["llama-prefill"] == {
        "kind": "LLMInferenceService", "namespace": "ml", "name": "llama", "component": "prefill"}
    assert any("router scheduler" in k for k in result.ignored)
    assert not pipeline.pack(result.validated()).unplaced


@pytest.mark.parametrize(("predictor", "field"), [
    ("    tolerations: [{key: a, operator: Bogus}]\n    containers: [{name: c}]\n",
     r"spec.predictor.tolerations\[0\].operator: operator 'Bogus'"),
    ("    containers:\n    - {name: c, ports: [{containerPort: 80, hostPort: true}]}\n",
     r"spec.predictor.containers\[0\].ports\[0\].hostPort: expected an integer"),
    ("    model: {modelFormat: {name: sklearn}}\n"
     "    containers:\n    - {name: sidecar, ports: [{containerPort: 80, hostPort: true}]}\n",
     r"spec.predictor.containers\[0\].ports\[0\].hostPort: expected an integer"),
    ("    model: {modelFormat: {name: sklearn}, ports: [{containerPort: 80, hostPort: true}]}\n",
     r"spec.predictor.model.ports\[0\].hostPort: expected an integer"),
    ("    sklearn: {resources: {limits: {memory: 500m}}}\n",
     r"spec.predictor.sklearn.resources.limits.memory: fractional byte value 500m"),
    ("    containers: [{name: c, resources: {requests: {cpu: 2}, limits: {cpu: 1}}}]\n",
     r"spec.predictor.containers\[0\].resources.requests.cpu: 2 must be less than or equal to cpu limit"),
])
def test_errors_name_the_field_where_the_inference_service_has_it(tmp_path, predictor, field):
    """A bad field in a component is reported at its place in the InferenceService (``spec.predictor...``,
    the model or framework block for the serving container), as ``kubectl apply`` would, not at the
    Deployment that stands in for the component."""
    path = write(tmp_path, (DATA / "runtimes.yaml").read_text() + "\n---\n",
                 "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
                 "metadata: {name: m}\nspec:\n  predictor:\n" + predictor)
    with pytest.raises(ScenarioError, match=r"\(InferenceService (default/)?m\) " + field):
        import_k8s([path], pools=POOLS)
