"""How a plan becomes an answer: its status against the proven bound, and the `Placement`.

Every packer (each formulation, each greedy baseline) ends the same way, with `finish`: the plan's value
under its objective (`capacity.packing.objectives.Objective.value`), then the **status**:

* ``infeasible`` — replicas are left unplaced and the objective wants a complete plan (a greedy
  baseline that gave up; the plan has no comparable value, ``objective_value`` is None);
* ``optimal`` — the value meets the proven bound on it (`meets`: within a relative 1e-6), whatever a solver
  said about its own run;
* ``feasible`` — otherwise.

`heuristic_placement` is `finish` for a heuristic's plan, bounded by the combinatorial bounds alone.
"""

from __future__ import annotations

import math
import time

from capacity.packing.bounds import Bounds
from capacity.packing.instance import Instance
from capacity.packing.objectives import Objective
from capacity.packing.plan import NodePlan, to_placement
from capacity.packing.problem import Placement, Status


def meets(value: float | None, bound: float | None) -> bool:
    """True when ``value`` is proven optimal by ``bound`` (relative tolerance 1e-6); False without a
    value or a bound, and for no plan at all (``value`` infinite)."""
    if value is None or bound is None or not math.isfinite(value):
        return False
    return value <= bound + 1e-6 * max(1.0, abs(value))


def finish(
    inst: Instance,
    objective: Objective,
    nodes: list[NodePlan],
    unplaced: dict[int, int],
    *,
    solver: str,
    lower_bound: int,
    objective_bound: float | None,
    started: float,
    unplaced_reasons: dict[str, str] | None = None,
    time_limit_reached: bool = False,
) -> Placement:
    """The `Placement` of a plan (see the module docstring); ``started`` is the packer's
    `time.perf_counter` at its start; ``time_limit_reached``: the search was cut by its time limit (the
    plan then depends on the machine's speed)."""
    value = objective.value(inst, nodes, unplaced)
    status: Status
    if any(k > 0 for k in unplaced.values()) and not objective.partial:
        status = "infeasible"
    elif meets(value, objective_bound):
        status = "optimal"
    else:
        status = "feasible"
    return to_placement(
        inst,
        nodes,
        unplaced,
        status=status,
        solver=solver,
        objective_value=None if status == "infeasible" else value,
        lower_bound=lower_bound,
        objective_bound=objective_bound,
        solve_time_s=time.perf_counter() - started,
        unplaced_reasons=unplaced_reasons,
        time_limit_reached=time_limit_reached,
    )


def heuristic_placement(
    inst: Instance,
    objective: Objective,
    bounds: Bounds,
    nodes: list[NodePlan],
    unplaced: dict[int, int],
    solver: str,
    started: float,
) -> Placement:
    """`finish` for a heuristic's plan: the bounds are the combinatorial ones (`capacity.packing.bounds`,
    the objective's `~capacity.packing.objectives.Objective.bound`); no node bound for a partial plan."""
    return finish(
        inst,
        objective,
        nodes,
        unplaced,
        solver=solver,
        lower_bound=bounds.nodes if not unplaced else 0,
        objective_bound=objective.bound(inst, bounds),
        started=started,
    )
