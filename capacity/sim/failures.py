"""Node failures as what-ifs: nodes go down during the run; their replicas' requests are retried or lost.

**The model.** A `Failure` (`capacity.sim.model`) names nodes, the time ``at_s`` they fail and optionally
``recover_s``, how long they stay down. At ``at_s`` every replica on those nodes goes down:

* its requests **in service** are cut: the work done is lost (the busy time up to ``at_s`` still counts
  as busy), and a retried request needs its whole service time again;
* the requests **waiting in its own queue** (per-replica routings) leave that queue. With ``central``
  routing the shared queue stays where it is (the service's other replicas serve it), unless no replica
  of the service is left alive: then every request waiting in it leaves too;
* the requests that left, in sequence order, are **retried** when the service says ``on_failure:
  retry`` (the default): each is re-admitted at ``at_s`` through the service's routing among its live
  replicas, exactly like an arrival at that instant (it starts on a free slot or joins the back of the
  queue of its priority level), except that it keeps its original arrival time (so its latency shows
  the failure), it does not pass deadline-aware admission again, and a timeout still counts from its
  arrival. A retry that finds no live replica, or a queue full at ``max_length``, is **lost**. With
  ``on_failure: lost`` they are all lost.
* While a service has no live replica, its arrivals are **rejected** (as a service with no placed
  replica): *rejected* means refused on arrival, *lost* means admitted and then lost to a failure.
* After ``recover_s`` the replicas come back with empty queues; under ``central`` routing their slots
  start serving the shared queue at once. A replica that two failures took down (a node failure inside
  a zone failure) comes back when the last of them recovers.

**Events.** One SimPy event per failure, at ``at_s``, and one per recovery, all scheduled before the run
at normal priority. At equal times SimPy processes completions first (urgent events), then failures and
recoveries in the order they were listed, then arrivals: a request that completes at the failure instant
completes, and an arrival at that instant finds the replicas down. A failure first takes down all its
replicas, then retries their requests, so that a zone failure does not retry onto another replica of the
same zone.

**Admitter hooks.** The engine calls, on the admitter of each service it fails (duck typing, so that the
general path of `capacity.sim.engine` and the batching admitter share the protocol):

* ``fail_replica(replica, now) -> list[int]``: take the replica (a global index) down; return the
  requests removed from its slots and queue (and from the shared queue when it was the last live
  replica), not recorded as done;
* ``recover_replica(replica, now)``: bring it back, empty;
* ``readmit(request, now) -> bool``: admit a removed request again; False when it cannot be (no live
  replica, or a full queue), and the driver then records it as lost.

A service whose admitter lacks a hook that a failure needs is refused with a `ValueError` before the run.
Times are seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from capacity.sim.model import SimModel
from capacity.sim.result import FailureRecord
from capacity.sim.routing import SlotPicker


def replicas_hit(model: SimModel) -> list[set[int]]:
    """Per failure, the global indices of the replicas on its nodes."""
    index_of_node: dict[str, list[int]] = {}
    g = 0
    for s in model.services:
        for r in s.replicas:
            index_of_node.setdefault(r.node, []).append(g)
            g += 1
    return [{k for node in f.nodes for k in index_of_node.get(node, ())} for f in model.failures]


def services_hit(model: SimModel) -> set[str]:
    """Names of the services that some failure hits (they run the general path)."""
    service_of: list[str] = [s.name for s in model.services for _ in s.replicas]
    return {service_of[k] for hit in replicas_hit(model) for k in hit}


class LiveSlots:
    """A slot picker that skips the slots of failed replicas (wraps a `SlotPicker` of one queue group).

    Slots are numbered within the group, ``replica * concurrency + k``. A failed replica's free slots stay
    inside the wrapped picker but are *hidden*: `free` does not count them, and one that `take` meets is
    parked instead of returned; its busy slots are parked when the engine clears them (`park`). Recovery
    hands every parked slot back to the picker. The wrapped picker's rule (most free slots, lowest index)
    thus applies to the live replicas, at O(1) amortised extra cost per hidden slot.
    """

    def __init__(self, picker: SlotPicker, concurrency: int, n_replicas: int) -> None:
        self._picker = picker
        self._c = concurrency
        self._dead = [False] * n_replicas
        self._inside = [0] * n_replicas             # free slots of a dead replica still in the picker
        self._parked: list[list[int]] = [[] for _ in range(n_replicas)]
        self._hidden = 0
        self.live_replicas = n_replicas

    @property
    def free(self) -> int:
        return self._picker.free - self._hidden

    @property
    def live_slots(self) -> int:
        return self.live_replicas * self._c

    def take(self) -> int:
        while True:
            slot = self._picker.take()
            r = slot // self._c
            if not self._dead[r]:
                return slot
            self._parked[r].append(slot)
            self._inside[r] -= 1
            self._hidden -= 1

    def release(self, slot: int) -> None:
        r = slot // self._c
        if self._dead[r]:
            self._parked[r].append(slot)
        else:
            self._picker.release(slot)

    def fail(self, r: int, free_slots: int) -> None:
        """Replica ``r`` (in the group) goes down; ``free_slots`` of its slots are in the picker."""
        self._dead[r] = True
        self._inside[r] = free_slots
        self._hidden += free_slots
        self.live_replicas -= 1

    def park(self, slot: int) -> None:
        """A busy slot of a dead replica was cleared: keep it out of the picker until recovery."""
        self._parked[slot // self._c].append(slot)

    def recover(self, r: int) -> None:
        """Replica ``r`` comes back: its hidden slots count again, its parked ones return."""
        self._dead[r] = False
        self._hidden -= self._inside[r]
        self._inside[r] = 0
        self.live_replicas += 1
        parked, self._parked[r] = self._parked[r], []
        for slot in sorted(parked):
            self._picker.release(slot)


class _Trigger(Event):
    """A one-shot, always-successful event scheduled with `Environment.schedule`."""

    def __init__(self, env: simpy.Environment) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None


class FailureDriver:
    """Schedules the model's failures and recoveries and applies them through the admitters' hooks.

    ``admitters[k]`` is the admitter of ``model.services[k]`` (None for a service without replicas);
    ``lost``, ``retried`` and ``end_s`` are the engine's per-request records (a lost request's ``end_s``
    is the failure time). After the run, `records` describes each failure and `downtime` the intervals
    each replica was down.
    """

    def __init__(self, env: simpy.Environment, model: SimModel, admitters: Sequence[Any | None],
                 lost: np.ndarray, retried: np.ndarray, end_s: np.ndarray) -> None:
        self.env, self.model = env, model
        self.lost, self.retried, self.end_s = lost, retried, end_s
        self.hit = [sorted(h) for h in replicas_hit(model)]
        self.service_of = [k for k, s in enumerate(model.services) for _ in s.replicas]
        self.names = [r.name for s in model.services for r in s.replicas]
        self.admitters = admitters
        self.down_count = [0] * len(self.service_of)
        self.down_since: dict[int, float] = {}
        self.intervals: list[tuple[int, float, float]] = []
        self.records: list[FailureRecord] = []
        for k, f in enumerate(model.failures):
            for r in self.hit[k]:
                self._check(self.service_of[r], needs_recover=f.recover_s is not None)

    def _check(self, k: int, needs_recover: bool) -> None:
        svc = self.model.services[k]
        admitter = self.admitters[k]
        needed = ["fail_replica"] + (["readmit"] if svc.on_failure == "retry" else [])
        needed += ["recover_replica"] if needs_recover else []
        missing = [h for h in needed if not callable(getattr(admitter, h, None))]
        if missing:
            raise ValueError(f"services.{svc.name}: a failure hits it, but its admitter has no "
                             f"{', '.join(missing)} hook")

    def start(self) -> None:
        """Schedule every failure (and recovery) event; call before the first arrival is scheduled."""
        env = self.env
        for k, f in enumerate(self.model.failures):
            down = _Trigger(env)
            down.callbacks = [lambda _e, k=k: self._fail(k)]
            env.schedule(down, NORMAL, f.at_s)
            if f.recover_s is not None:
                up = _Trigger(env)
                up.callbacks = [lambda _e, k=k: self._recover(k)]
                env.schedule(up, NORMAL, f.at_s + f.recover_s)

    def _fail(self, k: int) -> None:
        now = self.env.now
        removed: dict[int, list[int]] = {}           # service -> requests its failed replicas held
        for r in self.hit[k]:
            self.down_count[r] += 1
            if self.down_count[r] == 1:
                self.down_since[r] = now
                s = self.service_of[r]
                removed.setdefault(s, []).extend(self.admitters[s].fail_replica(r, now))
        retried = lost = 0
        for s, requests in removed.items():
            admitter = self.admitters[s]
            retry = self.model.services[s].on_failure == "retry"
            for j in sorted(requests):
                if retry and admitter.readmit(j, now):
                    self.retried[j] = True
                    retried += 1
                else:
                    self.lost[j] = True
                    self.end_s[j] = now
                    lost += 1
        f = self.model.failures[k]
        self.records.append(FailureRecord(
            at_s=float(f.at_s), target=f.target, replicas=tuple(self.names[r] for r in self.hit[k]),
            recover_at_s=None if f.recover_s is None else float(f.at_s + f.recover_s),
            retried=retried, lost=lost))

    def _recover(self, k: int) -> None:
        now = self.env.now
        for r in self.hit[k]:
            self.down_count[r] -= 1
            if self.down_count[r] == 0:
                self.intervals.append((r, self.down_since.pop(r), now))
                self.admitters[self.service_of[r]].recover_replica(r, now)

    def downtime(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(replica, start, end) of every down interval; a replica still down ends at ``inf``."""
        rows = self.intervals + [(r, t, float("inf")) for r, t in sorted(self.down_since.items())]
        rows.sort()
        return (np.array([r for r, _, _ in rows], dtype=np.int32),
                np.array([a for _, a, _ in rows], dtype=np.float64),
                np.array([b for _, _, b in rows], dtype=np.float64))
