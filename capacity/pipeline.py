"""The pipeline: scenario → packing problem → placement → serving model → simulation → report.

Each step is a plain function from values to values (no file I/O):

* `packing_problem` turns a `Scenario` into the solver-independent `PackingProblem` (units already parsed:
  CPU in cores, memory in bytes).
* `pack` solves it and returns a `Placement` (or raises `InfeasiblePlacement`); `compare` adds the greedy
  baselines' plans of the same problem.
* `serving_model` puts the placed replicas and the workload into a `SimModel`; `simulate` runs it and returns
  the ``simulation`` section of the report (`capacity.report.model.Simulation`).
* `autoscaling_model` reads the scenario's autoscalers (services with ``autoscaling.metric`` and ``target``,
  pools with ``autoscaling``) into a `capacity.autoscaling.AutoscalingModel`; with one, `simulate_model`
  runs the autoscaled replay (`capacity.autoscaling.simulate`) and the section gains ``autoscaling``;
  `run` adds the static plan sized for the peak beside it (`static_comparison`).
* `run` does all of the above and returns a `RunResult` holding every intermediate value and the report
  (`capacity.report.model.Report`, built by `capacity.report.summary.build_report`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from capacity import autoscaling, packing, sim
from capacity.errors import InfeasiblePlacement, Shortage
from capacity.limits import (
    requests_problem,
    series_per_window,
    series_problem,
    statistics_mode,
    statistics_windows,
)
from capacity.packing.problem import PackingProblem, Placement
from capacity.report.model import Autoscaling, Report, Simulation, StaticComparison
from capacity.report.series import full_report
from capacity.report.summary import build_report, simulation_section
from capacity.scenario import (
    Arrivals,
    Batching,
    Llm,
    Scenario,
    Service,
    ServiceTime,
    gpu_of,
    trace_path,
    whatif_point,
)
from capacity.scenario import Spread as ScenarioSpread
from capacity.scenario.services import ColdStart as ColdStartSpec
from capacity.scenario.services import ScalingRules as ScenarioScalingRules
from capacity.scenario.work import streaming_obstacle
from capacity.scenario.workload import ParallelStage, RepeatCount, RepeatStage, VisitStage
from capacity.sim import model as sim_model
from capacity.sim.arrivals import arrival_process
from capacity.sim.model import Discipline, Dist, Process, Routing, ServiceDist, SimModel, TokenMetric
from capacity.sim.paths import has_path
from capacity.sim.result import SimResult
from capacity.sim.traces import ReplayWindow, RowLimitError, Trace, TraceError, read_trace, replay_window

if TYPE_CHECKING:
    from capacity.sim.streaming import StreamingResult  # (the simulator is not loaded by validate)


def packing_problem(scenario: Scenario) -> PackingProblem:
    """The placement problem of a scenario: pools, services' requests, objective and options. A problem
    the objective refuses (`capacity.packing.Objective.check`) raises `ScenarioError` at
    ``placement.objective``."""
    pools = tuple(
        packing.Pool(name=p.name, count=p.count, capacity=dict(p.resources), cost=p.cost,
                     labels=dict(p.labels))
        for p in scenario.cluster.pools
    )
    services = tuple(
        packing.Service(name=s.name, replicas=s.replicas, demand=dict(s.resources),
                        pools=tuple(s.pools) if s.pools else None, max_per_node=s.max_per_node,
                        node_selector=dict(s.node_selector) if s.node_selector else None,
                        priority=s.priority,
                        spread=_spread(s.spread),
                        anti_affinity=tuple(packing.PodAffinity(t.service, t.topology)
                                            for t in s.anti_affinity or ()),
                        affinity=tuple(packing.PodAffinity(t.service, t.topology) for t in s.affinity or ()),
                        survive=packing.Survive(
                            "node" if s.survive.failures == "1 node" else "zone", s.survive.keep,
                            s.survive.topology or "zone") if s.survive else None)
        for s in scenario.services
    )
    resources = sorted({r for p in pools for r in p.capacity} | {r for s in services for r in s.demand})
    opts = scenario.placement
    problem = PackingProblem(pools=pools, services=services, objective=opts.objective,
                             headroom=opts.headroom_for(resources), solver=opts.solver,
                             time_limit_s=opts.time_limit,
                             existing={node: dict(counts) for node, counts in opts.existing.items()},
                             move_cost=opts.move_cost)
    try:  # the objective's own rules (a plugin's), beyond the flags the scenario checks at load
        packing.OBJECTIVES.lookup(problem.objective).check(problem)
    except ValueError as exc:
        raise scenario.error(str(exc), ("placement", "objective")) from None
    return problem


def _spread(spread: ScenarioSpread | None) -> packing.Spread | None:
    """The packer's spread rule: ``DoNotSchedule`` only (``ScheduleAnyway`` is a scoring preference of the
    scheduler, which places the pod anyway: no rule of the plan)."""
    if spread is None or spread.when_unsatisfiable == "ScheduleAnyway":
        return None
    return packing.Spread(spread.topology, spread.max_skew, tuple(spread.domains or ()))


def pack(scenario: Scenario) -> Placement:
    """Place every replica of every service on the cluster (raises `InfeasiblePlacement`, whose reasons
    also name, for an imported scenario, the pools left out for a service that offer what it lacks and
    why: an untolerated taint, a node selector)."""
    return solve(scenario, packing_problem(scenario))


def solve(scenario: Scenario, problem: PackingProblem) -> Placement:
    """`packing.solve` of the scenario's ``problem``, with `pack`'s explanations."""
    try:
        return packing.solve(problem)
    except InfeasiblePlacement as exc:
        raise _with_exclusions(scenario, exc) from None


def _with_exclusions(scenario: Scenario, exc: InfeasiblePlacement) -> InfeasiblePlacement:
    excluded = scenario.kubernetes.excluded if scenario.kubernetes is not None else {}
    if not excluded:
        return exc
    shortages = []
    for shortage in exc.shortages:
        reasons = [f"pool {pool} offers {shortage.resource} but {why}"
                   for pool, why in excluded.get(shortage.service, {}).items()
                   if scenario.pool(pool).resources.get(shortage.resource, 0) > 0]
        if reasons:
            shortage = Shortage(shortage.service, shortage.resource,
                                f"{shortage.reason}; " + "; ".join(reasons))
        shortages.append(shortage)
    return InfeasiblePlacement(shortages=shortages, placement=exc.placement)


def compare(problem: PackingProblem, placement: Placement) -> dict[str, Placement]:
    """Every greedy baseline's plan of the problem (`packing.BASELINES`, in its order), then the
    optimiser's ``placement`` under the name ``optimiser``: the rows of ``capacity plan --compare``."""
    plans = {name: baseline(problem) for name, baseline in packing.BASELINES.items()}
    plans["optimiser"] = placement
    return plans


