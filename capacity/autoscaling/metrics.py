"""What an autoscaler measures: one service's load, sampled on the simulation clock, averaged over a window.

Every ``sample_s`` seconds (1 s by default: Knative's queue-proxy reports each second; Kubernetes'
metrics pipeline averages its own window) a `LoadSamples` records, for one service, the replicas that are
ready, the busy slots, the requests in it (in service + waiting + held by the activator) and those
waiting. An autoscaler then asks for the **per-replica** metric averaged over the samples in its window
(`LoadSamples.per_replica`: each sample's value divided by that sample's ready replicas, samples with no
ready replica left out, as the HPA leaves out pods without metrics) or the **total** over the replicas
(`LoadSamples.total`: Knative's autoscaler sums its pods' concurrency before dividing by the target):

============  ================================================================================
metric        value of one sample (per replica: divided by the ready replicas)
============  ================================================================================
utilisation   busy slots / concurrency (slots per replica)
concurrency   requests in the service: in service + waiting + held
queue         requests waiting in the service's queues
rps           arrivals in the window / window length (s); the exact count from the arrival times
============  ================================================================================

A window ``w`` at time ``t`` holds the samples taken in ``(t − w, t]``. Times are seconds.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:                      # an annotation only: reading a scenario does not load SimPy
    from capacity.sim.runtime import ServiceRuntime


class ArrivalFeed:
    """A service's arrival times (s), sorted: a whole run's at once (`capacity.autoscaling.simulate`), or
    fed block by block as a streaming run loads them (`capacity.sim.streaming`), the blocks wholly before
    the samples' horizon dropped (`trim`), so that memory does not grow with the run."""

    def __init__(self, arrivals_s: np.ndarray | None = None) -> None:
        self.parts: deque[np.ndarray] = deque()
        if arrivals_s is not None and len(arrivals_s):
            self.parts.append(arrivals_s)

    def extend(self, arrivals_s: np.ndarray) -> None:
        """Arrivals after every one fed so far."""
        if len(arrivals_s):
            self.parts.append(arrivals_s)

    def trim(self, before_s: float) -> None:
        """Forget the blocks whose arrivals are all at or before ``before_s``."""
        while len(self.parts) > 1 and self.parts[0][-1] <= before_s:
            self.parts.popleft()

    def count(self, lo_s: float, hi_s: float) -> int:
        """Arrivals in ``(lo_s, hi_s]``."""
        return sum(int(np.searchsorted(a, hi_s, side="right") - np.searchsorted(a, lo_s, side="right"))
                   for a in self.parts if a[-1] > lo_s and a[0] <= hi_s)


class LoadSamples:
    """The samples of one service's load (see the module docstring), kept for ``keep_s`` seconds."""

    def __init__(self, runtime: ServiceRuntime, arrivals: ArrivalFeed | np.ndarray, keep_s: float) -> None:
        self.runtime = runtime
        self.c = runtime.c
        # the service's arrival times: a feed, or a whole run's sorted array
        self.feed = arrivals if isinstance(arrivals, ArrivalFeed) else ArrivalFeed(arrivals)
        self.keep_s = keep_s
        # (t, ready, busy slots, in the service, waiting)
        self.samples: deque[tuple[float, int, int, int, int]] = deque()

    def sample(self, now: float) -> None:
        rt = self.runtime
        ready = rt.router.n_ready
        waiting = rt.queued()
        held = len(rt.held) if rt.held is not None else 0
        self.samples.append((now, ready, rt.busy_slots(), rt.requests_in_service() + waiting + held, waiting))
        while self.samples and self.samples[0][0] <= now - self.keep_s:
            self.samples.popleft()
        self.feed.trim(now - self.keep_s)

    def _window(self, now: float, window_s: float) -> list[tuple[float, int, int, int, int]]:
        return [s for s in self.samples if now - window_s < s[0] <= now]

    def arrivals(self, now: float, window_s: float) -> int:
        """The service's arrivals in ``(now − window_s, now]``."""
        return self.feed.count(now - window_s, now)

    def _value(self, metric: str, s: tuple[float, int, int, int, int]) -> float:
        if metric == "utilisation":
            return s[2] / self.c
        if metric == "concurrency":
            return float(s[3])
        if metric == "queue":
            return float(s[4])
        raise ValueError(f"metric {metric!r}: must be one of utilisation, concurrency, queue, rps")

    def per_replica(self, metric: str, now: float, window_s: float) -> float | None:
        """The metric per ready replica, averaged over the window; None when no sample had a ready one."""
        window = [s for s in self._window(now, window_s) if s[1] > 0]
        if not window:
            return None
        if metric == "rps":
            mean_ready = sum(s[1] for s in window) / len(window)
            return self.arrivals(now, window_s) / window_s / mean_ready
        return sum(self._value(metric, s) / s[1] for s in window) / len(window)

    def total(self, metric: str, now: float, window_s: float) -> float:
        """The metric summed over the replicas, averaged over the window (0 with no sample)."""
        if metric == "rps":
            return self.arrivals(now, window_s) / window_s
        window = self._window(now, window_s)
        if not window:
            return 0.0
        return sum(self._value(metric, s) for s in window) / len(window)
