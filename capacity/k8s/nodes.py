"""Nodes and pools: ``kubectl get nodes -o json`` grouped into pools, or pools described with ``--pool``.

A **node** is what the scheduler sees of it: ``status.allocatable`` (what pods may request: CPU in cores,
memory in bytes, ``pods`` slots, GPUs ...), ``metadata.labels`` and ``spec.taints``. Cordoned nodes
(``spec.unschedulable``) are left out, and the taints that Kubernetes itself puts on a node while it is
unhealthy or starting (``node.kubernetes.io/*``, ``node.cloudprovider.kubernetes.io/uninitialized``) are
dropped as transient; both are reported.

A **pool** is a group of nodes the planner may treat as identical: the same allocatable (of the resources
that matter: cpu, memory, pods, extended resources and whatever a pod requests; ``ephemeral-storage``,
which differs by a few bytes from disk to disk, takes the smallest value in the group), the same taints,
and the same values of the *relevant* labels: well-known ones (instance type, os, arch, the cloud's
node-pool and capacity-type labels) and every label key a workload selects on or spreads over (so zones
split pools only when a workload selects or spreads on them). Per-node labels such as
``kubernetes.io/hostname`` only count when a workload selects on them, so node identity never splits pools
by itself. A pool is named after its instance type (``m5.2xlarge``), with the zone (or a short hash of its
shape) added when two pools would share a name; nodes without an instance-type label give ``shape-<hash>``.

``--pool NAME=cpu:16,memory:64Gi,nvidia.com/gpu:4,count:10,cost:2.5,label:K=V,taint:K=V:NoSchedule``
describes a pool of hypothetical nodes instead: resources as quantities, ``count`` (the most the planner may
use, default 1), an hourly ``cost``, ``label:`` and ``taint:`` entries (repeatable). Such nodes are given
``kubernetes.io/os=linux`` and ``kubernetes.io/arch=amd64`` (and their ``beta.kubernetes.io/`` twins, which
kubelets still set) unless labels say otherwise, as real nodes carry them and many charts select on them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from capacity.errors import ScenarioError
from capacity.k8s import quantities as q
from capacity.k8s.manifests import Manifest, read_manifests
from capacity.k8s.pods import resource_list
from capacity.k8s.selectors import NODE_NAME_FIELD, Taint

INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
#: Labels kept on pools even when no workload selects on them: what a reader wants to see in a pool.
#: (Zones and regions are not among them: they split pools only when a workload selects or spreads on them.)
WELL_KNOWN_LABELS = (
    *INSTANCE_TYPE_LABELS, "kubernetes.io/os", "kubernetes.io/arch",
    "cloud.google.com/gke-nodepool", "eks.amazonaws.com/nodegroup", "kubernetes.azure.com/agentpool",
    "karpenter.sh/nodepool", "karpenter.sh/capacity-type", "eks.amazonaws.com/capacityType",
)
#: Taints Kubernetes sets and lifts by itself (node conditions, cloud initialisation): transient.
TRANSIENT_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")
#: Resources whose allocatable differs slightly between otherwise equal nodes: the smallest one counts.
SOFT_RESOURCES = ("ephemeral-storage",)
DEFAULT_POOL_LABELS = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                       "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")
_COUNT = re.compile(r"[0-9]{1,9}")  # ASCII digits only, and few enough to convert


@dataclass(frozen=True)
class Node:
    name: str
    allocatable: q.ResourceList
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]

    def label_view(self) -> dict[str, str]:
        """Labels plus the node's name as the pseudo-label ``metadata.name`` (for ``matchFields``)."""
        return {**self.labels, NODE_NAME_FIELD: self.name}


@dataclass
class PoolDraft:
    """A pool on its way into the scenario: allocatable before DaemonSet overhead, taints, nodes."""

    name: str
    count: int
    allocatable: q.ResourceList
    labels: dict[str, str]
    taints: tuple[Taint, ...] = ()
    nodes: list[str] = field(default_factory=list)      # existing nodes (empty for --pool)
    cost: float | None = None

    @property
    def selectable_labels(self) -> dict[str, str]:
        """Labels as selectors see them (a one-node pool also answers to its node name)."""
        if len(self.nodes) == 1:
            return {**self.labels, NODE_NAME_FIELD: self.nodes[0]}
        return dict(self.labels)


