"""Queue disciplines: which waiting request a freed slot serves next.

A queue belongs to a service (``central`` routing) or to one replica (per-replica routings, see
`capacity.sim.routing`). When a slot frees and requests are waiting, the discipline hands one over. Every
order below is total: ties end with the request's ``sequence`` number, its position in the run's arrival
order (arrival time, then class order; see `capacity.sim.engine`), which is also its request id.

* ``fifo`` — first come, first served. Key ``(arrival_time, sequence)``.
* ``priority`` — strict, non-preemptive priority: the lowest ``priority`` number goes first, FIFO within a
  level. Key ``(priority, arrival_time, sequence)``. A request in service is never interrupted.
* ``preemptive`` — the queue order of ``priority`` (key ``(priority, arrival_time, sequence)``), and an
  arrival that finds no free slot interrupts the least urgent request in service if that one has a
  strictly larger priority number (the engine does this; see `capacity.sim.engine`). The interrupted
  request re-enters the queue with its original key, so it goes ahead of later arrivals of its level;
  the service's ``preemption`` says whether it then resumes (needs only its remaining service time) or
  restarts (needs its whole service time again).
* ``fair`` — weighted fair queueing across tenants by start-time fair queueing (SFQ, Goyal et al. 1996),
  see `FairQueue`: order ``(start_tag, sequence)`` among the tenants' head requests, FIFO within a tenant.
* ``drr`` — deficit round robin across tenants (Shreedhar and Varghese 1995), see `DeficitRoundRobin`.
* ``priority-fair`` — strict non-preemptive priority across levels, ``fair`` (SFQ, one virtual time per
  level) among the tenants inside a level: order ``(priority, start_tag, sequence)``.

The **cost** of a request for the fair disciplines is, per service (``queue_cost``), its service time in
seconds (``time``, the default) or its input + output tokens (``tokens``, for LLM-style services: a tenant
is then entitled to a share of the tokens processed, whatever they cost in time; a prompt token and a
generated token count the same). A tenant's **weight** is the sum of the weights of its classes that use
the service. ``fifo``, ``priority`` and
``preemptive`` have a static key (`key`); the order of ``fair``, ``drr`` and ``priority-fair`` depends on
what was served before, so it is stated as the rule of the class instead.

A request that leaves the queue before being served (a timeout) is marked in ``QueueContext.gone``; the
fair disciplines skip such requests without charging their tenant, and the engine skips them for the
others. ``len(queue)`` counts entries not yet popped, including gone ones; the engine keeps its own count
of the requests that are really waiting (for ``max_length``).

Each discipline is a small class registered in `DISCIPLINES` under its scenario name. Its interface is
``push(request, priority)`` and ``pop() -> request`` (``-1`` when nothing waits): O(1) for ``fifo`` and
``priority``, O(log n) for ``preemptive``, O(log T) for ``fair`` (T tenants), O(1) amortised for ``drr``
(when the quantum is not much smaller than the costs).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import ClassVar, Protocol

EMPTY = -1
"""What `Discipline.pop` returns when no request is waiting."""


class _Zero:
    """``_Zero()[i] == 0`` for every ``i``: the tenant of every request when no context is given."""

    def __getitem__(self, i: int) -> int:
        return 0


class _One:
    """``_One()[i] == 1.0`` for every ``i``: the cost of every request when no context is given."""

    def __getitem__(self, i: int) -> float:
        return 1.0


class Flags(Protocol):
    """``flags[request]``: a per-request flag (a bytearray, or a view that computes it)."""

    def __getitem__(self, request: int, /) -> int: ...


@dataclass(frozen=True, eq=False)
class QueueContext:
    """What the tenant-aware disciplines need to know about requests, indexed by request id.

    ``tenant[i]`` is the index of request ``i``'s tenant (0..T-1), ``tenant_weight[t]`` tenant ``t``'s
    weight, ``cost[i]`` request ``i``'s cost (its service time in seconds, or its tokens), ``gone[i]``
    true once request ``i`` has left without being served (timed out; may be None when nothing can
    leave), and ``quantum`` the DRR quantum of a tenant of the smallest weight (cost per turn, in the
    unit of ``cost``; the engine uses the mean cost of the service's requests).
    """

    tenant: Sequence[int]
    tenant_weight: Sequence[float]
    cost: Sequence[float]
    gone: Flags | None = None
    quantum: float = 1.0

    @classmethod
    def single_tenant(cls) -> QueueContext:
        """One tenant of weight 1, every request of cost 1, nothing leaves."""
        return cls(_Zero(), [1.0], _One())  # type: ignore[arg-type]


class Discipline(Protocol):
    """A queue of waiting requests (request ids are ints).

    The class carries its scenario ``name`` and its flags, read by the engine (never a list of names
    elsewhere): ``preemptive`` (an arrival may interrupt a request in service), ``levelled`` (the queue
    order starts with the priority level: the admission predictor counts only the work at the arrival's
    level or more urgent), ``fast_path`` (a plain service with it runs the engine's minimal path) and
    ``tenant_aware`` (the order depends on the tenants' weights and what they were served).
    """

    name: ClassVar[str]
    preemptive: ClassVar[bool]
    levelled: ClassVar[bool]
    fast_path: ClassVar[bool]
    tenant_aware: ClassVar[bool]

    def __init__(self, priorities: Iterable[int], context: QueueContext | None = None) -> None:
        """``priorities``: every priority level the service's classes use; ``context``: see
        `QueueContext` (the tenant-aware disciplines treat None as one tenant and unit costs)."""

    def push(self, request: int, priority: int) -> None:
        """A request starts waiting (in increasing ``sequence``, except an interrupted request pushed
        back under ``preemptive``)."""

    def pop(self) -> int:
        """Remove and return the next request in the discipline's order, or `EMPTY`."""
        ...

    def __len__(self) -> int:
        """Number of entries pushed and not yet popped."""
        ...


class Fifo:
    """First come, first served; priorities are ignored."""

    name: ClassVar[str] = "fifo"
    preemptive: ClassVar[bool] = False
    levelled: ClassVar[bool] = False
    fast_path: ClassVar[bool] = True
    tenant_aware: ClassVar[bool] = False

    def __init__(self, priorities: Iterable[int] = (), context: QueueContext | None = None) -> None:
        self._queue: deque[int] = deque()

    @staticmethod
    def key(priority: int, arrival_s: float, sequence: int) -> tuple[float, ...]:
        return (arrival_s, sequence)

    def push(self, request: int, priority: int) -> None:
        self._queue.append(request)

    def pop(self) -> int:
        return self._queue.popleft() if self._queue else EMPTY

    def __len__(self) -> int:
        return len(self._queue)


class StrictPriority:
    """Strict non-preemptive priority (0 first), FIFO within a level: one deque per level."""

    name: ClassVar[str] = "priority"
    preemptive: ClassVar[bool] = False
    levelled: ClassVar[bool] = True
    fast_path: ClassVar[bool] = True
    tenant_aware: ClassVar[bool] = False

    def __init__(self, priorities: Iterable[int], context: QueueContext | None = None) -> None:
        levels = sorted(set(priorities))
        self._by_priority: dict[int, deque[int]] = {p: deque() for p in levels}
        self._in_order: list[deque[int]] = [self._by_priority[p] for p in levels]

    @staticmethod
    def key(priority: int, arrival_s: float, sequence: int) -> tuple[float, ...]:
        return (priority, arrival_s, sequence)

    def push(self, request: int, priority: int) -> None:
        self._by_priority[priority].append(request)

    def pop(self) -> int:
        for queue in self._in_order:
            if queue:
                return queue.popleft()
        return EMPTY

    def __len__(self) -> int:
        return sum(len(q) for q in self._in_order)


class PreemptivePriority:
    """The order of ``priority`` (0 first, FIFO within a level) on a heap of ``(priority, sequence)``.

    Request ids are sequence numbers, in arrival order, so ``(priority, sequence)`` sorts like
    ``(priority, arrival_time, sequence)``, also for an interrupted request pushed back later. The engine
    reads `preemptive` and does the interrupting.
    """

    name: ClassVar[str] = "preemptive"
    preemptive: ClassVar[bool] = True
    levelled: ClassVar[bool] = True
    fast_path: ClassVar[bool] = False
    tenant_aware: ClassVar[bool] = False

    def __init__(self, priorities: Iterable[int] = (), context: QueueContext | None = None) -> None:
        self._heap: list[tuple[int, int]] = []

    @staticmethod
    def key(priority: int, arrival_s: float, sequence: int) -> tuple[float, ...]:
        return (priority, arrival_s, sequence)

    def push(self, request: int, priority: int) -> None:
        heappush(self._heap, (priority, request))

    def pop(self) -> int:
        return heappop(self._heap)[1] if self._heap else EMPTY

    def __len__(self) -> int:
        return len(self._heap)


class FairQueue:
    """Start-time fair queueing across tenants; FIFO within a tenant; priorities are ignored.

    Each tenant ``t`` has a FIFO queue, a weight ``w_t`` and the finish tag ``F_t`` of its last served
    request (0 at first). The request at the head of a tenant's queue carries the start tag
    ``S = max(V, F_t)``, set when it becomes the head; ``V``, the virtual time, is the start tag of the
    most recently served request (0 at first). `pop` serves the head with the smallest
    ``(S, sequence)`` and sets ``V = S`` and ``F_t = S + cost / w_t``. Two tenants that stay backlogged
    therefore receive service (in cost: seconds or tokens) in proportion to their weights, to within
    one request's cost over any interval. A gone head is dropped without changing ``V`` or ``F_t``.
    """

    name: ClassVar[str] = "fair"
    preemptive: ClassVar[bool] = False
    levelled: ClassVar[bool] = False
    fast_path: ClassVar[bool] = False
    tenant_aware: ClassVar[bool] = True

    def __init__(self, priorities: Iterable[int] = (), context: QueueContext | None = None) -> None:
        ctx = context or QueueContext.single_tenant()
        self._tenant, self._cost, self._gone = ctx.tenant, ctx.cost, ctx.gone
        self._inverse_weight = [1.0 / w for w in ctx.tenant_weight]
        self._queues: list[deque[int]] = [deque() for _ in ctx.tenant_weight]
        self._finish = [0.0] * len(ctx.tenant_weight)
        self._heads: list[tuple[float, int, int]] = []   # (start tag, request, tenant), one per tenant
        self._size = 0
        self.virtual = 0.0

    def push(self, request: int, priority: int = 0) -> None:
        t = self._tenant[request]
        queue = self._queues[t]
        if not queue:
            finish = self._finish[t]
            heappush(self._heads, (finish if finish > self.virtual else self.virtual, request, t))
        queue.append(request)
        self._size += 1

    def pop(self) -> int:
        heads, gone = self._heads, self._gone
        while heads:
            tag, j, t = heappop(heads)
            queue = self._queues[t]
            queue.popleft()                                  # j: the head of its tenant's queue
            self._size -= 1
            served = gone is None or not gone[j]
            if served:
                self.virtual = tag
                self._finish[t] = tag + self._cost[j] * self._inverse_weight[t]
            if queue:
                finish = self._finish[t]
                heappush(heads, (finish if finish > self.virtual else self.virtual, queue[0], t))
            if served:
                return j
        return EMPTY

    def __len__(self) -> int:
        return self._size


class DeficitRoundRobin:
    """Deficit round robin across tenants; FIFO within a tenant; priorities are ignored.

    Backlogged tenants take turns in a round-robin list, in the order they became backlogged. Tenant
    ``t``'s quantum is ``quantum · w_t / min_u w_u`` (in cost units; proportional to its weight).
    At the start of its turn a tenant's deficit grows by its quantum; it is then served head first while
    its head request's cost is at most its deficit (each served request's cost is subtracted), and the
    turn passes to the next tenant when the head costs more than what is left. A tenant whose queue
    empties leaves the list and its deficit resets to 0 (it rejoins at the end when a request arrives).
    Gone requests are dropped from the heads at no cost. When a whole round passes with nobody served
    (heads far costlier than the quanta), the rounds in which nobody can be served are skipped at once:
    every tenant gets those quanta together (the same order, up to float rounding; a request costing
    10⁷ quanta would otherwise take 10⁷ turns).
    """

    name: ClassVar[str] = "drr"
    preemptive: ClassVar[bool] = False
    levelled: ClassVar[bool] = False
    fast_path: ClassVar[bool] = False
    tenant_aware: ClassVar[bool] = True

    def __init__(self, priorities: Iterable[int] = (), context: QueueContext | None = None) -> None:
        ctx = context or QueueContext.single_tenant()
        self._tenant, self._cost, self._gone = ctx.tenant, ctx.cost, ctx.gone
        smallest = min(ctx.tenant_weight)
        self._quantum = [ctx.quantum * w / smallest for w in ctx.tenant_weight]
        self._queues: list[deque[int]] = [deque() for _ in ctx.tenant_weight]
        self._deficit = [0.0] * len(ctx.tenant_weight)
        self._active: deque[int] = deque()     # backlogged tenants; the first one has the turn
        self._fresh = True                     # the first tenant has not had its quantum this turn
        self._size = 0
        self._idle_turns = 0                   # consecutive turns that served nobody

    def push(self, request: int, priority: int = 0) -> None:
        t = self._tenant[request]
        queue = self._queues[t]
        if not queue:
            self._active.append(t)
        queue.append(request)
        self._size += 1

    def _leave(self, t: int) -> None:
        """Tenant ``t`` (the first in the list) has nothing left: it leaves the list."""
        self._active.popleft()
        self._deficit[t] = 0.0
        self._fresh = True

    def pop(self) -> int:
        active, gone, deficit = self._active, self._gone, self._deficit
        while active:
            t = active[0]
            queue = self._queues[t]
            if gone is not None:
                while queue and gone[queue[0]]:
                    queue.popleft()
                    self._size -= 1
            if not queue:
                self._leave(t)
                continue
            if self._fresh:
                deficit[t] += self._quantum[t]
                self._fresh = False
            j = queue[0]
            cost = self._cost[j]
            if cost <= deficit[t]:
                deficit[t] -= cost
                queue.popleft()
                self._size -= 1
                self._idle_turns = 0
                if not queue:
                    self._leave(t)
                return j
            active.rotate(-1)                  # the turn passes on
            self._fresh = True
            self._idle_turns += 1
            if self._idle_turns >= len(active):
                self._skip_rounds()
        return EMPTY

    def _skip_rounds(self) -> None:
        """A full round served nobody: give every backlogged tenant the quanta of the rounds in which
        still nobody could be served (keeping one round's margin for the ordinary turns to decide)."""
        self._idle_turns = 0
        heads = [self._queues[t][0] for t in self._active]
        if self._gone is not None and any(self._gone[j] for j in heads):
            return                             # the ordinary turns drop those first
        rounds = min(math.ceil((self._cost[j] - self._deficit[t]) / self._quantum[t])
                     for t, j in zip(self._active, heads, strict=True)) - 2
        if rounds > 0:
            for t in self._active:
                self._deficit[t] += rounds * self._quantum[t]

    def __len__(self) -> int:
        return self._size


class PriorityFair:
    """Strict non-preemptive priority across levels (0 first), `FairQueue` among tenants in a level.

    Each level has its own SFQ state (virtual time and finish tags), so service at one level does not
    shift the tags of another. Order ``(priority, start_tag, sequence)``.
    """

    name: ClassVar[str] = "priority-fair"
    preemptive: ClassVar[bool] = False
    levelled: ClassVar[bool] = True
    fast_path: ClassVar[bool] = False
    tenant_aware: ClassVar[bool] = True

    def __init__(self, priorities: Iterable[int], context: QueueContext | None = None) -> None:
        levels = sorted(set(priorities))
        self._by_priority = {p: FairQueue(levels, context) for p in levels}
        self._in_order = [self._by_priority[p] for p in levels]

    def push(self, request: int, priority: int) -> None:
        self._by_priority[priority].push(request)

    def pop(self) -> int:
        for level in self._in_order:
            if len(level):
                j = level.pop()
                if j != EMPTY:
                    return j
        return EMPTY

    def __len__(self) -> int:
        return sum(len(level) for level in self._in_order)


DISCIPLINES: dict[str, type[Discipline]] = {
    Fifo.name: Fifo,
    StrictPriority.name: StrictPriority,
    PreemptivePriority.name: PreemptivePriority,
    FairQueue.name: FairQueue,
    DeficitRoundRobin.name: DeficitRoundRobin,
    PriorityFair.name: PriorityFair,
}


def is_preemptive(discipline: type[Discipline]) -> bool:
    """Whether an arrival under this discipline may interrupt a request in service."""
    return discipline.preemptive
