"""The outcome of one simulation run: one record per request, and per-replica totals.

Request ``i`` (its *sequence* number: requests are numbered in arrival order, ties by class order) has a
class, an arrival time, a drawn service time, and, if it completed, the time its service started, the time
it ended and the replica that served it. All times are seconds since the start of the run. Every request
has exactly one **outcome**:

* *completed* — served to the end (``replica >= 0``);
* *rejected* — refused on arrival: its service had no live replica, or its queue was full at
  ``max_length`` (``end_s = NaN``);
* *timed out* — left the queue after waiting ``timeout_s`` (``timed_out``; ``end_s`` is when it left);
* *dropped* — refused on arrival by deadline-aware admission: it was predicted to miss its SLO target
  (``dropped``; ``end_s = NaN``);
* *lost* — admitted, then lost to a node failure: it was queued on or served by a replica that failed
  and its service does not retry, or the retry found no live replica or a full queue (``lost``; ``end_s``
  is the failure time); or it waited in a shared queue that a drain left with no replica ready or
  starting to serve it (``end_s`` is that time; `capacity.sim.runtime`).

A request that never completed has ``replica = -1`` and ``start_s = NaN`` unless it had started (a lost
request may have been in service when its replica failed). A completed request that was *retried* after a
failure (``retried``) keeps its original arrival time, so its latency includes the failure. Derived per
request: ``wait = start − arrival`` (time before its first service) and ``latency = end − arrival``
(sojourn: waits plus service, including any time spent interrupted by preemption or a failure).

**The statistics window** is ``[warmup_s, duration_s]``. Arrivals stop at ``duration_s``; the run then
drains, so every admitted request ends (completes, times out or is lost). *Measured* requests are those
that arrived in ``[warmup_s, duration_s)``: counts, latencies and waits are over them. *Busy time* is
slot-seconds of service inside the window (a request served from 9.5 s to 10.5 s in the window [0, 10]
counts 0.5 s), whichever request it belongs to; a replica's utilisation is its busy time / (concurrency ×
window length), or, when replicas come and go during the run (`capacity.sim.replicas`), / (concurrency × the
seconds of the window it existed: `SimResult.present_s`, `SimResult.utilisation`). Replicas added during a
run follow the model's in every per-replica array. A request served in one piece is busy over ``[start_s,
end_s]``; a request whose service was cut (preemption, failure) is busy over its **segments** only
(``segments``: request, replica, start, end of every segment of such requests, unclipped).
``busy_request_s`` holds every request's busy seconds inside the window when any segment exists or the
engine weighted requests otherwise (e.g. batches); it is None when it equals the clipped ``[start_s,
end_s]``. For time series, a request's busy seconds are spread evenly over ``[start_s, end_s]`` (or its
segments).

**Memory.** The records are flat numpy arrays, O(n) in the number of requests: 41 bytes per request kept
in the result (class 4, arrival, service, start and end 8 each, replica 4, one byte per outcome flag),
and a peak of 120 bytes per request while drawing and replaying (the hot loop also reads Python lists of
the arrival and service times), measured with tracemalloc on the 1M-request benchmark
(``benchmarks/sim_throughput.py --memory``). Compact arrays rather than streaming aggregation: exact
percentiles, per-tenant and per-window statistics and the cross-checks in the tests all need the
per-request records, and at this size ten million requests fit in about 1.2 GB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FailureRecord:
    """What one failure did: when, to what, which replicas went down, what became of their requests."""

    at_s: float                       # when the nodes failed
    target: str                       # what failed ("node gpu-2", "zone b")
    replicas: tuple[str, ...]         # replicas it took down (those already down from an earlier failure too)
    recover_at_s: float | None        # when they came back (None: never)
    retried: int                      # requests it removed that were re-admitted on a live replica
    lost: int                         # requests it removed that were lost


STOPPED_CODE = 3
"""The code of the ``stopped`` state in `ReplicaTimeline.state` (`capacity.sim.replicas.ReplicaState`)."""


@dataclass(frozen=True, eq=False)
class ReplicaTimeline:
    """Every replica's lifecycle as state intervals (`capacity.sim.replicas`), one row per interval.

    ``state`` holds `capacity.sim.replicas.ReplicaState` codes (0 starting, 1 ready, 2 draining,
    3 stopped, 4 down); a replica's intervals are consecutive, from when it was registered (0 for the
    model's replicas, the time it was added otherwise), and its last one ends at ``inf``.
    """

    replica: np.ndarray               # int32: global replica index
    state: np.ndarray                 # int8: state code
    start_s: np.ndarray               # float64
    end_s: np.ndarray                 # float64 (inf: until the end of the run)

    def seconds_in(self, states: tuple[int, ...], n_replicas: int, lo: float, hi: float) -> np.ndarray:
        """Per replica, the seconds of ``[lo, hi]`` it spent in any of ``states``."""
        out = np.zeros(n_replicas)
        rows = np.isin(self.state, states)
        np.add.at(out, self.replica[rows], busy_in_window(self.start_s[rows], self.end_s[rows], lo, hi))
        return out


@dataclass(eq=False)
class SimResult:
    """Per-request records (numpy arrays of length n, in sequence order) and per-replica totals.

    Replicas are numbered globally: services in model order, each service's replicas in its order.
    """

    cls: np.ndarray                   # int32: index of the request's class in model.classes
    arrival_s: np.ndarray             # float64: arrival time
    service_s: np.ndarray             # float64: drawn service time (also for requests never served)
    start_s: np.ndarray               # float64: (first) service start, NaN if it never started
    end_s: np.ndarray                 # float64: service end, or when it left; NaN if refused on arrival
    replica: np.ndarray               # int32: global replica index that completed it, -1 if none did
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
    dropped: np.ndarray | None = None         # bool per request: refused by deadline-aware admission
    lost: np.ndarray | None = None            # bool per request: lost to a failure
    retried: np.ndarray | None = None         # bool per request: re-admitted after a failure
    # every service segment of the requests whose service was cut (preemption, failure), unclipped:
    # (request int64, replica int32, start float64, end float64); None when there is none
    segments: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
    failures: tuple[FailureRecord, ...] = ()
    # the intervals when replicas were down: (replica int32, start float64, end float64; end = inf if
    # it never came back)
    downtime: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    # float64 per replica: requests held by its batches x seconds, inside the window (batching services;
    # 0 for the others); None when no service batches. See `capacity.sim.batching` (batch occupancy)
    sequence_s: np.ndarray | None = None
    # every replica's lifecycle (starting, ready, draining, stopped, down) over the run; None for results
    # built by hand
    timeline: ReplicaTimeline | None = None
    # what each LLM engine service measured (`capacity.sim.llm_batching.LlmRecord`), in model order
    llm: tuple[Any, ...] = ()

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def measured(self) -> np.ndarray:
        """Boolean mask of the requests that arrived inside the window (``[start, end)``)."""
        lo, hi = self.window_s
        return (self.arrival_s >= lo) & (self.arrival_s < hi)

    @property
    def completed(self) -> np.ndarray:
        """Boolean mask of the requests that completed."""
        return self.replica >= 0

    @property
    def rejected(self) -> np.ndarray:
        """Boolean mask of the requests that did **not** complete, whatever the reason (rejected on
        arrival, timed out, dropped or lost): ``~completed``. `refused` is rejection on arrival only."""
        return self.replica < 0

    @property
    def refused(self) -> np.ndarray:
        """Boolean mask of the requests rejected on arrival (no live replica, or a full queue)."""
        return (self.replica < 0) & ~self.timed_out_mask & ~self.dropped_mask & ~self.lost_mask

    def _mask(self, values: np.ndarray | None) -> np.ndarray:
        return np.zeros(len(self), dtype=bool) if values is None else values

    @property
    def timed_out_mask(self) -> np.ndarray:
        """Boolean mask of the requests that timed out while waiting (all false if none can)."""
        return self._mask(self.timed_out)

    @property
    def dropped_mask(self) -> np.ndarray:
        """Boolean mask of the requests dropped by deadline-aware admission (all false if none can)."""
        return self._mask(self.dropped)

    @property
    def lost_mask(self) -> np.ndarray:
        """Boolean mask of the requests lost to a failure (all false if none can)."""
        return self._mask(self.lost)

    @property
    def retried_mask(self) -> np.ndarray:
        """Boolean mask of the requests re-admitted after a failure (all false if none was)."""
        return self._mask(self.retried)

    def present_s(self) -> np.ndarray:
        """Per replica, the seconds of the window it existed: from when it was registered (the model's
        replicas at 0, an added one when it was added, cold start included: it holds its resources)
        until it stopped. The whole window for every replica of a run without lifecycle changes."""
        lo, hi = self.window_s
        n = len(self.replica_names)
        if self.timeline is None:
            return np.full(n, hi - lo)
        existing = tuple(code for code in range(5) if code != STOPPED_CODE)
        return self.timeline.seconds_in(existing, n, lo, hi)

    def utilisation(self) -> np.ndarray:
        """Per replica, busy slot-seconds / (slots x the seconds it existed in the window); NaN for a
        replica that did not exist in the window."""
        capacity = self.replica_slots * self.present_s()
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(capacity > 0, self.busy_s / np.where(capacity > 0, capacity, 1.0), np.nan)

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
        """Time before the first service per request (NaN if it never started)."""
        return self.start_s - self.arrival_s

    @property
    def latency_s(self) -> np.ndarray:
        """Time in system per request, wait plus service (NaN if refused; for requests that did not
        complete, the time until they left)."""
        return self.end_s - self.arrival_s

    @property
    def tpot_s(self) -> np.ndarray | None:
        """Time per output token after the first, per request: ``(end − first token) / (out − 1)`` for a
        completed request with at least 2 output tokens (NaN otherwise); None for non-token runs."""
        if self.first_token_s is None or self.output_tokens is None:
            return None
        out = self.output_tokens.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            tpot = (self.end_s - self.first_token_s) / (out - 1.0)
        return np.where((out >= 2) & (self.replica >= 0), tpot, np.nan)

    @property
    def ttft_s(self) -> np.ndarray | None:
        """Time to first token per request (``first_token_s − arrival``), None for non-token runs."""
        if self.first_token_s is None:
            return None
        return self.first_token_s - self.arrival_s


def busy_in_window(start_s: np.ndarray, end_s: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Per request, the seconds of ``[start_s, end_s]`` that fall inside ``[lo, hi]`` (0 when NaN)."""
    busy = np.clip(end_s, lo, hi) - np.clip(start_s, lo, hi)
    return np.nan_to_num(busy, nan=0.0)
