"""A `PackingProblem` checked and compiled to arrays, the common input of every packer.

Every packer (the integer program, each greedy baseline, the lower bounds and the infeasibility checks)
starts from the same `Instance`, so that they agree on three things:

* **Which input is valid.** `Instance.compile` rejects a malformed problem with a `ValueError` that names
  the pool or service and the field (a negative count, a headroom of 100 % ...); what the objective asks
  of the input (a cost on every pool under ``min-cost`` ...) is checked by the objective
  (`capacity.packing.objectives.compile_problem`). An *impossible* problem (valid input that does not fit)
  is not an error here: that is `capacity.errors.InfeasiblePlacement`, raised by the packers.
* **What "fits" means.** An amount fits a node when it is at most the node's usable capacity times
  ``1 + FIT_RTOL`` (`capacity.packing.amounts.fits`, the one place where this tolerance lives; re-exported
  here).
* **How many replicas of a service one node of a pool can take** (`Instance.per_node`): zero when the
  node selectors exclude the pool or one replica does not fit an empty node; otherwise the largest count
  that fits every resource, capped by the service's replicas and by `Instance.node_limit`: the smaller of
  ``max_per_node`` (anti-affinity) and, under ``survive`` with ``failure="node"``, the most replicas one
  node may hold so that losing it keeps ``keep`` of them (`keep_cap`).

The constraints beyond one node are compiled too: the **domains** of each service's ``spread`` label
(``spread_domain``: per service and pool, the index of the label's value among the values on the pools the
service's selectors allow, whether a replica fits there or not, or -1; then ``extra_domains``, the values
``Spread.domains`` lists that no allowed pool has, counted with no replica) and the **zones** of its
``survive`` label (``zone``: the same over the pools a replica fits), and the **existing** placement
(`ExistingNode`: pool index, node index within the pool, replicas per service index). A spread over
``kubernetes.io/hostname`` has no pool domains (each node is one: `Instance.host_skew`), and the required
pod (anti-)affinity terms are read by index (`Instance.affinity_terms`; anti-affinity of a service with
itself over the hostname is a node limit of 1, exact).

Indices follow the problem: service ``s`` is ``problem.services[s]``, pool ``p`` is ``problem.pools[p]``
and resource ``r`` is ``problem.resources()[r]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from capacity.packing.amounts import FIT_RTOL, fits
from capacity.packing.existing import overflow
from capacity.packing.problem import HOSTNAME, PackingProblem, Pool, Service

AffinityKind = Literal["anti", "with"]
"""A required pod anti-affinity (``anti``) or affinity (``with``) term (`capacity.packing.problem`)."""

NO_LIMIT = 2**40
"""`Instance.node_limit` of a service without a per-node limit."""

_SOLVERS = ("highs", "cbc")


def keep_cap(keep: float, placed: int) -> int:
    """Most of ``placed`` replicas that one failure may take so that ``ceil(keep * placed)`` remain."""
    return int(placed) - math.ceil(keep * placed - 1e-9)


def split_node_name(name: str) -> tuple[str, int] | None:
    """``"gpu-a-3"`` -> ``("gpu-a", 3)``; None when the name does not end in ``-<index>``."""
    pool, sep, index = name.rpartition("-")
    if not sep or not pool or not index.isdigit() or (len(index) > 1 and index[0] == "0"):
        return None
    return pool, int(index)


@dataclass(frozen=True)
class ExistingNode:
    """One node of the running placement: pool index, index within the pool, replicas per service."""

    pool: int
    index: int
    counts: dict[int, int]


def _max_copies(demand: np.ndarray, free: np.ndarray) -> int:
    """How many copies of ``demand`` (one row) fit into ``free`` (one row), by every resource."""
    best = math.inf
    for d, f in zip(demand, free, strict=True):
        if d > 0:
            k = math.floor(f * (1.0 + FIT_RTOL) / d) if f > 0 else 0
            while k > 0 and not fits(k * d, f):  # guard against floor() of a rounding error
                k -= 1
            best = min(best, k)
    return int(best) if best != math.inf else -1  # -1: the demand is zero, no resource limit


@dataclass(frozen=True)
class Instance:
    """The problem as arrays (see the module docstring for the index conventions)."""

    problem: PackingProblem
    resources: list[str]
    usable: np.ndarray  # [pool, resource] per node, after headroom
    capacity: np.ndarray  # [pool, resource] per node, before headroom
    demand: np.ndarray  # [service, resource] per replica
    replicas: np.ndarray  # [service] replicas wanted
    count: np.ndarray  # [pool] nodes available
    selected: np.ndarray  # [service, pool] bool: the node selector allows the pool
    per_node: np.ndarray  # [service, pool] most replicas of the service on one node of the pool
    node_limit: np.ndarray  # [service] max_per_node and survive-node cap (NO_LIMIT: none)
    priority: np.ndarray  # [service] weight under "fit"
    spread_domain: np.ndarray  # [service, pool] domain index of the spread label, -1: none
    zone: np.ndarray  # [service, pool] zone index of the survive-zone label, -1: none
    existing: tuple[ExistingNode, ...]
    extra_domains: tuple[tuple[str, ...], ...] = ()  # [service] spread domains no allowed pool has

    def affinity_terms(self, kind: AffinityKind) -> list[tuple[int, int, str]]:
        """``(service, other service, topology)`` of every ``anti_affinity`` (``kind="anti"``) or
        ``affinity`` term, by index (a term naming an unknown service was refused by `validate`)."""
        index = {svc.name: i for i, svc in enumerate(self.services)}
        out = []
        for s, svc in enumerate(self.services):
            for term in (svc.anti_affinity if kind == "anti" else svc.affinity):
                out.append((s, index[term.service], term.topology))
        return out

    def pool_domain(self, p: int, topology: str) -> str | None:
        """The ``topology`` domain of pool ``p``'s nodes (None: the pool lacks the label; per node for
        the hostname, which the caller handles)."""
        return self.pools[p].labels.get(topology)

    def zone_spread(self, s: int) -> bool:
        """Service ``s`` spreads over a label of the pools (zones), not over nodes."""
        spread = self.services[s].spread
        return spread is not None and not spread.per_node

    def host_skew(self, s: int) -> int | None:
        """The ``max_skew`` of a spread of ``s`` over nodes (``kubernetes.io/hostname``), or None."""
        spread = self.services[s].spread
        return spread.max_skew if spread is not None and spread.per_node else None

    def domain_count(self, s: int) -> int:
        """How many spread domains service ``s`` has (0: no spread over a pool label)."""
        base = int(self.spread_domain[s].max()) + 1 if len(self.pools) else 0
        return base + (len(self.extra_domains[s]) if self.extra_domains else 0)

    def zone_count(self, s: int) -> int:
        return int(self.zone[s].max()) + 1 if len(self.pools) else 0

    def zone_cap(self, s: int, placed: int | None = None) -> int:
        """Most replicas of ``s`` in one zone (survive zone), for ``placed`` replicas (default: all)."""
        svc = self.services[s]
        n = int(self.replicas[s]) if placed is None else placed
        if svc.survive is None or svc.survive.failure != "zone":
            return n
        return keep_cap(svc.survive.keep, n)

    def domain_names(self, s: int, which: str = "spread") -> list[str]:
        """The label values of service ``s``'s domains (``spread``) or zones (``zone``), by index."""
        svc = self.services[s]
        arr = self.spread_domain if which == "spread" else self.zone
        label = (svc.spread.topology if which == "spread" and svc.spread else
                 svc.survive.topology if svc.survive else "")
        names = [""] * (int(arr[s].max()) + 1 if len(self.pools) else 0)
        for p, d in enumerate(arr[s]):
            if d >= 0:
                names[d] = self.pools[p].labels[label]
        if which == "spread" and self.extra_domains:
            names.extend(self.extra_domains[s])
        return names

    @property
    def pools(self) -> tuple[Pool, ...]:
        return self.problem.pools

    @property
    def services(self) -> tuple[Service, ...]:
        return self.problem.services

    @property
    def placeable(self) -> np.ndarray:
        """[service, pool] bool: a replica may go on a node of the pool (selector and fit)."""
        return self.per_node > 0

    def cost(self, p: int) -> float | None:
        return self.problem.pools[p].cost

    @classmethod
    def compile(cls, problem: PackingProblem) -> Instance:
        """Check ``problem`` (`ValueError` naming the field) and build the arrays."""
        validate(problem)
        resources = problem.resources()
        pools, services = problem.pools, problem.services
        usable = np.array([[problem.usable(p, r) for r in resources] for p in pools], dtype=float)
        capacity = np.array([[float(p.capacity.get(r, 0.0)) for r in resources] for p in pools], dtype=float)
        demand = np.array([[float(s.demand.get(r, 0.0)) for r in resources] for s in services], dtype=float)
        usable = usable.reshape(len(pools), len(resources))
        capacity = capacity.reshape(len(pools), len(resources))
        demand = demand.reshape(len(services), len(resources))
        replicas = np.array([s.replicas for s in services], dtype=np.int64)
        count = np.array([p.count for p in pools], dtype=np.int64)
        selected = np.zeros((len(services), len(pools)), dtype=bool)
        per_node = np.zeros((len(services), len(pools)), dtype=np.int64)
        node_limit = np.full(len(services), NO_LIMIT, dtype=np.int64)
        for si, s in enumerate(services):
            if s.max_per_node is not None:
                node_limit[si] = s.max_per_node
            if any(t.service == s.name and t.topology == HOSTNAME for t in s.anti_affinity):
                node_limit[si] = min(node_limit[si], 1)     # one replica per node: exact
            if s.survive is not None and s.survive.failure == "node":
                node_limit[si] = min(node_limit[si], keep_cap(s.survive.keep, s.replicas))
            allowed = {p.name for p in problem.allowed_pools(s)}
            for pi, p in enumerate(pools):
                selected[si, pi] = p.name in allowed
                if not selected[si, pi] or s.replicas == 0:
                    continue
                k = _max_copies(demand[si], usable[pi])
                limit = min(s.replicas, int(node_limit[si]))
                per_node[si, pi] = limit if k < 0 else min(k, limit)
        spread_domain = np.full((len(services), len(pools)), -1, dtype=np.int64)
        zone = np.full((len(services), len(pools)), -1, dtype=np.int64)
        extra: list[tuple[str, ...]] = []
        for si, s in enumerate(services):
            extra.append(())
            if s.spread is not None and not s.spread.per_node:   # every allowed pool's value, fit or not
                spread_domain[si] = _domains(pools, s.spread.topology, selected[si])
                have = {p.labels[s.spread.topology] for p, ok in zip(pools, selected[si], strict=True) if ok}
                extra[si] = tuple(sorted(set(s.spread.domains) - have))
            if s.survive is not None and s.survive.failure == "zone":
                zone[si] = _domains(pools, s.survive.topology, per_node[si] > 0)
        priority = np.array([s.priority for s in services], dtype=np.int64)
        index = {p.name: i for i, p in enumerate(pools)}
        service_index = {s.name: i for i, s in enumerate(services)}
        existing = []
        for node, counts in sorted(problem.existing.items(), key=lambda t: _node_key(t[0], index)):
            parsed = split_node_name(node)
            assert parsed is not None  # checked by validate
            pool_name, j = parsed
            wanted = {service_index[name]: int(k) for name, k in counts.items() if k > 0}
            existing.append(ExistingNode(index[pool_name], j, dict(sorted(wanted.items()))))
        return cls(problem, resources, usable, capacity, demand, replicas, count, selected, per_node,
                   node_limit, priority, spread_domain, zone, tuple(existing), tuple(extra))


