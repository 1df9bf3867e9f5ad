"""KServe's own manifests: an ``InferenceService`` (``serving.kserve.io/v1beta1``) expanded into the pods
KServe runs for it, with its ServingRuntime's container, replicas and autoscaling settings.

Each **component** (``predictor``, ``transformer``, ``explainer``) becomes one workload named
``<isvc>-<component>`` (the name KServe gives its Deployment), read like a Deployment (`ComponentManifest`):

* **the serving container.** A ``model:`` predictor (or a framework key — ``sklearn:``, ``pytorch:``,
  ``huggingface:``, ... — which KServe's defaulter turns into ``model.modelFormat.name``) runs the
  ``kserve-container`` of its **ServingRuntime**: the one ``model.runtime`` names (a ServingRuntime of the
  namespace, else a ClusterServingRuntime), or the one KServe selects — not disabled, single-model, listing
  the model format (and version) with ``autoSelect: true``, the highest ``priority`` first, a namespace's
  runtime before a cluster one (``pkg/apis/serving/v1beta1/predictor_model.go``). The InferenceService's
  fields override the runtime container's, key by key for ``resources``. A ``containers:`` component runs
  its first container as the serving container, and the others beside it.
* **default resources.** KServe's defaulting webhook gives the serving container the requests and limits
  of the ``inferenceservice-config`` ConfigMap (``resource``: cpu 1, memory 2Gi for both; KServe docs,
  "Configurations") for cpu/memory it does not set; the cluster's ConfigMap may say otherwise (noted).
* **sidecars.** In Serverless mode (the default; annotation ``serving.kserve.io/deploymentMode``) Knative's
  ``queue-proxy`` runs beside it, requesting 25m CPU (Knative's ``queue-sidecar-cpu-request`` default);
  a ``storageUri`` that is not ``pvc://`` or ``oci://`` adds the ``storage-initializer`` init container
  (100m CPU, 100Mi memory requested; limits 1 CPU, 1Gi).
* **replicas and autoscaling.** ``minReplicas`` (default 1; 0, scale to zero, is planned as 1) is the
  replica count; ``maxReplicas`` (unset: no bound in Serverless mode, recorded as the minimum),
  ``scaleMetric`` (``concurrency`` | ``rps`` | ``cpu`` | ``memory``) and ``scaleTarget`` go into the
  service's ``autoscaling`` (``policy: kpa`` in Serverless mode, ``hpa`` in RawDeployment/Standard mode;
  defaults: Knative's concurrency target 100, or 70 % of ``containerConcurrency`` when that is set, and
  KServe's 80 % cpu in raw mode; the InferenceService's ``autoscaling.knative.dev/target`` and ``/metric``
  annotations, which KServe passes to Knative, count when ``scaleTarget``/``scaleMetric`` are not given).
  ``containerConcurrency`` is noted for the service's ``serving.concurrency``.
* **scheduling.** ``nodeSelector``, ``tolerations``, ``affinity`` and the other pod fields of the component
  and of its runtime (the component's win) are the pod's.

An ``LLMInferenceService`` (``serving.kserve.io/v1alpha1``, KServe's API types
``llm_inference_service_types.go``) becomes its decode workload ``<name>`` (``spec.template``, a pod spec,
``spec.replicas``, default 1) and, with disaggregated serving, its prefill workload ``<name>-prefill``
(``spec.prefill``). Containers, resources and images that come from ``baseRefs`` (LLMInferenceServiceConfig,
KServe's default vLLM template) are not in the input: a template without resources is noted. Multi-node
``worker`` pods and the router's scheduler are listed, not planned.

ModelMesh deployments, multi-model runtimes and ``workerSpec`` (multi-node) runtimes are listed, not planned.
Every approximation is a note on the service.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NoReturn

from capacity.k8s.autoscalers import Autoscaler
from capacity.k8s.manifests import Manifest
from capacity.k8s.pods import check_requirements, resource_list

KSERVE_GROUP = "serving.kserve.io"
COMPONENTS = ("predictor", "transformer", "explainer")
FRAMEWORKS = ("sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface", "pmml",
              "lightgbm", "paddle")
#: The ``inferenceservice-config`` ConfigMap's default ``resource`` section (KServe docs, "Configurations").
DEFAULT_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
QUEUE_PROXY = {"name": "queue-proxy", "resources": {"requests": {"cpu": "25m"}}}
STORAGE_INITIALIZER = {"name": "storage-initializer", "resources": {
    "requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}
#: Component fields that are not pod fields (KServe's ComponentExtensionSpec and the implementations).
_NOT_POD = {"minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "containerConcurrency", "timeout",
            "canaryTrafficPercent", "logger", "batcher", "labels", "annotations", "deploymentStrategy",
            "autoScaling", "model", "workerSpec", *FRAMEWORKS, "alibi", "art", "aix"}


@dataclass(frozen=True)
class ComponentManifest(Manifest):
    """A Deployment-shaped stand-in for one component of an InferenceService (read like a Deployment)."""

    source_name: str = ""
    component: str = ""
    source_kind: str = "InferenceService"
    pod_at: str = ""       # where the stand-in's pod spec (spec.template.spec.) is in the source
    model_at: str = ""     # where its first container comes from (spec.predictor.model.), if a model
    body_containers: int = -1    # how many containers the source lists (-1: the pod spec is verbatim)
    own_fields: tuple[str, ...] = ()   # pod fields the source sets (the rest came from its runtime)

    @property
    def label(self) -> str:
        return f"{self.source_kind} {self.namespace}/{self.source_name} {self.component}"

    def where(self) -> str:
        item = f" item {self.item}" if self.item is not None else ""
        return f"document {self.doc}{item} ({self.source_kind} {self.namespace}/{self.source_name})"

    def error(self, message: str, field: str = "") -> NoReturn:
        """Errors name the field where the source manifest has it: an LLMInferenceService's
        ``spec.template`` is the pod spec itself, copied verbatim; an InferenceService component's pod
        fields are the component's own (``spec.predictor.tolerations``), its containers follow the
        serving container that its ``model`` (or framework block) describes. Fields that came from the
        ServingRuntime keep the stand-in's name."""
        stand_in = "spec.template.spec."
        if self.pod_at and field.startswith(stand_in):
            field = self._source_field(field.removeprefix(stand_in)) or field
        super().error(message, field)

    def _source_field(self, rest: str) -> str | None:
        if self.body_containers < 0:
            return self.pod_at + rest
        found = re.match(r"containers\[(\d+)\]\.?(.*)", rest)
        if found is None:
            return self.pod_at + rest if rest.split(".", 1)[0].split("[", 1)[0] in self.own_fields else None
        i, tail = int(found[1]), found[2]
        if self.model_at:
            if i == 0:
                return self.model_at + tail
            i -= 1
        return f"{self.pod_at}containers[{i}].{tail}" if i < self.body_containers else None


