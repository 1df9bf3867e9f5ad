"""What an autoscaled run reports: replicas and nodes over time, scale events, node-hours and cost.

`summarize_autoscaling` turns the run's records (the result's replica timeline, the controller's pending
counts, scale events and the cluster's node counts) into the report's ``simulation.autoscaling`` section:

* ``cost`` — the fleet's cost over the measured window ``[warmup, duration]``: the sum over pools of
  node-hours × the pool's hourly ``cost``; ``node_hours`` per pool: the integral of its node count over that
  window / 3600 (a node counts from when it is asked for until it is deleted, fixed pools' nodes all along);
* ``pools.NAME.nodes`` = ``{t_s, count}``: the pool's node count after each change (from time 0);
  ``peak`` the largest;
* ``services.NAME.replicas`` = ``{t_s, ready, starting, draining, pending}``: the counts after each change
  (from time 0, every replica of the service); ``events`` = ``[{t_s, from, to, metric, reason}]``: each
  scale decision; ``pending_replica_s`` and ``starting_replica_s``: replica-seconds spent pending (no
  node) and cold (starting) in the measured window; ``peak`` the most replicas ready + starting;
* ``slo.CLASS`` = ``{t_s, attainment, missed}``: per time-series window (the report's ``over_time``
  windows, ``t_s`` their starts), the share of the class's measured arrivals in the window that completed
  within its SLO target, and whether the window missed its SLO (its completed requests' latency at the SLO
  quantile above the target, or fewer completed than the quantile asks for).

Times are seconds; cost in the pools' ``cost`` units.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from capacity.autoscaling.controller import AutoscaleController
from capacity.sim.metrics import window_edges
from capacity.sim.model import SimModel
from capacity.sim.replicas import ReplicaState
from capacity.sim.result import SimResult
from capacity.sim.streaming import StreamingResult


def _r(x: float) -> float:
    return float(f"{x:.12g}")


def integral(series: list[tuple[float, int]], lo: float, hi: float) -> float:
    """The integral over ``[lo, hi]`` of a step function given as ``(t, value after t)`` changes."""
    total = 0.0
    for k, (t, value) in enumerate(series):
        end = series[k + 1][0] if k + 1 < len(series) else np.inf
        a, b = max(t, lo), min(end, hi)
        if b > a:
            total += value * (b - a)
    return total


def state_series(
    result: SimResult | StreamingResult, service_index: int, pending: list[tuple[float, int]]
) -> dict[str, list[float] | list[int]]:
    """A service's replica counts by state after each change (see the module docstring)."""
    tl = result.timeline
    assert tl is not None
    mine = result.replica_service[tl.replica] == service_index
    names = {
        int(ReplicaState.READY): "ready",
        int(ReplicaState.STARTING): "starting",
        int(ReplicaState.DRAINING): "draining",
    }
    deltas: dict[float, dict[str, int]] = {}
    for state, start, end in zip(
        tl.state[mine].tolist(), tl.start_s[mine].tolist(), tl.end_s[mine].tolist(), strict=True
    ):
        key = names.get(state)
        if key is None:
            continue
        deltas.setdefault(start, {}).setdefault(key, 0)
        deltas[start][key] += 1
        if np.isfinite(end):
            deltas.setdefault(end, {}).setdefault(key, 0)
            deltas[end][key] -= 1
    pend = dict(pending)
    times = sorted(set(deltas) | set(pend) | {0.0})
    counts = {"ready": 0, "starting": 0, "draining": 0}
    p = 0
    out: dict[str, list[Any]] = {"t_s": [], "ready": [], "starting": [], "draining": [], "pending": []}
    for t in times:
        for key, d in deltas.get(t, {}).items():
            counts[key] += d
        p = pend.get(t, p)
        row = (counts["ready"], counts["starting"], counts["draining"], p)
        if out["t_s"] and tuple(out[k][-1] for k in ("ready", "starting", "draining", "pending")) == row:
            continue
        out["t_s"].append(_r(t))
        for key, value in zip(("ready", "starting", "draining", "pending"), row, strict=True):
            out[key].append(value)
    return out


