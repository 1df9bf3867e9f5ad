"""Service-time distributions: how long one request occupies one slot of a replica, in seconds.

A distribution is given by its mean ``mean_s`` (seconds) and coefficient of variation ``cv = std / mean``;
all ``n`` service times of a class are drawn at once with numpy:

* ``exponential`` — mean ``mean_s``, cv 1 (the model's ``cv`` is ignored). Memoryless, the ``M`` of M/M/c.
* ``deterministic`` — always ``mean_s``, cv 0 (``cv`` ignored). The ``D`` of M/D/1.
* ``lognormal`` — ``exp(N(m, σ²))`` with ``σ² = ln(1 + cv²)`` and ``m = ln(mean_s) − σ²/2``, which gives
  exactly mean ``mean_s`` and coefficient of variation ``cv`` (cv 0 degenerates to deterministic).

Each distribution is a small class registered in `SERVICE_TIMES` under its scenario name.

**Token service times** (``ServiceTime.dist == "tokens"``, LLM-style services) are not drawn: request ``i``
with ``in_i`` input (prompt) and ``out_i`` output (generated) tokens takes

    ``service_i = base_s + in_i · per_input_token_s + out_i · per_output_token_s``

seconds at speed 1 (`token_service_s`): a **prefill** of ``base_s + in_i · per_input_token_s``, then one
**decode step** of ``per_output_token_s`` per output token. Its first output token is out after the prefill
and the first decode step, ``ttft_i = base_s + in_i · per_input_token_s + per_output_token_s``
(`token_first_token_s`; a request with no output token has none: NaN). Continuous batching
(`capacity.sim.batching`) runs the same prefill and decode steps, shared by the requests of a batch.

**Speed.** A replica in a pool of ``speed`` s runs every one of these times divided by s (0.5: twice as
slow); the engine applies it when a request starts on a replica.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Protocol

import numpy as np

from capacity.sim.model import ServiceTime, SimModel


class ServiceTimeDist(Protocol):
    """Draws ``n`` service times (s) with the given mean and coefficient of variation. ``fixed_cv``: the
    coefficient of variation the distribution has by definition (a scenario's ``cv`` is then refused unless
    equal), or None when it takes the scenario's ``cv``."""

    name: ClassVar[str]
    fixed_cv: ClassVar[float | None]

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        """``n`` float64 service times in seconds."""
        ...


class Exponential:
    """Exponential service times of mean ``mean_s`` (cv is 1 by definition)."""

    name: ClassVar[str] = "exponential"
    fixed_cv: ClassVar[float | None] = 1.0

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        return rng.exponential(mean_s, n)


class Deterministic:
    """Every request takes exactly ``mean_s`` (cv is 0 by definition)."""

    name: ClassVar[str] = "deterministic"
    fixed_cv: ClassVar[float | None] = 0.0

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        return np.full(n, float(mean_s))


class Lognormal:
    """Lognormal service times with mean ``mean_s`` and coefficient of variation ``cv``."""

    name: ClassVar[str] = "lognormal"
    fixed_cv: ClassVar[float | None] = None

    def sample(self, rng: np.random.Generator, n: int, mean_s: float, cv: float) -> np.ndarray:
        sigma2 = math.log1p(cv * cv)
        return rng.lognormal(math.log(mean_s) - sigma2 / 2.0, math.sqrt(sigma2), n)


SERVICE_TIMES: dict[str, type[ServiceTimeDist]] = {
    Exponential.name: Exponential,
    Deterministic.name: Deterministic,
    Lognormal.name: Lognormal,
}


def token_service_s(base_s: float, per_input_token_s: float, per_output_token_s: float,
                    input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
    """Service time (s, at speed 1) of requests with these token counts: prefill plus every decode step."""
    return (base_s + input_tokens * per_input_token_s) + output_tokens * per_output_token_s


def token_first_token_s(base_s: float, per_input_token_s: float, per_output_token_s: float,
                        input_tokens: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
    """Time (s, at speed 1) from service start to the first output token: prefill plus one decode step;
    NaN for a request with no output token."""
    ttft = (base_s + input_tokens * per_input_token_s) + per_output_token_s
    return np.where(output_tokens > 0, ttft, np.nan)


def draw_service_s(st: ServiceTime, rng: np.random.Generator, n: int,
                   input_tokens: np.ndarray | None = None,
                   output_tokens: np.ndarray | None = None) -> np.ndarray:
    """``n`` service times (s, at speed 1) of one class: drawn from the distribution, or computed from
    the token counts for a token service (0 when the counts are not known yet; the replay computes them
    from the stream's counts, see `with_token_times`)."""
    if st.tokens:
        if input_tokens is None or output_tokens is None:
            return np.zeros(n)
        return token_service_s(st.base_s, st.per_input_token_s, st.per_output_token_s,
                               input_tokens, output_tokens)
    return SERVICE_TIMES[st.dist]().sample(rng, n, st.mean_s, st.cv)


def with_token_times(model: SimModel, cls: np.ndarray, service_s: np.ndarray,
                     input_tokens: np.ndarray | None,
                     output_tokens: np.ndarray | None) -> tuple[SimModel, np.ndarray]:
    """The service times of a stream with every token service's requests computed from their token
    counts (they are the source of truth), and the model with each token service's ``mean_s`` set to the
    mean of those times (the DRR quantum and other policies read it; ``base_s`` when it has no request).

    Raises `ValueError` when a token service has requests but the stream has no token counts.
    """
    services = list(model.services)
    service_s = service_s.copy()
    for k, svc in enumerate(services):
        st = svc.service_time
        if not st.tokens:
            continue
        mine = np.isin(cls, [c for c, rc in enumerate(model.classes) if rc.service == svc.name])
        if mine.any() and (input_tokens is None or output_tokens is None):
            raise ValueError(f"services.{svc.name}.service_time: a token service time needs the "
                             "stream's token counts (input_tokens and output_tokens)")
        if mine.any():
            assert input_tokens is not None and output_tokens is not None
            service_s[mine] = token_service_s(st.base_s, st.per_input_token_s, st.per_output_token_s,
                                              input_tokens[mine], output_tokens[mine])
        mean = float(service_s[mine].mean()) if mine.any() else st.base_s
        services[k] = dataclasses.replace(svc, service_time=dataclasses.replace(st, mean_s=mean))
    return dataclasses.replace(model, services=tuple(services)), service_s
