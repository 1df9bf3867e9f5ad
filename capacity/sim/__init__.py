"""Serving simulation: replay inference requests through placed replicas and measure latency and load.

The input is a `SimModel` (services with their placed replicas, request classes, duration, warm-up,
seed; `capacity.sim.model`). `simulate_model` draws every request from the seed and replays them on a
SimPy clock (`capacity.sim.engine`), returning a `SimResult` of per-request records; `summarize` turns
it into the report's ``simulation`` section (`capacity.sim.metrics`). Times are seconds, rates per second.

To replay requests drawn elsewhere (hand-made cases, traces), build a `RequestStream` and call
`simulate_requests`.

A long run (a day at production rates) keeps running statistics instead of per-request records: ``model.
statistics = "streaming"``, run by `run_model` (or `simulate_streaming`), returns a `StreamingResult`
whose `summarize` has the same keys, quantiles within 1 % (`capacity.sim.streaming`).

Concepts, one module each: ``arrivals`` (arrival processes), ``service_times`` (distributions, token
times), ``streams`` (the seeded random streams), ``requests`` (the engine's input), ``disciplines`` (queue
order), ``routing`` (which replica serves), ``replicas`` (a replica's lifecycle: starting, ready,
draining, stopped, down), ``runtime`` (a running service: its replicas, routing, and the API to add and
drain replicas), ``slot_service`` (the general path, with ``queues``, ``slots``, ``admission`` and
``records``), ``batching`` (dynamic and continuous batching replicas), ``llm_batching`` (LLM engine
replicas: KV cache, chunked prefill, preemption, iteration times from the hardware), ``failures``
(node failures), ``engine`` (the replay), ``validation`` (the model's checks), ``result`` (the records),
``metrics`` (the summary), ``traces`` (recorded requests: CSV formats and replay), ``paths`` (a
class's path through several services, as a structure), ``journeys`` (requests that travel their path:
`simulate_journeys`), ``path_metrics`` (their end-to-end statistics), ``streaming`` and ``sketch``
(streaming runs).

To change the replicas during a run (autoscaling, rollouts), pass a `Controller` to `simulate_model` or
`simulate_requests`: its ``start(run)`` gets a `RunControl` (the clock, ``run.at(time, action)``, and each
service's `ServiceRuntime` with ``add_replica(replica, cold_start_s)``, ``drain(name)`` and
``state_counts()``). The result's ``timeline`` holds every replica's state intervals.
"""

from typing import TYPE_CHECKING

from capacity._lazy import lazy_names

#: Each public name by the module that defines it, imported on first use (`capacity._lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "capacity.sim.engine": (
        "RequestStream", "generate_requests", "simulate_model", "simulate_requests", "validate_model",
    ),
    "capacity.sim.journeys": ("PathResult", "simulate_journeys"),
    "capacity.sim.modes": ("run_model", "summarize"),
    "capacity.sim.model": (
        "Arrivals", "Batching", "Failure", "LlmServing", "Replica", "RequestClass", "ServiceTime",
        "ServingService", "SimModel", "TokenCount", "Tokens", "TokenSlo",
    ),
    "capacity.sim.replicas": ("ReplicaState",),
    "capacity.sim.result": ("FailureRecord", "ReplicaTimeline", "SimResult"),
    "capacity.sim.runtime": ("Controller", "RunControl", "ServiceRuntime"),
    "capacity.sim.streaming": ("StreamingBacklog", "StreamingResult", "simulate_streaming"),
    "capacity.sim.traces": ("Trace", "TraceError", "read_trace"),
}
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)

if TYPE_CHECKING:
    from capacity.sim.engine import (
        RequestStream,
        generate_requests,
        simulate_model,
        simulate_requests,
        validate_model,
    )
    from capacity.sim.journeys import PathResult, simulate_journeys
    from capacity.sim.model import (
        Arrivals,
        Batching,
        Failure,
        LlmServing,
        Replica,
        RequestClass,
        ServiceTime,
        ServingService,
        SimModel,
        TokenCount,
        Tokens,
        TokenSlo,
    )
    from capacity.sim.modes import run_model, summarize
    from capacity.sim.replicas import ReplicaState
    from capacity.sim.result import FailureRecord, ReplicaTimeline, SimResult
    from capacity.sim.runtime import Controller, RunControl, ServiceRuntime
    from capacity.sim.streaming import StreamingBacklog, StreamingResult, simulate_streaming
    from capacity.sim.traces import Trace, TraceError, read_trace

__all__ = [
    "Arrivals",
    "Batching",
    "Controller",
    "Failure",
    "FailureRecord",
    "LlmServing",
    "PathResult",
    "Replica",
    "ReplicaState",
    "ReplicaTimeline",
    "RequestClass",
    "RequestStream",
    "RunControl",
    "ServiceRuntime",
    "ServiceTime",
    "ServingService",
    "SimModel",
    "SimResult",
    "StreamingBacklog",
    "StreamingResult",
    "TokenCount",
    "TokenSlo",
    "Tokens",
    "Trace",
    "TraceError",
    "generate_requests",
    "read_trace",
    "run_model",
    "simulate_journeys",
    "simulate_model",
    "simulate_requests",
    "simulate_streaming",
    "summarize",
    "validate_model",
]
