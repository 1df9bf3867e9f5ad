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
   ``max_length``, no ``timeout_s``), whose code path is kept minimal for speed. Any other service runs
   the **general path** (`_general_admitter`), with the same two kinds of events and these additions:

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

**Statistics window.** Arrivals stop at ``duration_s``; the run drains (every admitted request completes,
the clock may pass ``duration_s``). Latency and wait statistics are over requests that arrived in
``[warmup_s, duration_s)``; utilisation is busy slot-seconds inside ``[warmup_s, duration_s]`` divided by
``slots × (duration_s − warmup_s)`` (see `capacity.sim.result`).

**Randomness.** Every draw comes from ``model.seed``. Each class has two independent streams, one for
arrivals and one for service times, seeded by ``SeedSequence(seed, spawn_key=(hash(class name), purpose))``
with a stable 64-bit BLAKE2b hash of the class name: the same model gives identical results, and adding,
removing or reordering classes does not change the draws of the others (only their merge order). The
``random`` and ``power-of-two`` routings draw from a third stream per service, keyed by the service name
(`routing_rng`).

Times are seconds, rates per second.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT, Event

from capacity.sim.arrivals import ARRIVAL_PROCESSES, arrival_process
from capacity.sim.disciplines import DISCIPLINES, EMPTY, QueueContext, is_preemptive
from capacity.sim.model import Arrivals, ServingService, SimModel
from capacity.sim.result import SimResult, busy_in_window
from capacity.sim.routing import ROUTINGS, Central
from capacity.sim.service_times import SERVICE_TIMES

ARRIVALS_STREAM = 0
SERVICE_STREAM = 1
ROUTING_STREAM = 2


def is_plain(service: ServingService) -> bool:
    """Whether the service runs the minimal fast path (see the module docstring)."""
    return (service.routing == "central" and service.discipline in ("fifo", "priority")
            and service.max_length is None and service.timeout_s is None)


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
        if st.dist not in SERVICE_TIMES:
            raise bad(f"{where}.service_time.dist", f"must be one of {sorted(SERVICE_TIMES)}", st.dist)
        if not finite(st.mean_s) or st.mean_s <= 0:
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
    """The generator of one class and purpose (`ARRIVALS_STREAM` or `SERVICE_STREAM`)."""
    name_key = int.from_bytes(hashlib.blake2b(class_name.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(name_key, purpose)))


def routing_rng(seed: int, service_name: str) -> np.random.Generator:
    """The generator of a service's random routing choices."""
    return class_rng(seed, service_name, ROUTING_STREAM)


def generate_requests(model: SimModel) -> RequestStream:
    """Draw every class's arrivals and service times and merge them into one stream."""
    validate_model(model)
    service_of = {s.name: s for s in model.services}
    classes, arrivals, services = [], [], []
    for k, c in enumerate(model.classes):
        st = service_of[c.service].service_time
        t = arrival_process(c.arrivals).times(
            class_rng(model.seed, c.name, ARRIVALS_STREAM), c.arrivals.rate_per_s, model.duration_s)
        s = SERVICE_TIMES[st.dist]().sample(
            class_rng(model.seed, c.name, SERVICE_STREAM), len(t), st.mean_s, st.cv)
        classes.append(np.full(len(t), k, dtype=np.int32))
        arrivals.append(t)
        services.append(s)
    if not classes:
        return RequestStream(np.empty(0, np.int32), np.empty(0), np.empty(0))
    return RequestStream.from_arrays(np.concatenate(classes), np.concatenate(arrivals),
                                     np.concatenate(services))


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
    general = [not is_plain(s) and bool(s.replicas) for s in model.services]
    records = _Records(model, stream, arrival, service, priority, start_s, replica_of) if any(
        general) else None

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
        elif general[index]:
            assert records is not None
            admit_of_service[svc.name] = _general_admitter(env, model, index, first_replica, records)
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
    if n:
        arrival_tick = _Tick(env, -1)
        arrival_tick.callbacks = again
        schedule(arrival_tick, NORMAL, arrival[0])
        env.run()
    # end = start + service: the same float addition the SimPy clock made to schedule the completion
    end_s = start_s + stream.service_s
    if records is None:
        return _result(model, stream, start_s, end_s, replica_of)
    explicit = ~np.isnan(records.end_s)                # interrupted or timed-out requests
    end_s[explicit] = records.end_s[explicit]
    return _result(model, stream, start_s, end_s, replica_of, records)


