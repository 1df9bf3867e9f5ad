"""Replica autoscaling policies: the registry, and what a policy sees and answers.

A **policy** (`AutoscalePolicy`: a ``name``, a one-line ``summary``) makes one `Scaler` per autoscaled
service. Every ``interval_s`` seconds the run hands the scaler a `ScaleView` — the time, the replicas the
autoscaler owns (``current``: ready, starting and pending; draining ones are on their way out, as
terminating pods are for Kubernetes), the ready ones, and the service's
`capacity.autoscaling.metrics.LoadSamples` — and the scaler answers a `Recommendation`: the replica
count it wants, the metric value it read, and
why. ``hpa`` (`capacity.autoscaling.hpa`) and ``kpa`` (`capacity.autoscaling.kpa`) are registered in
`POLICIES`; adding one is one class and one ``POLICIES.register``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from capacity.autoscaling.metrics import LoadSamples
from capacity.autoscaling.model import ServiceScaling
from capacity.packing.registry import Registry


@dataclass(frozen=True)
class ScaleView:
    """What a scaler sees at one decision (see the module docstring)."""

    now: float
    current: int  # ready + starting + pending
    ready: int
    samples: LoadSamples


@dataclass(frozen=True)
class Recommendation:
    """A scaler's answer: the replicas it wants (``desired``), the metric it read (None: no value), and
    a short reason (``"tolerance"``, ``"panic"``, ...)."""

    desired: int
    metric: float | None = None
    reason: str = ""


class Scaler(Protocol):
    """One service's autoscaler while the run lasts (it keeps its own history)."""

    @property
    def interval_s(self) -> float:
        """Seconds between two decisions (the first at ``interval_s``)."""
        ...

    def recommend(self, view: ScaleView) -> Recommendation: ...

    def poke(self, view: ScaleView) -> Recommendation | None:
        """An arrival found no ready replica (the activator): an immediate answer, or None to wait for
        the next decision."""
        ...


class AutoscalePolicy(Protocol):
    """A replica autoscaling policy: its name, a summary, and the scaler it makes for a service."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def window_s(self, spec: ServiceScaling) -> float:
        """The longest window its metrics are averaged over (samples are kept that long)."""
        ...

    def scaler(self, spec: ServiceScaling) -> Scaler: ...


POLICIES: Registry[AutoscalePolicy] = Registry("autoscaling policy")
"""Every replica autoscaling policy by name (``services[].autoscaling.policy``)."""
