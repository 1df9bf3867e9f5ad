"""Service-time distributions: how long one request occupies one slot of a replica, in seconds.

A distribution is given by its mean ``mean_s`` (seconds) and coefficient of variation ``cv = std / mean``;
all ``n`` service times of a class are drawn at once with numpy:

* ``exponential`` — mean ``mean_s``, cv 1 (the model's ``cv`` is ignored). Memoryless, the ``M`` of M/M/c.
* ``deterministic`` — always ``mean_s``, cv 0 (``cv`` ignored). The ``D`` of M/D/1.
* ``lognormal`` — ``exp(N(m, σ²))`` with ``σ² = ln(1 + cv²)`` and ``m = ln(mean_s) − σ²/2``, which gives
  exactly mean ``mean_s`` and coefficient of variation ``cv`` (cv 0 degenerates to deterministic).

Each distribution is a small class registered in `SERVICE_TIMES` under its scenario name.
"""

from __future__ import annotations

import math
from typing import ClassVar, Protocol

import numpy as np


class ServiceTimeDist(Protocol):
    """Draws ``n`` service times (s) with the given mean and coefficient of variation."""

    name: ClassVar[str]

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        """``n`` float64 service times in seconds."""
        ...


class Exponential:
    """Exponential service times of mean ``mean_s`` (cv is 1 by definition)."""

    name: ClassVar[str] = "exponential"

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        return rng.exponential(mean_s, n)


class Deterministic:
    """Every request takes exactly ``mean_s`` (cv is 0 by definition)."""

    name: ClassVar[str] = "deterministic"

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        return np.full(n, float(mean_s))


class Lognormal:
    """Lognormal service times with mean ``mean_s`` and coefficient of variation ``cv``."""

    name: ClassVar[str] = "lognormal"

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        sigma2 = math.log1p(cv * cv)
        return rng.lognormal(math.log(mean_s) - sigma2 / 2.0, math.sqrt(sigma2), n)


SERVICE_TIMES: dict[str, type[ServiceTimeDist]] = {
    Exponential.name: Exponential,
    Deterministic.name: Deterministic,
    Lognormal.name: Lognormal,
}
