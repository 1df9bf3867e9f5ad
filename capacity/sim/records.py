"""What a replay writes besides each request's start time and replica: outcomes, segments, tenants.

`RunRecords` holds the per-request inputs the slot services read (arrival, service time, priority,
tenant, cost) and the records they write: end times of requests that did not end by a plain completion
(cut, timed out, lost), the outcome flags (timed out, dropped, lost, retried) and the **segments** of
requests whose service was cut (preemption, failure; `SegmentLog`). The arrays exist only when some
service can produce them (a run without timeouts has no ``gone`` flags, and so on).
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from capacity.sim.disciplines import DISCIPLINES
from capacity.sim.model import SimModel
from capacity.sim.requests import RequestStream


def admission_targets(model: SimModel) -> list[float]:
    """Per class, the latency target deadline-aware admission holds its arrivals to (inf: none).

    A class uses its own ``admission`` if set, else its service's; ``deadline`` applies to a class with
    an SLO target only.
    """
    service_of = {s.name: s for s in model.services}
    targets = []
    for c in model.classes:
        mode = c.admission or service_of[c.service].admission
        target = c.slo_target_s
        targets.append(float(target) if mode == "deadline" and target is not None else math.inf)
    return targets


def tenants_of(model: SimModel, cls: np.ndarray) -> tuple[list[int], dict[str, list[float]]]:
    """Each request's tenant, numbered within its service (first appearance in class order), and each
    service's tenant weights (the sum of the weights of the tenant's classes of that service)."""
    weights: dict[str, list[float]] = {}
    tenant_of_class: list[int] = []
    for c in model.classes:
        names = weights.setdefault(c.service, [])
        order = list(dict.fromkeys(k.tenant for k in model.classes if k.service == c.service))
        if not names:
            names.extend(sum(k.weight for k in model.classes if k.service == c.service and k.tenant == t)
                         for t in order)
        tenant_of_class.append(order.index(c.tenant))
    tenant = (np.array(tenant_of_class, dtype=np.int64)[cls].tolist()
              if len(cls) and tenant_of_class else [])
    return tenant, weights


class SegmentLog:
    """Every service segment of the requests whose service was cut (preemption, failure), unclipped."""

    def __init__(self) -> None:
        self.request, self.replica = array("q"), array("i")
        self.start, self.end = array("d"), array("d")

    def __bool__(self) -> bool:
        return bool(self.request)

    def add(self, request: int, replica: int, start: float, end: float) -> None:
        self.request.append(request)
        self.replica.append(replica)
        self.start.append(start)
        self.end.append(end)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (np.frombuffer(self.request, dtype=np.int64).copy(),
                np.frombuffer(self.replica, dtype=np.int32).copy(),
                np.frombuffer(self.start, dtype=np.float64).copy(),
                np.frombuffer(self.end, dtype=np.float64).copy())


class RunRecords:
    """The slot services' shared per-request inputs and records (see the module docstring).

    ``failing`` names the services that a failure may hit; ``dynamic``: replicas may come and go (a
    controller is attached), so every outcome array exists.
    """

    def __init__(self, model: SimModel, stream: RequestStream, arrival: list[float],
                 service: list[float], priority: list[int], start_s: np.ndarray,
                 replica_of: np.ndarray, failing: set[str], dynamic: bool = False) -> None:
        n = len(stream)
        self.arrival, self.service, self.priority = arrival, service, priority
        self.start_s, self.replica_of = start_s, replica_of
        self.end_s = np.full(n, np.nan)                # set for cut, timed-out and lost requests
        self.timed_out = np.zeros(n, dtype=bool)
        self.failing = failing                         # services that some failure hits
        self.gone = bytearray(n) if any(s.timeout_s is not None for s in model.services) else None
        preemptive = any(DISCIPLINES[s.discipline].preemptive for s in model.services)
        self.remaining: list[float] = list(service) if preemptive else []
        # requests whose service was cut (preemption, failure), and every segment of their service
        self.cut = bytearray(n) if preemptive or failing else None
        self.segments = SegmentLog()
        # deadline-aware admission: per class, the latency target an arrival must be predicted to meet
        self.admission_target = admission_targets(model)
        admission = any(t < math.inf for t in self.admission_target)
        self.cls: list[int] = stream.cls.tolist() if admission else []
        self.dropped = np.zeros(n, dtype=bool) if admission else None
        outcomes = bool(model.failures) or dynamic
        self.lost = np.zeros(n, dtype=bool) if outcomes else None
        self.retried = np.zeros(n, dtype=bool) if outcomes else None
        self.tenant, self.tenant_weights = tenants_of(model, stream.cls)
        # queue_cost "tokens": each request's input + output tokens, and each such service's mean (the
        # DRR quantum); the engine made sure the stream has token counts
        self.tokens: list[int] = []
        self.mean_tokens: dict[str, float] = {}
        charged = [s.name for s in model.services if s.queue_cost == "tokens"]
        if charged and stream.input_tokens is not None and stream.output_tokens is not None:
            total = stream.input_tokens + stream.output_tokens
            self.tokens = total.tolist()
            for name in charged:
                mine = np.isin(stream.cls, [k for k, c in enumerate(model.classes) if c.service == name])
                self.mean_tokens[name] = max(float(total[mine].mean()), 1.0) if mine.any() else 1.0

    def lose(self, j: int, now: float) -> None:
        """Request ``j`` is lost at ``now`` (nothing is left to serve it)."""
        assert self.lost is not None
        self.lost[j] = True
        self.end_s[j] = now

    def release_lists(self) -> None:
        """Empty the per-request Python lists (they sit in reference cycles of events and closures)."""
        for per_request in (self.remaining, self.tenant, self.cls):
            per_request.clear()
