"""The serving engine: replay requests through the replicas of each service on a SimPy clock.

A run has two phases.

1. **Draw** (`generate_requests`, vectorised numpy): for each class, its arrival times in
   ``[0, duration_s)`` (`capacity.sim.arrivals`) and one service time per arrival from its service's
   distribution (`capacity.sim.service_times`). All classes are merged into one stream sorted by arrival
   time, ties broken by class order (a stable sort); a request's position in it is its **sequence** number
   (`capacity.sim.requests.RequestStream`).
2. **Replay** (`simulate_requests`): a `simpy.Environment` and event callbacks, with no SimPy process
   per request (a process per request ran 6 times slower here; see benchmarks/sim_throughput.py).

**How a request flows**::

    arrival tick ──▶ admission ──▶ routing ──▶ queue ──▶ slot / batch of a ready replica ──▶ completion
                     (no ready       (the service's     (discipline,   (one completion event per slot,
                      replica:        queue, or a ready   max_length,    rescheduled for each request;
                      rejected;       replica's)          timeout)       a batch or an iteration)
                      deadline: dropped)

* one **arrival tick**, rescheduled from request to request, admits the request(s) arriving at its time
  through their service's ``admit``;
* one **completion event per slot** (a slot serves one request at a time, so its event is rescheduled
  for each request it serves): when it fires, the slot takes the next request from its queue, or
  becomes free if nothing waits.

At equal times, completions are processed before arrivals (SimPy priority ``URGENT`` before ``NORMAL``;
`capacity.sim.events`); simultaneous completions go in the order they were scheduled. So a request that
arrives at the instant a slot frees finds it already serving the head of the queue, or free. Times are
exact up to float rounding (an arrival tick lands within one ulp of its drawn time).

**Three ways to run a service**, chosen per service before the run:

* the **fast path** (`_plain_admitter`): a *plain* service (`is_plain`: a routing and a discipline with
  the ``fast_path`` flag — ``central`` and ``fifo``/``priority`` — no ``max_length``, no ``timeout_s``, no
  deadline admission, no failure on its nodes, every replica of speed 1, no controller) runs two
  closures and a slot picker, kept minimal for speed;
* the **general path** (`capacity.sim.slot_service.SlotService`): every other one-request-per-slot
  service — per-replica queues, timeouts, preemption, deadline admission, speeds, failures, replicas
  that come and go;
* **batching** (`capacity.sim.batching`): a service with ``batching`` (dynamic or continuous).

The last two are **service runtimes** (`capacity.sim.runtime.ServiceRuntime`): they own their replicas
as entities with a lifecycle (starting, ready, draining, stopped, down; `capacity.sim.replicas`), route
among the ready ones, and expose the API that failures (`capacity.sim.failures`) and controllers use.
A **controller** (`capacity.sim.runtime.Controller`, passed to `simulate_requests`) may add replicas
(ready after a cold start) and drain them during the run; with one, every service runs as a runtime. A
service with no replica (and no controller) rejects every request.

**Records.** The replay writes each request's start time and replica, when it starts, into numpy arrays
preallocated from the number of arrivals; end times are ``start + service`` afterwards (the same float
addition the SimPy clock makes; ``start + service / v`` on a replica of speed ``v``). What else the
general path and failures write (outcomes, cut segments) is in `capacity.sim.records`; the batchers'
records are in `capacity.sim.batching.BatchRecords`. Replicas are numbered globally in the run's
`capacity.sim.replicas.Fleet` (the model's first, then added ones); their lifecycle is in the result's
``timeline``.

**Memory.** The replay keeps per-request numpy records (class, arrival, service, start, end, replica:
40 bytes a request, plus a byte per outcome flag) and, while it runs, Python lists of the arrival and
service times (the hot loop's inputs, ~80 bytes a request), emptied when it ends. Measured with
tracemalloc (``benchmarks/sim_throughput.py --memory``) on the 1M-request benchmark: a peak of about
120 bytes a request, and 41 bytes a request kept in the `SimResult`. Memory is O(n) in
the requests of one run, by design: exact percentiles and per-window statistics need the records,
and ten million requests still fit in about 1.2 GB; no per-request SimPy object outlives its event.

**Token services** get their service times from the stream's token counts (`capacity.sim.service_times`).

**Statistics window.** Arrivals stop at ``duration_s``; the run drains (every admitted request completes,
the clock may pass ``duration_s``). Latency and wait statistics are over requests that arrived in
``[warmup_s, duration_s)``; utilisation is busy slot-seconds inside ``[warmup_s, duration_s]`` divided by
``slots × (duration_s − warmup_s)`` (see `capacity.sim.result`; `SimResult.utilisation` divides by the
time each replica existed instead).

**Randomness.** Every draw comes from ``model.seed``, one independent stream per class and purpose
(`capacity.sim.streams`): the same model gives identical results, and adding, removing or reordering
classes does not change the draws of the others (only their merge order). The tenants' classes of a
split trace class draw their arrivals from the stream of the class they came from (``arrivals.stream``),
so they partition one replay. The ``random`` and ``power-of-two`` routings draw from another stream per
service, keyed by the service name.

Times are seconds, rates per second.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from capacity.sim.arrivals import TraceReplay, arrival_process
from capacity.sim.batching import BATCHERS, BatchRecords, finalize
from capacity.sim.disciplines import DISCIPLINES, EMPTY
from capacity.sim.events import Callbacks, Tick
from capacity.sim.failures import FailureDriver, services_hit
from capacity.sim.model import ServingService, SimModel, TokenCount
from capacity.sim.paths import has_path
from capacity.sim.records import RunRecords, admission_targets
from capacity.sim.replicas import Fleet, ReplicaState, ServingReplica
from capacity.sim.requests import RequestStream
from capacity.sim.result import SimResult, busy_in_window
from capacity.sim.routing import ROUTINGS
from capacity.sim.runtime import Controller, RunControl, ServiceRuntime
from capacity.sim.service_times import SERVICE_TIMES, draw_service_s, with_token_times
from capacity.sim.slot_service import SlotService
from capacity.sim.streams import ARRIVALS_STREAM, SERVICE_STREAM, TOKENS_STREAM, class_rng
from capacity.sim.validation import validate_model, validate_stream

# --------------------------------------------------------------------------- drawing requests


def draw_tokens(spec: TokenCount, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` token counts (int64): drawn like a service time of mean ``spec.mean``, rounded to the
    nearest whole number and clipped to ``[spec.min, spec.max]``."""
    x = SERVICE_TIMES[spec.dist]().sample(rng, n, spec.mean, spec.cv)
    return np.clip(np.rint(x), spec.min, spec.max if spec.max is not None else None).astype(np.int64)


