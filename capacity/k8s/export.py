"""A plan back in Kubernetes terms (``capacity plan SCENARIO --export k8s``): node assignments and patches.

`export_plan` returns the files to write (name → text); `write_export` writes them as one set (the folder
is replaced whole, so no patch of an earlier plan stays beside the new ones):

* ``nodes.yaml`` — the plan per node: ``nodes: {NODE: {pool, existing, labels, allocatable, requested,
  pods: [{replica, workload, requests}]}}``, ``empty`` (the existing nodes the plan leaves empty, to cordon
  and drain) and ``unplaced``. A plan node ``{pool}-{j}`` is the pool's
  ``j``-th existing node from the scenario's ``kubernetes.nodes`` (the nodes of a pool are identical, so
  which one is which is arbitrary); nodes beyond that list are new nodes to add (``existing: false``, named
  ``{pool}-new-{k}``). Quantities are Kubernetes quantities (``350m``, ``64Mi``); ``allocatable`` is the
  pool's offer as the planner saw it (after DaemonSet overhead, before headroom).
* ``patches/<kind>.<namespace>.<name>.yaml`` — one strategic-merge patch per workload (under its
  ``apiVersion``, ``kind`` and ``metadata``, as kustomize patches need), with the ``kubectl``
  command that applies it in its header (which also says that changing a pod template replaces the
  workload's pods, by its update strategy), and ``apply.sh`` with every command.

**Which patch, and its limits.** The replicas of a Deployment (or ReplicaSet, or StatefulSet) share one pod
template, so no patch can send replica 3 to node X: the scheduler picks nodes among those the template
allows. The patch therefore restricts the template to the *pools* the plan put its replicas on:

* a ``nodeSelector`` of labels those pools share, when that picks exactly those pools out of the ones the
  workload may use (it is merged with the workload's own ``nodeSelector``, and its affinity and tolerations
  stay, so they keep it within those);
* otherwise a required node affinity: one term with ``In`` over the values where the pools differ, or,
  when that is not exact, one term per pool (``In`` its labels, ``DoesNotExist`` for labels other pools
  have and it lacks). A strategic merge *replaces* the workload's own affinity terms with these, so they
  are made to pick exactly those pools out of *every* pool of the scenario;
* nothing, when the plan uses every pool the workload may use (the patch would change nothing).

Selectors are then made as short as they stay exact, dropping generic labels (``beta.*``, os, arch,
capacity type) before names (node group, instance type).

The per-node counts of the plan hold only if the scheduler packs as the plan does (e.g. the
``MostAllocated`` scoring strategy, or nodes sized to the plan so that nothing else fits). A bare Pod is
one replica, so its patch sets ``spec.nodeName`` to its node: exact, but ``nodeName`` can only be set when a
pod is created, so the patch is applied to the manifest (``kubectl patch --local``) and the pod re-created.
When two pools have the same labels, no selector tells them apart; the patch then admits both and says so.

Services without a ``kubernetes.workloads`` entry (a scenario not made by ``import-k8s``) are taken to be
Deployments of that name in namespace ``default``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from capacity.k8s.quantities import is_bytes, scalar
from capacity.packing.problem import Placement
from capacity.report.output import FolderKind, write_folder
from capacity.scenario import KubernetesWorkload, Pool, Scenario

#: What an export folder holds. ``plan --export k8s`` replaces such a folder as a whole (no patch of an
#: earlier plan stays beside the new ones), and refuses a folder that holds anything else.
EXPORT_FOLDER = FolderKind("a Kubernetes export", frozenset({"nodes.yaml", "apply.sh"}),
                           {"patches": "*.yaml"})


def exact(resource: str, amount: float) -> Fraction:
    """A float amount back as an exact quantity: bytes to the byte, everything else to the milli-unit
    (or exactly, when it is a whole number)."""
    if is_bytes(resource):
        return Fraction(round(amount))
    milli = round(amount * 1000)
    if abs(amount * 1000 - milli) <= 1e-6 * max(1.0, abs(amount * 1000)):
        return Fraction(milli, 1000)
    return Fraction(amount)


def quantities(amounts: Mapping[str, float]) -> dict[str, int | str]:
    order = sorted(amounts, key=lambda r: (r not in ("cpu", "memory"), r))
    return {r: scalar(r, exact(r, amounts[r])) for r in order}


@dataclass(frozen=True)
class Target:
    """The workload a service stands for."""

    kind: str
    namespace: str
    name: str
    component: str | None = None           # an InferenceService's predictor, transformer or explainer

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" + (f" {self.component}" if self.component else "")

    @property
    def file(self) -> str:
        part = f".{self.component}" if self.component else ""
        return f"patches/{self.kind.lower()}.{self.namespace}.{self.name}{part}.yaml"

    @property
    def api_version(self) -> str:
        if self.kind == "InferenceService":
            return "serving.kserve.io/v1beta1"
        if self.kind == "LLMInferenceService":
            return "serving.kserve.io/v1alpha1"
        return "v1" if self.kind in ("Pod", "ReplicationController") else "apps/v1"

    def patch(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` under the object's apiVersion, kind and metadata (as kustomize patches need); an
        InferenceService takes the pod fields under ``spec.<component>``."""
        if self.component in ("predictor", "transformer", "explainer"):
            body = {"spec": {self.component: body["spec"]["template"]["spec"]}}
        elif self.component == "decode":
            body = {"spec": {"template": body["spec"]["template"]["spec"]}}
        elif self.component == "prefill":
            body = {"spec": {"prefill": {"template": body["spec"]["template"]["spec"]}}}
        return {"apiVersion": self.api_version, "kind": self.kind,
                "metadata": {"name": self.name, "namespace": self.namespace}, **body}