# ---------------------------------------------------------------------------------------------- reading

def read_nodes(path: str) -> tuple[list[Node], list[str]]:
    """The schedulable nodes in a ``kubectl get nodes -o json|yaml`` file, and notes on what was left out."""
    notes: list[str] = []
    nodes: list[Node] = []
    for m in read_manifests([path]):
        if m.kind != "Node":
            m.error(f"expected Node objects (kubectl get nodes -o json), got kind {m.kind}")
        node = _node(m)
        if m.get("spec.unschedulable", bool, False):
            notes.append(f"Node {node.name}: cordoned (spec.unschedulable), left out")
            continue
        dropped = [t for t in node.taints if t.key.startswith(TRANSIENT_TAINT_PREFIXES)]
        if dropped:
            notes.append(f"Node {node.name}: transient taint {', '.join(map(str, dropped))} ignored")
            node = Node(node.name, node.allocatable, node.labels,
                        tuple(t for t in node.taints if t not in dropped))
        nodes.append(node)
    if not nodes:
        raise ScenarioError("no schedulable Node objects", file=path)
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ScenarioError(f"node {dup!r} is listed twice", file=path)
    return nodes, notes


def _node(m: Manifest) -> Node:
    allocatable = resource_list(m, m.get("status.allocatable", dict), "status.allocatable")
    labels = {str(k): str(v) for k, v in m.get("metadata.labels", dict, {}).items()}
    taints = []
    for i, t in enumerate(m.get("spec.taints", list, [])):
        if not isinstance(t, dict) or not t.get("key") or not t.get("effect"):
            m.error("expected {key, value, effect}", f"spec.taints[{i}]")
        if t["effect"] not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            m.error(f"effect {t['effect']!r} is not NoSchedule, PreferNoSchedule or NoExecute",
                    f"spec.taints[{i}].effect")
        taints.append(Taint(str(t["key"]), str(t.get("value") or ""), str(t["effect"])))
    return Node(m.name, allocatable, labels, tuple(taints))


def parse_pool_option(text: str) -> PoolDraft:
    """``NAME=cpu:16,memory:64Gi,count:10,label:K=V,taint:K=V:Effect`` (see the module docstring)."""
    def bad(why: str) -> ScenarioError:
        return ScenarioError(f"--pool {_clip(text)}: {why} (expected e.g. gpu=cpu:32,memory:256Gi,"
                             "nvidia.com/gpu:4,count:8,label:accelerator=a100,taint:nvidia.com/gpu:NoSchedule)")

    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name or not spec.strip():
        raise bad("expected NAME=ITEMS")
    if _NAME_BAD.search(name) or len(name) > 63 or not name[0].isalnum():
        raise bad(f"pool name {_clip(name)}: use letters, digits, '.', '_' and '-'")
    pool = PoolDraft(name=name, count=1, allocatable={}, labels={})
    taints = []
    for item in (i.strip() for i in spec.split(",")):
        key, sep, value = item.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise bad(f"item {_clip(item)} is not KEY:VALUE")
        if key == "count":
            if not _COUNT.fullmatch(value) or int(value) < 1:
                raise bad(f"count {_clip(value)} is not a positive integer")
            pool.count = int(value)
        elif key == "cost":
            try:
                pool.cost = float(value)
            except ValueError:
                raise bad(f"cost {_clip(value)} is not a number") from None
            if not math.isfinite(pool.cost):
                raise bad(f"cost {_clip(value)} is not a finite number")
        elif key == "label":
            k, sep, v = value.partition("=")
            if not sep or not k:
                raise bad(f"label {_clip(value)} is not KEY=VALUE")
            pool.labels[k.strip()] = v.strip()
        elif key == "taint":
            kv, sep, effect = value.rpartition(":")
            if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                raise bad(f"taint {_clip(value)} is not KEY[=VALUE]:NoSchedule|PreferNoSchedule|NoExecute")
            k, _, v = kv.partition("=")
            taints.append(Taint(k, v, effect))
        else:
            try:
                pool.allocatable[key] = q.parse_request(key, value)
            except ValueError as exc:
                raise bad(str(exc)) from None
    if not pool.allocatable:
        raise bad("no resources given")
    pool.labels = {**DEFAULT_POOL_LABELS, **pool.labels}
    pool.taints = tuple(taints)
    return pool


