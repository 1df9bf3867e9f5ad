"""The work a scenario asks for, estimated at load and checked against its ``limits`` (`capacity.limits`):
replicas, node-service pairs for the packer, expected requests (``rate × duration``, per second × seconds),
decode iterations of continuous batching, on/off periods, time-series windows and values, sweep runs. Each
problem is ``(loc, message)`` at the field to change; a trace's requests are counted when it is read.
"""

from __future__ import annotations

import math

from capacity.limits import (
    Problem,
    requests_problem,
    series_per_window,
    series_problem,
    statistics_mode,
    statistics_windows,
)
from capacity.scenario.document import Scenario


def work_problems(s: Scenario) -> list[Problem]:
    """Every cap a scenario exceeds that can be estimated without reading its traces."""
    limits = s.limits
    problems: list[Problem] = []
    # an autoscaled service may run up to its autoscaling.max replicas at once
    replicas = sum(max(svc.replicas, svc.autoscaling.max if svc.autoscaling is not None
                       and svc.autoscaling.simulated else 0) for svc in s.services)
    if replicas > limits.max_replicas:
        problems.append((("services",), f"{replicas:.3g} replicas in all (autoscaled services at their max), "
                                        f"more than the limit {limits.max_replicas:.3g}; raise "
                                        "limits.max_replicas"))
    nodes = sum(p.count for p in s.cluster.pools)
    size = nodes * len(s.services)
    if size > limits.max_packing_size:
        problems.append((("cluster", "pools"),
                         f"the packer would consider {nodes} nodes × {len(s.services)} services = {size:.3g} "
                         f"node-service pairs, more than the limit {limits.max_packing_size:.3g}; lower the "
                         "pools' count, or raise limits.max_packing_size"))
    if s.workload is not None:
        duration = s.workload.duration
        per_class = []
        for i, cls in enumerate(s.workload.classes):
            a = cls.arrivals
            if a.process != "trace" and a.rate is not None:
                per_class.append(((("workload", "classes", i, "arrivals", "rate")), a.rate * duration,
                                  f"rate {a.rate:.3g}/s × duration {duration:g}s"))
            elif a.process == "steps" and a.steps:
                ends = [step.at for step in a.steps[1:]] + [duration]
                n = sum(step.rate * max(0.0, min(end, duration) - step.at)
                        for step, end in zip(a.steps, ends, strict=True))
                per_class.append(((("workload", "classes", i, "arrivals", "steps")), n,
                                  f"{n:.3g} requests over the steps in {duration:g}s"))
        total = sum(n for _, n, _ in per_class)
        obstacle = streaming_obstacle(s)
        if s.workload.statistics == "streaming" and obstacle is not None:
            problems.append(obstacle)
        mode = statistics_mode(s.workload.statistics, total, obstacle is None)
        problem = requests_problem(total, per_class, limits, mode)
        if problem is not None:
            problems.append(problem)
        else:
            problems.extend(_decode_problems(s))
        problems.extend(_onoff_problems(s))
        problems.extend(_series_problems(s))
    if s.whatif is not None:
        runs = math.prod(len(v) for v in s.whatif.grid.values()) * max(1, len(s.whatif.cases))
        runs *= s.whatif.replications
        if runs > limits.max_runs:
            problems.append((("whatif",), f"{runs:.3g} runs (grid points × cases × replications), more than "
                                          f"the limit {limits.max_runs:.3g}; try fewer values, or raise "
                                          "limits.max_runs"))
    return problems


def streaming_obstacle(s: Scenario) -> Problem | None:
    """What keeps the scenario from running with streaming statistics (`capacity.sim.streaming.unsupported`
    in the scenario's terms), or None."""
    preemptive = s.scheduling.discipline == "preemptive"
    for i, svc in enumerate(s.services):
        serving = svc.serving
        if serving is None:
            continue
        where: tuple[str | int, ...] = ("services", i, "serving")
        if serving.batching is not None:
            return (*where, "batching"), "streaming statistics do not cover batching yet; use exact"
        if serving.service_time is None or serving.service_time.form == "tokens":
            return ((*where, "service_time"),
                    "streaming statistics do not cover service times from token counts yet; use exact")
        if serving.queue.discipline == "preemptive" or (serving.queue.discipline is None and preemptive):
            return ((*where, "queue", "discipline"),
                    "streaming statistics do not cover preemption yet; use exact")
    if s.failures:
        return ("failures",), "streaming statistics do not cover failures yet; use exact"
    for i, cls in enumerate(s.workload.classes if s.workload is not None else []):
        if cls.path:
            return (("workload", "classes", i, "path"),
                    "streaming statistics do not cover request paths yet; use exact")
    return None


