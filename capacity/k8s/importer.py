"""Kubernetes manifests and nodes → a placement-only scenario (``capacity import-k8s``).

What becomes what:

* **Workloads** — Deployments, StatefulSets, ReplicaSets, ReplicationControllers and bare Pods (the kinds in
  `WORKLOAD_KINDS`) — become services: ``replicas`` from ``spec.replicas`` (default 1; a Pod is one
  replica), ``resources`` the pod's request (`capacity.k8s.pods`), plus ``pods: 1`` when every pool counts
  pod slots (nodes' ``allocatable.pods``). An object whose controller (``ownerReferences``) is in the input
  too is counted through its owner only (a ``kubectl get all`` dump lists Deployment, ReplicaSets and Pods).
* **Where a service may run** is resolved at import into its explicit ``pools`` list: the pools whose labels
  satisfy its ``nodeSelector`` and required node affinity and whose taints it tolerates (omitted when that is
  every pool): that covers every operator and taint exactly, which the scenario's label map
  ``node_selector`` could not. Required anti-affinity against its own pods on ``kubernetes.io/hostname``, a
  ``DoNotSchedule`` spread over hostnames, and a host port (``hostPort``, or a container port with
  ``hostNetwork``) become ``max_per_node``; two workloads holding a conflicting host port get
  anti-affinity over the hostname both ways (the scheduler's NodePorts filter); a ``DoNotSchedule``
  spread of its own pods over another label (a zone) becomes ``spread: {topology: LABEL, max_skew: N}``,
  and that label is then kept on the pools.
* **DaemonSets** run one pod on every node they match, so each one's request is taken off the allocatable of
  every pool whose labels it selects, whose taints it tolerates and on which it fits (listed on the terminal);
  a workload needing a host port a DaemonSet holds may not use that DaemonSet's pools.
* **LimitRanges** (default requests) and **RuntimeClasses** (pod overhead, node selector, tolerations) in the
  input are applied to the pods of their namespace/class, as the API server would.
* **Everything else** — Services, ConfigMaps, HPAs, PodDisruptionBudgets, Jobs, ... and the fields of a pod
  that the planner does not model (limits, preferred affinity, pod affinity, ...) — is listed in
  `ImportResult.ignored`, never dropped silently.

The scenario has no ``workload`` section (placement only: ``capacity plan`` packs it) and carries a
``kubernetes`` section (each service's object, each pool's node names) for ``capacity plan --export k8s``.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import yaml

from capacity._version import __version__
from capacity.errors import ScenarioError
from capacity.k8s import kserve
from capacity.k8s import quantities as q
from capacity.k8s.autoscalers import Autoscaler, read_hpa, replicas_under
from capacity.k8s.manifests import Manifest, read_manifests
from capacity.k8s.nodes import Node, PoolDraft, group_nodes, read_nodes
from capacity.k8s.pods import (
    HOSTNAME,
    HostPort,
    LimitDefaults,
    PodContext,
    PodInfo,
    RuntimeClass,
    fits,
    label_selector,
    node_constraint,
    read_pod,
    resource_list,
    tolerations,
)
from capacity.k8s.selectors import NODE_NAME_FIELD, LabelSelector, untolerated
from capacity.packing.existing import overflow as existing_overflow
from capacity.scenario import Scenario, scenario_from_dict
from capacity.yamlio import Dumper

# ---------------------------------------------------------------------------------------------- kinds


class WorkloadKind:
    """A kind of object whose pods the planner places: how many replicas, where the pod template is."""

    kind: ClassVar[str]
    template_at: ClassVar[str] = "spec.template."

    def replicas(self, m: Manifest) -> int:
        n = m.get("spec.replicas", int, 1)
        if n < 0:
            m.error("replicas cannot be negative", "spec.replicas")
        return n

    def template(self, m: Manifest) -> dict[str, Any]:
        return m.get("spec.template", dict)

    def ignored(self, m: Manifest) -> list[str]:
        """Fields of the object (not of its pods) that the planner leaves out."""
        return []


class Deployment(WorkloadKind):
    kind = "Deployment"


class StatefulSet(WorkloadKind):
    kind = "StatefulSet"

    def ignored(self, m: Manifest) -> list[str]:
        if m.get("spec.volumeClaimTemplates", list, []):
            return ["volumeClaimTemplates (storage and its zone binding are not planned)"]
        return []


class ReplicaSet(WorkloadKind):
    kind = "ReplicaSet"


class ReplicationController(WorkloadKind):
    kind = "ReplicationController"


class Pod(WorkloadKind):
    kind = "Pod"
    template_at = ""

    def replicas(self, m: Manifest) -> int:
        return 1

    def template(self, m: Manifest) -> dict[str, Any]:
        return m.obj


WORKLOAD_KINDS: dict[str, WorkloadKind] = {k.kind: k() for k in
                                           (Deployment, StatefulSet, ReplicaSet, ReplicationController, Pod)}

#: Kinds that hold no pods to place, and why each is left out.
IGNORED_KINDS: dict[str, str] = {
    "Service": "routes traffic; no pods of its own",
    "Ingress": "routes traffic; no pods of its own",
    "ConfigMap": "configuration; no pods",
    "Secret": "configuration; no pods",
    "ServiceAccount": "identity; no pods",
    "PodDisruptionBudget": "limits voluntary disruptions; not part of a placement plan",
    "HorizontalPodAutoscaler": "its target is not in the input",
    "VerticalPodAutoscaler": "the plan uses the requests in the manifests",
    "Job": "runs to completion; not a standing service",
    "CronJob": "runs to completion on a schedule; not a standing service",
    "PersistentVolumeClaim": "storage is not planned",
    "NetworkPolicy": "network rules; no pods",
    "Namespace": "no pods",
    "ResourceQuota": "a namespace budget; not enforced by the plan",
    "PriorityClass": "preemption is not planned",
    "Role": "access control; no pods",
    "ClusterRole": "access control; no pods",
    "RoleBinding": "access control; no pods",
    "ClusterRoleBinding": "access control; no pods",
    "CustomResourceDefinition": "defines an API type; no pods (objects of custom kinds are listed apart)",
    "ValidatingWebhookConfiguration": "admission webhook registration; no pods",
    "MutatingWebhookConfiguration": "admission webhook registration; no pods (sidecars it would inject "
                                    "are not in the requests)",
    "ValidatingAdmissionPolicy": "admission policy; no pods",
    "ValidatingAdmissionPolicyBinding": "admission policy; no pods",
    "APIService": "API registration; no pods",
    "IngressClass": "routes traffic; no pods",
    "Endpoints": "routes traffic; no pods",
    "EndpointSlice": "routes traffic; no pods",
    "StorageClass": "storage is not planned",
    "PersistentVolume": "storage is not planned",
    "PodSecurityPolicy": "admission policy; no pods",
    "Lease": "coordination; no pods",
    "Kustomization": "a kustomize build file: its patches, replica and image overrides are not applied; "
                     "import the output of kubectl kustomize DIR instead",
    "Component": "a kustomize build file: import the output of kubectl kustomize DIR instead",
}


# ---------------------------------------------------------------------------------------------- result

@dataclass
class ImportedService:
    name: str
    manifest: Manifest
    replicas: int
    pod: PodInfo
    pools: list[str] | None = None
    requests: q.ResourceList = field(default_factory=dict)
    autoscaler: Autoscaler | None = None
    excluded: dict[str, str] = field(default_factory=dict)   # pool -> why the pods may not run there
    spread: dict[str, Any] | None = None                     # the scenario's spread section
    terms: dict[str, list[dict[str, str]]] = field(default_factory=dict)   # anti_affinity / affinity


@dataclass
class DaemonSetOverhead:
    label: str
    requests: q.ResourceList
    pools: list[str]
    not_fitting: list[str] = field(default_factory=list)
    host_ports: tuple[HostPort, ...] = ()          # held on every node of ``pools``


@dataclass
class ImportResult:
    """The scenario document (validated) and everything the terminal should show about the import."""

    scenario: dict[str, Any]
    services: list[ImportedService]
    pools: list[PoolDraft]                     # allocatable after DaemonSet overhead
    daemonsets: list[DaemonSetOverhead]
    files: list[str]
    ignored: dict[str, list[str]] = field(default_factory=dict)   # what is ignored -> the objects it is in
    missing: list[str] = field(default_factory=list)
    from_limits: list[str] = field(default_factory=list)   # requests the API server copies from limits
    notes: list[str] = field(default_factory=list)
    existing: dict[str, dict[str, int]] = field(default_factory=dict)   # plan node -> service -> pods

    def ignore(self, what: str, where: str) -> None:
        self.ignored.setdefault(what, []).append(where)

    def ignored_lines(self) -> list[str]:
        """What was ignored, one line each, with the objects it was found in."""
        return [f"{what}: {', '.join(where)}" for what, where in self.ignored.items()]

    def validated(self) -> Scenario:
        return scenario_from_dict(self.scenario, source="<import-k8s>")


# ---------------------------------------------------------------------------------------------- import

def import_k8s(manifest_paths: Sequence[str | Path], *, nodes_path: str | None = None,
               pools: Sequence[PoolDraft] = (), fill_from_limits: bool = True, grow: int = 0,
               extended_resource_toleration: bool = False, name: str = "imported") -> ImportResult:
    """Read manifests (files, directories) and nodes (a ``kubectl get nodes`` file and/or ``--pool``
    drafts) and build a placement-only scenario. Bad input raises `ScenarioError` (one line)."""
    if grow < 0:
        raise ScenarioError(f"--grow {grow}: give 0 or more nodes a pool may add")
    skipped: list[str] = []
    manifests = read_manifests(manifest_paths, skipped)
    nodes: list[Node] = []
    notes: list[str] = []
    if nodes_path is not None:
        nodes, node_notes = read_nodes(nodes_path)
        notes.extend(node_notes)
    if not nodes and not pools:
        raise ScenarioError("no nodes: give --nodes FILE (kubectl get nodes -o json) or --pool "
                            "NAME=cpu:16,memory:64Gi,count:10")
    result = build(manifests, nodes, list(pools), fill_from_limits=fill_from_limits, grow=grow, name=name,
                   extended_resource_toleration=extended_resource_toleration,
                   files=[str(p) for p in manifest_paths], notes=notes)
    return result if not skipped else _with_skipped(result, skipped)


def _with_skipped(result: ImportResult, skipped: Sequence[str]) -> ImportResult:
    for line in skipped:
        file, _, why = line.partition(": ")
        result.ignore(f"file skipped, {why}", file)
    result.ignored = dict(sorted(result.ignored.items(), key=lambda kv: not kv[0].startswith("file")))
    return result


def build(manifests: Sequence[Manifest], nodes: Sequence[Node], drafts: list[PoolDraft], *,
          fill_from_limits: bool = True, grow: int = 0, name: str = "imported", files: Sequence[str] = (),
          notes: Iterable[str] = (), extended_resource_toleration: bool = False) -> ImportResult:
    """The import proper, from objects already read (see the module docstring)."""
    result = ImportResult(scenario={}, services=[], pools=[], daemonsets=[], files=list(files),
                          notes=list(notes))
    manifests = _deduplicated(manifests, result)
    expanded = kserve.expand(manifests)
    manifests = expanded.manifests
    result.notes.extend(expanded.notes)
    for what, where in expanded.ignored:
        result.ignore(what, where)
    ctx = _context(manifests, fill_from_limits, result, extended_resource_toleration)
    present = {m.ref for m in manifests}
    selectors = _workload_selectors(manifests)
    autoscalers, used_hpas = _autoscalers(manifests, present, result)
    autoscalers.update(expanded.autoscalers)
    workloads: list[tuple[Manifest, WorkloadKind, int, PodInfo]] = []
    daemonsets: list[tuple[Manifest, PodInfo]] = []
    orphans: dict[tuple[str, str, str], list[Manifest]] = {}   # pods of a controller not in the input
    running: list[tuple[tuple[str, str, str], str]] = []      # (workload, node name) of each bound pod
    owners = {m.ref: o for m in manifests if (o := _controller(m)) is not None and o in present}
    for m in manifests:
        owner = _controller(m)
        if (m.kind in WORKLOAD_KINDS or m.kind == "DaemonSet") and owner is not None and owner in present:
            result.notes.append(f"{m.label}: counted through its owner {owner[0]} {owner[1]}/{owner[2]}")
            if m.kind == "Pod" and _bound_to(m):
                running.append((_top_owner(owner, owners), _bound_to(m)))
            continue
        annotations = m.metadata.get("annotations")
        hook = annotations.get("helm.sh/hook") if isinstance(annotations, dict) else None
        if hook and m.kind in (*WORKLOAD_KINDS, "DaemonSet"):
            result.ignore(f"Helm hook ({hook}: runs at install, upgrade or test time; not a standing "
                          "workload)", m.label)
            continue
        if m.kind == "Pod" and _pod_elsewhere(m, owner, selectors, orphans, daemonsets, ctx, result, running):
            continue
        if m.kind == "Pod" and _bound_to(m):
            running.append((m.ref, _bound_to(m)))
        if m.kind in WORKLOAD_KINDS:
            kind = WORKLOAD_KINDS[m.kind]
            replicas = kind.replicas(m)
            if m.ref in autoscalers and m.kind != "Pod":
                written = m.obj["spec"].get("replicas") if isinstance(m.obj.get("spec"), dict) else None
                written = written if isinstance(written, int) else None
                replicas, why = replicas_under(autoscalers[m.ref], written)
                if why:
                    result.notes.append(f"{m.label}: {why}")
            pod = read_pod(m, kind.template(m), kind.template_at, ctx)
            pod.ignored.extend(kind.ignored(m))
            if replicas == 0:
                result.ignore("0 replicas, nothing to place", m.label)
                continue
            workloads.append((m, kind, replicas, pod))
        elif m.kind == "DaemonSet":
            daemonsets.append((m, read_pod(m, m.get("spec.template", dict), "spec.template.", ctx)))
        elif m.kind in ("LimitRange", "RuntimeClass") or m.ref in used_hpas:
            continue
        elif m.kind not in IGNORED_KINDS and _custom(m):
            result.ignore(f"{m.kind} (a custom resource: pods its operator runs for it are not in the plan; "
                          "add them as Deployments or StatefulSets if they matter)", m.label.split(" ", 1)[1])
        else:
            why = IGNORED_KINDS.get(m.kind, "no pods to place")
            result.ignore(f"{m.kind} ({why})", m.label.split(" ", 1)[1])
    for (kind_name, ns, owner_name), group in orphans.items():
        workloads.append(_orphan_workload(kind_name, ns, owner_name, group, ctx, result))
    if not workloads:
        raise ScenarioError("no Deployment, StatefulSet, ReplicaSet or Pod with replicas in the input",
                            file=", ".join(files) or None)

    pods = [p for *_, p in workloads] + [p for _, p in daemonsets]
    topology_keys = [[s.topology_key for s in p.spreads] + [t.topology_key for t in (*p.anti_affinity,
                                                                                     *p.pod_affinity)]
                     for p in pods]
    keys = set().union(*(p.node.keys() for p in pods),
                       *({k for k in ks if k != HOSTNAME} for ks in topology_keys))
    requested = {r for p in pods for r, v in p.requests.items() if v > 0}
    if nodes:
        grouped, group_notes = group_nodes(nodes, keys, requested | {"cpu", "memory", "pods"})
        result.notes.extend(group_notes)
        drafts = grouped + drafts
    for d in drafts:
        if d.nodes and grow:
            d.count += grow
    _check_pool_names(drafts)
    resources = _resource_policy(drafts, pods, result)
    result.daemonsets = [_daemonset(m, p, drafts, resources, result) for m, p in daemonsets]
    for d in drafts:
        for r, v in d.allocatable.items():
            if v < 0:
                result.notes.append(f"pool {d.name}: DaemonSets request more {r} than a node has; 0 left")
                d.allocatable[r] = Fraction(0)
    result.pools = drafts
    names = _service_names([m for m, *_ in workloads])
    for (m, _kind, replicas, pod), svc_name in zip(workloads, names, strict=True):
        svc = _service(m, svc_name, replicas, pod, drafts, resources, result)
        svc.autoscaler = autoscalers.get(m.ref) if m.kind != "Pod" else None
        result.services.append(svc)
    _cross_workload_notes(result)
    _host_port_conflicts(result)
    result.existing = _existing(running, result)
    unnamed = [s.manifest.label for s in result.services if not s.manifest.metadata.get("namespace")]
    if unnamed:
        shown = ", ".join(unnamed[:3]) + (" ..." if len(unnamed) > 3 else "")
        result.notes.append(f"{len(unnamed)} workload{'s have' if len(unnamed) > 1 else ' has'} no "
                            f"metadata.namespace ({shown}): namespace default assumed, as kubectl apply "
                            "without -n would")
    result.scenario = _scenario_document(result, name)
    result.validated()  # a document that does not validate is a bug here, reported as a ScenarioError
    return result


def _autoscalers(manifests: Sequence[Manifest], present: set[tuple[str, str, str]], result: ImportResult
                 ) -> tuple[dict[tuple[str, str, str], Autoscaler], set[tuple[str, str, str]]]:
    """The HorizontalPodAutoscalers of the input by the workload they scale (`capacity.k8s.autoscalers`),
    and the HPA objects so used; one whose target is not in the input is listed as ignored."""
    out: dict[tuple[str, str, str], Autoscaler] = {}
    used: set[tuple[str, str, str]] = set()
    for m in manifests:
        if m.kind != "HorizontalPodAutoscaler":
            continue
        ref, hpa = read_hpa(m)
        if ref is None or ref not in present:
            continue
        if ref in out:
            result.notes.append(f"{m.label}: {ref[0]} {ref[1]}/{ref[2]} has two autoscalers; "
                                f"{out[ref].label} is used")
            continue
        out[ref] = hpa
        used.add(m.ref)
        result.notes.append(f"{hpa.label} scales {ref[0]} {ref[1]}/{ref[2]}: {hpa.describe()}"
                            + "".join(f"; {n}" for n in hpa.notes))
        for line in hpa.ignored:
            result.ignore(line, m.label)
    return out, used


def _deduplicated(manifests: Sequence[Manifest], result: ImportResult) -> list[Manifest]:
    """One object per kind, namespace and name: the last one given wins, as with ``kubectl apply``."""
    last: dict[tuple[str, str, str], Manifest] = {}
    for m in manifests:
        if m.metadata.get("generateName") and m.name == str(m.metadata["generateName"]).rstrip("-"):
            continue  # a generated name: every object is a new one
        if m.ref in last:
            old = last[m.ref]
            result.notes.append(f"{m.label} is given twice ({old.file}:{old.line or '?'} and {m.file}:"
                                f"{m.line or '?'}): the later one is used, as kubectl apply would")
        last[m.ref] = m
    return [m for m in manifests if last.get(m.ref, m) is m]


def _custom(m: Manifest) -> bool:
    """An object of a custom resource type (its API group is not one of Kubernetes' own)."""
    group = str(m.obj.get("apiVersion") or "").rpartition("/")[0]
    return bool(group) and not group.endswith("k8s.io") and group not in _BUILTIN_GROUPS


_BUILTIN_GROUPS = ("apps", "batch", "policy", "autoscaling", "extensions")
#: Controllers whose pods, when the controller itself is not in the input, are grouped into one workload.
_REPLICA_CONTROLLERS = ("ReplicaSet", "StatefulSet", "ReplicationController")


def _workload_selectors(manifests: Sequence[Manifest]) -> list[tuple[Manifest, LabelSelector]]:
    """The pod selector of every Deployment, StatefulSet, ReplicaSet and ReplicationController."""
    out = []
    for m in manifests:
        if m.kind not in WORKLOAD_KINDS or m.kind == "Pod":
            continue
        raw = m.get("spec.selector", dict, {})
        if m.kind == "ReplicationController" or not raw:   # a map of labels, or (old APIs) the template's
            labels = raw or m.get("spec.template.metadata.labels", dict, {})
            raw = {"matchLabels": labels} if labels else {}
        selector = label_selector(m, raw, "spec.selector") if raw else None
        if selector is not None and (selector.match_labels or selector.expressions):
            out.append((m, selector))
    return out


def _pod_elsewhere(m: Manifest, owner: tuple[str, str, str] | None,
                   selectors: Sequence[tuple[Manifest, LabelSelector]],
                   orphans: dict[tuple[str, str, str], list[Manifest]],
                   daemonsets: list[tuple[Manifest, PodInfo]], ctx: PodContext, result: ImportResult,
                   running: list[tuple[tuple[str, str, str], str]]) -> bool:
    """Whether a Pod from a cluster dump is accounted for otherwise than as a bare pod (see `build`); a
    bound pod's node is recorded in ``running`` against the workload that counts it."""
    phase = m.get("status.phase", str, "")
    if phase in ("Succeeded", "Failed"):
        result.ignore(f"finished pod (status.phase {phase})", m.label)
        return True
    if owner is None:
        return False
    labels = m.get("metadata.labels", dict, {})
    for w, selector in selectors:
        if w.namespace == m.namespace and selector.matches({str(k): str(v) for k, v in labels.items()}):
            result.notes.append(f"{m.label}: counted through {w.label}, whose selector picks it (its owner "
                                f"{owner[0]} {owner[2]} is not in the input)")
            if _bound_to(m):
                running.append((w.ref, _bound_to(m)))
            return True
    if owner[0] in ("Job", "CronJob"):
        result.ignore(f"pod of a {owner[0]} (runs to completion; not a standing service)", m.label)
        return True
    if owner[0] == "DaemonSet":
        label = f"DaemonSet {owner[1]}/{owner[2]}"
        if any(d.label == label for d, _ in daemonsets):
            return True
        obj = _unpinned(m.obj)
        ds = Manifest(obj=obj, file=m.file, doc=m.doc, line=m.line, item=m.item)
        info = read_pod(ds, obj, "", ctx)
        info.ignored = [i for i in info.ignored if not i.startswith("nodeName ")]
        daemonsets.append((Manifest(obj={**obj, "kind": "DaemonSet", "metadata": {
            **m.metadata, "name": owner[2]}}, file=m.file, doc=m.doc, line=m.line, item=m.item), info))
        result.notes.append(f"{m.label}: a pod of {label}, which is not in the input: its request is taken "
                            "as that DaemonSet's per-node overhead")
        return True
    if owner[0] in _REPLICA_CONTROLLERS:
        orphans.setdefault(owner, []).append(m)
        if _bound_to(m):
            running.append((owner, _bound_to(m)))
        return True
    return False


def _unpinned(pod: dict[str, Any]) -> dict[str, Any]:
    """A DaemonSet's pod without the ``matchFields metadata.name`` term that pins it to its node."""
    pod = copy.deepcopy(pod)
    required = (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(required, dict) and isinstance(required.get("nodeSelectorTerms"), list):
        terms = []
        for term in required["nodeSelectorTerms"]:
            if isinstance(term, dict) and isinstance(term.get("matchFields"), list):
                kept = [f for f in term["matchFields"]
                        if not (isinstance(f, dict) and f.get("key") == NODE_NAME_FIELD)]
                term = {**term, "matchFields": kept}
                term = {k: v for k, v in term.items() if v}
            if term:
                terms.append(term)
        if terms:
            required["nodeSelectorTerms"] = terms
        else:
            del pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    pod.get("spec", {}).pop("nodeName", None)
    return pod


def _orphan_workload(kind_name: str, ns: str, name: str, group: Sequence[Manifest], ctx: PodContext,
                     result: ImportResult) -> tuple[Manifest, WorkloadKind, int, PodInfo]:
    """The pods of a ReplicaSet/StatefulSet not in the input, as one workload of that many replicas."""
    first = group[0]
    obj = _unpinned(first.obj)
    m = Manifest(obj={"apiVersion": "apps/v1" if kind_name != "ReplicationController" else "v1",
                      "kind": kind_name, "metadata": {"name": name, "namespace": ns},
                      "spec": {"replicas": len(group), "template": obj}},
                 file=first.file, doc=first.doc, line=first.line, item=first.item)
    pods = [read_pod(p, p.obj, "", ctx) for p in group]
    info = read_pod(m, obj, "spec.template.", ctx)
    if any(p.requests != pods[0].requests for p in pods[1:]):
        for p in pods:
            q.larger(info.requests, p.requests)
        result.notes.append(f"{m.label}: its pods request different amounts; the largest is used")
    shown = ", ".join(p.name for p in group[:3]) + (" ..." if len(group) > 3 else "")
    pods_are = f"{len(group)} pods ({shown}) are"
    if len(group) == 1:
        pods_are = f"pod {first.name} is"
    result.notes.append(f"{m.label} is not in the input: its {pods_are} counted as its replicas")
    return m, WORKLOAD_KINDS[kind_name], len(group), info


def _top_owner(ref: tuple[str, str, str], owners: dict[tuple[str, str, str], tuple[str, str, str]]
               ) -> tuple[str, str, str]:
    """The controller at the top of ``ref``'s ownership chain within the input (Pod → ReplicaSet →
    Deployment: the Deployment)."""
    seen = {ref}
    while ref in owners and owners[ref] not in seen:
        ref = owners[ref]
        seen.add(ref)
    return ref


def _bound_to(m: Manifest) -> str:
    """The node a pod is bound to (``spec.nodeName``), or "" (pending, or a pod template)."""
    spec = m.obj.get("spec")
    name = spec.get("nodeName") if isinstance(spec, dict) else None
    return str(name) if name else ""


def _existing(running: Sequence[tuple[tuple[str, str, str], str]], result: ImportResult
              ) -> dict[str, dict[str, int]]:
    """The running placement: pods bound to nodes of the input (``spec.nodeName``), by plan node
    ``{pool}-{j}`` (the pool's j-th node) and service. Pods on nodes that are not in ``--nodes`` (cordoned,
    or not listed) are planned afresh; a node whose pods overflow its allocatable after DaemonSet overhead
    (a request changed since they started) is left out, both with a note."""
    where = {node: (d, j) for d in result.pools for j, node in enumerate(d.nodes)}
    service = {s.manifest.ref: s for s in result.services}
    counts: dict[str, dict[str, int]] = {}
    elsewhere: list[str] = []
    for ref, node in running:
        svc = service.get(ref)
        if svc is None:
            continue
        if node not in where:
            elsewhere.append(node)
            continue
        d, j = where[node]
        plan_node = f"{d.name}-{j}"
        counts.setdefault(plan_node, {})
        counts[plan_node][svc.name] = counts[plan_node].get(svc.name, 0) + 1
    if elsewhere:
        result.notes.append(f"{len(elsewhere)} running pods are on nodes not in --nodes (cordoned or not "
                            f"listed: {', '.join(sorted(set(elsewhere))[:3])}): they are planned afresh")
    pools = {d.name: d for d in result.pools}
    out = {}
    for plan_node, per_service in sorted(counts.items(), key=lambda kv: _node_key(kv[0])):
        d = pools[plan_node.rsplit("-", 1)[0]]
        by_name = {s.name: s for s in result.services}
        demand = {n: {r: float(v) for r, v in by_name[n].requests.items()} for n in per_service}
        why = existing_overflow(per_service, demand, {r: float(v) for r, v in d.allocatable.items()})
        if why is not None:
            result.notes.append(f"node {d.nodes[int(plan_node.rsplit('-', 1)[1])]}: its running pods are "
                                f"left out of the existing placement ({why})")
            continue
        out[plan_node] = dict(sorted(per_service.items()))
    if out:
        pods = sum(sum(v.values()) for v in out.values())
        result.notes.append(f"{pods} running pods on {len(out)} nodes are the existing placement "
                            "(placement.existing); objective min-moves keeps them where they run and adds "
                            "what is missing")
    return out


def _node_key(plan_node: str) -> tuple[str, int]:
    pool, _, j = plan_node.rpartition("-")
    return pool, int(j)


def _controller(m: Manifest) -> tuple[str, str, str] | None:
    for ref in m.metadata.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("kind") and ref.get("name"):
            return (str(ref["kind"]), m.namespace, str(ref["name"]))
    return None


def _context(manifests: Sequence[Manifest], fill_from_limits: bool, result: ImportResult,
             extended_resource_toleration: bool = False) -> PodContext:
    limit_ranges: dict[str, list[LimitDefaults]] = {}
    runtime_classes: dict[str, RuntimeClass] = {}
    for m in manifests:
        if m.kind == "LimitRange":
            defaults: q.ResourceList = {}
            for i, limit in enumerate(m.get("spec.limits", list, [])):
                if not isinstance(limit, dict) or limit.get("type") != "Container":
                    continue
                at = f"spec.limits[{i}]."
                # The LimitRange's own defaults: default <- max; defaultRequest <- default, then <- min.
                default = {**resource_list(m, limit.get("max"), at + "max"),
                           **resource_list(m, limit.get("default"), at + "default")}
                request = {**resource_list(m, limit.get("min"), at + "min"), **default,
                           **resource_list(m, limit.get("defaultRequest"), at + "defaultRequest")}
                defaults.update(request)
            if defaults:
                limit_ranges.setdefault(m.namespace, []).append(LimitDefaults(m.name, defaults))
                result.notes.append(f"{m.label}: default container requests {q.describe(defaults)} applied "
                                    f"to containers in namespace {m.namespace} that set none")
        elif m.kind == "RuntimeClass":
            scheduling = m.get("scheduling", dict, {})
            rc = RuntimeClass(
                name=m.name,
                overhead=resource_list(m, m.get("overhead.podFixed", dict, {}), "overhead.podFixed"),
                node=node_constraint(m, scheduling, "scheduling."),
                tolerations=tolerations(m, scheduling.get("tolerations"), "scheduling.tolerations"))
            runtime_classes[m.name] = rc
            result.notes.append(f"{m.label}: overhead {q.describe(rc.overhead)} and scheduling applied to "
                                "its pods")
    return PodContext(fill_from_limits=fill_from_limits,
                      extended_resource_toleration=extended_resource_toleration,
                      limit_ranges={ns: tuple(v) for ns, v in limit_ranges.items()},
                      runtime_classes=runtime_classes)


def _check_pool_names(drafts: Sequence[PoolDraft]) -> None:
    seen: set[str] = set()
    for d in drafts:
        if d.name in seen:
            raise ScenarioError(f"--pool {d.name}: a pool of that name exists already (pools: "
                                f"{', '.join(x.name for x in drafts)})")
        seen.add(d.name)


#: Pod slots of a node whose allocatable ``pods`` is not known: the kubelet's default ``maxPods``
#: (KubeletConfiguration; https://kubernetes.io/docs/setup/best-practices/cluster-large/: "No more than
#: 110 pods per node").
DEFAULT_MAX_PODS = 110


def _resource_policy(drafts: list[PoolDraft], pods: Sequence[PodInfo], result: ImportResult) -> set[str]:
    """Decide which resources the scenario plans, and trim pools and pod requests to them.

    cpu, memory and ``pods`` (one slot per pod) always: each pool keeps its own slot count, and a pool that
    does not give one (a ``--pool`` without ``pods:``) gets the kubelet's default `DEFAULT_MAX_PODS`; any
    other resource a pod requests when some pool declares it — an extended resource (GPU) that no pool has
    is kept, so the plan says it cannot fit, while an undeclared ``ephemeral-storage`` or ``hugepages-*`` is
    dropped (the ``--pool`` did not describe it) and reported.
    """
    for d in drafts:
        if "pods" not in d.allocatable:
            d.allocatable["pods"] = Fraction(DEFAULT_MAX_PODS)
            result.notes.append(f"pool {d.name}: pod slots not given, {DEFAULT_MAX_PODS} assumed (the "
                                "kubelet's default maxPods; add pods:N to --pool)")
    declared = {r for d in drafts for r, v in d.allocatable.items()}
    requested = {r for p in pods for r, v in p.requests.items() if v > 0}
    keep = {"cpu", "memory", "pods"}
    for r in sorted(requested - keep):
        if r in declared or q.is_extended(r):
            keep.add(r)
            if r not in declared:
                result.notes.append(f"no pool has {r}, which some pods request: they cannot be placed")
        else:
            result.notes.append(f"{r} requests are not planned: no pool declares {r} (add {r}:AMOUNT to "
                                "--pool to plan it)")
    keep |= {r for d in drafts for r, v in d.allocatable.items() if q.is_extended(r) and v > 0}
    for d in drafts:
        d.allocatable = {r: v for r, v in d.allocatable.items() if r in keep}
    for p in pods:
        p.requests = {r: v for r, v in p.requests.items() if r in keep}
        p.requests["pods"] = Fraction(1)
    return keep


def _allowed(pod: PodInfo, drafts: Sequence[PoolDraft]) -> tuple[list[PoolDraft], dict[str, str]]:
    """Pools a pod may use, and for each other pool why not."""
    ok, why = [], {}
    for d in drafts:
        if not pod.node.matches(d.selectable_labels):
            why[d.name] = "its labels do not match the pods' node selector and affinity"
            continue
        taints = untolerated(pod.tolerations, d.taints)
        if taints:
            why[d.name] = f"its taint {taints[0]} is not tolerated by the pods"
            continue
        ok.append(d)
    return ok, why


def _daemonset(m: Manifest, pod: PodInfo, drafts: list[PoolDraft], resources: set[str],
               result: ImportResult) -> DaemonSetOverhead:
    allowed, _ = _allowed(pod, drafts)
    requests = {r: v for r, v in pod.requests.items() if v > 0 and r in resources}
    overhead = DaemonSetOverhead(m.label, requests, [], host_ports=tuple(pod.host_ports))
    for d in allowed:
        if fits(requests, d.allocatable):
            for r, v in requests.items():
                d.allocatable[r] = d.allocatable[r] - v
            overhead.pools.append(d.name)
        else:
            overhead.not_fitting.append(d.name)
            result.notes.append(f"{m.label}: its pod does not fit on a node of pool {d.name} (it would stay "
                                "pending there); no overhead taken")
    _report_pod(m, pod, result)
    return overhead


def _report_pod(m: Manifest, pod: PodInfo, result: ImportResult) -> None:
    """Pass on what reading the pod found: missing requests, values filled in, fields ignored."""
    for line in pod.missing:
        result.missing.append(f"{m.label}: {line}")
    if pod.from_limits:
        result.from_limits.append(f"{m.label}: {'; '.join(pod.from_limits)}")
    for line in pod.filled:
        result.notes.append(f"{m.label}: {line}")
    for line in pod.ignored:
        result.ignore(line, m.label)


def _service(m: Manifest, name: str, replicas: int, pod: PodInfo, drafts: list[PoolDraft],
             resources: set[str], result: ImportResult) -> ImportedService:
    allowed, why = _allowed(pod, drafts)
    for ds in result.daemonsets:          # NodePorts: a DaemonSet's port is taken on each of its nodes
        clash = [p for p in pod.host_ports if any(p.conflicts(h) for h in ds.host_ports)]
        for d in [d for d in allowed if clash and d.name in ds.pools]:
            allowed.remove(d)
            why[d.name] = f"hostPort {clash[0]} is held by {ds.label} on its nodes"
    if not allowed:
        raise ScenarioError(
            f"no pool may run its pods ({pod.node}; tolerations: {len(pod.tolerations)}): "
            + "; ".join(f"{pool}: {reason}" for pool, reason in why.items())
            + " — give the pools the labels it selects (--pool ...,label:KEY=VALUE) "
            "or check --nodes", file=m.file, line=m.line, path=m.where())
    svc = ImportedService(name=name, manifest=m, replicas=replicas, pod=pod,
                          pools=None if len(allowed) == len(drafts) else [d.name for d in allowed],
                          requests={r: v for r, v in pod.requests.items() if r in resources}, excluded=why)
    offers = {d.name: d.allocatable for d in drafts}
    for r, v in svc.requests.items():
        if v > 0 and not any(d.allocatable.get(r, Fraction(0)) > 0 for d in allowed):
            elsewhere = [f"pool {p} offers {r} but {reason}" for p, reason in why.items()
                         if offers[p].get(r, Fraction(0)) > 0]
            result.notes.append(f"{m.label}: requests {r}, which none of its pools "
                                f"({', '.join(d.name for d in allowed)}) has: it cannot be placed"
                                + "".join(f"; {e}" for e in elsewhere))
    if (not pod.node.empty or pod.tolerations) and svc.pools is not None:
        result.notes.append(f"{m.label}: {pod.node} and its tolerations allow pools {', '.join(svc.pools)}")
    _report_pod(m, pod, result)
    svc.spread = _choose_spread(m, pod, drafts, allowed, result)
    return svc


def _choose_spread(m: Manifest, pod: PodInfo, drafts: Sequence[PoolDraft], allowed: Sequence[PoolDraft],
                   result: ImportResult) -> dict[str, Any] | None:
    """The scenario's ``spread`` of a service: its first ``DoNotSchedule`` spread over zones (any label but
    the hostname), else over nodes, else a ``ScheduleAnyway`` one (data only). A second ``DoNotSchedule``
    spread over nodes (the hostname, or a label with one node per value, `_per_node`) becomes
    ``max_per_node: maxSkew`` (at most that many per node can never break the skew; stricter than the
    scheduler when replicas outnumber nodes), any other is listed.

    The domains (`capacity.packing.problem`, the scheduler's ``podtopologyspread``): the label values of
    the pools the pods may use, plus ``domains`` — the values of the pools whose nodes pass the pods' node
    affinity but whose taints they do not tolerate (``nodeTaintsPolicy: Ignore``, the default: such nodes
    count), or, with ``nodeAffinityPolicy: Ignore``, of every pool with the label; with fewer domains than
    ``minDomains``, placeholder domains make the smallest count 0, as the scheduler does."""
    hard = [s for s in pod.spreads if s.when_unsatisfiable == "DoNotSchedule"]
    zone = [s for s in hard if not _per_node(s.topology_key, drafts)]
    node = [s for s in hard if _per_node(s.topology_key, drafts)]
    soft = [s for s in pod.spreads if s.when_unsatisfiable != "DoNotSchedule"]
    chosen = next(iter(zone or node or soft), None)
    for s in pod.spreads:
        if chosen is None or s is chosen:
            continue
        if s.when_unsatisfiable == "DoNotSchedule" and _per_node(s.topology_key, drafts):
            pod.cap_per_node(s.max_skew, f"topology spread over {s.topology_key}, maxSkew {s.max_skew}")
            one = "" if s.topology_key == HOSTNAME else " (a label with one node per value)"
            result.notes.append(f"{m.label}: its spread over {s.topology_key}{one} (maxSkew {s.max_skew}) is "
                                f"kept as max_per_node {s.max_skew} beside its spread over "
                                f"{chosen.topology_key} (the scenario takes one spread per service; this is "
                                "stricter)")
        else:
            result.ignore(f"a second topology spread (over {s.topology_key}, {s.when_unsatisfiable}; the "
                          "scenario takes one per service)", m.label)
    if chosen is None:
        return None
    out: dict[str, Any] = {"topology": chosen.topology_key, "max_skew": chosen.max_skew}
    if chosen.when_unsatisfiable != "DoNotSchedule":
        out["when_unsatisfiable"] = chosen.when_unsatisfiable
        return out
    if chosen.topology_key == HOSTNAME:
        counted = [d for d in drafts if d not in allowed and _counted(pod, d, chosen)]
        few = chosen.min_domains is not None and sum(d.count for d in allowed) < chosen.min_domains
        if counted or few:   # empty domains it cannot use: the smallest count is 0
            why = f"fewer nodes than minDomains {chosen.min_domains}"
            if counted:
                why = (f"the nodes of {', '.join(d.name for d in counted)} count as domains it may not use "
                       "(nodeTaintsPolicy Ignore)")
            pod.cap_per_node(chosen.max_skew, f"topology spread over {HOSTNAME}, maxSkew {chosen.max_skew}")
            result.notes.append(f"{m.label}: its spread over nodes is max_per_node {chosen.max_skew}: {why}, "
                                "so the smallest count is 0")
            return None
        return out
    key = chosen.topology_key
    mine = {d.labels[key] for d in allowed if key in d.labels}
    extra = sorted({d.labels[key] for d in drafts if d not in allowed and key in d.labels
                    and _counted(pod, d, chosen)} - mine)
    if chosen.min_domains is not None and len(mine) + len(extra) < chosen.min_domains:
        extra += [f"(minDomains {i})" for i in range(len(mine) + len(extra), chosen.min_domains)]
        result.notes.append(f"{m.label}: {len(mine | set(extra)) - (chosen.min_domains - len(mine))} "
                            f"domains over {key} is fewer than minDomains {chosen.min_domains}: the smallest "
                            "count is taken as 0, as the scheduler does")
    if extra:
        out["domains"] = extra
        result.notes.append(f"{m.label}: its spread over {key} also counts {', '.join(extra)} (nodes that "
                            "pass its node affinity but that it may not use count as domains: "
                            "nodeTaintsPolicy Ignore)")
    return out


def _per_node(key: str, drafts: Sequence[PoolDraft]) -> bool:
    """Whether each domain of ``key`` is one node: the hostname, or a label (the docs' ``node``) whose
    every pool carrying it is a single node with a value of its own."""
    if key == HOSTNAME:
        return True
    values = [d.labels[key] for d in drafts if key in d.labels]
    return bool(values) and len(set(values)) == len(values) and all(
        d.count == 1 for d in drafts if key in d.labels)


def _counted(pod: PodInfo, d: PoolDraft, spread: Any) -> bool:
    """Whether the nodes of pool ``d`` are domains of ``spread`` (its node inclusion policies)."""
    if spread.honor_affinity and not pod.node.matches(d.selectable_labels):
        return False
    return not (spread.honor_taints and untolerated(pod.tolerations, d.taints))


def _cross_workload_notes(result: ImportResult) -> None:
    """Required pod (anti-)affinity terms as the scenario's ``anti_affinity`` / ``affinity`` of each
    service: the services whose pods a term's selector picks (in the term's namespaces). Anti-affinity to
    each of them (a pod may share a domain with none); affinity when it picks exactly one service (the
    scheduler accepts a domain holding any of several, which one term per service would not say: listed).
    Anti-affinity of a workload's own pods over the hostname is already ``max_per_node: 1``. An
    anti-affinity term that picks no pod of the input (not even the workload's own, a label typo) keeps
    nothing apart, as in the scheduler's InterPodAffinity filter: a note says so."""
    for svc in result.services:
        for kind, terms in (("anti_affinity", svc.pod.anti_affinity), ("affinity", svc.pod.pod_affinity)):
            for term in terms:
                picked = [o for o in result.services if term.selects(o.pod.labels, o.manifest.namespace)]
                if kind == "anti_affinity":
                    if not picked:    # the InterPodAffinity filter counts only pods the term selects
                        result.notes.append(f"{svc.manifest.label}: its required pod anti-affinity over "
                                            f"{term.topology_key} picks no pod of the input (not even its "
                                            "own: do its labels match the term's selector?): it keeps its "
                                            "pods from nothing unless such pods run in the cluster")
                    for o in picked:
                        if not (o is svc and term.topology_key == HOSTNAME):
                            svc.terms.setdefault(kind, []).append({"service": o.name,
                                                                   "topology": term.topology_key})
                elif len(picked) == 1:
                    svc.terms.setdefault(kind, []).append({"service": picked[0].name,
                                                           "topology": term.topology_key})
                elif picked:
                    result.ignore(f"required pod affinity over {term.topology_key} to pods of "
                                  f"{', '.join(o.manifest.label for o in picked)} (any of several workloads: "
                                  "not modelled)", svc.manifest.label)
                else:
                    result.notes.append(f"{svc.manifest.label}: its required pod affinity over "
                                        f"{term.topology_key} picks no pod of the input: its pods would stay "
                                        "Pending unless such pods run")


MAX_TERMS = 100     # anti_affinity terms a service may have (capacity.scenario.Service.anti_affinity)


def _host_port_conflicts(result: ImportResult) -> None:
    """Two workloads holding a conflicting host port (`capacity.k8s.pods.HostPort`) never share a node
    (the NodePorts filter): anti-affinity over the hostname, both ways. Bounded by the scenario's 100
    terms per service; beyond that, listed."""
    for svc in result.services:
        for o in result.services:
            if o is svc:
                continue
            clash = next((p for p in svc.pod.host_ports if any(p.conflicts(h) for h in o.pod.host_ports)),
                         None)
            if clash is None:
                continue
            terms = svc.terms.setdefault("anti_affinity", [])
            term = {"service": o.name, "topology": HOSTNAME}
            if term in terms:
                continue
            if len(terms) >= MAX_TERMS:
                result.ignore(f"hostPort {clash} also held by {o.manifest.label} (more than {MAX_TERMS} "
                              "anti-affinity terms: not modelled)", svc.manifest.label)
                continue
            terms.append(term)
            result.notes.append(f"{svc.manifest.label}: hostPort {clash} is also held by {o.manifest.label}: "
                                "their pods never share a node (anti-affinity over the hostname)")


_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def _service_names(manifests: Sequence[Manifest]) -> list[str]:
    """Service names: the object's name, ``namespace.name`` when names clash across namespaces, and
    ``kind.namespace.name`` when they still clash; cut to 63 characters with a short hash."""
    def clean(text: str) -> str:
        text = _NAME_BAD.sub("-", text).strip("-._") or "workload"
        if len(text) <= 63:
            return text
        return f"{text[:56].rstrip('-._')}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"

    forms = [
        lambda m: m.name,
        lambda m: f"{m.namespace}.{m.name}",
        lambda m: f"{m.kind.lower()}.{m.namespace}.{m.name}",
    ]
    names = [clean(forms[0](m)) for m in manifests]
    for form in forms[1:]:
        clashes = {n for n in names if names.count(n) > 1}
        names = [clean(form(m)) if n in clashes else n for m, n in zip(manifests, names, strict=True)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):   # the same object twice (generated names): number them
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = clean(f"{n}-{seen[n]}")
    return names


# ---------------------------------------------------------------------------------------------- output

def _scenario_document(result: ImportResult, name: str) -> dict[str, Any]:
    files = ", ".join(Path(f).name for f in result.files[:5]) + (" ..." if len(result.files) > 5 else "")
    pools = []
    for d in result.pools:
        pool: dict[str, Any] = {"name": d.name, "count": d.count,
                                "resources": {r: q.scalar(r, v) for r, v in _ordered(d.allocatable)}}
        if d.cost is not None:
            pool["cost"] = d.cost
        if d.labels:
            pool["labels"] = dict(sorted(d.labels.items()))
        pools.append(pool)
    services = []
    for s in result.services:
        requests = dict(s.requests)
        for r in ("cpu", "memory"):
            requests.setdefault(r, Fraction(0))
        svc: dict[str, Any] = {"name": s.name, "replicas": s.replicas,
                               "resources": {r: q.scalar(r, v) for r, v in _ordered(requests)
                                             if v > 0 or r in ("cpu", "memory")}}
        if s.pools is not None:
            svc["pools"] = s.pools
        if s.pod.max_per_node is not None:
            svc["max_per_node"] = s.pod.max_per_node
        if s.spread is not None:
            svc["spread"] = s.spread
        for kind in ("anti_affinity", "affinity"):
            if s.terms.get(kind):
                svc[kind] = [dict(t) for t in {tuple(sorted(t.items())): t for t in s.terms[kind]}.values()]
        if s.autoscaler is not None:
            svc["autoscaling"] = s.autoscaler.section()
        services.append(svc)
    doc: dict[str, Any] = {
        "version": 1,
        "name": name,
        "description": f"Imported from Kubernetes manifests ({files}) by capacity import-k8s {__version__}",
        "cluster": {"pools": pools},
        "services": services,
        "kubernetes": {
            "workloads": {s.name: _workload_ref(s.manifest) for s in result.services},
            "nodes": {d.name: list(d.nodes) for d in result.pools if d.nodes},
        },
    }
    excluded = {s.name: dict(s.excluded) for s in result.services if s.excluded}
    if excluded:
        doc["kubernetes"]["excluded"] = excluded
    if result.existing:
        doc["placement"] = {"objective": "min-moves", "existing": result.existing}
    return doc


def _workload_ref(m: Manifest) -> dict[str, str]:
    """The object the export patches: the workload, or the InferenceService and component it stands for."""
    if isinstance(m, kserve.ComponentManifest):
        return {"kind": m.source_kind, "namespace": m.namespace, "name": m.source_name,
                "component": m.component}
    return {"kind": m.kind, "namespace": m.namespace, "name": m.name}


class _Dumper(Dumper):
    """Block style, except lists of plain values (a service's pools), which fit on one line; strings that
    YAML 1.2 would read as numbers are quoted (`capacity.yamlio.Dumper`)."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(x, str | int | float) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def _ordered(amounts: q.ResourceList) -> list[tuple[str, Fraction]]:
    return sorted(amounts.items(), key=lambda kv: (kv[0] not in ("cpu", "memory"), kv[0]))


def scenario_yaml(result: ImportResult) -> str:
    """The scenario file: a comment header (what was read, ignored, reported), then the document."""
    lines = ["# Written by capacity import-k8s. Placement only (no workload section): capacity plan packs",
             "# it; capacity plan --export k8s turns the plan back into node assignments and patches.",
             "# Inputs: " + ", ".join(result.files)]
    for title, items in (("Missing requests", result.missing),
                         ("Requests taken from limits (the API server's default)", result.from_limits),
                         ("Ignored", result.ignored_lines()), ("Notes", result.notes)):
        if items:
            lines.append(f"# {title}:")
            lines.extend(f"#   {item}" for item in items)
    body = yaml.dump(result.scenario, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return "\n".join(lines) + "\n" + body


def summary_lines(result: ImportResult) -> list[str]:
    """What the terminal shows: services, pools, DaemonSet overhead, missing requests, ignored items."""
    n = sum(s.replicas for s in result.services)
    nodes = sum(d.count for d in result.pools)
    out = [f"imported {len(result.services)} services ({n} replicas) onto {len(result.pools)} pools "
           f"({nodes} nodes)"]
    width = max(len(s.name) for s in result.services)
    for s in result.services:
        extra = []
        if s.pools is not None:
            extra.append(f"pools {', '.join(s.pools)}" if len(s.pools) <= 2
                         else f"{len(s.pools)} of {len(result.pools)} pools")
        if s.pod.max_per_node is not None:
            extra.append(f"max {s.pod.max_per_node}/node")
        if s.spread is not None:
            extra.append(f"spread over {s.spread['topology']}, max skew {s.spread['max_skew']}"
                         + (" (ScheduleAnyway)" if s.spread.get("when_unsatisfiable") else ""))
        if s.autoscaler is not None:
            extra.append(s.autoscaler.describe())
        out.append(f"  {s.name:<{width}}  {s.replicas:>4} x {q.describe(s.requests)}"
                   f"   [{s.manifest.label}]" + (f"  ({'; '.join(extra)})" if extra else ""))
    out.append("pools (allocatable per node, after DaemonSet overhead):")
    for d in result.pools:
        taints = f"  taints {', '.join(map(str, d.taints))}" if d.taints else ""
        out.append(f"  {d.name}  x{d.count}  {q.describe(d.allocatable)}{taints}")
    if result.daemonsets:
        out.append("DaemonSets (taken off every node of the pools they run on):")
        for ds in result.daemonsets:
            where = "every pool" if len(ds.pools) == len(result.pools) else ", ".join(ds.pools) or "no pool"
            out.append(f"  {ds.label}: {q.describe(ds.requests)} per node on {where}")
    for title, items in (("missing requests", result.missing),
                         ("requests taken from limits, as the API server defaults them", result.from_limits),
                         ("ignored", result.ignored_lines()), ("notes", result.notes)):
        if items:
            out.append(f"{title} ({len(items)}):")
            out.extend(f"  {item}" for item in items)
    return out
