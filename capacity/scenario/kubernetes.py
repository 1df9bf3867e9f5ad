"""The ``kubernetes`` section, written by ``capacity import-k8s``: the Kubernetes object behind each service
and the existing nodes of each pool, read by ``capacity plan --export k8s`` (`capacity.k8s`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from capacity.scenario.fields import Model, Name

K8sName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]


class KubernetesWorkload(Model):
    """The Kubernetes object a service was imported from (``capacity import-k8s``)."""

    added_fields = frozenset({"component"})

    kind: Literal["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Pod",
                  "InferenceService", "LLMInferenceService"]
    namespace: K8sName = "default"
    name: K8sName
    component: Literal["predictor", "transformer", "explainer", "decode", "prefill"] | None = None  # KServe

    @model_validator(mode="after")
    def _component_of_kserve_objects(self) -> KubernetesWorkload:
        components = {"InferenceService": ("predictor", "transformer", "explainer"),
                      "LLMInferenceService": ("decode", "prefill")}
        if self.component not in components.get(self.kind, (None,)):
            raise ValueError(f"component {self.component} does not go with kind {self.kind} (an "
                             "InferenceService has predictor | transformer | explainer, an "
                             "LLMInferenceService decode | prefill, other kinds none)")
        return self


class KubernetesSection(Model):
    """Where an imported scenario came from, read by ``capacity plan --export k8s``: the object behind each
    service, and the existing nodes of each pool (node ``{pool}-{j}`` of a plan is ``nodes[pool][j]``; a
    plan that uses more nodes than the list holds needs new ones). See `capacity.k8s`."""

    added_fields = frozenset({"excluded"})

    workloads: dict[Name, KubernetesWorkload] = Field(default_factory=dict)
    nodes: dict[Name, list[K8sName]] = Field(default_factory=dict)
    excluded: dict[Name, dict[Name, str]] = Field(default_factory=dict)   # service -> pool -> why not there
