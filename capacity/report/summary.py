"""The report: placement and simulation summaries plus provenance, built as the typed `Report` of
`capacity.report.model` (one pydantic model per section), which writes report.json.

Stable keys are listed in the design (``placement.status``, ``simulation.classes.NAME.latency_s.p99``, ...).
All times are seconds, memory is bytes and CPU is cores. Amounts are rounded to 12 significant digits and
written as integers when integral (`_num`); simulation statistics are floats rounded the same way. Fields
that change from run to run (wall-clock timings, the start time) live only under ``run``, so two runs of
the same scenario and seed give reports that are identical once `strip_runtime` removes that section.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from capacity._version import __version__
from capacity.limits import Limits
from capacity.packing.problem import PackingProblem, Placement
from capacity.packing.stranded import stranded_by_pool, stranded_capacity, stranded_total
from capacity.report.model import (
    ComparedMethod,
    CompareSection,
    PlacedNode,
    PlacementSection,
    PoolUsage,
    Provenance,
    Report,
    RunTimes,
    Simulation,
    SloResult,
)
from capacity.scenario import Scenario
from capacity.sim.metrics import SLO_STATUSES


def _num(x: float) -> float | int:
    """A float rounded to 12 significant digits (stable text), or an int when it is integral."""
    if float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return float(f"{x:.12g}")


def _maybe(x: float | None) -> float | int | None:
    return None if x is None else _num(x)


def _amounts(amounts: dict[str, float]) -> dict[str, float]:
    return {r: _num(v) for r, v in sorted(amounts.items())}


def placement_section(scenario: Scenario, problem: PackingProblem, placement: Placement) -> PlacementSection:
    """The ``placement`` section: status, bound, gap, cost and per-node / per-pool usage.

    ``objective_value``/``objective_bound`` are in the objective's units (nodes, cost per hour, moved
    replicas, unplaced priority weight, or utilisation for ``balance``). ``max_utilisation`` is the highest
    used / capacity over used nodes and resources; ``moves`` (null without ``existing``) and ``moved``
    count replicas that leave their existing node; ``unplaced_reasons`` says per service why its
    ``unplaced`` replicas are not placed (objective ``fit``).

    ``nodes[].stranded`` and ``pools.NAME.stranded`` are the free capacity no replica could use
    (`capacity.packing.stranded`); a pool with no used node has an empty ``stranded``.
    """
    per_node = stranded_capacity(problem, placement)
    per_pool_stranded = stranded_by_pool(problem, placement, per_node)
    nodes: list[PlacedNode] = []
    per_pool: dict[str, dict[str, Any]] = {
        p.name: {"count": p.count, "nodes_used": 0, "cost_per_hour": None if p.cost is None else 0.0,
                 "used": {}, "capacity": {}}
        for p in scenario.cluster.pools
    }
    for n in placement.nodes:
        nodes.append(PlacedNode(
            name=n.name,
            pool=n.pool,
            replicas=list(n.replicas),
            used={r: _num(v) for r, v in sorted(n.used.items())},
            capacity={r: _num(v) for r, v in sorted(n.capacity.items())},
            allocated={r: _num(n.used.get(r, 0.0) / v) for r, v in sorted(n.capacity.items()) if v > 0},
            stranded=_amounts(per_node[n.name]),
        ))
        pool = per_pool[n.pool]
        pool["nodes_used"] += 1
        cost = scenario.pool(n.pool).cost
        if cost is not None:
            pool["cost_per_hour"] += cost
        for r, v in n.used.items():
            pool["used"][r] = pool["used"].get(r, 0.0) + v
        for r, v in n.capacity.items():
            pool["capacity"][r] = pool["capacity"].get(r, 0.0) + v
    pools = {
        name: PoolUsage(
            count=p["count"],
            nodes_used=p["nodes_used"],
            cost_per_hour=_maybe(p["cost_per_hour"]),
            allocated={r: _num(p["used"].get(r, 0.0) / c) for r, c in sorted(p["capacity"].items()) if c > 0},
            stranded=_amounts(per_pool_stranded.get(name, {})),
        )
        for name, p in per_pool.items()
    }
    return PlacementSection(
        status=placement.status,
        solver=placement.solver,
        objective=placement.objective,
        nodes_used=placement.nodes_used,
        lower_bound=placement.lower_bound,
        objective_value=_maybe(placement.objective_value),
        objective_bound=_maybe(placement.objective_bound),
        gap=_maybe(placement.gap),
        cost_per_hour=_maybe(placement.cost_per_hour),
        replicas=sum(len(n.replicas) for n in placement.nodes),
        nodes=nodes,
        pools=pools,
        unplaced=list(placement.unplaced),
        unplaced_reasons=dict(sorted(placement.unplaced_reasons.items())),
        max_utilisation=_maybe(placement.max_utilisation),
        moves=placement.moves,
        moved=dict(sorted(placement.moved.items())),
    )


def compare_section(problem: PackingProblem, placements: dict[str, Placement]) -> CompareSection:
    """The ``compare`` section: each method's plan of the same problem, side by side, and the bounds.

    ``placements`` maps a method's name (a `BASELINES` name, or ``optimiser``) to its plan. Per method:
    ``solver``, ``status``, ``nodes_used``, ``cost_per_hour``, ``objective_value``, ``unplaced`` (how
    many replicas it could not place), ``stranded`` ({resource: total over its nodes}). ``lower_bound``
    is the best proven bound on nodes among the plans, ``objective_bound`` on the objective. Timings are
    left out (they change from run to run; `with_compare` puts them under ``run.compare_s``).
    """
    methods = {
        name: ComparedMethod(
            solver=p.solver,
            status=p.status,
            nodes_used=p.nodes_used,
            cost_per_hour=_maybe(p.cost_per_hour),
            objective_value=_maybe(p.objective_value),
            unplaced=len(p.unplaced),
            stranded=_amounts(stranded_total(stranded_capacity(problem, p))),
        )
        for name, p in placements.items()
    }
    bounds = [p.objective_bound for p in placements.values() if p.objective_bound is not None]
    return CompareSection(
        objective=problem.objective,
        lower_bound=max((p.lower_bound for p in placements.values()), default=0),
        objective_bound=_num(max(bounds)) if bounds else None,
        methods=methods,
    )


def simulation_section(simulation: dict[str, Any] | None) -> Simulation | None:
    """The ``simulation`` section: `capacity.sim.summarize`'s dictionary (keys and definitions in
    `capacity.sim.metrics`: per class and tenant the outcomes ``arrived = completed + rejected + timed_out
    + dropped + lost`` and ``retried``, throughput, goodput, latency / wait / TTFT summaries and the SLO;
    utilisation and ``down_s`` per replica, node, pool and service; ``failures``; the ``over_time``
    windows), with every float rounded to 12 significant digits (stable text; counts stay integers)."""

    def rounded(x: Any) -> Any:
        if isinstance(x, float):
            return float(f"{x:.12g}")
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        if isinstance(x, list):
            return [rounded(v) for v in x]
        return x

    return None if simulation is None else Simulation.model_validate(rounded(simulation))


def slo_status(slo: SloResult | Mapping[str, Any] | None) -> str | None:
    """A class's SLO verdict in words: ``"met"``, ``"missed"`` or ``"no data"`` (none of its requests was
    measured: nothing to judge, which is **never** a pass); ``None`` for a class without an SLO. Reads the
    entry's ``status``; a report.json written before ``status`` existed has only ``met``, where ``None``
    meant no data."""
    if not slo:
        return None
    if isinstance(slo, SloResult):
        return slo.verdict
    status = slo.get("status")
    if status in SLO_STATUSES:
        return str(status)
    met = slo.get("met")
    return "no data" if met is None else "met" if met else "missed"


def slo_verdict(simulation: Simulation | Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's SLOs at a glance (end-to-end SLOs of travelling classes included): how many classes
    ``met``, ``missed`` and had ``no data`` for their SLO,
    and one ``status`` for them all: ``"missed"`` if any was missed, else ``"no data"`` if any had no
    data (a run is not a pass on SLOs it did not measure), else ``"met"``; ``None`` without SLOs."""
    counts = {"met": 0, "missed": 0, "no data": 0}
    slos = ([c.slo for c in simulation.classes.values()] if isinstance(simulation, Simulation)
            else [stats.get("slo") for stats in ((simulation or {}).get("classes") or {}).values()])
    # travelling classes: their SLOs are end to end (simulation.paths; the classes above are visits)
    if isinstance(simulation, Simulation):
        slos += [c.slo for c in simulation.paths.classes.values()] if simulation.paths is not None else []
    else:
        paths = (simulation or {}).get("paths") or {}
        slos += [stats.get("slo") for stats in (paths.get("classes") or {}).values()]
    for slo in slos:
        status = slo_status(slo)
        if status is not None:
            counts[status] += 1
    overall = next((s for s in ("missed", "no data") if counts[s]), "met" if counts["met"] else None)
    return {"status": overall, **counts}


