"""HorizontalPodAutoscalers: the replica range the cluster keeps a workload in, and what it scales on.

**Replicas** (`replicas_under`). An HPA owns its target's replica count (docs, "Horizontal Pod
Autoscaling": *when an HPA is enabled, it is recommended that the value of spec.replicas of the Deployment
and / or StatefulSet be removed from their manifest(s)*): the controller scales the target to at least
``minReplicas`` (default 1) and at most ``maxReplicas``, whatever ``spec.replicas`` says, so a workload that
omits ``replicas`` runs ``minReplicas`` pods, not 1. A target with ``replicas: 0`` is not scaled
(*autoscaling is disabled when the target's replicas is 0*), so it stays at 0. The plan takes
``clamp(replicas, min, max)``, the fewest pods the cluster runs, and says when that differs from
``spec.replicas``.

**Metric** (`Autoscaler.metric`, for the scenario's ``services[].autoscaling``). The first metric of
``spec.metrics`` (``autoscaling/v2``, ``v2beta2``, ``v2beta1``) or ``targetCPUUtilizationPercentage``
(``autoscaling/v1``; 80 % CPU when neither is given, the controller's default) is carried as one of the
scenario's metrics: a ``Resource``/``ContainerResource`` ``Utilization`` target is ``utilisation`` (a
fraction of the request); a ``Pods``, ``Object`` or ``External`` metric is named by what it counts —
waiting/queued/backlog/lag → ``queue``, running/in-flight/concurrency → ``concurrency``,
requests/rate/per-second → ``rps`` — with its ``averageValue`` (or ``value``, a total, noted) as the target.
``behavior`` (``autoscaling/v2``) is carried as the scenario's ``behavior``: per direction the
``stabilizationWindowSeconds``, ``selectPolicy`` and ``policies`` (``Pods``/``Percent``, ``value``,
``periodSeconds``), read by the simulated HPA (`capacity.autoscaling.hpa`). What does not map (a second
metric: the HPA takes the largest replica count over all of them; an unrecognised metric name or policy
type) is listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from capacity.k8s import quantities as q
from capacity.k8s.manifests import Manifest

#: Metric names → scenario metric, in this order (first match wins): "num_requests_waiting" is a queue,
#: "num_requests_running" a concurrency, "http_requests_per_second" a rate.
_NAMED_METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("queue", ("queue", "waiting", "backlog", "lag", "pending", "depth", "messages")),
    ("concurrency", ("concurren", "running", "inflight", "in_flight", "in-flight", "active")),
    ("rps", ("per_second", "persecond", "rps", "qps", "rate", "requests", "throughput")),
    ("utilisation", ("utiliz", "utilis", "usage", "perc")),
)
DEFAULT_CPU_UTILISATION = Fraction(80, 100)


@dataclass
class Autoscaler:
    """One autoscaler's range and metric, with what could only be approximated or was left out."""

    label: str                              # "HorizontalPodAutoscaler shop/api"
    min: int
    max: int
    policy: str = "hpa"
    metric: str | None = None               # concurrency | rps | utilisation | queue
    target: Fraction | None = None          # per replica (utilisation: a fraction of the request)
    notes: list[str] = field(default_factory=list)      # approximations
    ignored: list[str] = field(default_factory=list)    # fields left out
    behavior: dict[str, Any] | None = None              # the scenario's behavior (hpa)

    def section(self) -> dict[str, Any]:
        """The scenario's ``services[].autoscaling`` mapping."""
        out: dict[str, Any] = {"min": self.min, "max": self.max}
        if self.metric is not None and self.target is not None:
            out["metric"] = self.metric
            out["target"] = _number(self.target)
        out["policy"] = self.policy
        if self.behavior and self.policy == "hpa":
            out["behavior"] = self.behavior
        return out

    def describe(self) -> str:
        metric = f", {self.metric} {_number(self.target)}" if self.metric and self.target is not None else ""
        return f"{self.policy.upper()} {self.min}..{self.max}{metric}"


def _number(value: Fraction | None) -> int | float:
    if value is None:
        return 0
    return int(value) if value.denominator == 1 else float(value)


def replicas_under(autoscaler: Autoscaler, written: int | None) -> tuple[int, str | None]:
    """The replicas the cluster runs under ``autoscaler`` (at least), and a note when that is not
    ``written`` (``spec.replicas``, None when omitted). See the module docstring."""
    low = max(autoscaler.min, 1)
    if written is None:
        return low, f"no spec.replicas: {low} from {autoscaler.label} (minReplicas)"
    if written == 0:
        return 0, None
    if written < low:
        return low, f"spec.replicas {written} is below {autoscaler.label}'s minReplicas: {low}"
    if written > autoscaler.max:
        return autoscaler.max, f"spec.replicas {written} is above {autoscaler.label}'s maxReplicas: " \
                               f"{autoscaler.max}"
    return written, None


def named_metric(name: str) -> str | None:
    """The scenario metric a custom metric's name stands for (see `_NAMED_METRICS`), or None."""
    lowered = name.lower()
    for metric, words in _NAMED_METRICS:
        if any(w in lowered for w in words):
            return metric
    return None