def sim_arrivals(a: Arrivals, trace: Trace | None = None, duration_s: float | None = None) -> sim.Arrivals:
    """A class's arrivals in the engine's terms (seconds; unset parameters take the engine defaults).

    Trace arrivals need the ``trace`` (`read_class_trace`) and the run's ``duration_s``: their
    ``rate_per_s`` is the replay's expected mean rate over the run (the replay itself does not read it).
    """
    given: dict[str, Any] = {key: value for key, value in (  # the engine's fields, by name
        ("cv", a.cv), ("on_s", a.on), ("off_s", a.off), ("amplitude", a.amplitude),
        ("period_s", a.period), ("peak_at_s", a.peak_at), ("start_s", a.start),
        ("time_scale", a.time_scale), ("rate_scale", a.rate_scale)) if value is not None}
    if a.process == "steps":
        if not a.steps:
            raise ValueError("steps arrivals need steps")
        steps = tuple((step.at, step.rate) for step in a.steps)
        arrivals = sim.Arrivals(process="steps", rate_per_s=0.0, steps=steps)
        if duration_s is None:
            return arrivals
        rate = arrival_process(arrivals).mean_rate_per_s(duration_s)  # type: ignore[attr-defined]
        return dataclasses.replace(arrivals, rate_per_s=rate)
    if a.process != "trace":
        if a.rate is None:
            raise ValueError(f"{a.process} arrivals need a rate")
        return sim.Arrivals(process=cast(Process, a.process), rate_per_s=a.rate, **given)
    if trace is None or duration_s is None:
        raise ValueError("trace arrivals need the trace and the run's duration")
    arrivals = sim.Arrivals(process="trace", rate_per_s=0.0, trace=trace, **given)
    rate = arrival_process(arrivals).mean_rate_per_s(duration_s)  # type: ignore[attr-defined]
    return dataclasses.replace(arrivals, rate_per_s=rate)


