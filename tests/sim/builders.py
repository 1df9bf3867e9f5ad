"""Builders of hand-made simulator inputs, shared by the tests in tests/sim.

A test states only what it is about; everything else takes the default below:

* `service`: one service ``svc`` whose replicas (`replica_set`) are ``svc-0``, ``svc-1``, ... on
  nodes ``n0``, ``n1``, ... (``per_node`` consecutive replicas share a node) of pool ``pool``, one slot
  each, a deterministic service time of 1 s; any other `ServingService` field by keyword.
* `classes`: request classes named in priority order (the first is priority 0), Poisson at 1/s.
* `model`: one service, its failures, classes ``hi`` and ``lo`` unless given, a 10 s run.
* `stream`: requests arriving at given times (s), of given service times (1 s each unless given) and
  classes (class 0 unless given); `from_rows` takes ``(class, arrival s, service s)`` rows instead.

Hand-made times in the tests are multiples of 1/8 s, so float arithmetic is exact and ties are ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from capacity.sim import (
    Arrivals,
    Failure,
    Replica,
    RequestClass,
    RequestStream,
    ServiceTime,
    ServingService,
    SimModel,
)

ONE_SECOND = ServiceTime("deterministic", 1.0)


def replica_set(
    service: str = "svc",
    count: int = 1,
    *,
    node: str = "n{k}",
    per_node: int = 1,
    pool: str = "pool",
    speeds: Sequence[float] = (),
    gpus: Sequence[Any] = (),
) -> tuple[Replica, ...]:
    """``count`` replicas ``{service}-{i}``; ``node`` and ``pool`` are formatted with the node index ``k``
    (``i // per_node``); ``speeds`` and ``gpus``: one per replica (1.0 and none when not given)."""
    speeds = tuple(speeds) or (1.0,) * count
    gpus = tuple(gpus) or (None,) * count
    return tuple(
        Replica(
            f"{service}-{i}",
            node.format(k=i // per_node),
            pool.format(k=i // per_node),
            speed=speeds[i],
            gpu=gpus[i],
        )
        for i in range(count)
    )


def service(
    replicas: int = 1,
    slots: int = 1,
    *,
    name: str = "svc",
    dist: ServiceTime = ONE_SECOND,
    node: str = "n{k}",
    per_node: int = 1,
    pool: str = "pool",
    speeds: Sequence[float] = (),
    gpus: Sequence[Any] = (),
    **fields: Any,
) -> ServingService:
    """A service of ``replicas`` replicas (see `replica_set`) with ``slots`` each and service time
    ``dist``; ``fields``: any other field of `ServingService` (discipline, routing, batching,
    max_length, timeout_s, on_failure, ...)."""
    return ServingService(
        name,
        replica_set(name, replicas, node=node, per_node=per_node, pool=pool, speeds=speeds, gpus=gpus),
        concurrency=slots,
        service_time=dist,
        **fields,
    )


def classes(*names: str, service: str = "svc", rate: float = 1.0) -> tuple[RequestClass, ...]:
    """One class per name, Poisson at ``rate``/s to ``service``; priority = position (0 most urgent)."""
    return tuple(RequestClass(n, service, Arrivals("poisson", rate), priority=k) for k, n in enumerate(names))


def model(
    svc: ServingService,
    *failures: Failure,
    classes: tuple[RequestClass, ...] | None = None,
    duration: float = 10.0,
    **fields: Any,
) -> SimModel:
    """A run of ``duration`` s of one service; ``classes`` default to ``hi`` (priority 0) and ``lo`` (1);
    ``fields``: any other field of `SimModel` (warmup_s, seed, interval_s, ...)."""
    if classes is None:
        classes = _hi_lo(svc.name)
    return SimModel((svc,), classes, duration_s=duration, failures=failures, **fields)


def _hi_lo(service: str) -> tuple[RequestClass, ...]:
    return classes("hi", "lo", service=service)


def stream(
    arrivals: Sequence[float],
    services: Sequence[float] | None = None,
    classes: Sequence[int] | None = None,
    *,
    input_tokens: Sequence[int] | None = None,
    output_tokens: Sequence[int] | None = None,
) -> RequestStream:
    """Requests arriving at ``arrivals`` (s): service times ``services`` (1 s each when not given), of
    the classes ``classes`` (by index; class 0 when not given), with token counts when given."""
    n = len(arrivals)
    return RequestStream.from_arrays(
        np.array(classes if classes is not None else [0] * n, dtype=np.int32),
        np.array(arrivals, dtype=np.float64),
        np.array(services if services is not None else [1.0] * n, dtype=np.float64),
        input_tokens=None if input_tokens is None else np.array(input_tokens),
        output_tokens=None if output_tokens is None else np.array(output_tokens),
    )


def from_rows(rows: Sequence[tuple[int, float, float]]) -> RequestStream:
    """Requests given as ``(class index, arrival s, service s)`` rows."""
    cls, arrival, service_s = zip(*rows, strict=True)
    return RequestStream.from_arrays(np.array(cls), np.array(arrival), np.array(service_s))
