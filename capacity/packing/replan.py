"""Re-planning a running cluster at scale: keep what runs, trim, grow, and consolidate only when it pays.

With an ``existing`` placement the aggregated model counts moves exactly, but it has a binary per node and
service: on 10,000 nodes x 1,000 services it cannot be built. `replan` answers such a problem greedily,
in three steps, every one of which keeps every rule of the plan:

1. **keep and trim** — first-fit decreasing seeded with the existing placement
   (`capacity.packing.baselines.ffd_plan` with its first pool rule only, ``Cluster._seed_existing``):
   each existing node keeps the replicas that still obey every rule, and a service that shrank keeps only
   as many as it now has (a scale-down is not a move, `capacity.packing.problem`);
2. **grow** — the replicas left (new ones, and those a rule no longer allows where they ran) go first-fit
   onto the open nodes, then onto new nodes, as first-fit decreasing does; a replica placed where none of
   its service ran is started, not moved, unless its service lost a running replica somewhere;
3. **consolidate** — under ``min-nodes`` or ``min-cost`` with a ``move_cost``, a lightly loaded node is
   emptied into the other nodes **of its zone** (the same value of every topology label its replicas
   count, so spread and zone survival are unchanged; `Loads.empty_nodes` checks capacity, selectors and
   the per-node caps) when what it saves (its node price) exceeds ``move_cost`` times the replicas it
   moves. Under ``min-moves`` nothing is consolidated: every move would cost.

The result is checked (`capacity.packing.plan.violations`) and its status is honest: the bound is the
objective's combinatorial one (0 moves under ``min-moves``, so a plan that moves nothing is proven
optimal there). Pod affinity is not consolidated (moving one side can break the other).
"""

from __future__ import annotations

import time

import numpy as np

from capacity.errors import InfeasiblePlacement
from capacity.packing.baselines.ffd import ffd_plan
from capacity.packing.baselines.greedy import POOL_RULES
from capacity.packing.bounds import compute_bounds
from capacity.packing.feasibility import explain_unplaced, shortages
from capacity.packing.instance import Instance
from capacity.packing.objectives import Objective, compile_problem
from capacity.packing.outcome import finish
from capacity.packing.patterns import Loads
from capacity.packing.plan import NodePlan, violations
from capacity.packing.problem import PackingProblem, Placement

_PATIENCE = 40  # failed evacuations in a row after which consolidation stops
REPLAN_MIN_SIZE = 2_000_000
"""Nodes x services above which ``auto`` re-plans an existing placement greedily (`replan`)."""


def replan(problem: PackingProblem) -> Placement:
    """Re-plan ``problem`` (which has an ``existing`` placement) as the module docstring says.

    Raises `InfeasiblePlacement` when some replicas cannot be placed (under an objective that wants every
    replica placed).
    """
    started = time.perf_counter()
    inst, objective = compile_problem(problem)
    bounds = compute_bounds(inst)
    found = shortages(inst, bounds)
    if found and not objective.partial:
        raise InfeasiblePlacement(shortages=found)
    nodes, unplaced = ffd_plan(inst, objective, rules=POOL_RULES[:1])
    if unplaced and not objective.partial:
        raise InfeasiblePlacement(
            shortages=explain_unplaced(
                inst, bounds, unplaced, proven=False, solver="replan", time_limit_s=problem.time_limit_s
            )
        )
    if problem.move_cost > 0 and objective.name in ("min-nodes", "min-cost"):
        nodes = consolidate(inst, objective, nodes, problem.move_cost, started + problem.time_limit_s)
    wrong = violations(inst, nodes, unplaced, fixed_cluster=objective.fixed_cluster)
    if wrong:
        raise AssertionError(f"replan made an invalid plan: {'; '.join(wrong[:3])}")
    value = objective.value(inst, nodes, unplaced)
    bound = objective.bound(inst, bounds)
    return finish(
        inst,
        objective,
        nodes,
        unplaced,
        solver="replan",
        lower_bound=bounds.nodes if not unplaced else 0,
        objective_bound=None if bound is None else min(bound, value),
        started=started,
        time_limit_reached=time.perf_counter() > started + problem.time_limit_s,
    )


def zone_key(inst: Instance, p: int) -> tuple[str | None, ...]:
    """The values of every topology label of pool ``p`` that a spread or a zone survival counts."""
    labels = sorted({label for svc in inst.services for label in svc.topology_labels()})
    return tuple(inst.pools[p].labels.get(label) for label in labels)


def consolidate(
    inst: Instance, objective: Objective, nodes: list[NodePlan], move_cost: float, deadline: float
) -> list[NodePlan]:
    """Empty nodes into others of their zone while each one saves more than its moves cost (step 3)."""
    if any(
        s.affinity or s.anti_affinity or (s.spread is not None and s.spread.per_node) for s in inst.services
    ):
        return nodes  # moving one replica can break a rule between nodes
    prices = objective.node_prices(inst)
    price = np.ones(len(inst.pools)) if prices is None else np.asarray(prices, dtype=float)
    groups: dict[tuple[str | None, ...], list[int]] = {}
    for i, n in enumerate(nodes):
        groups.setdefault(zone_key(inst, n.pool), []).append(i)
    out: list[NodePlan] = []
    for key in sorted(groups, key=str):
        members = [nodes[i] for i in groups[key]]
        loads = Loads(inst, members)
        _empty_paying(loads, price, move_cost, deadline)
        out.extend(_with_indices(members, loads))
    return out


def _empty_paying(loads: Loads, price: np.ndarray, move_cost: float, deadline: float) -> int:
    """`Loads.empty_nodes` restricted to nodes whose replicas cost less to move than the node saves:
    the lightest such node first, until ``_PATIENCE`` fail in a row (the time limit is a safety net)."""
    freed = 0
    tried: set[int] = set()
    while time.perf_counter() < deadline and len(tried) < _PATIENCE:
        alive = [i for i in range(len(loads.pool)) if any(k > 0 for k in loads.counts[i].values())]
        if len(alive) < 2:
            break
        load = loads.load()
        candidates = [
            i
            for i in alive
            if i not in tried and move_cost * sum(loads.counts[i].values()) < price[loads.pool[i]]
        ]
        if not candidates:
            break
        victim = min(candidates, key=lambda i: (load[i], i))
        tried.add(victim)
        if loads._evacuate(victim):
            freed += 1
            tried.clear()
    return freed


def _with_indices(members: list[NodePlan], loads: Loads) -> list[NodePlan]:
    """``loads``' nodes with the node indices of ``members`` (same order; emptied nodes dropped)."""
    out = []
    for node, counts in zip(members, loads.counts, strict=True):
        live = {c: k for c, k in sorted(counts.items()) if k > 0}
        if live:
            out.append(NodePlan(node.pool, live, node.index))
    return out
