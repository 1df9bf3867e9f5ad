"""Metrics: turn a run's per-request records into the ``simulation`` section of the report.

All statistics use the window ``[warmup_s, duration_s]`` (see `capacity.sim.result`): counts, latencies
and waits are over the *measured* requests (arrived in ``[warmup_s, duration_s)``); busy time and
utilisation over slot-seconds of service inside the window. Times are seconds.

* **Per class**: ``arrived`` (measured), ``completed`` (measured and served; every request that neither
  is rejected nor times out completes because the run drains), ``rejected`` (measured, refused on
  arrival: its service has no replica, or its queue was full at ``max_length``), ``timed_out``
  (measured, left the queue after waiting ``timeout_s``), so ``arrived = completed + rejected +
  timed_out``; ``throughput_per_s = completed / window length``,
  ``latency_s`` (wait plus service) and ``wait_s`` (time in queue) summaries, and the SLO: ``attained`` is
  the fraction of measured requests whose latency is at most ``target_s`` (a rejected request counts as a
  miss), ``met = attained >= quantile``.
* A **summary** ``{mean, p50, p95, p99, max}`` uses numpy's default (linear interpolation) percentiles;
  every value is ``None`` when there is no sample.
* **Per tenant**: ``completed`` and ``latency_s`` over its classes' measured requests; ``share`` is the
  tenant's fraction of all busy slot-seconds delivered in the window (``None`` if nothing was served).
* **Per replica / node / pool / service**: utilisation is busy slot-seconds / (slots × window length);
  ``served`` counts the measured requests the replica served. A service with no replica has utilisation
  ``None``.
* **Fairness**: Jain's index ``(Σx)² / (n·Σx²)`` over the weighted shares ``x_i = share_i / weight_i``
  of the ``n`` tenants, where a tenant's weight is the **sum** of its classes' weights (two classes of
  weight 1 are entitled to as much as one class of weight 2). 1.0 means shares exactly proportional to
  weights, ``1/n`` the least fair. 1.0 with one tenant (or none); ``None`` if nothing was served.

Every value is a plain Python ``int``, ``float``, ``str``, ``list``, ``dict`` or ``None`` (JSON-ready), and
the same result always gives the same dictionary.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from capacity.sim.model import SimModel
from capacity.sim.result import SimResult, busy_in_window

QUANTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


def summary(values: np.ndarray) -> dict[str, float | None]:
    """``{mean, p50, p95, p99, max}`` of a sample (seconds), each ``None`` when the sample is empty."""
    if len(values) == 0:
        return {"mean": None, **dict.fromkeys(QUANTILES), "max": None}
    qs = np.percentile(values, list(QUANTILES.values()))
    return {"mean": float(np.mean(values)),
            **{k: float(q) for k, q in zip(QUANTILES, qs, strict=True)},
            "max": float(np.max(values))}


def jain_index(x: list[float]) -> float | None:
    """Jain's fairness index of non-negative allocations: 1.0 when all equal; None if all are 0."""
    if len(x) <= 1:
        return 1.0
    total = sum(x)
    squares = sum(v * v for v in x)
    if squares == 0:
        return None
    return float(total * total / (len(x) * squares))


def mean_in_system(result: SimResult, start: float, end: float) -> float:
    """Time-average number of requests in the system (waiting or in service) over ``[start, end]``.

    Each admitted request (served, or timed out) is present from its arrival to its end (completion
    or timeout); rejected requests never enter. This is the ``L`` of Little's law.
    """
    entered = ~np.isnan(result.end_s)
    present = busy_in_window(result.arrival_s[entered], result.end_s[entered], start, end)
    return float(present.sum() / (end - start))


def _utilisation(busy_s: float, slot_seconds: float) -> float | None:
    return float(busy_s / slot_seconds) if slot_seconds > 0 else None


def summarize(model: SimModel, result: SimResult) -> dict[str, Any]:
    """The report's ``simulation`` section; keys are described in the module docstring."""
    lo, hi = result.window_s
    span = hi - lo
    measured = result.measured
    done = measured & ~result.rejected
    latency = result.latency_s
    wait = result.wait_s
    timed_out = result.timed_out_mask

    classes: dict[str, Any] = {}
    for k, c in enumerate(model.classes):
        mine = measured & (result.cls == k)
        arrived = int(np.count_nonzero(mine))
        served = mine & done
        completed = int(np.count_nonzero(served))
        left = int(np.count_nonzero(mine & timed_out))
        slo = None
        if c.slo_target_s is not None and c.slo_quantile is not None:
            hits = int(np.count_nonzero(latency[served] <= c.slo_target_s))
            attained = hits / arrived if arrived else None
            slo = {"target_s": float(c.slo_target_s), "quantile": float(c.slo_quantile),
                   "attained": attained,
                   "met": None if attained is None else bool(attained >= c.slo_quantile)}
        classes[c.name] = {
            "arrived": arrived, "completed": completed, "rejected": arrived - completed - left,
            "timed_out": left, "throughput_per_s": completed / span,
            "latency_s": summary(latency[served]), "wait_s": summary(wait[served]), "slo": slo,
        }

    # tenants: busy slot-seconds inside the window, whichever request delivered them
    busy_per_request = result.busy_per_request()
    total_busy = float(busy_per_request.sum())
    tenant_names = list(dict.fromkeys(c.tenant for c in model.classes))
    tenants: dict[str, Any] = {}
    weighted: list[float] = []
    for t in tenant_names:
        ks = [k for k, c in enumerate(model.classes) if c.tenant == t]
        of_tenant = np.isin(result.cls, ks)
        share = float(busy_per_request[of_tenant].sum()) / total_busy if total_busy > 0 else None
        served = of_tenant & done
        tenants[t] = {"completed": int(np.count_nonzero(served)), "share": share,
                      "latency_s": summary(latency[served])}
        weight = sum(model.classes[k].weight for k in ks)
        weighted.append((share or 0.0) / weight)

    replicas: dict[str, Any] = {}
    nodes: dict[str, dict[str, Any]] = {}
    pools: dict[str, list[float]] = {}
    services: dict[str, Any] = {}
    g = 0
    for s in model.services:
        busy_s = slot_s = 0.0
        for r in s.replicas:
            busy, slots = float(result.busy_s[g]), s.concurrency * span
            replicas[r.name] = {"node": r.node, "pool": r.pool, "utilisation": busy / slots,
                                "served": int(result.served[g])}
            node = nodes.setdefault(r.node, {"pool": r.pool, "busy": 0.0, "slots": 0.0,
                                             "replicas": []})
            node["busy"] += busy
            node["slots"] += slots
            node["replicas"].append(r.name)
            pool = pools.setdefault(r.pool, [0.0, 0.0])
            pool[0] += busy
            pool[1] += slots
            busy_s += busy
            slot_s += slots
            g += 1
        services[s.name] = {"utilisation": _utilisation(busy_s, slot_s),
                            "replicas": len(s.replicas), "slots": len(s.replicas) * s.concurrency}

    return {
        "classes": classes,
        "tenants": tenants,
        "replicas": replicas,
        "nodes": {name: {"pool": v["pool"], "utilisation": _utilisation(v["busy"], v["slots"]),
                         "replicas": v["replicas"]} for name, v in nodes.items()},
        "pools": {name: {"utilisation": _utilisation(b, s)} for name, (b, s) in pools.items()},
        "services": services,
        "fairness": {"jain": jain_index(weighted)},
        "window_s": {"start": float(lo), "end": float(hi)},
    }