def _node_key(name: str, index: dict[str, int]) -> tuple[int, int]:
    pool, j = split_node_name(name) or ("", 0)
    return index.get(pool, -1), j


def _domains(pools: tuple[Pool, ...], label: str, placeable: np.ndarray) -> np.ndarray:
    """[pool] index of the pool's ``label`` value among the values on ``placeable`` pools (sorted), -1
    for pools that are not placeable."""
    values = sorted({p.labels[label] for p, ok in zip(pools, placeable, strict=True) if ok})
    out = np.full(len(pools), -1, dtype=np.int64)
    for i, (p, ok) in enumerate(zip(pools, placeable, strict=True)):
        if ok:
            out[i] = values.index(p.labels[label])
    return out


def validate(problem: PackingProblem) -> None:
    """Raise `ValueError` naming the pool, service or field when ``problem`` is malformed (the objective's
    own rules are `capacity.packing.objectives.Objective.check`)."""
    if not (problem.move_cost >= 0 and math.isfinite(problem.move_cost)):
        raise ValueError(f"move_cost: must be a non-negative number, got {problem.move_cost!r}")
    if problem.solver not in _SOLVERS:
        raise ValueError(f"solver: must be one of {', '.join(_SOLVERS)}, got {problem.solver!r}")
    if not (problem.time_limit_s > 0 and math.isfinite(problem.time_limit_s)):
        raise ValueError(f"time_limit_s: must be a positive number of seconds, got {problem.time_limit_s!r}")
    if problem.work_s is not None and not (problem.work_s > 0 and math.isfinite(problem.work_s)):
        raise ValueError(f"work_s: must be a positive number of seconds, got {problem.work_s!r}")
    for r, h in problem.headroom.items():
        if not 0.0 <= h < 1.0:
            raise ValueError(f"headroom.{r}: must be a fraction in [0, 1), got {h!r}")
    seen: set[str] = set()
    for p in problem.pools:
        where = f"pool {p.name!r}"
        if p.name in seen:
            raise ValueError(f"{where}: duplicate pool name")
        seen.add(p.name)
        if isinstance(p.count, bool) or not isinstance(p.count, int | np.integer) or p.count < 0:
            raise ValueError(f"{where}: count must be a non-negative integer, got {p.count!r}")
        for r, v in p.capacity.items():
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{where}: capacity.{r} must be a non-negative number, got {v!r}")
        if p.cost is not None and not (p.cost >= 0 and math.isfinite(p.cost)):
            raise ValueError(f"{where}: cost must be a non-negative number, got {p.cost!r}")
    seen = set()
    names = {svc.name for svc in problem.services}
    for s in problem.services:
        where = f"service {s.name!r}"
        if s.name in seen:
            raise ValueError(f"{where}: duplicate service name")
        seen.add(s.name)
        for term in (*s.anti_affinity, *s.affinity):
            if term.service not in names:
                raise ValueError(f"{where}: pod (anti-)affinity names no service {term.service!r}")
            if not isinstance(term.topology, str) or not term.topology:
                raise ValueError(f"{where}: pod (anti-)affinity topology must be a label name")
        if isinstance(s.replicas, bool) or not isinstance(s.replicas, int | np.integer) or s.replicas < 0:
            raise ValueError(f"{where}: replicas must be a non-negative integer, got {s.replicas!r}")
        for r, v in s.demand.items():
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{where}: demand.{r} must be a non-negative number, got {v!r}")
        if s.max_per_node is not None and (
            isinstance(s.max_per_node, bool)
            or not isinstance(s.max_per_node, int | np.integer)
            or s.max_per_node < 1
        ):
            raise ValueError(f"{where}: max_per_node must be a positive integer, got {s.max_per_node!r}")
        if s.pools is not None and isinstance(s.pools, str):
            raise ValueError(f"{where}: pools must be a tuple of pool names, got the string {s.pools!r}")
        _validate_service_constraints(s, where)
    _validate_existing(problem)