def replayed_window(scenario: Scenario, index: int) -> ReplayWindow:
    """The part of its trace's clock that ``workload.classes[index]`` replays (the rows worth reading)."""
    assert scenario.workload is not None
    a = scenario.workload.classes[index].arrivals
    return ReplayWindow(duration_s=scenario.workload.duration, time_scale=a.time_scale or 1.0,
                        start_s=a.start or 0.0)


def read_class_trace(scenario: Scenario, index: int) -> Trace:
    """Read the trace that ``workload.classes[index]`` replays (a relative path is relative to the
    scenario file; the file must lie in an allowed folder, `capacity.sandbox`), keeping only the rows of
    its replayed window, at most ``limits.max_trace_rows``. A problem raises `ScenarioError` naming the
    class's field and the trace's file and line."""
    assert scenario.workload is not None
    c = scenario.workload.classes[index]
    where = ("workload", "classes", index, "arrivals")
    if c.arrivals.file is None:
        raise scenario.error("trace arrivals need a file", (*where, "file"))
    try:
        path = trace_path(scenario, c.arrivals.file)
        trace = read_trace(path, c.arrivals.format or "auto", c.tenants.column if c.tenants else None,
                           window=replayed_window(scenario, index), max_rows=scenario.limits.max_trace_rows)
    except RowLimitError as exc:
        raise scenario.error(f"trace {exc}; replay a shorter window (duration or time_scale) or raise "
                             "limits.max_trace_rows", (*where, "file")) from None
    except TraceError as exc:
        raise scenario.error(f"trace {exc}", (*where, "file")) from None
    except ValueError as exc:                      # outside the allowed folders
        raise scenario.error(str(exc), (*where, "file")) from None
    start = c.arrivals.start or 0.0
    if start > trace.end_s:
        raise scenario.error(f"start ({start:g}s) is past the end of the trace ({trace.end_s:g}s on the "
                             "trace's clock)", (*where, "start"))
    return trace


