"""Scenario files: the user-facing description of a cluster, its services and their traffic (version 1).

A scenario is a YAML document with these sections (all quantities in the units of `capacity.units`):

* ``cluster.pools`` — pools of identical nodes: how many may be used (``count``), what each offers
  (``resources``: cpu, memory and any other named resource), an hourly ``cost`` and ``labels``.
* ``services`` — what runs: ``replicas`` identical replicas, each requesting ``resources``; optional
  ``pools`` (node selector) and ``max_per_node`` (anti-affinity); ``serving`` says how one replica serves
  requests (``concurrency`` slots, a ``service_time`` — a distribution, a batch latency or a token time —
  optional ``batching``, dynamic or continuous, and an optional queue ``discipline``). A pool's ``speed``
  divides the service times of the replicas placed on it.
* ``services[].autoscaling`` — the replica autoscaler (``policy: hpa | kpa``, ``min``, ``max``,
  ``metric``/``target``, windows and the policy's settings), simulated with ``cluster.pools[].autoscaling``
  (node autoscaling) and ``serving.cold_start`` (`capacity.autoscaling`); a range alone is data.
* ``workload`` — request ``classes`` (each a tenant's traffic to one service at a priority, arriving by a
  stochastic process, with an optional latency SLO), the simulated ``duration`` and the ``warmup`` excluded
  from statistics.
* ``scheduling`` — how requests are routed to replicas and the default queue discipline.
* ``placement`` — the packer's ``objective``, ``headroom`` kept free on every node, ``solver`` and
  ``time_limit``.
* ``whatif`` — variations of the scenario for ``capacity sweep``: a ``grid`` of dotted keys (as ``--set``)
  to value lists, named ``cases`` (each sets several keys) and ``replications`` per point. Every grid value
  and every case is applied and validated at load, so a bad key is refused before any run
  (`capacity.whatif` expands and runs the points).
* ``limits`` — caps on the work a run may ask for (requests, replicas, packing size, ...); see
  `capacity.limits`. Which folders trace files may come from is the user's choice, not the scenario's
  (``--data-dir``, ``CAPACITY_DATA_DIRS``; see `capacity.sandbox`).
* ``kubernetes`` — written by ``capacity import-k8s``: the object behind each service and the existing
  nodes of each pool, for ``capacity plan --export k8s`` (`capacity.k8s`).

Loading is strict: unknown keys, wrong types (a boolean is never a number), bad units and dangling
references are refused with a `ScenarioError` that names the file, the line, the field path (list items by
their ``name``, e.g. ``services.ranker.resources.cpu``) and what is wrong. The text is read by
`capacity.yamlio`: YAML 1.2, merge keys, duplicate keys refused, bounded in size, nodes and depth.
``--set`` overrides (``services.ranker.replicas=8``) are applied to the document before validation, so an
override is checked exactly like the file.

The package, one concern a module: the value types and base model (`fields`), one module per section
(`cluster`, `services`, `workload`, `placement`, `whatif`, `kubernetes`) and the root `Scenario`
(`document`); field and file paths (`paths`), ``--set`` overrides (`overrides`), errors in the planner's
words (`messages`), the cross-checks (`checks`), the work a scenario asks for against its limits (`work`),
validation (`validation`), what-if points (`points`) and loading (`loading`). Import from the package:
``from capacity.scenario import Scenario, load_scenario``.

Names of policies (disciplines, routings, arrival processes, distributions, trace formats, objectives) are
read from their registries when a scenario is validated (`fields.OneOf`), so a registered policy is a
scenario name at once; loading imports neither the solver nor the simulator (`capacity._lazy`). The JSON
Schema of a scenario file for editors is `capacity.schemas` (``capacity schema scenario``).
"""


from __future__ import annotations

from capacity.scenario.cluster import Cluster, GpuFigures, Pool, gpu_of
from capacity.scenario.document import Scenario, trace_path
from capacity.scenario.fields import (
    Duration,
    Float,
    Fraction,
    Int,
    LabelKey,
    Name,
    PositiveDuration,
    Quantity,
    Rate,
    ResourceName,
)
from capacity.scenario.kubernetes import K8sName, KubernetesSection, KubernetesWorkload
from capacity.scenario.loading import load_scenario, parse_yaml, scenario_from_dict
from capacity.scenario.overrides import apply_overrides, field_value
from capacity.scenario.paths import Path_, display_path, resolve_path
from capacity.scenario.placement import ObjectiveName, PlacementOptions
from capacity.scenario.points import whatif_point
from capacity.scenario.services import (
    Autoscaling,
    Batching,
    DisciplineName,
    Llm,
    PodAffinityTerm,
    Queue,
    RoutingName,
    Service,
    ServiceTime,
    Serving,
    Spread,
    Survive,
)
from capacity.scenario.whatif import WhatIf, WhatIfKey
from capacity.scenario.workload import (
    SLO,
    SLO_QUANTILES,
    AdmissionName,
    ArrivalProcessName,
    Arrivals,
    Failure,
    Metrics,
    OnFailureName,
    RequestClass,
    Scheduling,
    Target,
    TenantSplit,
    TokenCount,
    Tokens,
    Workload,
)

__all__ = [
    "SLO", "SLO_QUANTILES", "AdmissionName", "ArrivalProcessName",
    "Arrivals", "Autoscaling", "Batching", "Cluster", "DisciplineName", "Duration", "Failure", "Float",
    "Fraction", "GpuFigures", "Int", "K8sName", "KubernetesSection", "KubernetesWorkload", "LabelKey",
    "Llm", "Metrics", "Name", "ObjectiveName", "OnFailureName", "Path_", "PlacementOptions",
    "PodAffinityTerm", "Pool", "PositiveDuration", "Quantity", "Queue", "Rate", "RequestClass",
    "ResourceName", "RoutingName", "Scenario", "Scheduling", "Service", "ServiceTime", "Serving", "Spread",
    "Survive", "Target", "TenantSplit", "TokenCount", "Tokens", "WhatIf", "WhatIfKey", "Workload",
    "apply_overrides", "display_path", "field_value", "gpu_of", "load_scenario", "parse_yaml",
    "resolve_path", "scenario_from_dict", "trace_path", "whatif_point",
]