def generate_requests(model: SimModel) -> RequestStream:
    """Draw every class's arrivals, service times and token counts and merge them into one stream.

    Token counts: a trace class takes its requests' counts from the trace; a class with a ``tokens`` spec
    draws input then output counts from its own stream (purpose `TOKENS_STREAM`). When any class has token
    counts, the classes without get 0 and 0; when none has, the stream's token arrays are None.
    """
    validate_model(model)
    service_of = {s.name: s for s in model.services}
    classes, arrivals, services, inputs, outputs = [], [], [], [], []
    for k, c in enumerate(model.classes):
        st = c.service_time_at(service_of[c.service])
        process = arrival_process(c.arrivals)
        rng = class_rng(model.seed, c.arrivals.stream or c.name, ARRIVALS_STREAM)
        tokens_in = tokens_out = None
        if isinstance(process, TraceReplay):
            t, rows = process.sample(rng, model.duration_s)
            trace = c.arrivals.trace
            assert trace is not None                   # validate_model checked it
            tokens_in, tokens_out = trace.input_tokens[rows], trace.output_tokens[rows]
        else:
            t = process.times(rng, c.arrivals.rate_per_s, model.duration_s)
            if c.tokens is not None:
                token_rng = class_rng(model.seed, c.name, TOKENS_STREAM)
                tokens_in = draw_tokens(c.tokens.input, token_rng, len(t))
                tokens_out = draw_tokens(c.tokens.output, token_rng, len(t))
        s = draw_service_s(st, class_rng(model.seed, c.name, SERVICE_STREAM), len(t),
                           tokens_in, tokens_out)
        classes.append(np.full(len(t), k, dtype=np.int32))
        arrivals.append(t)
        services.append(s)
        inputs.append(tokens_in)
        outputs.append(tokens_out)
    if not classes:
        return RequestStream(np.empty(0, np.int32), np.empty(0), np.empty(0))
    has_tokens = any(x is not None for x in inputs)

    def merged(parts: list[np.ndarray | None]) -> np.ndarray | None:
        if not has_tokens:
            return None
        return np.concatenate([np.zeros(len(t), np.int64) if x is None else x
                               for x, t in zip(parts, arrivals, strict=True)])

    return RequestStream.from_arrays(np.concatenate(classes), np.concatenate(arrivals),
                                     np.concatenate(services), merged(inputs), merged(outputs))


# --------------------------------------------------------------------------- replay