def sim_classes(scenario: Scenario) -> tuple[sim.RequestClass, ...]:
    """The workload's request classes in the engine's terms, reading the traces they replay (each file
    once). A trace class with ``tenants`` becomes one class per tenant, named ``CLASS@TENANT``, each
    replaying its tenant's share of one replay (see `capacity.sim.arrivals`); the others map one to one."""
    assert scenario.workload is not None
    duration = scenario.workload.duration
    traces: dict[tuple[str, str | None, str | None, ReplayWindow], Trace] = {}
    classes: list[sim.RequestClass] = []
    for index, c in enumerate(scenario.workload.classes):
        trace = None
        if c.arrivals.process == "trace":
            key = (c.arrivals.file or "", c.arrivals.format, c.tenants.column if c.tenants else None,
                   replayed_window(scenario, index))
            if key not in traces:
                traces[key] = read_class_trace(scenario, index)
            trace = traces[key]
        arrivals = sim_arrivals(c.arrivals, trace, duration)
        latency = c.slo.latency_target if c.slo else None
        base = sim.RequestClass(
            name=c.name, service=c.service, arrivals=arrivals, priority=c.priority, tenant=c.tenant,
            weight=c.weight, slo_target_s=latency.target_s if latency else None,
            slo_quantile=latency.quantile if latency else None, admission=c.admission,
            token_slos=tuple(sim.TokenSlo(cast(TokenMetric, metric), t.target_s, t.quantile)
                             for metric, t in (("ttft", c.slo.ttft if c.slo else None),
                                               ("tpot", c.slo.tpot if c.slo else None))
                             if t is not None),
            path=sim_path(c.path) if c.path is not None else (),
            service_times=tuple((name, sim_service_time(st))
                                for name, st in (c.service_times or {}).items()),
            tokens=sim.Tokens(*(sim.TokenCount(dist=cast(Dist, t.dist),
                                               mean=t.mean, cv=t.effective_cv, min=t.min,
                                               max=t.max) for t in (c.tokens.input, c.tokens.output)))
            if c.tokens is not None else None)
        if c.tenants is None or trace is None:
            classes.append(base)
            continue
        weights = c.tenants.weights or {}
        if c.tenants.column is not None:
            names, odds = trace.tenant_names, None
            unknown = [t for t in weights if t not in names]
            if unknown:
                raise scenario.error(
                    f"tenant {unknown[0]!r} never appears in the trace's column {c.tenants.column!r} "
                    f"({len(names)} other tenants do)", ("workload", "classes", index, "tenants", "weights",
                                                         unknown[0]))
            _, rows, _ = replay_window(trace, duration, arrivals.time_scale, arrivals.start_s)
            assert trace.tenant is not None
            counts = np.bincount(trace.tenant[rows], minlength=len(names))
            shares = counts / max(len(rows), 1)
        else:
            names, odds = tuple(weights), tuple(weights.values())
            shares = np.asarray(odds) / sum(odds)
        for k, tenant in enumerate(names):
            split = dataclasses.replace(arrivals, tenant_weights=odds, tenant_index=k, stream=c.name,
                                        rate_per_s=arrivals.rate_per_s * float(shares[k]))
            classes.append(dataclasses.replace(base, name=f"{c.name}@{tenant}", arrivals=split, tenant=tenant,
                                               weight=weights.get(tenant, c.weight)))
    return tuple(classes)


def sim_path(stages: list[VisitStage | ParallelStage | RepeatStage]) -> tuple[sim_model.Stage, ...]:
    """A class's path in the engine's terms (`capacity.sim.paths`)."""
    out: list[sim_model.Stage] = []
    for stage in stages:
        if isinstance(stage, VisitStage):
            d = stage.delay
            delay = sim_model.Delay(d.dist, d.mean, d.effective_cv) if d is not None else None
            out.append(sim_model.Visit(stage.service, delay))
        elif isinstance(stage, ParallelStage):
            out.append(sim_model.Parallel(tuple(sim_path(b) for b in stage.parallel), stage.wait))
        else:
            count = (sim_model.RepeatCount("geometric", stage.repeat.mean)
                     if isinstance(stage.repeat, RepeatCount)
                     else sim_model.RepeatCount("fixed", float(stage.repeat)))
            out.append(sim_model.Repeat(count, sim_path(stage.path)))
    return tuple(out)


def serving_model(scenario: Scenario, placement: Placement) -> SimModel:
    """The serving model: each placed replica of each serving service, and the request classes."""
    if scenario.workload is None:
        raise ValueError(f"scenario {scenario.name!r} has no workload section to simulate")
    pool_of = {n.name: n.pool for n in placement.nodes}
    speed_of = {p.name: p.speed for p in scenario.cluster.pools}
    gpu_of_pool = {p.name: gpu_of(p.gpu) if p.gpu is not None else None for p in scenario.cluster.pools}
    services = []
    for s in scenario.services:
        if s.serving is None:
            continue
        replicas = tuple(
            sim.Replica(name=r, node=placement.assignment[r], pool=pool_of[placement.assignment[r]],
                        speed=speed_of[pool_of[placement.assignment[r]]],
                        gpu=gpu_of_pool[pool_of[placement.assignment[r]]])
            for r in (f"{s.name}-{i}" for i in range(s.replicas))
            if r in placement.assignment
        )
        llm = s.serving.llm
        services.append(sim.ServingService(
            name=s.name, replicas=replicas, concurrency=s.serving.concurrency,
            service_time=sim_service_time(s.serving.times),
            batching=(sim.Batching(mode="llm", max_size=llm.max_num_seqs) if llm is not None
                      else sim_batching(s.serving.batching)),
            llm=sim_llm(llm) if llm is not None else None,
            discipline=cast(Discipline, s.serving.queue.discipline or scenario.scheduling.discipline),
            routing=cast(Routing, s.serving.routing or scenario.scheduling.routing),
            max_length=s.serving.queue.max_length,
            timeout_s=s.serving.queue.timeout,
            preemption=s.serving.queue.preemption,
            queue_cost=s.serving.queue.cost,
            admission=s.serving.queue.admission,
            on_failure=s.serving.on_failure or scenario.scheduling.on_failure,
        ))
    classes = sim_classes(scenario)
    mode = _check_expected_requests(scenario, classes)
    _check_series(scenario, services, classes)
    return SimModel(services=tuple(services), classes=classes, duration_s=scenario.workload.duration,
                    warmup_s=scenario.workload.warmup, seed=scenario.seed,
                    failures=sim_failures(scenario, placement), interval_s=scenario.metrics.interval,
                    statistics=mode)


