"""Knative's pod autoscaler (``policy: kpa``, KServe's serverless mode), as its autoscaler computes it.

Sources: Knative's documentation, https://knative.dev/docs/serving/autoscaling/ ("Configuring the
autoscaler": ``config-autoscaler`` defaults; "Scale to zero"; "Panic mode"), and its code,
knative/serving ``pkg/autoscaler/scaling/autoscaler.go`` (``Scale``) and
``pkg/reconciler/autoscaling/kpa/scaler.go`` (scale to zero after the grace period).

Every ``tick_s`` (2 s, ``tick-interval``), with ``ready`` the ready replicas (at least 1 in the formulas):

* the **stable** value is the metric summed over the replicas and averaged over the stable window (the
  service's ``window``, default ``stable_window_s``: 60 s),
  the **panic** value the same over ``panic_window_fraction × stable_window_s`` (10 %: 6 s);
* the per-replica target is ``target × target_utilisation`` (70 %); ``dspc = ceil(stable / target')`` and
  ``dppc = ceil(panic / target')``, each kept within ``[floor(ready / max_scale_down_rate),
  ceil(max_scale_up_rate × ready)]`` (at most halve, at most ×1000 per tick; the floor is 0 while no
  replica is ready);
* **panic** starts when ``dppc / ready >= panic_threshold`` (200 %) and lasts while it holds, and until a
  stable window has passed since it last held; while panicking the count is the larger of the two and
  never goes down (``maxPanicPods``);
* then clamped to ``[min, max]``. A count of 0 is applied only once it has been wanted for
  ``scale_to_zero_grace_s`` (30 s); meanwhile one replica stays.

With ``min: 0`` the service can scale to zero: arrivals then wait in the **activator**
(`capacity.sim.runtime.ServiceRuntime.hold_when_cold`), which tells the autoscaler at once (`poke`): from
zero, the desired count is ``max(1, ceil(held / target'))`` without waiting for the next tick. The held
requests count in the ``concurrency`` metric (the activator reports them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from capacity.autoscaling.model import ServiceScaling
from capacity.autoscaling.policies import POLICIES, Recommendation, ScaleView


def stable_window_s(spec: ServiceScaling) -> float:
    """The stable window: the service's ``window`` (Knative's ``autoscaling.knative.dev/window``) or the
    default 60 s."""
    return spec.window_s if spec.window_s is not None else spec.kpa.stable_window_s


@dataclass
class KpaScaler:
    """One service's Knative autoscaler (see the module docstring)."""

    spec: ServiceScaling
    panic_since: float | None = None  # when panic mode last held (None: not panicking)
    max_panic: int = 0
    zero_since: float | None = None  # since when 0 has been wanted

    @property
    def interval_s(self) -> float:
        return self.spec.kpa.tick_s

    def _target(self) -> float:
        return self.spec.target * self.spec.kpa.target_utilisation

    def poke(self, view: ScaleView) -> Recommendation | None:
        if view.current > 0:
            return None
        held = view.samples.runtime.held
        n = max(1, math.ceil((len(held) if held else 1) / self._target()))
        n = min(max(n, self.spec.min), self.spec.max)
        self.zero_since = None
        return Recommendation(n, float(len(held) if held else 0), "activator")

    def recommend(self, view: ScaleView) -> Recommendation:
        spec, k, now = self.spec, self.spec.kpa, view.now
        ready = max(1, view.ready)
        max_up = math.ceil(k.max_scale_up_rate * ready)
        max_down = math.floor(ready / k.max_scale_down_rate) if view.ready > 0 else 0
        window = stable_window_s(spec)
        stable = view.samples.total(spec.metric, now, window)
        panic = view.samples.total(spec.metric, now, window * k.panic_window_fraction)
        target = self._target()
        dspc, dppc = math.ceil(stable / target), math.ceil(panic / target)
        desired_stable = int(min(max(dspc, max_down), max_up))
        desired_panic = int(min(max(dppc, max_down), max_up))
        over = dppc / ready >= k.panic_threshold
        if over:
            self.panic_since = now
        elif self.panic_since is not None and self.panic_since + window < now:
            self.panic_since, self.max_panic = None, 0
        desired, reason = desired_stable, "stable"
        if self.panic_since is not None:
            reason = "panic"
            desired = max(desired, desired_panic)
            if desired > self.max_panic:
                self.max_panic = desired
            else:
                desired = self.max_panic
        desired = min(max(desired, spec.min), spec.max)
        if desired == 0 and view.current > 0:
            if self.zero_since is None:
                self.zero_since = now
            if now - self.zero_since < k.scale_to_zero_grace_s:
                return Recommendation(1, stable, "grace")
        else:
            self.zero_since = None
        return Recommendation(desired, stable, reason)


@dataclass(frozen=True)
class Kpa:
    """Knative's pod autoscaler (see the module docstring)."""

    name: str = "kpa"
    summary: str = (
        "Knative pod autoscaler: 60 s stable and 6 s panic windows, 70 % target utilisation, "
        "panic at 200 %, scale to zero after 30 s with the activator holding requests"
    )

    def window_s(self, spec: ServiceScaling) -> float:
        return stable_window_s(spec)

    def scaler(self, spec: ServiceScaling) -> KpaScaler:
        return KpaScaler(spec)


POLICIES.register(Kpa())
