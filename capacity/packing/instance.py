"""A `PackingProblem` checked and compiled to arrays, the common input of every packer.

Every packer (the integer program, each greedy baseline, the lower bounds and the infeasibility checks)
starts from the same `Instance`, so that they agree on three things:

* **Which input is valid.** `Instance.compile` rejects a malformed problem with a `ValueError` that names
  the pool or service and the field (a negative count, a headroom of 100 %, a pool without a cost under
  ``min-cost`` ...). An *impossible* problem (valid input that does not fit) is not an error here: that is
  `capacity.errors.InfeasiblePlacement`, raised by the packers.
* **What "fits" means.** Amounts are floats (CPU cores such as 0.1, memory in bytes), so sums carry
  rounding error: three replicas of 0.1 CPU use 0.30000000000000004 cores. An amount fits a node when it is
  at most the node's usable capacity times ``1 + FIT_RTOL`` (one part in a billion: a few bytes of a
  memory size, a nano-core of a CPU). `fits` is the one place where this tolerance lives.
* **How many replicas of a service one node of a pool can take** (`Instance.per_node`): zero when the
  node selector excludes the pool or one replica does not fit an empty node; otherwise the largest count
  that fits every resource, capped by ``max_per_node`` (anti-affinity) and by the service's replicas.

Indices follow the problem: service ``s`` is ``problem.services[s]``, pool ``p`` is ``problem.pools[p]``
and resource ``r`` is ``problem.resources()[r]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from capacity.packing.problem import PackingProblem, Pool, Service

FIT_RTOL = 1e-9
"""Relative tolerance of every capacity comparison (see the module docstring)."""

_OBJECTIVES = ("min-nodes", "min-cost")
_SOLVERS = ("highs", "cbc")


def fits(amount: float | np.ndarray, usable: float | np.ndarray) -> bool | np.ndarray:
    """True where ``amount`` fits into ``usable`` (after headroom), within `FIT_RTOL`."""
    return amount <= usable * (1.0 + FIT_RTOL) + 1e-12


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
        for si, s in enumerate(services):
            allowed = {p.name for p in problem.allowed_pools(s)}
            for pi, p in enumerate(pools):
                selected[si, pi] = p.name in allowed
                if not selected[si, pi] or s.replicas == 0:
                    continue
                k = _max_copies(demand[si], usable[pi])
                limit = s.replicas if s.max_per_node is None else min(s.replicas, s.max_per_node)
                per_node[si, pi] = limit if k < 0 else min(k, limit)
        return cls(problem, resources, usable, capacity, demand, replicas, count, selected, per_node)


def validate(problem: PackingProblem) -> None:
    """Raise `ValueError` naming the pool, service or field when ``problem`` is malformed."""
    if problem.objective not in _OBJECTIVES:
        raise ValueError(f"objective: must be one of {', '.join(_OBJECTIVES)}, got {problem.objective!r}")
    if problem.solver not in _SOLVERS:
        raise ValueError(f"solver: must be one of {', '.join(_SOLVERS)}, got {problem.solver!r}")
    if not (problem.time_limit_s > 0 and math.isfinite(problem.time_limit_s)):
        raise ValueError(f"time_limit_s: must be a positive number of seconds, got {problem.time_limit_s!r}")
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
        if problem.objective == "min-cost" and p.cost is None:
            raise ValueError(
                f"{where}: has no cost, but the objective is min-cost "
                f"(give every pool a cost per node per hour, or use min-nodes)"
            )
    seen = set()
    for s in problem.services:
        where = f"service {s.name!r}"
        if s.name in seen:
            raise ValueError(f"{where}: duplicate service name")
        seen.add(s.name)
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
