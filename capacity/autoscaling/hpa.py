"""Kubernetes' HorizontalPodAutoscaler (``policy: hpa``), as the controller computes it.

Sources: the documentation, https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
("Algorithm details", "Configurable scaling behavior"), and the controller's code,
kubernetes/kubernetes ``pkg/controller/podautoscaler/horizontal.go`` (``reconcileAutoscaler``,
``normalizeDesiredReplicasWithBehaviors``, ``stabilizeRecommendationWithBehaviors``,
``convertDesiredReplicasWithBehaviorRate``, ``calculateScaleUpLimitWithScalingRules``,
``calculateScaleDownLimitWithBehaviors``) and ``replica_calculator.go`` (``calcPlainMetricReplicas``).

Every ``sync_s`` (15 s, ``--horizontal-pod-autoscaler-sync-period``), with ``current`` the replicas of the
scale target (ready + not yet ready; terminating ones left out):

1. ``current > max`` → ``max``; ``current < min`` → ``min``; ``current = 0`` → stays 0
   (Kubernetes: *autoscaling is disabled* for a target scaled to 0). Otherwise:
2. **proposal** (``replica_calculator.go``): ``m`` the metric averaged over the ready replicas and the
   window, ``ratio = m / target``. No ready replica: no metric, no change. If no replica is unready, or
   ``ratio <= 1``: within ``tolerance`` (``|1 − ratio| <= 0.1``) no change, else ``ceil(ratio × ready)``.
   If some replicas are unready (starting or pending) and ``ratio > 1``, they count as using 0:
   ``ratio' = ratio × ready / current``; no change if ``ratio'`` is within tolerance or on the other side of
   1, else ``ceil(ratio' × current)``;
3. **stabilization**: the proposal is kept with its time; the recommendation is ``current`` brought up to the
   *smallest* proposal of the last ``scale_up.stabilization_s`` (0 s: this one) and down to the *largest*
   of the last ``scale_down.stabilization_s`` (300 s). At the first sync the window holds ``current``
   (``maybeInitScaleDownStabilizationWindow``), so nothing scales down in the first 300 s;
4. **rate limits** (``behavior`` policies): scaling up, at most ``max`` over the policies of
   ``start + value`` (Pods) or ``ceil(start × (1 + value/100))`` (Percent), with ``start`` the replicas at
   the beginning of the policy's period (``current`` − added + removed in the last ``period_s``), and never
   below ``current``; the default is max(4 pods, 100 %) per 15 s. Scaling down, at least the largest
   (``Max``) of ``start − value`` or ``floor(start × (1 − value/100))``: 100 % per 15 s by default. Then
   clamped to ``[min, max]``.

A change is applied at once (new replicas are created: placed, or pending) and recorded as a scale event
for the rate limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from capacity.autoscaling.model import ScalingRules, ServiceScaling
from capacity.autoscaling.policies import POLICIES, Recommendation, ScaleView

DEFAULT_WINDOW_S = 15.0
"""Metrics averaged over 15 s by default: metrics-server's ``--metric-resolution``."""


def _change_in_period(events: list[tuple[float, int]], now: float, period_s: float) -> int:
    """The replicas changed by ``events`` (time, change) strictly after ``now − period_s``."""
    return sum(change for t, change in events if t > now - period_s)


