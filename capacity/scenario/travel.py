"""Checks of a class's ``path`` and ``service_times`` against the scenario's services (at load).

A path's stages (`capacity.scenario.workload.VisitStage`, ``ParallelStage``, ``RepeatStage``) must visit
services that serve requests (a ``serving`` section); a class's ``service`` is its path's first service;
``service_times`` override the time of services the class visits, with a distribution (``{dist, mean,
cv}``; not at a token or LLM engine service). The expected visits per request are bounded
(`MAX_VISITS`, as `capacity.sim.paths` does): a repeat multiplies its stages' visits by its mean count.
"""

from __future__ import annotations

from collections.abc import Mapping

from capacity.scenario.services import Service
from capacity.scenario.workload import (
    ParallelStage,
    RepeatCount,
    RepeatStage,
    RequestClass,
    VisitStage,
    first_service,
)

MAX_VISITS = 10_000.0
Where = tuple[str | int, ...]


def visited(stages: list[VisitStage | ParallelStage | RepeatStage], where: Where) -> list[tuple[str, Where]]:
    """Every visit of ``stages`` (pre-order) with its field path."""
    out: list[tuple[str, Where]] = []
    for k, stage in enumerate(stages):
        at = (*where, k)
        if isinstance(stage, VisitStage):
            out.append((stage.service, (*at, "service")))
        elif isinstance(stage, ParallelStage):
            for b, branch in enumerate(stage.parallel):
                out.extend(visited(branch, (*at, "parallel", b)))
        else:
            out.extend(visited(stage.path, (*at, "path")))
    return out


def expected_visits(stages: list[VisitStage | ParallelStage | RepeatStage]) -> float:
    """``E[visits]`` of a request along ``stages``."""
    total = 0.0
    for stage in stages:
        if isinstance(stage, VisitStage):
            total += 1.0
        elif isinstance(stage, ParallelStage):
            total += sum(expected_visits(b) for b in stage.parallel)
        else:
            n = stage.repeat.mean if isinstance(stage.repeat, RepeatCount) else float(stage.repeat)
            total += n * expected_visits(stage.path)
    return total


def path_problems(
    cls: RequestClass, services: Mapping[str, Service], where: Where
) -> list[tuple[Where, str]]:
    """What is wrong with the class's path and service-time overrides (field path, message)."""
    problems: list[tuple[Where, str]] = []
    on_path = {cls.service}
    if cls.path is not None:
        for name, at in visited(cls.path, (*where, "path")):
            on_path.add(name)
            target = services.get(name)
            if target is None:
                problems.append((at, f"no service named {name!r} (services: {', '.join(services)})"))
            elif target.serving is None:
                problems.append(
                    (at, f"service {name!r} has no 'serving' section, so it cannot serve requests")
                )
        first = first_service(cls.path)
        if first != cls.service:
            problems.append(((*where, "service"), f"must be the path's first service {first!r}"))
        scaled = [name for name, svc in services.items() if svc.autoscaling is not None]
        if scaled:
            problems.append(
                (
                    (*where, "path"),
                    f"autoscaled services ({', '.join(scaled)}) cannot serve classes with a path yet",
                )
            )
        visits = expected_visits(cls.path)
        if visits > MAX_VISITS:
            problems.append(
                ((*where, "path"), f"expects {visits:g} visits per request; at most {MAX_VISITS:g}")
            )
    if cls.tokens is None and cls.arrivals.process != "trace":
        for name in sorted(on_path - {cls.service}):
            serving = services[name].serving if name in services else None
            if serving is not None and serving.times.form == "tokens":
                problems.append(
                    (
                        (*where, "tokens"),
                        f"the path visits {name!r}, which times requests from "
                        "their tokens: give the class token counts or trace arrivals",
                    )
                )
    for name, st in (cls.service_times or {}).items():
        at = (*where, "service_times", name)
        target = services.get(name)
        if name not in on_path or target is None or target.serving is None:
            problems.append((at, f"the class does not visit a serving service named {name!r}"))
        elif st.form != "distribution":
            problems.append((at, "a class's own service time is a distribution {dist, mean, cv}"))
        elif target.serving.times.form == "tokens" or target.serving.batching is not None:
            problems.append(
                (at, f"service {name!r} times its requests from tokens or batches: no per-class time")
            )
    return problems
