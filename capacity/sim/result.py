"""The outcome of one simulation run: one record per request, and per-replica totals.

Request ``i`` (its *sequence* number: requests are numbered in arrival order, ties by class order) has a
class, an arrival time, a drawn service time, and, unless its service rejected it, the time its service
started, the time it ended and the replica that served it. All times are seconds since the start of the
run; a request that was never served has ``start_s = NaN`` and ``replica = -1``, and either was
*rejected* on arrival (no replica, or a full queue: ``end_s = NaN``) or *timed out* while waiting
(``timed_out`` is true and ``end_s`` is the time it left). Derived per request:
``wait = start − arrival`` (time in queue before its first service) and ``latency = end − arrival``
(sojourn: waits plus service, including any time spent interrupted under preemption).

**The statistics window** is ``[warmup_s, duration_s]``. Arrivals stop at ``duration_s``; the run then
drains, so every admitted request completes. *Measured* requests are those that arrived in
``[warmup_s, duration_s)``: counts, latencies and waits are over them. *Busy time* is slot-seconds of service
inside the window (a request served from 9.5 s to 10.5 s in the window [0, 10] counts 0.5 s), whichever
request it belongs to; a replica's utilisation is its busy time / (concurrency × window length). When a
request was interrupted (preemption), only its service segments count, and ``busy_request_s`` holds every
request's busy seconds inside the window (it is None when no service preempts, and then equals the
clipped ``[start_s, end_s]``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class SimResult:
    """Per-request records (numpy arrays of length n, in sequence order) and per-replica totals.

    Replicas are numbered globally: services in model order, each service's replicas in its order.
    """

    cls: np.ndarray                   # int32: index of the request's class in model.classes
    arrival_s: np.ndarray             # float64: arrival time
    service_s: np.ndarray             # float64: drawn service time (also for rejected requests)
    start_s: np.ndarray               # float64: service start, NaN if rejected
    end_s: np.ndarray                 # float64: service end, NaN if rejected
    replica: np.ndarray               # int32: global replica index, -1 if rejected
    replica_names: tuple[str, ...]    # global replica index -> replica name
    replica_service: np.ndarray       # int32 per replica: index of its service in model.services
    replica_slots: np.ndarray         # int64 per replica: its concurrency
    busy_s: np.ndarray                # float64 per replica: busy slot-seconds inside the window
    served: np.ndarray                # int64 per replica: measured requests it served
    window_s: tuple[float, float]     # (warmup_s, duration_s)
    timed_out: np.ndarray | None = None       # bool per request: left the queue after timeout_s
    busy_request_s: np.ndarray | None = None  # float64 per request: busy seconds in the window
    input_tokens: np.ndarray | None = None    # int64 per request (token workloads only)
    output_tokens: np.ndarray | None = None   # int64 per request (token workloads only)
    first_token_s: np.ndarray | None = None   # float64 per request: time its first output token was out

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def measured(self) -> np.ndarray:
        """Boolean mask of the requests that arrived inside the window (``[start, end)``)."""
        lo, hi = self.window_s
        return (self.arrival_s >= lo) & (self.arrival_s < hi)

    @property
    def rejected(self) -> np.ndarray:
        """Boolean mask of the requests that no replica served (rejected on arrival or timed out)."""
        return self.replica < 0

    @property
    def timed_out_mask(self) -> np.ndarray:
        """Boolean mask of the requests that timed out while waiting (all false if none can)."""
        if self.timed_out is None:
            return np.zeros(len(self), dtype=bool)
        return self.timed_out

    def busy_per_request(self) -> np.ndarray:
        """Per request, its busy seconds inside the window (0 for requests never served)."""
        if self.busy_request_s is not None:
            return self.busy_request_s
        lo, hi = self.window_s
        served = ~self.rejected
        busy = np.zeros(len(self))
        busy[served] = busy_in_window(self.start_s[served], self.end_s[served], lo, hi)
        return busy

    @property
    def wait_s(self) -> np.ndarray:
        """Time in queue per request (NaN if rejected)."""
        return self.start_s - self.arrival_s

    @property
    def latency_s(self) -> np.ndarray:
        """Time in system per request, wait plus service (NaN if rejected)."""
        return self.end_s - self.arrival_s


def busy_in_window(start_s: np.ndarray, end_s: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Per request, the seconds of ``[start_s, end_s]`` that fall inside ``[lo, hi]`` (0 when NaN)."""
    busy = np.clip(end_s, lo, hi) - np.clip(start_s, lo, hi)
    return np.nan_to_num(busy, nan=0.0)
