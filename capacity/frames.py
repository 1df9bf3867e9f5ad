"""Results as pandas DataFrames, for notebooks: one row per request, or per class, tenant, replica or node.

pandas is an optional dependency (the ``frames`` extra: ``pip install 'capacity[frames]'``); this module
imports it when a function is called and says so when it is missing.

* `requests` — one row per simulated request of a `RunResult` (its ``sim_result``), in sequence order
  (index ``seq``): ``class``, ``tenant``, ``service``, ``priority``, ``arrival_s``, ``start_s`` (first
  service; NaN if it never started), ``end_s`` (completion, or when it left; NaN if refused on
  arrival), ``service_s`` (the drawn service time), ``wait_s`` (``start − arrival``), ``latency_s``
  (``end − arrival``; meaningful as a latency for completed requests), ``outcome`` (categorical:
  completed, rejected, timed_out, dropped, lost — see `capacity.sim.result`), ``measured`` (arrived after
  the warm-up and before the end: the requests the statistics cover), ``replica``, ``node`` and ``pool``
  (of the replica that completed it; None otherwise), ``retried``, and for token workloads
  ``input_tokens``, ``output_tokens``, ``ttft_s``. Times are seconds since the start of the run.
* `classes`, `tenants` — the report's ``simulation.classes`` / ``.tenants`` flattened to one row per
  name: nested summaries become columns such as ``latency_p99_s``, ``wait_mean_s``, ``slo_target_s``,
  ``slo_attained``, ``slo_met``, ``slo_status`` (``met``, ``missed`` or ``no data``: a class with an SLO
  but no measured request has ``slo_attained`` and ``slo_met`` missing and ``slo_status`` "no data",
  which is not a pass; a class without an SLO has every ``slo_*`` column missing).
* `replicas`, `nodes` — ``simulation.replicas`` (node, pool, utilisation, served, ...) and the placement's
  nodes (pool, replica count, and per resource ``used_R``, ``capacity_R``, ``allocated_R``,
  ``stranded_R``) with the simulated ``utilisation`` of each node's slots.

The summary functions take a `RunResult`, a `capacity.report.model.Report` or report.json's data (read into
the report model first); rows follow the scenario's order (`Report.in_scenario_order`).
`RunResult.requests_frame` and `RunResult.classes_frame` call `requests` and `classes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from capacity.report.model import Report, Simulation, as_model

if TYPE_CHECKING:
    import pandas as pd

    from capacity.sim.model import SimModel
    from capacity.sim.result import SimResult
    from capacity.sim.streaming import StreamingResult


class _Run(Protocol):
    """A run with its per-request records (`capacity.pipeline.RunResult`)."""

    @property
    def model(self) -> SimModel | None: ...
    @property
    def sim_result(self) -> SimResult | StreamingResult | None: ...
    @property
    def report(self) -> Report: ...

OUTCOMES = ("completed", "rejected", "timed_out", "dropped", "lost")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - exercised only without pandas
        raise ImportError("capacity.frames needs pandas, an optional dependency: "
                          "pip install 'capacity[frames]' (or pip install pandas)") from exc
    return pandas


def _report(data: Any) -> Report:
    if isinstance(data, Report | Mapping):
        return as_model(data).in_scenario_order()
    if hasattr(data, "report"):
        return as_model(data.report)
    raise TypeError(f"expected a RunResult or a report, not {type(data).__name__}")


def _simulation(data: Any) -> Simulation:
    simulation = _report(data).simulation
    if simulation is None:
        raise ValueError("the run has no simulation (the scenario has no workload, or only packing was run)")
    return simulation


def _mask(result: Any, name: str, n: int) -> np.ndarray:
    values = getattr(result, name, None)
    return np.zeros(n, dtype=bool) if values is None else np.asarray(values, dtype=bool)


def requests(result: _Run) -> pd.DataFrame:
    """One row per simulated request (see the module docstring for the columns)."""
    pd = _pandas()
    sim, model = result.sim_result, result.model
    if sim is None or model is None:
        raise ValueError("the run has no simulation (the scenario has no workload, or only packing was run)")
    from capacity.sim.result import SimResult

    if not isinstance(sim, SimResult):
        raise ValueError("a streaming run keeps no per-request records (workload.statistics: streaming); "
                         "run with workload.statistics: exact")
    n = len(sim)
    cls = np.asarray(sim.cls)
    classes = model.classes
    names = np.array([c.name for c in classes], dtype=object)
    outcome = np.full(n, "completed", dtype=object)
    outcome[sim.replica < 0] = "rejected"
    for name in ("timed_out", "dropped", "lost"):
        outcome[_mask(sim, name, n)] = name
    replica_names = np.array([*sim.replica_names, None], dtype=object)     # index -1 -> None
    node_of = {r.name: (r.node, r.pool) for s in model.services for r in s.replicas}
    replica = replica_names[np.where(sim.replica >= 0, sim.replica, len(sim.replica_names))]
    columns: dict[str, Any] = {
        "class": pd.Categorical.from_codes(cls, categories=list(names)),
        "tenant": np.array([c.tenant for c in classes], dtype=object)[cls],
        "service": np.array([c.service for c in classes], dtype=object)[cls],
        "priority": np.array([c.priority for c in classes], dtype=np.int64)[cls],
        "arrival_s": sim.arrival_s,
        "start_s": sim.start_s,
        "end_s": sim.end_s,
        "service_s": sim.service_s,
        "wait_s": sim.wait_s,
        "latency_s": sim.latency_s,
        "outcome": pd.Categorical(outcome, categories=list(OUTCOMES)),
        "measured": sim.measured,
        "replica": replica,
        "node": np.array([node_of[r][0] if r is not None else None for r in replica], dtype=object),
        "pool": np.array([node_of[r][1] if r is not None else None for r in replica], dtype=object),
        "retried": _mask(sim, "retried", n),
    }
    for name in ("input_tokens", "output_tokens"):
        if getattr(sim, name, None) is not None:
            columns[name] = getattr(sim, name)
    ttft = getattr(sim, "ttft_s", None)
    if ttft is not None:
        columns["ttft_s"] = ttft
    frame = pd.DataFrame(columns)
    frame.index.name = "seq"
    return frame


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """``{"latency_s": {"p99": x}, "slo": {"target_s": t}}`` → ``{"latency_p99_s": x, "slo_target_s": t}``."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            for sub, v in value.items():
                if isinstance(v, Mapping | list):
                    continue
                if key.endswith("_s") and not sub.endswith("_s"):
                    out[f"{key[:-2]}_{sub}_s"] = v
                else:
                    out[f"{key}_{sub}"] = v
        elif value is None and key == "slo":
            continue
        elif not isinstance(value, list):
            out[key] = value
    return out


