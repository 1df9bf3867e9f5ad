"""The general path: a service whose replicas' slots serve one request at a time, with every feature.

A service runs here (rather than the engine's minimal fast path, `capacity.sim.engine`) when it has a
per-replica routing, a discipline without the fast-path flag, ``max_length``, ``timeout_s``, deadline
admission, a replica of speed other than 1, a failure on its nodes, or replicas that may come and go.
`SlotService` is its `capacity.sim.runtime.ServiceRuntime`; its parts, one job each:

* `capacity.sim.queues.ServiceQueues` — the queue of each group (the service's, or each replica's) and
  its counts; `capacity.sim.queues.Deadlines` — timeouts;
* `capacity.sim.slots.ServiceSlots` — what each slot serves, and the free-slot pickers;
* `capacity.sim.admission.AdmissionPredictor` — deadline-aware admission;
* `capacity.sim.records.RunRecords` — what the run writes (outcomes, segments).

**Flow.** `admit` (arrival) → expire due timeouts → the router picks the group among the ready replicas
(none ready: *rejected*) → deadline admission may *drop* it → `enter`: a free slot of a ready replica
takes it (through the queue, so that fair disciplines charge its tenant), or under ``preemptive`` it
interrupts the least urgent request in service if that one is strictly less urgent, or it waits (a full
queue at ``max_length``: *rejected*). A completion (`on_done`, one event per slot, rescheduled for each
segment) frees its slot, which takes the group's next request in discipline order.

* **Timeouts.** A queued request whose wait reaches ``timeout_s`` leaves (*timed out*; its end time is
  ``arrival + timeout_s``, its start time NaN). The deadline is inclusive: a slot that frees at exactly
  the deadline does not serve it. Only a request that never started can time out.
* **Preemption** (``preemptive``). The victim is the in-service request (on a ready replica) with the
  largest ``(priority, segment start, sequence)``, the least urgent one that started most recently; it
  goes back to the queue (even beyond ``max_length``: it was admitted) needing its remaining service time
  (``resume``) or all of it again (``restart``). Its start time stays the first one; its end time and
  replica are those of its last segment; busy time counts its segments only. An interrupted segment's
  completion event fires later and is ignored (each segment gets a fresh event).
* **Failures and lifecycle**: see `capacity.sim.runtime` (the hooks below implement them for slots).

Times are seconds.
"""

from __future__ import annotations

import math

import simpy
from simpy.events import URGENT

from capacity.sim.admission import AdmissionPredictor, level_map
from capacity.sim.disciplines import DISCIPLINES, EMPTY, QueueContext
from capacity.sim.events import Callbacks, Tick
from capacity.sim.model import SimModel
from capacity.sim.queues import Deadlines, ServiceQueues
from capacity.sim.records import RunRecords
from capacity.sim.replicas import Fleet, ReplicaState, ServingReplica
from capacity.sim.routing import ROUTINGS
from capacity.sim.runtime import ServiceRuntime
from capacity.sim.slots import CLOSED, FINISHING, OPEN, ReadySlots, ServiceSlots
from capacity.sim.streams import routing_rng

READY, STOPPED = ReplicaState.READY, ReplicaState.STOPPED


