"""A service's slots: what each one serves, and which free ones the routing rule may give out.

A replica with ``concurrency`` c has c **slots**, numbered ``local * c + k`` within its service; a slot
serves one request at a time. `ServiceSlots` keeps, per slot, the request in service (`EMPTY` if none),
when its current segment started, its replica's speed and global index, its completion event, its group
(queue) and its **mode** (`OPEN`; `CLOSED`: a draining replica's slot under ``central`` routing, which
takes nothing from the shared queue when it frees; `FINISHING`: a draining replica's slot under a
per-replica routing, which still serves its own replica's queue). Each group has a slot picker
(`capacity.sim.routing`, "most free slots, then the lowest replica index").

`ReadySlots` wraps a group's picker when replicas can change state (failures, lifecycle): the free slots
of a replica that is not ready are *hidden* (`free` does not count them, and one that `take` meets is
parked instead of returned); its busy slots are parked when they free. `show` hands every parked slot
back. The wrapped picker's rule thus applies to the ready replicas, at O(1) amortised extra cost per
hidden slot.
"""

from __future__ import annotations

import simpy

from capacity.sim.disciplines import EMPTY
from capacity.sim.events import Tick
from capacity.sim.replicas import ServingReplica
from capacity.sim.routing import SlotPicker, most_free_slots

OPEN, CLOSED, FINISHING = 0, 1, 2


class ReadySlots:
    """A slot picker over the ready replicas of one group (see the module docstring).

    Slots are numbered within the group, ``replica * concurrency + k`` (``replica`` within the group).
    """

    def __init__(self, picker: SlotPicker, concurrency: int, n_replicas: int) -> None:
        self._picker = picker
        self._c = concurrency
        self._hidden_replica = [False] * n_replicas
        self._inside = [0] * n_replicas             # free slots of a hidden replica still in the picker
        self._parked: list[list[int]] = [[] for _ in range(n_replicas)]
        self._hidden = 0

    @property
    def free(self) -> int:
        return self._picker.free - self._hidden

    def take(self) -> int:
        while True:
            slot = self._picker.take()
            r = slot // self._c
            if not self._hidden_replica[r]:
                return slot
            self._parked[r].append(slot)
            self._inside[r] -= 1
            self._hidden -= 1

    def release(self, slot: int) -> None:
        r = slot // self._c
        if self._hidden_replica[r]:
            self._parked[r].append(slot)
        else:
            self._picker.release(slot)

    def add_replica(self) -> None:
        """A replica joins the group, hidden (starting), all its slots free."""
        self._picker.add_replica()
        self._hidden_replica.append(True)
        self._inside.append(self._c)
        self._parked.append([])
        self._hidden += self._c

    def is_hidden(self, r: int) -> bool:
        return self._hidden_replica[r]

    def hide(self, r: int, free_slots: int) -> None:
        """Replica ``r`` takes no new work; ``free_slots`` of its slots are in the picker."""
        self._hidden_replica[r] = True
        self._inside[r] = free_slots
        self._hidden += free_slots

    def park(self, slot: int) -> None:
        """A busy slot of a hidden replica was cleared: keep it out of the picker until `show`."""
        self._parked[slot // self._c].append(slot)

    def show(self, r: int) -> None:
        """Replica ``r`` is ready: its hidden slots count again, its parked ones return."""
        self._hidden_replica[r] = False
        self._hidden -= self._inside[r]
        self._inside[r] = 0
        parked, self._parked[r] = self._parked[r], []
        for slot in sorted(parked):
            self._picker.release(slot)


class ServiceSlots:
    """The slots of one service and the pickers of its groups (see the module docstring)."""

    def __init__(self, env: simpy.Environment, replicas: list[ServingReplica], concurrency: int,
                 per_replica: bool, wrap: bool) -> None:
        self.env, self.c, self.per_replica, self.wrap = env, concurrency, per_replica, wrap
        self.in_service: list[int] = []
        self.segment_start: list[float] = []
        self.speed: list[float] = []
        self.replica: list[int] = []               # global replica index of each slot
        self.group: list[int] = []
        self.mode: list[int] = []
        self.ticks: list[Tick] = []
        self.pickers: list[SlotPicker | ReadySlots] = []
        self.base: list[int] = []                  # group g's pickers number slots from base[g]
        n = len(replicas)
        if not per_replica:
            self.pickers.append(self._picker(n))
            self.base.append(0)
        for r in replicas:
            self._add_slots(r)
            if per_replica:
                self.pickers.append(self._picker(1))
                self.base.append(r.local * concurrency)

    def _picker(self, n_replicas: int) -> SlotPicker | ReadySlots:
        picker = most_free_slots(n_replicas, self.c)
        return ReadySlots(picker, self.c, n_replicas) if self.wrap else picker

    def _add_slots(self, r: ServingReplica) -> None:
        g = r.local if self.per_replica else 0
        for _ in range(self.c):
            self.ticks.append(Tick(self.env, len(self.in_service)))
            self.in_service.append(EMPTY)
            self.segment_start.append(0.0)
            self.speed.append(r.speed)
            self.replica.append(r.index)
            self.group.append(g)
            self.mode.append(OPEN)

    def add_replica(self, r: ServingReplica) -> None:
        """A starting replica's slots: hidden in its group's picker until it is ready."""
        self._add_slots(r)
        if self.per_replica:
            picker = ReadySlots(most_free_slots(0, self.c), self.c, 0)
            picker.add_replica()
            self.pickers.append(picker)
            self.base.append(r.local * self.c)
        else:
            ready_slots = self.pickers[0]
            assert isinstance(ready_slots, ReadySlots)
            ready_slots.add_replica()

    def of_replica(self, local: int) -> range:
        return range(local * self.c, (local + 1) * self.c)

    def of_group(self, g: int) -> range:
        return range(g * self.c, (g + 1) * self.c) if self.per_replica else range(len(self.in_service))

    def ready_picker(self, g: int) -> ReadySlots:
        picker = self.pickers[g]
        assert isinstance(picker, ReadySlots), "replica states change only on a wrapped picker"
        return picker

    def set_mode(self, local: int, mode: int) -> None:
        for slot in self.of_replica(local):
            self.mode[slot] = mode

    def busy(self, local: int) -> int:
        """How many of replica ``local``'s slots hold a request."""
        return sum(1 for slot in self.of_replica(local) if self.in_service[slot] != EMPTY)
