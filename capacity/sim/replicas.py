"""Replicas as entities with a lifecycle, and the run's registry of them (the fleet).

A replica is a copy of a service's model placed on a node (`capacity.sim.model.Replica`: name, node, pool,
speed) with ``concurrency`` **slots**. During a run it is in one of five states::

                 cold start over                drain()              holds nothing
    (added) ──▶ STARTING ─────────────▶ READY ─────────────▶ DRAINING ─────────────▶ STOPPED
                   │  drain()             │ ▲                   │
                   └──────────────────────┼─┼───────────────────┼──────────────────▶ STOPPED
                                  failure │ │ recovery          │ failure
                                          ▼ │                   ▼
                                          DOWN ◀────────────────┘   (recovery of a replica asked to
                                                                     drain, or never ready: see below)

* **starting** — cold start: it holds its node's resources (it counts for cost) but serves nothing and no
  request is routed to it. It becomes *ready* when its cold start is over.
* **ready** — takes new requests (routing, the shared queue) and serves them.
* **draining** — takes no new request and finishes what it holds: the requests in its slots, and under a
  per-replica routing the requests already waiting in its own queue (`capacity.sim.routing`). Once it holds
  nothing it is *stopped*.
* **stopped** — gone for good (its index stays, so records keep naming it).
* **down** — a failure took it (`capacity.sim.failures`): what it held was removed (retried or lost). On
  recovery it is *ready* again, or *stopped* if it was asked to drain meanwhile, or *starting* if its cold
  start is not over yet.

The replicas of the model are *ready* at time 0; replicas added during a run (`ServiceRuntime.add_replica`,
`capacity.sim.runtime`) start *starting*. Every change is recorded with its time in the replica's
**timeline**, from which the result gets each replica's state intervals (`ReplicaTimeline`) and the
seconds it existed (from when it was added until it stopped), the denominator of its utilisation.

Replicas are numbered globally in the run, in the order they were registered: the model's services in
order, each one's replicas in order, then added replicas in the order they were added. A replica also has
a **local** index within its service (the same rule), which numbers its slots ``local * concurrency + k``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from capacity.sim.model import Replica
from capacity.sim.result import ReplicaTimeline


class ReplicaState(IntEnum):
    """A replica's lifecycle state (see the module docstring); the value is its code in results."""

    STARTING = 0
    READY = 1
    DRAINING = 2
    STOPPED = 3
    DOWN = 4


@dataclass(eq=False)
class ServingReplica:
    """One replica during a run: what it is (``spec``), where it is numbered, its state and timeline."""

    spec: Replica
    index: int                     # global index in the run (the result's replica arrays)
    local: int                     # index within its service (its slots: local * slots + k)
    service: int                   # index of its service in model.services
    slots: int                     # its concurrency
    state: ReplicaState
    timeline: list[tuple[float, ReplicaState]] = field(default_factory=list)
    drain_requested: bool = False  # drain() was called while it was down: it stops on recovery
    warm: bool = True              # its cold start is over

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def speed(self) -> float:
        return self.spec.speed

    @property
    def node(self) -> str:
        return self.spec.node

    def enter(self, state: ReplicaState, now: float) -> None:
        """Change state at ``now`` and record it (an interval of length 0 is not recorded)."""
        if state == self.state:
            return
        self.state = state
        timeline = self.timeline
        if timeline and timeline[-1][0] == now:
            timeline.pop()
            if timeline and timeline[-1][1] == state:
                return
        timeline.append((now, state))


class Fleet:
    """Every replica of one run, by global index and by name."""

    def __init__(self) -> None:
        self.replicas: list[ServingReplica] = []
        self._by_name: dict[str, ServingReplica] = {}

    def __len__(self) -> int:
        return len(self.replicas)

    def register(self, spec: Replica, service: int, local: int, slots: int, state: ReplicaState,
                 now: float) -> ServingReplica:
        """A new replica in ``state`` from ``now``; its name must be new in the run."""
        if spec.name in self._by_name:
            raise ValueError(f"replica {spec.name!r}: a replica of that name is already in the run")
        replica = ServingReplica(spec, len(self.replicas), local, service, slots, state,
                                 [(now, state)], warm=state != ReplicaState.STARTING)
        self.replicas.append(replica)
        self._by_name[spec.name] = replica
        return replica

    def get(self, name: str) -> ServingReplica | None:
        return self._by_name.get(name)

    def on_nodes(self, nodes: tuple[str, ...]) -> list[ServingReplica]:
        """The replicas (not stopped) on any of ``nodes``, in global order."""
        wanted = set(nodes)
        return [r for r in self.replicas if r.node in wanted and r.state != ReplicaState.STOPPED]

    def timeline(self) -> ReplicaTimeline:
        """Every replica's state intervals, in global order then time; the last one ends at ``inf``."""
        rows: list[tuple[int, int, float, float]] = []
        for r in self.replicas:
            for k, (since, state) in enumerate(r.timeline):
                until = r.timeline[k + 1][0] if k + 1 < len(r.timeline) else float("inf")
                rows.append((r.index, int(state), since, until))
        return ReplicaTimeline(np.array([x[0] for x in rows], dtype=np.int32),
                               np.array([x[1] for x in rows], dtype=np.int8),
                               np.array([x[2] for x in rows], dtype=np.float64),
                               np.array([x[3] for x in rows], dtype=np.float64))