@dataclass
class Expanded:
    """What `expand` found: the component workloads, their autoscalers, notes and what it left out."""

    manifests: list[Manifest]
    autoscalers: dict[tuple[str, str, str], Autoscaler]
    notes: list[str]
    ignored: list[tuple[str, str]]        # (what, where)


def is_kserve(m: Manifest) -> bool:
    return str(m.obj.get("apiVersion") or "").startswith(KSERVE_GROUP + "/")


def expand(manifests: Sequence[Manifest]) -> Expanded:
    """Replace InferenceServices by their components; ServingRuntimes are read, not passed on."""
    runtimes = [m for m in manifests
                if is_kserve(m) and m.kind in ("ServingRuntime", "ClusterServingRuntime")]
    out = Expanded([], {}, [], [])
    for m in manifests:
        if is_kserve(m) and m.kind in ("ServingRuntime", "ClusterServingRuntime"):
            continue
        if is_kserve(m) and m.kind == "LLMInferenceService":
            _llm_service(m, out)
            continue
        if not (is_kserve(m) and m.kind == "InferenceService"):
            out.manifests.append(m)
            continue
        annotations = m.metadata.get("annotations") if isinstance(m.metadata.get("annotations"), dict) else {}
        mode = str((annotations or {}).get("serving.kserve.io/deploymentMode") or "Serverless")
        if mode == "ModelMesh":
            out.ignored.append(("InferenceService in ModelMesh mode (its models share ModelMesh's pods, "
                                "which are not in the input)", m.label))
            continue
        spec = m.get("spec", dict)
        for component in COMPONENTS:
            body = spec.get(component)
            if body is None:
                continue
            if not isinstance(body, dict):
                m.error("expected a component spec", f"spec.{component}")
            _component(m, component, body, mode, annotations or {}, runtimes, out)
    return out