class SlotService(ServiceRuntime):
    """One service on the general path (see the module docstring)."""

    def __init__(self, env: simpy.Environment, fleet: Fleet, model: SimModel, index: int,
                 rec: RunRecords, dynamic: bool = False) -> None:
        svc = model.services[index]
        routing = ROUTINGS[svc.routing]
        super().__init__(env, fleet, svc, index, routing, routing_rng(model.seed, svc.name),
                         keep_full=True)
        self.schedule = env.schedule
        self.rec = rec
        self.arrival, self.service, self.priority = rec.arrival, rec.service, rec.priority
        self.start_s, self.replica_of, self.end_s = rec.start_s, rec.replica_of, rec.end_s
        discipline = DISCIPLINES[svc.discipline]
        self.preemptive = discipline.preemptive
        self.restart = svc.preemption == "restart"
        self.remaining = rec.remaining
        self.timeout = svc.timeout_s
        self.gone = rec.gone if self.timeout is not None else None
        self.deadlines = Deadlines(self.timeout) if self.timeout is not None else None
        self.max_length = svc.max_length if svc.max_length is not None else len(self.arrival) + 1
        cost, quantum = ((rec.tokens, rec.mean_tokens.get(svc.name, 1.0)) if svc.queue_cost == "tokens"
                         else (self.service, svc.service_time.mean_s))   # tokens, or seconds of service
        context = QueueContext(rec.tenant, rec.tenant_weights.get(svc.name, [1.0]), cost, self.gone,
                               quantum=quantum)
        levels = [k.priority for k in model.classes if k.service == svc.name]
        n_groups = len(self.replicas) if self.per_replica else 1
        self.queues = ServiceQueues(discipline, levels, context, n_groups, self.gone)
        self.pushes, self.waiting, self.outstanding = (self.queues.pushes, self.queues.waiting,
                                                       self.queues.outstanding)
        self.next_waiting = self.queues.next_waiting
        self.pops = self.queues.pops
        failing = svc.name in rec.failing
        self.lifecycle = failing or dynamic            # replicas may change state: pickers wrapped
        self.slots = ServiceSlots(env, self.replicas, self.c, self.per_replica, self.lifecycle)
        sl = self.slots
        self.in_service, self.segment_start, self.ticks = sl.in_service, sl.segment_start, sl.ticks
        self.pickers, self.base, self.group_of_slot = sl.pickers, sl.base, sl.group
        self.replica_of_slot, self.speed_of_slot, self.mode = sl.replica, sl.speed, sl.mode
        self.scaled = any(v != 1.0 for v in sl.speed)
        self.cut = rec.cut if self.preemptive or failing else None
        self.segments = rec.segments
        self.group_speed: list[float] = []
        self._refresh_speeds()
        targets = rec.admission_target
        predict = any(targets[k] < math.inf for k, c in enumerate(model.classes) if c.service == svc.name)
        self.dropped = rec.dropped
        self.predictor = AdmissionPredictor(targets, rec.cls, level_map(levels, discipline.levelled),
                                            n_groups, self.group_speed) if predict else None
        if self.predictor is not None:
            self.predictor.add_slots(len(self.in_service))
        self.route = self.router.route
        self.done: Callbacks = [self.on_done]          # one callback list, shared by every slot

    # --- request flow

    def queued(self) -> int:
        return sum(self.waiting)

    def busy_slots(self) -> int:
        return sum(1 for j in self.in_service if j != EMPTY)

    def requests_in_service(self) -> int:
        return self.busy_slots()

    def admit_late(self, i: int, now: float) -> bool:
        deadlines = self.deadlines
        if deadlines is not None:
            due = self.arrival[i] + deadlines.timeout_s
            if due <= now:
                self.rec.timed_out[i] = True
                self.end_s[i] = due
                return True
            self.expire(now)
        g = self.route(self.outstanding)
        if g < 0:
            return False                               # rejected: no ready replica
        if not self.enter(i, now, g):
            return False                               # rejected: the queue is full
        if deadlines is not None and self.replica_of[i] < 0:
            deadlines.add(self.arrival[i], i, g)
        return True

    def admit(self, i: int) -> bool:
        now = self.arrival[i]
        deadlines = self.deadlines
        if deadlines is not None and (due := deadlines.pending) and due[0][0] <= now:
            self.expire(now)
        g = self.route(self.outstanding)
        if g < 0:
            return False                               # rejected: no ready replica
        if self.predictor is not None and self._drops(i, g, now):
            return False
        if not self.enter(i, now, g):
            return False                               # rejected: the queue is full
        if deadlines is not None and self.replica_of[i] < 0:
            deadlines.add(now, i, g)
        return True

    def readmit(self, i: int, now: float) -> bool:
        """Admit ``i`` again at ``now`` after a failure (no admission test); False if it cannot be."""
        g = self.route(self.outstanding)
        if g < 0:
            return False
        gone = self.gone
        if gone is not None:
            gone[i] = 0
        if not self.enter(i, now, g):
            if gone is not None:
                gone[i] = 1
            return False
        if self.deadlines is not None and self.replica_of[i] < 0:
            self.deadlines.move(i, g)
        return True

    def _drops(self, i: int, g: int, now: float) -> bool:
        """Deadline admission: whether ``i`` is predicted to miss its target (and so is dropped)."""
        predictor = self.predictor
        assert predictor is not None and self.dropped is not None
        target = predictor.targets[predictor.cls[i]]
        if target == math.inf:
            return False
        picker = self.pickers[g]
        ready_slots = self.c * (1 if self.per_replica else self.router.n_ready)
        wait = 0.0 if picker.free else predictor.wait(g, self.priority[i], now, ready_slots)
        if wait + self.service[i] / self.group_speed[g] > target:
            self.dropped[i] = True
            return True
        return False

    def work(self, j: int) -> float:
        return self.remaining[j] if self.preemptive else self.service[j]

    def enter(self, i: int, now: float, g: int) -> bool:
        """Start ``i`` on a free slot of group ``g``, or queue it there; False if the queue is full."""
        picker = self.pickers[g]
        if picker.free:
            # through the queue (it holds no live request when a slot is free), so that the fair
            # disciplines charge the request to its tenant like any other
            self.pushes[g](i, self.priority[i])
            j = self.pops[g]()
            if self.gone is not None and self.gone[j]:
                j = self.next_waiting(g)               # (a gone request was left at the head)
            self.outstanding[g] += 1
            self.begin(self.base[g] + picker.take(), j, now)
            return True
        if self.preemptive:
            slot = self.interrupt_for(i, g, now)
            if slot != EMPTY:
                self.outstanding[g] += 1
                self.begin(slot, i, now)
                return True
        if self.waiting[g] >= self.max_length:
            return False                               # the queue is full
        self.pushes[g](i, self.priority[i])
        self.waiting[g] += 1
        self.outstanding[g] += 1
        if self.predictor is not None:
            self.predictor.queued(g, self.priority[i], self.work(i))
        return True

    def begin(self, slot: int, j: int, now: float) -> None:
        """Request ``j`` starts (or resumes) service on ``slot`` at ``now``."""
        replica_of = self.replica_of
        if replica_of[j] < 0:
            self.start_s[j] = now
        replica_of[j] = self.replica_of_slot[slot]
        self.in_service[slot] = j
        if self.cut is not None:
            self.segment_start[slot] = now
        if self.preemptive:
            tick = self.ticks[slot] = Tick(self.env, slot)   # a fresh event: the old one may be pending
            duration = self.remaining[j]
        else:
            tick = self.ticks[slot]
            duration = self.service[j]
        if self.scaled:
            duration = duration / self.speed_of_slot[slot]  # a replica of speed v takes 1/v as long
        tick.callbacks = self.done
        self.schedule(tick, URGENT, duration)
        predictor = self.predictor
        if predictor is not None:
            predictor.started(slot, self.group_of_slot[slot], now + duration)

    def on_done(self, tick: Tick) -> None:
        slot = tick.slot
        if tick is not self.ticks[slot]:
            return                                     # a cut segment's completion
        now = self.env._now
        if self.on_complete is not None:
            self.on_complete(self.in_service[slot], now)   # (it acts later: a path schedules an event)
        g = self.group_of_slot[slot]
        self.outstanding[g] -= 1
        cut = self.cut
        if cut is not None and cut[j := self.in_service[slot]]:
            self.record_segment(slot, j, now)
            self.end_s[j] = now
        predictor = self.predictor
        if predictor is not None:
            predictor.vacated(slot, g)
        deadlines = self.deadlines
        if deadlines is not None and (due := deadlines.pending) and due[0][0] <= now:
            self.expire(now)
        mode = self.mode[slot]
        if mode == CLOSED:                             # a draining replica takes nothing new
            self._free(slot, g, now)
            return
        pop, gone = self.pops[g], self.gone
        j = pop()
        if gone is not None:
            while j != EMPTY and gone[j]:
                j = pop()
        if j == EMPTY:
            self.in_service[slot] = EMPTY
            self.pickers[g].release(slot - self.base[g])
            if mode != OPEN:
                self._maybe_stop(self.replicas[slot // self.c], now)
        else:
            self.waiting[g] -= 1
            if predictor is not None:
                predictor.dequeued(g, self.priority[j], self.work(j))
            self.begin(slot, j, now)

    def _free(self, slot: int, g: int, now: float) -> None:
        self.in_service[slot] = EMPTY
        self.pickers[g].release(slot - self.base[g])
        if self.mode[slot] != OPEN:
            self._maybe_stop(self.replicas[slot // self.c], now)

    def record_segment(self, slot: int, j: int, now: float) -> None:
        """``j``'s service on ``slot`` was cut (or, cut before, ends) at ``now``: keep the segment."""
        assert self.cut is not None
        self.cut[j] = 1
        self.segments.add(j, self.replica_of_slot[slot], self.segment_start[slot], now)

    def expire(self, now: float) -> None:
        """Every queued request whose deadline is at or before ``now`` and that never started leaves."""
        assert self.deadlines is not None and self.gone is not None
        gone, replica_of = self.gone, self.replica_of
        for deadline, j, g in self.deadlines.due(now):
            if replica_of[j] < 0 and not gone[j]:      # still waiting
                gone[j] = 1
                self.rec.timed_out[j] = True
                self.end_s[j] = deadline
                self.waiting[g] -= 1
                self.outstanding[g] -= 1
                if self.predictor is not None:
                    self.predictor.dequeued(g, self.priority[j], self.work(j))

    def interrupt_for(self, i: int, g: int, now: float) -> int:
        """Interrupt the least urgent request in service in group ``g`` for ``i``; its slot, or EMPTY."""
        in_service, priority = self.in_service, self.priority
        slots: range | list[int] = self.slots.of_group(g)
        if self.lifecycle:                             # only busy slots of ready replicas
            mode = self.mode
            slots = [s for s in slots if in_service[s] != EMPTY and mode[s] == OPEN
                     and self.replicas[s // self.c].state == READY]
            if not slots:
                return EMPTY
        segment_start = self.segment_start
        victim = max(slots, key=lambda s: (priority[in_service[s]], segment_start[s], in_service[s]))
        v = in_service[victim]
        if priority[v] <= priority[i]:
            return EMPTY
        self.record_segment(victim, v, now)
        done_work = (now - segment_start[victim]) * self.speed_of_slot[victim]   # seconds at speed 1
        self.remaining[v] = self.service[v] if self.restart else max(self.remaining[v] - done_work, 0.0)
        self.pushes[g](v, priority[v])                 # back to the queue; its old event is ignored
        self.waiting[g] += 1
        if self.predictor is not None:
            self.predictor.vacated(victim, g)
            self.predictor.queued(g, priority[v], self.remaining[v])
        return victim

    def _fill(self, g: int, now: float) -> None:
        """Free slots of group ``g`` take waiting requests."""
        picker = self.pickers[g]
        while picker.free:
            j = self.next_waiting(g)
            if j == EMPTY:
                break
            self.waiting[g] -= 1
            if self.predictor is not None:
                self.predictor.dequeued(g, self.priority[j], self.work(j))
            self.begin(self.base[g] + picker.take(), j, now)

    # --- lifecycle hooks

    def _where(self, r: ServingReplica) -> tuple[int, int]:
        """``r``'s group and its index within the group's picker."""
        return (r.local, 0) if self.per_replica else (0, r.local)

    def _refresh_speeds(self) -> None:
        """The mean speed of each group's replicas (not stopped), for the admission predictor."""
        speeds = self.speed_of_slot
        if self.per_replica:
            c = self.c
            self.group_speed[:] = [sum(speeds[r.local * c:(r.local + 1) * c]) / c for r in self.replicas]
            return
        live = [v for slot, v in enumerate(speeds) if self.replicas[slot // self.c].state != STOPPED]
        self.group_speed[:] = [sum(live) / len(live) if live else 1.0]

    def _grow(self, r: ServingReplica) -> None:
        self.slots.add_replica(r)
        if self.per_replica:
            self.queues.add_group()
            if self.predictor is not None:
                self.predictor.add_group()
        if self.predictor is not None:
            self.predictor.add_slots(self.c)
        self.scaled = self.scaled or r.speed != 1.0
        self._refresh_speeds()
        self._route_ready()

    def _open(self, r: ServingReplica, now: float) -> None:
        if self.deadlines is not None:
            self.expire(now)
        g, within = self._where(r)
        self.slots.ready_picker(g).show(within)
        self.slots.set_mode(r.local, OPEN)
        self._route_ready()
        self._fill(g, now)

    def _close(self, r: ServingReplica, now: float) -> None:
        g, within = self._where(r)
        self.slots.ready_picker(g).hide(within, self.c - self.slots.busy(r.local))
        self.slots.set_mode(r.local, FINISHING if self.per_replica else CLOSED)

    def _holds_nothing(self, r: ServingReplica) -> bool:
        if self.slots.busy(r.local):
            return False
        return not (self.per_replica and self.waiting[r.local])

    def _stopped(self, r: ServingReplica) -> None:
        self._refresh_speeds()

    def _take_down(self, r: ServingReplica, was: ReplicaState, now: float) -> list[int]:
        if self.deadlines is not None:
            self.expire(now)
        g, within = self._where(r)
        removed: list[int] = []
        busy_slots: list[int] = []
        for slot in self.slots.of_replica(r.local):
            j = self.in_service[slot]
            if j == EMPTY:
                continue
            self.record_segment(slot, j, now)
            if self.preemptive:
                self.remaining[j] = self.service[j]   # the work done is lost
            if self.predictor is not None:
                self.predictor.vacated(slot, g)
            self.in_service[slot] = EMPTY
            self.ticks[slot] = Tick(self.env, slot)   # its pending completion is now stale
            self.outstanding[g] -= 1
            busy_slots.append(slot - self.base[g])
            removed.append(j)
        picker: ReadySlots = self.slots.ready_picker(g)
        if not picker.is_hidden(within):
            picker.hide(within, self.c - len(busy_slots))
        for slot in busy_slots:
            picker.park(slot)
        self.slots.set_mode(r.local, OPEN)
        if self.per_replica or not self._serves_shared():
            # its own queue (or the shared one, with no replica left to serve it) empties
            removed.extend(self.queues.drain_group(g))
            self.waiting[g] = self.outstanding[g] = 0
            if self.predictor is not None:
                self.predictor.reset(g)
            if self.per_replica:
                self.queues.reset(g)
        self._route_ready()
        removed.sort()
        return removed

    def _flush_shared(self, now: float) -> list[int]:
        removed = self.queues.drain_group(0)
        self.waiting[0] = 0
        self.outstanding[0] -= len(removed)
        if self.predictor is not None:
            self.predictor.reset(0)
        return sorted(removed)
