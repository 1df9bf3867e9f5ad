"""A service runtime: one service while it runs, with replicas that come and go.

The engine (`capacity.sim.engine`) builds one **runtime** per service that has replicas (or may get
some): a `capacity.sim.slots_service.SlotService` for a service whose slots serve one request at a time,
a `capacity.sim.batching.Batcher` for a batching one. Both derive from `ServiceRuntime`, which owns what
they share:

* the service's **replicas** (`capacity.sim.replicas.ServingReplica`, registered in the run's `Fleet`)
  and their lifecycle: starting → ready → draining → stopped, and down on a failure;
* the **router** (`ReplicaRouter`): per-replica routings choose among the *ready* replicas only;
* the **public API** to change the replicas during a run — `add_replica(replica, cold_start_s)` (it
  becomes ready after its cold start), `drain(name)` (it takes no new request, finishes what it holds,
  then stops), `state_counts()`, `replicas` with their timelines — and the failure hooks that
  `capacity.sim.failures` calls (`fail_replica`, `recover_replica`, `readmit`);
* ``on_complete(i, now)``: told when request ``i`` completes its service here (`capacity.sim.journeys`
  starts its next stage);
* what an autoscaler measures (`capacity.autoscaling`): `busy_slots()`, `requests_in_service()` (requests in
  service) and `queued()`, now;
* an optional **activator** (`hold_when_cold`, Knative's): while no replica is ready, arrivals are held
  (not rejected) and a callback is told; when a replica becomes ready the held requests are admitted, in
  arrival order, at that instant (their wait counts from their arrival; a request whose queue timeout
  passed while held times out at its deadline). A request still held when the run ends was never served
  (it counts as refused).

A subclass supplies how its slots and queues react (`_grow`, `_open`, `_close`, `_holds_nothing`,
`_take_down`, `_flush_shared`) and the request flow: ``admit(i)`` on arrival.

**A request's path**: arrival → admission (`admit`: no ready replica → *rejected*; deadline admission may
*drop* it) → routing picks its queue (the service's, or a ready replica's) → it starts on a free slot of a
ready replica, or waits in the queue (full at ``max_length`` → *rejected*; ``timeout_s`` → *timed out*)
→ a slot (or a batch) serves it → *completed* (or, if its replica fails, retried or *lost*).

**Joining and leaving.** A replica added with ``cold_start_s = 0`` is ready at once. A replica that
becomes ready under ``central`` routing starts serving the shared queue at once; under a per-replica
routing it gets new arrivals from then on. A draining replica finishes the requests in its slots and,
under a per-replica routing, those already waiting in its own queue: they were routed to it, and a real
replica's local queue (its server's or its sidecar's) is not handed back to the load balancer, so
re-routing them would invent a second routing decision (and could reject or time them out twice). Under
``central`` the shared queue belongs to the service and the other replicas serve it; when no replica is
ready or starting any more, nothing can serve it, and its waiting requests are *lost* (as when the last
replica fails). Arrivals are rejected while no replica is ready.

Times are seconds.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from typing import Protocol

import numpy as np
import simpy
from simpy.events import URGENT

from capacity.sim.events import call_at
from capacity.sim.model import Replica, ServingService
from capacity.sim.replicas import Fleet, ReplicaState, ServingReplica
from capacity.sim.routing import Chooser, Routing

READY, STARTING, DRAINING, STOPPED, DOWN = (ReplicaState.READY, ReplicaState.STARTING,
                                            ReplicaState.DRAINING, ReplicaState.STOPPED,
                                            ReplicaState.DOWN)


class ReplicaRouter:
    """Routing among the ready replicas of one service (per-replica routings; ``central`` has one queue).

    `route` returns the local index of the replica (its queue) for the next request, or -1 when no
    replica is ready. While every registered replica is ready the policy's chooser sees them all;
    otherwise a chooser over the ready ones (drawing from the same generator) maps back to their indices.
    ``keep_full``: when the replicas are all ready again, go back to the first chooser over all of them
    (the slot services do), rather than a new one (the batchers do); both draw nothing when built.
    """

    def __init__(self, policy: type[Routing], rng: np.random.Generator, n_replicas: int,
                 keep_full: bool) -> None:
        self.policy, self.rng, self.keep_full = policy, rng, keep_full
        self.per_replica = policy.per_replica
        self.n_ready = n_replicas
        self.ids: list[int] | None = None             # the ready replicas when not all are
        self._full_n = n_replicas
        self._full: Chooser = policy.chooser(n_replicas, rng)
        self.choose: Chooser = self._full

    def update(self, ready: list[int], total: int) -> None:
        """The ready replicas (local indices, ascending) among ``total`` registered ones."""
        self.n_ready = len(ready)
        if not self.per_replica:
            return
        if len(ready) == total:
            self.ids = None
            if not self.keep_full:
                self.choose = self.policy.chooser(total or 1, self.rng)
                return
            if self._full_n != total:
                self._full_n, self._full = total, self.policy.chooser(total, self.rng)
            self.choose = self._full
        else:
            self.ids = ready
            self.choose = self.policy.chooser(len(ready) or 1, self.rng)

    def route(self, outstanding: list[int]) -> int:
        """The replica (per-replica routings) or 0 (``central``) for the next request; -1: none ready."""
        if not self.n_ready:
            return -1
        if not self.per_replica:
            return 0
        ids = self.ids
        if ids is None:
            return self.choose(outstanding)
        return ids[self.choose([outstanding[r] for r in ids])]


class ServiceRuntime(ABC):
    """One running service: its replicas' lifecycle, routing, and the API to add and drain replicas."""

    def __init__(self, env: simpy.Environment, fleet: Fleet, svc: ServingService, index: int,
                 routing: type[Routing], rng: np.random.Generator, keep_full: bool) -> None:
        self.env, self.fleet, self.svc, self.service_index = env, fleet, svc, index
        self.c = svc.concurrency
        self.per_replica = routing.per_replica
        self.replicas: list[ServingReplica] = []      # local order
        for spec in svc.replicas:
            self.replicas.append(fleet.register(spec, index, len(self.replicas), self.c, READY, 0.0))
        self.router = ReplicaRouter(routing, rng, len(self.replicas), keep_full)
        # what becomes of requests that a lifecycle change leaves nobody to serve (set by the engine)
        self.on_lost: Callable[[int, float], None] | None = None
        self.held: list[int] | None = None            # the activator's requests (None: no activator)
        self.on_stopped: Callable[[ServingReplica], None] | None = None   # told when a replica stops
        self.on_cold: Callable[[], None] | None = None
        # told (request, now) when a request's service here is done (a path's next stage; None: nobody)
        self.on_complete: Callable[[int, float], None] | None = None
        # told of each held request that is refused when it enters (streaming runs mark it finished)
        self.on_refused: Callable[[int], None] | None = None

    # --- public API

    @property
    def name(self) -> str:
        return self.svc.name

    def state_counts(self) -> dict[str, int]:
        """How many of the service's replicas are in each state (every state named, 0 included)."""
        counts = Counter(r.state for r in self.replicas)
        return {state.name.lower(): counts.get(state, 0) for state in ReplicaState}

    @abstractmethod
    def queued(self) -> int:
        """How many requests wait in the service's queues (not yet in a slot or a batch)."""

    @abstractmethod
    def busy_slots(self) -> int:
        """How many of the service's slots hold work now (a slot: one request, or one batch)."""

    @abstractmethod
    def requests_in_service(self) -> int:
        """How many requests are in service now (in slots, batches or engines)."""

    def hold_when_cold(self, on_cold: Callable[[], None] | None = None) -> None:
        """Hold arrivals while no replica is ready (the activator; see the module docstring) and call
        ``on_cold()`` at each held arrival. Call it before the first arrival (from `Controller.start`)."""
        self.held = []
        self.on_cold = on_cold

    def entry(self) -> Callable[[int], bool]:
        """What the engine calls on each arrival: `admit`, or the activator's hold in front of it."""
        if self.held is None:
            return self.admit
        return self._admit_or_hold

    def _admit_or_hold(self, i: int) -> bool:
        if self.router.n_ready:
            return self.admit(i)
        assert self.held is not None
        self.held.append(i)
        if self.on_cold is not None:
            self.on_cold()
        return True

    def _release_held(self, now: float) -> None:
        """A replica is ready: the held requests enter, in arrival order."""
        held = self.held
        if not held:
            return
        self.held = []
        for j in held:
            if not self.admit_late(j, now) and self.on_refused is not None:
                self.on_refused(j)

    @abstractmethod
    def admit_late(self, i: int, now: float) -> bool:
        """Request ``i``, held since its arrival, enters at ``now`` (no admission test; rejected if no
        replica is ready or its queue is full: False; timed out at its deadline if that has passed)."""

    def ready_replicas(self) -> list[ServingReplica]:
        return [r for r in self.replicas if r.state == READY]

    def add_replica(self, replica: Replica, cold_start_s: float = 0.0) -> ServingReplica:
        """Add ``replica`` now: *starting* for ``cold_start_s`` seconds (holding its resources, serving
        nothing), then *ready*; ready at once when ``cold_start_s`` is 0."""
        if not (math.isfinite(cold_start_s) and cold_start_s >= 0.0):
            raise ValueError(f"cold_start_s: must be a finite number of seconds >= 0, got {cold_start_s!r}")
        if not (math.isfinite(replica.speed) and replica.speed > 0.0):
            raise ValueError(f"replica {replica.name!r}: speed must be > 0, got {replica.speed!r}")
        now = self.env.now
        r = self.fleet.register(replica, self.service_index, len(self.replicas), self.c, STARTING, now)
        self.replicas.append(r)
        self._grow(r)
        if cold_start_s > 0.0:
            # at the instant it is over, before the arrivals of that instant (as a completion)
            call_at(self.env, cold_start_s, lambda: self._warm_up(r), URGENT)
        else:
            self._warm_up(r)
        return r

    def drain(self, replica_name: str) -> None:
        """Stop sending ``replica_name`` new requests; it finishes what it holds, then stops. A starting
        replica stops at once; a down one stops when it recovers. Draining twice changes nothing."""
        r = self._own(replica_name)
        now = self.env.now
        if r.state == READY:
            r.enter(DRAINING, now)
            self._close(r, now)
            self._route_ready()
            self._maybe_stop(r, now)
            self._strand_shared(now)
        elif r.state == STARTING:
            self._stop(r, now)
            self._strand_shared(now)
        r.drain_requested = True                       # a down replica stops when it recovers

    # --- failure hooks

    def fail_replica(self, replica_global_index: int, now: float) -> list[int]:
        """Take the replica down; return the requests removed from it (see `capacity.sim.failures`)."""
        r = self.fleet.replicas[replica_global_index]
        if r.service != self.service_index or r.state in (DOWN, STOPPED):
            return []
        was = r.state
        r.enter(DOWN, now)
        return self._take_down(r, was, now)

    def recover_replica(self, replica_global_index: int, now: float) -> None:
        """Bring a down replica back: ready (empty), stopped if asked to drain, starting if still cold."""
        r = self.fleet.replicas[replica_global_index]
        if r.service != self.service_index or r.state != DOWN:
            return
        if r.drain_requested:
            self._stop(r, now)
            self._strand_shared(now)
        elif not r.warm:
            r.enter(STARTING, now)
        else:
            r.enter(READY, now)
            self._open(r, now)

    @abstractmethod
    def readmit(self, i: int, now: float) -> bool:
        """Admit a request removed by a failure again at ``now``; False if it cannot be."""

    @abstractmethod
    def admit(self, i: int) -> bool:
        """Request ``i`` arrives now; False if it is refused (rejected or dropped), True if it started
        or waits."""

    # --- lifecycle

    def _own(self, name: str) -> ServingReplica:
        r = self.fleet.get(name)
        if r is None or r.service != self.service_index:
            raise ValueError(f"services.{self.name}: no replica named {name!r}")
        return r

    def _warm_up(self, r: ServingReplica) -> None:
        r.warm = True
        if r.state == STARTING:
            r.enter(READY, self.env.now)
            self._open(r, self.env.now)
            self._release_held(self.env.now)

    def ready_ids(self) -> list[int]:
        return [r.local for r in self.replicas if r.state == READY]

    def _route_ready(self) -> None:
        self.router.update(self.ready_ids(), len(self.replicas))

    def _maybe_stop(self, r: ServingReplica, now: float) -> None:
        """A draining replica that holds nothing stops."""
        if r.state == DRAINING and self._holds_nothing(r):
            self._stop(r, now)

    def _stop(self, r: ServingReplica, now: float) -> None:
        r.enter(STOPPED, now)
        self._stopped(r)
        if self.on_stopped is not None:
            self.on_stopped(r)

    def _stopped(self, r: ServingReplica) -> None:  # noqa: B027 (a hook that does nothing by default)
        """``r`` stopped for good (a hook: the slot services update their mean speeds)."""

    def _serves_shared(self) -> bool:
        """Whether some replica is ready or starting (it will serve the shared queue)."""
        return any(r.state in (READY, STARTING) for r in self.replicas)

    def _strand_shared(self, now: float) -> None:
        """Under ``central`` routing with no replica ready or starting left, the shared queue is lost."""
        if self.per_replica or self._serves_shared():
            return
        lost = self._flush_shared(now)
        if lost and self.on_lost is None:
            raise RuntimeError(f"services.{self.name}: requests lost with no record to write them to")
        for j in lost:
            self.on_lost(j, now)                       # type: ignore[misc]

    # --- subclass hooks

    @abstractmethod
    def _grow(self, r: ServingReplica) -> None:
        """Make room for a new (starting) replica's slots and queue; it serves nothing yet."""

    @abstractmethod
    def _open(self, r: ServingReplica, now: float) -> None:
        """``r`` became ready: update routing, show its slots, let them take work."""

    @abstractmethod
    def _close(self, r: ServingReplica, now: float) -> None:
        """``r`` started draining: its free slots take no new request."""

    @abstractmethod
    def _holds_nothing(self, r: ServingReplica) -> bool:
        """Whether ``r`` has nothing in its slots (and, under a per-replica routing, in its queue)."""

    @abstractmethod
    def _take_down(self, r: ServingReplica, was: ReplicaState, now: float) -> list[int]:
        """``r`` (which was in state ``was``) failed: remove and return what it held."""

    @abstractmethod
    def _flush_shared(self, now: float) -> list[int]:
        """Empty the shared queue (``central``): return its waiting requests, in sequence order."""


class Controller(Protocol):
    """Something that changes the replicas during a run (an autoscaler, a rollout, a test).

    `start` is called once, before the first event; it schedules its own actions with `RunControl.at`.
    """

    def start(self, run: RunControl) -> None: ...


class RunControl:
    """What a `Controller` sees of a running simulation: the clock and each service's runtime."""

    def __init__(self, env: simpy.Environment, runtimes: dict[str, ServiceRuntime]) -> None:
        self.env = env
        self.services = runtimes

    @property
    def now(self) -> float:
        return float(self.env.now)

    def service(self, name: str) -> ServiceRuntime:
        """The runtime of service ``name``."""
        try:
            return self.services[name]
        except KeyError:
            raise ValueError(f"no service named {name!r} in the run") from None

    def at(self, time_s: float, action: Callable[[], None]) -> None:
        """Call ``action()`` at ``time_s`` (not before now), after the completions of that instant and
        before the arrivals scheduled after this call."""
        call_at(self.env, max(time_s - self.env.now, 0.0), action)
