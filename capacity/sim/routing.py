"""Routing: which replica (and which of its slots) serves a request.

``central`` routing keeps one queue per service that all of its replicas serve (see
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

Each routing policy is a small class registered in `ROUTINGS` under its scenario name.
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import ClassVar, Protocol


class SlotPicker(Protocol):
    """The free slots of one service. ``free`` is their number."""

    free: int

    def take(self) -> int:
        """Occupy and return a free slot chosen by the routing rule (only called when ``free > 0``)."""
        ...

    def release(self, slot: int) -> None:
        """A slot became free and nothing was waiting for it."""


class LowestIdleReplica:
    """One slot per replica: a heap of idle replica indices (slot == replica)."""

    def __init__(self, n_replicas: int) -> None:
        self.free = n_replicas
        self._idle = list(range(n_replicas))           # sorted, hence a heap

    def take(self) -> int:
        self.free -= 1
        return heappop(self._idle)

    def release(self, slot: int) -> None:
        self.free += 1
        heappush(self._idle, slot)


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

    def _push(self, k: int, r: int) -> None:
        """List replica ``r`` (now with ``k`` free slots) in bucket ``k``; drop stale entries if big."""
        bucket = self._buckets[k]
        heappush(bucket, r)
        if len(bucket) > self._compact_at:
            bucket[:] = sorted({q for q in bucket if len(self._slots[q]) == k})


class Central:
    """One queue per service served by all its replicas; see the module docstring for the rule."""

    name: ClassVar[str] = "central"

    @staticmethod
    def slot_picker(n_replicas: int, concurrency: int) -> SlotPicker:
        if concurrency == 1:
            return LowestIdleReplica(n_replicas)
        return MostFreeSlots(n_replicas, concurrency)


ROUTINGS: dict[str, type[Central]] = {Central.name: Central}
