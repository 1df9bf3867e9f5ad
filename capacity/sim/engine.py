"""The serving engine: replay requests through the replicas of each service on a SimPy clock.

A run has two phases.

1. **Draw** (`generate_requests`, vectorised numpy): for each class, its arrival times in
   ``[0, duration_s)`` (`capacity.sim.arrivals`) and one service time per arrival from its service's
   distribution (`capacity.sim.service_times`). All classes are merged into one stream sorted by arrival
   time, ties broken by class order (a stable sort); a request's position in it is its **sequence** number.
2. **Replay** (`simulate_requests`): a `simpy.Environment` and event callbacks, with no SimPy process
   per request (a process per request ran 6 times slower here; see benchmarks/sim_throughput.py).
   Two kinds of events:

   * one **arrival tick**, rescheduled from request to request: it admits the request(s) arriving at its
     time. Admitting means: if the service has a free slot, start it there now (the routing rule of
     `capacity.sim.routing` picks the slot); otherwise push it on the service's queue
     (`capacity.sim.disciplines`). A service with no placed replica rejects every request.
   * one **completion event per slot** (a slot serves one request at a time, so its event is rescheduled
     for each request it serves): when it fires, the slot takes the next request from its service's queue,
     or becomes free if nothing waits.

   At equal times, completions are processed before arrivals (SimPy priority ``URGENT`` before
   ``NORMAL``); simultaneous completions go in the order they were scheduled. So a request that arrives
   at the instant a slot frees finds it already serving the head of the queue, or free.

   The replay writes each request's start time and replica, when it starts, into numpy arrays
   preallocated from the number of arrivals; end times are ``start + service`` afterwards (the same float
   addition the SimPy clock makes). Times are exact up to float rounding (an arrival tick lands within
   one ulp of its drawn time).

   That is the whole story for a **plain service** (``central`` routing, ``fifo`` or ``priority``, no
   ``max_length``, no ``timeout_s``, no deadline-aware admission, no failure on its nodes), whose code
   path is kept minimal for speed. Any other service runs the **general path** (`_general_admitter`),
   with the same two kinds of events and these additions:

   * **Queues.** One queue per service (``central``) or per replica (the other routings; the routing
     rule picks the replica on arrival from the replicas' outstanding counts, see
     `capacity.sim.routing`). Every request passes through its queue's discipline, also one that finds
     a free slot (pushed and popped at once), so the fair disciplines charge it to its tenant. An
     arrival that finds no free slot on its queue's slots and ``max_length`` requests already waiting
     there is **rejected** (``max_length`` counts waiting requests only, so a one-slot queue holds at
     most ``max_length + 1``).
   * **Timeouts.** A queued request whose wait reaches ``timeout_s`` leaves (*timed out*; its end time
     is ``arrival + timeout_s``, its start time NaN). Its deadline is inclusive: a slot that frees at
     exactly the deadline does not serve it. Deadlines are kept per service in arrival order and
     expired lazily at every arrival to and completion in the service (the only moments when anything
     is decided), so no event per request is needed. Only a request that never started can time out.
   * **Preemption** (``preemptive`` discipline). An arrival that finds no free slot on its queue's
     slots picks the in-service request with the largest ``(priority, segment start, sequence)``, the
     least urgent one that started most recently; if that priority number is larger than the arrival's,
     the arrival takes its slot and the interrupted request goes back to the queue (even beyond
     ``max_length``: it was admitted) needing its remaining service time (``resume``) or all of it again
     (``restart``). Its start time stays the first one; its end time and replica are those of its last
     segment; busy time counts its segments only. Each service segment gets its own completion event;
     an interrupted segment's event fires later and is ignored.
   * **Deadline-aware admission** (a class's ``admission``, else its service's, is ``deadline``, and
     the class has an SLO target). The routing rule picks the arrival's queue first; the arrival is then
     **dropped** if its *predicted wait* plus its own service time exceeds the target. The predicted
     wait is 0 when a slot of that queue is free; otherwise it is (the remaining service time of the
     requests in service on the queue's slots + the service time of the requests waiting in the queue
     that go before it: under ``priority``, ``preemptive`` and ``priority-fair`` those of its level or
     more urgent, under the others all of them; queued and own service times divided by the mean
     speed of the queue's replicas) / the queue's live slots. It is an **estimate**: exact
     for one FIFO slot (the engine knows every drawn service time), but it ignores later arrivals that
     overtake (higher priorities, fair shares) and, with several slots, how the work splits between
     them (the fluid approximation). It uses the drawn service times, as a server that knows each
     request's cost (tokens) would. Retries after a failure are not tested again.
   * **Failures** (`capacity.sim.failures`): one event per failure takes the replicas on its nodes down
     through the admitter's ``fail_replica`` hook and retries (``readmit``) or loses the requests it
     removed; ``recover_replica`` brings them back. Any admitter (the batching one too) that provides
     these hooks can fail. A request cut by a failure is busy over its segments, like an interrupted one.

**Memory.** The replay keeps per-request numpy records (class, arrival, service, start, end, replica:
40 bytes a request, plus a byte per outcome flag) and, while it runs, Python lists of the arrival and
service times (the hot loop's inputs, ~80 bytes a request), emptied when it ends. Measured with
tracemalloc (``benchmarks/sim_throughput.py --memory``) on the 1M-request benchmark: a peak of about
120 bytes a request, and 41 bytes a request kept in the `SimResult`. Memory is O(n) in
the requests of one run, by design: exact percentiles and per-window statistics need the records,
and ten million requests still fit in about 1.2 GB; no per-request SimPy object outlives its event.

**Batching services** (``batching`` set) run neither path: `capacity.sim.batching` admits them (dynamic
or continuous batching, with the same arrival tick and decision events of its own). **Speed**: a replica
on a pool of speed ``v`` takes ``service / v`` (the general path divides when a request starts, so a
service with any replica of speed other than 1 leaves the fast path); **token services** get their
service times from the stream's token counts (`capacity.sim.service_times`).

**Statistics window.** Arrivals stop at ``duration_s``; the run drains (every admitted request completes,
the clock may pass ``duration_s``). Latency and wait statistics are over requests that arrived in
``[warmup_s, duration_s)``; utilisation is busy slot-seconds inside ``[warmup_s, duration_s]`` divided by
``slots × (duration_s − warmup_s)`` (see `capacity.sim.result`).

**Randomness.** Every draw comes from ``model.seed``. Each class has independent streams, one for
arrivals, one for service times and one for token counts (classes with a ``tokens`` spec), seeded by
``SeedSequence(seed, spawn_key=(hash(class name), purpose))`` with a stable 64-bit BLAKE2b hash of the
class name: the same model gives identical results, and adding, removing or reordering classes does not
change the draws of the others (only their merge order). The tenants' classes of a split trace class
draw their arrivals from the stream of the class they came from (``arrivals.stream``), so they partition
one replay. The ``random`` and ``power-of-two`` routings draw from another stream per service, keyed by
the service name (`routing_rng`).

Times are seconds, rates per second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT, Event

from capacity.sim.arrivals import ARRIVAL_PROCESSES, TraceReplay, arrival_process
from capacity.sim.batching import BATCHERS, BatchRecords, finalize, validate_serving
from capacity.sim.disciplines import DISCIPLINES, EMPTY, QueueContext, is_preemptive
from capacity.sim.failures import FailureDriver, LiveSlots, services_hit
from capacity.sim.model import Arrivals, ServingService, SimModel, TokenCount
from capacity.sim.result import SimResult, busy_in_window
from capacity.sim.routing import ROUTINGS, Central
from capacity.sim.service_times import SERVICE_TIMES, draw_service_s, with_token_times
from capacity.sim.traces import Trace

ARRIVALS_STREAM = 0
SERVICE_STREAM = 1
ROUTING_STREAM = 2
TOKENS_STREAM = 3


def is_plain(service: ServingService) -> bool:
    """Whether the service runs the minimal fast path (see the module docstring)."""
    return (service.routing == "central" and service.discipline in ("fifo", "priority")
            and service.max_length is None and service.timeout_s is None
            and service.batching is None and all(r.speed == 1.0 for r in service.replicas))


# --------------------------------------------------------------------------- validation


def validate_model(model: SimModel) -> None:
    """Raise `ValueError` naming the field (``classes.bulk.arrivals.rate_per_s``) of the first bad value."""

    def bad(path: str, why: str, value: object) -> ValueError:
        return ValueError(f"{path}: {why}, got {value!r}")

    def finite(x: object) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    if not finite(model.duration_s) or model.duration_s <= 0:
        raise bad("duration_s", "must be a finite number of seconds > 0", model.duration_s)
    if not finite(model.warmup_s) or not 0 <= model.warmup_s < model.duration_s:
        raise bad("warmup_s", f"must be in [0, duration_s={model.duration_s})", model.warmup_s)
    if not isinstance(model.seed, int) or isinstance(model.seed, bool) or model.seed < 0:
        raise bad("seed", "must be an integer >= 0", model.seed)
    services: set[str] = set()
    replicas: set[str] = set()
    for s in model.services:
        where = f"services.{s.name}"
        if s.name in services:
            raise bad("services", "names must be unique", s.name)
        services.add(s.name)
        if not isinstance(s.concurrency, int) or s.concurrency < 1:
            raise bad(f"{where}.concurrency", "must be an integer >= 1", s.concurrency)
        if s.discipline not in DISCIPLINES:
            raise bad(f"{where}.discipline", f"must be one of {sorted(DISCIPLINES)}", s.discipline)
        if s.routing not in ROUTINGS:
            raise bad(f"{where}.routing", f"must be one of {sorted(ROUTINGS)}", s.routing)
        if s.preemption not in ("resume", "restart"):
            raise bad(f"{where}.preemption", "must be 'resume' or 'restart'", s.preemption)
        if s.max_length is not None and (not isinstance(s.max_length, int)
                                         or isinstance(s.max_length, bool) or s.max_length < 0):
            raise bad(f"{where}.max_length", "must be an integer >= 0 or None", s.max_length)
        if s.timeout_s is not None and (not finite(s.timeout_s) or s.timeout_s <= 0):
            raise bad(f"{where}.timeout_s", "must be a finite number of seconds > 0 or None",
                      s.timeout_s)
        st = s.service_time
        if st.dist not in SERVICE_TIMES and not st.tokens:
            raise bad(f"{where}.service_time.dist", f"must be one of {sorted([*SERVICE_TIMES, 'tokens'])}",
                      st.dist)
        if not st.tokens and (not finite(st.mean_s) or st.mean_s <= 0):
            raise bad(f"{where}.service_time.mean_s", "must be a finite number of seconds > 0",
                      st.mean_s)
        if not finite(st.cv) or st.cv < 0:
            raise bad(f"{where}.service_time.cv", "must be a finite number >= 0", st.cv)
        for r in s.replicas:
            if r.name in replicas:
                raise bad(f"{where}.replicas", "replica names must be unique", r.name)
            replicas.add(r.name)
    names: set[str] = set()
    for c in model.classes:
        where = f"classes.{c.name}"
        if c.name in names:
            raise bad("classes", "names must be unique", c.name)
        names.add(c.name)
        if c.service not in services:
            raise bad(f"{where}.service", f"must name a service of the model {sorted(services)}",
                      c.service)
        if c.arrivals.process not in ARRIVAL_PROCESSES:
            raise bad(f"{where}.arrivals.process", f"must be one of {sorted(ARRIVAL_PROCESSES)}",
                      c.arrivals.process)
        if not finite(c.arrivals.rate_per_s) or c.arrivals.rate_per_s < 0:
            raise bad(f"{where}.arrivals.rate_per_s", "must be a finite rate >= 0 per second",
                      c.arrivals.rate_per_s)
        _validate_arrivals(c.arrivals, f"{where}.arrivals", bad, finite)
        if not isinstance(c.priority, int) or isinstance(c.priority, bool):
            raise bad(f"{where}.priority", "must be an integer", c.priority)
        if not finite(c.weight) or c.weight <= 0:
            raise bad(f"{where}.weight", "must be a finite number > 0", c.weight)
        if (c.slo_target_s is None) != (c.slo_quantile is None):
            raise bad(f"{where}.slo_quantile", "SLO needs both slo_target_s and slo_quantile",
                      (c.slo_target_s, c.slo_quantile))
        if c.slo_target_s is not None and (not finite(c.slo_target_s) or c.slo_target_s <= 0):
            raise bad(f"{where}.slo_target_s", "must be a finite number of seconds > 0",
                      c.slo_target_s)
        if c.slo_quantile is not None and (not finite(c.slo_quantile)
                                           or not 0 < c.slo_quantile <= 1):
            raise bad(f"{where}.slo_quantile", "must be in (0, 1]", c.slo_quantile)
    _validate_tokens(model, bad, finite)
    validate_serving(model, bad, finite)                # batching, token service times, pool speeds
    _validate_failures_admission(model, bad, finite)


def _validate_arrivals(a: Arrivals, where: str, bad: Callable[[str, str, object], ValueError],
                      finite: Callable[[object], bool]) -> None:
    """The process parameters of one class (only those its process reads)."""
    if a.process == "gamma" and (not finite(a.cv) or a.cv <= 0):
        raise bad(f"{where}.cv", "must be a finite number > 0", a.cv)
    if a.process == "onoff":
        for key in ("on_s", "off_s"):
            value = getattr(a, key)
            if not finite(value) or value <= 0:
                raise bad(f"{where}.{key}", "onoff needs a finite number of seconds > 0", value)
    if a.process == "diurnal":
        if not finite(a.amplitude) or not 0 <= a.amplitude < 1:
            raise bad(f"{where}.amplitude", "must be in [0, 1)", a.amplitude)
        if not finite(a.period_s) or a.period_s <= 0:
            raise bad(f"{where}.period_s", "must be a finite number of seconds > 0", a.period_s)
        for key in ("peak_at_s", "start_s"):
            if not finite(getattr(a, key)):
                raise bad(f"{where}.{key}", "must be a finite number of seconds", getattr(a, key))
    if a.process == "trace":
        # a trace read for a window (last_s set) may keep no request: none falls inside the window
        if not isinstance(a.trace, Trace) or (len(a.trace) == 0 and a.trace.last_s is None):
            raise bad(f"{where}.trace", "trace arrivals need a Trace with at least one request", a.trace)
        for key in ("time_scale", "rate_scale"):
            if not finite(getattr(a, key)) or not 0 < getattr(a, key) <= 1e6:
                raise bad(f"{where}.{key}", "must be a finite number in (0, 1e6]", getattr(a, key))
        if not finite(a.start_s) or a.start_s < 0:
            raise bad(f"{where}.start_s", "must be a finite number of seconds >= 0", a.start_s)
        if a.tenant_weights is not None and (not a.tenant_weights or not all(
                finite(w) and w > 0 for w in a.tenant_weights)):
            raise bad(f"{where}.tenant_weights", "must be finite numbers > 0", a.tenant_weights)
        if a.tenant_index is not None:
            count = len(a.tenant_weights) if a.tenant_weights is not None else len(a.trace.tenant_names)
            if not isinstance(a.tenant_index, int) or not 0 <= a.tenant_index < count:
                raise bad(f"{where}.tenant_index", f"must index the {count} tenants of the split "
                          "(tenant_weights, or the trace's tenant column)", a.tenant_index)


def _validate_failures_admission(model: SimModel, bad: Callable[[str, str, object], ValueError],
                                 finite: Callable[[object], bool]) -> None:
    """Admission and failure settings: services' and classes' modes, and the failures' times."""
    for s in model.services:
        if s.admission not in ("accept", "deadline"):
            raise bad(f"services.{s.name}.admission", "must be 'accept' or 'deadline'", s.admission)
        if s.on_failure not in ("retry", "lost"):
            raise bad(f"services.{s.name}.on_failure", "must be 'retry' or 'lost'", s.on_failure)
    for c in model.classes:
        if c.admission not in (None, "accept", "deadline"):
            raise bad(f"classes.{c.name}.admission", "must be 'accept', 'deadline' or None", c.admission)
        if c.admission == "deadline" and c.slo_target_s is None:
            raise bad(f"classes.{c.name}.admission", "deadline admission needs an SLO target", c.admission)
    for k, f in enumerate(model.failures):
        where = f"failures.{k}"
        if not finite(f.at_s) or not 0 <= f.at_s < model.duration_s:
            raise bad(f"{where}.at_s", f"must be in [0, duration_s={model.duration_s})", f.at_s)
        if f.recover_s is not None and (not finite(f.recover_s) or f.recover_s <= 0):
            raise bad(f"{where}.recover_s", "must be a finite number of seconds > 0 or None", f.recover_s)
        if not isinstance(f.nodes, tuple) or not all(isinstance(x, str) for x in f.nodes):
            raise bad(f"{where}.nodes", "must be a tuple of node names", f.nodes)
    if model.interval_s is not None and (not finite(model.interval_s) or model.interval_s <= 0):
        raise bad("interval_s", "must be a finite number of seconds > 0 or None", model.interval_s)