def _target(scenario: Scenario, service: str) -> Target:
    ref: KubernetesWorkload | None = None
    if scenario.kubernetes is not None:
        ref = scenario.kubernetes.workloads.get(service)
    if ref is None:
        return Target("Deployment", "default", service)
    return Target(ref.kind, ref.namespace, ref.name, ref.component)


def node_names(scenario: Scenario, placement: Placement) -> dict[str, tuple[str, bool]]:
    """Plan node name → (Kubernetes node name, whether the node exists already)."""
    existing = scenario.kubernetes.nodes if scenario.kubernetes is not None else {}
    out: dict[str, tuple[str, bool]] = {}
    for node in placement.nodes:
        j = int(node.name.rsplit("-", 1)[1])
        names = existing.get(node.pool, [])
        if j < len(names):
            out[node.name] = (names[j], True)
        elif names:
            out[node.name] = (f"{node.pool}-new-{j - len(names)}", False)
        else:
            out[node.name] = (node.name, False)
    return out


# ---------------------------------------------------------------------------------------------- selectors

#: Labels dropped first when a selector is made as short as it can be (generic ones before names).
_DROP_FIRST = ("beta.kubernetes.io/", "failure-domain.beta.kubernetes.io/", "kubernetes.io/os",
               "kubernetes.io/arch", "eks.amazonaws.com/capacityType", "karpenter.sh/capacity-type")
_KEEP_LAST = ("eks.amazonaws.com/nodegroup", "cloud.google.com/gke-nodepool",
              "kubernetes.azure.com/agentpool", "karpenter.sh/nodepool", "node.kubernetes.io/instance-type")

Term = tuple[tuple[str, str, tuple[str, ...]], ...]     # (key, operator, values) ANDed


def _holds(term: Term, labels: Mapping[str, str]) -> bool:
    for key, op, values in term:
        value = labels.get(key)
        if op == "In" and value not in values:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True


def _admitted(terms: Sequence[Term], pools: Sequence[Pool], allowed: set[str]) -> set[str]:
    return {p.name for p in pools if p.name in allowed and any(_holds(t, p.labels) for t in terms)}


def _drop_rank(key: str) -> int:
    if key.startswith(_DROP_FIRST):
        return 0
    return 2 if key in _KEEP_LAST else 1


def _shortest(terms: list[Term], pools: Sequence[Pool], allowed: set[str], used: set[str]) -> list[Term]:
    """Drop requirements one by one (generic labels first) while the terms still select exactly ``used``."""
    for i in range(len(terms)):
        for req in sorted(terms[i], key=lambda r: (_drop_rank(r[0]), r[0])):
            trial = [*terms[:i], tuple(r for r in terms[i] if r != req), *terms[i + 1:]]
            if trial[i] and _admitted(trial, pools, allowed) == used:
                terms = trial
    return terms


