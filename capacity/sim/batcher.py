"""The shared machinery of the batching runtimes (`capacity.sim.batching` describes the modes and the rules):
`BatchRecords`, the per-request and per-replica records of every batching service of a run, and `Batcher`,
the base of every batching mode — queues in discipline order, routing, timeouts, slots, decision points at
the end of an instant, failures and the replica lifecycle. A mode subclasses `Batcher` (`decide`,
`in_flight`, `_grow_slots`) and is registered in `capacity.sim.batching.BATCHERS`.

Times are seconds.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any, ClassVar

import numpy as np
import simpy

from capacity.sim.disciplines import DISCIPLINES, EMPTY, Discipline, QueueContext
from capacity.sim.events import DECIDE, Callbacks, Tick
from capacity.sim.model import ServingService, SimModel
from capacity.sim.replicas import Fleet, ReplicaState, ServingReplica
from capacity.sim.routing import ROUTINGS
from capacity.sim.runtime import ServiceRuntime
from capacity.sim.streams import routing_rng

# request states (BatchRecords.state)
IDLE, WAITING, IN_SERVICE, GONE = 0, 1, 2, 3


class BatchRecords:
    """The per-request and per-replica records of every batching service of one run."""

    def __init__(self, model: SimModel, cls: np.ndarray, arrival: list[float], service: list[float],
                 priority: list[int], start_s: np.ndarray, replica_of: np.ndarray,
                 input_tokens: np.ndarray | None, output_tokens: np.ndarray | None) -> None:
        n = len(arrival)
        self.cls = cls
        self.arrival, self.service, self.priority = arrival, service, priority
        self.start_s, self.replica_of = start_s, replica_of
        self.end_s = np.full(n, np.nan)
        self.first_token_s = np.full(n, np.nan)
        self.busy_request = np.zeros(n)
        self.replica_busy = [0.0] * sum(len(s.replicas) for s in model.services)
        # sequence-seconds inside the window per replica: the requests held in its batches over time
        self.replica_sequences = [0.0] * len(self.replica_busy)
        self.timed_out = np.zeros(n, dtype=bool)
        self.state = bytearray(n)
        self.group = [0] * n
        self.window = (float(model.warmup_s), float(model.duration_s))
        self.input_tokens = input_tokens.tolist() if input_tokens is not None else []
        self.output_tokens = output_tokens.tolist() if output_tokens is not None else []
        # tenant of each request, numbered within its service, and each service's tenant weights
        self.tenant_weights: dict[str, list[float]] = {}
        tenant_of_class: list[int] = []
        for c in model.classes:
            local = list(dict.fromkeys(k.tenant for k in model.classes if k.service == c.service))
            self.tenant_weights[c.service] = [
                sum(k.weight for k in model.classes if k.service == c.service and k.tenant == t)
                for t in local]
            tenant_of_class.append(local.index(c.tenant))
        self.tenant = (np.array(tenant_of_class, dtype=np.int64)[cls].tolist()
                       if n and tenant_of_class else [])
        self.services: list[Batcher] = []
        self.llm: list[Any] = []                   # the LLM services' records (`capacity.sim.llm_batching`)

    def grow(self, n_replicas: int) -> None:
        """Room for the per-replica records of ``n_replicas`` replicas (replicas added during a run)."""
        extra = n_replicas - len(self.replica_busy)
        if extra > 0:
            self.replica_busy.extend([0.0] * extra)
            self.replica_sequences.extend([0.0] * extra)

    def in_window(self, start: float, end: float) -> float:
        """Seconds of ``[start, end]`` inside the statistics window."""
        lo, hi = self.window
        busy = min(end, hi) - max(start, lo)
        return busy if busy > 0.0 else 0.0


class _Gone:
    """``gone[j]`` for the discipline of one group: request ``j`` is not waiting in group ``g``."""

    def __init__(self, rec: BatchRecords, g: int) -> None:
        self._state, self._group, self._g = rec.state, rec.group, g

    def __getitem__(self, j: int) -> bool:
        return self._state[j] != WAITING or self._group[j] != self._g


class Batcher(ServiceRuntime):
    """What both batching modes share: queues, routing, timeouts, slots, decisions and failures.

    Groups (queues) are numbered 0..G-1: one for ``central`` routing, one per replica otherwise. Slots
    are numbered ``replica * concurrency + k`` within the service (``replica``: its local index).
    A replica **serves** (forms batches, joins requests) while it is ready, and while it drains under a
    per-replica routing (its own queue); a draining replica under ``central`` routing finishes its
    batches (continuous: its engines run their requests to the end) and takes nothing new.
    """

    mode: ClassVar[str]
    tokens: ClassVar[bool]
    """Whether the mode batches token requests (its service time must be ``tokens``), or plain ones."""
    parameters: ClassVar[tuple[str, ...]]
    """The fields of `capacity.sim.model.Batching` the mode reads besides ``max_size`` (the others must
    keep their default)."""
    base_time: ClassVar[bool]
    """Whether a batch takes the service's ``base_s`` on top of its requests' times."""

    def __init__(self, env: simpy.Environment, fleet: Fleet, model: SimModel, index: int,
                 rec: BatchRecords) -> None:
        svc: ServingService = model.services[index]
        assert svc.batching is not None
        routing = ROUTINGS[svc.routing]
        super().__init__(env, fleet, svc, index, routing, routing_rng(model.seed, svc.name),
                         keep_full=False)
        self.rec = rec
        self.batching = svc.batching
        self.max_size = svc.batching.max_size
        c = self.c
        n_replicas = len(self.replicas)
        self.n_groups = n_groups = n_replicas if self.per_replica else 1
        self.global_of = [r.index for r in self.replicas]   # local -> global replica index
        self.local_of = {r.index: r.local for r in self.replicas}
        self.speed = [r.speed for r in self.replicas]
        self.serving = [True] * n_replicas
        self.free = [list(range((r + 1) * c - 1, r * c - 1, -1)) for r in range(n_replicas)]  # stacks
        # what the fair disciplines charge: service seconds (at speed 1), or input + output tokens; the
        # DRR quantum is the mean charge of the service's requests
        cost: Sequence[float] = rec.service
        if svc.queue_cost == "tokens":
            cost = [a + b for a, b in zip(rec.input_tokens, rec.output_tokens, strict=True)]
        mine = np.isin(rec.cls, [k for k, rc in enumerate(model.classes) if rc.service == svc.name])
        charges = np.asarray(cost, dtype=np.float64)[mine] if len(cost) else np.empty(0)
        quantum = float(charges.mean()) if len(charges) and charges.mean() > 0 else 1.0
        self._levels = [k.priority for k in model.classes if k.service == svc.name]
        self._discipline = DISCIPLINES[svc.discipline]
        self._weights = rec.tenant_weights.get(svc.name, [1.0])
        self._cost, self._quantum = cost, quantum
        self.queues: list[Discipline] = []
        self.waiting: list[int] = []                   # requests waiting in each group's queue
        self.oldest: list[list[tuple[float, int]]] = []   # per group: (arrival, j) heaps
        self.pending: list[bool] = []                  # a decision event is scheduled for this instant
        self._decide_callbacks: list[Callbacks] = []
        for _ in range(n_groups):
            self._add_group()
        self.outstanding = [0] * n_replicas            # per replica: waiting for it + in service on it
        self.admitted_at: dict[int, float] = {}
        self.max_length = svc.max_length if svc.max_length is not None else len(rec.arrival) + 1
        self.timeout = svc.timeout_s
        self.deadlines: list[tuple[float, int, int]] = []   # heap of (deadline, request, group)
        self.ticks: list[Tick | None] = [None] * (n_replicas * c)
        rec.services.append(self)

    def queued(self) -> int:
        return sum(self.waiting)

    def busy_slots(self) -> int:
        return len(self.free) * self.c - sum(len(f) for f in self.free)

    def admit_late(self, i: int, now: float) -> bool:
        rec = self.rec
        if self.timeout is not None and rec.arrival[i] + self.timeout <= now:
            rec.state[i] = GONE
            rec.timed_out[i] = True
            rec.end_s[i] = rec.arrival[i] + self.timeout
            return True
        return self.readmit(i, now)

    def _add_group(self) -> None:
        g = len(self.queues)
        self.queues.append(self._discipline(self._levels, QueueContext(
            self.rec.tenant, self._weights, self._cost, _Gone(self.rec, g), self._quantum)))
        self.waiting.append(0)
        self.oldest.append([])
        self.pending.append(False)
        self._decide_callbacks.append([self._on_decide_event])

    # ----------------------------------------------------------------------------------------- routing

    def group_of_replica(self, r: int) -> int:
        return r if self.per_replica else 0

    def replicas_of(self, g: int) -> range:
        return range(g, g + 1) if self.per_replica else range(len(self.replicas))

    def _route(self) -> int:
        """The group of a new arrival, or -1 if no replica is ready."""
        return self.router.route(self.outstanding)

    # ----------------------------------------------------------------------------------------- arrivals

    def admit(self, i: int) -> bool:
        """Request ``i`` arrives now: queue it, or reject it (no live replica, or a full queue)."""
        return self.readmit(i, self.env._now)

    def readmit(self, i: int, now: float) -> bool:
        """Queue request ``i`` at ``now`` (an arrival, or a retry after a failure, which keeps its
        arrival time and its timeout deadline); False if it is rejected."""
        g = self._route()
        if g < 0:
            return False                               # no live replica
        if self.timeout is not None:
            self.expire(now)
        if self.waiting[g] >= self.max_length:
            return False                               # the queue is full
        rec = self.rec
        rec.state[i] = WAITING
        rec.group[i] = g
        self.queues[g].push(i, rec.priority[i])
        self.waiting[g] += 1
        if self.per_replica:
            self.outstanding[g] += 1
        heappush(self.oldest[g], (rec.arrival[i], i))
        if self.timeout is not None and rec.arrival[i] + self.timeout > now:
            # a retry whose deadline passed while it was in service waits without one (as in the
            # engine's general path): it cannot have left the queue before its replica failed
            deadline = rec.arrival[i] + self.timeout
            self.admitted_at[i] = deadline
            heappush(self.deadlines, (deadline, i, g))
        self.request_decision(g)
        return True

    def expire(self, now: float) -> None:
        """Every waiting request whose deadline is at or before ``now`` leaves (timed out)."""
        rec = self.rec
        while self.deadlines and self.deadlines[0][0] <= now:
            deadline, j, g = heappop(self.deadlines)
            if rec.state[j] == WAITING and rec.group[j] == g and self.admitted_at.get(j) == deadline:
                del self.admitted_at[j]
                rec.state[j] = GONE
                rec.timed_out[j] = True
                rec.end_s[j] = deadline
                self.waiting[g] -= 1
                if self.per_replica:
                    self.outstanding[g] -= 1
                    if self.replicas[g].state is ReplicaState.DRAINING:
                        # (noticed now: timeouts expire lazily, at the service's next event)
                        self._maybe_stop(self.replicas[g], now)

    def take(self, g: int) -> int:
        """The next waiting request of group ``g`` in discipline order (EMPTY if none)."""
        state, group = self.rec.state, self.rec.group
        pop = self.queues[g].pop
        j = pop()
        while j != EMPTY and (state[j] != WAITING or group[j] != g):
            j = pop()
        if j != EMPTY:
            state[j] = IN_SERVICE
            self.waiting[g] -= 1
            if self.timeout is not None:
                self.admitted_at.pop(j, None)          # its deadline (if any) no longer applies
        return j

    def oldest_arrival(self, g: int) -> float:
        """Arrival time of the oldest request waiting in group ``g`` (only called when one waits)."""
        heap, state, group = self.oldest[g], self.rec.state, self.rec.group
        while state[heap[0][1]] != WAITING or group[heap[0][1]] != g:
            heappop(heap)
        return heap[0][0]

    # ----------------------------------------------------------------------------------------- decisions

    def request_decision(self, g: int) -> None:
        """Schedule a decision for group ``g`` at the end of this instant (once per instant)."""
        if not self.pending[g]:
            self.pending[g] = True
            tick = Tick(self.env, g)
            tick.callbacks = self._decide_callbacks[g]
            self.env.schedule(tick, DECIDE, 0.0)

    def _on_decide_event(self, tick: Tick) -> None:
        self.pending[tick.slot] = False
        self.decide(tick.slot, self.env._now)

    @abstractmethod
    def decide(self, g: int, t: float) -> None:
        """Form the batches of group ``g`` at the end of the instant ``t`` (the mode's rule)."""

    def free_slot(self, g: int) -> int:
        """A free slot of a live replica of group ``g``: the replica with the most free slots, then the
        lowest index; -1 if none."""
        best, most = -1, 0
        for r in self.replicas_of(g):
            k = len(self.free[r])
            if k > most and self.serving[r]:
                best, most = r, k
        return self.free[best].pop() if best >= 0 else -1

    def has_free_slot(self, g: int) -> bool:
        return any(self.free[r] and self.serving[r] for r in self.replicas_of(g))

    def release(self, slot: int) -> None:
        r = slot // self.c
        self.free[r].append(slot)
        replica = self.replicas[r]
        if replica.state is ReplicaState.DRAINING:
            self._maybe_stop(replica, self.env._now)

    def begin_service(self, j: int, slot: int, now: float) -> None:
        rec = self.rec
        if rec.start_s[j] != rec.start_s[j]:            # NaN: its first start
            rec.start_s[j] = now
        rec.replica_of[j] = self.global_of[slot // self.c]

    def finish(self, j: int, now: float) -> None:
        """Request ``j`` is done at ``now``."""
        rec = self.rec
        rec.end_s[j] = now
        rec.state[j] = IDLE
        if self.per_replica:
            self.outstanding[self.local_of[rec.replica_of[j]]] -= 1
        if self.on_complete is not None:
            self.on_complete(j, now)

    def account(self, slot: int, start: float, now: float, held: int) -> float:
        """Busy slot-seconds inside the window of a run on ``slot`` from ``start`` to ``now`` that held
        ``held`` requests (for the batch occupancy)."""
        busy = self.rec.in_window(start, now)
        replica = self.global_of[slot // self.c]
        self.rec.replica_busy[replica] += busy
        self.rec.replica_sequences[replica] += busy * held
        return busy

    # ----------------------------------------------------------------------------------------- failures

    @abstractmethod
    def in_flight(self, slot: int) -> list[int]:
        """Requests in service on ``slot`` (in the order they joined); stops their service at now."""

    def _take_down(self, replica: ServingReplica, was: ReplicaState, now: float) -> list[int]:
        """Take the replica out of service; return the requests queued for it, then those in flight on
        it (not done): their records are cleared (but for the first start), for the caller to retry or
        drop. See the module docstring."""
        r = replica.local
        self.serving[r] = False
        rec = self.rec
        g = self.group_of_replica(r)
        out: list[int] = []
        if self.per_replica or not self._serves_shared():
            out = self._flush(g)
        flying: list[int] = []
        for slot in range(r * self.c, (r + 1) * self.c):
            flying.extend(self.in_flight(slot))
            self.ticks[slot] = None                    # its pending event, if any, is ignored
        self.free[r] = list(range((r + 1) * self.c - 1, r * self.c - 1, -1))
        for j in flying:
            rec.replica_of[j] = -1
            rec.end_s[j] = np.nan
            rec.first_token_s[j] = np.nan
        for j in out + flying:
            rec.state[j] = IDLE
        if self.per_replica:
            self.outstanding[r] = 0
        self._route_ready()
        return sorted(out + flying)

    def _flush(self, g: int) -> list[int]:
        """Take every request waiting in group ``g`` (their records are the caller's to set)."""
        out: list[int] = []
        while self.waiting[g]:
            j = self.take(g)
            if j == EMPTY:
                break
            out.append(j)
        return out

    def _flush_shared(self, now: float) -> list[int]:
        out = self._flush(0)
        for j in out:
            self.rec.state[j] = IDLE
        return sorted(out)

    def _open(self, replica: ServingReplica, now: float) -> None:
        """The replica is ready (recovered, idle, or its cold start is over): it serves its group."""
        self.serving[replica.local] = True
        self._route_ready()
        self.request_decision(self.group_of_replica(replica.local))

    def _close(self, replica: ServingReplica, now: float) -> None:
        # under a per-replica routing a draining replica still serves its own queue
        self.serving[replica.local] = self.per_replica

    def _holds_nothing(self, replica: ServingReplica) -> bool:
        r = replica.local
        if len(self.free[r]) < self.c:
            return False
        return not (self.per_replica and self.waiting[r])

    def _grow(self, replica: ServingReplica) -> None:
        """A starting replica: its slots, its queue (per-replica routings), its records; serves nothing."""
        r = replica.local
        self.global_of.append(replica.index)
        self.local_of[replica.index] = r
        self.speed.append(replica.speed)
        self.serving.append(False)
        self.free.append(list(range((r + 1) * self.c - 1, r * self.c - 1, -1)))
        self.outstanding.append(0)
        self.ticks.extend([None] * self.c)
        if self.per_replica:
            self._add_group()
            self.n_groups += 1
        self._grow_slots(self.c)
        self.rec.grow(len(self.fleet))
        self._route_ready()

    @abstractmethod
    def _grow_slots(self, n: int) -> None:
        """Per-slot state of the batching mode for ``n`` new slots."""

    @classmethod
    def validate_service(cls, svc: ServingService, bad: Callable[[str, str, object], ValueError]) -> None:
        """The mode's own checks of a service's fields (raise ``bad(path, why, value)``); none by default."""