def _steps(out: dict[str, list[Any]], key: str) -> list[tuple[float, int]]:
    return list(zip(out["t_s"], out[key], strict=True))


def slo_over_time(model: SimModel, result: SimResult | StreamingResult) -> dict[str, dict[str, list[Any]]]:
    """Per class with an SLO, per window: attainment and whether the SLO was missed (module docstring)."""
    if isinstance(result, StreamingResult):
        edges, arrived, hits = result.slo_windows()
    else:
        edges, arrived, hits = _slo_windows(model, result)
    out: dict[str, dict[str, list[Any]]] = {}
    for k, c in enumerate(model.classes):
        if c.slo_target_s is None or c.slo_quantile is None:
            continue
        attainment: list[float | None] = []
        missed: list[bool] = []
        for n, met in zip(arrived[k].tolist(), hits[k].tolist(), strict=True):
            attainment.append(_r(met / n) if n else None)
            missed.append(bool(n) and met < c.slo_quantile * n)
        out[c.name] = {"t_s": [_r(float(e)) for e in edges[:-1]], "attainment": attainment, "missed": missed}
    return out


def _slo_windows(model: SimModel, result: SimResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window edges, and per class and window its measured requests and those completed within its SLO
    target (0 for a class without one)."""
    lo, hi = result.window_s
    edges = window_edges(lo, hi, model.interval_s)
    windows = len(edges) - 1
    index = np.clip(np.searchsorted(edges, result.arrival_s, side="right") - 1, 0, max(windows - 1, 0))
    measured = result.measured
    latency = result.latency_s
    completed = result.completed
    arrived = np.zeros((len(model.classes), windows), dtype=np.int64)
    hits = np.zeros_like(arrived)
    for k, c in enumerate(model.classes):
        mine = measured & (result.cls == k)
        arrived[k] = np.bincount(index[mine], minlength=windows)
        if c.slo_target_s is not None:
            hit = mine & completed & (latency <= c.slo_target_s)
            hits[k] = np.bincount(index[hit], minlength=windows)
    return edges, arrived, hits


def summarize_autoscaling(
    model: SimModel, result: SimResult | StreamingResult, controller: AutoscaleController
) -> dict[str, Any]:
    """The report's ``simulation.autoscaling`` section (see the module docstring)."""
    lo, hi = float(model.warmup_s), float(model.duration_s)
    cluster = controller.cluster
    pools: dict[str, Any] = {}
    cost = 0.0
    for p in cluster.pools:
        series = cluster.counts[p.name]
        hours = integral(series, lo, hi) / 3600.0
        cost += hours * p.cost
        pools[p.name] = {
            "node_hours": _r(hours),
            "cost": _r(hours * p.cost),
            "nodes": {"t_s": [_r(t) for t, _ in series], "count": [c for _, c in series]},
            "peak": max((c for _, c in series), default=0),
        }
    services: dict[str, Any] = {}
    index = {s.name: k for k, s in enumerate(model.services)}
    for name, loop in controller.loops.items():
        replicas = state_series(result, index[name], loop.pending)
        live = [r + s for r, s in zip(replicas["ready"], replicas["starting"], strict=True)]
        services[name] = {
            "policy": loop.spec.policy,
            "replicas": replicas,
            "events": [
                {
                    "t_s": _r(e.t_s),
                    "from": e.from_,
                    "to": e.to,
                    "metric": None if e.metric is None else _r(e.metric),
                    "reason": e.reason,
                }
                for e in loop.events
            ],
            "pending_replica_s": _r(integral(_steps(replicas, "pending"), lo, hi)),
            "starting_replica_s": _r(integral(_steps(replicas, "starting"), lo, hi)),
            "peak": max(live, default=0),
        }
    return {"cost": _r(cost), "pools": pools, "services": services, "slo": slo_over_time(model, result)}