def _validate_tokens(model: SimModel, bad: Callable[[str, str, object], ValueError],
                     finite: Callable[[object], bool]) -> None:
    """Token specs of the classes, and the token counts that ``queue_cost: tokens`` needs."""
    for c in model.classes:
        where = f"classes.{c.name}.tokens"
        if c.tokens is None:
            continue
        if c.arrivals.process == "trace":
            raise bad(where, "a trace gives the token counts: a trace class takes no token spec", c.tokens)
        for part in ("input", "output"):
            spec = getattr(c.tokens, part)
            if spec.dist not in SERVICE_TIMES:
                raise bad(f"{where}.{part}.dist", f"must be one of {sorted(SERVICE_TIMES)}", spec.dist)
            if not finite(spec.mean) or spec.mean <= 0:
                raise bad(f"{where}.{part}.mean", "must be a finite number of tokens > 0", spec.mean)
            if not finite(spec.cv) or spec.cv < 0:
                raise bad(f"{where}.{part}.cv", "must be a finite number >= 0", spec.cv)
            if not isinstance(spec.min, int) or spec.min < 0:
                raise bad(f"{where}.{part}.min", "must be a whole number >= 0", spec.min)
            if spec.max is not None and (not isinstance(spec.max, int) or spec.max < spec.min):
                raise bad(f"{where}.{part}.max", f"must be a whole number >= min ({spec.min})", spec.max)
    for s in model.services:
        if s.queue_cost not in ("time", "tokens"):
            raise bad(f"services.{s.name}.queue_cost", "must be 'time' or 'tokens'", s.queue_cost)
        if s.queue_cost == "tokens":
            for c in model.classes:
                if c.service == s.name and c.tokens is None and c.arrivals.process != "trace":
                    raise bad(f"classes.{c.name}.tokens", f"service {s.name} charges tokens "
                              "(queue_cost), so its classes need token counts (a token spec or a trace)",
                              None)