def _check_expected_requests(scenario: Scenario, classes: tuple[sim.RequestClass, ...]) -> str:
    """The statistics mode of the run (`capacity.limits.statistics_mode`), after refusing a run whose
    expected requests (every class's mean rate × duration, traces included: their rows in the replayed
    window × rate_scale) exceed the mode's cap (``limits.max_requests`` or ``max_streamed_requests``)."""
    assert scenario.workload is not None
    duration = scenario.workload.duration
    index = {c.name: i for i, c in enumerate(scenario.workload.classes)}
    per_class: dict[int, float] = {}
    for c in classes:
        i = index[c.name.partition("@")[0]] if c.name not in index else index[c.name]
        per_class[i] = per_class.get(i, 0.0) + c.arrivals.rate_per_s * duration
    rows = [(("workload", "classes", i, "arrivals"), n, f"mean rate {n / duration:.3g}/s × duration "
             f"{duration:g}s") for i, n in per_class.items()]
    total = sum(per_class.values())
    mode = statistics_mode(scenario.workload.statistics, total, streaming_obstacle(scenario) is None)
    problem = requests_problem(total, rows, scenario.limits, mode)
    if problem is not None:
        raise scenario.error(problem[1], problem[0])
    return mode


def _check_series(scenario: Scenario, services: list[sim.ServingService],
                  classes: tuple[sim.RequestClass, ...]) -> None:
    """Refuse a run whose time series would hold more than ``limits.max_series_values`` values, counted
    exactly now that the classes (one per tenant of a trace's column) and the nodes used are known."""
    assert scenario.workload is not None
    replicas = [r for s in services for r in s.replicas]
    nodes, pools = len({r.node for r in replicas}), len({r.pool for r in replicas})
    windows = statistics_windows(scenario.workload.duration, scenario.workload.warmup,
                                 scenario.metrics.interval)
    per_window = series_per_window(len(classes), len(replicas), nodes, pools, len(services))
    problem = series_problem(windows, per_window, f"{len(classes)} classes, {len(replicas)} replicas on "
                                                  f"{nodes} nodes in {pools} pools, {len(services)} services",
                             scenario.limits)
    if problem is not None:
        raise scenario.error(problem[1], problem[0])


def sim_service_time(st: ServiceTime) -> sim.ServiceTime:
    """A service time in the engine's terms (seconds at speed 1): a distribution, a batch latency (the
    per-item draw, plus ``base_s`` per batch) or a token time."""
    if st.form == "tokens":
        return sim.ServiceTime(dist="tokens", base_s=st.base or 0.0,
                               per_input_token_s=st.per_input_token or 0.0,
                               per_output_token_s=st.per_output_token or 0.0)
    if st.form == "batch":
        assert st.per_item is not None
        return sim.ServiceTime(dist=cast(ServiceDist, st.distribution), mean_s=st.per_item,
                               cv=st.effective_cv,
                               base_s=st.base or 0.0)
    assert st.mean is not None
    return sim.ServiceTime(dist=cast(ServiceDist, st.distribution), mean_s=st.mean, cv=st.effective_cv)