def _pool_selector(pools: Sequence[Pool], used: set[str], allowed: set[str]) -> tuple[str, Any, str]:
    """(kind of patch, body, warning) restricting a workload from ``allowed`` pools to ``used`` ones.

    A ``nodeSelector`` is merged with the workload's own selectors, which keep it within ``allowed``, so it
    only has to pick ``used`` out of ``allowed``. A required node affinity replaces the workload's own
    terms, so it must pick ``used`` out of every pool.
    """
    if used == allowed:
        return "none", None, ""
    everything = {p.name for p in pools}
    chosen = [p for p in pools if p.name in used]
    keys = sorted(set.intersection(*(set(p.labels) for p in chosen)))
    common: Term = tuple((k, "In", (chosen[0].labels[k],)) for k in keys
                         if len({p.labels[k] for p in chosen}) == 1)
    if common and _admitted([common], pools, allowed) == used:
        term = _shortest([common], pools, allowed, used)[0]
        return "nodeSelector", {k: v[0] for k, _, v in term}, ""
    one: Term = tuple((k, "In", tuple(sorted({p.labels[k] for p in chosen}))) for k in keys)
    candidates: list[Term] = [one]
    if _admitted(candidates, pools, everything) != used:   # one term per pool, absent labels excluded
        all_keys = {k for p in pools for k in p.labels}
        candidates = [tuple((k, "In", (v,)) for k, v in sorted(p.labels.items()))
                      + tuple((k, "DoesNotExist", ()) for k in sorted(all_keys - set(p.labels)))
                      for p in chosen]
    warning = ""
    admitted = _admitted(candidates, pools, everything)
    if admitted == used:
        candidates = _shortest(candidates, pools, everything, used)
    elif _admitted(candidates, pools, allowed) != used:
        warning = (f"pools {', '.join(sorted(used))} and {', '.join(sorted(admitted - used))} have the same "
                   "labels: this patch cannot tell them apart")
    terms = [{"matchExpressions": [{"key": k, "operator": op, **({"values": list(v)} if v else {})}
                                   for k, op, v in t]} for t in candidates]
    return "nodeAffinity", terms, warning


def _patch_body(kind: str, body: Any) -> dict[str, Any]:
    if kind == "nodeSelector":
        spec: dict[str, Any] = {"nodeSelector": body}
    else:
        spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": body}}}}
    return {"spec": {"template": {"spec": spec}}}


def _command(t: Target) -> str:
    if t.kind == "Pod":
        return (f"kubectl patch --local -f POD_MANIFEST.yaml --type strategic --patch-file {t.file} -o yaml "
                f"| kubectl replace --force -f -   # pod {t.namespace}/{t.name}: nodeName is set at creation")
    if t.component is not None:     # a custom resource: JSON merge patch (maps merge, lists replace)
        return f"kubectl patch {t.kind.lower()} {t.name} -n {t.namespace} --type merge --patch-file {t.file}"
    return (f"kubectl patch {t.kind.lower()} {t.name} -n {t.namespace} --type strategic "
            f"--patch-file {t.file}")


# ---------------------------------------------------------------------------------------------- export

def empty_nodes(scenario: Scenario, placement: Placement) -> list[str]:
    """The existing nodes (``kubernetes.nodes``) that the plan leaves empty: to cordon and drain."""
    existing = scenario.kubernetes.nodes if scenario.kubernetes is not None else {}
    used = {node.name for node in placement.nodes}
    return [name for pool, names in existing.items() for j, name in enumerate(names)
            if f"{pool}-{j}" not in used]


ROLLS = ("# Applying it changes the pod template, so the workload's pods are replaced (a rolling update by "
         "its update strategy).")


