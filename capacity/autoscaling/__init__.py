"""Autoscaling: replicas that follow the load and nodes that follow the replicas, inside one simulated run.

Inference fleets are not sized once: a replica autoscaler (Kubernetes' HPA, Knative's KPA) changes each
service's replica count from a measured metric, new replicas need a node (the scheduler places them on
the existing nodes, or they wait *pending* while a node autoscaler adds one) and a cold start (image pull
and weights load) before they serve, and nodes that become unneeded are removed. This package runs that
loop on the simulation clock, beside the requests:

* `model` — what the run is given, as plain data (`AutoscalingModel`: per service a `ServiceScaling`, per
  pool a `PoolScaling`, the `ClusterSpec`);
* `metrics` — the load an autoscaler measures, sampled and averaged over a window;
* `policies` — the registry of replica autoscalers (`POLICIES`): `hpa` (Kubernetes) and `kpa` (Knative);
* `cluster` — nodes, online placement with the scheduler's scoring, node autoscaling (`EXPANDERS`);
* `controller` — the `capacity.sim.Controller` that runs it all during the replay;
* `outcome` — the report's ``simulation.autoscaling`` section (cost, node-hours, replicas and nodes over
  time, scale events, SLO over time).

`simulate` draws the model's requests, replays them with the controller and returns the simulation result
with the controller (whose records `summarize_autoscaling` reads). Times are seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from capacity._lazy import lazy_names
from capacity.autoscaling import hpa as _hpa  # noqa: F401  (registers the policy)
from capacity.autoscaling import kpa as _kpa  # noqa: F401  (registers the policy)
from capacity.autoscaling.cluster import EXPANDERS
from capacity.autoscaling.model import (
    AutoscalingModel,
    ClusterSpec,
    ColdStart,
    HpaSettings,
    KpaSettings,
    PoolScaling,
    PoolSpec,
    ScalingPolicy,
    ScalingRules,
    ServiceScaling,
)
from capacity.autoscaling.policies import POLICIES
from capacity.sim.model import SimModel
from capacity.sim.result import SimResult

#: The names that run the simulator (SimPy), imported on first use (`capacity._lazy`): reading a scenario
#: with autoscaling (``capacity validate``) does not load the simulator.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "capacity.autoscaling.controller": ("AutoscaleController", "ScaleEvent"),
    "capacity.autoscaling.outcome": ("summarize_autoscaling",),
}
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)

if TYPE_CHECKING:
    from capacity.autoscaling.controller import AutoscaleController, ScaleEvent
    from capacity.autoscaling.outcome import summarize_autoscaling


def simulate(model: SimModel, scaling: AutoscalingModel) -> tuple[SimResult, AutoscaleController]:
    """Replay the model's requests with its services and pools autoscaled; the result and the controller."""
    from capacity.autoscaling.controller import AutoscaleController
    from capacity.sim.engine import generate_requests, simulate_requests

    stream = generate_requests(model)
    service_of_class = np.array([c.service for c in model.classes] or [""], dtype=object)
    arrivals = {}
    for s in scaling.services:
        mine = service_of_class[stream.cls] == s.service if len(stream) else np.zeros(0, dtype=bool)
        arrivals[s.service] = np.sort(stream.arrival_s[mine])
    controller = AutoscaleController(model, scaling, arrivals)
    return simulate_requests(model, stream, (controller,)), controller

__all__ = [
    "EXPANDERS",
    "POLICIES",
    "AutoscaleController",
    "AutoscalingModel",
    "ClusterSpec",
    "ColdStart",
    "HpaSettings",
    "KpaSettings",
    "PoolScaling",
    "PoolSpec",
    "ScaleEvent",
    "ScalingPolicy",
    "ScalingRules",
    "ServiceScaling",
    "simulate",
    "summarize_autoscaling",
]
