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

`simulate` (`capacity.autoscaling.run`) draws the model's requests, replays them with the controller and
returns the simulation result with the controller (whose records `summarize_autoscaling` reads). Times
are seconds.

The public names are imported on first use (`capacity._lazy`): importing the package, or its `model`,
does not load the simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from capacity._lazy import lazy_names

#: Each public name by the module that defines it, imported on first use (`capacity._lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "capacity.autoscaling.cluster": ("EXPANDERS",),
    "capacity.autoscaling.controller": ("AutoscaleController", "ScaleEvent"),
    "capacity.autoscaling.model": (
        "AutoscalingModel", "ClusterSpec", "ColdStart", "HpaSettings", "KpaSettings", "PoolScaling",
        "PoolSpec", "ScalingPolicy", "ScalingRules", "ServiceScaling",
    ),
    "capacity.autoscaling.outcome": ("summarize_autoscaling",),
    "capacity.autoscaling.registry": ("POLICIES",),
    "capacity.autoscaling.run": ("simulate",),
}
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)

if TYPE_CHECKING:
    from capacity.autoscaling.cluster import EXPANDERS
    from capacity.autoscaling.controller import AutoscaleController, ScaleEvent
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
    from capacity.autoscaling.outcome import summarize_autoscaling
    from capacity.autoscaling.registry import POLICIES
    from capacity.autoscaling.run import simulate

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
