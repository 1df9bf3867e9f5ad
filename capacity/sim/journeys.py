"""Journeys: requests that travel a path through several services, run on the ordinary service runtimes.

A class with a ``path`` (`capacity.sim.paths`) sends each request through its stages. This module is a
small layer on top of the engine (`capacity.sim.engine`): every **visit** of a request to a service is
one request of the engine (its own number, class, arrival, service time and outcome), and a visit's
completion at a service (`capacity.sim.runtime.ServiceRuntime.on_complete`) starts the request's next
stage. The services run exactly as for one-stop requests (queues, disciplines, routing, batching, LLM
engines, timeouts, admission, failures); they see one *visit class* per (class, service) pair, with the
class's priority, tenant and weight, and its service time there (the class's override, else the
service's).

**Plan** (`plan_journeys`, before the clock runs). The requests are drawn as for one-stop classes (the
same arrival and token streams, `capacity.sim.engine.generate_requests`). Each request's path is unrolled
(a repeat's count drawn from the class's `PATH_STREAM`, in sequence order) into visits and **gates**: a
gate counts the completions it waits for (1 between two stages; a fork-join's branches for ``wait: all``,
1 for ``any``) and, when the count is reached, starts the visits of the next stage, tells its parent gate
(a join), or ends the request. Each visit's service time is drawn from a stream per (class, service)
(`SERVICE_STREAM`), and each hop's network delay from a stream per (class, stage node) (`DELAY_STREAM`),
in visit order: the same model and seed give the same run.

**Replay.** A request's entry visits arrive at its arrival time plus their hop's delay; a later visit
arrives ``delay`` after the gate before it opened — as an event (``NORMAL`` priority, after the
completions of that instant, even with no delay). Tokens travel with the request: every visit carries
its request's input and output tokens (an LLM stage uses them). Every service runs a runtime (no fast
path), which reports each completion.

**Outcomes.** A visit that is rejected, dropped, times out or is lost never completes, so its request
never passes the gate that waits for it: the request **fails end to end** (a fork-join with ``wait: any``
fails only when every branch does). The visits after it never arrive (``not reached``). A request's
end-to-end latency is from its arrival to the instant its last gate opened.

Times are seconds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from simpy.events import NORMAL

from capacity.sim.engine import _Replay, generate_requests
from capacity.sim.events import Callbacks, Tick
from capacity.sim.model import (
    Arrivals,
    Delay,
    Parallel,
    RepeatCount,
    RequestClass,
    ServingService,
    SimModel,
    Stage,
    Visit,
)
from capacity.sim.paths import MAX_REPEAT, StageNode, expected_visits_at, path_services, stage_nodes
from capacity.sim.requests import RequestStream
from capacity.sim.result import SimResult
from capacity.sim.service_times import SERVICE_TIMES, draw_service_s, with_token_times
from capacity.sim.streams import DELAY_STREAM, PATH_STREAM, SERVICE_STREAM, class_rng
from capacity.sim.validation import validate_model

#: Outcome codes of a visit (`PathResult.visit_outcome`).
COMPLETED, REJECTED, TIMED_OUT, DROPPED, LOST, NOT_REACHED = range(6)
OUTCOMES = ("completed", "rejected", "timed_out", "dropped", "lost", "not_reached")


@dataclass(frozen=True, eq=False)
class Gates:
    """What opens after each visit: per gate, the completions it needs, the visits it starts, its parent
    gate (-1: none) and the request it ends (-1: none); per visit, its gate."""

    need: list[int]
    start: list[tuple[int, ...]]
    parent: list[int]
    ends: list[int]
    of_visit: list[int]


@dataclass(frozen=True, eq=False)
class JourneyPlan:
    """Every request unrolled into visits and gates (see the module docstring)."""

    model: SimModel  # the scenario's model
    visit_model: SimModel  # one class per (class, service) pair
    stream: RequestStream  # per visit: visit class, NaN arrival, service time, tokens
    nodes: tuple[tuple[int, StageNode], ...]  # every class's stage nodes: (class index, node)
    request_cls: np.ndarray  # int32 per request
    request_arrival: np.ndarray  # float64 per request
    entry: list[tuple[int, ...]]  # per request: its first visits
    visit_request: np.ndarray  # int64 per visit
    visit_node: np.ndarray  # int32 per visit: index into ``nodes``
    visit_delay: np.ndarray  # float64 per visit: the delay of the hop that leads to it
    gates: Gates


def visit_classes(model: SimModel) -> tuple[tuple[RequestClass, ...], dict[tuple[int, str], int]]:
    """The visit classes (one per class and service it visits, named ``class>service``), and their index
    by (class index, service). A visit class arrives at the class's rate times its visits there."""
    service_of = {s.name: s for s in model.services}
    out: list[RequestClass] = []
    index: dict[tuple[int, str], int] = {}
    for k, c in enumerate(model.classes):
        ratios = expected_visits_at(c)
        for name in path_services(c):
            st = c.service_time_at(service_of[name])
            index[(k, name)] = len(out)
            out.append(
                dataclasses.replace(
                    c,
                    name=f"{c.name}>{name}",
                    service=name,
                    path=(),
                    slo_target_s=None,
                    slo_quantile=None,
                    token_slos=(),
                    admission=None if c.admission == "deadline" else c.admission,
                    service_times=((name, st),) if st is not service_of[name].service_time else (),
                    arrivals=Arrivals("poisson", c.arrivals.rate_per_s * ratios[name]),
                )
            )
    return tuple(out), index