def sim_llm(llm: Llm) -> sim.LlmServing:
    """An LLM engine section in the engine's terms."""
    return sim.LlmServing(model=llm.model_spec, tensor_parallel=llm.tensor_parallel, dtype=llm.dtype,
                          kv_dtype=llm.kv_dtype, gpu_memory_utilization=llm.gpu_memory_utilization,
                          block_size=llm.block_size, max_num_seqs=llm.max_num_seqs,
                          max_num_batched_tokens=llm.max_num_batched_tokens,
                          chunked_prefill=llm.chunked_prefill)


def sim_batching(b: Batching | None) -> sim.Batching | None:
    """A service's batching in the engine's terms (unset options take the engine defaults)."""
    if b is None:
        return None
    return sim.Batching(mode=b.mode, max_size=b.max_size, max_delay_s=b.max_delay or 0.0,
                        step_growth=b.step_growth or 0.0)


def sim_failures(scenario: Scenario, placement: Placement) -> tuple[sim.Failure, ...]:
    """The scenario's failures in the engine's terms: each one's nodes in this placement (a zone or a pool:
    every node of the plan in it; a node the plan does not use: none), in the order listed."""
    zone_of = {p.name: p.labels.get("zone") for p in scenario.cluster.pools}
    failures = []
    for f in scenario.failures:
        if f.node is not None:
            nodes = tuple(n.name for n in placement.nodes if n.name == f.node)
        elif f.zone is not None:
            nodes = tuple(n.name for n in placement.nodes if zone_of.get(n.pool) == f.zone)
        else:
            nodes = tuple(n.name for n in placement.nodes if n.pool == f.pool)
        failures.append(sim.Failure(at_s=f.at, nodes=nodes, recover_s=f.recover, target=f.target))
    return tuple(failures)


def autoscaled(scenario: Scenario) -> bool:
    """Whether the simulation scales some service (`capacity.scenario.Autoscaling.simulated`)."""
    return any(s.autoscaling is not None and s.autoscaling.simulated and s.serving is not None
               for s in scenario.services)


def _cold_start(cold: float | ColdStartSpec | None) -> autoscaling.ColdStart:
    if cold is None:
        return autoscaling.ColdStart()
    if isinstance(cold, float | int):
        return autoscaling.ColdStart(float(cold))
    return autoscaling.ColdStart(cold.mean, cold.dist, cold.cv if cold.cv is not None else 0.0)


def _rules(given: ScenarioScalingRules | None, default: autoscaling.ScalingRules) -> autoscaling.ScalingRules:
    if given is None:
        return default
    return autoscaling.ScalingRules(
        given.stabilization if given.stabilization is not None else default.stabilization_s,
        tuple(autoscaling.ScalingPolicy(p.type, p.value, p.period) for p in given.policies)
        if given.policies is not None else default.policies,
        given.select if given.select is not None else default.select)


def _service_scaling(svc: Service, problem: PackingProblem) -> autoscaling.ServiceScaling:
    a = svc.autoscaling
    assert a is not None and a.metric is not None and a.target is not None and svc.serving is not None
    hpa, kpa = autoscaling.HpaSettings(), autoscaling.KpaSettings()
    if a.policy == "hpa":
        behavior = a.behavior
        hpa = autoscaling.HpaSettings(
            sync_s=a.sync if a.sync is not None else hpa.sync_s,
            tolerance=a.tolerance if a.tolerance is not None else hpa.tolerance,
            scale_up=_rules(behavior.scale_up if behavior else None, hpa.scale_up),
            scale_down=_rules(behavior.scale_down if behavior else None, hpa.scale_down))
    else:
        kpa = dataclasses.replace(kpa, **{key: value for key, value in (
            ("panic_window_fraction", a.panic_window), ("panic_threshold", a.panic_threshold),
            ("target_utilisation", a.target_utilisation), ("scale_to_zero_grace_s", a.scale_to_zero_grace))
            if value is not None})
    pools = next(p.pools for p in problem.services if p.name == svc.name)
    low = a.min if a.policy == "kpa" else max(a.min, 1)   # the HPA cannot scale up from 0 on these metrics
    return autoscaling.ServiceScaling(
        service=svc.name, policy=a.policy, min=low, max=a.max, metric=a.metric, target=a.target,
        demand=dict(svc.resources), window_s=a.window, pools=pools, max_per_node=svc.max_per_node,
        cold_start=_cold_start(svc.serving.cold_start), hpa=hpa, kpa=kpa)


