"""Arrival processes: when the requests of one class arrive, in seconds since the start of the run.

An arrival process turns a rate (requests per second) and a horizon ``duration_s`` into the sorted arrival
times of one class in ``[0, duration_s)``, drawn all at once with numpy (no per-request Python work):

* ``poisson`` — a Poisson process: independent exponential gaps of mean ``1/rate``. Drawn as the count
  ``N ~ Poisson(rate · duration_s)`` and then ``N`` independent uniform times on ``[0, duration_s)``, sorted
  (given their number, the points of a Poisson process are independent and uniform on the interval).
* ``deterministic`` — evenly spaced at ``1/rate`` starting at **0**: ``0, 1/rate, 2/rate, …`` (the ``k``-th
  time is computed as ``k / rate``, so rounding does not accumulate). No random draw and no phase: two
  deterministic classes with the same rate arrive at the same instants, which keeps hand-computed cases
  exact. Ties between classes are broken by class order (see `capacity.sim.engine`).

Each process is a small class registered in `ARRIVAL_PROCESSES` under its scenario name; adding one is one
class and one dict entry.
"""

from __future__ import annotations

import math
from typing import ClassVar, Protocol

import numpy as np


class ArrivalProcess(Protocol):
    """Draws the arrival times (s, sorted, in ``[0, duration_s)``) of one class."""

    name: ClassVar[str]

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        """Sorted float64 arrival times in ``[0, duration_s)``."""
        ...


class Poisson:
    """Poisson arrivals: exponential gaps of mean ``1/rate_per_s`` seconds."""

    name: ClassVar[str] = "poisson"

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        n = int(rng.poisson(rate_per_s * duration_s)) if rate_per_s > 0 else 0
        t = rng.uniform(0.0, duration_s, n)
        t.sort()
        return t


class Deterministic:
    """One arrival every ``1/rate_per_s`` seconds, the first at time 0."""

    name: ClassVar[str] = "deterministic"

    def times(self, rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
        if rate_per_s <= 0:
            return np.empty(0)
        t = np.arange(math.ceil(duration_s * rate_per_s) + 1, dtype=np.float64) / rate_per_s
        return t[t < duration_s]


ARRIVAL_PROCESSES: dict[str, type[ArrivalProcess]] = {
    Poisson.name: Poisson,
    Deterministic.name: Deterministic,
}