@dataclass(frozen=True)
class _Hop:
    """A `Visit` of a class's path, numbered: ``node`` indexes `JourneyPlan.nodes`."""

    node: int


@dataclass(frozen=True)
class _Fork:
    branches: tuple[tuple[_Step, ...], ...]
    need_all: bool


@dataclass(frozen=True)
class _Loop:
    count: RepeatCount
    steps: tuple[_Step, ...]


_Step = _Hop | _Fork | _Loop


def _numbered(stages: tuple[Stage, ...], counter: list[int]) -> tuple[_Step, ...]:
    """``stages`` with each visit numbered in pre-order from ``counter[0]`` (as `stage_nodes` does)."""
    out: list[_Step] = []
    for stage in stages:
        if isinstance(stage, Visit):
            out.append(_Hop(counter[0]))
            counter[0] += 1
        elif isinstance(stage, Parallel):
            out.append(_Fork(tuple(_numbered(b, counter) for b in stage.branches), stage.wait == "all"))
        else:
            out.append(_Loop(stage.count, _numbered(stage.stages, counter)))
    return tuple(out)


class _Unroller:
    """Unrolls requests into visits and gates, in sequence order (see the module docstring)."""

    def __init__(self) -> None:
        self.gates = Gates([], [], [], [], [])
        self.visit_request: list[int] = []
        self.visit_node: list[int] = []
        self.request = 0
        self.rng: np.random.Generator | None = None

    def gate(self, need: int, parent: int = -1) -> int:
        g = self.gates
        g.need.append(need)
        g.start.append(())
        g.parent.append(parent)
        g.ends.append(-1)
        return len(g.need) - 1

    def sequence(self, steps: tuple[_Step, ...], then: int) -> tuple[int, ...]:
        """Unroll ``steps`` to open gate ``then`` when done; return the visits that start them."""
        entry: tuple[int, ...] = ()
        before = -1
        for k, step in enumerate(steps):
            after = then if k == len(steps) - 1 else self.gate(1)
            first = self.step(step, after)
            if before < 0:
                entry = first
            else:
                self.gates.start[before] = first
            before = after
        return entry

    def step(self, step: _Step, then: int) -> tuple[int, ...]:
        if isinstance(step, _Hop):
            v = len(self.visit_request)
            self.visit_request.append(self.request)
            self.visit_node.append(step.node)
            self.gates.of_visit.append(then)
            return (v,)
        if isinstance(step, _Fork):
            join = self.gate(len(step.branches) if step.need_all else 1, parent=then)
            return tuple(v for b in step.branches for v in self.sequence(b, join))
        assert self.rng is not None
        n = int(step.count.mean)
        if step.count.dist == "geometric":
            n = min(int(self.rng.geometric(1.0 / step.count.mean)), MAX_REPEAT)
        return self.sequence(step.steps * n, then)


