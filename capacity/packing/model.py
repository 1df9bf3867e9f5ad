r"""Integer-programming formulations of the placement problem (PuLP models).

A **formulation** turns an `Instance` into a `pulp.LpProblem`, can load a known plan as a warm start, and
reads a plan back from the solved variables. Formulations are registered in `FORMULATIONS` by name; the
next one (patterns / arc-flow, for thousands of replicas) is one more class and one more entry.

The aggregated model (``aggregated``)
-------------------------------------

Replicas of a service are identical, so the model counts them instead of naming them (one integer per
service and node, not one binary per replica and node: far fewer variables and no symmetry between
replicas).

Sets and data
    services ``s`` with ``n_s`` replicas, each asking ``d[s,r]`` of resource ``r``;
    pools ``p``, each with ``m_p`` **candidate nodes** ``(p, j)``, ``j = 0 .. m_p - 1``, all offering
    ``U[p,r]`` after headroom and costing ``c_p`` per hour. ``m_p`` is ``count_p`` cut down by a safe
    bound (`capacity.packing.engine.candidate_nodes`: a plan never needs more nodes of a pool than it has
    replicas that may go there, nor more than the greedy plan's nodes in the same component), so the cut
    never removes every optimal plan and the solver's bound stays a bound for the whole problem;
    ``u[s,p]`` = most replicas of ``s`` on one node of ``p`` (``Instance.per_node``: selector, fit and
    ``max_per_node``); a variable exists only where ``u[s,p] >= 1``;
    ``L_k`` and ``C_k`` = proven lower bounds on the nodes and the cost of component ``k``
    (`capacity.packing.bounds`).

Variables
    ``y[p,j]`` in {0, 1}: node ``(p, j)`` is used;
    ``x[s,p,j]`` in {0, ..., u[s,p]}: replicas of ``s`` on node ``(p, j)``.

Objective
    ``min-nodes``: minimise  sum_{p,j} y[p,j];
    ``min-cost``:  minimise  sum_{p,j} c_p y[p,j].

Constraints (PuLP names in brackets; PuLP turns ``-`` into ``_``)
    ``demand_{s}``            sum_{p,j} x[s,p,j] = n_s                        every replica placed once
    ``cap_{r}_{p}-{j}``       sum_s (d[s,r] / U[p,r]) x[s,p,j] <= y[p,j]       capacity after headroom,
                                                                              scaled so a full node is 1
    ``link_{s}_{p}-{j}``      x[s,p,j] <= u[s,p] y[p,j]                        only used nodes hold
                                                                              replicas (tightens the LP)
    ``order_{p}-{j}``         y[p,j] >= y[p,j+1]                               identical nodes are used
                                                                              in index order
    ``min_nodes_{k}``         sum_{p in k, j} y[p,j] >= L_k                    the combinatorial bound
    ``min_cost_{k}``          sum_{p in k, j} c_p y[p,j] >= C_k                (``min-cost`` only)

The ``order`` rows remove part of the symmetry between identical nodes of one pool (any plan can be
relabelled to satisfy them, so they cut no plan away, only copies of it). Ordering the used nodes by
load as well (``sum_s w[s,p] x[s,p,j] >= sum_s w[s,p] x[s,p,j+1]``) is also valid but was measured to
hurt: on five cluster-like instances (10 services, 3 pools) that HiGHS solves to proven optimality in
under a second without it, with it HiGHS was still 1 to 7 nodes above the optimum after 10 s; on the
60-item instances of ``data/vbp`` it found no solution of its own. It blocks the solver's primal
heuristics, so it is left out. Capacity rows are scaled by the node's capacity because memory is in
bytes (1e10) and CPU in cores (1): unscaled rows would span ten orders of magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, Protocol

import numpy as np
import pulp

from capacity.packing.bounds import Bounds
from capacity.packing.instance import Instance
from capacity.packing.plan import NodePlan

_INTEGRALITY_TOL = 1e-6


class Formulation(Protocol):
    """What the engine needs from a formulation."""

    name: ClassVar[str]
    prob: pulp.LpProblem

    def start(self, nodes: list[NodePlan]) -> dict[pulp.LpVariable, float]: ...

    def plan(self) -> list[NodePlan] | None: ...


class _Names:
    """PuLP-safe, unique names: PuLP maps ``-+[] ->/`` to ``_``, which may make two names equal."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        base = name.translate(str.maketrans("-+[] ->/", "________"))
        out, i = base, 1
        while out in self.used:
            out, i = f"{base}__{i}", i + 1
        self.used.add(out)
        return out