def is_plain(service: ServingService) -> bool:
    """Whether the service runs the minimal fast path (see the module docstring)."""
    return (ROUTINGS[service.routing].fast_path and DISCIPLINES[service.discipline].fast_path
            and service.max_length is None and service.timeout_s is None
            and service.batching is None and all(r.speed == 1.0 for r in service.replicas))


def simulate_requests(model: SimModel, stream: RequestStream,
                      controllers: Sequence[Controller] = ()) -> SimResult:
    """Replay ``stream`` through the model's services (see the module docstring); return the records.

    ``controllers`` may add and drain replicas during the run (`capacity.sim.runtime.Controller`);
    with any, every service runs a `capacity.sim.runtime.ServiceRuntime` (no fast path).
    """
    validate_model(model)
    validate_stream(model, stream)
    if any(s.service_time.tokens for s in model.services):  # token services: times from token counts
        model, service_s = with_token_times(model, stream.cls, stream.service_s, stream.input_tokens,
                                            stream.output_tokens)
        stream = dataclasses.replace(stream, service_s=service_s)
    return _Replay(model, stream, tuple(controllers)).run()


def _plain_admitter(env: simpy.Environment, svc: ServingService, levels: list[int],
                    replicas: list[ServingReplica], arrival: list[float], service: list[float],
                    priority: list[int], start_s: np.ndarray,
                    replica_of: np.ndarray) -> Callable[[int], bool]:
    """The admit function and slot completion events of a plain service (the fast path); it admits
    every request (True: started or queued)."""
    schedule = env.schedule
    c = svc.concurrency
    queue = DISCIPLINES[svc.discipline](levels)
    push, pop = queue.push, queue.pop
    picker = ROUTINGS[svc.routing].slot_picker(len(replicas), c)
    take, release = picker.take, picker.release
    replica_of_slot = [r.index for r in replicas for _ in range(c)]
    ticks = [Tick(env, slot) for slot in range(len(replicas) * c)]

    def admit(i: int) -> bool:
        if picker.free:                    # a free slot implies an empty queue
            slot = take()
            start_s[i] = arrival[i]
            replica_of[i] = replica_of_slot[slot]
            tick = ticks[slot]
            tick.callbacks = done
            schedule(tick, URGENT, service[i])
        else:
            push(i, priority[i])
        return True

    def on_done(tick: Tick) -> None:
        j = pop()
        if j == EMPTY:
            release(tick.slot)
        else:
            slot = tick.slot
            start_s[j] = env._now
            replica_of[j] = replica_of_slot[slot]
            tick.callbacks = done
            schedule(tick, URGENT, service[j])

    done: Callbacks = [on_done]   # SimPy iterates a callback list and never mutates it: share one
    return admit


def _reject(i: int) -> bool:
    """A service without replicas (and no controller to add any): the request is never served."""
    return False