def build_report(scenario: Scenario, problem: PackingProblem, placement: Placement,
                 simulation: Simulation | dict[str, Any] | None, *,
                 started_at: datetime | None = None,
                 timings: dict[str, float] | None = None) -> Report:
    """The whole report: ``scenario``, ``provenance``, ``placement``, ``simulation`` (the typed section, or
    `capacity.sim.summarize`'s dictionary, read by `simulation_section`) and ``run``."""
    run: dict[str, Any] = {"placement_solve_s": round(placement.solve_time_s, 6),
                           "placement_time_limit_reached": placement.time_limit_reached}
    if started_at is not None:
        run["started_at"] = started_at.isoformat(timespec="seconds")
    for key, value in (timings or {}).items():
        run[key] = round(value, 6)
    return Report(
        scenario=scenario.name,
        provenance=Provenance(
            capacity_version=__version__,
            scenario_sha256=scenario.digest(),
            seed=scenario.seed,
            source=scenario.source,
            limits=Limits.model_validate(scenario.limits.model_dump()),   # every cap in force
        ),
        placement=placement_section(scenario, problem, placement),
        simulation=simulation if isinstance(simulation, Simulation) else simulation_section(simulation),
        run=RunTimes.model_validate(run),
    )


def with_compare(report: Report, problem: PackingProblem, placements: dict[str, Placement]) -> Report:
    """A copy of ``report`` with the ``compare`` section, and each method's time in ``run.compare_s``."""
    compare_s = {name: round(p.solve_time_s, 6) for name, p in placements.items()}
    return report.model_copy(update={"compare": compare_section(problem, placements),
                                     "run": report.run.model_copy(update={"compare_s": compare_s})})


def strip_runtime(report: Report | Mapping[str, Any]) -> dict[str, Any]:
    """The report (or report.json's data) without its run-time fields (for comparing two runs)."""
    if isinstance(report, Report):
        return report.without_runtime()
    return {k: v for k, v in report.items() if k != "run"}