class AggregatedModel:
    """The aggregated model (see the module docstring for the formulation)."""

    name: ClassVar[str] = "aggregated"

    def __init__(self, inst: Instance, bounds: Bounds, candidates: np.ndarray) -> None:
        self.inst = inst
        self.candidates = candidates
        problem = inst.problem
        names = _Names()
        var = _Names()
        prob = pulp.LpProblem(names("placement"), pulp.LpMinimize)
        pools, services, resources = inst.pools, inst.services, inst.resources

        self.y: dict[tuple[int, int], pulp.LpVariable] = {}
        self.x: dict[tuple[int, int, int], pulp.LpVariable] = {}
        for p, pool in enumerate(pools):
            for j in range(int(candidates[p])):
                self.y[p, j] = prob.add_variable(var(f"y_{pool.name}_{j}"), cat=pulp.LpBinary)
                for s, svc in enumerate(services):
                    u = int(inst.per_node[s, p])
                    if u >= 1:
                        self.x[s, p, j] = prob.add_variable(
                            var(f"x_{svc.name}_{pool.name}_{j}"), lowBound=0, upBound=u, cat=pulp.LpInteger
                        )

        def row(terms: list[tuple[pulp.LpVariable, float]], sense: int, rhs: float, name: str) -> None:
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, names(name), rhs))

        le, ge, eq = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ
        price = [(pool.cost or 0.0) if problem.objective == "min-cost" else 1.0 for pool in pools]
        prob.setObjective(pulp.LpAffineExpression([(v, price[p]) for (p, _), v in self.y.items()]))

        on_node: dict[tuple[int, int], list[int]] = {}
        of_service: dict[int, list[pulp.LpVariable]] = {}
        for (s, p, j), v in self.x.items():
            on_node.setdefault((p, j), []).append(s)
            of_service.setdefault(s, []).append(v)
        for s, svc in enumerate(services):
            if inst.replicas[s] > 0:
                row(
                    [(v, 1.0) for v in of_service.get(s, [])],
                    eq,
                    float(inst.replicas[s]),
                    f"demand_{svc.name}",
                )
        for (p, j), y in self.y.items():
            node = f"{pools[p].name}-{j}"
            here = on_node.get((p, j), [])
            for r, res in enumerate(resources):
                terms = [
                    (self.x[s, p, j], float(inst.demand[s, r] / inst.usable[p, r]))
                    for s in here
                    if inst.demand[s, r] > 0
                ]
                if terms:
                    row([*terms, (y, -1.0)], le, 0.0, f"cap_{res}_{node}")
            for s in here:
                row(
                    [(self.x[s, p, j], 1.0), (y, -float(inst.per_node[s, p]))],
                    le,
                    0.0,
                    f"link_{services[s].name}_{node}",
                )
            if (p, j + 1) in self.y:
                row([(y, 1.0), (self.y[p, j + 1], -1.0)], ge, 0.0, f"order_{node}")
        for k, comp in enumerate(bounds.components):
            ys = [(v, price[p]) for (p, _), v in self.y.items() if p in comp.pools]
            if comp.nodes > 0 and ys:
                row([(v, 1.0) for v, _ in ys], ge, float(comp.nodes), f"min_nodes_{k}")
            if problem.objective == "min-cost" and comp.cost and ys:
                row(ys, ge, float(comp.cost), f"min_cost_{k}")
        self.prob = prob

    def start(self, nodes: list[NodePlan]) -> dict[pulp.LpVariable, float]:
        """Variable values of a complete plan (each pool's nodes on its first candidates)."""
        values: dict[pulp.LpVariable, float] = {v: 0.0 for v in self.prob.variables()}
        for p in range(len(self.inst.pools)):
            mine = [n for n in nodes if n.pool == p and any(n.counts.values())]
            if len(mine) > self.candidates[p]:
                raise ValueError(
                    f"warm start uses {len(mine)} nodes of pool {p}, the model has {self.candidates[p]}"
                )
            for j, node in enumerate(mine):
                values[self.y[p, j]] = 1.0
                for s, k in node.counts.items():
                    if k:
                        values[self.x[s, p, j]] = float(k)
        return values

    def plan(self) -> list[NodePlan] | None:
        """The plan in the variables' values; None when they are missing or not integral."""
        nodes: dict[tuple[int, int], NodePlan] = {}
        for (s, p, j), v in self.x.items():
            value = v.varValue
            if value is None or not math.isfinite(value):
                return None
            k = round(value)
            if abs(value - k) > _INTEGRALITY_TOL:
                return None
            if k > 0:
                nodes.setdefault((p, j), NodePlan(p)).counts[s] = k
        return [nodes[key] for key in sorted(nodes)]


FORMULATIONS: dict[str, Callable[[Instance, Bounds, np.ndarray], Formulation]] = {
    AggregatedModel.name: AggregatedModel,
}
"""Every formulation by name."""