def _component(m: Manifest, component: str, body: dict[str, Any], mode: str, annotations: dict[str, Any],
               runtimes: Sequence[Manifest], out: Expanded) -> None:
    at = f"spec.{component}."
    label = f"InferenceService {m.namespace}/{m.name} {component}"
    notes: list[str] = []
    pod: dict[str, Any] = {k: copy.deepcopy(v) for k, v in body.items() if k not in _NOT_POD}
    containers = [copy.deepcopy(c) for c in pod.pop("containers", None) or [] if isinstance(c, dict)]
    own_fields = tuple(str(k) for k in pod)
    body_containers = len(containers)
    model = body.get("model")
    framework = next((f for f in FRAMEWORKS if isinstance(body.get(f), dict)), None)
    model_at = f"{at}model." if model is not None else f"{at}{framework}." if framework else ""
    if model is None and framework is not None:
        model = {**body[framework], "modelFormat": {"name": framework}}
        notes.append(f"{framework}: read as model.modelFormat.name {framework}, as KServe's defaulter does")
    if isinstance(model, dict):
        serving, others, runtime_pod = _model_container(m, model, runtimes, notes, out)
        containers = [serving, *containers, *others]
        for k, v in runtime_pod.items():
            pod.setdefault(k, v)
        storage = str(model.get("storageUri") or "")
    elif containers:
        raw_env = containers[0].get("env")
        env: list[Any] = raw_env if isinstance(raw_env, list) else []
        storage = next((str(e.get("value") or "") for e in env
                        if isinstance(e, dict) and e.get("name") == "STORAGE_URI"), "")
    else:
        what = next((k for k in body if k in ("alibi", "art", "aix")), None)
        out.ignored.append((f"InferenceService {component} {what or 'without containers or model'} "
                            "(its container is not known)", m.label))
        return
    serving_resources = containers[0].setdefault("resources", {})
    defaulted = []
    for kind in ("requests", "limits"):
        section = serving_resources.setdefault(kind, {})
        for r, v in DEFAULT_RESOURCES[kind].items():
            if r not in section:
                section[r] = v
                defaulted.append(f"{kind[:-1]} {r} {v}")
    if defaulted:
        notes.append("KServe's default resources (inferenceservice-config: " + ", ".join(defaulted)
                     + "; the cluster's ConfigMap may differ)")
    where = f"{model_at}resources" if isinstance(model, dict) else f"{at}containers[0].resources"
    requests, limits = (resource_list(m, serving_resources.get(kind), f"{where}.{kind}", counted=False)
                        for kind in ("requests", "limits"))
    check_requirements(m, requests, limits, where)
    containers[0]["name"] = containers[0].get("name") or "kserve-container"
    if mode not in ("RawDeployment", "Standard"):
        containers.append(copy.deepcopy(QUEUE_PROXY))
        notes.append("Serverless mode: Knative's queue-proxy sidecar, 25m cpu (its default request)")
    if storage and not storage.startswith(("pvc://", "oci://")):
        pod["initContainers"] = [*pod.get("initContainers", []), copy.deepcopy(STORAGE_INITIALIZER)]
        notes.append("storageUri: the storage-initializer init container (100m cpu, 100Mi memory)")
    pod["containers"] = containers
    autoscaler, replicas = _autoscaler(m, component, body, mode, annotations, label, notes)
    labels = {"serving.kserve.io/inferenceservice": m.name, "component": component,
              **{str(k): str(v) for k, v in (body.get("labels") or {}).items()}}
    name = f"{m.name}-{component}"
    metadata: dict[str, Any] = {"name": name, "namespace": m.namespace}
    if not m.metadata.get("namespace"):
        del metadata["namespace"]
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
           "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": pod}}}
    cm = ComponentManifest(obj=obj, file=m.file, doc=m.doc, line=m.line, item=m.item, source_name=m.name,
                           component=component, source_kind="InferenceService", pod_at=at,
                           model_at=model_at if isinstance(model, dict) else "",
                           body_containers=body_containers, own_fields=own_fields)
    out.manifests.append(cm)
    if autoscaler is not None:
        out.autoscalers[cm.ref] = autoscaler
    out.notes.extend(f"{label}: {n}" for n in notes)


