"""Queue disciplines: which waiting request a freed slot serves next.

Every service has one queue (central routing). When a slot frees and requests are waiting, the discipline
hands over the waiting request with the **smallest queue-order key**; keys are total (no two requests
share one) because they end with the request's ``sequence`` number, its position in the run's arrival
order (arrival time, then class order; see `capacity.sim.engine`).

* ``fifo`` — first come, first served. Key ``(arrival_time, sequence)``.
* ``priority`` — strict, non-preemptive priority: the lowest ``priority`` number goes first, FIFO within a
  level. Key ``(priority, arrival_time, sequence)``. A request in service is never interrupted.

The engine pushes requests in sequence order (it processes arrivals in that order), so a FIFO deque per
level realises these keys without sorting; `key` states the order for readers and tests.

Each discipline is a small class registered in `DISCIPLINES` under its scenario name. Its interface is
``push(request, priority)`` and ``pop() -> request`` (``-1`` when nothing waits), both O(1) in the number
of waiting requests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import ClassVar, Protocol

EMPTY = -1
"""What `Discipline.pop` returns when no request is waiting."""


class Discipline(Protocol):
    """A service's queue of waiting requests (request ids are ints)."""

    name: ClassVar[str]

    def __init__(self, priorities: Iterable[int]) -> None:
        """``priorities``: every priority level the service's classes use."""

    @staticmethod
    def key(priority: int, arrival_s: float, sequence: int) -> tuple[float, ...]:
        """The total queue-order key: smaller is served first."""
        ...

    def push(self, request: int, priority: int) -> None:
        """A request starts waiting (requests arrive in increasing ``sequence``)."""

    def pop(self) -> int:
        """Remove and return the waiting request with the smallest key, or `EMPTY`."""
        ...

    def __len__(self) -> int:
        """Number of waiting requests."""
        ...


class Fifo:
    """First come, first served; priorities are ignored."""

    name: ClassVar[str] = "fifo"

    def __init__(self, priorities: Iterable[int] = ()) -> None:
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

    def __init__(self, priorities: Iterable[int]) -> None:
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


DISCIPLINES: dict[str, type[Discipline]] = {
    Fifo.name: Fifo,
    StrictPriority.name: StrictPriority,
}
