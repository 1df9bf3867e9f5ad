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

**Hooks.** The driver finds the replicas on the failed nodes at the failure time in the run's fleet
(`capacity.sim.replicas.Fleet`: replicas added during the run too, stopped ones excluded) and calls, on
the runtime of each one's service (`capacity.sim.runtime.ServiceRuntime`, shared by the slot services and
the batchers):

* ``fail_replica(replica, now) -> list[int]``: take the replica (a global index) down; return the
  requests removed from its slots and queue (and from the shared queue when no replica is left to serve
  it), not recorded as done;
* ``recover_replica(replica, now)``: bring it back, empty (see the lifecycle in `capacity.sim.replicas`);
* ``readmit(request, now) -> bool``: admit a removed request again; False when it cannot be (no ready
  replica, or a full queue), and the driver then records it as lost.

Times are seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import simpy

from capacity.sim.events import call_at
from capacity.sim.model import SimModel
from capacity.sim.records import RunRecords
from capacity.sim.replicas import Fleet
from capacity.sim.result import FailureRecord
from capacity.sim.runtime import ServiceRuntime


def replicas_hit(model: SimModel) -> list[set[int]]:
    """Per failure, the global indices of the model's replicas on its nodes."""
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


class FailureDriver:
    """Schedules the model's failures and recoveries and applies them through the runtimes' hooks.

    ``runtimes[k]`` is the runtime of ``model.services[k]`` (None for a service that no failure can hit:
    no replica, or the fast path); ``records`` receives the lost and retried flags (a lost request's
    ``end_s`` is the failure time). After the run, `records` describes each failure and `downtime` the
    intervals each replica was down.
    """

    def __init__(self, env: simpy.Environment, model: SimModel, fleet: Fleet,
                 runtimes: Sequence[ServiceRuntime | None], records: RunRecords) -> None:
        assert records.lost is not None and records.retried is not None
        self.env, self.model, self.fleet, self.runtimes = env, model, fleet, runtimes
        self.lost, self.retried, self.end_s = records.lost, records.retried, records.end_s
        self.hit: dict[int, list[int]] = {}           # per failure (once it happened): replicas on its nodes
        self.down_count: dict[int, int] = {}
        self.down_since: dict[int, float] = {}
        self.intervals: list[tuple[int, float, float]] = []
        self.records: list[FailureRecord] = []
        for hit in replicas_hit(model):
            for r in hit:
                self._runtime(fleet.replicas[r].service)

    def _runtime(self, service: int) -> ServiceRuntime:
        runtime = self.runtimes[service]
        if runtime is None:
            raise ValueError(f"services.{self.model.services[service].name}: a failure hits it, but it "
                             "runs without a runtime that can fail")
        return runtime

    def start(self) -> None:
        """Schedule every failure (and recovery) event; call before the first arrival is scheduled."""
        for k, f in enumerate(self.model.failures):
            call_at(self.env, f.at_s, partial(self._fail, k))
            if f.recover_s is not None:
                call_at(self.env, f.at_s + f.recover_s, partial(self._recover, k))

    def _fail(self, k: int) -> None:
        now = self.env.now
        f = self.model.failures[k]
        hit = self.hit[k] = [r.index for r in self.fleet.on_nodes(f.nodes)]
        removed: dict[int, list[int]] = {}           # service -> requests its failed replicas held
        for r in hit:
            self.down_count[r] = self.down_count.get(r, 0) + 1
            if self.down_count[r] == 1:
                self.down_since[r] = now
                s = self.fleet.replicas[r].service
                removed.setdefault(s, []).extend(self._runtime(s).fail_replica(r, now))
        retried = lost = 0
        for s, requests in removed.items():
            runtime = self._runtime(s)
            retry = self.model.services[s].on_failure == "retry"
            for j in sorted(requests):
                if retry and runtime.readmit(j, now):
                    self.retried[j] = True
                    retried += 1
                else:
                    self.lost[j] = True
                    self.end_s[j] = now
                    lost += 1
        self.records.append(FailureRecord(
            at_s=float(f.at_s), target=f.target, replicas=tuple(self.fleet.replicas[r].name for r in hit),
            recover_at_s=None if f.recover_s is None else float(f.at_s + f.recover_s),
            retried=retried, lost=lost))

    def _recover(self, k: int) -> None:
        now = self.env.now
        for r in self.hit.get(k, ()):
            self.down_count[r] -= 1
            if self.down_count[r] == 0:
                self.intervals.append((r, self.down_since.pop(r), now))
                self._runtime(self.fleet.replicas[r].service).recover_replica(r, now)

    def downtime(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(replica, start, end) of every down interval; a replica still down ends at ``inf``."""
        rows = self.intervals + [(r, t, float("inf")) for r, t in sorted(self.down_since.items())]
        rows.sort()
        return (np.array([r for r, _, _ in rows], dtype=np.int32),
                np.array([a for _, a, _ in rows], dtype=np.float64),
                np.array([b for _, _, b in rows], dtype=np.float64))
