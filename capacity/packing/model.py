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

Objective (the objective's `ModelTerms`, `capacity.packing.objectives`)
    ``min-nodes``: minimise  sum_{p,j} y[p,j];
    ``min-cost``:  minimise  sum_{p,j} c_p y[p,j]; any node-priced objective: its price per node for c_p.

Constraints (PuLP names in brackets; PuLP turns ``-`` into ``_``)
    ``demand_{s}``            sum_{p,j} x[s,p,j] = n_s                        every replica placed once
    ``cap_{r}_{p}-{j}``       sum_s (d[s,r] / U[p,r]) x[s,p,j] <= y[p,j]       capacity after headroom,
                                                                              scaled so a full node is 1
    ``link_{s}_{p}-{j}``      x[s,p,j] <= u[s,p] y[p,j]                        only used nodes hold
                                                                              replicas (tightens the LP)
    ``order_{p}-{j}``         y[p,j] >= y[p,j+1]                               identical nodes are used
                                                                              in index order
    ``min_nodes_{k}``         sum_{p in k, j} y[p,j] >= L_k                    the combinatorial bound
    ``min_cost_{k}``          sum_{p in k, j} c_p y[p,j] >= C_k                the objective's floor
                                                                              (`Objective.floor`; the
                                                                              cost under ``min-cost``)

The ``order`` rows remove part of the symmetry between identical nodes of one pool (any plan can be
relabelled to satisfy them, so they cut no plan away, only copies of it). Ordering the used nodes by
load as well (``sum_s w[s,p] x[s,p,j] >= sum_s w[s,p] x[s,p,j+1]``) is also valid but was measured to
hurt: on five cluster-like instances (10 services, 3 pools) that HiGHS solves to proven optimality in
under a second without it, with it HiGHS was still 1 to 7 nodes above the optimum after 10 s; on the
60-item instances of ``data/vbp`` it found no solution of its own. It blocks the solver's primal
heuristics, so it is left out. Capacity rows are scaled by the node's capacity because memory is in
bytes (1e10) and CPU in cores (1): unscaled rows would span ten orders of magnitude.

Objectives and constraints beyond one node (`capacity.packing.problem`; rows only where used)
    ``N`` = candidate nodes in all (the variables ``y``); ``eps = 1 / (N + 1)``.

    ``fit``       ``demand_{s}`` becomes ``sum x <= n_s``; minimise
                  ``sum_s w_s (n_s - sum_{p,j} x[s,p,j]) + eps sum y`` (``w_s`` = priority, an integer, so
                  the unplaced weight is an integer and ``eps sum y < 1`` only breaks ties by nodes);
    ``min-moves`` minimise ``sum r + eps sum y`` (moves, then nodes);
    ``move_cost`` adds ``move_cost sum r`` to ``min-nodes`` / ``min-cost``;
    ``balance``   minimise ``U`` with ``util_{r}_{node}``: ``sum_s (d[s,r] / C[p,r]) x[s,p,j] <= U``
                  (``C`` = capacity before headroom);
    ``spread_lo/hi_{s}_{a}``  ``m_s <= sum_{p in a, j} x[s,p,j] <= m_s + max_skew`` for every domain ``a``
                  of the service (``m_s`` continuous: the counts differ by at most ``max_skew``);
    ``host_lo/hi_{s}_{node}``  spread over nodes: ``x[s,p,j] <= m_s + max_skew`` and
                  ``m_s <= x[s,p,j] + n_s (1 - y[p,j])`` on every candidate node of an allowed pool (a node
                  counts when it is used, by any service; in a fixed cluster every node counts: ``m_s <= x``);
    ``apart_{s}_{k}_{d}_a/b``  required pod anti-affinity between ``s`` and ``t`` over a topology (a pool
                  label, or each node for ``kubernetes.io/hostname``), ``X[s,d]`` the replicas of ``s`` in
                  domain ``d``: ``X[s,d] <= n_s b`` and ``X[t,d] <= n_t (1 - b)``, ``b`` binary;
                  ``apart_self_{s}_{k}_{d}``: ``X[s,d] <= 1`` (anti-affinity with itself);
    ``with_{s}_{k}_{d}``  required pod affinity: ``X[s,d] <= n_s X[t,d]``, and ``x[s,node] <= 0`` on the
                  nodes of pools without the label; ``with_self_{s}_{k}_{d}``: ``X[s,d] <= n_s b_d`` with
                  ``sum_d b_d <= 1`` (affinity with itself: one domain holds every replica);
    ``zone_{s}_{z}``  ``sum_{p in z, j} x[s,p,j] <= floor((1 - keep) n_s)`` (survive a zone);
    survive a node: ``u[s,p]`` already caps ``x`` at ``floor((1 - keep) n_s)`` (`Instance.node_limit`);
    under ``fit`` the placed count ``P_s = sum x`` is a variable and both caps read
    ``<= (1 - keep) P_s`` (exact for integers: ``P - x >= ceil(keep P)``);
    ``moved_{s}_{node}``  ``r[s,node] >= e[s,node] - x[s,node]``, ``r >= 0``: replicas leaving an existing
                  node (``e`` = existing count); moves = ``sum r - max(0, E_s - n_s)``, the constant kept
                  in `AggregatedModel.offset`.

    Existing nodes keep their identity: the candidate nodes of a pool are its existing nodes (their
    indices) and then the lowest free indices, and the ``order`` rows hold among the fresh ones only.
    Under ``fit`` and ``balance`` the pools are a fixed cluster, so the component bound rows
    (``min_nodes``/``min_cost``) are left out for ``fit`` (a partial plan may use fewer nodes).

"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar, Protocol

import numpy as np
import pulp

from capacity.packing.bounds import Bounds
from capacity.packing.instance import Instance
from capacity.packing.objectives import Objective
from capacity.packing.plan import NodePlan
from capacity.packing.problem import HOSTNAME

_INTEGRALITY_TOL = 1e-6
_LE, _GE, _EQ = pulp.LpConstraintLE, pulp.LpConstraintGE, pulp.LpConstraintEQ


class Formulation(Protocol):
    """What the engine needs from a formulation."""

    name: ClassVar[str]
    prob: pulp.LpProblem

    def start(self, nodes: list[NodePlan]) -> dict[pulp.LpVariable, float]: ...

    def plan(self) -> list[NodePlan] | None: ...

    def objective_bound(self, dual: float) -> float: ...


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
    """The aggregated model (see the module docstring for the formulation).

    The objective (`capacity.packing.objectives.Objective`) says what the model minimises through its
    `ModelTerms` (weights on used nodes, moved replicas and the highest utilisation), whether a plan may
    leave replicas unplaced (``partial``: the unplaced priority weight is minimised too) and which
    ``floor`` rows bound its node weights; the rows below are built in a fixed order (the solver's path,
    and so a plan found at a time limit, depends on it).
    """

    name: ClassVar[str] = "aggregated"

    def __init__(self, inst: Instance, objective: Objective, bounds: Bounds, candidates: np.ndarray) -> None:
        self.inst = inst
        self.objective = objective
        self._names = _Names()
        self._var = _Names()
        self.prob = pulp.LpProblem(self._names("placement"), pulp.LpMinimize)
        self._candidate_slots(candidates)
        self._node_variables()
        self.eps = 1.0 / (len(self.y) + 1)
        self.offset = 0.0  # objective = solver objective + offset
        terms = objective.terms(inst, self.eps)
        self._node_weights = terms.node
        self._terms: list[tuple[pulp.LpVariable, float]] = [
            (v, terms.node[p]) for (p, _), v in self.y.items() if terms.node[p]
        ]
        self._on_node: dict[tuple[int, int], list[int]] = {}
        self._of_service: dict[int, list[pulp.LpVariable]] = {}
        for (s, p, j), v in self.x.items():
            self._on_node.setdefault((p, j), []).append(s)
            self._of_service.setdefault(s, []).append(v)
        self._demand_rows()
        self._node_rows()
        if not objective.partial:
            self._component_rows(bounds)
        self.placed = self._placed_variables()
        self.m: dict[int, pulp.LpVariable] = {}
        self._spread_and_survive_rows()
        self._indicators: list[tuple[pulp.LpVariable, int, list[tuple[int, int]]]] = []
        self._apart_rows()
        self._with_rows()
        self.r: dict[tuple[int, int, int], pulp.LpVariable] = {}
        self._move_rows(terms.moved)
        self.u: pulp.LpVariable | None = None
        if terms.max_utilisation:
            self._utilisation_rows(terms.max_utilisation)
        self.prob.setObjective(pulp.LpAffineExpression(self._terms))

    def _row(self, terms: list[tuple[pulp.LpVariable, float]], sense: int, rhs: float, name: str) -> None:
        self.prob.addConstraint(
            pulp.LpConstraint(pulp.LpAffineExpression(terms), sense, self._names(name), rhs)
        )

    def _candidate_slots(self, candidates: np.ndarray) -> None:
        """Candidate nodes: each pool's existing nodes first (by index), then the lowest free indices."""
        inst = self.inst
        self.slots: list[list[int]] = []
        self.fresh_from: list[int] = []
        for p in range(len(inst.pools)):
            own = sorted(e.index for e in inst.existing if e.pool == p)
            want = max(int(candidates[p]), len(own))
            taken, j = set(own), 0
            fresh: list[int] = []
            while len(own) + len(fresh) < want:
                if j not in taken:
                    fresh.append(j)
                j += 1
            self.slots.append(own + fresh)
            self.fresh_from.append(len(own))
        self.candidates = np.array([len(sl) for sl in self.slots], dtype=np.int64)

    def _node_variables(self) -> None:
        """``y[p,j]`` (node used) and ``x[s,p,j]`` (replicas of ``s`` on it), node by node."""
        inst = self.inst
        self.y: dict[tuple[int, int], pulp.LpVariable] = {}
        self.x: dict[tuple[int, int, int], pulp.LpVariable] = {}
        for p, pool in enumerate(inst.pools):
            for j in range(len(self.slots[p])):
                self.y[p, j] = self.prob.add_variable(self._var(f"y_{pool.name}_{j}"), cat=pulp.LpBinary)
                for s, svc in enumerate(inst.services):
                    u = int(inst.per_node[s, p])
                    if u >= 1:
                        self.x[s, p, j] = self.prob.add_variable(
                            self._var(f"x_{svc.name}_{pool.name}_{j}"), lowBound=0, upBound=u,
                            cat=pulp.LpInteger,
                        )

    def _demand_rows(self) -> None:
        """Every replica placed once, or at most once with the unplaced weight minimised (``partial``)."""
        inst = self.inst
        for s, svc in enumerate(inst.services):
            if inst.replicas[s] <= 0:
                continue
            terms = [(v, 1.0) for v in self._of_service.get(s, [])]
            if self.objective.partial:
                w = float(inst.priority[s])
                self.offset += w * float(inst.replicas[s])
                self._terms.extend((v, -w) for v, _ in terms)
                if terms:
                    self._row(terms, _LE, float(inst.replicas[s]), f"demand_{svc.name}")
            else:
                self._row(terms, _EQ, float(inst.replicas[s]), f"demand_{svc.name}")

    def _node_rows(self) -> None:
        """Capacity, link and order rows of every candidate node."""
        inst = self.inst
        for (p, j), y in self.y.items():
            node = f"{inst.pools[p].name}-{j}"
            here = self._on_node.get((p, j), [])
            for r, res in enumerate(inst.resources):
                terms = [
                    (self.x[s, p, j], float(inst.demand[s, r] / inst.usable[p, r]))
                    for s in here
                    if inst.demand[s, r] > 0
                ]
                if terms:
                    self._row([*terms, (y, -1.0)], _LE, 0.0, f"cap_{res}_{node}")
            for s in here:
                self._row(
                    [(self.x[s, p, j], 1.0), (y, -float(inst.per_node[s, p]))],
                    _LE,
                    0.0,
                    f"link_{inst.services[s].name}_{node}",
                )
            if j >= self.fresh_from[p] and (p, j + 1) in self.y:
                self._row([(y, 1.0), (self.y[p, j + 1], -1.0)], _GE, 0.0, f"order_{node}")

    def _component_rows(self, bounds: Bounds) -> None:
        """The combinatorial bounds of each component: its nodes, and the objective's ``floor``."""
        inst = self.inst
        for k, comp in enumerate(bounds.components):
            ys = [v for (p, _), v in self.y.items() if p in comp.pools]
            if comp.nodes > 0 and ys:
                self._row([(v, 1.0) for v in ys], _GE, float(comp.nodes), f"min_nodes_{k}")
            floor = self.objective.floor(inst, comp)
            if floor and ys:
                priced = [(v, self._node_weights[p]) for (p, _), v in self.y.items() if p in comp.pools]
                self._row(priced, _GE, float(floor), f"min_cost_{k}")

    def _placed_variables(self) -> dict[int, pulp.LpVariable]:
        """Placed replicas as a variable (``partial`` with survive only): ``P_s = sum x``."""
        inst = self.inst
        placed: dict[int, pulp.LpVariable] = {}
        for s, svc in enumerate(inst.services):
            if self.objective.partial and svc.survive is not None and self._of_service.get(s):
                placed[s] = self.prob.add_variable(self._var(f"placed_{svc.name}"), lowBound=0,
                                                   upBound=float(inst.replicas[s]), cat=pulp.LpContinuous)
                self._row([(placed[s], 1.0), *((v, -1.0) for v in self._of_service[s])], _EQ, 0.0,
                          f"placed_{svc.name}")
        return placed

    def _spread_and_survive_rows(self) -> None:
        inst = self.inst
        for s, svc in enumerate(inst.services):
            if not self._of_service.get(s):
                continue
            if inst.host_skew(s) is not None:
                self._host_spread_rows(s)
            elif svc.spread is not None:
                self.m[s] = self.prob.add_variable(
                    self._var(f"spread_min_{svc.name}"), lowBound=0, cat=pulp.LpContinuous
                )
                for a in range(inst.domain_count(s)):
                    terms = [(v, 1.0) for (t, p, _), v in self.x.items()
                             if t == s and inst.spread_domain[s, p] == a]
                    self._row([*terms, (self.m[s], -1.0)], _GE, 0.0, f"spread_lo_{svc.name}_{a}")
                    skew = float(svc.spread.max_skew)
                    self._row([*terms, (self.m[s], -1.0)], _LE, skew, f"spread_hi_{svc.name}_{a}")
            if svc.survive is not None:
                self._survive_rows(s)

    def _survive_rows(self, s: int) -> None:
        inst, placed = self.inst, self.placed
        svc = inst.services[s]
        assert svc.survive is not None
        keep = svc.survive.keep
        if svc.survive.failure == "zone":
            for z in range(inst.zone_count(s)):
                terms = [(v, 1.0) for (t, p, _), v in self.x.items() if t == s and inst.zone[s, p] == z]
                if s in placed:
                    self._row([*terms, (placed[s], -(1.0 - keep))], _LE, 0.0, f"zone_{svc.name}_{z}")
                else:
                    self._row(terms, _LE, float(inst.zone_cap(s)), f"zone_{svc.name}_{z}")
        elif s in placed:
            for (t, p, j), v in self.x.items():
                if t == s:
                    self._row([(v, 1.0), (placed[s], -(1.0 - keep))], _LE, 0.0,
                              f"survive_{svc.name}_{inst.pools[p].name}-{j}")

    def _move_rows(self, move_weight: float) -> None:
        """Moves: ``r >= existing - x`` on every existing node, weighted by ``move_weight``."""
        inst = self.inst
        services, pools = inst.services, inst.pools
        running: dict[int, int] = {}
        for e in inst.existing:
            j = self.slots[e.pool].index(e.index)
            for s, k in e.counts.items():
                running[s] = running.get(s, 0) + k
                if (s, e.pool, j) not in self.x:
                    self.offset += move_weight * k  # no longer allowed there: all of them leave
                    continue
                name = f"moved_{services[s].name}_{pools[e.pool].name}-{e.index}"
                r = self.prob.add_variable(self._var(name), lowBound=0, cat=pulp.LpContinuous)
                self.r[s, e.pool, j] = r
                self._row([(r, 1.0), (self.x[s, e.pool, j], 1.0)], _GE, float(k), name)
                if move_weight:
                    self._terms.append((r, move_weight))
        if not self.objective.partial:
            for s, k in running.items():
                self.offset -= move_weight * max(0, k - int(inst.replicas[s]))

    def _utilisation_rows(self, weight: float) -> None:
        """``U`` >= every node's used share of every resource (capacity before headroom)."""
        inst = self.inst
        self.u = self.prob.add_variable(self._var("max_utilisation"), lowBound=0, cat=pulp.LpContinuous)
        self._terms.append((self.u, weight))
        for (p, j) in self.y:
            node = f"{inst.pools[p].name}-{j}"
            here = self._on_node.get((p, j), [])
            for r, res in enumerate(inst.resources):
                if inst.capacity[p, r] <= 0:
                    continue
                terms = [(self.x[s, p, j], float(inst.demand[s, r] / inst.capacity[p, r]))
                         for s in here if inst.demand[s, r] > 0]
                if terms:
                    self._row([*terms, (self.u, -1.0)], _LE, 0.0, f"util_{res}_{node}")

    def _domains(self, topology: str) -> dict[str, list[tuple[int, int]]]:
        """The candidate nodes of each ``topology`` domain: one per node for the hostname, else by the
        pool's label value (pools without the label are in none)."""
        out: dict[str, list[tuple[int, int]]] = {}
        for (p, j) in self.y:
            name = f"{p}-{j}" if topology == HOSTNAME else self.inst.pool_domain(p, topology)
            if name is not None:
                out.setdefault(name, []).append((p, j))
        return out

    def _total(self, s: int, nodes: list[tuple[int, int]]) -> list[tuple[pulp.LpVariable, float]]:
        """The terms of ``X[s,d]``: the replicas of ``s`` on ``nodes``."""
        return [(self.x[s, p, j], 1.0) for p, j in nodes if (s, p, j) in self.x]

    def _indicator(self, name: str, s: int, nodes: list[tuple[int, int]]) -> pulp.LpVariable:
        """A binary that may be 1 only when ``s`` has replicas on ``nodes`` (a warm start sets it so)."""
        b = self.prob.add_variable(self._var(name), cat=pulp.LpBinary)
        self._indicators.append((b, s, nodes))
        return b

    def _apart_rows(self) -> None:
        """Required pod anti-affinity (`capacity.packing.problem`), with ``X[s,d]`` the replicas of ``s`` in
        domain ``d``: ``apart_*``: ``X[s,d] <= n_s b`` and ``X[t,d] <= n_t (1 - b)`` with ``b`` binary (never
        both); ``apart_self_*``: ``X[s,d] <= 1`` (over the hostname ``u[s,p]`` is 1 already:
        `Instance.node_limit`)."""
        inst = self.inst
        for k, (s, t, topology) in enumerate(inst.affinity_terms("anti")):
            name = f"{inst.services[s].name}_{k}"
            for d, nodes in self._domains(topology).items():
                xs, xt = self._total(s, nodes), self._total(t, nodes)
                if s == t:
                    if xs and topology != HOSTNAME:
                        self._row(xs, _LE, 1.0, f"apart_self_{name}_{d}")
                elif xs and xt:
                    b = self._indicator(f"apart_{name}_{d}", s, nodes)
                    self._row([*xs, (b, -float(inst.replicas[s]))], _LE, 0.0, f"apart_{name}_{d}_a")
                    self._row([*xt, (b, float(inst.replicas[t]))], _LE, float(inst.replicas[t]),
                              f"apart_{name}_{d}_b")

    def _with_rows(self) -> None:
        """Required pod affinity (`capacity.packing.problem`): ``with_*``: ``X[s,d] <= n_s X[t,d]``, and
        ``x[s,node] <= 0`` where the pool lacks the label; ``with_self_*``: ``X[s,d] <= n_s b_d`` with
        ``sum_d b_d <= 1`` (one domain holds them all)."""
        inst = self.inst
        for k, (s, t, topology) in enumerate(inst.affinity_terms("with")):
            name = f"{inst.services[s].name}_{k}"
            n = float(inst.replicas[s])
            domains = self._domains(topology)
            for p, j in self.y:
                if topology != HOSTNAME and inst.pool_domain(p, topology) is None and (s, p, j) in self.x:
                    self._row([(self.x[s, p, j], 1.0)], _LE, 0.0, f"with_{name}_{inst.pools[p].name}-{j}")
            if s != t:
                for d, nodes in domains.items():
                    if xs := self._total(s, nodes):
                        self._row([*xs, *((v, -n) for v, _ in self._total(t, nodes))], _LE, 0.0,
                                  f"with_{name}_{d}")
                continue
            picks = []
            for d, nodes in domains.items():
                if xs := self._total(s, nodes):
                    b = self._indicator(f"with_self_{name}_{d}", s, nodes)
                    picks.append((b, 1.0))
                    self._row([*xs, (b, -n)], _LE, 0.0, f"with_self_{name}_{d}")
            if picks:
                self._row(picks, _LE, 1.0, f"with_self_{name}_one")

    def _host_spread_rows(self, s: int) -> None:
        """Spread over nodes (``kubernetes.io/hostname``): with ``m`` the smallest count over the nodes
        of the allowed pools that exist, ``host_hi``: ``x[s,node] - m <= max_skew`` on every node;
        ``host_lo``: ``m <= x[s,node] + n_s (1 - y[node])`` — a node exists when the plan uses it (any
        service), and in a fixed cluster (`Objective.fixed_cluster`) always (then ``m <= x``, and
        ``m <= 0`` when a pool has more nodes than candidates)."""
        inst, svc = self.inst, self.inst.services[s]
        assert svc.spread is not None
        skew = float(svc.spread.max_skew)
        n = float(inst.replicas[s])
        fixed = self.objective.fixed_cluster
        m = self.prob.add_variable(self._var(f"host_min_{svc.name}"), lowBound=0, cat=pulp.LpContinuous)
        self.m[s] = m
        for (p, j), y in self.y.items():
            if not inst.selected[s, p]:
                continue
            node = f"{svc.name}_{inst.pools[p].name}-{j}"
            x = self.x.get((s, p, j))
            if x is not None:
                self._row([(x, 1.0), (m, -1.0)], _LE, skew, f"host_hi_{node}")
            lo = [(m, 1.0)] + ([(x, -1.0)] if x is not None else [])
            if fixed:
                self._row(lo, _LE, 0.0, f"host_lo_{node}")
            else:
                self._row([*lo, (y, n)], _LE, n, f"host_lo_{node}")
        if fixed and any(inst.selected[s, p] and len(self.slots[p]) < inst.count[p]
                         for p in range(len(inst.pools))):
            self._row([(m, 1.0)], _LE, 0.0, f"host_lo_{svc.name}_uncounted")

    def objective_bound(self, dual: float) -> float:
        """A proven bound on the objective's value (`capacity.packing.objectives.Objective.value`) from the
        solver's dual bound on the model's objective."""
        return self.objective.model_bound(dual + self.offset, self.eps * len(self.y))

    def start(self, nodes: list[NodePlan]) -> dict[pulp.LpVariable, float]:
        """Variable values of a plan (each pool's nodes on its first candidates, or on their own index
        when they have one)."""
        inst = self.inst
        values: dict[pulp.LpVariable, float] = {v: 0.0 for v in self.prob.variables()}
        for p in range(len(inst.pools)):
            mine = [n for n in nodes if n.pool == p and any(n.counts.values())]
            if len(mine) > self.candidates[p]:
                raise ValueError(
                    f"warm start uses {len(mine)} nodes of pool {p}, the model has {self.candidates[p]}"
                )
            free = iter(j for j in range(self.fresh_from[p], len(self.slots[p])))
            for node in mine:
                j = self.slots[p].index(node.index) if node.index in self.slots[p] else next(free)
                values[self.y[p, j]] = 1.0
                for s, k in node.counts.items():
                    if k:
                        values[self.x[s, p, j]] = float(k)
        for s, v in self.placed.items():
            values[v] = sum(values[x] for (t, _, _), x in self.x.items() if t == s)
        for s, v in self.m.items():
            if inst.host_skew(s) is not None:
                values[v] = self._host_min(s, values)
                continue
            per = np.zeros(inst.domain_count(s))
            for (t, p, _), x in self.x.items():
                if t == s:
                    per[inst.spread_domain[s, p]] += values[x]
            values[v] = float(per.min()) if len(per) else 0.0
        for b, s, on in self._indicators:
            values[b] = 1.0 if sum(values[x] for x, _ in self._total(s, on)) > 0.5 else 0.0
        for key, v in self.r.items():
            e = next(
                e for e in inst.existing
                if e.pool == key[1] and self.slots[e.pool].index(e.index) == key[2]
            )
            values[v] = max(0.0, e.counts[key[0]] - values[self.x[key]])
        if self.u is not None:
            for (p, j) in self.y:
                for r in range(len(inst.resources)):
                    if inst.capacity[p, r] > 0:
                        used = sum(values[x] * inst.demand[t, r] for (t, q, i), x in self.x.items()
                                   if q == p and i == j)
                        values[self.u] = max(values[self.u], used / inst.capacity[p, r])
        return values

    def _host_min(self, s: int, values: dict[pulp.LpVariable, float]) -> float:
        """``m_s`` of a spread over nodes in a plan: the smallest count over the nodes that exist (used,
        or every node of a fixed cluster; 0 when some node of a fixed cluster is no candidate)."""
        inst, fixed = self.inst, self.objective.fixed_cluster
        if fixed and any(inst.selected[s, p] and len(self.slots[p]) < inst.count[p]
                         for p in range(len(inst.pools))):
            return 0.0
        counts = [values[self.x[s, p, j]] if (s, p, j) in self.x else 0.0
                  for (p, j), y in self.y.items() if inst.selected[s, p] and (values[y] > 0.5 or fixed)]
        return min(counts, default=0.0)

    def plan(self) -> list[NodePlan] | None:
        """The plan in the variables' values; None when they are missing or not integral."""
        nodes: dict[tuple[int, int], NodePlan] = {}
        named = bool(self.inst.existing)
        for (s, p, j), v in self.x.items():
            value = v.varValue
            if value is None or not math.isfinite(value):
                return None
            k = round(value)
            if abs(value - k) > _INTEGRALITY_TOL:
                return None
            if k > 0:
                node = nodes.setdefault((p, j), NodePlan(p, index=self.slots[p][j] if named else None))
                node.counts[s] = k
        return [nodes[key] for key in sorted(nodes)]


FORMULATIONS: dict[str, Callable[[Instance, Objective, Bounds, np.ndarray], Formulation]] = {
    AggregatedModel.name: AggregatedModel,
}
"""Every formulation by name."""