def _clip(text: str, most: int = 80) -> str:
    """``text`` quoted as ``repr`` does, cut to ``most`` characters (an option can be megabytes long)."""
    return repr(text) if len(text) <= most else repr(text[:most]) + "..."


# ---------------------------------------------------------------------------------------------- grouping

def group_nodes(nodes: Iterable[Node], relevant_keys: set[str], resources: set[str]) -> tuple[
        list[PoolDraft], list[str]]:
    """Pools of nodes equal in allocatable ``resources``, taints and ``relevant_keys`` labels (+ notes)."""
    keys = relevant_keys | set(WELL_KNOWN_LABELS)
    groups: dict[tuple, list[Node]] = {}
    for node in sorted(nodes, key=lambda n: n.name):
        view = node.label_view()
        labels = tuple(sorted((k, view[k]) for k in keys if k in view))
        shape = tuple(sorted((r, v) for r, v in node.allocatable.items()
                             if (r in resources or (q.is_extended(r) and v > 0)) and r not in SOFT_RESOURCES))
        taints = tuple(sorted((t.key, t.value, t.effect) for t in node.taints))
        groups.setdefault((labels, taints, shape), []).append(node)
    drafts = []
    differ: list[tuple[PoolDraft, str, list[Fraction]]] = []
    for (labels, taints, shape), members in groups.items():
        draft = PoolDraft(name="", count=len(members), allocatable=dict(shape),
                          labels={k: v for k, v in labels if k != NODE_NAME_FIELD},
                          taints=tuple(Taint(*t) for t in taints), nodes=[n.name for n in members])
        for r in SOFT_RESOURCES:
            if r in resources:
                values = [n.allocatable.get(r, Fraction(0)) for n in members]
                draft.allocatable[r] = min(values)
                if len(set(values)) > 1:
                    differ.append((draft, r, values))
        drafts.append(draft)
    _name_pools(drafts)
    drafts.sort(key=lambda d: d.name)
    notes = [f"pool {d.name}: {r} differs between its nodes ({q.format_quantity(r, min(v))} to "
             f"{q.format_quantity(r, max(v))}); the smallest counts" for d, r, v in differ]
    return drafts, notes


def _shape_hash(d: PoolDraft) -> str:
    key = json.dumps([sorted((r, str(v)) for r, v in d.allocatable.items()), sorted(d.labels.items()),
                      sorted(map(str, d.taints))])
    return hashlib.sha256(key.encode()).hexdigest()[:6]


def _clean(name: str) -> str:
    name = _NAME_BAD.sub("-", name).strip("-._")
    return (name or "pool")[:63].rstrip("-._")


def _name_pools(drafts: list[PoolDraft]) -> None:
    """Instance type, then + zone, then + shape hash, until every name is unique."""
    def base(d: PoolDraft) -> str:
        kind = next((d.labels[k] for k in INSTANCE_TYPE_LABELS if k in d.labels), None)
        return _clean(kind) if kind else f"shape-{_shape_hash(d)}"

    def with_zone(d: PoolDraft) -> str:
        zone = next((d.labels[k] for k in ZONE_LABELS if k in d.labels), None)
        return _clean(f"{base(d)[:40]}-{zone}") if zone else base(d)

    for namer in (base, with_zone, lambda d: _clean(f"{with_zone(d)[:56]}-{_shape_hash(d)}")):
        taken = [d.name for d in drafts]
        for d in drafts:
            if not d.name or taken.count(d.name) > 1:
                d.name = namer(d)
        if len({d.name for d in drafts}) == len(drafts):
            return
    for i, d in enumerate(drafts):  # identical shapes that still collide (should not happen)
        d.name = _clean(f"{d.name[:58]}-{i}")
