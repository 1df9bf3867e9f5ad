"""Paths: the stages a request class travels through, as a structure (no clock, no draws).

A class's ``path`` (`capacity.sim.model.RequestClass.path`) is a sequence of **stages**:

* `Visit` — one visit to a service (it queues and is served there like any request), after an optional
  network `Delay` on the hop that leads to it;
* `Parallel` — fork-join: its branches (each a sequence of stages) start together; the request goes on
  when all are done (``wait: all``) or the first is (``any``);
* `Repeat` — its stages run in order ``count`` times over (fixed, or geometric: a feedback loop).

This module numbers a path's visits (its **stage nodes**, in pre-order: the breakdown of the results is
per node, over every pass of a repeat), labels them, computes the expected number of visits a request
makes (``E[visits]``: a `Parallel` adds its branches, a `Repeat` multiplies by ``E[count]``) and checks a
path. A path with a single `Visit`, no delay and no repeat is the class's ``service`` alone: it runs (and
draws) exactly as a one-stop class does.

**Limits** (each grows the work of a run): a repeat count at most `MAX_REPEAT` (a fixed count, or a
geometric mean at most `MAX_GEOMETRIC_MEAN`; geometric draws are capped at `MAX_REPEAT`, which changes
their mean by less than 1e-40), paths nested at most `MAX_DEPTH` deep, and at most `MAX_VISITS` expected
visits per request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from capacity.sim.model import Parallel, Repeat, RequestClass, ServingService, Stage, Visit

MAX_REPEAT = 10_000
MAX_GEOMETRIC_MEAN = 100.0
MAX_DEPTH = 16
MAX_VISITS = 10_000.0
DELAY_DISTS = ("exponential", "deterministic", "lognormal")


@dataclass(frozen=True)
class StageNode:
    """One `Visit` of a class's path: its number in the path (pre-order), label and service."""

    index: int
    label: str  # the service, "service#2" for its second node in the path
    visit: Visit


def has_path(c: RequestClass) -> bool:
    """Whether the class travels (a path other than one plain visit to its own service)."""
    if not c.path:
        return False
    return not (
        len(c.path) == 1
        and isinstance(c.path[0], Visit)
        and c.path[0].delay is None
        and c.path[0].service == c.service
    )


def visits_of(stages: tuple[Stage, ...]) -> Iterator[Visit]:
    """The `Visit` nodes of ``stages``, in pre-order (each once, whatever the repeat counts)."""
    for stage in stages:
        if isinstance(stage, Visit):
            yield stage
        elif isinstance(stage, Parallel):
            for branch in stage.branches:
                yield from visits_of(branch)
        else:
            yield from visits_of(stage.stages)


def stage_nodes(c: RequestClass) -> tuple[StageNode, ...]:
    """The class's stage nodes (a one-stop class: one node, its service)."""
    visits = list(visits_of(c.path)) if c.path else [Visit(c.service)]
    seen: dict[str, int] = {}
    nodes = []
    for k, v in enumerate(visits):
        seen[v.service] = seen.get(v.service, 0) + 1
        label = v.service if seen[v.service] == 1 else f"{v.service}#{seen[v.service]}"
        nodes.append(StageNode(k, label, v))
    return tuple(nodes)


def path_services(c: RequestClass) -> tuple[str, ...]:
    """The services the class visits, in first-visit order."""
    return tuple(dict.fromkeys(n.visit.service for n in stage_nodes(c)))


def expected_visits(stages: tuple[Stage, ...]) -> float:
    """``E[visits]`` of a request along ``stages``."""
    total = 0.0
    for stage in stages:
        if isinstance(stage, Visit):
            total += 1.0
        elif isinstance(stage, Parallel):
            total += sum(expected_visits(b) for b in stage.branches)
        else:
            total += stage.count.mean * expected_visits(stage.stages)
    return total


def expected_visits_at(c: RequestClass) -> dict[str, float]:
    """Per service, the expected visits a request of the class makes there (its visit ratio)."""
    out: dict[str, float] = {}

    def walk(stages: tuple[Stage, ...], times: float) -> None:
        for stage in stages:
            if isinstance(stage, Visit):
                out[stage.service] = out.get(stage.service, 0.0) + times
            elif isinstance(stage, Parallel):
                for b in stage.branches:
                    walk(b, times)
            else:
                walk(stage.stages, times * stage.count.mean)

    walk(c.path or (Visit(c.service),), 1.0)
    return out


