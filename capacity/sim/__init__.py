"""Serving simulation: replay inference requests through placed replicas and measure latency and load.

The input is a `SimModel` (services with their placed replicas, request classes, duration, warm-up,
seed; `capacity.sim.model`). `simulate_model` draws every request from the seed and replays them on a
SimPy clock (`capacity.sim.engine`), returning a `SimResult` of per-request records; `summarize` turns
it into the report's ``simulation`` section (`capacity.sim.metrics`). Times are seconds, rates per second.

To replay requests drawn elsewhere (hand-made cases, traces), build a `RequestStream` and call
`simulate_requests`.

Concepts, one module each: ``arrivals`` (arrival processes), ``service_times`` (distributions, token
times), ``disciplines`` (queue order), ``routing`` (which replica serves), ``batching`` (dynamic and
continuous batching replicas), ``engine`` (the replay), ``result``
(the records), ``metrics`` (the summary), ``traces`` (recorded requests: CSV formats and replay).
"""

from capacity.sim.engine import (
    RequestStream,
    generate_requests,
    simulate_model,
    simulate_requests,
    validate_model,
)
from capacity.sim.metrics import summarize
from capacity.sim.model import (
    Arrivals,
    Batching,
    Failure,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    TokenCount,
    Tokens,
)
from capacity.sim.result import FailureRecord, SimResult
from capacity.sim.traces import Trace, TraceError, read_trace

__all__ = [
    "Arrivals",
    "Batching",
    "Failure",
    "FailureRecord",
    "Replica",
    "RequestClass",
    "RequestStream",
    "ServiceTime",
    "ServingService",
    "SimModel",
    "SimResult",
    "TokenCount",
    "Tokens",
    "Trace",
    "TraceError",
    "generate_requests",
    "read_trace",
    "simulate_model",
    "simulate_requests",
    "summarize",
    "validate_model",
]
