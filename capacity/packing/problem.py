"""The placement problem and its answer, as plain data (no solver, no scenario file).

A **pool** is a set of ``count`` identical nodes: each node offers ``capacity`` of every named resource
(CPU in cores, memory in bytes, GPUs, anything else as a plain number) and costs ``cost`` per hour.
A **service** asks for ``replicas`` identical replicas, each requesting ``demand`` of some resources; it may
be restricted to some pools (a node selector) and to at most ``max_per_node`` replicas on one node
(anti-affinity). **Headroom** keeps a fraction of each resource of every node free: a node with 16 cores and
10 % CPU headroom offers 14.4 cores to the packer.

A `Placement` is the answer: which replica is on which node, how much of each node is used, the solver's
status, the objective, a proven lower bound on the number of nodes and the gap between them.

Replica names are ``{service}-{i}`` with ``i`` from 0; node names are ``{pool}-{j}`` with ``j`` from 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Objective = Literal["min-nodes", "min-cost"]
Status = Literal["optimal", "feasible", "infeasible"]


@dataclass(frozen=True)
class Pool:
    name: str
    count: int
    capacity: Mapping[str, float]          # resource -> amount per node, before headroom
    cost: float | None = None              # per node per hour
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    name: str
    replicas: int
    demand: Mapping[str, float]            # resource -> request per replica
    pools: tuple[str, ...] | None = None   # allowed pools (None: every pool)
    max_per_node: int | None = None

    def replica_names(self) -> list[str]:
        return [f"{self.name}-{i}" for i in range(self.replicas)]


@dataclass(frozen=True)
class PackingProblem:
    pools: tuple[Pool, ...]
    services: tuple[Service, ...]
    objective: Objective = "min-nodes"
    headroom: Mapping[str, float] = field(default_factory=dict)  # resource -> fraction kept free
    solver: Literal["highs", "cbc"] = "highs"
    time_limit_s: float = 30.0

    def resources(self) -> list[str]:
        """Every resource named by a pool or a service, sorted."""
        names: set[str] = set()
        for p in self.pools:
            names.update(p.capacity)
        for s in self.services:
            names.update(s.demand)
        return sorted(names)

    def usable(self, pool: Pool, resource: str) -> float:
        """What one node of ``pool`` offers of ``resource`` after headroom (0 if the pool lacks it)."""
        return pool.capacity.get(resource, 0.0) * (1.0 - self.headroom.get(resource, 0.0))

    def allowed_pools(self, service: Service) -> list[Pool]:
        if service.pools is None:
            return list(self.pools)
        return [p for p in self.pools if p.name in service.pools]


@dataclass
class NodeUsage:
    name: str
    pool: str
    replicas: list[str]
    used: dict[str, float]
    capacity: dict[str, float]             # before headroom


@dataclass
class Placement:
    status: Status
    solver: str                            # "highs", "cbc" or a baseline's name ("ffd")
    objective: Objective
    nodes_used: int
    lower_bound: int                       # proven lower bound on nodes_used
    objective_value: float | None          # nodes (min-nodes) or cost per hour (min-cost)
    objective_bound: float | None          # proven bound on objective_value
    cost_per_hour: float | None            # None when some used pool has no cost
    solve_time_s: float
    nodes: list[NodeUsage]                 # used nodes only, in pool order then index
    unplaced: list[str] = field(default_factory=list)
    assignment: dict[str, str] = field(default_factory=dict)  # replica -> node

    @property
    def gap(self) -> float | None:
        """Relative gap ``(value - bound) / value`` of the objective; 0 when proven optimal."""
        if self.objective_value is None or self.objective_bound is None:
            return None
        if self.objective_value <= 0:
            return 0.0
        return max(0.0, (self.objective_value - self.objective_bound) / self.objective_value)