def plan_journeys(model: SimModel) -> JourneyPlan:
    """Draw the requests and unroll their paths (see the module docstring)."""
    validate_model(model)
    requests = generate_requests(model)
    classes, index = visit_classes(model)
    visit_model = dataclasses.replace(model, classes=classes)
    nodes = tuple((k, n) for k, c in enumerate(model.classes) for n in stage_nodes(c))
    unroll = _Unroller()
    counter = [0]
    paths = [_numbered(c.path or (Visit(c.service),), counter) for c in model.classes]
    rngs = [class_rng(model.seed, c.name, PATH_STREAM) for c in model.classes]
    entry: list[tuple[int, ...]] = []
    for r, k in enumerate(requests.cls.tolist()):
        unroll.request, unroll.rng = r, rngs[k]
        end = unroll.gate(1)
        unroll.gates.ends[end] = r
        entry.append(unroll.sequence(paths[k], end))
    visit_request = np.array(unroll.visit_request, dtype=np.int64)
    visit_node = np.array(unroll.visit_node, dtype=np.int32)
    visit_cls = np.array([index[(k, n.visit.service)] for k, n in nodes] or [0], dtype=np.int32)[visit_node]
    service_s = _draw_service_times(model, classes, visit_cls)
    tokens_in = tokens_out = None
    if requests.input_tokens is not None and requests.output_tokens is not None:
        tokens_in, tokens_out = requests.input_tokens[visit_request], requests.output_tokens[visit_request]
    stream = RequestStream(visit_cls, np.full(len(visit_cls), np.nan), service_s, tokens_in, tokens_out)
    delay = _draw_delays(model, nodes, visit_node)
    return JourneyPlan(
        model,
        visit_model,
        stream,
        nodes,
        requests.cls,
        requests.arrival_s,
        entry,
        visit_request,
        visit_node,
        delay,
        unroll.gates,
    )


def _draw_service_times(
    model: SimModel, classes: tuple[RequestClass, ...], visit_cls: np.ndarray
) -> np.ndarray:
    """Each visit's service time, from its visit class's stream (``class>service``), in visit order."""
    service_of: dict[str, ServingService] = {s.name: s for s in model.services}
    out = np.zeros(len(visit_cls))
    for v, vc in enumerate(classes):
        mine = np.flatnonzero(visit_cls == v)
        st = vc.service_time_at(service_of[vc.service])
        out[mine] = draw_service_s(st, class_rng(model.seed, vc.name, SERVICE_STREAM), len(mine))
    return out


def _draw_delays(
    model: SimModel, nodes: tuple[tuple[int, StageNode], ...], visit_node: np.ndarray
) -> np.ndarray:
    """Each visit's hop delay, from a stream per (class, stage node), in visit order."""
    out = np.zeros(len(visit_node))
    for g, (k, node) in enumerate(nodes):
        d: Delay | None = node.visit.delay
        if d is None:
            continue
        mine = np.flatnonzero(visit_node == g)
        rng = class_rng(model.seed, f"{model.classes[k].name}#{node.index}", DELAY_STREAM)
        out[mine] = SERVICE_TIMES[d.dist]().sample(rng, len(mine), d.mean_s, d.cv) if d.mean_s > 0 else 0.0
    return out


class _JourneyReplay(_Replay):
    """The engine's replay, with the arrivals of visits driven by the gates (see the module docstring)."""

    def __init__(self, plan: JourneyPlan, model: SimModel, stream: RequestStream) -> None:
        super().__init__(model, stream, ())
        self.plan = plan
        self.count = [0] * len(plan.gates.need)
        self.visit_arrival = np.full(len(stream), np.nan)
        self.request_end = np.full(len(plan.request_cls), np.nan)
        self.delay: list[float] = plan.visit_delay.tolist()
        admit_of_class = [self.admit_of_service[c.service] for c in model.classes]
        self.admit_of_visit: list[Callable[[int], None]] = [admit_of_class[k] for k in stream.cls.tolist()]
        for runtime in self.runtimes:
            if runtime is not None:
                runtime.on_complete = self._completed

    @staticmethod
    def _kind(s: ServingService, failing: set[str], deadline: set[str], dynamic: bool) -> str:
        kind = _Replay._kind(s, failing, deadline, dynamic)
        return "general" if kind == "plain" else kind  # the fast path reports no completion

    def _arrive(self, v: int) -> None:
        now = self.env._now
        self.arrival[v] = now  # the runtimes read it as the visit's arrival
        self.visit_arrival[v] = now
        self.admit_of_visit[v](v)

    def _start(self, visits: tuple[int, ...], now_ok: bool) -> None:
        """Start ``visits``: each arrives after its hop's delay (at once when ``now_ok`` and no delay)."""
        env = self.env
        for v in visits:
            d = self.delay[v]
            if d > 0.0 or not now_ok:
                tick = Tick(env, -1)
                tick.callbacks = [partial(self._arrive_event, v)]
                env.schedule(tick, NORMAL, d)
            else:
                self._arrive(v)

    def _arrive_event(self, v: int, _tick: Tick) -> None:
        self._arrive(v)

    def _completed(self, v: int, now: float) -> None:
        g = self.plan.gates.of_visit[v]
        gates, count = self.plan.gates, self.count
        while g >= 0:
            count[g] += 1
            if count[g] != gates.need[g]:
                return
            if gates.start[g]:
                self._start(gates.start[g], now_ok=False)
            if gates.ends[g] >= 0:
                self.request_end[gates.ends[g]] = now
            g = gates.parent[g]

    def _replayed_stream(self) -> RequestStream:
        return dataclasses.replace(self.stream, arrival_s=self.visit_arrival)

    def _schedule_arrivals(self) -> None:
        """One tick, rescheduled from request to request, starts each request's entry visits."""
        env, plan = self.env, self.plan
        arrival: list[float] = plan.request_arrival.tolist()
        n = len(arrival)
        if not n:
            return
        entry = plan.entry
        next_request = 0

        def on_arrival(tick: Tick) -> None:
            nonlocal next_request
            i = next_request
            t = arrival[i]
            while True:
                self._start(entry[i], now_ok=True)
                i += 1
                if i == n or arrival[i] != t:
                    break
            next_request = i
            if i < n:
                tick.callbacks = again
                delay = arrival[i] - env._now
                env.schedule(tick, NORMAL, delay if delay > 0.0 else 0.0)

        again: Callbacks = [on_arrival]
        tick = Tick(env, -1)
        tick.callbacks = again
        env.schedule(tick, NORMAL, arrival[0])


