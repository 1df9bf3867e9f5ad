"""The placement problem and its answer, as plain data (no solver, no scenario file).

A **pool** is a set of ``count`` identical nodes: each node offers ``capacity`` of every named resource
(CPU in cores, memory in bytes, GPUs, anything else as a plain number) and costs ``cost`` per hour.
A **service** asks for ``replicas`` identical replicas, each requesting ``demand`` of some resources; it may
be restricted to some pools (a node selector by pool name, ``pools``, and by pool labels, ``node_selector``:
a pool is allowed when its labels carry every key with the given value) and to at most ``max_per_node``
replicas on one node (anti-affinity). **Headroom** keeps a fraction of each resource of every node free: a
node with 16 cores and 10 % CPU headroom offers 14.4 cores to the packer.

Constraints beyond one node (each described where it is checked, `capacity.packing.plan.violations`):

* **spread** (`Spread`) — like a Kubernetes ``topologySpreadConstraint`` with ``DoNotSchedule``
  (``pkg/scheduler/framework/plugins/podtopologyspread``: a pod may go to a domain when
  ``its count + 1 - the smallest count <= maxSkew``, so the counts of a plan differ by at most
  ``max_skew``): the replica counts of the service in the **domains** of a topology label (the values of
  ``zone`` on the pools) differ by at most ``max_skew``. The domains that count are the values of the
  label on the pools the service's selectors allow — whether or not a replica fits there, as the scheduler
  counts every node that passes the pod's node affinity (``nodeAffinityPolicy: Honor``), resource fit
  aside — plus the label values listed in ``domains`` (nodes the pods' affinity admits but that the plan
  may not use, e.g. a tainted zone: ``nodeTaintsPolicy: Ignore``, the default), empty ones included; a
  pool without the label is not allowed for the service (as Kubernetes refuses nodes without the topology
  key). Over ``kubernetes.io/hostname`` (`HOSTNAME`) every **node** is a domain: the counts on the nodes
  the plan uses in the allowed pools (every node of them in a fixed cluster) differ by at most ``max_skew``.
* **survive** (`Survive`) — failure tolerance: after losing any one node (``failure="node"``) or every node
  of any one zone (``failure="zone"``: the pools with one value of the ``topology`` label), at least
  ``keep`` of the service's placed replicas are left, i.e. ``placed - lost >= ceil(keep * placed)``. This
  is linear: at most ``floor((1 - keep) * placed)`` replicas on one node (zone). The stronger
  "re-host" variant (the surviving nodes' free capacity can take the lost replicas) is not implemented.
* **pod affinity** (`PodAffinity`) — the scheduler's ``InterPodAffinity`` filter for required terms
  (``pkg/scheduler/framework/plugins/interpodaffinity``; docs: "Assigning Pods to Nodes", inter-pod affinity
  and anti-affinity), as a rule of the final plan: ``anti_affinity`` — no domain of the ``topology`` holds
  replicas of both services (the rule is symmetric, as the scheduler also checks the anti-affinity of the
  pods already running), and over its own service at most one replica per domain; ``affinity`` — every
  domain holding a replica of the service holds one of the other service, and over its own service all
  replicas share one domain (the first pod may go anywhere, the others follow it). A node whose pool lacks
  the label is in no domain: anti-affinity never blocks it, affinity always does.
* **existing** — the placement running today (``{node name: {service: count}}``, node names
  ``{pool}-{j}``). A replica is **moved** when it stops on its node and starts on another; with ``E``
  replicas of a service running, ``P`` placed by the new plan and ``removed`` those that leave their node,
  ``moved = removed - max(0, E - P)`` (a scale-down removes replicas without moving them). It must be able
  to run: each node holds its replicas within its capacity before headroom (`capacity.packing.existing`).

**Objectives** (the `Placement`'s ``objective_value``, always minimised; each one is a class registered in
`capacity.packing.objectives.OBJECTIVES`, which may hold more than these):

* ``min-nodes`` — nodes used, plus ``move_cost`` per moved replica;
* ``min-cost`` — cost per hour of the nodes used, plus ``move_cost`` per moved replica;
* ``min-moves`` — moved replicas (then, as a tie-break with no proof attached, fewest nodes);
* ``fit`` — the pools are a **fixed cluster** that may not hold everything: place as many replicas as
  possible, weighted by the service ``priority`` (a positive integer, higher is more important: one
  replica of priority 10 is worth ten of priority 1); the value is the **unplaced weight**
  ``sum priority * unplaced replicas`` (then, as a tie-break, fewest nodes);
* ``balance`` — the pools are a fixed cluster (every node of every pool may be used): minimise the
  highest **utilisation**, ``used / capacity`` (capacity before headroom, as ``allocated`` in the report)
  over every node and resource; the value is that fraction.

A `Placement` is the answer: which replica is on which node, how much of each node is used, the solver's
status, the objective, a proven lower bound on the number of nodes and the gap between them.

Replica names are ``{service}-{i}`` with ``i`` from 0; node names are ``{pool}-{j}`` with ``j`` from 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["optimal", "feasible", "infeasible"]


@dataclass(frozen=True)
class Pool:
    name: str
    count: int
    capacity: Mapping[str, float]          # resource -> amount per node, before headroom
    cost: float | None = None              # per node per hour
    labels: Mapping[str, str] = field(default_factory=dict)


#: The node-name topology key: each node is its own spread domain.
HOSTNAME = "kubernetes.io/hostname"


@dataclass(frozen=True)
class Spread:
    """Replica counts per domain of the ``topology`` label differ by at most ``max_skew``."""

    topology: str                          # a pool label key, e.g. "zone"; or HOSTNAME: each node
    max_skew: int = 1
    domains: tuple[str, ...] = ()          # label values that count although no allowed pool has them

    @property
    def per_node(self) -> bool:
        return self.topology == HOSTNAME


@dataclass(frozen=True)
class Survive:
    """After losing any one node (or zone), at least ``keep`` of the placed replicas remain."""

    failure: Literal["node", "zone"]
    keep: float                            # fraction in [0, 1)
    topology: str = "zone"                 # the label whose values are zones (failure "zone")


@dataclass(frozen=True)
class PodAffinity:
    """A required pod (anti-)affinity term: the replicas of ``service`` in the ``topology`` domains (a pool
    label's values, or each node for `HOSTNAME`)."""

    service: str
    topology: str = HOSTNAME


@dataclass(frozen=True)
class Service:
    name: str
    replicas: int
    demand: Mapping[str, float]            # resource -> request per replica
    pools: tuple[str, ...] | None = None   # allowed pools (None: every pool)
    max_per_node: int | None = None
    node_selector: Mapping[str, str] | None = None  # pool labels that must match (None: any)
    priority: int = 1                      # weight under objective "fit" (higher: more important)
    spread: Spread | None = None
    survive: Survive | None = None
    anti_affinity: tuple[PodAffinity, ...] = ()   # never in a domain holding the other service (itself:
    #                                              one replica per domain)
    affinity: tuple[PodAffinity, ...] = ()        # only in domains holding the other service (itself:
    #                                              every replica in one domain)

    def replica_names(self) -> list[str]:
        return [f"{self.name}-{i}" for i in range(self.replicas)]

    def topology_labels(self) -> list[str]:
        """Labels a pool must carry to be allowed for this service (spread, zone survival)."""
        out = []
        if self.spread is not None and not self.spread.per_node:
            out.append(self.spread.topology)
        if self.survive is not None and self.survive.failure == "zone":
            out.append(self.survive.topology)
        return out

    def selects(self, pool: Pool) -> bool:
        """True when the node selectors (pool names and labels) and the topology labels allow ``pool``."""
        if self.pools is not None and pool.name not in self.pools:
            return False
        if self.node_selector and any(pool.labels.get(k) != v for k, v in self.node_selector.items()):
            return False
        return all(label in pool.labels for label in self.topology_labels())


@dataclass(frozen=True)
class PackingProblem:
    pools: tuple[Pool, ...]
    services: tuple[Service, ...]
    objective: str = "min-nodes"          # the name of a registered objective
    headroom: Mapping[str, float] = field(default_factory=dict)  # resource -> fraction kept free
    solver: Literal["highs", "cbc"] = "highs"
    time_limit_s: float = 30.0
    work_s: float | None = None            # work budgets as for this many seconds (None: time_limit_s)
    existing: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # node -> service -> count
    move_cost: float = 0.0                 # added to min-nodes / min-cost per moved replica

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
        return [p for p in self.pools if service.selects(p)]


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
    objective: str                         # the objective's name
    nodes_used: int
    lower_bound: int                       # proven lower bound on nodes_used
    objective_value: float | None          # see the module docstring (None: a partial plan, not "fit")
    objective_bound: float | None          # proven bound on objective_value
    cost_per_hour: float | None            # None when some used pool has no cost
    solve_time_s: float
    nodes: list[NodeUsage]                 # used nodes only, in pool order then index
    unplaced: list[str] = field(default_factory=list)
    assignment: dict[str, str] = field(default_factory=dict)  # replica -> node
    unplaced_reasons: dict[str, str] = field(default_factory=dict)  # service -> why some are unplaced
    moves: int | None = None               # moved replicas (None: no existing placement was given)
    moved: dict[str, int] = field(default_factory=dict)  # service -> moved replicas (non-zero only)
    max_utilisation: float | None = None   # highest used / capacity over used nodes and resources
    time_limit_reached: bool = False       # the search was cut by time_limit_s, not by its work budgets

    @property
    def gap(self) -> float | None:
        """Relative gap ``(value - bound) / value`` of the objective; 0 when proven optimal."""
        if self.objective_value is None or self.objective_bound is None:
            return None
        if self.objective_value <= 0:
            return 0.0
        return max(0.0, (self.objective_value - self.objective_bound) / self.objective_value)