def autoscaling_model(scenario: Scenario, problem: PackingProblem,
                      placement: Placement) -> autoscaling.AutoscalingModel | None:
    """The autoscalers of the scenario on this placement (None: nothing is autoscaled). A pool's node
    capacity is what the packer may use of it (after headroom); a pool without ``autoscaling`` keeps the
    plan's nodes."""
    if not autoscaled(scenario):
        return None
    pools = []
    resources = sorted({r for p in problem.pools for r in p.capacity} | {r for s in problem.services
                                                                           for r in s.demand})
    for p, pool in zip(problem.pools, scenario.cluster.pools, strict=True):
        a = pool.autoscaling
        scaling = None if a is None else autoscaling.PoolScaling(
            min=a.min, max=a.max if a.max is not None else pool.count, provision_s=a.provision,
            scale_down_after_s=a.scale_down_after, utilisation_threshold=a.utilisation_threshold)
        pools.append(autoscaling.PoolSpec(
            pool.name, {r: problem.usable(p, r) for r in resources if p.capacity.get(r, 0) > 0},
            cost=pool.cost or 0.0, autoscaling=scaling, speed=pool.speed,
            gpu=gpu_of(pool.gpu) if pool.gpu is not None else None))
    cluster_opts = scenario.cluster.autoscaling
    cluster = autoscaling.ClusterSpec(
        tuple(pools), tuple((n.name, n.pool) for n in placement.nodes),
        demands={s.name: dict(s.resources) for s in scenario.services},
        expander=cluster_opts.expander if cluster_opts else "least-waste",
        scoring="most-allocated" if cluster_opts and cluster_opts.scheduler == "k8s-most-allocated"
        else "least-allocated")
    services = tuple(_service_scaling(s, problem) for s in scenario.services
                     if s.autoscaling is not None and s.autoscaling.simulated and s.serving is not None)
    return autoscaling.AutoscalingModel(services, cluster)


def simulate_model(model: SimModel,
                   scaling: autoscaling.AutoscalingModel | None) -> tuple[Any, dict[str, Any]]:
    """Replay the model (autoscaled when ``scaling`` is given); the result and the ``simulation`` section.

    With a travelling class (``path``): a `capacity.sim.journeys.PathResult`; the section's classes,
    services and series are then per visit class (``CLASS>SERVICE``), and ``paths`` holds the end-to-end
    statistics (`capacity.sim.path_metrics`)."""
    if any(has_path(c) for c in model.classes):
        if scaling is not None:
            raise ValueError("autoscaled services cannot serve classes with a path yet")
        from capacity.sim.journeys import simulate_journeys
        from capacity.sim.path_metrics import summarize_paths

        journeys = simulate_journeys(model)
        section = sim.summarize(journeys.visit_model, journeys.visits)
        section["paths"] = summarize_paths(journeys)
        return journeys, section
    if scaling is None:
        result = sim.run_model(model)
        return result, sim.summarize(model, result)
    result, controller = autoscaling.simulate(model, scaling)
    section = sim.summarize(model, result)
    section["autoscaling"] = autoscaling.summarize_autoscaling(model, result, controller)
    return result, section


def simulate(scenario: Scenario, placement: Placement) -> Simulation:
    """Simulate the scenario's workload on a placement; return the report's ``simulation`` section."""
    model = serving_model(scenario, placement)
    scaling = autoscaling_model(scenario, packing_problem(scenario), placement)
    section = simulation_section(simulate_model(model, scaling)[1])
    assert section is not None
    return section


