"""One pod template, read the way the Kubernetes scheduler reads it: its request and where it may run.

**The pod's request** (per resource; Kubernetes ``PodRequests``, with sidecars as in Kubernetes 1.29+):

* the sum of its app containers' requests, plus the requests of its *sidecars* (init containers with
  ``restartPolicy: Always``), which keep running beside the app containers;
* or, if larger, the peak of the init phase: each ordinary init container runs alone beside the sidecars
  declared before it, so the init peak is the largest ``init request + sidecars started so far``;
* plus the pod ``overhead`` (``spec.overhead``, or the ``overhead.podFixed`` of its RuntimeClass);
* a pod-level ``spec.resources.requests`` (Kubernetes 1.32+) replaces the container sum for its resources.

**Requests from limits** (the API server's defaulting, ``SetDefaults_Pod`` in Kubernetes'
``pkg/apis/core/v1/defaults.go``; docs: "Resource Management for Pods and Containers": *if you specify a
limit for a resource, but do not specify any request, and no admission-time mechanism has applied a default
request for that resource, then Kubernetes copies the limit you specified and uses it as the requested
value*). A container that sets a limit but no request for a resource — CPU, memory, ``hugepages-*``,
``ephemeral-storage``, an extended resource such as ``nvidia.com/gpu`` — requests its limit. Every such
request is listed (`PodInfo.from_limits`), so the output says which requests came from limits. With
``fill_from_limits`` off (``--no-fill-from-limits``, the importer's old reading) only extended resources take
their limit and the others count 0 and are reported as missing. A pod-level ``spec.resources.limits``
(Kubernetes 1.32+) defaults the pod-level request of a resource no container requests to that limit
(``defaultPodRequests``). A LimitRange of the namespace in the input supplies its default request
(``defaultRequest``, else ``default``, else ``max``, else ``min``, as the LimitRange defaults do) to
containers that set neither a request nor a limit.

**Requests the API server refuses** (``ValidateResourceRequirements`` in
``pkg/apis/core/validation/validation.go``) stop the import with one line naming the file, document and
field, as ``kubectl apply`` would: a request above its limit; for resources that cannot be overcommitted
(extended resources and ``hugepages-*``) a request without a limit (*Limit must be set for non
overcommitable resources*) or a request different from the limit (*must be equal to ... limit*); a
fractional quantity of an extended resource (*must be an integer*, half a GPU); ``hugepages-*`` without
cpu or memory. A fractional byte count of memory or ephemeral-storage (``memory: 500m``, half a byte) is
only a warning of the API server (``pkg/api/pod/warnings.go``: *fractional byte value ... is invalid, must
be an integer*), but it is always a typo for ``500Mi`` or ``500M``: the importer refuses it too and says so.

**Where it may run**: `capacity.k8s.selectors.NodeConstraint` (``nodeSelector`` and required node affinity),
tolerations; ``max_per_node`` from required pod anti-affinity on ``kubernetes.io/hostname`` against its own
pods (1) and from a host port (1: `HostPort`, ``hostPort`` or ``hostNetwork``). Topology spreads of its
own pods are kept as `Spread` (the importer decides which one the scenario carries). What the planner does
not model (preferred affinity, pod affinity, limits, ...) is listed in ``ignored``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from capacity.k8s import quantities as q
from capacity.k8s.manifests import Manifest
from capacity.k8s.selectors import (
    LABEL_SELECTOR_OPERATORS,
    NODE_NAME_FIELD,
    LabelSelector,
    NodeConstraint,
    Requirement,
    Toleration,
    check_requirement,
)

HOSTNAME = "kubernetes.io/hostname"


@dataclass(frozen=True)
class Spread:
    """A topology spread of a workload's own pods over the label ``topology_key``, with the scheduler's
    defaults (``pkg/scheduler/framework/plugins/podtopologyspread/common.go``): ``minDomains`` 1,
    ``nodeAffinityPolicy: Honor`` (only nodes that pass the pod's node affinity count as domains),
    ``nodeTaintsPolicy: Ignore`` (tainted nodes count too)."""

    topology_key: str
    max_skew: int
    min_domains: int | None = None
    when_unsatisfiable: str = "DoNotSchedule"
    honor_affinity: bool = True
    honor_taints: bool = False


@dataclass(frozen=True)
class AntiAffinity:
    """A required pod (anti-)affinity term: the ``topology_key`` domains holding pods it selects (kept off
    for anti-affinity, sought for affinity)."""

    selector: LabelSelector | None
    namespaces: tuple[str, ...] | None     # None: every namespace (an empty namespaceSelector)
    topology_key: str

    def selects(self, labels: Mapping[str, str], namespace: str) -> bool:
        if self.selector is None:
            return False
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.selector.matches(labels)


ANY_IP = "0.0.0.0"


@dataclass(frozen=True)
class HostPort:
    """One ``<hostIP, hostPort, protocol>`` a pod holds on its node (the scheduler's ``NodePorts``
    filter). Two conflict when port and protocol match and the IPs overlap: ``0.0.0.0`` (an empty
    ``hostIP``) overlaps every IP (``HostPortInfo.CheckConflict``, ``pkg/scheduler/framework/types.go``)."""

    ip: str
    port: int
    protocol: str

    def conflicts(self, other: HostPort) -> bool:
        if (self.port, self.protocol) != (other.port, other.protocol):
            return False
        return ANY_IP in (self.ip, other.ip) or self.ip == other.ip

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}" + ("" if self.ip == ANY_IP else f" on {self.ip}")


@dataclass(frozen=True)
class RuntimeClass:
    name: str
    overhead: q.ResourceList
    node: NodeConstraint
    tolerations: tuple[Toleration, ...]


@dataclass(frozen=True)
class LimitDefaults:
    """The default container requests of one LimitRange (after the LimitRange's own defaulting)."""

    name: str
    requests: q.ResourceList


@dataclass
class PodInfo:
    labels: dict[str, str]
    requests: q.ResourceList
    node: NodeConstraint
    tolerations: tuple[Toleration, ...]
    max_per_node: int | None = None
    max_per_node_reasons: list[str] = field(default_factory=list)
    spreads: list[Spread] = field(default_factory=list)
    anti_affinity: list[AntiAffinity] = field(default_factory=list)
    pod_affinity: list[AntiAffinity] = field(default_factory=list)   # required pod affinity terms
    host_ports: list[HostPort] = field(default_factory=list)   # what the NodePorts filter counts
    missing: list[str] = field(default_factory=list)     # requests missing (counted as 0)
    filled: list[str] = field(default_factory=list)      # requests from a LimitRange or pod-level fields
    from_limits: list[str] = field(default_factory=list)  # requests the API server copies from limits
    ignored: list[str] = field(default_factory=list)     # fields the planner does not model
    has_limits: bool = False

    def cap_per_node(self, n: int, reason: str) -> None:
        self.max_per_node = n if self.max_per_node is None else min(self.max_per_node, n)
        self.max_per_node_reasons.append(reason)


@dataclass(frozen=True)
class PodContext:
    """What the API server would add to a pod: LimitRange defaults and RuntimeClasses of the input."""

    fill_from_limits: bool = True       # the API server's defaulting; False: the importer's old reading
    extended_resource_toleration: bool = False   # the ExtendedResourceToleration admission plugin is on
    limit_ranges: Mapping[str, tuple[LimitDefaults, ...]] = field(default_factory=dict)  # by namespace
    runtime_classes: Mapping[str, RuntimeClass] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- parsing

def resource_list(m: Manifest, value: Any, where: str, *, counted: bool = True) -> q.ResourceList:
    """``{cpu: 100m, memory: 64Mi}`` parsed exactly; a bad quantity is a one-line error at ``where``.

    Amounts finer than a milli-unit are rounded up to it, as the API server stores them
    (``SetDefaults_ResourceList``: ``100u`` CPU is ``1m``); ``counted`` (the default) rounds them further
    as the scheduler counts them (`capacity.k8s.quantities.scheduled`: whole millicores of CPU, whole units
    of anything else). A container's requests and limits are read with ``counted=False``, checked as the
    API server checks them (`check_requirements`: half a GPU is refused, not rounded up), then counted."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        m.error(f"expected a mapping of resource quantities, got {value!r:.60}", where)
    out: q.ResourceList = {}
    for name, amount in value.items():
        try:
            out[str(name)] = q.parse(amount)
        except ValueError as exc:
            m.error(str(exc), f"{where}.{name}")
        if out[str(name)] < 0:
            m.error(f"a quantity cannot be negative (got {amount!r})", f"{where}.{name}")
        out[str(name)] = Fraction(math.ceil(out[str(name)] * 1000), 1000)
        if counted:
            out[str(name)] = q.scheduled(str(name), out[str(name)])
    return out


def _label_map(m: Manifest, value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        m.error(f"expected a mapping of labels, got {value!r:.60}", where)
    return {str(k): _label_value(v) for k, v in value.items()}


def _label_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def _requirements(m: Manifest, items: Any, where: str, allowed: tuple[str, ...]) -> tuple[Requirement, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        m.error("expected a list of {key, operator, values}", where)
    out = []
    for i, e in enumerate(items):
        if not isinstance(e, dict):
            m.error("expected {key, operator, values}", f"{where}[{i}]")
        try:
            req = check_requirement(e.get("key"), e.get("operator"), e.get("values"), allowed)
        except ValueError as exc:
            m.error(str(exc), f"{where}[{i}]")
        out.append(req)
    return tuple(out)


def node_constraint(m: Manifest, spec: dict[str, Any], at: str) -> NodeConstraint:
    """``nodeSelector`` and required node affinity of a pod spec at field path ``at``."""
    selector = tuple(Requirement(k, "In", (v,)) for k, v in
                     sorted(_label_map(m, spec.get("nodeSelector"), f"{at}nodeSelector").items()))
    where = f"{at}affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    required = m.get("affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution", dict, {},
                     obj=spec, at=at)
    terms = None
    if required:
        raw_terms = m.get("nodeSelectorTerms", list, [], obj=required, at=f"{where}.")
        built = []
        for i, term in enumerate(raw_terms):
            if not isinstance(term, dict):
                m.error("expected {matchExpressions, matchFields}", f"{where}.nodeSelectorTerms[{i}]")
            exprs = _requirements(m, term.get("matchExpressions"),
                                  f"{where}.nodeSelectorTerms[{i}].matchExpressions", tuple(_NODE_OPS))
            fields = _requirements(m, term.get("matchFields"),
                                   f"{where}.nodeSelectorTerms[{i}].matchFields", ("In", "NotIn"))
            for j, f in enumerate(fields):
                if f.key != NODE_NAME_FIELD:
                    m.error(f"matchFields supports only {NODE_NAME_FIELD}, got {f.key!r}",
                            f"{where}.nodeSelectorTerms[{i}].matchFields[{j}]")
            built.append(exprs + fields)
        terms = tuple(built)
    return NodeConstraint(selector, terms)


_NODE_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def tolerations(m: Manifest, value: Any, where: str) -> tuple[Toleration, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        m.error("expected a list of tolerations", where)
    out = []
    for i, t in enumerate(value):
        if not isinstance(t, dict):
            m.error("expected {key, operator, value, effect}", f"{where}[{i}]")
        op = t.get("operator") or "Equal"
        if op not in ("Equal", "Exists"):
            m.error(f"operator {op!r} is not Equal or Exists", f"{where}[{i}].operator")
        effect = t.get("effect") or ""
        if effect not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            m.error(f"effect {effect!r} is not NoSchedule, PreferNoSchedule or NoExecute",
                    f"{where}[{i}].effect")
        out.append(Toleration(key=str(t.get("key") or ""), operator=op, value=_label_value(t.get("value")),
                              effect=effect))
    return tuple(out)


def label_selector(m: Manifest, value: Any, where: str) -> LabelSelector | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        m.error("expected {matchLabels, matchExpressions}", where)
    return LabelSelector(_label_map(m, value.get("matchLabels"), f"{where}.matchLabels"),
                         _requirements(m, value.get("matchExpressions"), f"{where}.matchExpressions",
                                       LABEL_SELECTOR_OPERATORS))


# ---------------------------------------------------------------------------------------------- requests

def _container_requests(m: Manifest, c: dict[str, Any], where: str, namespace: str, ctx: PodContext,
                        info: PodInfo) -> q.ResourceList:
    name = c.get("name") or where
    if where.rsplit(".", 1)[-1].startswith("initContainers"):
        name = f"{name} (init{', sidecar' if c.get('restartPolicy') == 'Always' else ''})"
    resources = m.get("resources", dict, {}, obj=c, at=f"{where}.")
    requests = resource_list(m, resources.get("requests"), f"{where}.resources.requests", counted=False)
    limits = resource_list(m, resources.get("limits"), f"{where}.resources.limits", counted=False)
    defaults = {r: (lr.name, v) for lr in ctx.limit_ranges.get(namespace, ()) for r, v in lr.requests.items()}
    copied: q.ResourceList = {}
    for r, limit in limits.items():
        if r in requests:
            continue
        if ctx.fill_from_limits or not overcommit_allowed(r):
            requests[r] = limit
            copied[r] = limit
        else:
            info.missing.append(f"container {name}: no {r} request (limit {q.format_quantity(r, limit)}; "
                                "counted as 0 under --no-fill-from-limits; the API server uses the limit)")
    if copied:
        info.from_limits.append(f"container {name}: {q.describe(copied)}")
    check_requirements(m, requests, limits, f"{where}.resources")
    requests = {r: q.scheduled(r, v) for r, v in requests.items()}
    for r in sorted(set(defaults) | {"cpu", "memory"}):
        if r in requests or r in limits:
            continue
        if r in defaults:
            lr, amount = defaults[r]
            requests[r] = amount
            info.filled.append(f"container {name}: {r} request {q.format_quantity(r, amount)} from "
                               f"LimitRange {namespace}/{lr}")
        else:
            info.missing.append(f"container {name}: no {r} request or limit (counted as 0)")
    info.has_limits = info.has_limits or bool(limits)
    return requests


def overcommit_allowed(resource: str) -> bool:
    """Whether a request may be below its limit: native resources (no domain, or a ``kubernetes.io``
    domain) except ``hugepages-*`` (Kubernetes ``IsOvercommitAllowed``)."""
    return not q.is_extended(resource) and not resource.startswith("hugepages-")


_BYTE_COUNTS = ("memory", "ephemeral-storage")


def check_requirements(m: Manifest, requests: q.ResourceList, limits: q.ResourceList, where: str) -> None:
    """Refuse, as the API server does, a container's requests and limits after defaulting (see the module
    docstring: Kubernetes ``ValidateResourceRequirements``; fractional bytes from ``pod/warnings.go``)."""
    for kind, amounts in (("limits", limits), ("requests", requests)):
        for r, v in amounts.items():
            if q.is_extended(r) and v.denominator != 1:
                m.error(f"{q.format_quantity(r, v)} must be an integer (an extended resource is counted in "
                        "whole units; the API server refuses this pod)", f"{where}.{kind}.{r}")
            if r in _BYTE_COUNTS and v.denominator != 1:
                m.error(f"fractional byte value {q.format_quantity(r, v)} is invalid, must be an integer "
                        "(the API server warns and counts it as bytes: did you mean Mi or M?)",
                        f"{where}.{kind}.{r}")
    for r, v in requests.items():
        limit = limits.get(r)
        if limit is None:
            if not overcommit_allowed(r):
                m.error(f"Limit must be set for non overcommitable resources ({r} is requested without a "
                        "limit; the API server refuses this pod)", f"{where}.limits.{r}")
            continue
        if v != limit and not overcommit_allowed(r):
            m.error(f"{q.format_quantity(r, v)} must be equal to {r} limit of {q.format_quantity(r, limit)} "
                    "(the API server refuses this pod)", f"{where}.requests.{r}")
        if v > limit:
            m.error(f"{q.format_quantity(r, v)} must be less than or equal to {r} limit of "
                    f"{q.format_quantity(r, limit)} (the API server refuses this pod)",
                    f"{where}.requests.{r}")
    huge = any(r.startswith("hugepages-") for r in (*requests, *limits))
    if huge and not any(r in ("cpu", "memory") for r in (*requests, *limits)):
        m.error("HugePages require cpu or memory (the API server refuses this pod)", where)


def pod_requests(m: Manifest, spec: dict[str, Any], at: str, namespace: str, ctx: PodContext,
                 info: PodInfo) -> q.ResourceList:
    """The pod's request per resource (see the module docstring for the rule)."""
    containers = m.get("containers", list, [], obj=spec, at=at)
    if not containers:
        m.error("a pod needs at least one container", f"{at}containers")
    reqs: q.ResourceList = {}
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            m.error("expected a container", f"{at}containers[{i}]")
        q.add(reqs, _container_requests(m, c, f"{at}containers[{i}]", namespace, ctx, info))
    sidecars: q.ResourceList = {}
    init_peak: q.ResourceList = {}
    for i, c in enumerate(m.get("initContainers", list, [], obj=spec, at=at)):
        if not isinstance(c, dict):
            m.error("expected a container", f"{at}initContainers[{i}]")
        own = _container_requests(m, c, f"{at}initContainers[{i}]", namespace, ctx, info)
        if c.get("restartPolicy") == "Always":          # a sidecar: runs on beside the app containers
            q.add(reqs, own)
            q.add(sidecars, own)
            q.larger(init_peak, sidecars)
        else:
            q.larger(init_peak, q.add(dict(own), sidecars))
    q.larger(reqs, init_peak)
    pod_level = m.get("resources", dict, {}, obj=spec, at=at)
    override = resource_list(m, pod_level.get("requests"), f"{at}resources.requests")
    pod_limits = resource_list(m, pod_level.get("limits"), f"{at}resources.limits")
    copied = {r: v for r, v in pod_limits.items() if r not in override and reqs.get(r, 0) == 0}
    if copied and ctx.fill_from_limits:     # defaultPodRequests: no container requests it, the pod limit
        override.update(copied)
        info.from_limits.append(f"pod-level: {q.describe(copied)}")
    if override:
        reqs.update(override)
        info.filled.append(f"pod-level requests ({q.describe(override)}) replace the container sum")
    overhead = resource_list(m, spec.get("overhead"), f"{at}overhead")
    runtime = spec.get("runtimeClassName")
    if runtime:
        rc = ctx.runtime_classes.get(str(runtime))
        if rc is None:
            info.ignored.append(f"runtimeClassName {runtime} (no such RuntimeClass in the input: its "
                                "overhead and scheduling are not applied)")
        elif not overhead:
            overhead = dict(rc.overhead)
    if overhead:
        q.add(reqs, overhead)
    return reqs


# ---------------------------------------------------------------------------------------------- the pod

def read_pod(m: Manifest, template: dict[str, Any], at: str, ctx: PodContext) -> PodInfo:
    """Read a pod (``at`` = "") or a pod template (``at`` = "spec.template.") of manifest ``m``."""
    meta = m.get("metadata", dict, {}, obj=template, at=at)
    spec = m.get("spec", dict, obj=template, at=at)
    at_spec = f"{at}spec."
    labels = _label_map(m, meta.get("labels"), f"{at}metadata.labels")
    namespace = m.namespace
    info = PodInfo(labels=labels, requests={}, node=node_constraint(m, spec, at_spec),
                   tolerations=tolerations(m, spec.get("tolerations"), f"{at_spec}tolerations"))
    info.requests = pod_requests(m, spec, at_spec, namespace, ctx, info)
    if ctx.extended_resource_toleration:     # plugin/pkg/admission/extendedresourcetoleration
        extra = tuple(Toleration(r, "Exists", "", "NoSchedule") for r in sorted(info.requests)
                      if q.is_extended(r) and info.requests[r] > 0)
        info.tolerations = info.tolerations + extra
    if info.has_limits:
        info.ignored.append("resource limits (the scheduler places pods by their requests)")
    runtime = ctx.runtime_classes.get(str(spec.get("runtimeClassName") or ""))
    if runtime is not None:
        info.node = info.node.merged(runtime.node)
        info.tolerations = info.tolerations + runtime.tolerations
    _affinity(m, spec, at_spec, namespace, info)
    _spreads(m, spec, at_spec, info)
    _host_ports(m, spec, at_spec, info)
    if spec.get("priorityClassName"):
        info.ignored.append(f"priorityClassName {spec['priorityClassName']} (no preemption in the plan)")
    if spec.get("nodeName"):
        info.ignored.append(f"nodeName {spec['nodeName']} (the plan chooses the node)")
    return info


def _host_ports(m: Manifest, spec: dict[str, Any], at: str, info: PodInfo) -> None:
    """The host ports the ``NodePorts`` filter counts (``node_ports.go``, ``getContainerPorts``): those of
    the app containers and, since Kubernetes 1.33 (kubernetes/kubernetes#132040), of sidecars; an ordinary
    init container's host port is listed (neither the scheduler nor the kubelet holds it:
    kubernetes/kubernetes#57443). With ``hostNetwork: true`` every container port is a host port
    (``SetDefaults_Pod``: ``hostPort`` defaults to ``containerPort``). Two replicas holding a port never
    share a node: ``max_per_node: 1``; conflicts between workloads are the importer's
    (`capacity.k8s.importer`)."""
    host_network = spec.get("hostNetwork") is True
    for group in ("containers", "initContainers"):
        containers = spec.get(group) or []
        for i, c in enumerate(containers if isinstance(containers, list) else []):
            if not isinstance(c, dict):
                continue
            ports = c.get("ports") or []
            for j, port in enumerate(ports if isinstance(ports, list) else []):
                if not isinstance(port, dict):
                    continue
                where = f"{at}{group}[{i}].ports[{j}]."
                host = m.optional("hostPort", int, obj=port, at=where)
                if not host and host_network:
                    host = m.optional("containerPort", int, obj=port, at=where)
                if not host:
                    continue
                name = c.get("name") or i
                if group == "initContainers" and c.get("restartPolicy") != "Always":
                    info.ignored.append(f"hostPort {host} of init container {name} (the scheduler's "
                                        "NodePorts filter counts only app containers' and sidecars' ports)")
                    continue
                held = HostPort(str(port.get("hostIP") or ANY_IP), host, str(port.get("protocol") or "TCP"))
                info.host_ports.append(held)
                info.cap_per_node(1, f"hostPort {held} (container {name})")


def _affinity(m: Manifest, spec: dict[str, Any], at: str, namespace: str, info: PodInfo) -> None:
    affinity = m.get("affinity", dict, {}, obj=spec, at=at)
    node_aff = m.get("nodeAffinity", dict, {}, obj=affinity, at=f"{at}affinity.")
    if node_aff.get("preferredDuringSchedulingIgnoredDuringExecution"):
        info.ignored.append("preferred node affinity (a preference, not a rule)")
    for field_name, terms in (("podAffinity", info.pod_affinity), ("podAntiAffinity", info.anti_affinity)):
        block = m.get(field_name, dict, {}, obj=affinity, at=f"{at}affinity.")
        if block.get("preferredDuringSchedulingIgnoredDuringExecution"):
            what = "pod affinity" if field_name == "podAffinity" else "pod anti-affinity"
            info.ignored.append(f"preferred {what} (a preference, not a rule)")
        terms.extend(_pod_affinity_terms(m, block, f"{at}affinity.{field_name}.", namespace, info))
    for term in info.anti_affinity:
        if term.selects(info.labels, namespace) and term.topology_key == HOSTNAME:
            info.cap_per_node(1, "required pod anti-affinity on kubernetes.io/hostname")


def _pod_affinity_terms(m: Manifest, block: dict[str, Any], at: str, namespace: str,
                        info: PodInfo) -> list[AntiAffinity]:
    """The required terms of a ``podAffinity`` or ``podAntiAffinity`` block: label selector, namespaces
    (the pod's own when none is named; a ``namespaceSelector`` cannot be evaluated without the namespaces'
    labels and is listed) and topology key."""
    out = []
    where = f"{at}requiredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(m.get("requiredDuringSchedulingIgnoredDuringExecution", list, [], obj=block,
                                   at=at)):
        if not isinstance(term, dict):
            m.error("expected a pod affinity term", f"{where}[{i}]")
        key = m.get("topologyKey", str, obj=term, at=f"{where}[{i}].")
        namespaces: tuple[str, ...] | None = tuple(str(n) for n in term.get("namespaces") or ()) or None
        ns_selector = term.get("namespaceSelector")
        if namespaces is None and ns_selector is None:
            namespaces = (namespace,)
        elif ns_selector not in (None, {}):
            info.ignored.append(f"pod affinity term {where}[{i}]: namespaceSelector (namespace labels are "
                                "not known; only the listed namespaces are matched)")
            namespaces = namespaces or (namespace,)
        if term.get("matchLabelKeys") or term.get("mismatchLabelKeys"):
            info.ignored.append(f"pod affinity term {where}[{i}]: matchLabelKeys/mismatchLabelKeys")
        out.append(AntiAffinity(label_selector(m, term.get("labelSelector"), f"{where}[{i}].labelSelector"),
                                namespaces, key))
    return out