def _is_int(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | np.integer)


def _validate_service_constraints(s: Service, where: str) -> None:
    if not _is_int(s.priority) or s.priority < 1:
        raise ValueError(f"{where}: priority must be a positive integer, got {s.priority!r}")
    if s.node_selector is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in s.node_selector.items()
    ):
        raise ValueError(f"{where}: node_selector must map label names to values (strings)")
    if s.spread is not None:
        if not isinstance(s.spread.topology, str) or not s.spread.topology:
            raise ValueError(f"{where}: spread.topology must be a label name, got {s.spread.topology!r}")
        if not all(isinstance(d, str) for d in s.spread.domains):
            raise ValueError(f"{where}: spread.domains must be label values (strings)")
        if not _is_int(s.spread.max_skew) or s.spread.max_skew < 1:
            raise ValueError(
                f"{where}: spread.max_skew must be a positive integer, got {s.spread.max_skew!r}"
            )
    if s.survive is not None:
        if s.survive.failure not in ("node", "zone"):
            raise ValueError(f"{where}: survive.failure must be node or zone, got {s.survive.failure!r}")
        if not 0.0 <= s.survive.keep < 1.0:
            raise ValueError(f"{where}: survive.keep must be a fraction in [0, 1), got {s.survive.keep!r}")
        named = isinstance(s.survive.topology, str) and s.survive.topology
        if s.survive.failure == "zone" and not named:
            raise ValueError(f"{where}: survive.topology must be a label name, got {s.survive.topology!r}")


def _validate_existing(problem: PackingProblem) -> None:
    """The existing placement names nodes and services that exist, and each node holds what runs on it
    (`capacity.packing.existing`: capacity before headroom, the rules of the plan aside)."""
    pools = {p.name: p for p in problem.pools}
    services = {s.name: s for s in problem.services}
    for node, counts in problem.existing.items():
        where = f"existing node {node!r}"
        parsed = split_node_name(node) if isinstance(node, str) else None
        if parsed is None or parsed[0] not in pools:
            raise ValueError(f"{where}: a node name is <pool>-<index> of an existing pool "
                             f"(pools: {', '.join(pools) or 'none'})")
        if parsed[1] >= pools[parsed[0]].count:
            raise ValueError(f"{where}: pool {parsed[0]!r} has {pools[parsed[0]].count} nodes, "
                             f"numbered from 0")
        for name, k in counts.items():
            if name not in services:
                raise ValueError(f"{where}: no service named {name!r}")
            if not _is_int(k) or k < 0:
                raise ValueError(f"{where}: replicas of {name!r} must be a non-negative integer, got {k!r}")
        why = overflow(counts, {name: services[name].demand for name in counts}, pools[parsed[0]].capacity)
        if why is not None:
            raise ValueError(f"{where}: {why}")
