r"""The pattern formulation: column generation over node patterns, for thousands of replicas.

Replicas of a service are interchangeable and the nodes of a pool are identical, so a plan is fully
described by **how many nodes run each pattern**. A *pattern* of pool ``p`` is a vector ``a`` with ``a_c``
replicas of service ``c`` on one node of ``p``: it fits the node's usable capacity (after headroom) in every
resource, and ``a_c <= u[c,p]`` (selector, fit and ``max_per_node``; `Instance.per_node`). This is the
Gilmore–Gomory cutting-stock model, a Dantzig–Wolfe reformulation of the compact model in ``model.py``;
its LP relaxation is much stronger (it knows that replicas are indivisible inside one node), and it has
no symmetry between nodes or replicas.

Services with the same demand, the same allowed pools and no ``max_per_node`` are merged into one
**class** first (their replicas are interchangeable too); the plan is split back by service at the end.

The master problem (`capacity.packing.patterns_master`)
-------------------------------------------------------

::

    minimise   sum_j cost_p(j) lambda_j          cost_p = 1 (min-nodes) or the pool's cost (min-cost)
    s.t.       sum_j a_{c,j} lambda_j >= n_c      cover[c]   (pi_c >= 0)
               sum_{j of p} lambda_j <= m_p       count[p]   (mu_p <= 0)
               lambda_j >= 0, integer

``m_p`` is the pool's count, capped by the replicas that may go on ``p`` (a plan never needs an empty node,
so the cap removes no plan). Cover rows are ``>=``; a plan with surplus slots drops the extra replicas.

Column generation (the LP relaxation)
-------------------------------------

Start from the columns of the first-fit-decreasing plan (`capacity.packing.baselines.ffd_plan`) and, per
pool and service, a node filled with that service first and then greedily. Repeat: solve the LP (HiGHS,
warm-started from the previous basis), read the prices ``pi``, ``mu``, and **price** every pool: find
patterns with negative reduced cost ``cost_p - mu_p - pi.a`` (`capacity.packing.patterns_pricing`) —
first with the greedy heuristics (guided by the knapsack's LP relaxation; from single and then from pairs
of replicas), and only when they find none with the exact pricer (dynamic programming over the node's
capacity grid when the sizes allow it, else the knapsack MIP). Column generation has
*converged* when the exact pricer proves that no pattern has a negative reduced cost: the LP value is
then the LP optimum over all patterns. It usually need not get there: the exact pricer is asked a
*decision* against a **threshold** (below), and "no pattern beats the threshold" already proves the
best bound this LP can give (``ceil(LP)`` nodes).

Lower bound (valid at every iteration, converged or not)
--------------------------------------------------------

The LP dual is ``max sum_c n_c pi_c + sum_p m_p mu_p`` s.t. ``pi.a + mu_p <= cost_p`` for every pattern
``a`` of every pool ``p``, ``pi >= 0``, ``mu <= 0``. Take any ``pi >= 0`` (the master's prices) and let
``z_p >= max_a pi.a`` be an upper bound on the pricing value of pool ``p`` (the exact pricer's dual bound,
valid even when it stopped at its time limit). Then ``mu_p = min(0, cost_p - z_p)`` makes ``(pi, mu)``
dual feasible, so weak duality gives the **Lagrangian bound**

    LB = sum_c n_c pi_c + sum_p m_p min(0, cost_p - z_p)   <=  LP optimum  <=  any plan's objective.

Scaling instead of shifting gives **Farley's bound**: with ``theta = min_p min(1, cost_p / z_p)``,
``(theta pi, 0)`` is dual feasible and ``LB_F = theta sum_c n_c pi_c``. The larger of the two is used.
When column generation has converged, ``z_p <= cost_p - mu_p`` and ``LB`` equals the LP value. Pools
without nodes are left out (their ``mu_p`` is free). ``z_p`` comes from the exact pricer (its dual
bound, or its threshold when it proved that nothing beats it), or, weaker, from the knapsack's LP
relaxation that guides the greedy pricer. Both bounds are computed per **component**
(`capacity.packing.bounds.components`: services and pools that never share a node; the dual separates
along them). Under ``min-nodes`` each component's bound is rounded up (node counts are integers); the
result is combined with the combinatorial bounds of `capacity.packing.bounds` (the larger per component,
and the larger in total). Under ``min-cost`` the LP bound bounds the cost, and the node bound is the
combinatorial one. The status is ``optimal`` only when the plan's objective meets that bound.

The **threshold** of pool ``p`` under ``min-nodes``: with ``G = ceil(LP value)`` of the component (the
best it can prove), Farley's bound rounds up to ``G`` as soon as every ``z_p < cost_p * sum n_c pi_c /
(G - 1)`` (with a margin for the rounding); the threshold is that value, or the reduced-cost limit
``cost_p - mu_p`` if that is larger. A pattern above the threshold is a column; none proves the bound.

Integer plans
-------------

1. **Diving** (residual rounding with column generation) with **limited discrepancy search**: solve the
   residual LP (a few rounds of column generation, heuristic pricing), fix every column at
   ``floor(lambda_j + 0.2)``, or else branch on the columns with the largest fractional values (fix one
   at 1; on backtracking forbid it and try the next, at most a few such detours per path); subtract
   what the fixed nodes cover from the demands and the pool counts; repeat until nothing is left. A
   subtree is cut when the fixed nodes plus the residual LP (rounded up) cannot beat the best plan.
2. **Price-and-branch**: the master over all generated columns as a MIP (HiGHS), started from the best
   plan, with the proven bound as a row. While time is left and a gap remains: dive again with a wider
   discrepancy (the column pool has grown), then the MIP again.
3. **Repair** turns any column solution into a plan: drop surplus replicas (from the least loaded nodes
   first), place missing ones best-fit into free capacity and then onto new nodes one pattern at a time
   (the greedy pricer picks the fullest mix of what is left, `Loads.fill`), and try to empty the least
   loaded nodes into the others. The root LP is rounded at several points (``lambda + 0.5``, ``+ 0.3``,
   ``+ 0.7``, down) and repaired, and every dive node offers its residual LP rounded to nearest too: on
   a fleet (10,000 replicas) a repaired rounding is within a node or two of the optimum, found in
   under a second, where a full dive takes minutes.
4. **Perfect packing** (`capacity.packing.patterns_perfect`), after the roundings, under ``min-nodes``
   on one pool: when the replicas fill the bound's nodes exactly in some resource (triplet benchmarks),
   a plan at the bound fills every node exactly there; the patterns that do are enumerated and an exact
   cover of the replicas by them is solved with HiGHS (at most `_PERFECT_NODES` nodes). The dives
   land one to three nodes above such bounds.

Price-and-branch on a large master (columns x classes above `_MIP_FULL_SIZE`) keeps only the columns
some LP solution used: given a plan, HiGHS spends ~10 s in root cuts on 2,000 columns x 170 rows,
whatever its time limit.

The best plan found (never worse than first-fit decreasing, which is the first incumbent) is checked with
`capacity.packing.plan.violations` and returned as a `Placement` under the name ``highs`` (the engine
that ran); the pattern formulation always uses highspy, whatever ``problem.solver`` says.

**Work budgets and determinism.** Each phase ends when its **work budget** is spent, never on the clock
(`capacity.packing.effort`): column generation at the root for ``_ROOT_ROUNDS_PER_S`` rounds per second of
``problem.time_limit_s`` (at most two exact pricing rounds, unless the grid pricer prices every pool, and
exact pricing MIPs of ``_PRICING_NODES_PER_S`` branch-and-bound nodes in all, a quarter of what is left
each), rounding, perfect packing (`_PERFECT_NODES`), a dive of ``_DIVE_NODES_PER_S`` nodes, more column
generation for the bound (the same budgets again), then price-and-branch (``_MIP_NODES_PER_S`` nodes) and
wider dives; each step is skipped once the plan meets the bound. Everything is single-threaded with fixed
seeds and the budgets are counts, so the same problem gives the same plan byte for byte on any machine.
The time limit is a safety net: a run it cuts returns whatever it had then (the bound stays valid) and
reports ``time_limit_reached``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from capacity.errors import InfeasiblePlacement
from capacity.packing.bounds import Bounds, compute_bounds
from capacity.packing.effort import Effort
from capacity.packing.feasibility import explain_unplaced
from capacity.packing.instance import Instance, fits
from capacity.packing.objectives import NodePriced, compile_problem
from capacity.packing.outcome import finish, heuristic_placement, meets
from capacity.packing.patterns_master import LpSolution, Master
from capacity.packing.patterns_perfect import perfect_plan
from capacity.packing.patterns_pricing import (
    ExactPricer,
    PoolShape,
    greedy_patterns,
    pair_patterns,
    pattern_fits,
    seed_patterns,
    trim,
)
from capacity.packing.plan import NodePlan, violations
from capacity.packing.problem import PackingProblem, Placement, Service
from capacity.packing.start import Start, prepare

log = logging.getLogger(__name__)

SOLVER_NAME = "highs"
RC_EPS = 1e-7
"""A column enters when its reduced cost is below ``-RC_EPS * max(1, cost)``."""
BOUND_EPS = 1e-6
"""Relative slack subtracted before rounding an LP bound up, against floating-point error."""

_FIRST_EXACT_ROUNDS = 2
_DISCREPANCY = 3
_ROUNDINGS = (0.5, 0.3, 0.7, 1e-6)  # root roundings: lambda_j + each, rounded down
_ROUND_UP = 0.2  # a dive fixes a column at round(lambda + 0.2) down: 2.8 nodes become 3 without branching
_DIVE_ROUNDS = 8  # column-generation rounds per residual LP in a dive (the pool is rich by then)
_MAX_DISCREPANCY = 11
_MIP_FULL_SIZE = 200_000  # columns x classes above which price-and-branch uses only the LP's columns
# Work budgets (`capacity.packing.effort`): units per second of the time limit, never seconds.
_ROOT_ROUNDS_PER_S = 12.0  # column-generation rounds at the root (and again for the bound)
_DIVE_NODES_PER_S = 4.0  # dive nodes (residual LPs) per dive
_MIP_NODES_PER_S = 200.0  # branch-and-bound nodes of each price-and-branch MIP
_PRICING_NODES_PER_S = 400.0  # branch-and-bound nodes of the exact pricing MIPs (knapsacks) per phase
_PRICING_NODES_LEAST = 200  # the least one exact pricing MIP gets
_PERFECT_NODES = 20_000  # branch-and-bound nodes of the exact cover by perfect patterns
_EVACUATE_TRIES = 40  # failed evacuations in a row after which `Loads.empty_nodes` gives up


# --------------------------------------------------------------------------------------------------
# Classes: services whose replicas are interchangeable


@dataclass(frozen=True)
class Classes:
    """Services merged into classes (see the module docstring); ``inst`` is the merged instance."""

    inst: Instance
    members: list[list[int]]  # class -> service indices of the original instance

    @classmethod
    def build(cls, inst: Instance) -> Classes:
        groups: dict[tuple, list[int]] = {}
        for s, svc in enumerate(inst.services):
            if inst.replicas[s] == 0:
                continue
            if svc.max_per_node is None:
                key: tuple = ("same", tuple(inst.demand[s].tolist()), tuple(inst.selected[s].tolist()))
            else:
                key = ("own", s)
            groups.setdefault(key, []).append(s)
        members = list(groups.values())
        services = []
        for i, group in enumerate(members):
            first = inst.services[group[0]]
            allowed = tuple(p.name for p, ok in zip(inst.pools, inst.selected[group[0]], strict=True) if ok)
            services.append(
                Service(
                    name=f"class-{i}",
                    replicas=int(inst.replicas[group].sum()),
                    demand=dict(first.demand),
                    pools=allowed,
                    max_per_node=first.max_per_node,
                )
            )
        merged = replace(inst.problem, services=tuple(services))
        return cls(Instance.compile(merged), members)

    def to_services(self, inst: Instance, nodes: list[NodePlan]) -> list[NodePlan]:
        """The plan by original service: each class's replicas go to its members in order."""
        left = [[(s, int(inst.replicas[s])) for s in group] for group in self.members]
        out = []
        for node in nodes:
            counts: dict[int, int] = {}
            for c in sorted(node.counts):
                k = node.counts[c]
                queue = left[c]
                while k > 0:
                    s, n = queue[0]
                    take = min(k, n)
                    counts[s] = counts.get(s, 0) + take
                    k -= take
                    if take == n:
                        queue.pop(0)
                    else:
                        queue[0] = (s, n - take)
            out.append(NodePlan(node.pool, counts))
        return out

    def to_classes(self, nodes: list[NodePlan]) -> list[NodePlan]:
        """A plan by original service, counted by class."""
        of = {s: c for c, group in enumerate(self.members) for s in group}
        out = []
        for node in nodes:
            counts: dict[int, int] = {}
            for s, k in node.counts.items():
                if k > 0:
                    counts[of[s]] = counts.get(of[s], 0) + k
            out.append(NodePlan(node.pool, counts))
        return out


