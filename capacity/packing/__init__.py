"""Packing: place every replica of every service on the nodes of a cluster's pools.

The problem and its answer are plain data (`PackingProblem`, `Placement`, in ``problem.py``). `solve`
answers with an integer program (``model.py``: the formulation; ``backends.py``: HiGHS or CBC; ``engine.py``:
the steps and how status and bounds are decided). What a plan is worth is its objective, one class per
objective registered in `OBJECTIVES` (``objectives.py``). `first_fit_decreasing` and the other entries of
`BASELINES` (``baselines/``) are the greedy plans that a cluster autoscaler would make, to compare against.
Both registries take new entries (`Registry.register`) from outside the package. `lower_bound`
is a proven lower bound on the nodes any placement needs (``bounds.py``); `stranded_capacity` is what a
placement leaves free but unusable on its nodes (``stranded.py``); an impossible problem raises
`capacity.errors.InfeasiblePlacement` naming each service and the resource that is short
(``feasibility.py``).

>>> from capacity.packing import PackingProblem, Pool, Service, solve
>>> pools = (Pool("cpu", count=4, capacity={"cpu": 4, "memory": 8 * 2**30}),)
>>> services = (Service("api", replicas=3, demand={"cpu": 2, "memory": 4 * 2**30}),)
>>> plan = solve(PackingProblem(pools, services))
>>> plan.nodes_used, plan.status
(2, 'optimal')
"""

from typing import TYPE_CHECKING

from capacity._lazy import lazy_names

#: Each public name by the module that defines it, imported on first use (`capacity._lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "capacity.packing.baselines": ("BASELINES", "Baseline", "GreedyBaseline", "first_fit_decreasing"),
    "capacity.packing.bounds": ("lower_bound",),
    "capacity.packing.engine": ("solve",),
    "capacity.packing.objectives": ("OBJECTIVES", "NodePriced", "Objective"),
    "capacity.packing.problem": (
        "NodeUsage", "PackingProblem", "Placement", "PodAffinity", "Pool", "Service", "Spread", "Survive",
    ),
    "capacity.packing.registry": ("Registry",),
    "capacity.packing.stranded": ("stranded_by_pool", "stranded_capacity"),
}
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)

if TYPE_CHECKING:
    from capacity.packing.baselines import BASELINES, Baseline, GreedyBaseline, first_fit_decreasing
    from capacity.packing.bounds import lower_bound
    from capacity.packing.engine import solve
    from capacity.packing.objectives import OBJECTIVES, NodePriced, Objective
    from capacity.packing.problem import (
        NodeUsage,
        PackingProblem,
        Placement,
        PodAffinity,
        Pool,
        Service,
        Spread,
        Survive,
    )
    from capacity.packing.registry import Registry
    from capacity.packing.stranded import stranded_by_pool, stranded_capacity

__all__ = [
    "BASELINES",
    "OBJECTIVES",
    "Baseline",
    "GreedyBaseline",
    "NodePriced",
    "NodeUsage",
    "Objective",
    "PackingProblem",
    "Placement",
    "PodAffinity",
    "Pool",
    "Registry",
    "Service",
    "Spread",
    "Survive",
    "first_fit_decreasing",
    "lower_bound",
    "solve",
    "stranded_by_pool",
    "stranded_capacity",
]