def static_comparison(scenario: Scenario, auto: Autoscaling) -> StaticComparison:
    """The static plan sized for the peak beside an autoscaled run: each autoscaled service held at the most
    replicas (ready + starting) it reached, packed by the optimiser and simulated on the same requests
    (same seed). Its cost is its nodes × their pools' cost over the measured window."""
    values: dict[str, Any] = {}
    for name, svc in auto.services.items():
        values[f"services.{name}.replicas"] = max(svc.peak, scenario.service(name).replicas)
        values[f"services.{name}.autoscaling"] = None
    static = whatif_point(scenario.as_document(), values, source=scenario.source,
                          data_dirs=scenario.data_dirs)
    placement = pack(static)
    model = serving_model(static, placement)
    result = sim.run_model(model)
    summary = simulation_section(sim.summarize(model, result))
    assert static.workload is not None and summary is not None
    hours = (static.workload.duration - static.workload.warmup) / 3600.0
    cost = {p.name: p.cost or 0.0 for p in static.cluster.pools}
    nodes: dict[str, int] = {}
    for node in placement.nodes:
        nodes[node.pool] = nodes.get(node.pool, 0) + 1
    slos = {name: c.slo for name, c in summary.classes.items() if c.slo is not None}
    at_slo: dict[str, float | None] = {}
    for k, c in enumerate(model.classes):
        if c.name in slos:
            if isinstance(result, sim.StreamingResult):         # the sketch's quantile (within 1 %)
                value = result.latency_quantile(k, slos[c.name].quantile)
                at_slo[c.name] = None if value is None else float(f"{value:.12g}")
                continue
            done = result.latency_s[result.measured & result.completed & (result.cls == k)]
            at_slo[c.name] = float(f"{np.quantile(done, slos[c.name].quantile):.12g}") if len(done) else None
    return StaticComparison(
        replicas={name: static.service(name).replicas for name in auto.services},
        nodes=nodes,
        cost=float(f"{sum(n * cost[p] for p, n in nodes.items()) * hours:.12g}"),
        slo_met={name: slo.verdict == "met" for name, slo in slos.items()},
        latency_at_slo_s=at_slo,
    )


@dataclass
class RunResult:
    """Everything one run produced: the inputs, the placement, the simulation and the report."""

    scenario: Scenario
    problem: PackingProblem
    placement: Placement
    model: SimModel | None
    sim_result: SimResult | StreamingResult | None    # per-request records (exact), running statistics
    report: Report                                     # (streaming), None without workload
    timings: dict[str, float] = field(default_factory=dict)

    def requests_frame(self) -> Any:
        """One row per simulated request as a pandas DataFrame (`capacity.frames.requests`; needs pandas:
        ``pip install 'capacity[frames]'``)."""
        from capacity import frames

        return frames.requests(self)

    def classes_frame(self) -> Any:
        """One row per request class (counts, latency, SLO) as a DataFrame (`capacity.frames.classes`)."""
        from capacity import frames

        return frames.classes(self)

    def full_report(self) -> Report:
        """The report with the plot data that ``capacity run`` adds to report.json
        (`capacity.report.series.full_report`): what the plots and `capacity.report.html` draw from."""
        return full_report(self)


def run(scenario: Scenario, *, simulate_traffic: bool = True) -> RunResult:
    """Pack, then (when the scenario has a workload and ``simulate_traffic``) simulate; build the report."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    problem = packing_problem(scenario)
    placement = solve(scenario, problem)
    t1 = time.perf_counter()
    model = result = simulation = None
    if simulate_traffic and scenario.workload is not None:
        model = serving_model(scenario, placement)
        result, section = simulate_model(model, autoscaling_model(scenario, problem, placement))
        if "paths" in section:                         # the records and plots are per visit
            model, result = result.visit_model, result.visits
        simulation = simulation_section(section)
        if simulation is not None and simulation.autoscaling is not None:
            auto = simulation.autoscaling
            # (absent when the peak does not fit the pools as one static plan)
            with contextlib.suppress(InfeasiblePlacement):
                auto = auto.model_copy(update={"static": static_comparison(scenario, auto)})
            simulation = simulation.model_copy(update={"autoscaling": auto})
    t2 = time.perf_counter()
    timings = {"pack_s": t1 - t0, "simulate_s": t2 - t1}
    report = build_report(scenario, problem, placement, simulation, started_at=started, timings=timings)
    return RunResult(scenario=scenario, problem=problem, placement=placement, model=model, sim_result=result,
                     report=report, timings=timings)