class _Records:
    """What the general path writes besides start times and replicas (see `_general_admitter`)."""

    def __init__(self, model: SimModel, stream: RequestStream, arrival: list[float],
                 service: list[float], priority: list[int], start_s: np.ndarray,
                 replica_of: np.ndarray) -> None:
        n = len(stream)
        self.arrival, self.service, self.priority = arrival, service, priority
        self.start_s, self.replica_of = start_s, replica_of
        self.end_s = np.full(n, np.nan)                # set for interrupted and timed-out requests
        self.timed_out = np.zeros(n, dtype=bool)
        self.gone = bytearray(n) if any(s.timeout_s is not None for s in model.services) else None
        preemptive = [is_preemptive(DISCIPLINES[s.discipline]) for s in model.services]
        self.remaining = list(service) if any(preemptive) else []
        # busy time of interrupted services is counted segment by segment (inside the window)
        self.segmented = np.zeros(n, dtype=bool)
        if any(preemptive):
            services = [s.name for s, p in zip(model.services, preemptive, strict=True) if p]
            self.segmented = np.isin(stream.cls, [k for k, c in enumerate(model.classes)
                                                  if c.service in services])
        self.request_busy = [0.0] * n if any(preemptive) else []
        self.replica_busy = [0.0] * sum(len(s.replicas) for s in model.services)
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


def _general_admitter(env: simpy.Environment, model: SimModel, index: int, first_replica: int,
                      rec: _Records) -> Callable[[int], None]:
    """The admit function of ``model.services[index]`` on the general path (module docstring).

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
    context = QueueContext(rec.tenant, rec.tenant_weights.get(svc.name, [1.0]), service, gone,
                           quantum_s=svc.service_time.mean_s)
    levels = [k.priority for k in model.classes if k.service == svc.name]
    n_groups, size = (n_replicas, c) if per_replica else (1, n_replicas * c)
    queues = [discipline(levels, context) for _ in range(n_groups)]
    pushes, pops = [q.push for q in queues], [q.pop for q in queues]
    pickers = [Central.slot_picker(n_replicas // n_groups, c) for _ in range(n_groups)]
    base = [g * size for g in range(n_groups)]
    choose = routing.chooser(n_replicas, routing_rng(model.seed, svc.name)) if per_replica else None
    waiting = [0] * n_groups                   # requests really waiting in each queue
    outstanding = [0] * n_groups               # per replica: in service + waiting (per-replica only)
    n_slots = n_replicas * c
    group_of_slot = [slot // size for slot in range(n_slots)]
    replica_of_slot = [first_replica + slot // c for slot in range(n_slots)]
    in_service = [EMPTY] * n_slots
    segment_start = [0.0] * n_slots
    ticks = [_Tick(env, slot) for slot in range(n_slots)]
    deadlines: deque[tuple[float, int, int]] = deque()   # (deadline, request, group), arrival order
    remaining, request_busy, replica_busy = rec.remaining, rec.request_busy, rec.replica_busy
    lo, hi = rec.window

    def begin(slot: int, j: int, now: float) -> None:
        """Request ``j`` starts (or resumes) service on ``slot`` at ``now``."""
        if replica_of[j] < 0:
            start_s[j] = now
        replica_of[j] = replica_of_slot[slot]
        in_service[slot] = j
        if preemptive:
            segment_start[slot] = now
            tick = ticks[slot] = _Tick(env, slot)      # a fresh event: the old one may be pending
            tick.callbacks = done
            schedule(tick, URGENT, remaining[j])
        else:
            tick = ticks[slot]
            tick.callbacks = done
            schedule(tick, URGENT, service[j])

    def account(slot: int, j: int, now: float) -> None:
        """Count the busy time of ``j``'s segment on ``slot`` that ends at ``now`` (inside the window)."""
        busy = min(now, hi) - max(segment_start[slot], lo)
        if busy > 0.0:
            request_busy[j] += busy
            replica_busy[replica_of_slot[slot]] += busy

    def expire(now: float) -> None:
        """Every queued request whose deadline is at or before ``now`` and that never started leaves."""
        while deadlines and deadlines[0][0] <= now:
            deadline, j, g = deadlines.popleft()
            if replica_of[j] < 0:                      # still waiting (it never started)
                gone[j] = 1                            # type: ignore[index]
                timed_out[j] = True
                end_s[j] = deadline
                waiting[g] -= 1
                outstanding[g] -= 1

    def next_waiting(g: int) -> int:
        j = pops[g]()
        if gone is not None:
            while j != EMPTY and gone[j]:
                j = pops[g]()
        return j

    def interrupt_for(i: int, g: int, now: float) -> int:
        """Interrupt the least urgent request in service in group ``g`` for ``i``; its slot, or EMPTY."""
        victim = max(range(base[g], base[g] + size),
                     key=lambda s: (priority[in_service[s]], segment_start[s], in_service[s]))
        v = in_service[victim]
        if priority[v] <= priority[i]:
            return EMPTY
        account(victim, v, now)
        remaining[v] = service[v] if restart else max(remaining[v] - (now - segment_start[victim]), 0.0)
        pushes[g](v, priority[v])                      # back to the queue; its old event is ignored
        waiting[g] += 1
        return victim

    def admit(i: int) -> None:
        now = arrival[i]
        if timeout is not None:
            expire(now)
        g = choose(outstanding) if choose is not None else 0
        picker = pickers[g]
        if picker.free:
            # through the queue (it holds no live request when a slot is free), so that the fair
            # disciplines charge the request to its tenant like any other
            pushes[g](i, priority[i])
            j = next_waiting(g)
            outstanding[g] += 1
            begin(base[g] + picker.take(), j, now)
            return
        if preemptive:
            slot = interrupt_for(i, g, now)
            if slot != EMPTY:
                outstanding[g] += 1
                begin(slot, i, now)
                return
        if waiting[g] >= max_length:
            return                                     # rejected: the queue is full
        pushes[g](i, priority[i])
        waiting[g] += 1
        outstanding[g] += 1
        if timeout is not None:
            deadlines.append((now + timeout, i, g))

    def on_done(tick: _Tick) -> None:
        slot = tick.slot
        if tick is not ticks[slot]:
            return                                     # an interrupted segment's completion
        now = env._now
        g = group_of_slot[slot]
        outstanding[g] -= 1
        if preemptive:
            j = in_service[slot]
            account(slot, j, now)
            end_s[j] = now
        if timeout is not None:
            expire(now)
        j = next_waiting(g)
        if j == EMPTY:
            in_service[slot] = EMPTY
            pickers[g].release(slot - base[g])
        else:
            waiting[g] -= 1
            begin(slot, j, now)

    done = [on_done]
    return admit