@dataclass(frozen=True, eq=False)
class PathResult:
    """A run of travelling requests: per request, its class, arrival and end; per visit, the engine's
    records (``visits``, against ``visit_model``) with its request, stage node and hop delay."""

    model: SimModel
    visit_model: SimModel
    visits: SimResult  # per visit; arrival NaN: never reached
    nodes: tuple[tuple[int, StageNode], ...]
    request_cls: np.ndarray
    request_arrival_s: np.ndarray
    request_end_s: np.ndarray  # NaN: failed end to end
    visit_request: np.ndarray
    visit_node: np.ndarray
    visit_delay_s: np.ndarray

    @property
    def completed(self) -> np.ndarray:
        """Per request: whether it passed every stage."""
        return ~np.isnan(self.request_end_s)

    @property
    def latency_s(self) -> np.ndarray:
        """Per request: end-to-end latency (NaN: failed)."""
        return self.request_end_s - self.request_arrival_s

    def measured(self) -> np.ndarray:
        """Per request: whether it arrived in the statistics window ``[warmup_s, duration_s)``."""
        lo, hi = self.visits.window_s
        return (self.request_arrival_s >= lo) & (self.request_arrival_s < hi)

    def visit_outcome(self) -> np.ndarray:
        """Per visit: its outcome code (`COMPLETED` ... `NOT_REACHED`, named by `OUTCOMES`)."""
        r = self.visits
        out = np.full(len(r.arrival_s), REJECTED, dtype=np.int8)
        out[np.isnan(r.arrival_s)] = NOT_REACHED
        for flags, code in ((r.timed_out, TIMED_OUT), (r.dropped, DROPPED), (r.lost, LOST)):
            if flags is not None:
                out[flags] = code
        out[r.replica >= 0] = COMPLETED
        return out


def simulate_journeys(model: SimModel) -> PathResult:
    """Plan and replay the model's requests along their paths (one-stop classes too); see the module
    docstring."""
    plan = plan_journeys(model)
    vm, stream = plan.visit_model, plan.stream
    if any(s.service_time.tokens for s in vm.services):  # token services: times from token counts
        vm, service_s = with_token_times(
            vm, stream.cls, stream.service_s, stream.input_tokens, stream.output_tokens
        )
        stream = dataclasses.replace(stream, service_s=service_s)
    replay = _JourneyReplay(plan, vm, stream)
    visits = replay.run()
    return PathResult(
        model,
        vm,
        visits,
        plan.nodes,
        plan.request_cls,
        plan.request_arrival,
        replay.request_end,
        plan.visit_request,
        plan.visit_node,
        plan.visit_delay,
    )


def stage_rates(result: PathResult) -> dict[str, float]:
    """Per service, the measured visits it received per second of the window (every class and path)."""
    lo, hi = result.visits.window_s
    arrived = result.visits.arrival_s
    measured = (arrived >= lo) & (arrived < hi)
    svc_of_cls = np.array(
        [
            result.visit_model.services.index(
                next(s for s in result.visit_model.services if s.name == c.service)
            )
            for c in result.visit_model.classes
        ]
        or [0],
        dtype=np.int64,
    )
    counts = np.bincount(svc_of_cls[result.visits.cls[measured]], minlength=len(result.visit_model.services))
    span = hi - lo if hi > lo else math.inf
    return {s.name: float(counts[k]) / span for k, s in enumerate(result.visit_model.services)}