def read_hpa(m: Manifest) -> tuple[tuple[str, str, str] | None, Autoscaler]:
    """The target ``(kind, namespace, name)`` of an HPA object and its `Autoscaler`."""
    spec = m.get("spec", dict, {})
    target = m.get("scaleTargetRef", dict, {}, obj=spec, at="spec.")
    ref = None
    if target.get("kind") and target.get("name"):
        ref = (str(target["kind"]), m.namespace, str(target["name"]))
    low = m.get("minReplicas", int, 1, obj=spec, at="spec.")
    high = m.get("maxReplicas", int, obj=spec, at="spec.")
    if low < 0 or high < 1 or low > high:
        m.error(f"minReplicas {low} and maxReplicas {high}: need 0 <= min <= max and max >= 1",
                "spec.maxReplicas")
    hpa = Autoscaler(label=f"HorizontalPodAutoscaler {m.namespace}/{m.name}", min=low, max=high)
    metrics = m.get("metrics", list, [], obj=spec, at="spec.")
    if "targetCPUUtilizationPercentage" in spec:          # autoscaling/v1
        percent = m.get("targetCPUUtilizationPercentage", int, obj=spec, at="spec.")
        hpa.metric, hpa.target = "utilisation", Fraction(percent, 100)
        hpa.notes.append("cpu utilisation of the request taken as the replica's busy share")
    elif not metrics:
        hpa.metric, hpa.target = "utilisation", DEFAULT_CPU_UTILISATION
        hpa.notes.append("no metrics: the controller's default, 80% cpu utilisation")
    else:
        _first_metric(m, metrics, hpa)
    if spec.get("behavior"):
        hpa.behavior = _behavior(m, spec["behavior"], hpa)
    return ref, hpa


_DIRECTIONS = (("scaleUp", "scale_up"), ("scaleDown", "scale_down"))


def _behavior(m: Manifest, raw: Any, hpa: Autoscaler) -> dict[str, Any] | None:
    """The scenario's ``behavior`` from an HPA's ``spec.behavior`` (see the module docstring)."""
    if not isinstance(raw, dict):
        m.error("expected a mapping", "spec.behavior")
    out: dict[str, Any] = {}
    for key, name in _DIRECTIONS:
        rules = raw.get(key)
        if rules is None:
            continue
        at = f"spec.behavior.{key}."
        if not isinstance(rules, dict):
            m.error("expected a mapping", at.rstrip("."))
        carried: dict[str, Any] = {}
        window = m.optional("stabilizationWindowSeconds", int, obj=rules, at=at)
        if window is not None:
            carried["stabilization"] = window
        select = rules.get("selectPolicy")
        if select in ("Max", "Min", "Disabled"):
            carried["select"] = select
        elif select is not None:
            hpa.ignored.append(f"HPA behavior {key}.selectPolicy {select!r} (not Max, Min or Disabled)")
        policies = []
        for i, policy in enumerate(rules.get("policies") or []):
            where = f"{at}policies[{i}]."
            if not isinstance(policy, dict):
                m.error("expected a scaling policy", where.rstrip("."))
            kind = policy.get("type")
            value = m.optional("value", int, obj=policy, at=where)
            period = m.optional("periodSeconds", int, obj=policy, at=where)
            if kind not in ("Pods", "Percent") or value is None or period is None:
                hpa.ignored.append(f"HPA behavior {key}.policies[{i}] (type {kind!r}: not understood)")
                continue
            policies.append({"type": kind, "value": value, "period": period})
        if policies:
            carried["policies"] = policies
        if carried:
            out[name] = carried
    return out or None


_BODY_KEYS = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
              "Object": "object", "External": "external"}
"""The field of a metric spec that holds its body, by the metric's ``type``."""


def _first_metric(m: Manifest, metrics: Sequence[Any], hpa: Autoscaler) -> None:
    for i, _ in enumerate(metrics[1:], start=1):
        hpa.ignored.append(f"HPA metric {i} (the HPA scales to the largest count over all its metrics; the "
                           "scenario carries the first)")
    metric = metrics[0]
    where = "spec.metrics[0]"
    if not isinstance(metric, dict):
        m.error("expected a metric spec", where)
    kind = str(metric.get("type") or "")
    body = metric.get(_BODY_KEYS.get(kind, ""), {})
    if not isinstance(body, dict) or not body:
        hpa.ignored.append(f"HPA metric of type {kind or '?'} (not understood)")
        return
    raw_target = body.get("target")
    target: dict[str, Any] = raw_target if isinstance(raw_target, dict) else {}
    if kind in ("Resource", "ContainerResource"):
        at = f"{where}.{_BODY_KEYS[kind]}."
        utilization = m.optional("averageUtilization", int, obj=target, at=at + "target.")
        if utilization is None:
            utilization = m.optional("targetAverageUtilization", int, obj=body, at=at)
        resource = body.get("name", "cpu")
        if utilization is not None:
            hpa.metric, hpa.target = "utilisation", Fraction(utilization, 100)
            hpa.notes.append(f"{resource} utilisation of the request taken as the replica's busy share")
        else:
            value = target.get("averageValue", body.get("targetAverageValue"))
            hpa.ignored.append(f"HPA {resource} target averageValue {value} (an absolute amount, not a "
                               "utilisation: only the replica range is carried)")
        return
    raw_inner = body.get("metric")
    inner: dict[str, Any] = raw_inner if isinstance(raw_inner, dict) else {}
    name = str(inner.get("name") or body.get("metricName") or "")
    average = target.get("averageValue", body.get("targetAverageValue"))
    total = target.get("value", body.get("targetValue"))
    metric_name = named_metric(name)
    if metric_name is None or (average is None and total is None):
        hpa.ignored.append(f"HPA {kind} metric {name or '?'} (no scenario metric stands for it: only the "
                           "replica range is carried)")
        return
    try:
        amount = q.parse(average if average is not None else total)
    except ValueError as exc:
        m.error(str(exc), f"{where}.{kind[0].lower() + kind[1:]}.target")
    if amount <= 0:
        hpa.ignored.append(f"HPA {kind} metric {name}: target {amount} is not positive")
        return
    hpa.metric, hpa.target = metric_name, amount
    hpa.notes.append(f"{kind} metric {name} taken as {metric_name}"
                     + (" (its target value is a total over all pods, taken per replica)"
                        if average is None else ""))