def _decode_problems(s: Scenario) -> list[Problem]:
    """Continuous-batching and LLM engine services whose synthetic classes need too many decode iterations."""
    assert s.workload is not None
    problems: list[Problem] = []
    duration = s.workload.duration
    for i, svc in enumerate(s.services):
        b = svc.serving.batching if svc.serving is not None else None
        llm = svc.serving.llm if svc.serving is not None else None
        if llm is not None:                    # an LLM engine: an iteration per output token of its batch
            batch, where = llm.max_num_seqs, ("services", i, "serving", "llm")
        elif b is not None and b.mode == "continuous":
            batch, where = b.max_size, ("services", i, "serving", "batching")
        else:
            continue
        tokens = sum(cls.arrivals.rate * duration * cls.tokens.output.mean
                     for cls in s.workload.classes
                     if cls.service == svc.name and cls.arrivals.rate is not None and cls.tokens is not None)
        steps = tokens / batch
        if steps > s.limits.max_decode_steps:
            problems.append((where,
                             f"at least {steps:.3g} decode iterations expected ({tokens:.3g} output tokens / "
                             f"{batch} per batch), more than the limit {s.limits.max_decode_steps:.3g}; "
                             "lower the rate, the duration or the output tokens, or raise "
                             "limits.max_decode_steps"))
    return problems


def _onoff_problems(s: Scenario) -> list[Problem]:
    """``onoff`` classes that would draw more ON and OFF periods than ``limits.max_onoff_periods``."""
    assert s.workload is not None
    problems: list[Problem] = []
    duration = s.workload.duration
    for i, cls in enumerate(s.workload.classes):
        a = cls.arrivals
        if a.process != "onoff" or a.on is None or a.off is None:
            continue
        periods = 2.0 * duration / (a.on + a.off)
        if periods > s.limits.max_onoff_periods:
            problems.append((("workload", "classes", i, "arrivals"),
                             f"about {periods:.3g} on/off periods to draw (2 × duration {duration:g}s / (on "
                             f"{a.on:g}s + off {a.off:g}s)), more than the limit "
                             f"{s.limits.max_onoff_periods:.3g}; use longer on and off periods, or raise "
                             "limits.max_onoff_periods"))
    return problems


def _series_problems(s: Scenario) -> list[Problem]:
    """Too many time-series windows, or windows × series: estimated from the scenario alone."""
    assert s.workload is not None
    duration, warmup, interval = s.workload.duration, s.workload.warmup, s.metrics.interval
    windows = statistics_windows(duration, warmup, interval)
    if windows > s.limits.max_windows:
        how = "the default when metrics.interval is not set" if interval is None else \
            f"(duration {duration:g}s − warmup {warmup:g}s) / interval {interval:g}s"
        return [(("metrics", "interval"),
                 f"{windows:.3g} time-series windows ({how}), more than the limit "
                 f"{s.limits.max_windows:.3g}; use a longer interval, or raise limits.max_windows")]
    serving = [svc for svc in s.services if svc.serving is not None]
    replicas = sum(svc.replicas for svc in serving)
    classes = sum(len(c.tenants.weights) if c.tenants is not None and c.tenants.weights and
                  c.tenants.column is None else 1 for c in s.workload.classes)
    nodes = min(replicas, sum(p.count for p in s.cluster.pools))
    pools = min(replicas, len(s.cluster.pools))
    per_window = series_per_window(classes, replicas, nodes, pools, len(serving))
    problem = series_problem(windows, per_window, f"{classes} classes, {replicas} replicas, up to {nodes} "
                                                  f"nodes and {pools} pools, {len(serving)} services",
                             s.limits)
    return [problem] if problem is not None else []
