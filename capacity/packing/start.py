"""How every formulation starts: proven bounds, the quick proof of impossibility, and a first plan.

`prepare` computes the combinatorial bounds (`capacity.packing.bounds`), raises `InfeasiblePlacement` when
the quick checks (`capacity.packing.feasibility.shortages`) prove that the services cannot be placed, and
makes the first-fit-decreasing plan (`capacity.packing.baselines.ffd`), the first incumbent; when there is
nothing to place, it also gives the empty optimal placement to return at once.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from capacity.errors import InfeasiblePlacement
from capacity.packing.baselines.ffd import ffd_plan
from capacity.packing.bounds import Bounds, compute_bounds
from capacity.packing.feasibility import shortages
from capacity.packing.instance import Instance
from capacity.packing.objectives import Objective
from capacity.packing.plan import NodePlan, to_placement
from capacity.packing.problem import Placement


class Start(NamedTuple):
    """What `prepare` found: the bounds, the greedy plan and what it left unplaced, and the answer when
    there is nothing to place (else None)."""

    bounds: Bounds
    greedy: list[NodePlan]
    greedy_unplaced: dict[int, int]
    empty: Placement | None


def prepare(inst: Instance, objective: Objective, solver: str, started: float) -> Start:
    """The common start of every formulation (see the module docstring)."""
    bounds = compute_bounds(inst)
    found = shortages(inst, bounds)
    if found:
        raise InfeasiblePlacement(shortages=found)
    greedy, greedy_unplaced = ffd_plan(inst, objective)
    empty = empty_placement(inst, objective, solver, started) if int(inst.replicas.sum()) == 0 else None
    return Start(bounds, greedy, greedy_unplaced, empty)


def empty_placement(inst: Instance, objective: Objective, solver: str, started: float) -> Placement:
    """The answer to a problem with no replica to place: no node, proven optimal."""
    return to_placement(inst, [], {}, status="optimal", solver=solver,
                        objective_value=objective.value(inst, [], {}), lower_bound=0, objective_bound=0.0,
                        solve_time_s=time.perf_counter() - started)
