"""Batching replicas: dynamic (Triton-style) and continuous (iteration-level, vLLM-style) batching.

A service with ``batching`` runs here instead of the engine's one-request-per-slot paths
(`capacity.sim.engine`). Its replicas have ``concurrency`` **slots**; a slot runs one batch at a time
(dynamic) or one running batch of iterations (continuous: a slot is one inference engine). Requests wait in
a queue with the service's discipline (`capacity.sim.disciplines`; ``preemptive`` is not available here):
one queue for the service (``central`` routing) or one per replica (the other routings choose the replica
on arrival from the replicas' outstanding requests, waiting plus in service, as in `capacity.sim.routing`).
A batch always takes its requests in **discipline order**. ``max_length`` counts waiting requests (not yet
in a batch): an arrival that finds that many is rejected. ``timeout_s``: a request still waiting that long
after it was admitted leaves (timed out; its end time is its deadline; the deadline is inclusive, as in the
engine).

**Decision points.** Batches are formed at the end of an instant: after every completion (SimPy priority
``URGENT``) and every arrival (``NORMAL``) at time ``t``, a decision event (priority `DECIDE`, after both)
forms the batches of the group (queue) that changed. So requests that arrive at the very instant a slot
frees, or a ``max_delay`` expires, are in time for that batch.

**Dynamic batching** (`DynamicBatcher`). At a decision point at time ``t``, while the group has a free
slot and requests wait:

* ``max_size`` or more wait → a batch of ``max_size`` starts now;
* fewer wait, and the oldest waiting request (by arrival time, then sequence) arrived at ``a`` with
  ``a + max_delay_s <= t`` → a batch of all of them starts now;
* otherwise a timer is set for ``a + max_delay_s`` (a decision point then) and nothing starts.

The free slot is on the replica with the most free slots, ties to the lowest replica index (the rule of
`capacity.sim.routing`). A batch of ``k`` requests on a replica of speed ``v`` takes
``(base_s + fsum(service_s of its k requests)) / v`` seconds (``fsum``: the exactly rounded sum, so a
deterministic ``per_item`` gives exactly ``base_s + per_item · k``); all its requests start and end
together.

**Continuous batching** (`ContinuousBatcher`, token services only; `capacity.sim.service_times`). A slot
is an engine that runs **iterations** back to back while it has work:

* a **prefill** iteration for the requests that join at a decision point:
  ``(base_s + fsum(in_i · per_input_token_s)) / v``; the running requests produce nothing meanwhile;
* otherwise a **decode** iteration in which each of the ``b`` running requests produces one token:
  ``per_output_token_s · (1 + step_growth · (b − 1)) / v``.

After a prefill the joiners run; a request's first token is out at the end of its first decode iteration,
and it leaves at the end of the decode iteration that produces its last token (``output_tokens`` of them;
a request with none leaves after its prefill). At a decision point (the end of any iteration, or an
arrival while an engine idles) waiting requests join the engines that are between iterations, up to
``max_size`` requests per engine (running plus joining), each one to the engine with the fewest, ties to
the lowest slot number. Like vLLM's, requests join and leave between iterations; unlike its default
scheduler, prefill is **not chunked** (a prefill iteration runs all its joiners' prompts at once, and the
running requests produce nothing meanwhile), and KV-cache memory is not modelled (``max_size`` is the
only limit). A request alone on an engine of speed 1 therefore takes exactly the plain token
time ``base + in · per_input + out · per_output``, and its first token comes ``base + in · per_input +
per_output`` after it started. One event per iteration (and per decision point), not per token.

**Busy time.** A slot is busy while it runs a batch or an iteration: a batch counts its duration once
(one slot), however many requests it holds, so a replica's utilisation is the share of slot-time it was
running batches. For tenant shares, a dynamic batch's busy time is split among its requests in
proportion to their own ``service_s`` (equally when those are all 0); a prefill's in proportion to
``base_s / k + in_i · per_input_token_s``; a decode iteration's equally among its running requests (kept
as one running sum per engine, so a request's share costs O(1) when it joins and leaves).

**Batch occupancy.** Utilisation says how much of the time a slot was running; with continuous batching
an engine runs whenever it holds one request, so it reads near 1 at any load. The occupancy says how full
the batches were: a replica's *sequence-seconds* (the number of requests held by its running batches,
integrated over the window: a dynamic batch's size over its duration; an engine's running plus joining
requests over each iteration, a prefill included) divided by ``concurrency × max_size × window``. 1 means
every slot ran full batches all the time.

**Failures** (`capacity.sim.failures` calls these hooks). `Batcher.fail_replica` takes a replica out of
service and returns, in sequence order, the requests queued for it (its own queue under per-replica
routing; with ``central`` routing the shared queue only when no live replica is left) and those in flight
on it (in a batch, prefilling or decoding): in-flight requests lose their progress, their records are
cleared but for the first start time, and the busy time counts up to the failure. `Batcher.readmit`
queues such a request again (it keeps its arrival time, which also dates its ``max_delay`` and its
timeout; a retry whose timeout deadline passed while it was in service waits without one) and says
whether it got in; `Batcher.recover_replica` brings the replica back, idle. With replicas down,
per-replica routing applies its rule to the live replicas only (drawing from the same generator), as the
general path does; with none live, arrivals are rejected.

**Lifecycle** (`capacity.sim.runtime`): a batcher is a service runtime, so replicas may be added (their
slots idle until the cold start is over) and drained during a run. A replica **serves** (forms batches,
takes joiners) while it is ready, and while it drains under a per-replica routing (its own queue); a
draining replica under ``central`` routing finishes its batches — a continuous engine runs its requests
to their last token without taking joiners — and stops once all its slots are idle.

Times are seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import ClassVar

import numpy as np
import simpy
from simpy.events import URGENT

from capacity.sim.batcher import Batcher, BatchRecords
from capacity.sim.disciplines import DISCIPLINES, EMPTY
from capacity.sim.events import DECIDE, Callbacks, Tick
from capacity.sim.llm_batching import LlmBatcher
from capacity.sim.model import Batching, ServingService, SimModel
from capacity.sim.replicas import Fleet, ReplicaState, ServingReplica
from capacity.sim.result import SimResult
from capacity.sim.service_times import token_first_token_s


class DynamicBatcher(Batcher):
    """Dynamic batching: see the module docstring."""

    mode: ClassVar[str] = "dynamic"
    tokens: ClassVar[bool] = False
    parameters: ClassVar[tuple[str, ...]] = ("max_delay_s",)
    base_time: ClassVar[bool] = True

    def __init__(self, env: simpy.Environment, fleet: Fleet, model: SimModel, index: int,
                 rec: BatchRecords) -> None:
        super().__init__(env, fleet, model, index, rec)
        self.max_delay = self.batching.max_delay_s
        self.base = self.svc.service_time.base_s
        n_slots = len(self.replicas) * self.c
        self.batch: list[list[int]] = [[] for _ in range(n_slots)]
        self.batch_start = [0.0] * n_slots
        self.armed = [math.nan] * self.n_groups         # deadline of the timer last set per group
        self._timer_callbacks: Callbacks = [self._on_timer]
        self._done_callbacks: Callbacks = [self._on_done]

    def _grow_slots(self, n: int) -> None:
        self.batch.extend([] for _ in range(n))
        self.batch_start.extend([0.0] * n)
        if self.per_replica:
            self.armed.append(math.nan)

    def decide(self, g: int, t: float) -> None:
        now = self.env._now
        if self.timeout is not None:
            self.expire(now)
        while self.waiting[g] and self.has_free_slot(g):
            if self.waiting[g] < self.max_size:
                due = self.oldest_arrival(g) + self.max_delay
                if due > t:
                    if self.armed[g] != due:
                        self.armed[g] = due
                        timer = Tick(self.env, g, due)
                        timer.callbacks = self._timer_callbacks
                        self.env.schedule(timer, DECIDE, due - now)
                    return
            self.dispatch(g, now)

    def _on_timer(self, timer: Tick) -> None:
        # compare with the deadline the timer was set for: the clock may land an ulp before it
        self.decide(timer.slot, max(self.env._now, timer.at))

    def dispatch(self, g: int, now: float) -> None:
        """Start a batch of up to ``max_size`` waiting requests (discipline order) on a free slot."""
        slot = self.free_slot(g)
        members: list[int] = []
        while len(members) < self.max_size:
            j = self.take(g)
            if j == EMPTY:
                break
            members.append(j)
            self.begin_service(j, slot, now)
        service = self.rec.service
        duration = (self.base + math.fsum(service[j] for j in members)) / self.speed[slot // self.c]
        self.batch[slot] = members
        self.batch_start[slot] = now
        tick = self.ticks[slot] = Tick(self.env, slot)
        tick.callbacks = self._done_callbacks
        self.env.schedule(tick, URGENT, duration)

    def _share(self, slot: int, now: float) -> None:
        """Account the batch on ``slot`` from its start to ``now`` and split it among its requests."""
        members = self.batch[slot]
        busy = self.account(slot, self.batch_start[slot], now, len(members))
        if busy > 0.0 and members:
            service = self.rec.service
            total = math.fsum(service[j] for j in members)
            for j in members:
                self.rec.busy_request[j] += (busy * service[j] / total if total > 0.0
                                             else busy / len(members))

    def _on_done(self, tick: Tick) -> None:
        slot = tick.slot
        if tick is not self.ticks[slot]:
            return                                     # the batch of a failed replica
        now = self.env._now
        self._share(slot, now)
        for j in self.batch[slot]:
            self.finish(j, now)
        self.batch[slot] = []
        self.ticks[slot] = None
        self.release(slot)
        self.request_decision(self.group_of_replica(slot // self.c))

    def requests_in_service(self) -> int:
        return sum(len(b) for b in self.batch)

    def in_flight(self, slot: int) -> list[int]:
        members = self.batch[slot]
        if members:
            self._share(slot, self.env._now)
            self.batch[slot] = []
        return members


class ContinuousBatcher(Batcher):
    """Continuous (iteration-level) batching of token requests: see the module docstring."""

    mode: ClassVar[str] = "continuous"
    tokens: ClassVar[bool] = True
    parameters: ClassVar[tuple[str, ...]] = ("step_growth",)
    base_time: ClassVar[bool] = False

    def __init__(self, env: simpy.Environment, fleet: Fleet, model: SimModel, index: int,
                 rec: BatchRecords) -> None:
        super().__init__(env, fleet, model, index, rec)
        st = self.svc.service_time
        self.base, self.per_in, self.per_out = st.base_s, st.per_input_token_s, st.per_output_token_s
        self.growth = self.batching.step_growth
        n_slots = len(self.replicas) * self.c
        self.running: list[list[tuple[int, int]]] = [[] for _ in range(n_slots)]  # heaps (last step, j)
        self.joiners: list[list[int]] = [[] for _ in range(n_slots)]    # in prefill (or about to be)
        self.fresh: list[list[int]] = [[] for _ in range(n_slots)]      # waiting for their first token
        self.steps = [0] * n_slots                     # decode iterations done
        self.share = [0.0] * n_slots                   # running sum of decode busy per running request
        self.phase_prefill = [False] * n_slots
        self.iteration_start = [0.0] * n_slots
        self.boundary: list[list[int]] = [[] for _ in range(self.n_groups)]   # slots between iterations
        self._done_callbacks: Callbacks = [self._on_iteration]

    def _grow_slots(self, n: int) -> None:
        for per_slot in (self.running, self.joiners, self.fresh):
            per_slot.extend([] for _ in range(n))
        self.steps.extend([0] * n)
        self.share.extend([0.0] * n)
        self.phase_prefill.extend([False] * n)
        self.iteration_start.extend([0.0] * n)
        if self.per_replica:
            self.boundary.append([])

    def _load(self, slot: int) -> int:
        return len(self.running[slot]) + len(self.joiners[slot])

    def requests_in_service(self) -> int:
        return sum(len(r) + len(j) for r, j in zip(self.running, self.joiners, strict=True))

    def decide(self, g: int, t: float) -> None:
        now = self.env._now
        if self.timeout is not None:
            self.expire(now)
        serving, c = self.serving, self.c
        # engines between iterations: those of serving replicas may take joiners; those of a replica
        # draining under central routing run on with what they hold
        ready = [s for s in self.boundary[g] if serving[s // c]]
        finishing = [s for s in self.boundary[g] if not serving[s // c]]
        self.boundary[g] = []
        if self.waiting[g]:
            # idle engines of serving replicas are between iterations too
            idle = [s for r in self.replicas_of(g) if serving[r] for s in self.free[r]]
            for r in self.replicas_of(g):
                if serving[r]:                         # the others keep their slots
                    self.free[r] = []
            ready.extend(idle)
            heap = [(self._load(s), s) for s in ready if self._load(s) < self.max_size]
            heapify(heap)
            while self.waiting[g] and heap:
                load, s = heappop(heap)
                j = self.take(g)
                if j == EMPTY:
                    break
                self.joiners[s].append(j)
                self.begin_service(j, s, now)
                if load + 1 < self.max_size:
                    heappush(heap, (load + 1, s))
        for s in sorted(ready + finishing) if finishing else sorted(ready):
            self.start_iteration(s, now)

    def start_iteration(self, slot: int, now: float) -> None:
        """Run the next iteration on ``slot``: a prefill of its joiners, else a decode step, else idle."""
        speed = self.speed[slot // self.c]
        if self.joiners[slot]:
            inputs = self.rec.input_tokens
            duration = (self.base + math.fsum(inputs[j] * self.per_in for j in self.joiners[slot])) / speed
            self.phase_prefill[slot] = True
        elif self.running[slot]:
            b = len(self.running[slot])
            step = self.per_out * (1.0 + self.growth * (b - 1)) if b > 1 else self.per_out
            duration = step / speed
            self.phase_prefill[slot] = False
        else:
            self.ticks[slot] = None
            self.release(slot)                         # idle
            return
        self.iteration_start[slot] = now
        tick = self.ticks[slot] = Tick(self.env, slot)
        tick.callbacks = self._done_callbacks
        self.env.schedule(tick, URGENT, duration)

    def _account_prefill(self, slot: int, now: float) -> None:
        joiners = self.joiners[slot]
        busy = self.account(slot, self.iteration_start[slot], now, len(joiners) + len(self.running[slot]))
        if busy > 0.0 and joiners:
            inputs, k = self.rec.input_tokens, len(joiners)
            weights = [self.base / k + inputs[j] * self.per_in for j in joiners]
            total = math.fsum(weights)
            for j, w in zip(joiners, weights, strict=True):
                self.rec.busy_request[j] += busy * w / total if total > 0.0 else busy / k

    def _on_iteration(self, tick: Tick) -> None:
        slot = tick.slot
        if tick is not self.ticks[slot]:
            return                                     # an iteration of a failed replica
        now = self.env._now
        rec = self.rec
        running = self.running[slot]
        if self.phase_prefill[slot]:
            self._account_prefill(slot, now)
            outputs, busy = rec.output_tokens, rec.busy_request
            for j in self.joiners[slot]:
                if outputs[j] <= 0:
                    self.finish(j, now)                # nothing to generate
                else:
                    heappush(running, (self.steps[slot] + outputs[j], j))
                    busy[j] -= self.share[slot]
                    self.fresh[slot].append(j)
            self.joiners[slot] = []
        else:
            busy_now = self.account(slot, self.iteration_start[slot], now, len(running))
            self.share[slot] += busy_now / len(running)
            self.steps[slot] += 1
            for j in self.fresh[slot]:
                rec.first_token_s[j] = now
            self.fresh[slot] = []
            steps, share = self.steps[slot], self.share[slot]
            while running and running[0][0] <= steps:
                j = heappop(running)[1]
                rec.busy_request[j] += share
                self.finish(j, now)
        self.ticks[slot] = None
        g = self.group_of_replica(slot // self.c)
        self.boundary[g].append(slot)
        self.request_decision(g)

    def in_flight(self, slot: int) -> list[int]:
        now = self.env._now
        rec = self.rec
        if self.ticks[slot] is not None:               # an iteration is under way: count it so far
            if self.phase_prefill[slot]:
                self._account_prefill(slot, now)
            elif self.running[slot]:
                busy_now = self.account(slot, self.iteration_start[slot], now, len(self.running[slot]))
                self.share[slot] += busy_now / len(self.running[slot])
        members = list(self.joiners[slot])
        for _, j in sorted(self.running[slot]):
            rec.busy_request[j] += self.share[slot]
            members.append(j)
        self.joiners[slot], self.running[slot], self.fresh[slot] = [], [], []
        return members

    def _take_down(self, replica: ServingReplica, was: ReplicaState, now: float) -> list[int]:
        r = replica.local
        g = self.group_of_replica(r)
        out = super()._take_down(replica, was, now)
        # slots of the failed replica that were between iterations hold nothing any more
        self.boundary[g] = [s for s in self.boundary[g] if s // self.c != r]
        return out


BATCHERS: dict[str, type[Batcher]] = {
    DynamicBatcher.mode: DynamicBatcher,
    ContinuousBatcher.mode: ContinuousBatcher,
    LlmBatcher.mode: LlmBatcher,
}
"""The batching modes by name, complete on import (``llm``: `capacity.sim.llm_batching`, chosen by a service's
``llm``; its base classes live in `capacity.sim.batcher`, so this module imports it without a cycle)."""


def token_services(model: SimModel) -> list[int]:
    """Indices of the services whose service time comes from token counts."""
    return [k for k, s in enumerate(model.services) if s.service_time.tokens]


def finalize(model: SimModel, result: SimResult, rec: BatchRecords | None,
             input_tokens: np.ndarray | None, output_tokens: np.ndarray | None,
             speed: np.ndarray) -> SimResult:
    """Put the batching services' records (and every token service's first-token times) into ``result``.

    The engine's generic bookkeeping counts a request busy over ``[start_s, end_s]``; a batch is one slot
    busy for its duration, so the replicas of batching services get the busy time the batchers measured
    and their requests the shares described in the module docstring. ``speed`` is each replica's speed
    (global index).
    """
    n = len(result)
    result.input_tokens, result.output_tokens = input_tokens, output_tokens
    if rec is not None:
        batched_services = {b.svc.name for b in rec.services}
        classes = [k for k, c in enumerate(model.classes) if c.service in batched_services]
        mine = np.isin(result.cls, classes)
        # end times: the batchers' (completed, timed out); a request lost to a failure keeps the time
        # the failure driver gave it; any other never ended (refused on arrival)
        ours = rec.end_s[mine]
        lost = result.lost_mask[mine]
        result.end_s[mine] = np.where(np.isnan(ours) & lost, result.end_s[mine], ours)
        busy_request = np.array(result.busy_per_request(), dtype=np.float64, copy=True)
        busy_request[mine] = rec.busy_request[mine]
        result.busy_request_s = busy_request
        replica_busy = np.asarray(rec.replica_busy)
        result.sequence_s = np.zeros(len(result.busy_s))
        sequences = np.asarray(rec.replica_sequences)
        for b in rec.services:
            mine_r = np.asarray(b.global_of, dtype=np.int64)
            result.busy_s[mine_r] = replica_busy[mine_r]
            result.sequence_s[mine_r] = sequences[mine_r]
        timed_out = result.timed_out_mask.copy()
        timed_out[mine] |= rec.timed_out[mine]
        result.timed_out = timed_out
        result.llm = tuple(rec.llm)
    tokens = token_services(model)
    if tokens and input_tokens is not None and output_tokens is not None:
        first = np.full(n, np.nan) if rec is None else rec.first_token_s.copy()
        for k in tokens:
            svc = model.services[k]
            if svc.batching is not None:
                continue                               # the batcher wrote them
            st = svc.service_time
            classes = [c for c, rc in enumerate(model.classes) if rc.service == svc.name]
            served = np.isin(result.cls, classes) & (result.replica >= 0)
            offset = token_first_token_s(st.base_s, st.per_input_token_s, st.per_output_token_s,
                                         input_tokens[served], output_tokens[served])
            first[served] = result.start_s[served] + offset / speed[result.replica[served]]
        result.first_token_s = first
    return result


Bad = Callable[[str, str, object], ValueError]
Finite = Callable[[object], bool]


def validate_serving(model: SimModel, bad: Bad, finite: Finite) -> None:
    """The fields of this module and of token service times and pool speeds (`validate_model` calls it):
    raise `ValueError` naming the first bad field."""
    for s in model.services:
        _validate_times(model, s, bad, finite)
        if s.batching is not None:
            _validate_batching(model, s, s.batching, bad, finite)
        if (s.llm is not None) != (s.batching is not None and s.batching.mode == "llm"):
            raise bad(f"services.{s.name}.llm", "an LLM engine service batches in mode 'llm', and only "
                      "it does", s.batching.mode if s.batching is not None else None)
        if s.batching is not None and s.batching.mode in BATCHERS:
            BATCHERS[s.batching.mode].validate_service(s, bad)


def _validate_times(model: SimModel, s: ServingService, bad: Bad, finite: Finite) -> None:
    """Token service times, base times and pool speeds of one service."""
    where = f"services.{s.name}"
    st = s.service_time
    for key in ("base_s", "per_input_token_s", "per_output_token_s"):
        value = getattr(st, key)
        if not finite(value) or value < 0:
            raise bad(f"{where}.service_time.{key}", "must be a finite number of seconds >= 0", value)
    if not st.tokens and (st.per_input_token_s or st.per_output_token_s):
        raise bad(f"{where}.service_time.dist", "per-token times need dist 'tokens'", st.dist)
    batcher = BATCHERS.get(s.batching.mode) if s.batching is not None else None
    if st.base_s and not st.tokens and (batcher is None or not batcher.base_time):
        modes = " or ".join(m for m, k in BATCHERS.items() if k.base_time)
        raise bad(f"{where}.service_time.base_s", "a base time applies to token service times and "
                  f"to {modes} batching", st.base_s)
    for r in s.replicas:
        if not finite(r.speed) or r.speed <= 0:
            raise bad(f"{where}.replicas.{r.name}.speed", "must be a finite number > 0", r.speed)
    if st.tokens:
        for c in model.classes:
            if c.service == s.name and c.tokens is None and c.arrivals.process != "trace":
                raise bad(f"classes.{c.name}.tokens", f"service {s.name} has a token service time, "
                          "so its classes need token counts (a token spec or a trace)", None)
    if st.tokens and DISCIPLINES[s.discipline].preemptive:
        raise bad(f"{where}.discipline", "a token service cannot preempt (the first-token time "
                  "would need every service segment)", s.discipline)


def _validate_batching(model: SimModel, s: ServingService, b: Batching, bad: Bad, finite: Finite) -> None:
    """The batching fields of one service, and what batching rules out."""
    where = f"services.{s.name}.batching"
    if b.mode not in BATCHERS:
        raise bad(f"{where}.mode", f"must be one of {sorted(BATCHERS)}", b.mode)
    if not isinstance(b.max_size, int) or isinstance(b.max_size, bool) or b.max_size < 1:
        raise bad(f"{where}.max_size", "must be an integer >= 1", b.max_size)
    if not finite(b.max_delay_s) or b.max_delay_s < 0:
        raise bad(f"{where}.max_delay_s", "must be a finite number of seconds >= 0", b.max_delay_s)
    if not finite(b.step_growth) or b.step_growth < 0:
        raise bad(f"{where}.step_growth", "must be a finite number >= 0", b.step_growth)
    batcher, tokens = BATCHERS[b.mode], s.service_time.tokens
    if batcher.tokens and not tokens:
        raise bad(f"{where}.mode", f"{b.mode} batching needs a token service time (dist 'tokens')",
                  b.mode)
    if tokens and not batcher.tokens:
        token_modes = " or ".join(repr(m) for m, k in BATCHERS.items() if k.tokens)
        raise bad(f"{where}.mode", f"a token service batches in mode {token_modes}", b.mode)
    for field in ("max_delay_s", "step_growth"):
        value = getattr(b, field)
        if value and field not in batcher.parameters:
            modes = " or ".join(m for m, k in BATCHERS.items() if field in k.parameters)
            raise bad(f"{where}.{field}", f"applies to {modes} batching only", value)
    if DISCIPLINES[s.discipline].preemptive:
        raise bad(f"services.{s.name}.discipline", "a batching service cannot preempt", s.discipline)
    if s.max_length == 0:
        raise bad(f"services.{s.name}.max_length", "a batching service needs waiting places (>= 1): "
                  "requests wait in the queue to form a batch", s.max_length)
    if s.admission != "accept" or any(c.admission not in (None, "accept") for c in model.classes
                                      if c.service == s.name):
        raise bad(f"services.{s.name}.admission", "deadline-aware admission is not available with "
                  "batching", s.admission)
