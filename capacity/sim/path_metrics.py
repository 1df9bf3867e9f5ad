"""End-to-end statistics of travelling requests: the report's ``simulation.paths`` section.

Over the **measured** requests of each class (arrived in ``[warmup_s, duration_s)``, `PathResult.measured`):

* ``arrived``, ``completed`` and ``failed`` — a request fails end to end when one of its visits was
  rejected, timed out, dropped or lost (`capacity.sim.journeys`); ``failed_by`` counts the failures by the
  outcome of the visit that failed first (the earliest to end, or to arrive when refused);
* ``latency_s`` — ``{mean, p50, p95, p99, max}`` of the end-to-end latency of the completed ones (arrival
  to the instant the last stage is done) and ``slo`` — the class's latency target judged end to end
  (failed requests miss it), as for one-stop classes (`capacity.sim.metrics.slo_entry`);
* ``stages`` — per stage node (``label``: the service, ``service#2`` for its second node on the path;
  ``position``: its number on the path, in order, counting from 0),
  over the visits of the measured requests that reached it: ``visits_per_request`` (a repeat's passes
  and every branch count), the mean ``delay_s`` (network delay of the hop to it), ``wait_s`` (queueing,
  started visits) and ``service_s`` (start to end, completed visits), and the visits that ``failed``
  there. For a path without fork-joins, ``Σ visits_per_request × (delay + wait + service)`` is the mean
  end-to-end latency of the completed requests, up to the failed ones: the breakdown says where the time
  goes.

Per service (``services``): ``arrival_rate_per_s``, the visits that reached it per second of the window,
summed over every class and path (what sizing must serve). Seconds; rates per second; floats rounded to 12
significant digits like the rest of the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from capacity.sim.journeys import COMPLETED, NOT_REACHED, OUTCOMES, PathResult, stage_rates
from capacity.sim.metrics import slo_entry, summary

FAILURES = tuple(o for o in OUTCOMES if o not in ("completed", "not_reached"))


def _r(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.12g}")


def _mean(x: np.ndarray) -> float | None:
    return _r(float(x.mean())) if len(x) else None


def _first_failures(result: PathResult, outcome: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Per request, the outcome code of its first failed visit (-1: none)."""
    v = result.visits
    failed = (outcome != COMPLETED) & (outcome != NOT_REACHED) & measured[result.visit_request]
    when = np.where(np.isnan(v.end_s), v.arrival_s, v.end_s)[failed]
    order = np.lexsort((when, result.visit_request[failed]))
    req = result.visit_request[failed][order]
    first = np.ones(len(req), dtype=bool)
    first[1:] = req[1:] != req[:-1]
    out = np.full(len(result.request_cls), -1, dtype=np.int64)
    out[req[first]] = outcome[failed][order][first]
    return out


def _stages(
    result: PathResult, k: int, outcome: np.ndarray, measured: np.ndarray, n_requests: int
) -> dict[str, Any]:
    v = result.visits
    out: dict[str, Any] = {}
    mine_request = measured[result.visit_request]
    for g, (cls, node) in enumerate(result.nodes):
        if cls != k:
            continue
        at = mine_request & (result.visit_node == g) & (outcome != NOT_REACHED)
        started = at & ~np.isnan(v.start_s)
        done = at & (outcome == COMPLETED)
        out[node.label] = {
            "service": node.visit.service,
            "position": node.index,
            "visits_per_request": _r(np.count_nonzero(at) / n_requests) if n_requests else None,
            "delay_s": _mean(result.visit_delay_s[at]),
            "wait_s": _mean((v.start_s - v.arrival_s)[started]),
            "service_s": _mean((v.end_s - v.start_s)[done]),
            "failed": int(np.count_nonzero(at & (outcome != COMPLETED))),
        }
    return out


def summarize_paths(result: PathResult) -> dict[str, Any]:
    """The ``simulation.paths`` section (see the module docstring)."""
    measured = result.measured()
    outcome = result.visit_outcome()
    first = _first_failures(result, outcome, measured)
    latency = result.latency_s
    classes: dict[str, Any] = {}
    for k, c in enumerate(result.model.classes):
        mine = measured & (result.request_cls == k)
        done = mine & result.completed
        arrived = int(np.count_nonzero(mine))
        slo = None
        if c.slo_target_s is not None and c.slo_quantile is not None:
            hits = int(np.count_nonzero(latency[done] <= c.slo_target_s))
            slo = slo_entry(c.slo_target_s, c.slo_quantile, hits, arrived)
            if slo["attained"] is not None:
                slo["attained"] = _r(slo["attained"])
        classes[c.name] = {
            "arrived": arrived,
            "completed": int(np.count_nonzero(done)),
            "failed": arrived - int(np.count_nonzero(done)),
            "failed_by": {
                name: int(np.count_nonzero(mine & (first == OUTCOMES.index(name)))) for name in FAILURES
            },
            "latency_s": {key: _r(x) for key, x in summary(latency[done]).items()},
            "slo": slo,
            "stages": _stages(result, k, outcome, measured, arrived),
        }
    rates = stage_rates(result)
    return {
        "classes": classes,
        "services": {name: {"arrival_rate_per_s": _r(rate)} for name, rate in rates.items()},
    }
