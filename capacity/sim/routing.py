"""Routing: which replica (and which of its slots) serves a request.

**Central.** ``central`` routing keeps one queue per service that all of its replicas serve (see
`capacity.sim.disciplines` for the order). A replica has ``concurrency`` slots; a slot serves one request
at a time. Two moments decide where a request runs:

* **A slot frees** while requests wait: that same slot takes the next request from the queue, so the
  replica of the slot that freed first serves it.
* **A request arrives** and finds free slots (then nothing is waiting): it goes to the replica with the
  **most free slots, ties broken by the lowest replica index** (the service's replica order). With one
  slot per replica this is "the idle replica with the lowest index". Which slot of that replica is used
  does not matter (slots of a replica are identical).

A slot picker keeps the free slots of one service and applies that rule in O(log R) per request
(R replicas): `MostFreeSlots` in general, `LowestIdleReplica` when each replica has one slot (the same rule,
simpler and faster). Slots are numbered ``replica * concurrency + k`` within the service.

**Per replica.** The other policies give each replica its own queue (with the service's discipline and
``max_length``) and send each arriving request to one replica, chosen on arrival from the replicas'
**outstanding** counts (requests in service there plus requests waiting there); the request then starts
on a free slot of that replica or waits in its queue, and a slot that frees serves only its own replica's
queue. Requests are numbered ``k = 0, 1, ...`` in the order they reach the service:

* ``round-robin`` — replica ``k mod R``.
* ``random`` — a uniformly random replica.
* ``least-outstanding`` — the fewest outstanding, ties broken by the lowest replica index (O(R) a request).
* ``power-of-two`` — two distinct replicas sampled uniformly (the first, then the second among the
  others); the one with fewer outstanding, ties to the first sampled. One replica: that one.

The random policies draw from a generator of their own per service (`capacity.sim.streams`), in blocks.

**Replicas joining and leaving** (`capacity.sim.replicas`, `capacity.sim.runtime.ReplicaRouter`). Only
*ready* replicas get new requests. While every replica of the service is ready, the rule sees them all;
otherwise it runs over the ready ones (``k mod`` their number, the fewest outstanding among them, two of
them...) and maps its choice back to the replica, drawing from the same generator. Under ``central``
routing a replica that is not ready keeps its free slots out of the picker (`capacity.sim.slots`). A
draining replica under a per-replica routing still serves the requests already in its own queue: they
were routed to it, and a real replica's local queue is not handed back to the load balancer (see
`capacity.sim.runtime`).

Each routing policy is a small class registered in `ROUTINGS` under its scenario name, following the
`Routing` protocol: its ``name``, its flags (``per_replica``, ``fast_path``), a `slot_picker` for the
free slots of one queue's replicas, and a `chooser` (``pick(outstanding) -> replica index``; ``central``
has one queue and always picks it). Pickers grow as replicas join (`SlotPicker.add_replica`).
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from itertools import cycle
from typing import ClassVar, Protocol

import numpy as np

Chooser = Callable[[list[int]], int]
"""``pick(outstanding)``: the replica index for the next request, from the per-replica counts."""

BLOCK = 4096
"""Random draws are made this many at a time."""


class SlotPicker(Protocol):
    """The free slots of one service. ``free`` is their number."""

    free: int

    def take(self) -> int:
        """Occupy and return a free slot chosen by the routing rule (only called when ``free > 0``)."""
        ...

    def release(self, slot: int) -> None:
        """A slot became free and nothing was waiting for it."""

    def add_replica(self) -> None:
        """A replica joins (the next index), all its slots free."""


class LowestIdleReplica:
    """One slot per replica: a heap of idle replica indices (slot == replica)."""

    def __init__(self, n_replicas: int) -> None:
        self.free = n_replicas
        self._n = n_replicas                           # replicas so far
        self._idle = list(range(n_replicas))           # sorted, hence a heap

    def take(self) -> int:
        self.free -= 1
        return heappop(self._idle)

    def release(self, slot: int) -> None:
        self.free += 1
        heappush(self._idle, slot)

    def add_replica(self) -> None:
        self.release(self._n)
        self._n += 1


class MostFreeSlots:
    """Several slots per replica: the replica with the most free slots, then the lowest index.

    ``bucket[k]`` is a heap of replica indices that had ``k`` free slots when pushed. Entries go stale
    when a replica's count changes (they are not removed then); `take` skips stale entries at the top of a
    heap, and a heap that grows past ``2R + 16`` entries is rebuilt from its valid entries (a sorted list
    is a heap), so memory stays O(R) and the cost per request is O(concurrency + log R) amortised.
    """

    def __init__(self, n_replicas: int, concurrency: int) -> None:
        self.free = n_replicas * concurrency
        self._c = concurrency
        # free slots of each replica, as a stack (slot k = 0 is taken first from an idle replica)
        self._slots = [
            list(range((r + 1) * concurrency - 1, r * concurrency - 1, -1)) for r in range(n_replicas)
        ]
        self._buckets: list[list[int]] = [[] for _ in range(concurrency + 1)]
        self._buckets[concurrency] = list(range(n_replicas))
        self._compact_at = 2 * n_replicas + 16

    def take(self) -> int:
        slots = self._slots
        for k in range(self._c, 0, -1):
            bucket = self._buckets[k]
            while bucket:
                r = heappop(bucket)
                if len(slots[r]) == k:                 # a valid entry: r has k free slots
                    self.free -= 1
                    slot = slots[r].pop()
                    if k > 1:
                        self._push(k - 1, r)
                    return slot
        raise RuntimeError("take() called with no free slot")

    def release(self, slot: int) -> None:
        r = slot // self._c
        self._slots[r].append(slot)
        self.free += 1
        self._push(len(self._slots[r]), r)

    def add_replica(self) -> None:
        r, c = len(self._slots), self._c
        self._slots.append(list(range((r + 1) * c - 1, r * c - 1, -1)))
        self.free += c
        self._compact_at = 2 * len(self._slots) + 16
        self._push(c, r)

    def _push(self, k: int, r: int) -> None:
        """List replica ``r`` (now with ``k`` free slots) in bucket ``k``; drop stale entries if big."""
        bucket = self._buckets[k]
        heappush(bucket, r)
        if len(bucket) > self._compact_at:
            bucket[:] = sorted({q for q in bucket if len(self._slots[q]) == k})


class Routing(Protocol):
    """A routing policy: which queue (group) an arriving request joins, and which slot serves it.

    The class carries its scenario ``name`` and flags: ``per_replica`` (a queue per replica, chosen on
    arrival by `chooser`; else one queue for the service) and ``fast_path`` (a plain service with it runs
    the engine's minimal path). `slot_picker` keeps the free slots of one queue's replicas.
    """

    name: ClassVar[str]
    per_replica: ClassVar[bool]
    fast_path: ClassVar[bool]

    @staticmethod
    def slot_picker(n_replicas: int, concurrency: int) -> SlotPicker:
        """The free slots of ``n_replicas`` replicas serving one queue."""
        ...

    @staticmethod
    def chooser(n_replicas: int, rng: np.random.Generator) -> Chooser:
        """``pick(outstanding)`` over ``n_replicas`` replicas (per-replica routings)."""
        ...


def most_free_slots(n_replicas: int, concurrency: int) -> SlotPicker:
    """The picker of the rule "most free slots, ties to the lowest replica index"."""
    if concurrency == 1:
        return LowestIdleReplica(n_replicas)
    return MostFreeSlots(n_replicas, concurrency)


class Central:
    """One queue per service served by all its replicas; see the module docstring for the rule."""

    name: ClassVar[str] = "central"
    per_replica: ClassVar[bool] = False
    fast_path: ClassVar[bool] = True

    @staticmethod
    def slot_picker(n_replicas: int, concurrency: int) -> SlotPicker:
        return most_free_slots(n_replicas, concurrency)

    @staticmethod
    def chooser(n_replicas: int, rng: np.random.Generator) -> Chooser:
        return lambda outstanding: 0                   # one queue: nothing to choose


class PerReplica:
    """What the per-replica routings share: a queue per replica, whose free slots are that replica's."""

    per_replica: ClassVar[bool] = True
    fast_path: ClassVar[bool] = False

    @staticmethod
    def slot_picker(n_replicas: int, concurrency: int) -> SlotPicker:
        return most_free_slots(n_replicas, concurrency)


class RoundRobin(PerReplica):
    """Replica ``k mod R`` for the k-th request (k from 0)."""

    name: ClassVar[str] = "round-robin"

    @staticmethod
    def chooser(n_replicas: int, rng: np.random.Generator) -> Chooser:
        turn = cycle(range(n_replicas)).__next__
        return lambda outstanding: turn()


class UniformRandom(PerReplica):
    """A uniformly random replica, drawn from the service's routing generator."""

    name: ClassVar[str] = "random"

    @staticmethod
    def chooser(n_replicas: int, rng: np.random.Generator) -> Chooser:
        drawn: list[int] = []

        def pick(outstanding: list[int]) -> int:
            if not drawn:
                drawn.extend(rng.integers(0, n_replicas, BLOCK).tolist()[::-1])
            return drawn.pop()

        return pick


class LeastOutstanding(PerReplica):
    """The replica with the fewest outstanding requests, ties to the lowest index."""

    name: ClassVar[str] = "least-outstanding"

    @staticmethod
    def chooser(n_replicas: int, rng: np.random.Generator) -> Chooser:
        replicas = range(n_replicas)
        return lambda outstanding: min(replicas, key=outstanding.__getitem__)


class PowerOfTwo(PerReplica):
    """Two distinct random replicas; the one with fewer outstanding, ties to the first sampled."""

    name: ClassVar[str] = "power-of-two"

    @staticmethod
    def chooser(n_replicas: int, rng: np.random.Generator) -> Chooser:
        if n_replicas == 1:
            return lambda outstanding: 0
        drawn: list[tuple[int, int]] = []

        def pick(outstanding: list[int]) -> int:
            if not drawn:
                first = rng.integers(0, n_replicas, BLOCK)
                second = rng.integers(0, n_replicas - 1, BLOCK)
                second += second >= first                  # uniform over the other replicas
                drawn.extend(list(zip(first.tolist(), second.tolist(), strict=True))[::-1])
            a, b = drawn.pop()
            return a if outstanding[a] <= outstanding[b] else b

        return pick


ROUTINGS: dict[str, type[Routing]] = {
    Central.name: Central,
    RoundRobin.name: RoundRobin,
    UniformRandom.name: UniformRandom,
    LeastOutstanding.name: LeastOutstanding,
    PowerOfTwo.name: PowerOfTwo,
}