# --------------------------------------------------------------------------------------------------
# Plans in counts: repair and local improvement


class Loads:
    """A mutable plan: per node its pool, its counts by class and what it uses of each resource."""

    def __init__(self, inst: Instance, nodes: list[NodePlan]) -> None:
        self.inst = inst
        self.pool = [n.pool for n in nodes]
        self.counts = [dict(n.counts) for n in nodes]
        self.used = np.array([n.used(inst) for n in nodes]).reshape(len(nodes), len(inst.resources))

    def plan(self) -> list[NodePlan]:
        return [
            NodePlan(p, {c: k for c, k in counts.items() if k > 0})
            for p, counts in zip(self.pool, self.counts, strict=True)
            if any(k > 0 for k in counts.values())
        ]

    def load(self) -> np.ndarray:
        """[node] summed share of the node's usable capacity that is used."""
        usable = self.inst.usable[self.pool] if self.pool else np.zeros((0, len(self.inst.resources)))
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(usable > 0, self.used / np.where(usable > 0, usable, 1.0), 0.0)
        return share.sum(axis=1)

    def room(self, c: int, nodes: np.ndarray | None = None) -> np.ndarray:
        """[node] how many more replicas of class ``c`` fit on each node (or on ``nodes``)."""
        inst = self.inst
        idx = np.arange(len(self.pool)) if nodes is None else nodes
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        pools = np.asarray(self.pool)[idx]
        used, usable, d = self.used[idx], inst.usable[pools], inst.demand[c]
        k = inst.per_node[c, pools].astype(np.int64)
        k = k - np.array([self.counts[i].get(c, 0) for i in idx], dtype=np.int64)
        for r in np.flatnonzero(d > 0):
            free = usable[:, r] * (1.0 + 1e-9) + 1e-12 - used[:, r]
            k = np.minimum(k, np.floor(np.maximum(free, 0.0) / d[r]).astype(np.int64))
        k = np.maximum(k, 0)
        while True:  # floor() of a rounding error may overshoot by one
            over = (k > 0) & ~np.all(fits(used + k[:, None] * d, usable), axis=1)
            if not over.any():
                return k
            k[over] -= 1

    def add(self, i: int, c: int, k: int) -> None:
        self.counts[i][c] = self.counts[i].get(c, 0) + k
        self.used[i] += k * self.inst.demand[c]

    def open(self, p: int) -> int:
        self.pool.append(p)
        self.counts.append({})
        self.used = np.vstack([self.used, np.zeros(len(self.inst.resources))])
        return len(self.pool) - 1

    def remove_surplus(self) -> None:
        """Drop replicas beyond what each class asks for, from the least loaded nodes first."""
        placed = np.zeros(len(self.inst.services), dtype=np.int64)
        for counts in self.counts:
            for c, k in counts.items():
                placed[c] += k
        surplus = placed - self.inst.replicas
        if not (surplus > 0).any():
            return
        order = np.lexsort((np.arange(len(self.pool)), self.load()))
        for i in order:
            for c in sorted(self.counts[i]):
                if surplus[c] > 0 and self.counts[i][c] > 0:
                    take = min(int(surplus[c]), self.counts[i][c])
                    self.add(int(i), c, -take)
                    surplus[c] -= take

    def missing(self) -> dict[int, int]:
        placed = np.zeros(len(self.inst.services), dtype=np.int64)
        for counts in self.counts:
            for c, k in counts.items():
                placed[c] += k
        return {
            c: int(self.inst.replicas[c] - placed[c])
            for c in range(len(self.inst.services))
            if placed[c] < self.inst.replicas[c]
        }

    def fill(
        self, wanted: dict[int, int], count: np.ndarray, node_price: np.ndarray,
        prices: np.ndarray | None = None,
    ) -> dict[int, int]:
        """Place ``wanted`` replicas (by class): free capacity first (best fit), then new nodes.

        New nodes are opened one pattern at a time (a *sequential heuristic*): for every pool with free
        nodes (``count`` minus the nodes in the plan), the greedy pricer (`greedy_patterns`) looks for
        the pattern of the replicas still wanted that is worth most, and the pool with the most worth per
        node price (``node_price``, [pool]: what a node adds to the objective) wins; the pattern is
        repeated as often as the replicas left allow. A replica is worth its class's ``prices`` (the LP's
        duals: what it costs the LP at the margin) when given, and its size (summed share of the largest
        node) otherwise or when its price is zero. Mixing replicas
        heavy in different resources on one node is what first-fit decreasing, class by class, misses.
        Returns what could not be placed.
        """
        inst = self.inst
        left = dict(wanted)
        for c in _size_order(inst, list(wanted)):
            while left[c] > 0:
                room = self.room(c)
                room[~inst.placeable[c, np.asarray(self.pool, dtype=np.int64)]] = 0
                if not room.any():
                    break
                # best fit: the most loaded node that takes replicas
                load = self.load()
                i = int(np.lexsort((np.arange(len(room)), -load, room == 0))[0])
                take = int(min(left[c], room[i]))
                self.add(i, c, take)
                left[c] -= take
        return self._open_nodes({c: k for c, k in left.items() if k > 0}, count, node_price, prices)

    def _open_nodes(
        self, left: dict[int, int], count: np.ndarray, node_price: np.ndarray, prices: np.ndarray | None
    ) -> dict[int, int]:
        """The new-node part of `fill`."""
        inst = self.inst
        opened = np.bincount(np.asarray(self.pool, dtype=np.int64), minlength=len(inst.pools))
        largest = inst.usable.max(axis=0) if len(inst.pools) else np.ones(len(inst.resources))
        size = (inst.demand / np.where(largest > 0, largest, 1.0)).sum(axis=1)
        worth = size.copy() if prices is None else np.maximum(prices, 1e-4 * size * max(prices.max(), 1e-9))
        want = np.zeros(len(inst.services), dtype=np.int64)
        for c, k in left.items():
            want[c] = k
        shapes: dict[int, PoolShape] = {}
        while want.any():
            best: tuple[float, int, int, np.ndarray] | None = None
            for p in range(len(inst.pools)):
                if opened[p] >= count[p] or not inst.placeable[want > 0, p].any():
                    continue
                shape = shapes.setdefault(p, PoolShape.build(inst, p))
                cap = np.minimum(shape.per_node, want[shape.classes])
                node_cost = float(node_price[p])
                found = greedy_patterns(shape, worth[shape.classes], cap, starts=16, improve=1)
                for a in found:
                    full = np.zeros(len(inst.services), dtype=np.int64)
                    full[shape.classes] = np.minimum(a, cap)
                    if not full.any() or not pattern_fits(inst, p, full):
                        continue
                    score = float(worth @ full) / max(node_cost, 1e-12)
                    if best is None or score > best[0] + 1e-12:
                        best = (score, p, 0, full)
            if best is None:
                break
            _, p, _, a = best
            used = a > 0
            k = int(min(count[p] - opened[p], (want[used] // a[used]).min()))
            for _ in range(max(k, 1)):
                i = self.open(p)
                for member in np.flatnonzero(used):
                    self.add(i, int(member), int(a[member]))
            opened[p] += max(k, 1)
            want -= max(k, 1) * a
        return {int(c): int(want[c]) for c in np.flatnonzero(want > 0)}

    def empty_nodes(self, deadline: float, node_price: np.ndarray, patience: int = _EVACUATE_TRIES) -> int:
        """Move every replica of a lightly loaded (or costly) node into the others; returns nodes freed.

        Victims are tried by decreasing cost, then increasing load; the search stops after ``patience``
        failures in a row (the fuller nodes left will not empty either) or at ``deadline``.
        """
        freed = 0
        tried: set[int] = set()
        while time.perf_counter() < deadline and len(tried) < patience:
            alive = [i for i in range(len(self.pool)) if any(k > 0 for k in self.counts[i].values())]
            if len(alive) < 2:
                break
            load = self.load()
            cost = np.array([float(node_price[self.pool[i]]) for i in alive])
            order = sorted(range(len(alive)), key=lambda t: (-cost[t], load[alive[t]], alive[t]))
            victim = next((alive[t] for t in order if alive[t] not in tried), None)
            if victim is None:
                break
            tried.add(victim)
            if self._evacuate(victim):
                freed += 1
                tried.clear()
        return freed

    def _evacuate(self, victim: int) -> bool:
        inst = self.inst
        others = np.array(
            [i for i in range(len(self.pool)) if i != victim and any(k > 0 for k in self.counts[i].values())],
            dtype=np.int64,
        )
        moves: list[tuple[int, int, int]] = []
        ok = True
        for c in _size_order(inst, [c for c, k in self.counts[victim].items() if k > 0]):
            left = self.counts[victim][c]
            while left > 0:
                room = self.room(c, others)
                room[~inst.placeable[c, np.asarray(self.pool, dtype=np.int64)[others]]] = 0
                if not room.any():
                    ok = False
                    break
                t = int(np.flatnonzero(room > 0)[0])
                take = int(min(left, room[t]))
                i = int(others[t])
                self.add(i, c, take)
                self.add(victim, c, -take)
                moves.append((i, c, take))
                left -= take
            if not ok:
                break
        if not ok:
            for i, c, take in reversed(moves):
                self.add(i, c, -take)
                self.add(victim, c, take)
        return ok


def _size_order(inst: Instance, classes: list[int]) -> list[int]:
    """Classes by decreasing summed share of the largest node (first-fit-decreasing order)."""
    largest = inst.usable.max(axis=0) if len(inst.pools) else np.ones(len(inst.resources))
    scale = np.where(largest > 0, largest, 1.0)
    size = (inst.demand / scale).sum(axis=1)
    return sorted(classes, key=lambda c: (-size[c], c))


def repair(
    inst: Instance,
    nodes: list[NodePlan],
    count: np.ndarray,
    *,
    deadline: float,
    node_price: np.ndarray,
    prices: np.ndarray | None = None,
) -> tuple[list[NodePlan], dict[int, int]]:
    """A complete plan from a column solution (see the module docstring), and what stays unplaced.

    ``node_price`` is [pool] what one node adds to the objective; ``prices`` the LP's duals (`Loads.fill`).
    """
    loads = Loads(inst, nodes)
    loads.remove_surplus()
    loads = Loads(inst, loads.plan())
    unplaced = loads.fill(loads.missing(), count, node_price, prices)
    if not unplaced:
        loads.empty_nodes(deadline, node_price)
    return loads.plan(), unplaced


# --------------------------------------------------------------------------------------------------
# Column generation


@dataclass
class RootBound:
    """Best proven bound per component (objective units), and whether column generation converged."""

    per_component: np.ndarray
    converged: bool = False


@dataclass
class _Search:
    """Column generation and diving on the class instance (see the module docstring).

    ``cost`` is [pool] the objective's price of one node; with ``integral`` (every price an integer) a
    bound rounds up.
    """

    inst: Instance  # the class instance
    bounds: Bounds  # combinatorial bounds of the class instance
    effort: Effort  # the clock: the time limit is only a safety net (`capacity.packing.effort`)
    objective: NodePriced
    count: np.ndarray = field(init=False)
    cost: np.ndarray = field(init=False)
    master: Master = field(init=False)
    shapes: list[PoolShape] = field(init=False)
    pricers: dict[int, ExactPricer] = field(init=False)
    best: RootBound = field(init=False)
    comp_of_pool: np.ndarray = field(init=False)
    comp_of_class: np.ndarray = field(init=False)
    support: set[int] = field(init=False, default_factory=set)  # columns some LP solution used
    pricing_nodes: int = field(init=False, default=0)  # exact pricing's work budget left in this phase

    def __post_init__(self) -> None:
        inst = self.inst
        reach = np.array(
            [int(inst.replicas[inst.placeable[:, p]].sum()) for p in range(len(inst.pools))], dtype=np.int64
        )
        self.count = np.minimum(inst.count, reach)
        self.cost = np.array([self.objective.price(inst, p) for p in range(len(inst.pools))], dtype=float)
        self.master = Master(inst.replicas.astype(float), self.count, self.cost)
        self.master.big = 1.0 + float((self.count * self.cost).sum()) + float(self.cost.max(initial=1))
        self.shapes = [PoolShape.build(inst, p) for p in range(len(inst.pools))]
        self.best = RootBound(self.combinatorial())
        self.pricers = {
            p: ExactPricer(inst, shape) for p, shape in enumerate(self.shapes) if len(shape.classes)
        }
        self.comp_of_pool = np.full(len(inst.pools), -1, dtype=np.int64)
        self.comp_of_class = np.full(len(inst.services), -1, dtype=np.int64)
        for k, comp in enumerate(self.bounds.components):
            self.comp_of_pool[list(comp.pools)] = k
            self.comp_of_class[list(comp.services)] = k

    @property
    def integral(self) -> bool:
        """Every node price is an integer: so is every plan's value, and a bound rounds up."""
        return self.objective.integral_prices

    def solve_lp(self) -> LpSolution | None:
        """`Master.solve`, remembering the columns the solution uses (`support`)."""
        sol = self.master.solve()
        if sol is not None:
            self.support.update(int(j) for j in np.flatnonzero(sol.columns > 1e-9))
        return sol

    @property
    def grid_priced(self) -> bool:
        """Every pool is priced exactly by dynamic programming (cheap: no need to ration exact rounds)."""
        return all(pricer.grid is not None for pricer in self.pricers.values())

    # -- columns -----------------------------------------------------------------------------

    def add_plan(self, nodes: list[NodePlan]) -> np.ndarray:
        """Add a plan's node patterns as columns; returns its integer lambda over all columns."""
        keys = []
        for node in nodes:
            a = np.zeros(len(self.inst.services), dtype=np.int64)
            for c, k in node.counts.items():
                a[c] = k
            j = self.master.add(node.pool, a)
            if j is None:
                j = self.master._index[(node.pool, a.tobytes())]
            keys.append(j)
        lam = np.zeros(len(self.master), dtype=np.int64)
        for j in keys:
            lam[j] += 1
        return lam

    def seed_columns(self) -> None:
        """`seed_patterns` of every pool with free nodes, as columns."""
        n = len(self.inst.services)
        for p, shape in enumerate(self.shapes):
            if self.count[p] == 0:
                continue
            for a in seed_patterns(shape):
                full = np.zeros(n, dtype=np.int64)
                full[shape.classes] = a
                if not pattern_fits(self.inst, p, full):
                    full = trim(self.inst, p, full, np.ones(n))
                self.master.add(p, full)

    def add_artificial(self) -> None:
        for c in range(len(self.inst.services)):
            a = np.zeros(len(self.inst.services), dtype=np.int64)
            a[c] = self.inst.replicas[c]
            self.master.add(-1, a)

    # -- pricing -----------------------------------------------------------------------------

    def _rc_limit(self, p: int, sol: LpSolution) -> float:
        """Price above which a pattern of ``p`` has negative reduced cost."""
        return float(self.cost[p] - sol.pool_duals[p]) + RC_EPS * max(1.0, float(self.cost[p]))

    def price_heuristic(
        self, sol: LpSolution, bound: np.ndarray, count: np.ndarray, heavy: bool = True
    ) -> tuple[int, np.ndarray]:
        """Greedy pricing of every pool (guided by the knapsack LP): columns added, [pool] LP bounds.

        The knapsack LP's value bounds z_p from above, so the second result feeds `lagrangian` too.
        """
        inst = self.inst
        added = 0
        upper = np.zeros(len(self.shapes))
        for p, shape in enumerate(self.shapes):
            if count[p] <= 0 or len(shape.classes) == 0:
                continue
            limit = self._rc_limit(p, sol)
            prices = sol.prices[shape.classes]
            cap = np.minimum(shape.per_node, bound[shape.classes])
            upper[p], guide, weights = self.pricers[p].relaxation(sol.prices, bound)
            if upper[p] <= limit:
                continue  # not even the LP relaxation has a negative reduced cost
            found = []
            for a in greedy_patterns(shape, prices, cap, guide=guide, weights=weights):
                value = float(prices @ a)
                if value > limit:
                    found.append((-value, a.tobytes(), a))
            if not found and heavy and self.pricers[p].grid is None:  # the grid pricer is cheaper
                for a in pair_patterns(shape, prices, cap):
                    value = float(prices @ a)
                    if value > limit:
                        found.append((-value, a.tobytes(), a))
            found.sort(key=lambda t: (t[0], t[1]))
            for _, _, a in found:
                full = np.zeros(len(inst.services), dtype=np.int64)
                full[shape.classes] = a
                if not pattern_fits(inst, p, full):
                    full = trim(inst, p, full, sol.prices)
                if self.master.add(p, full) is not None:
                    added += 1
        return added, upper

    def price_exact(
        self, sol: LpSolution, bound: np.ndarray, count: np.ndarray, threshold: np.ndarray
    ) -> tuple[int, np.ndarray]:
        """Exact pricing of every pool against ``threshold`` ([pool], at least the reduced-cost limit).

        Returns the columns added (patterns worth more than the threshold) and [pool] upper bounds on
        z_p (the threshold itself where the pricer proved that nothing beats it).
        """
        upper = np.zeros(len(self.shapes))
        added = 0
        for p, shape in enumerate(self.shapes):
            if count[p] <= 0 or len(shape.classes) == 0:
                continue
            if self.effort.out_of_time():
                upper[p] = math.inf  # not priced: no bound on z_p
                continue
            # a quarter of the phase's nodes left, as the clock-based rationing did with the time
            nodes = max(_PRICING_NODES_LEAST, self.pricing_nodes // 4)
            res = self.pricers[p].price(sol.prices, bound, self.effort.left_s(), float(threshold[p]),
                                        max_nodes=nodes)
            self.pricing_nodes -= self.pricers[p].nodes_used()
            upper[p] = res.upper
            for a in res.counts:
                if float(sol.prices @ a) > self._rc_limit(p, sol) and self.master.add(p, a) is not None:
                    added += 1
        return added, upper

    def thresholds(self, sol: LpSolution, best: RootBound) -> np.ndarray:
        """[pool] the value a pattern must beat to matter (see `root`)."""
        inst = self.inst
        limit = np.array([self._rc_limit(p, sol) for p in range(len(inst.pools))])
        if not self.integral:
            return limit
        lp = self.lp_per_component(sol)
        covered = self.covered(sol)
        out = limit.copy()
        for p in range(len(inst.pools)):
            k = self.comp_of_pool[p]
            if k < 0:
                continue
            goal = math.ceil(
                lp[k] - BOUND_EPS * max(1.0, lp[k])
            )  # the best bound the LP can give this component
            if best.per_component[k] >= goal:
                out[p] = math.inf  # settled: no column of this component matters
                continue
            below = goal - 1  # Farley proves the goal when theta * covered > below
            if below > 0 and covered[k] > 0:
                # a margin above BOUND_EPS, so that the rounding in `proven` lands on the goal
                margin = below * (1.0 + 10 * BOUND_EPS) + 10 * BOUND_EPS
                out[p] = max(limit[p], self.cost[p] * covered[k] / margin)
        return out

    def covered(self, sol: LpSolution) -> np.ndarray:
        """[component] sum_c n_c pi_c."""
        k = len(self.bounds.components)
        covered = np.zeros(k)
        mask = self.comp_of_class >= 0
        np.add.at(covered, self.comp_of_class[mask], (self.inst.replicas * sol.prices)[mask])
        return covered

    def lagrangian(self, sol: LpSolution, upper: np.ndarray) -> np.ndarray:
        """[component] valid lower bound on the objective (see the module docstring)."""
        inst = self.inst
        k = len(self.bounds.components)
        covered = np.zeros(k)
        np.add.at(
            covered,
            self.comp_of_class[self.comp_of_class >= 0],
            (inst.replicas * sol.prices)[self.comp_of_class >= 0],
        )
        shift = np.zeros(k)
        theta = np.ones(k)
        for p in range(len(inst.pools)):
            ck = self.comp_of_pool[p]
            if ck < 0 or self.count[p] == 0:
                continue  # a pool without nodes constrains no price (its mu_p is free)
            shift[ck] += self.count[p] * min(0.0, self.cost[p] - upper[p])
            if upper[p] > self.cost[p]:
                theta[ck] = min(theta[ck], self.cost[p] / upper[p])
        return np.maximum(np.maximum(covered + shift, theta * covered), 0.0)

    def lp_per_component(self, sol: LpSolution) -> np.ndarray:
        out = np.zeros(len(self.bounds.components))
        for j, lam in enumerate(sol.columns):
            p = self.master.pools[j]
            if lam > 0 and p >= 0:
                out[self.comp_of_pool[p]] += lam * self.cost[p]
            elif lam > 0:
                out[self.comp_of_class[int(np.argmax(self.master.patterns[j]))]] += lam * self.master.big
        return out

    def combinatorial(self) -> np.ndarray:
        return np.array([self.objective.component_bound(self.inst, c) for c in self.bounds.components])

    def proven(self, lb: np.ndarray) -> np.ndarray:
        """[component] proven bound in objective units: LP bound (rounded up for nodes) and ours."""
        if not self.integral:
            return np.maximum(lb, self.combinatorial())
        return np.maximum(np.ceil(lb - BOUND_EPS * np.maximum(1.0, lb)), self.combinatorial())

    # -- the loops ---------------------------------------------------------------------------

    def root(
        self, max_rounds: int, pricing_nodes: int, incumbent_value: float, exact_rounds: float = math.inf
    ) -> tuple[LpSolution | None, RootBound]:
        """Column generation on the whole problem, with the bound kept valid at every iteration.

        Heuristic pricing while it finds columns (the greedy one, then the pair one; their knapsack LPs
        bound z_p, weakly). When both find none, the exact pricer runs against a **threshold** per pool:
        under ``min-nodes``, the pricing value below which Farley's bound already rounds up to
        ``ceil(LP)`` (the best this LP can prove), never below the reduced-cost limit. "Nothing beats the
        threshold" settles the component; a pattern that beats it is a column, and column generation
        goes on, for at most ``exact_rounds`` exact rounds and ``max_rounds`` rounds in all, while the
        exact pricing MIPs have branch-and-bound nodes left of ``pricing_nodes`` (the work budgets,
        `capacity.packing.effort`). Can be called again to go on; the best bound is kept in
        ``self.best``.
        """
        best = self.best
        self.pricing_nodes = pricing_nodes
        bound = self.inst.replicas.copy()
        sol = None
        rounds = 0
        done = 0
        while not best.converged:
            sol = self.solve_lp()
            done += 1
            if sol is None or done > max_rounds or self.effort.out_of_time():
                break
            added, upper = self.price_heuristic(sol, bound, self.count)
            best.per_component = np.maximum(best.per_component, self.proven(self.lagrangian(sol, upper)))
            if self._settled(sol, best, incumbent_value):
                break
            if added == 0:
                if rounds >= exact_rounds or self.pricing_nodes <= 0:
                    break
                rounds += 1
                limit = np.array([self._rc_limit(p, sol) for p in range(len(self.inst.pools))])
                threshold = self.thresholds(sol, best)
                added, upper = self.price_exact(sol, bound, self.count, threshold)
                best.per_component = np.maximum(best.per_component, self.proven(self.lagrangian(sol, upper)))
                if added == 0 and np.all(upper <= limit):
                    best.converged = True
                    break
                if added == 0 or self._settled(sol, best, incumbent_value):
                    break
        if sol is None:
            sol = self.solve_lp()
        return sol, best

    def _settled(self, sol: LpSolution, best: RootBound, incumbent_value: float) -> bool:
        """True when more columns cannot raise the bound that matters (or the incumbent is optimal)."""
        total = float(best.per_component.sum())
        if meets(incumbent_value, total):
            return True
        lp = self.lp_per_component(sol)
        if not self.integral:
            return bool(np.all(best.per_component >= lp - 1e-6 * np.maximum(1.0, np.abs(lp))))
        return bool(np.all(best.per_component >= np.ceil(lp - BOUND_EPS * np.maximum(1.0, lp))))

    def residual_lp(self, demand: np.ndarray, count: np.ndarray, max_rounds: int = 200) -> LpSolution | None:
        """Column generation with heuristic pricing only, on residual demands and pool counts."""
        self.master.set_rhs(demand, count)
        sol = None
        for _ in range(max_rounds):
            sol = self.solve_lp()
            if sol is None or self.effort.out_of_time():
                break
            if self.price_heuristic(sol, demand, count, heavy=False)[0] == 0:
                break
        return sol

    def uses_artificial(self, sol: LpSolution) -> bool:
        return any(p < 0 and lam > 1e-6 for p, lam in zip(self.master.pools, sol.columns, strict=False))

    def columns_to_nodes(self, lam: np.ndarray) -> list[NodePlan]:
        """The plan of ``lam`` nodes running each column (the artificial columns left out)."""
        nodes: list[NodePlan] = []
        for j in np.flatnonzero(lam > 0):
            p = self.master.pools[int(j)]
            if p < 0:
                continue
            a = self.master.patterns[int(j)]
            counts = {int(c): int(a[c]) for c in np.flatnonzero(a)}
            nodes.extend(NodePlan(p, dict(counts)) for _ in range(int(lam[j])))
        return nodes

    def dive(
        self,
        max_nodes: int,
        incumbent_value: float,
        target: float,
        offer: Callable[[list[NodePlan]], float],
        max_discrepancy: int = 3,
        rounding: bool = False,
    ) -> None:
        """Diving with limited discrepancy search (see the module docstring).

        Each step solves the residual LP (column generation, heuristic pricing), fixes every column at
        its integer part, or else branches on the columns with the largest fractional values: the
        first is fixed at 1, and when its subtree is exhausted the next one is tried with the first one
        forbidden, as long as the count of such detours on the path stays within ``max_discrepancy``.
        A subtree is cut when the nodes fixed plus the residual LP (rounded up) cannot beat the best
        plan. Every complete dive goes to ``offer``, which returns the best objective so far; the search
        stops after ``max_nodes`` nodes (the work budget), when a plan meets ``target`` (the proven
        bound), or at the time limit (the safety net). With ``rounding``,
        every node also offers its residual LP rounded to nearest (`repair` completes it): on large
        problems a dive is long, and these plans come at every step.
        """
        inst, master = self.inst, self.master
        best = [incumbent_value]
        tabu: list[int] = []
        visited = [0]

        def residual(fixed: dict[int, int]) -> tuple[np.ndarray, np.ndarray, float]:
            demand = inst.replicas.astype(np.int64).copy()
            count = self.count.copy()
            spent = 0.0
            for j, t in fixed.items():
                p = master.pools[j]
                count[p] -= t
                spent += t * self.cost[p]
                demand -= t * master.patterns[j]
            return np.maximum(demand, 0), count, spent

        def visit(fixed: dict[int, int], discrepancy: int) -> bool:
            """Explore below ``fixed``; True when the whole search should stop."""
            visited[0] += 1
            if visited[0] > max_nodes or self.effort.out_of_time():
                return True
            demand, count, spent = residual(fixed)
            if demand.sum() == 0:
                complete = np.zeros(len(master), dtype=np.int64)
                for j, t in fixed.items():
                    complete[j] = t
                best[0] = min(best[0], offer(self.columns_to_nodes(complete)))
                return meets(best[0], target)
            sol = self.residual_lp(demand, count, max_rounds=_DIVE_ROUNDS)
            if sol is None or self.uses_artificial(sol):
                return False
            bar = sol.value if not self.integral else math.ceil(sol.value - BOUND_EPS * max(1.0, sol.value))
            if spent + bar >= best[0] - 1e-9 * max(1.0, abs(best[0])):
                return False  # this subtree cannot beat the best plan
            lam = np.zeros(len(master))  # columns priced after the last solve are at 0
            lam[: len(sol.columns)] = sol.columns
            real = np.array([p >= 0 for p in master.pools])
            if rounding:  # the residual LP rounded to nearest and repaired: a plan at every dive node
                near = dict(fixed)
                for col in np.flatnonzero(np.floor(lam + 0.5) * real):
                    near[int(col)] = near.get(int(col), 0) + int(np.floor(lam[col] + 0.5))
                whole_lam = np.zeros(len(master), dtype=np.int64)
                for j, t in near.items():
                    whole_lam[j] = t
                best[0] = min(best[0], offer(self.columns_to_nodes(whole_lam)))
                if meets(best[0], target):
                    return True
            whole = np.floor(lam + _ROUND_UP).astype(np.int64) * real
            if whole.any():
                child = dict(fixed)
                for col in np.flatnonzero(whole):
                    p = master.pools[int(col)]
                    take = int(min(whole[col], count[p]))
                    if take > 0:
                        child[int(col)] = child.get(int(col), 0) + take
                        count[p] -= take
                return visit(child, discrepancy)
            frac = np.where(real & (lam > 1e-9), lam, -1.0)
            order = [int(j) for j in np.lexsort((np.arange(len(frac)), -frac)) if frac[j] > 0]
            forbidden: list[int] = []
            stop = False
            for t, j in enumerate(order[: max_discrepancy - discrepancy + 1]):
                child = dict(fixed)
                child[j] = child.get(j, 0) + 1
                if visit(child, discrepancy + t):
                    stop = True
                    break
                master.set_upper(j, 0.0)  # the next siblings do without this column
                forbidden.append(j)
                tabu.append(j)
            for j in forbidden:
                master.set_upper(j, math.inf)
                tabu.remove(j)
            return stop

        try:
            visit({}, 0)
        except RecursionError:  # a pathological depth; what was found is kept
            log.debug("patterns: dive too deep, stopped")
        for j in tabu:
            master.set_upper(j, math.inf)
        master.set_rhs(inst.replicas.astype(float), self.count)


# --------------------------------------------------------------------------------------------------
# The entry point


def solve_patterns(problem: PackingProblem) -> Placement:
    """Place every replica with the pattern formulation (see the module docstring).

    Raises `ValueError` for malformed input or an objective the patterns do not express (one that is not
    node-priced, `capacity.packing.objectives.NodePriced`), `InfeasiblePlacement` (a `Shortage` per
    service) when the services cannot be placed or no plan was found in time.
    """
    started = time.perf_counter()
    inst, objective = compile_problem(problem)
    if not isinstance(objective, NodePriced):
        raise ValueError(f"formulation: patterns cannot express objective {objective.name}; "
                         "use auto or aggregated")
    start = prepare(inst, objective, SOLVER_NAME, started)
    if start.empty is not None:
        return start.empty
    run = _PatternRun(inst, objective, start, started)
    if not meets(run.value, run.bound()):
        run.search_plans()
    return run.answer()


def pattern_bound(problem: PackingProblem) -> tuple[float, int]:
    """A proven lower bound on ``problem``'s objective and on its nodes, from column generation at the
    root only (its work budget, `capacity.packing.effort`), with the combinatorial bounds: for a
    relaxation whose plans need not be searched (`capacity.packing.zones`). Raises as `solve_patterns`."""
    started = time.perf_counter()
    inst, objective = compile_problem(problem)
    if not isinstance(objective, NodePriced):
        raise ValueError(f"formulation: patterns cannot express objective {objective.name}")
    start = prepare(inst, objective, SOLVER_NAME, started)
    if start.empty is not None:
        return 0.0, 0
    run = _PatternRun(inst, objective, start, started)
    if not meets(run.value, run.bound()):
        search, effort = run.search, run.effort
        if run.incumbent is not None:
            search.add_plan(run.incumbent)
        else:
            search.add_artificial()
        search.seed_columns()
        rounds = effort.units(_ROOT_ROUNDS_PER_S, least=20)
        pricing = effort.units(_PRICING_NODES_PER_S, least=4 * _PRICING_NODES_LEAST)
        _, run.root_bound = search.root(rounds, pricing, run.value)
    lb = run.bound()
    nodes = math.floor(lb + 1e-9) if objective.counts_nodes else start.bounds.nodes
    return lb, max(nodes, start.bounds.nodes)


class _PatternRun:
    """One run of `solve_patterns` on a problem: the search over classes, the best plan so far (the
    incumbent, by class, and its value) and the best proven bound (`RootBound`, per component)."""

    def __init__(self, inst: Instance, objective: NodePriced, start: Start, started: float) -> None:
        self.inst, self.objective, self.start, self.started = inst, objective, start, started
        self.limit_s = inst.problem.time_limit_s
        self.effort = Effort(started, self.limit_s, inst.problem.work_s)
        self.classes = Classes.build(inst)
        self.cinst = self.classes.inst
        self.search = _Search(self.cinst, compute_bounds(self.cinst), self.effort, objective)
        self.incumbent: list[NodePlan] | None = None
        self.value = math.inf
        if not start.greedy_unplaced:
            self.incumbent = self.classes.to_classes(start.greedy)
            self.value = objective.value(self.cinst, self.incumbent)
        self.root_bound = RootBound(self.search.combinatorial())

    def bound(self) -> float:
        """The best proven bound on the objective: the search's per component, or the combinatorial one."""
        comb = float(self.objective.bound(self.inst, self.start.bounds) or 0.0)
        return max(float(self.root_bound.per_component.sum()), comb)

    def offer(self, nodes: list[NodePlan] | None, source: str) -> float:
        """Repair ``nodes`` into a plan, keep it if it is the best so far; returns the best objective."""
        if nodes is None:
            return self.value
        plan, unplaced = repair(self.cinst, nodes, self.search.count, deadline=self.effort.deadline,
                                node_price=self.search.cost)
        self.effort.out_of_time()  # a repair cut by the safety net is reported
        if unplaced or violations(self.cinst, plan, {}):
            return self.value
        v = self.objective.value(self.cinst, plan)
        if (
            self.incumbent is None
            or v < self.value - 1e-9 * max(1.0, abs(self.value))
            or (v <= self.value + 1e-12 and len(plan) < len(self.incumbent))
        ):
            log.debug("patterns: %s improves the plan to %s", source, v)
            self.incumbent, self.value = plan, v
        return self.value

    def search_plans(self) -> None:
        """Column generation at the root, its roundings, perfect packing and dives, more column generation
        for the bound, then price-and-branch and wider dives while a gap remains: each phase until its
        work budget is spent (`capacity.packing.effort`), the time limit only a safety net."""
        search, effort = self.search, self.effort
        if self.incumbent is not None:
            search.add_plan(self.incumbent)
        else:
            search.add_artificial()
        search.seed_columns()
        exact_rounds = math.inf if search.grid_priced else _FIRST_EXACT_ROUNDS
        rounds = effort.units(_ROOT_ROUNDS_PER_S, least=20)
        pricing = effort.units(_PRICING_NODES_PER_S, least=4 * _PRICING_NODES_LEAST)
        sol, self.root_bound = search.root(rounds, pricing, self.value, exact_rounds=exact_rounds)
        log.debug("patterns: root LP %s, bound %s, converged %s, %d columns", sol and sol.value, self.bound(),
                  self.root_bound.converged, len(search.master))
        if sol is not None and not search.uses_artificial(sol) and not self.settled():
            for up in _ROUNDINGS:  # lambda rounded at several points, each completed by `repair`
                self.offer(search.columns_to_nodes(np.floor(sol.columns + up).astype(np.int64)), "rounding")
                if self.settled():
                    break
        lb = self.bound()
        if not self.settled() and self.objective.counts_nodes and math.isfinite(lb) and not effort.expired:
            # No slack at the bound (triplet instances): an exact cover by perfect patterns.
            self.offer(perfect_plan(self.cinst, math.floor(lb + 1e-9), effort.deadline, _PERFECT_NODES),
                       "perfect packing")
        dive_nodes = effort.units(_DIVE_NODES_PER_S, least=10)
        if not self.settled() and not effort.out_of_time():
            search.dive(dive_nodes, self.value, lb, self._dive_offer, _DISCREPANCY, True)
        if not self.settled() and not self.root_bound.converged and not effort.out_of_time():
            sol, self.root_bound = search.root(rounds, pricing, self.value)
            log.debug("patterns: bound %s after more column generation, %d columns", self.bound(),
                      len(search.master))
        mip_nodes = effort.units(_MIP_NODES_PER_S, least=100)
        self.price_and_branch(mip_nodes)
        discrepancy = _DISCREPANCY
        while not self.settled() and not effort.out_of_time() and discrepancy < _MAX_DISCREPANCY:
            # A gap: dive again, more widely (the column pool has grown), then the MIP.
            discrepancy += 2
            search.dive(dive_nodes, self.value, self.bound(), self._dive_offer, discrepancy, True)
            self.price_and_branch(mip_nodes)

    def settled(self) -> bool:
        """The best plan meets the best proven bound."""
        return meets(self.value, self.bound())

    def _dive_offer(self, nodes: list[NodePlan]) -> float:
        return self.offer(nodes, "dive")

    def price_and_branch(self, max_nodes: int) -> None:
        """The master over the generated columns as a MIP, started from the best plan (see the module
        docstring), for at most ``max_nodes`` branch-and-bound nodes (and the time left, the safety
        net)."""
        search, lb = self.search, self.bound()
        if meets(self.value, lb) or self.effort.out_of_time():
            return
        start = search.add_plan(self.incumbent) if self.incumbent is not None else None
        if start is not None and len(start) < len(search.master):
            start = np.concatenate([start, np.zeros(len(search.master) - len(start), np.int64)])
        floor = lb if math.isfinite(lb) else None
        keep = None
        if len(search.master) * len(self.cinst.services) > _MIP_FULL_SIZE:
            # Big: only the columns some LP used and the plan's (HiGHS's root cuts, once it knows
            # a plan, take ~10 s on 2,000 columns x 170 rows whatever its time limit).
            used = {int(j) for j in np.flatnonzero(start)} if start is not None else set()
            keep = sorted(search.support | used)
        mip = search.master.mip(self.effort.left_s(), start=start, floor=floor,
                                integral_costs=self.objective.integral_prices, keep=keep, max_nodes=max_nodes)
        self.effort.out_of_time()  # a MIP cut by the time limit is reported
        log.debug("patterns: MIP over %d columns: %s, value %s", len(search.master), mip.detail, mip.value)
        if mip.columns is not None:
            self.offer(search.columns_to_nodes(mip.columns), "price-and-branch")

    def answer(self) -> Placement:
        """The best plan by service, checked, with its bounds (`InfeasiblePlacement` when there is none)."""
        inst, objective, start = self.inst, self.objective, self.start
        lb = self.bound()
        if self.incumbent is None:
            partial = heuristic_placement(inst, objective, start.bounds, start.greedy, start.greedy_unplaced,
                                          "ffd", self.started)
            raise InfeasiblePlacement(
                shortages=explain_unplaced(inst, start.bounds, start.greedy_unplaced, proven=False,
                                           solver=SOLVER_NAME, time_limit_s=self.limit_s),
                placement=partial,
            )
        plan = self.classes.to_services(inst, self.incumbent)
        wrong = violations(inst, plan, {})
        if wrong:  # a bug, never an answer: fall back to the greedy plan
            log.warning("patterns: invalid plan ignored: %s", "; ".join(wrong[:3]))
            plan = start.greedy
        final = objective.value(inst, plan)
        if lb > final + 1e-6 * max(1.0, final):
            log.warning("patterns: bound %s above the plan's objective %s; capped", lb, final)
            lb = final
        if objective.counts_nodes:
            nodes_bound = math.floor(lb + 1e-9)
            objective_bound = float(nodes_bound)
        else:
            nodes_bound = min(start.bounds.nodes, len(plan))
            objective_bound = lb
        return finish(inst, objective, plan, {}, solver=SOLVER_NAME, lower_bound=nodes_bound,
                      objective_bound=objective_bound, started=self.started,
                      time_limit_reached=self.effort.expired)