def export_plan(scenario: Scenario, placement: Placement) -> tuple[dict[str, str], list[str]]:
    """The files of the export (relative path → text) and a few lines for the terminal."""
    names = node_names(scenario, placement)
    assumed = [s.name for s in scenario.services
               if scenario.kubernetes is None or s.name not in scenario.kubernetes.workloads]
    services = {s.name: s for s in scenario.services}
    replica_service = {f"{s.name}-{i}": s.name for s in scenario.services for i in range(s.replicas)}
    pools = {p.name: p for p in scenario.cluster.pools}
    nodes: dict[str, Any] = {}
    for node in placement.nodes:
        k8s_name, existing = names[node.name]
        pods = []
        for replica in node.replicas:
            svc = services[replica_service[replica]]
            t = _target(scenario, svc.name)
            pods.append({"replica": replica, "workload": t.label,
                         "requests": quantities({r: float(v) for r, v in svc.resources.items()})})
        nodes[k8s_name] = {
            "pool": node.pool,
            "existing": existing,
            "labels": dict(sorted(pools[node.pool].labels.items())),
            "allocatable": quantities(node.capacity),
            "requested": quantities(node.used),
            "pods": pods,
        }
    files: dict[str, str] = {}
    empty = empty_nodes(scenario, placement)
    header = [f"# capacity plan --export k8s: scenario {scenario.name}, {placement.nodes_used} nodes, "
              f"status {placement.status} ({placement.solver}), lower bound {placement.lower_bound}",
              "# node -> the pods the plan puts on it; 'existing: false' marks a node to add;",
              "# 'empty' lists the existing nodes the plan leaves empty (to cordon and drain)."]
    if assumed:
        header.append(f"# No kubernetes entry for {', '.join(assumed)}: taken as Deployments in namespace "
                      "default.")
    header.append("")
    document = {"scenario": scenario.name, "status": placement.status, "nodes": nodes, "empty": empty,
                "unplaced": list(placement.unplaced)}
    files["nodes.yaml"] = "\n".join(header) + yaml.safe_dump(document, sort_keys=False, width=110)

    terminal: list[str] = []
    unchanged: list[str] = []
    commands = ["#!/bin/sh", f"# Apply the plan of scenario {scenario.name} (capacity plan --export k8s).",
                "set -e", 'cd "$(dirname "$0")"   # the patch files are relative to this script', ""]
    for svc in scenario.services:
        t = _target(scenario, svc.name)
        replicas = [f"{svc.name}-{i}" for i in range(svc.replicas)]
        placed = [(r, placement.assignment[r]) for r in replicas if r in placement.assignment]
        if not placed:
            terminal.append(f"{t.label}: no replica placed, no patch")
            continue
        node_of = {r: names[n][0] for r, n in placed}
        if t.kind == "Pod":
            body: dict[str, Any] = {"spec": {"nodeName": node_of[placed[0][0]]}}
            why = f"# The plan puts pod {t.namespace}/{t.name} on node {node_of[placed[0][0]]}."
            warning = ""
        else:
            used = {placement_pool(placement, n) for _, n in placed}
            allowed = set(svc.pools) if svc.pools else set(pools)
            kind, selector, warning = _pool_selector(list(pools.values()), used, allowed)
            if kind == "none":
                unchanged.append(t.label)
                continue
            body = _patch_body(kind, selector)
            per_pool = {p: sum(1 for _, n in placed if placement_pool(placement, n) == p)
                        for p in sorted(used)}
            why = ("# The plan puts its replicas on pools "
                   + ", ".join(f"{p} ({k} replica{'s' if k > 1 else ''})" for p, k in per_pool.items())
                   + f"; this {kind} keeps the pod template on those pools.")
            if kind == "nodeAffinity":
                why += "\n# Strategic merge replaces the workload's own required node affinity terms."
        lines = [f"# {'Merge' if t.component else 'Strategic merge'} patch for {t.label} (capacity plan "
                 "--export k8s).", why,
                 ROLLS if t.kind != "Pod" else "# The pod is re-created on its node.",
                 f"# Apply: {_command(t)}"]
        if warning:
            lines.append(f"# WARNING: {warning}")
            terminal.append(f"{t.label}: {warning}")
        files[t.file] = "\n".join(lines) + "\n" + yaml.safe_dump(t.patch(body), sort_keys=False, width=110)
        commands.append(_command(t) if t.kind != "Pod" else f"# {_command(t)}")
    if unchanged:
        terminal.append(f"no patch needed (the plan uses every pool they may use): {', '.join(unchanged)}")
    files["apply.sh"] = "\n".join(commands) + "\n"
    new = sum(1 for _, existing in names.values() if not existing)
    patches = sum(1 for f in files if f.startswith("patches/"))
    terminal.insert(0, f"export: {len(nodes)} node{'s' if len(nodes) != 1 else ''} ({new} new), "
                       f"{patches} patch{'es' if patches != 1 else ''}")
    if empty:
        terminal.insert(1, f"existing nodes left empty (cordon and drain): {', '.join(empty)}")
    if assumed:
        terminal.append(f"no kubernetes entry for {', '.join(assumed)}: taken as Deployments in namespace "
                        "default")
    return files, terminal


def write_export(files: Mapping[str, str], directory: str | os.PathLike[str]) -> list[Path]:
    """Write `export_plan`'s files into ``directory`` as one set: every file of this plan and nothing
    else, or, on any failure, the folder as it was (`capacity.report.output.write_folder`)."""
    return write_folder(directory, {name: text.encode("utf-8") for name, text in files.items()},
                        EXPORT_FOLDER)


def placement_pool(placement: Placement, node: str) -> str:
    return next(n.pool for n in placement.nodes if n.name == node)