def scale_up_limit(
    current: int, up: list[tuple[float, int]], down: list[tuple[float, int]], rules: ScalingRules, now: float
) -> int:
    """``calculateScaleUpLimitWithScalingRules``: the most replicas the scale-up policies allow now."""
    if rules.select == "Disabled":
        return current
    pick = min if rules.select == "Min" else max
    result: int | None = None
    for p in rules.policies:
        start = current - _change_in_period(up, now, p.period_s) + _change_in_period(down, now, p.period_s)
        proposed = start + p.value if p.type == "Pods" else math.ceil(start * (1 + p.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def scale_down_limit(
    current: int, up: list[tuple[float, int]], down: list[tuple[float, int]], rules: ScalingRules, now: float
) -> int:
    """``calculateScaleDownLimitWithBehaviors``: the fewest replicas the scale-down policies allow now."""
    if rules.select == "Disabled":
        return current
    pick = max if rules.select == "Min" else min
    result: int | None = None
    for p in rules.policies:
        start = current - _change_in_period(up, now, p.period_s) + _change_in_period(down, now, p.period_s)
        proposed = start - p.value if p.type == "Pods" else int(start * (1 - p.value / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


def proposal(current: int, ready: int, metric: float, target: float, tolerance: float) -> tuple[int, str]:
    """``calcPlainMetricReplicas``: the replicas the metric asks for, and why (see the module docstring)."""
    ratio = metric / target
    unready = current - ready
    if unready <= 0 or ratio <= 1.0:
        if abs(1.0 - ratio) <= tolerance:
            return current, "tolerance"
        return math.ceil(ratio * ready), "metric"
    adjusted = ratio * ready / current
    if abs(1.0 - adjusted) <= tolerance or adjusted < 1.0:
        return current, "unready"
    new = math.ceil(adjusted * current)
    return (current, "unready") if new < current else (new, "metric")


@dataclass
class HpaScaler:
    """One service's HorizontalPodAutoscaler (see the module docstring)."""

    spec: ServiceScaling
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    up_events: list[tuple[float, int]] = field(default_factory=list)
    down_events: list[tuple[float, int]] = field(default_factory=list)
    started: bool = False

    @property
    def interval_s(self) -> float:
        return self.spec.hpa.sync_s

    def poke(self, view: ScaleView) -> Recommendation | None:
        return None

    def recommend(self, view: ScaleView) -> Recommendation:
        spec, hpa, now, current = self.spec, self.spec.hpa, view.now, view.current
        if not self.started:
            self.started = True
            if hpa.scale_down.stabilization_s > 0:
                self.recommendations.append((now, current))
        if current == 0:
            return Recommendation(0, None, "scaled to zero")
        if current > spec.max:
            return self._apply(now, current, spec.max, None, "above max")
        if current < spec.min:
            return self._apply(now, current, spec.min, None, "below min")
        window = spec.window_s if spec.window_s is not None else DEFAULT_WINDOW_S
        metric = view.samples.per_replica(spec.metric, now, window)
        if metric is None:
            return Recommendation(current, None, "no metric")
        wanted, reason = proposal(current, view.ready, metric, spec.target, hpa.tolerance)
        desired = self._stabilize(now, current, wanted)
        desired = self._rate_limit(now, current, desired)
        return self._apply(now, current, desired, metric, reason)

    def _stabilize(self, now: float, current: int, wanted: int) -> int:
        up_cut = now - self.spec.hpa.scale_up.stabilization_s
        down_cut = now - self.spec.hpa.scale_down.stabilization_s
        up = down = wanted
        for t, rec in self.recommendations:
            if t > up_cut:
                up = min(up, rec)
            if t > down_cut:
                down = max(down, rec)
        keep = max(self.spec.hpa.scale_up.stabilization_s, self.spec.hpa.scale_down.stabilization_s)
        self.recommendations = [(t, r) for t, r in self.recommendations if t > now - keep]
        self.recommendations.append((now, wanted))
        return min(max(current, up), down)

    def _rate_limit(self, now: float, current: int, desired: int) -> int:
        hpa, spec = self.spec.hpa, self.spec
        if desired > current:
            limit = max(scale_up_limit(current, self.up_events, self.down_events, hpa.scale_up, now), current)
            return min(desired, spec.max, limit)
        if desired < current:
            limit = min(
                scale_down_limit(current, self.up_events, self.down_events, hpa.scale_down, now), current
            )
            return max(desired, spec.min, limit)
        return desired

    def _apply(
        self, now: float, current: int, desired: int, metric: float | None, reason: str
    ) -> Recommendation:
        if desired > current:
            self.up_events.append((now, desired - current))
        elif desired < current:
            self.down_events.append((now, current - desired))
        longest = max(
            (p.period_s for r in (self.spec.hpa.scale_up, self.spec.hpa.scale_down) for p in r.policies),
            default=0.0,
        )
        self.up_events = [e for e in self.up_events if e[0] > now - longest]
        self.down_events = [e for e in self.down_events if e[0] > now - longest]
        return Recommendation(desired, metric, reason)


@dataclass(frozen=True)
class Hpa:
    """Kubernetes' HorizontalPodAutoscaler (see the module docstring)."""

    name: str = "hpa"
    summary: str = (
        "Kubernetes HorizontalPodAutoscaler: every 15 s ceil(replicas × metric / target), "
        "10 % tolerance, behavior stabilization windows and rate limits"
    )

    def window_s(self, spec: ServiceScaling) -> float:
        return spec.window_s if spec.window_s is not None else DEFAULT_WINDOW_S

    def scaler(self, spec: ServiceScaling) -> HpaScaler:
        return HpaScaler(spec)


POLICIES.register(Hpa())