Bad = Callable[[str, str, object], ValueError]


def validate_path(c: RequestClass, services: dict[str, ServingService], bad: Bad) -> None:
    """Raise `ValueError` naming the first bad field of the class's path and service-time overrides."""
    where = f"classes.{c.name}"
    if c.path:
        _validate_stages(c.path, services, f"{where}.path", bad, 1)
        first = next(visits_of(c.path)).service
        if c.service != first:
            raise bad(f"{where}.service", f"must be the path's first service {first!r}", c.service)
        visits = expected_visits(c.path)
        if visits > MAX_VISITS:
            raise bad(
                f"{where}.path", f"expects {visits:g} visits per request; at most {MAX_VISITS:g}", "path"
            )
    on_path = set(path_services(c))
    named: set[str] = set()
    for name, st in c.service_times:
        at = f"{where}.service_times.{name}"
        if name not in on_path:
            raise bad(at, f"must name a service the class visits {sorted(on_path)}", name)
        if name in named:
            raise bad(at, "each service at most once", name)
        named.add(name)
        svc = services[name]
        if svc.service_time.tokens or svc.llm is not None or st.tokens:
            raise bad(
                f"{at}.dist",
                "a token or LLM engine service's times come from the tokens: no per-class distribution",
                st.dist,
            )
        if not (math.isfinite(st.mean_s) and st.mean_s > 0):
            raise bad(f"{at}.mean_s", "must be a finite number of seconds > 0", st.mean_s)
        if not (math.isfinite(st.cv) and st.cv >= 0):
            raise bad(f"{at}.cv", "must be a finite number >= 0", st.cv)


def _validate_stages(
    stages: tuple[Stage, ...], services: dict[str, ServingService], where: str, bad: Bad, depth: int
) -> None:
    if depth > MAX_DEPTH:
        raise bad(where, f"paths nest at most {MAX_DEPTH} deep", depth)
    if not stages:
        raise bad(where, "must list at least one stage", "[]")
    for k, stage in enumerate(stages):
        at = f"{where}.{k}"
        if isinstance(stage, Visit):
            if stage.service not in services:
                raise bad(
                    f"{at}.service", f"must name a service of the model {sorted(services)}", stage.service
                )
            d = stage.delay
            if d is not None:
                if d.dist not in DELAY_DISTS:
                    raise bad(f"{at}.delay.dist", f"must be one of {list(DELAY_DISTS)}", d.dist)
                if not (math.isfinite(d.mean_s) and d.mean_s >= 0):
                    raise bad(f"{at}.delay.mean_s", "must be a finite number of seconds >= 0", d.mean_s)
                if not (math.isfinite(d.cv) and d.cv >= 0):
                    raise bad(f"{at}.delay.cv", "must be a finite number >= 0", d.cv)
        elif isinstance(stage, Parallel):
            if stage.wait not in ("all", "any"):
                raise bad(f"{at}.wait", "must be 'all' or 'any'", stage.wait)
            if not stage.branches:
                raise bad(f"{at}.parallel", "must list at least one branch", "[]")
            for b, branch in enumerate(stage.branches):
                _validate_stages(branch, services, f"{at}.parallel.{b}", bad, depth + 1)
        elif isinstance(stage, Repeat):
            _validate_count(stage, f"{at}.repeat", bad)
            _validate_stages(stage.stages, services, f"{at}.path", bad, depth + 1)
        else:
            raise bad(at, "must be a visit, parallel or repeat stage", type(stage).__name__)


def _validate_count(stage: Repeat, where: str, bad: Bad) -> None:
    n = stage.count
    if n.dist == "fixed":
        if not (math.isfinite(n.mean) and n.mean == int(n.mean) and 1 <= n.mean <= MAX_REPEAT):
            raise bad(where, f"a fixed count must be a whole number in [1, {MAX_REPEAT}]", n.mean)
    elif n.dist == "geometric":
        if not (math.isfinite(n.mean) and 1 <= n.mean <= MAX_GEOMETRIC_MEAN):
            raise bad(f"{where}.mean", f"a geometric mean must be in [1, {MAX_GEOMETRIC_MEAN:g}]", n.mean)
    else:
        raise bad(f"{where}.dist", "must be 'fixed' or 'geometric'", n.dist)