def _llm_service(m: Manifest, out: Expanded) -> None:
    """An LLMInferenceService's decode and prefill workloads (see the module docstring)."""
    spec = m.get("spec", dict, {})
    for component, body, at in (("decode", spec, "spec."), ("prefill", spec.get("prefill"), "spec.prefill.")):
        if not isinstance(body, dict):
            continue
        label = f"LLMInferenceService {m.namespace}/{m.name} {component}"
        template = m.get("template", dict, {}, obj=body, at=at)
        if not template.get("containers"):
            out.ignored.append((f"LLMInferenceService {component} without spec.template containers (they "
                                "come from baseRefs / KServe's default template, not in the input)", m.label))
            continue
        if not any(isinstance(c, dict) and c.get("resources") for c in template["containers"]):
            out.notes.append(f"{label}: no resources in its template (KServe's LLMInferenceServiceConfig may "
                             "add them; not in the input)")
        if body.get("worker"):
            out.ignored.append((f"LLMInferenceService {component} worker pods (multi-node serving is not "
                                "planned)", m.label))
        replicas = m.get("replicas", int, 1, obj=body, at=at)
        scaling = body.get("scaling")
        if isinstance(scaling, dict):
            low = m.optional("minReplicas", int, obj=scaling, at=f"{at}scaling.")
            high = m.optional("maxReplicas", int, obj=scaling, at=f"{at}scaling.")
            if low is not None and high is not None and 0 <= low <= high and high >= 1:
                replicas = max(low, 1)
                out.notes.append(f"{label}: scaling {low}..{high}: {replicas} replicas planned")
            else:
                out.ignored.append((f"LLMInferenceService {component} scaling (not read)", m.label))
        name = m.name if component == "decode" else f"{m.name}-prefill"
        labels = {"app.kubernetes.io/name": m.name, "llm-d.ai/role": component,
                  **{str(k): str(v) for k, v in (body.get("labels") or {}).items()}}
        metadata: dict[str, Any] = {"name": name}
        if m.metadata.get("namespace"):
            metadata["namespace"] = m.namespace
        obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
               "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": copy.deepcopy(template)}}}
        out.manifests.append(ComponentManifest(obj=obj, file=m.file, doc=m.doc, line=m.line, item=m.item,
                                               source_name=m.name, component=component,
                                               source_kind="LLMInferenceService", pod_at=f"{at}template."))
    router = spec.get("router")
    if isinstance(router, dict) and "scheduler" in router:     # {} asks for the default scheduler
        out.ignored.append(("LLMInferenceService router scheduler (the endpoint picker's pods are not "
                            "planned)", m.label))


def _model_container(m: Manifest, model: dict[str, Any], runtimes: Sequence[Manifest], notes: list[str],
                     out: Expanded) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The serving container (the runtime's ``kserve-container`` overridden by the model's fields), the
    runtime's other containers and its pod fields."""
    raw_fmt = model.get("modelFormat")
    fmt: dict[str, Any] = raw_fmt if isinstance(raw_fmt, dict) else {}
    runtime = _runtime(m, str(model.get("runtime") or ""), str(fmt.get("name") or ""),
                       str(fmt.get("version") or ""), runtimes)
    own = {k: copy.deepcopy(v) for k, v in model.items()
           if k not in ("modelFormat", "runtime", "storageUri", "storage", "protocolVersion")}
    if runtime is None:
        notes.append(f"no ServingRuntime for model format {fmt.get('name') or '?'} in the input: the "
                     "container has the InferenceService's resources only")
        return {"name": "kserve-container", **own}, [], {}
    rt_spec = runtime.get("spec", dict, {})
    if rt_spec.get("multiModel"):
        notes.append(f"{runtime.label} is a multi-model runtime (ModelMesh): its pods are shared, planned "
                     "here as this model's")
    if rt_spec.get("workerSpec"):
        out.ignored.append(("ServingRuntime workerSpec (multi-node workers are not planned)", runtime.label))
    rt_containers = [c for c in rt_spec.get("containers") or [] if isinstance(c, dict)]
    base = next((c for c in rt_containers if c.get("name") == "kserve-container"),
                rt_containers[0] if rt_containers else {})
    serving = copy.deepcopy(base)
    for k, v in own.items():
        if k == "resources" and isinstance(v, dict):
            res = serving.setdefault("resources", {})
            for kind in ("requests", "limits"):
                if isinstance(v.get(kind), dict):
                    res[kind] = {**(res.get(kind) or {}), **v[kind]}
        else:
            serving[k] = v
    notes.append(f"runtime {runtime.label} (its kserve-container, overridden by the model's fields)")
    others = [copy.deepcopy(c) for c in rt_containers if c is not base]
    pod = {k: copy.deepcopy(v) for k, v in rt_spec.items()
           if k in ("nodeSelector", "tolerations", "affinity", "runtimeClassName", "priorityClassName",
                    "topologySpreadConstraints", "hostNetwork", "schedulerName")}
    return serving, others, pod


