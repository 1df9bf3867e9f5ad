"""A service's waiting requests: one discipline queue per group, and the timeouts of those waiting.

A **group** is a queue and the slots that serve it: one group for the service under ``central`` routing,
one per replica under the per-replica routings (group ``g`` is local replica ``g``; `capacity.sim.routing`).
`ServiceQueues` keeps each group's queue (`capacity.sim.disciplines`) and two counts per group: requests
really **waiting** (for ``max_length``; the queue's own length also counts entries that left) and
**outstanding** ones (waiting plus in service: what the per-replica routings compare).

`Deadlines` keeps the timeout deadlines of queued requests in arrival order. Deadlines are inclusive and
expired lazily, at every arrival to and completion in the service (the only moments when anything is
decided), so no event per request is needed. A request retried after a failure keeps its deadline (from
its arrival) in the group it now waits in (`move`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from capacity.sim.disciplines import EMPTY, Discipline, QueueContext


class ServiceQueues:
    """The discipline queues of one service's groups, with their waiting and outstanding counts.

    ``pushes[g]`` and ``pops[g]`` are the bound methods of group ``g``'s queue (the hot paths call them
    directly); ``gone[j]`` marks requests that left without being served (skipped by `next_waiting`).
    """

    def __init__(self, discipline: type[Discipline], levels: list[int], context: QueueContext,
                 n_groups: int, gone: bytearray | None) -> None:
        self._discipline, self._levels, self._context = discipline, levels, context
        self.gone = gone
        self.queues: list[Discipline] = []
        self.pushes: list[Callable[[int, int], None]] = []
        self.pops: list[Callable[[], int]] = []
        self.waiting: list[int] = []                   # requests really waiting in each queue
        self.outstanding: list[int] = []               # in service + waiting, per group
        for _ in range(n_groups):
            self.add_group()

    def add_group(self) -> None:
        """A new, empty group (a replica joining under a per-replica routing)."""
        queue = self._discipline(self._levels, self._context)
        self.queues.append(queue)
        self.pushes.append(queue.push)
        self.pops.append(queue.pop)
        self.waiting.append(0)
        self.outstanding.append(0)

    def reset(self, g: int) -> None:
        """Group ``g``'s queue starts afresh, empty (its replica failed: per-replica routings)."""
        queue = self._discipline(self._levels, self._context)
        self.queues[g], self.pushes[g], self.pops[g] = queue, queue.push, queue.pop

    def next_waiting(self, g: int) -> int:
        """Pop group ``g``'s next request in discipline order, skipping gone ones; `EMPTY` if none."""
        pop, gone = self.pops[g], self.gone
        j = pop()
        if gone is not None:
            while j != EMPTY and gone[j]:
                j = pop()
        return j

    def drain_group(self, g: int) -> list[int]:
        """Pop every request waiting in group ``g`` (marking it gone, so its deadline is ignored unless
        it waits again); the counts are the caller's to fix."""
        removed: list[int] = []
        gone = self.gone
        while (j := self.next_waiting(g)) != EMPTY:
            removed.append(j)
            if gone is not None:
                gone[j] = 1
        return removed


class Deadlines:
    """The timeout deadlines of one service's queued requests, in arrival order (see the docstring)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        # (deadline, request, group) in arrival order; the hot paths test ``pending[0][0] <= now``
        # themselves before calling `due`
        self.pending: deque[tuple[float, int, int]] = deque()
        self._moved: dict[int, int] = {}          # the group a retried, never-started request waits in

    def add(self, arrival_s: float, request: int, group: int) -> None:
        self.pending.append((arrival_s + self.timeout_s, request, group))

    def move(self, request: int, group: int) -> None:
        """A retried request waits in ``group`` now; its deadline (from its arrival) still holds."""
        self._moved[request] = group

    def due(self, now: float) -> Iterator[tuple[float, int, int]]:
        """Pop and yield ``(deadline, request, group)`` of every deadline at or before ``now``."""
        pending, moved = self.pending, self._moved
        while pending and pending[0][0] <= now:
            deadline, j, g = pending.popleft()
            if moved:
                g = moved.pop(j, g)
            yield deadline, j, g