class _Replay:
    """One replay: each service's admitter, the arrival tick, failures and controllers, the records."""

    def __init__(self, model: SimModel, stream: RequestStream, controllers: tuple[Controller, ...]) -> None:
        self.model, self.stream, self.controllers = model, stream, controllers
        n = len(stream)
        self.env = simpy.Environment()
        # The hot loop reads Python floats (numpy scalars are slow in arithmetic and in the event heap)
        # and writes straight into the preallocated numpy records (about 4% slower than lists, 4x less
        # memory).
        self.arrival: list[float] = stream.arrival_s.tolist()
        self.service: list[float] = stream.service_s.tolist()
        priorities = np.array([c.priority for c in model.classes] or [0], dtype=np.int64)
        self.priority: list[int] = priorities[stream.cls].tolist() if n else []
        # the records written during the replay (end times are derived afterwards)
        self.start_s = np.full(n, np.nan)
        self.replica_of = np.full(n, -1, dtype=np.int32)
        dynamic = bool(controllers)
        failing = services_hit(model) if model.failures else set()
        if dynamic and model.failures:                 # added replicas may land on any failing node
            failing = {s.name for s in model.services}
        deadline = {c.service for c, t in zip(model.classes, admission_targets(model), strict=True)
                    if t < math.inf}
        self.kinds = [self._kind(s, failing, deadline, dynamic) for s in model.services]
        self.batch_records = (BatchRecords(model, stream.cls, self.arrival, self.service, self.priority,
                                           self.start_s, self.replica_of, stream.input_tokens,
                                           stream.output_tokens)
                              if "batched" in self.kinds else None)
        self.records = (RunRecords(model, stream, self.arrival, self.service, self.priority,
                                   self.start_s, self.replica_of, failing, dynamic)
                        if "general" in self.kinds or model.failures or dynamic else None)
        self.fleet = Fleet()
        self.runtimes: list[ServiceRuntime | None] = []
        self.admit_of_service: dict[str, Callable[[int], bool]] = {}
        for index in range(len(model.services)):
            self._build(index)

    @staticmethod
    def _kind(s: ServingService, failing: set[str], deadline: set[str], dynamic: bool) -> str:
        """How a service runs: "none" (no replica), "batched", "general" or "plain" (the fast path)."""
        if not s.replicas and not dynamic:
            return "none"
        if s.batching is not None:
            return "batched"
        if dynamic or not is_plain(s) or s.name in failing or s.name in deadline:
            return "general"
        return "plain"

    def _build(self, index: int) -> None:
        svc, kind = self.model.services[index], self.kinds[index]
        runtime: ServiceRuntime | None = None
        if kind == "batched":
            assert svc.batching is not None and self.batch_records is not None
            runtime = BATCHERS[svc.batching.mode](self.env, self.fleet, self.model, index,
                                                  self.batch_records)
        elif kind == "general":
            assert self.records is not None
            runtime = SlotService(self.env, self.fleet, self.model, index, self.records,
                                  dynamic=bool(self.controllers))
        if runtime is not None:
            if self.records is not None:
                runtime.on_lost = self.records.lose
            self.admit_of_service[svc.name] = runtime.admit
        elif kind == "plain":
            replicas = [self.fleet.register(r, index, k, svc.concurrency, ReplicaState.READY, 0.0)
                        for k, r in enumerate(svc.replicas)]
            levels = [k.priority for k in self.model.classes if k.service == svc.name]
            self.admit_of_service[svc.name] = _plain_admitter(
                self.env, svc, levels, replicas, self.arrival, self.service, self.priority,
                self.start_s, self.replica_of)
        else:
            self.admit_of_service[svc.name] = _reject
        self.runtimes.append(runtime)

    def run(self) -> SimResult:
        model, stream, env = self.model, self.stream, self.env
        driver = None
        if model.failures:
            # scheduled before the first arrival: at equal times, failures go before arrivals
            assert self.records is not None
            driver = FailureDriver(env, model, self.fleet, self.runtimes, self.records)
            driver.start()
        self._start_controllers()
        self._schedule_arrivals()
        env.run()
        # The replay's per-request Python lists (about 80 bytes a request) sit in reference cycles of
        # closures and events: empty them now rather than at the next garbage collection.
        for per_request in (self.arrival, self.service, self.priority):
            per_request.clear()
        if self.records is not None:
            self.records.release_lists()
        stream = self._replayed_stream()
        # end = start + service: the same float addition the SimPy clock made to schedule the completion
        # (on a replica of speed v, start + service / v: the general path divides when a request starts)
        speeds = np.array([r.speed for r in self.fleet.replicas] or [1.0])
        start_s, replica_of = self.start_s, self.replica_of
        end_s = start_s + (stream.service_s / speeds[replica_of] if np.any(speeds != 1.0)
                           else stream.service_s)
        if self.records is not None:
            explicit = ~np.isnan(self.records.end_s)   # cut, timed-out or lost requests
            end_s[explicit] = self.records.end_s[explicit]
        result = _result(model, stream, start_s, end_s, replica_of, self.fleet, self.records, driver)
        # batching services' end and busy times, and every token service's first-token times
        return finalize(model, result, self.batch_records, stream.input_tokens, stream.output_tokens,
                        speeds)

    def _replayed_stream(self) -> RequestStream:
        """The requests as replayed (a path replay, `capacity.sim.journeys`, knows later visits' arrival
        times only now)."""
        return self.stream

    def _start_controllers(self) -> None:
        """Start the controllers, then bind each runtime's entry (a controller may have put an activator
        in front of its admit)."""
        if not self.controllers:
            return
        model = self.model
        control = RunControl(self.env, {s.name: r for s, r in zip(model.services, self.runtimes,
                                                                   strict=True) if r is not None})
        for controller in self.controllers:
            controller.start(control)
        for svc, runtime in zip(model.services, self.runtimes, strict=True):
            if runtime is not None:
                self.admit_of_service[svc.name] = runtime.entry()

    def _schedule_arrivals(self) -> None:
        """One arrival tick, rescheduled from request to request, admits the requests of each instant."""
        env, arrival, n = self.env, self.arrival, len(self.stream)
        if not n:
            return
        schedule = env.schedule
        admit_of_class = [self.admit_of_service[c.service] for c in self.model.classes]
        admit_of_request = [admit_of_class[k] for k in self.stream.cls.tolist()]
        next_request = 0

        def on_arrival(tick: Tick) -> None:
            nonlocal next_request
            i = next_request
            t = arrival[i]
            while True:                            # every request arriving at this instant
                admit_of_request[i](i)
                i += 1
                if i == n or arrival[i] != t:
                    break
            next_request = i
            if i < n:
                tick.callbacks = again
                delay = arrival[i] - env._now
                schedule(tick, NORMAL, delay if delay > 0.0 else 0.0)
            else:
                admit_of_request.clear()

        again: Callbacks = [on_arrival]
        arrival_tick = Tick(env, -1)
        arrival_tick.callbacks = again
        schedule(arrival_tick, NORMAL, arrival[0])