def _by_name(section: Mapping[str, Any], index: str) -> pd.DataFrame:
    """One row per name of a section (its entries as report.json writes them, flattened)."""
    pd = _pandas()
    rows = [_flatten(v.model_dump(mode="json", exclude_unset=True, by_alias=True)) for v in section.values()]
    frame = pd.DataFrame.from_records(rows, index=list(section))
    frame.index.name = index
    return frame


def classes(data: Any) -> pd.DataFrame:
    """One row per request class: counts, throughput, latency and wait summaries, SLO
    (``simulation.classes``; ``slo_status`` is derived for a report.json written before it existed)."""
    section = {name: c.model_copy(update={"slo": c.slo.model_copy(update={"status": c.slo.verdict})})
               if c.slo is not None else c for name, c in _simulation(data).classes.items()}
    return _by_name(section, "class")


def tenants(data: Any) -> pd.DataFrame:
    """One row per tenant: completed, share of service, latency summary (``simulation.tenants``)."""
    return _by_name(_simulation(data).tenants, "tenant")


def replicas(data: Any) -> pd.DataFrame:
    """One row per placed serving replica: node, pool, utilisation, served (``simulation.replicas``)."""
    return _by_name(_simulation(data).replicas, "replica")


def nodes(data: Any) -> pd.DataFrame:
    """One row per used node: pool, replicas, per-resource used / capacity / allocated / stranded, and the
    simulated utilisation of its slots (when the run simulated)."""
    pd = _pandas()
    report = _report(data)
    busy = report.simulation.nodes if report.simulation is not None else {}
    rows = []
    for n in report.placement.nodes:
        row: dict[str, Any] = {"pool": n.pool, "replicas": len(n.replicas)}
        for key, amounts in (("used", n.used), ("capacity", n.capacity), ("allocated", n.allocated),
                             ("stranded", n.stranded)):
            for r, v in amounts.items():
                row[f"{key}_{r}"] = v
        if busy:
            row["utilisation"] = busy[n.name].utilisation if n.name in busy else None
        rows.append(row)
    frame = pd.DataFrame.from_records(rows, index=[n.name for n in report.placement.nodes])
    frame.index.name = "node"
    return frame