def _spreads(m: Manifest, spec: dict[str, Any], at: str, info: PodInfo) -> None:
    where = f"{at}topologySpreadConstraints"
    for i, c in enumerate(m.get("topologySpreadConstraints", list, [], obj=spec, at=at)):
        if not isinstance(c, dict):
            m.error("expected a topology spread constraint", f"{where}[{i}]")
        skew = m.get("maxSkew", int, obj=c, at=f"{where}[{i}].")
        key = m.get("topologyKey", str, obj=c, at=f"{where}[{i}].")
        if skew < 1:
            m.error("maxSkew must be at least 1", f"{where}[{i}].maxSkew")
        when = c.get("whenUnsatisfiable", "DoNotSchedule")
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            m.error(f"whenUnsatisfiable {when!r} is not DoNotSchedule or ScheduleAnyway",
                    f"{where}[{i}].whenUnsatisfiable")
        selector = label_selector(m, c.get("labelSelector"), f"{where}[{i}].labelSelector")
        if selector is None or not selector.matches(info.labels):
            info.ignored.append(f"topology spread over {key} of pods its labelSelector picks, which are "
                                "not its own (not modelled)")
            continue
        if c.get("matchLabelKeys"):
            info.ignored.append(f"topology spread over {key}: matchLabelKeys (all of the workload's pods "
                                "are counted, as when the keys pick one revision)")
        policies = {}
        for field_name in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            value = c.get(field_name)
            if value not in (None, "Honor", "Ignore"):
                m.error(f"{field_name} {value!r} is not Honor or Ignore", f"{where}[{i}].{field_name}")
            policies[field_name] = value
        min_domains = m.optional("minDomains", int, obj=c, at=f"{where}[{i}].")
        info.spreads.append(Spread(key, skew, min_domains,
                                   when, policies["nodeAffinityPolicy"] != "Ignore",
                                   policies["nodeTaintsPolicy"] == "Honor"))


def fits(requests: Mapping[str, Fraction], allocatable: Mapping[str, Fraction]) -> bool:
    return all(v <= allocatable.get(r, Fraction(0)) for r, v in requests.items() if v > 0)