def _segment_busy(n: int, served_mask: np.ndarray, busy: np.ndarray, replica_of: np.ndarray,
                  segments: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], n_replicas: int,
                  lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Per replica and per request, busy seconds in the window when some service was cut: a request
    whose service was cut is busy over its segments only."""
    seg_request, seg_replica, seg_start, seg_end = segments
    seg_busy = busy_in_window(seg_start, seg_end, lo, hi)
    whole = np.ones(n, dtype=bool)
    whole[seg_request] = False
    request_busy = np.zeros(n)
    request_busy[served_mask] = busy
    request_busy[~whole] = 0.0
    request_busy += np.bincount(seg_request, weights=seg_busy, minlength=n)
    plain = served_mask & whole
    busy_s = (np.bincount(replica_of[plain], weights=request_busy[plain], minlength=n_replicas)
              + np.bincount(seg_replica, weights=seg_busy, minlength=n_replicas))
    return busy_s, request_busy


def _result(model: SimModel, stream: RequestStream, start_s: np.ndarray, end_s: np.ndarray,
            replica_of: np.ndarray, fleet: Fleet, records: RunRecords | None = None,
            driver: FailureDriver | None = None) -> SimResult:
    """Package the records with per-replica busy time and served counts inside the window."""
    lo, hi = float(model.warmup_s), float(model.duration_s)
    n = len(stream)
    names = tuple(r.name for r in fleet.replicas)
    n_replicas = len(names)
    timed_out = dropped = lost = retried = None
    segments = None
    if records is not None:
        timed_out, dropped, lost, retried = (records.timed_out, records.dropped, records.lost,
                                             records.retried)
        if lost is not None:
            replica_of[lost] = -1                      # a lost request may have started: not served
        if records.segments:
            segments = records.segments.arrays()
    served_mask = replica_of >= 0
    measured = (stream.arrival_s >= lo) & (stream.arrival_s < hi)
    busy = busy_in_window(start_s[served_mask], end_s[served_mask], lo, hi)
    request_busy = None
    if segments is None:
        busy_s = np.bincount(replica_of[served_mask], weights=busy, minlength=n_replicas)
    else:
        busy_s, request_busy = _segment_busy(n, served_mask, busy, replica_of, segments, n_replicas,
                                             lo, hi)
    # np.bincount of an empty array is int64 even with weights: the batchers write float busy times here
    busy_s = busy_s.astype(np.float64, copy=False)
    return SimResult(
        cls=stream.cls, arrival_s=stream.arrival_s, service_s=stream.service_s,
        start_s=start_s, end_s=end_s, replica=replica_of,
        replica_names=names,
        replica_service=np.array([r.service for r in fleet.replicas], dtype=np.int32),
        replica_slots=np.array([r.slots for r in fleet.replicas], dtype=np.int64),
        busy_s=busy_s,
        served=np.bincount(replica_of[served_mask & measured], minlength=n_replicas),
        window_s=(lo, hi),
        timed_out=timed_out if timed_out is not None else np.zeros(n, dtype=bool),
        busy_request_s=request_busy,
        dropped=dropped, lost=lost, retried=retried, segments=segments,
        failures=tuple(driver.records) if driver is not None else (),
        downtime=driver.downtime() if driver is not None else None,
        timeline=fleet.timeline(),
    )


def simulate_model(model: SimModel, controllers: Sequence[Controller] = ()) -> SimResult:
    """Draw the model's requests from ``model.seed`` and replay them; see the module docstring.

    A model with a travelling class (``path``) runs with `capacity.sim.journeys.simulate_journeys`."""
    if any(has_path(c) for c in model.classes):
        raise ValueError("classes: a class with a path runs with capacity.sim.journeys.simulate_journeys")
    return simulate_requests(model, generate_requests(model), controllers)