def _result(model: SimModel, stream: RequestStream, start_s: np.ndarray, end_s: np.ndarray,
            replica_of: np.ndarray, records: _Records | None = None) -> SimResult:
    """Package the records with per-replica busy time and served counts inside the window."""
    lo, hi = float(model.warmup_s), float(model.duration_s)
    names = tuple(r.name for s in model.services for r in s.replicas)
    n_replicas = len(names)
    served_mask = replica_of >= 0
    measured = (stream.arrival_s >= lo) & (stream.arrival_s < hi)
    busy = busy_in_window(start_s[served_mask], end_s[served_mask], lo, hi)
    busy_s = np.bincount(replica_of[served_mask], weights=busy, minlength=n_replicas)
    timed_out = np.zeros(len(stream), dtype=bool)
    request_busy = None
    if records is not None:
        timed_out = records.timed_out
        if records.request_busy:                       # a preemptive service: count its segments
            request_busy = np.zeros(len(stream))
            request_busy[served_mask] = busy
            segmented = records.segmented
            request_busy[segmented] = np.asarray(records.request_busy)[segmented]
            plain = served_mask & ~segmented
            busy_s = (np.bincount(replica_of[plain], weights=request_busy[plain],
                                  minlength=n_replicas)
                      + np.asarray(records.replica_busy))
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
        timed_out=timed_out,
        busy_request_s=request_busy,
    )


def simulate_model(model: SimModel) -> SimResult:
    """Draw the model's requests from ``model.seed`` and replay them; see the module docstring."""
    return simulate_requests(model, generate_requests(model))