def _runtime(m: Manifest, name: str, fmt: str, version: str, runtimes: Sequence[Manifest]) -> Manifest | None:
    """The runtime named, or the one KServe auto-selects for the model format (see the module docstring)."""
    if name:
        for kind in ("ServingRuntime", "ClusterServingRuntime"):
            for r in runtimes:
                same_namespace = kind != "ServingRuntime" or r.namespace == m.namespace
                if r.kind == kind and r.name == name and same_namespace:
                    return r
        return None
    candidates: list[tuple[int, int, int, Manifest]] = []
    for order, r in enumerate(runtimes):
        if r.kind == "ServingRuntime" and r.namespace != m.namespace:
            continue
        raw_spec = r.obj.get("spec")
        rt_spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
        if rt_spec.get("disabled") or rt_spec.get("multiModel"):
            continue
        for f in rt_spec.get("supportedModelFormats") or []:
            if (isinstance(f, dict) and f.get("name") == fmt and f.get("autoSelect")
                    and (not version or str(f.get("version") or "") in ("", version))):
                scope = 0 if r.kind == "ServingRuntime" else 1
                candidates.append((-int(f.get("priority") or 0), scope, order, r))
    return min(candidates, key=lambda c: c[:3])[3] if candidates else None


def _autoscaler(m: Manifest, component: str, body: dict[str, Any], mode: str, annotations: dict[str, Any],
                label: str, notes: list[str]) -> tuple[Autoscaler | None, int]:
    at = f"spec.{component}."
    low = m.get("minReplicas", int, 1, obj=body, at=at)
    high = m.get("maxReplicas", int, 0, obj=body, at=at)
    if low < 0 or high < 0 or (high and low > high):
        m.error(f"minReplicas {low} and maxReplicas {high}: need 0 <= min <= max", f"{at}minReplicas")
    replicas = max(low, 1)
    if low == 0:
        notes.append("minReplicas 0 (scale to zero): 1 replica planned, the one a request brings up")
    if not high:
        notes.append("maxReplicas not set (no bound in Serverless mode): the range records max = min"
                     if mode not in ("RawDeployment", "Standard") else "maxReplicas not set: max = min")
        high = replicas
    raw = mode in ("RawDeployment", "Standard")
    if raw and str(annotations.get("serving.kserve.io/autoscalerClass") or "hpa") not in ("hpa", "keda"):
        notes.append("autoscalerClass none/external: no autoscaler carried")
        return None, replicas
    scaler = Autoscaler(label=label, min=low, max=max(high, low, 1), policy="hpa" if raw else "kpa")
    knative = {k.rsplit("/", 1)[1]: v for k, v in annotations.items()
               if str(k).startswith("autoscaling.knative.dev/")}
    metric = str(body.get("scaleMetric") or knative.get("metric") or ("cpu" if raw else "concurrency"))
    target = m.optional("scaleTarget", int, obj=body, at=at)
    if target is None and str(knative.get("target", "")).isdigit():
        target = int(knative["target"])
        notes.append(f"annotation autoscaling.knative.dev/target {target} (no scaleTarget)")
    concurrency = m.optional("containerConcurrency", int, obj=body, at=at)
    if concurrency is not None and concurrency > 0:
        notes.append(f"containerConcurrency {concurrency}: a replica serves at most {concurrency} requests "
                     "at once (serving.concurrency when the service is simulated)")
    if metric in ("cpu", "memory"):
        scaler.metric = "utilisation"
        scaler.target = Fraction(target if target is not None else 80, 100)
        notes.append(f"scaleMetric {metric}: utilisation of the request taken as the replica's busy share")
    elif metric in ("concurrency", "rps"):
        scaler.metric = metric
        if target is not None:
            scaler.target = Fraction(target)
        elif metric == "concurrency" and concurrency is not None and concurrency > 0:
            scaler.target = Fraction(concurrency * 7, 10)
            notes.append("no scaleTarget: Knative targets 70% of containerConcurrency")
        else:
            scaler.target = Fraction(100 if metric == "concurrency" else 200)
            notes.append(f"no scaleTarget: Knative's default {metric} target {scaler.target}")
    else:
        m.error(f"scaleMetric {metric!r} is not cpu, memory, concurrency or rps", f"{at}scaleMetric")
    if body.get("autoScaling"):
        notes.append("autoScaling metrics are not read (scaleMetric/scaleTarget are)")
    return scaler, replicas
