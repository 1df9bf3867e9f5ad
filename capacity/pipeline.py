"""The pipeline: scenario → packing problem → placement → serving model → simulation → report.

Each step is a plain function from values to values (no file I/O):

* `packing_problem` turns a `Scenario` into the solver-independent `PackingProblem` (units already parsed:
  CPU in cores, memory in bytes).
* `pack` solves it and returns a `Placement` (or raises `InfeasiblePlacement`); `compare` adds the greedy
  baselines' plans of the same problem.
* `serving_model` puts the placed replicas and the workload into a `SimModel`; `simulate` runs it and returns
  the ``simulation`` section of the report.
* `run` does all of the above and returns a `RunResult` holding every intermediate value and the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from capacity import packing, sim
from capacity.packing.problem import PackingProblem, Placement
from capacity.scenario import Arrivals, Scenario
from capacity.sim.model import SimModel


def packing_problem(scenario: Scenario) -> PackingProblem:
    """The placement problem of a scenario: pools, services' requests, objective and options."""
    pools = tuple(
        packing.Pool(name=p.name, count=p.count, capacity=dict(p.resources), cost=p.cost,
                     labels=dict(p.labels))
        for p in scenario.cluster.pools
    )
    services = tuple(
        packing.Service(name=s.name, replicas=s.replicas, demand=dict(s.resources),
                        pools=tuple(s.pools) if s.pools else None, max_per_node=s.max_per_node)
        for s in scenario.services
    )
    resources = sorted({r for p in pools for r in p.capacity} | {r for s in services for r in s.demand})
    opts = scenario.placement
    return PackingProblem(pools=pools, services=services, objective=opts.objective,
                          headroom=opts.headroom_for(resources), solver=opts.solver,
                          time_limit_s=opts.time_limit)


def pack(scenario: Scenario) -> Placement:
    """Place every replica of every service on the cluster (raises `InfeasiblePlacement`)."""
    return packing.solve(packing_problem(scenario))


def compare(problem: PackingProblem, placement: Placement) -> dict[str, Placement]:
    """Every greedy baseline's plan of the problem (`packing.BASELINES`, in its order), then the
    optimiser's ``placement`` under the name ``optimiser``: the rows of ``capacity plan --compare``."""
    plans = {name: baseline(problem) for name, baseline in packing.BASELINES.items()}
    plans["optimiser"] = placement
    return plans


def sim_arrivals(a: Arrivals) -> sim.Arrivals:
    """A class's arrivals in the engine's terms (seconds; unset parameters take the engine defaults)."""
    given = {key: value for key, value in (
        ("cv", a.cv), ("on_s", a.on), ("off_s", a.off), ("amplitude", a.amplitude),
        ("period_s", a.period), ("peak_at_s", a.peak_at), ("start_s", a.start)) if value is not None}
    return sim.Arrivals(process=a.process, rate_per_s=a.rate, **given)


def serving_model(scenario: Scenario, placement: Placement) -> SimModel:
    """The serving model: each placed replica of each serving service, and the request classes."""
    if scenario.workload is None:
        raise ValueError(f"scenario {scenario.name!r} has no workload section to simulate")
    pool_of = {n.name: n.pool for n in placement.nodes}
    services = []
    for s in scenario.services:
        if s.serving is None:
            continue
        replicas = tuple(
            sim.Replica(name=r, node=placement.assignment[r], pool=pool_of[placement.assignment[r]])
            for r in (f"{s.name}-{i}" for i in range(s.replicas))
            if r in placement.assignment
        )
        st = s.serving.service_time
        services.append(sim.ServingService(
            name=s.name, replicas=replicas, concurrency=s.serving.concurrency,
            service_time=sim.ServiceTime(dist=st.dist, mean_s=st.mean, cv=st.effective_cv),
            discipline=s.serving.queue.discipline or scenario.scheduling.discipline,
            routing=s.serving.routing or scenario.scheduling.routing,
            max_length=s.serving.queue.max_length,
            timeout_s=s.serving.queue.timeout,
            preemption=s.serving.queue.preemption,
        ))
    classes = tuple(
        sim.RequestClass(
            name=c.name, service=c.service,
            arrivals=sim_arrivals(c.arrivals),
            priority=c.priority, tenant=c.tenant, weight=c.weight,
            slo_target_s=c.slo.target_s if c.slo else None,
            slo_quantile=c.slo.quantile if c.slo else None,
        )
        for c in scenario.workload.classes
    )
    return SimModel(services=tuple(services), classes=classes, duration_s=scenario.workload.duration,
                    warmup_s=scenario.workload.warmup, seed=scenario.seed)


def simulate(scenario: Scenario, placement: Placement) -> dict[str, Any]:
    """Simulate the scenario's workload on a placement; return the report's ``simulation`` section."""
    model = serving_model(scenario, placement)
    return sim.summarize(model, sim.simulate_model(model))


@dataclass
class RunResult:
    """Everything one run produced: the inputs, the placement, the simulation and the report."""

    scenario: Scenario
    problem: PackingProblem
    placement: Placement
    model: SimModel | None
    sim_result: Any | None          # capacity.sim.SimResult (per-request arrays), None without workload
    report: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def run(scenario: Scenario, *, simulate_traffic: bool = True) -> RunResult:
    """Pack, then (when the scenario has a workload and ``simulate_traffic``) simulate; build the report."""
    from capacity.report.summary import build_report

    started = datetime.now(UTC)
    t0 = time.perf_counter()
    problem = packing_problem(scenario)
    placement = packing.solve(problem)
    t1 = time.perf_counter()
    model = result = simulation = None
    if simulate_traffic and scenario.workload is not None:
        model = serving_model(scenario, placement)
        result = sim.simulate_model(model)
        simulation = sim.summarize(model, result)
    t2 = time.perf_counter()
    timings = {"pack_s": t1 - t0, "simulate_s": t2 - t1}
    report = build_report(scenario, problem, placement, simulation, started_at=started, timings=timings)
    return RunResult(scenario=scenario, problem=problem, placement=placement, model=model, sim_result=result,
                     report=report, timings=timings)
