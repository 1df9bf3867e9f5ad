"""Perfect packings: when the bound leaves no slack, a plan at the bound fills every node exactly.

Take a single pool whose nodes all services may use, ``min-nodes``, and a proven lower bound of ``L``
nodes. Express every size in resource ``r`` as a whole number of **cells** (a common unit of the sizes,
as `capacity.packing.patterns_pricing.GridKnapsack` does; a node holds ``cap_r`` cells). Resource ``r``
is **tight** when the replicas ask for exactly ``L * cap_r`` cells in total: a plan with ``L`` nodes
then fills every node to exactly ``cap_r`` cells in ``r`` (none can hold more, so none can hold less).
Triplet vector-packing instances (Falkenauer, Caprara) are built that way in every resource: each bin
of the optimum is three items whose sizes add up to the capacity, and the LP roundings and dives of
the pattern search land one to three nodes above the bound, because almost every pattern they see
leaves a little room somewhere.

`perfect_plan` enumerates the **perfect patterns** (full in every tight resource, within the node in
the others, ``a_c <= min(u[c,p], n_c)``) by depth-first search over the classes, largest first, with a
node budget, and solves the exact cover ``sum_j a_cj x_j = n_c``, ``x_j`` integer, with HiGHS. Any
solution is a plan of ``L`` nodes, optimal since ``L`` is a proven bound. On Falkenauer triplets of
501 items (167 bins) the enumeration finds ~1,500 perfect patterns in about 2 s and HiGHS solves the
cover in 3-6 s. It is only a search for a plan: when it gives up (search budget, time limit) or finds
no cover, nothing is concluded and the bound is left as it was.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from capacity.packing.instance import Instance
from capacity.packing.patterns_pricing import integer_cells
from capacity.packing.plan import NodePlan

MAX_SEARCH_NODES = 400_000
"""Depth-first search nodes after which the enumeration gives up (about a few seconds)."""
MAX_PATTERNS = 200_000
"""Perfect patterns after which the enumeration gives up (the cover MIP would be too large)."""


def _cells(inst: Instance, p: int) -> tuple[np.ndarray, np.ndarray] | None:
    """([class, resource] cells per replica, [resource] cells per node of ``p``), or None (no unit)."""
    n_res = inst.demand.shape[1]
    weights = np.zeros((len(inst.services), n_res), dtype=np.int64)
    cap = np.zeros(n_res, dtype=np.int64)
    for r in range(n_res):
        sizes = inst.demand[:, r]
        if not (sizes > 0).any():
            cap[r] = 0
            continue
        grid = integer_cells(sizes, inst.usable[p, r])
        if grid is None:
            return None
        weights[:, r], cap[r] = grid
    return weights, cap


def single_pool(inst: Instance) -> int | None:
    """The pool of a problem with one usable pool that takes every service, and no other constraint."""
    pools = np.flatnonzero(inst.count > 0)
    if len(pools) != 1 or inst.existing:
        return None
    p = int(pools[0])
    if not (inst.per_node[:, p] > 0).all():
        return None
    if (inst.spread_domain >= 0).any() or (inst.zone >= 0).any():
        return None
    return p


def perfect_patterns(
    weights: np.ndarray, cap: np.ndarray, most: np.ndarray, tight: np.ndarray, deadline: float
) -> list[np.ndarray] | None:
    """Every pattern full in the ``tight`` resources and within ``cap`` in all; None if it gave up.

    ``weights`` [k, R] cells per replica, ``cap`` [R] cells of a node, ``most`` [k] most replicas of a
    class on one node, ``tight`` [R] bool.
    """
    k = len(weights)
    order = np.lexsort((np.arange(k), -weights.sum(axis=1)))  # largest first: shallow searches
    w = weights[order]
    # smallest positive weight among the classes from index i on, per tight resource (pruning)
    big = np.iinfo(np.int64).max // 4
    pos = np.where(w > 0, w, big)
    suffix_min = np.minimum.accumulate(pos[::-1], axis=0)[::-1]
    found: list[np.ndarray] = []
    counts = np.zeros(k, dtype=np.int64)
    visited = 0
    gave_up = False

    def visit(start: int, room: np.ndarray) -> None:
        nonlocal visited, gave_up
        visited += 1
        if (
            visited > MAX_SEARCH_NODES
            or len(found) > MAX_PATTERNS
            or (visited % 2048 == 0 and time.perf_counter() > deadline)
        ):
            gave_up = True
            return
        idx = np.arange(start, k)
        idx = idx[(counts[order[idx]] < most[order[idx]]) & (w[idx] <= room).all(axis=1)]
        if idx.size == 0:
            return
        left = room - w[idx]  # [candidates, R]
        full = (left[:, tight] == 0).all(axis=1)
        for i in idx[full]:
            counts[order[i]] += 1
            found.append(counts.copy())
            counts[order[i]] -= 1
        # alive: every tight resource empty or still reachable by some class from i on (a full
        # pattern may still take replicas of no size in the tight resources)
        reach = suffix_min[idx][:, tight]
        alive = ((left[:, tight] == 0) | (left[:, tight] >= reach)).all(axis=1)
        for i, rest in zip(idx[alive], left[alive], strict=True):
            counts[order[i]] += 1
            visit(int(i), rest)
            counts[order[i]] -= 1
            if gave_up:
                return

    visit(0, cap.copy())
    return None if gave_up else found


def perfect_plan(
    inst: Instance, nodes: int, deadline: float, max_nodes: int | None = None
) -> list[NodePlan] | None:
    """A plan of exactly ``nodes`` nodes by perfect patterns (see the module docstring), or None.

    The enumeration stops after `MAX_SEARCH_NODES` and the exact cover after ``max_nodes``
    branch-and-bound nodes (work budgets: the same instance gives the same answer on any machine);
    ``deadline`` (`time.perf_counter`) is the safety net.
    """
    p = single_pool(inst)
    if p is None or nodes <= 0 or inst.count[p] < nodes:
        return None
    cells = _cells(inst, p)
    if cells is None:
        return None
    weights, cap = cells
    replicas = inst.replicas.astype(np.int64)
    total = replicas @ weights
    tight = (total == nodes * cap) & (cap > 0)
    if not tight.any() or (total > nodes * cap).any():
        return None
    most = np.minimum(inst.per_node[:, p].astype(np.int64), replicas)
    patterns = perfect_patterns(weights, cap, most, tight, deadline)
    if not patterns:
        return None
    a = np.array(patterns, dtype=float).T  # [class, pattern]
    n_cols = a.shape[1]
    left = deadline - time.perf_counter()
    if left <= 0.05:
        return None
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", float(left))
    if max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(max_nodes))
    h.addVars(n_cols, np.zeros(n_cols), np.full(n_cols, float(nodes)))
    h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), np.ones(n_cols))
    h.changeColsIntegrality(
        n_cols, np.arange(n_cols, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n_cols)
    )
    for c in range(a.shape[0]):
        cols = np.flatnonzero(a[c]).astype(np.int32)
        h.addRow(float(replicas[c]), float(replicas[c]), len(cols), cols, a[c, cols])
    h.run()
    if h.getInfo().primal_solution_status != 2:
        return None
    x = np.rint(np.maximum(np.asarray(h.getSolution().col_value), 0.0)).astype(np.int64)
    plan: list[NodePlan] = []
    for j in np.flatnonzero(x):
        counts = {int(c): int(a[c, j]) for c in np.flatnonzero(a[:, j])}
        plan.extend(NodePlan(p, dict(counts)) for _ in range(int(x[j])))
    return plan if len(plan) == nodes else None