# --------------------------------------------------------------------------- drawing requests


@dataclass(frozen=True, eq=False)
class RequestStream:
    """Requests in sequence order (arrival time, then class order): the engine's input."""

    cls: np.ndarray          # int32: class index in model.classes
    arrival_s: np.ndarray    # float64, non-decreasing, in [0, duration_s)
    service_s: np.ndarray    # float64 > 0: service time each request needs
    # token counts of LLM-style requests (int64, one per request); None when no class has tokens
    input_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.arrival_s)

    @classmethod
    def from_arrays(cls, classes: np.ndarray, arrival_s: np.ndarray, service_s: np.ndarray,
                    input_tokens: np.ndarray | None = None,
                    output_tokens: np.ndarray | None = None) -> RequestStream:
        """Sort hand-made (or trace) requests into sequence order; ties keep the given order."""
        order = np.argsort(np.asarray(arrival_s, dtype=np.float64), kind="stable")

        def tokens(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else np.asarray(x, dtype=np.int64)[order]

        return cls(np.asarray(classes, dtype=np.int32)[order],
                   np.asarray(arrival_s, dtype=np.float64)[order],
                   np.asarray(service_s, dtype=np.float64)[order],
                   tokens(input_tokens), tokens(output_tokens))


def class_rng(seed: int, class_name: str, purpose: int) -> np.random.Generator:
    """The generator of one class and purpose (`ARRIVALS_STREAM`, `SERVICE_STREAM`, `TOKENS_STREAM`)."""
    name_key = int.from_bytes(hashlib.blake2b(class_name.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(name_key, purpose)))


def routing_rng(seed: int, service_name: str) -> np.random.Generator:
    """The generator of a service's random routing choices."""
    return class_rng(seed, service_name, ROUTING_STREAM)


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
        st = service_of[c.service].service_time
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


def _validate_stream(model: SimModel, stream: RequestStream) -> None:
    n = len(stream)
    if not len(stream.cls) == len(stream.service_s) == n:
        raise ValueError("stream: cls, arrival_s and service_s must have one entry per request")
    if n == 0:
        return
    if stream.cls.min() < 0 or stream.cls.max() >= len(model.classes):
        raise ValueError(f"stream.cls: must index model.classes (0..{len(model.classes) - 1})")
    if not (np.all(np.isfinite(stream.arrival_s)) and np.all(np.diff(stream.arrival_s) >= 0)):
        raise ValueError("stream.arrival_s: must be finite and sorted (use RequestStream.from_arrays)")
    if stream.arrival_s[0] < 0 or stream.arrival_s[-1] >= model.duration_s:
        raise ValueError(f"stream.arrival_s: must lie in [0, duration_s={model.duration_s})")
    if not np.all(np.isfinite(stream.service_s)) or stream.service_s.min() < 0:
        raise ValueError("stream.service_s: must be finite and >= 0")
    for name in ("input_tokens", "output_tokens"):
        tokens = getattr(stream, name)
        if tokens is not None and (len(tokens) != n or tokens.min() < 0):
            raise ValueError(f"stream.{name}: must have one count >= 0 per request")
    charged = [s.name for s in model.services if s.queue_cost == "tokens"]
    if charged and (stream.input_tokens is None or stream.output_tokens is None):
        raise ValueError(f"services.{charged[0]}.queue_cost: 'tokens' needs the stream's token counts "
                         "(input_tokens and output_tokens)")


class _Tick(Event):
    """A reusable, always-successful SimPy event that the engine reschedules with `Environment.schedule`.

    SimPy processes an event by popping it from its queue and calling its callbacks once; giving the event
    a callback list again and scheduling it again makes it fire again. One tick per slot (and one for
    arrivals) replaces a new `simpy.Timeout` per request, which measured about 30% slower.

    The replay reads ``env._now`` rather than the ``env.now`` property (18 ns against 110 ns, twice per
    request) and sets ``_ok``/``_value`` as SimPy's own ``run(until=...)`` does; pyproject pins simpy < 5.
    """

    def __init__(self, env: simpy.Environment, slot: int) -> None:
        super().__init__(env)
        self._ok = True                 # what SimPy's own "until" event sets: the event succeeds
        self._value = None
        self.slot = slot


def simulate_requests(model: SimModel, stream: RequestStream) -> SimResult:
    """Replay ``stream`` through the model's services (see the module docstring); return the records."""
    validate_model(model)
    _validate_stream(model, stream)
    if any(s.service_time.tokens for s in model.services):  # token services: times from token counts
        model, service_s = with_token_times(model, stream.cls, stream.service_s, stream.input_tokens,
                                            stream.output_tokens)
        stream = dataclasses.replace(stream, service_s=service_s)
    n = len(stream)
    env = simpy.Environment()
    schedule = env.schedule
    # The hot loop reads Python floats (numpy scalars are slow in arithmetic and in the event heap) and
    # writes straight into the preallocated numpy records (about 4% slower than lists, 4x less memory).
    arrival = stream.arrival_s.tolist()
    service = stream.service_s.tolist()
    priorities = np.array([c.priority for c in model.classes] or [0], dtype=np.int64)
    priority = priorities[stream.cls].tolist() if n else []
    # the records written during the replay (end times are derived afterwards)
    start_s = np.full(n, np.nan)
    replica_of = np.full(n, -1, dtype=np.int32)
    failing = services_hit(model) if model.failures else set()
    targets = admission_targets(model)
    deadline = {c.service for c, t in zip(model.classes, targets, strict=True) if t < math.inf}
    general = [(not is_plain(s) or s.name in failing or s.name in deadline) and bool(s.replicas)
               for s in model.services]
    # batching services run capacity.sim.batching instead (BATCHERS, one admitter class per mode)
    batched = [s.batching is not None and bool(s.replicas) for s in model.services]
    general = [g and not b for g, b in zip(general, batched, strict=True)]
    batch_records = BatchRecords(model, stream.cls, arrival, service, priority, start_s, replica_of,
                                 stream.input_tokens, stream.output_tokens) if any(batched) else None
    records = _Records(model, stream, arrival, service, priority, start_s, replica_of, failing) if (
        any(general) or model.failures) else None
    # each service's admitter object, for the failure hooks (None: no replica, or the fast path)
    admitters: list[Any | None] = [None] * len(model.services)

    def reject(i: int) -> None:
        """A service without placed replicas: the request is never served."""

    def service_admitter(index: int, first_replica: int) -> Callable[[int], None]:
        """Build the admit function and slot completion events of plain ``model.services[index]``."""
        svc = model.services[index]
        c = svc.concurrency
        queue = DISCIPLINES[svc.discipline](
            [k.priority for k in model.classes if k.service == svc.name])
        push, pop = queue.push, queue.pop
        picker = ROUTINGS[svc.routing].slot_picker(len(svc.replicas), c)
        take, release = picker.take, picker.release
        replica_of_slot = [first_replica + slot // c for slot in range(len(svc.replicas) * c)]
        ticks = [_Tick(env, slot) for slot in range(len(svc.replicas) * c)]

        def admit(i: int) -> None:
            if picker.free:                    # a free slot implies an empty queue
                slot = take()
                start_s[i] = arrival[i]
                replica_of[i] = replica_of_slot[slot]
                tick = ticks[slot]
                tick.callbacks = done
                schedule(tick, URGENT, service[i])
            else:
                push(i, priority[i])

        def on_done(tick: _Tick) -> None:
            j = pop()
            if j == EMPTY:
                release(tick.slot)
            else:
                slot = tick.slot
                start_s[j] = env._now
                replica_of[j] = replica_of_slot[slot]
                tick.callbacks = done
                schedule(tick, URGENT, service[j])

        done = [on_done]              # SimPy iterates a callback list and never mutates it: share one
        return admit

    admit_of_service: dict[str, Callable[[int], None]] = {}
    first_replica = 0
    for index, svc in enumerate(model.services):
        if not svc.replicas:
            admit_of_service[svc.name] = reject
        elif batched[index]:
            assert svc.batching is not None and batch_records is not None
            admitters[index] = BATCHERS[svc.batching.mode](env, model, index, first_replica, batch_records)
            admit_of_service[svc.name] = admitters[index].admit
        elif general[index]:
            assert records is not None
            admitters[index] = _general_admitter(env, model, index, first_replica, records)
            admit_of_service[svc.name] = admitters[index].admit
        else:
            admit_of_service[svc.name] = service_admitter(index, first_replica)
        first_replica += len(svc.replicas)
    admit_of_class = [admit_of_service[c.service] for c in model.classes]
    admit_of_request = [admit_of_class[k] for k in stream.cls.tolist()]

    next_request = 0

    def on_arrival(tick: _Tick) -> None:
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

    again = [on_arrival]
    driver = None
    if model.failures:
        # scheduled before the first arrival: at equal times, failures go before arrivals
        assert records is not None and records.lost is not None and records.retried is not None
        driver = FailureDriver(env, model, admitters, records.lost, records.retried, records.end_s)
        driver.start()
    if n:
        arrival_tick = _Tick(env, -1)
        arrival_tick.callbacks = again
        schedule(arrival_tick, NORMAL, arrival[0])
    env.run()
    # The replay's per-request Python lists (about 80 bytes a request) sit in reference cycles of
    # closures and events: empty them now rather than at the next garbage collection.
    for per_request in (arrival, service, priority, admit_of_request,
                        *((records.remaining, records.tenant, records.cls) if records else ())):
        per_request.clear()
    # end = start + service: the same float addition the SimPy clock made to schedule the completion
    # (on a replica of speed v, start + service / v: the general path divides when a request starts)
    speeds = np.array([r.speed for s in model.services for r in s.replicas] or [1.0])
    end_s = start_s + (stream.service_s / speeds[replica_of] if np.any(speeds != 1.0) else stream.service_s)
    if records is None:
        result = _result(model, stream, start_s, end_s, replica_of)
    else:
        explicit = ~np.isnan(records.end_s)            # cut, timed-out or lost requests
        end_s[explicit] = records.end_s[explicit]
        result = _result(model, stream, start_s, end_s, replica_of, records, driver)
    # batching services' end and busy times, and every token service's first-token times
    return finalize(model, result, batch_records, stream.input_tokens, stream.output_tokens)


class _Records:
    """What the general path writes besides start times and replicas (see `_general_admitter`)."""

    def __init__(self, model: SimModel, stream: RequestStream, arrival: list[float],
                 service: list[float], priority: list[int], start_s: np.ndarray,
                 replica_of: np.ndarray, failing: set[str] | None = None) -> None:
        n = len(stream)
        self.arrival, self.service, self.priority = arrival, service, priority
        self.start_s, self.replica_of = start_s, replica_of
        self.end_s = np.full(n, np.nan)                # set for cut, timed-out and lost requests
        self.timed_out = np.zeros(n, dtype=bool)
        self.failing = failing or set()                # services that some failure hits
        self.gone = bytearray(n) if any(s.timeout_s is not None for s in model.services) else None
        preemptive = any(is_preemptive(DISCIPLINES[s.discipline]) for s in model.services)
        self.remaining = list(service) if preemptive else []
        # requests whose service was cut (preemption, failure), and every segment of their service
        self.cut = bytearray(n) if preemptive or self.failing else None
        self.seg_request, self.seg_replica = array("q"), array("i")
        self.seg_start, self.seg_end = array("d"), array("d")
        # deadline-aware admission: per class, the latency target an arrival must be predicted to meet
        self.admission_target = admission_targets(model)
        admission = any(t < math.inf for t in self.admission_target)
        self.cls = stream.cls.tolist() if admission else []
        self.dropped = np.zeros(n, dtype=bool) if admission else None
        self.lost = np.zeros(n, dtype=bool) if model.failures else None
        self.retried = np.zeros(n, dtype=bool) if model.failures else None
        self.window = (float(model.warmup_s), float(model.duration_s))
        # tenant of each request, numbered within its service, and each service's tenant weights
        self.tenant_weights: dict[str, list[float]] = {}
        tenant_of_class: list[int] = []
        for c in model.classes:
            names = self.tenant_weights.setdefault(c.service, [])
            local = [k.tenant for k in model.classes if k.service == c.service]
            order = list(dict.fromkeys(local))
            if not names:
                names.extend(sum(k.weight for k in model.classes
                                 if k.service == c.service and k.tenant == t) for t in order)
            tenant_of_class.append(order.index(c.tenant))
        self.tenant = (np.array(tenant_of_class, dtype=np.int64)[stream.cls].tolist()
                       if n and tenant_of_class else [])
        # queue_cost "tokens": each request's input + output tokens, and each such service's mean (the
        # DRR quantum); _validate_stream made sure the stream has token counts
        self.tokens: list[int] = []
        self.mean_tokens: dict[str, float] = {}
        charged = [s.name for s in model.services if s.queue_cost == "tokens"]
        if charged and stream.input_tokens is not None and stream.output_tokens is not None:
            total = stream.input_tokens + stream.output_tokens
            self.tokens = total.tolist()
            for name in charged:
                mine = np.isin(stream.cls, [k for k, c in enumerate(model.classes) if c.service == name])
                self.mean_tokens[name] = max(float(total[mine].mean()), 1.0) if mine.any() else 1.0


def admission_targets(model: SimModel) -> list[float]:
    """Per class, the latency target deadline-aware admission holds its arrivals to (inf: none).

    A class uses its own ``admission`` if set, else its service's; ``deadline`` applies to a class with
    an SLO target only.
    """
    service_of = {s.name: s for s in model.services}
    targets = []
    for c in model.classes:
        mode = c.admission or service_of[c.service].admission
        deadline = mode == "deadline" and c.slo_target_s is not None
        targets.append(float(c.slo_target_s) if deadline else math.inf)  # type: ignore[arg-type]
    return targets


@dataclass(frozen=True, eq=False)
class Admitter:
    """A general-path service's entry points: ``admit(i)`` on arrival, and the failure hooks
    (`capacity.sim.failures`): ``fail_replica(replica, now) -> removed requests``,
    ``recover_replica(replica, now)``, ``readmit(i, now) -> admitted``."""

    admit: Callable[[int], None]
    fail_replica: Callable[[int, float], list[int]]
    recover_replica: Callable[[int, float], None]
    readmit: Callable[[int, float], bool]


#: Disciplines whose queue order starts with the priority level (for the admission predictor).
_LEVELLED = ("priority", "preemptive", "priority-fair")


def _general_admitter(env: simpy.Environment, model: SimModel, index: int, first_replica: int,
                      rec: _Records) -> Admitter:
    """The entry points of ``model.services[index]`` on the general path (module docstring).

    Queues ("groups") are numbered 0..G-1: one for ``central``, one per replica otherwise. Slots are
    numbered ``replica * concurrency + k`` within the service; group ``g`` owns slots
    ``base[g] .. base[g] + size - 1``.
    """
    svc = model.services[index]
    schedule = env.schedule
    arrival, service, priority = rec.arrival, rec.service, rec.priority
    start_s, replica_of, end_s, timed_out = rec.start_s, rec.replica_of, rec.end_s, rec.timed_out
    c, n_replicas = svc.concurrency, len(svc.replicas)
    routing = ROUTINGS[svc.routing]
    per_replica = routing.per_replica
    discipline = DISCIPLINES[svc.discipline]
    preemptive = is_preemptive(discipline)
    restart = svc.preemption == "restart"
    timeout = svc.timeout_s
    gone = rec.gone if timeout is not None else None
    max_length = svc.max_length if svc.max_length is not None else len(arrival) + 1
    cost, quantum = (rec.tokens, rec.mean_tokens.get(svc.name, 1.0)) if svc.queue_cost == "tokens" else (
        service, svc.service_time.mean_s)              # tokens, or seconds of service
    context = QueueContext(rec.tenant, rec.tenant_weights.get(svc.name, [1.0]), cost, gone,
                           quantum=quantum)
    levels = [k.priority for k in model.classes if k.service == svc.name]
    n_groups, size = (n_replicas, c) if per_replica else (1, n_replicas * c)
    queues = [discipline(levels, context) for _ in range(n_groups)]
    pushes, pops = [q.push for q in queues], [q.pop for q in queues]
    failing = svc.name in rec.failing
    per_group = n_replicas // n_groups
    pickers: list[Any] = [Central.slot_picker(per_group, c) for _ in range(n_groups)]
    if failing:
        pickers = [LiveSlots(p, c, per_group) for p in pickers]
    base = [g * size for g in range(n_groups)]
    rng = routing_rng(model.seed, svc.name)
    choose = routing.chooser(n_replicas, rng) if per_replica else None
    waiting = [0] * n_groups                   # requests really waiting in each queue
    outstanding = [0] * n_groups               # per replica: in service + waiting (per-replica only)
    n_slots = n_replicas * c
    group_of_slot = [slot // size for slot in range(n_slots)]
    replica_of_slot = [first_replica + slot // c for slot in range(n_slots)]
    in_service = [EMPTY] * n_slots
    segment_start = [0.0] * n_slots
    speed_of_slot = [svc.replicas[slot // c].speed for slot in range(n_slots)]
    scaled = any(v != 1.0 for v in speed_of_slot)
    ticks = [_Tick(env, slot) for slot in range(n_slots)]
    deadlines: deque[tuple[float, int, int]] = deque()   # (deadline, request, group), arrival order
    moved: dict[int, int] = {}                 # the group a retried, never-started request waits in
    remaining = rec.remaining
    cut = rec.cut if preemptive or failing else None
    seg_request, seg_replica, seg_start, seg_end = (rec.seg_request, rec.seg_replica, rec.seg_start,
                                                    rec.seg_end)
    # deadline-aware admission: the work queued per group and priority level, and in service per group
    targets, cls, dropped = rec.admission_target, rec.cls, rec.dropped
    predict = any(targets[k] < math.inf for k, c_ in enumerate(model.classes) if c_.service == svc.name)
    level_of = ({p: k for k, p in enumerate(sorted(set(levels)))} if svc.discipline in _LEVELLED
                else dict.fromkeys(levels, 0))
    n_levels = max(level_of.values(), default=0) + 1
    queued_work = [[0.0] * n_levels for _ in range(n_groups)]
    busy_end = [0.0] * n_groups                # sum of the end times of the segments in service
    busy_n = [0] * n_groups                    # slots in service
    # queued work is in seconds at speed 1: a group runs at its replicas' mean speed
    group_speed = [sum(speed_of_slot[base[g]:base[g] + size]) / size for g in range(n_groups)]
    slot_end = [0.0] * n_slots
    live = [n_replicas]                        # live replicas of the service
    live_ids: list[int] | None = None          # per-replica routing with a replica down: the live ones
    live_choose: Callable[[list[int]], int] | None = None

    def route() -> int:
        """The group (queue) of the next request: routing among the live replicas."""
        if choose is None:
            return 0
        if live_ids is None:
            return choose(outstanding)
        return live_ids[live_choose([outstanding[r] for r in live_ids])]  # type: ignore[misc]

    def work(j: int) -> float:
        return remaining[j] if preemptive else service[j]

    def begin(slot: int, j: int, now: float) -> None:
        """Request ``j`` starts (or resumes) service on ``slot`` at ``now``."""
        if replica_of[j] < 0:
            start_s[j] = now
        replica_of[j] = replica_of_slot[slot]
        in_service[slot] = j
        if cut is not None:
            segment_start[slot] = now
        if preemptive:
            tick = ticks[slot] = _Tick(env, slot)      # a fresh event: the old one may be pending
            duration = remaining[j]
        else:
            tick = ticks[slot]
            duration = service[j]
        if scaled:
            duration = duration / speed_of_slot[slot]  # a replica of speed v takes 1/v as long
        tick.callbacks = done
        schedule(tick, URGENT, duration)
        if predict:
            g = group_of_slot[slot]
            slot_end[slot] = end = now + duration
            busy_end[g] += end
            busy_n[g] += 1

    def vacate(slot: int) -> None:
        """The segment on ``slot`` ends (for the admission predictor)."""
        g = group_of_slot[slot]
        busy_n[g] -= 1
        busy_end[g] = busy_end[g] - slot_end[slot] if busy_n[g] else 0.0

    def record_segment(slot: int, j: int, now: float) -> None:
        """``j``'s service on ``slot`` was cut (or, cut before, ends) at ``now``: keep the segment."""
        cut[j] = 1                                     # type: ignore[index]
        seg_request.append(j)
        seg_replica.append(replica_of_slot[slot])
        seg_start.append(segment_start[slot])
        seg_end.append(now)

    def expire(now: float) -> None:
        """Every queued request whose deadline is at or before ``now`` and that never started leaves."""
        while deadlines and deadlines[0][0] <= now:
            deadline, j, g = deadlines.popleft()
            if moved:
                g = moved.pop(j, g)
            if replica_of[j] < 0 and not gone[j]:      # type: ignore[index]  (still waiting)
                gone[j] = 1                            # type: ignore[index]
                timed_out[j] = True
                end_s[j] = deadline
                waiting[g] -= 1
                outstanding[g] -= 1
                if predict:
                    queued_work[g][level_of[priority[j]]] -= work(j)

    def next_waiting(g: int) -> int:
        j = pops[g]()
        if gone is not None:
            while j != EMPTY and gone[j]:
                j = pops[g]()
        return j

    def interrupt_for(i: int, g: int, now: float) -> int:
        """Interrupt the least urgent request in service in group ``g`` for ``i``; its slot, or EMPTY."""
        slots: range | list[int] = range(base[g], base[g] + size)
        if failing:                                    # a failed replica's slots are empty
            slots = [s for s in slots if in_service[s] != EMPTY]
            if not slots:
                return EMPTY
        victim = max(slots, key=lambda s: (priority[in_service[s]], segment_start[s], in_service[s]))
        v = in_service[victim]
        if priority[v] <= priority[i]:
            return EMPTY
        record_segment(victim, v, now)
        done_work = (now - segment_start[victim]) * speed_of_slot[victim]   # seconds at speed 1
        remaining[v] = service[v] if restart else max(remaining[v] - done_work, 0.0)
        pushes[g](v, priority[v])                      # back to the queue; its old event is ignored
        waiting[g] += 1
        if predict:
            vacate(victim)
            queued_work[g][level_of[priority[v]]] += remaining[v]
        return victim

    def enter(i: int, now: float, g: int) -> bool:
        """Start ``i`` on a free slot of group ``g``, or queue it there; False if the queue is full."""
        picker = pickers[g]
        if picker.free:
            # through the queue (it holds no live request when a slot is free), so that the fair
            # disciplines charge the request to its tenant like any other
            pushes[g](i, priority[i])
            j = next_waiting(g)
            outstanding[g] += 1
            begin(base[g] + picker.take(), j, now)
            return True
        if preemptive:
            slot = interrupt_for(i, g, now)
            if slot != EMPTY:
                outstanding[g] += 1
                begin(slot, i, now)
                return True
        if waiting[g] >= max_length:
            return False                               # the queue is full
        pushes[g](i, priority[i])
        waiting[g] += 1
        outstanding[g] += 1
        if predict:
            queued_work[g][level_of[priority[i]]] += work(i)
        return True

    def predicted_wait(i: int, g: int, now: float) -> float:
        """Estimated wait of ``i`` in group ``g``: 0 with a free slot, else (remaining work in service
        + queued work at its level or more urgent) / live slots."""
        picker = pickers[g]
        if picker.free:
            return 0.0
        slots = picker.live_slots if failing else size
        in_progress = max(busy_end[g] - busy_n[g] * now, 0.0)
        queued = sum(queued_work[g][: level_of[priority[i]] + 1]) / group_speed[g]
        return (in_progress + queued) / slots

    def admit(i: int) -> None:
        now = arrival[i]
        if timeout is not None:
            expire(now)
        if not live[0]:
            return                                     # rejected: no live replica
        g = route()
        if predict:
            target = targets[cls[i]]
            if target < math.inf and predicted_wait(i, g, now) + service[i] / group_speed[g] > target:
                dropped[i] = True                      # type: ignore[index]
                return
        if enter(i, now, g) and timeout is not None and replica_of[i] < 0:
            deadlines.append((now + timeout, i, g))    # (otherwise rejected: the queue is full)

    def on_done(tick: _Tick) -> None:
        slot = tick.slot
        if tick is not ticks[slot]:
            return                                     # a cut segment's completion
        now = env._now
        g = group_of_slot[slot]
        outstanding[g] -= 1
        if cut is not None:
            j = in_service[slot]
            if cut[j]:
                record_segment(slot, j, now)
                end_s[j] = now
        if predict:
            vacate(slot)
        if timeout is not None:
            expire(now)
        j = next_waiting(g)
        if j == EMPTY:
            in_service[slot] = EMPTY
            pickers[g].release(slot - base[g])
        else:
            waiting[g] -= 1
            if predict:
                queued_work[g][level_of[priority[j]]] -= work(j)
            begin(slot, j, now)

    def set_live_routing() -> None:
        nonlocal live_ids, live_choose
        if not per_replica:
            return
        ids = [g for g in range(n_groups) if pickers[g].live_replicas]
        live_ids = None if len(ids) == n_replicas else ids
        live_choose = routing.chooser(len(ids), rng) if live_ids else None

    def fail_replica(replica: int, now: float) -> list[int]:
        """Take ``replica`` (global index) down; return the requests removed (see capacity.sim.failures)."""
        r = replica - first_replica
        if timeout is not None:
            expire(now)
        g = r if per_replica else 0
        local = 0 if per_replica else r
        removed: list[int] = []
        busy_slots: list[int] = []
        for slot in range(r * c, (r + 1) * c):
            j = in_service[slot]
            if j == EMPTY:
                continue
            record_segment(slot, j, now)
            if preemptive:
                remaining[j] = service[j]              # the work done is lost
            if predict:
                vacate(slot)
            in_service[slot] = EMPTY
            ticks[slot] = _Tick(env, slot)             # its pending completion is now stale
            outstanding[g] -= 1
            busy_slots.append(slot - base[g])
            removed.append(j)
        pickers[g].fail(local, c - len(busy_slots))
        for slot in busy_slots:
            pickers[g].park(slot)
        live[0] -= 1
        if per_replica or not live[0]:
            # its own queue (or the shared one, with no replica left) empties
            while (j := next_waiting(g)) != EMPTY:
                removed.append(j)
                if gone is not None:
                    gone[j] = 1                        # its deadline is ignored unless it waits again
            waiting[g] = outstanding[g] = 0
            queued_work[g] = [0.0] * n_levels
            if per_replica:
                queues[g] = discipline(levels, context)
                pushes[g], pops[g] = queues[g].push, queues[g].pop
        set_live_routing()
        removed.sort()
        return removed

    def recover_replica(replica: int, now: float) -> None:
        """Bring ``replica`` back, empty; under central routing it serves the shared queue at once."""
        r = replica - first_replica
        if timeout is not None:
            expire(now)
        g = r if per_replica else 0
        picker = pickers[g]
        picker.recover(0 if per_replica else r)
        live[0] += 1
        set_live_routing()
        while picker.free:
            j = next_waiting(g)
            if j == EMPTY:
                break
            waiting[g] -= 1
            if predict:
                queued_work[g][level_of[priority[j]]] -= work(j)
            begin(base[g] + picker.take(), j, now)

    def readmit(j: int, now: float) -> bool:
        """Admit ``j`` again at ``now`` after a failure (no admission test); False if it cannot be."""
        if not live[0]:
            return False
        if gone is not None:
            gone[j] = 0
        g = route()
        if not enter(j, now, g):
            if gone is not None:
                gone[j] = 1
            return False
        if timeout is not None and replica_of[j] < 0:
            moved[j] = g                               # its deadline (from its arrival) still holds
        return True

    done = [on_done]
    return Admitter(admit, fail_replica, recover_replica, readmit)


def _result(model: SimModel, stream: RequestStream, start_s: np.ndarray, end_s: np.ndarray,
            replica_of: np.ndarray, records: _Records | None = None,
            driver: FailureDriver | None = None) -> SimResult:
    """Package the records with per-replica busy time and served counts inside the window."""
    lo, hi = float(model.warmup_s), float(model.duration_s)
    n = len(stream)
    names = tuple(r.name for s in model.services for r in s.replicas)
    n_replicas = len(names)
    timed_out = dropped = lost = retried = None
    segments = None
    if records is not None:
        timed_out, dropped, lost, retried = (records.timed_out, records.dropped, records.lost,
                                             records.retried)
        if lost is not None:
            replica_of[lost] = -1                      # a lost request may have started: not served
        if records.seg_request:
            segments = (np.frombuffer(records.seg_request, dtype=np.int64).copy(),
                        np.frombuffer(records.seg_replica, dtype=np.int32).copy(),
                        np.frombuffer(records.seg_start, dtype=np.float64).copy(),
                        np.frombuffer(records.seg_end, dtype=np.float64).copy())
    served_mask = replica_of >= 0
    measured = (stream.arrival_s >= lo) & (stream.arrival_s < hi)
    busy = busy_in_window(start_s[served_mask], end_s[served_mask], lo, hi)
    request_busy = None
    if segments is None:
        busy_s = np.bincount(replica_of[served_mask], weights=busy, minlength=n_replicas)
    else:
        # a request whose service was cut is busy over its segments only
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
    # np.bincount of an empty array is int64 even with weights: the batchers write float busy times here
    busy_s = busy_s.astype(np.float64, copy=False)
    return SimResult(
        cls=stream.cls, arrival_s=stream.arrival_s, service_s=stream.service_s,
        start_s=start_s, end_s=end_s, replica=replica_of,
        replica_names=names,
        replica_service=np.array([k for k, s in enumerate(model.services) for _ in s.replicas],
                                 dtype=np.int32),
        replica_slots=np.array([s.concurrency for s in model.services for _ in s.replicas],
                               dtype=np.int64),
        busy_s=busy_s,
        served=np.bincount(replica_of[served_mask & measured], minlength=n_replicas),
        window_s=(lo, hi),
        timed_out=timed_out if timed_out is not None else np.zeros(n, dtype=bool),
        busy_request_s=request_busy,
        dropped=dropped, lost=lost, retried=retried, segments=segments,
        failures=tuple(driver.records) if driver is not None else (),
        downtime=driver.downtime() if driver is not None else None,
    )


def simulate_model(model: SimModel) -> SimResult:
    """Draw the model's requests from ``model.seed`` and replay them; see the module docstring."""
    return simulate_requests(model, generate_requests(model))
