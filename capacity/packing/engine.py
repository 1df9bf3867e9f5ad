"""`solve`: place every replica with an integer program, and say honestly how good the plan is.

The steps, each in its own module:

1. `compile_problem` checks the input and the objective's rules (`ValueError` naming the field) and
   builds arrays; the objective (`capacity.packing.objectives`) says what the plan is worth.
2. `compute_bounds` finds proven lower bounds on nodes and cost, with their evidence;
   `shortages` turns impossible evidence (and selectors or replicas that fit nowhere) into an
   `InfeasiblePlacement` before any search.
3. First-fit decreasing (`ffd_plan`) gives a complete plan in milliseconds, or shows where it got stuck.
4. The formulation (`FORMULATIONS`, default ``aggregated``) is built on at most `candidate_nodes` nodes
   per pool and solved by the backend (HiGHS, or CBC when asked or when highspy is missing) under the
   time limit left.
5. The solver's answer is re-checked (`violations`); the better of it and the greedy plan is returned.
   The MIP never does worse than first-fit decreasing: when the solver finds nothing better in time, the
   greedy plan is returned, still under the solver's name (``highs``/``cbc``: the name says which engine
   ran, the status and the gap say how good the answer is), with the solver's bound.

**No warm start by default.** HiGHS accepts the greedy plan as a starting solution (``warm_start=True``,
through ``Highs.setSolution``), but then skips its own start heuristics (feasibility jump and others)
and stays on the greedy plan: on the 19 instances of ``data/vbp`` with at most 130 items and 3 s each,
the start never helped and made 6 results worse (Panigrahy class1_60: optimal 17 proven in 0.1 s without
it, 18 after 3 s with it); on cluster-like instances it made no difference. Since the greedy plan is kept
whenever the solver does not beat it, dropping the start loses nothing. CBC never gets one (see
`capacity.packing.backends`).

**Status and bounds.** ``lower_bound`` is the largest of the combinatorial bound and, under
``min-nodes``, the solver's dual bound rounded up (node counts are integers). ``objective_bound`` is that
bound under ``min-nodes``, and the larger of the combinatorial cost bound and the solver's dual bound under
``min-cost``. The status is ``optimal`` only when the returned objective meets the bound (within a
relative 1e-6), whatever the solver said, and ``feasible`` otherwise. A bound is never reported above the
value it bounds: if a solver claims one, it is logged and ignored.

**Routing.** ``formulation="auto"`` sends a problem to the pattern formulation only when it has nothing
but what the patterns express (a node-priced objective, whose ``formulations`` name ``patterns``:
``min-nodes``, ``min-cost``; selectors by pool or label, which are pool eligibility; ``max_per_node``;
headroom). Spread (over a pool label or over nodes, ``kubernetes.io/hostname``), survive, required pod
(anti-)affinity, an existing placement, ``move_cost`` and the other objectives (``fit``, ``balance``,
``min-moves``; `pattern_obstacles`) go to the aggregated model, whose rows for them are in
`capacity.packing.model`: a pattern fills one node of one pool with no view of the other nodes, so it
cannot count replicas per domain. The greedy plan there honours every constraint too
(`capacity.packing.baselines`), and both are re-checked by `violations`.

**Objectives beyond nodes and cost.** Under ``fit`` (a ``partial`` objective) nothing is infeasible:
what cannot be placed is listed in ``unplaced`` with a reason per service
(`capacity.packing.feasibility.unplaced_reasons`), and the plan is topped up greedily (a replica that still
fits somewhere is placed) before it is returned.
The bound on each objective is the larger of the combinatorial one (`Objective.bound`) and the
solver's dual bound in the objective's units (`AggregatedModel.objective_bound`, `Objective.tighten`);
``lower_bound`` stays a bound on the nodes of a complete plan (0 for a partial ``fit`` plan).

**Determinism.** The same problem gives the same `Placement` (but ``solve_time_s``). The pattern search
moves between its phases on work budgets, not on the clock (`capacity.packing.effort`); the aggregated
model follows it only on small problems (a choice made on the problem's size); the zone split and the
re-planner are deterministic too. The time limit covers the whole call as a safety net: a run it cuts
returns whatever it had then, and says so (``Placement.time_limit_reached``); only such a run can differ
between machines. The aggregated model itself runs under the time left (at least 0.05 s), and solvers
overshoot their limit by a little.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from capacity.errors import InfeasiblePlacement, Shortage
from capacity.packing.backends import BACKENDS, SolverOutcome, choose_backend
from capacity.packing.baselines.ffd import ffd_plan
from capacity.packing.baselines.greedy import Plan, fill_plan
from capacity.packing.bounds import Bounds, compute_bounds
from capacity.packing.feasibility import explain_unplaced, shortages, unplaced_reasons
from capacity.packing.instance import Instance
from capacity.packing.model import FORMULATIONS, Formulation
from capacity.packing.objectives import OBJECTIVES, Objective, compile_problem
from capacity.packing.outcome import finish, heuristic_placement, meets
from capacity.packing.patterns import solve_patterns
from capacity.packing.plan import NodePlan, used_nodes, violations
from capacity.packing.problem import PackingProblem, Placement
from capacity.packing.replan import REPLAN_MIN_SIZE, replan
from capacity.packing.start import empty_placement
from capacity.packing.zones import ZONE_SPLIT_MIN_SIZE, solve_by_zones, zone_obstacles

log = logging.getLogger(__name__)

_MIN_SOLVER_TIME_S = 0.05
_FALLBACK_MAX_SIZE = 5_000  # replicas x pools above which no aggregated model follows the pattern search


def pattern_obstacles(problem: PackingProblem, objective: Objective) -> list[str]:
    """What only the general (aggregated) model handles: an objective the pattern formulation does not
    express (see its ``formulations``) and constraints beyond one node and one pool (empty: the pattern
    formulation can take the problem)."""
    out = []
    if "patterns" not in objective.formulations:
        out.append(f"objective {objective.name}")
    if any(s.spread is not None for s in problem.services):
        out.append("spread")
    if any(s.survive is not None for s in problem.services):
        out.append("survive")
    if any(s.affinity or s.anti_affinity for s in problem.services):
        out.append("pod affinity")
    if problem.existing:
        out.append("existing")
    if problem.move_cost:
        out.append("move_cost")
    return out


def _better_of(a: Placement, b: Placement, elapsed_s: float) -> Placement:
    """The plan with the lower objective, carrying the stronger of the two proven bounds."""
    best = a if (a.objective_value or 0.0) <= (b.objective_value or 0.0) else b
    bounds = [x for x in (a.objective_bound, b.objective_bound) if x is not None]
    bound = max(bounds) if bounds else None
    return dataclasses.replace(
        best,
        lower_bound=max(a.lower_bound, b.lower_bound),
        objective_bound=bound,
        status="optimal" if meets(best.objective_value, bound) else "feasible",
        solve_time_s=elapsed_s,
        time_limit_reached=a.time_limit_reached or b.time_limit_reached,
    )


def solve(problem: PackingProblem, *, formulation: str = "auto", warm_start: bool = False) -> Placement:
    """Place every replica of every service; see the module docstring.

    ``formulation`` is ``replan`` (an existing placement re-planned greedily, `capacity.packing.replan`,
    which ``auto`` picks above `REPLAN_MIN_SIZE` nodes x services), ``zones`` (spread over zones and zone
    survival by the zone split, `capacity.packing.zones`, which ``auto`` picks on problems above
    `ZONE_SPLIT_MIN_SIZE` nodes x services), ``auto`` (the default: the pattern formulation of
    `capacity.packing.patterns` when HiGHS runs, since it scales to thousands of replicas and proves tight
    bounds; the aggregated model when CBC runs), ``patterns``, or an entry of `FORMULATIONS`. ``auto`` sends
    a problem the pattern formulation cannot honour (`pattern_obstacles`: spread, survive, pod affinity, an
    existing placement, ``move_cost``, an objective it does not express) to the aggregated model, and
    ``patterns`` refuses it with a `ValueError`. ``warm_start`` hands the greedy plan to HiGHS as a starting
    solution (CBC never gets one); it is off by default because it was measured to make results worse (see
    the module docstring).

    Raises `ValueError` for malformed input (including a pool without a cost under ``min-cost``),
    `InfeasiblePlacement` (with a `Shortage` per service) when the services cannot be placed or no
    placement was found in time, and `SolverError` when the solver itself fails.
    """
    started = time.perf_counter()
    obstacles = pattern_obstacles(problem, OBJECTIVES.lookup(problem.objective))
    if formulation == "auto" and not obstacles and choose_backend(problem.solver) == "highs":
        return _patterns_then_aggregated(problem, warm_start, started)
    if formulation == "replan" or (formulation == "auto" and _replan_pays(problem)):
        return replan(problem)
    if formulation == "zones" or (formulation == "auto" and _zone_split_pays(problem)):
        if formulation == "zones" and (why := zone_obstacles(problem)):
            raise ValueError(f"formulation: zones cannot express {', '.join(why)}; use auto or aggregated")
        by_zones = solve_by_zones(problem)
        if by_zones is not None:
            return by_zones
        formulation = "auto"  # no even split meets survive: the aggregated model explains why
    if formulation == "auto":
        formulation = "aggregated"
    if formulation == "patterns":
        if obstacles:
            raise ValueError(
                f"formulation: patterns cannot express {', '.join(obstacles)}; use auto or aggregated"
            )
        return solve_patterns(problem)
    return _solve_model(problem, formulation, warm_start, started)


def _replan_pays(problem: PackingProblem) -> bool:
    """An existing placement on a problem too large for the aggregated model (`capacity.packing.replan`)."""
    size = sum(p.count for p in problem.pools) * len(problem.services)
    return bool(problem.existing) and size > REPLAN_MIN_SIZE


def _zone_split_pays(problem: PackingProblem) -> bool:
    """Zone rules are the only obstacle to patterns and the problem is too large for the aggregated model
    (`capacity.packing.zones`)."""
    if choose_backend(problem.solver) != "highs" or zone_obstacles(problem):
        return False
    return sum(p.count for p in problem.pools) * len(problem.services) > ZONE_SPLIT_MIN_SIZE


def _patterns_then_aggregated(problem: PackingProblem, warm_start: bool, started: float) -> Placement:
    """The pattern formulation, then the aggregated model in the time left when no proof came."""
    found: Placement | None
    try:
        found = solve_patterns(problem)
    except InfeasiblePlacement:
        inst = Instance.compile(problem)
        if shortages(inst, compute_bounds(inst)):
            raise  # proven impossible by the quick checks: nothing to add
        found = None
    if found is not None and found.status == "optimal":
        return found
    # The pattern search stopped without a proof (small problems whose LP bound is weak, typically
    # under min-cost; or no plan and no proof of impossibility). On a small problem the aggregated
    # model gets the time that is left: it can prove optimality or infeasibility there. The better
    # plan and the better bound of the two are kept. Whether it runs depends on the problem's size,
    # never on the clock (a plan must not depend on the machine's speed, `capacity.packing.effort`);
    # on a large one it would not finish, and building it alone overran 60 s limits by 7-31 s.
    size = int(sum(s.replicas for s in problem.services)) * len(problem.pools)
    if found is not None and (found.time_limit_reached or size > _FALLBACK_MAX_SIZE):
        return found
    left = problem.time_limit_s - (time.perf_counter() - started)
    rest = dataclasses.replace(problem, time_limit_s=max(_MIN_SOLVER_TIME_S, left))
    if found is None:
        return _solve_model(rest, "aggregated", warm_start, time.perf_counter())
    try:
        other = _solve_model(rest, "aggregated", warm_start, time.perf_counter())
    except InfeasiblePlacement:
        return found  # no plan in the time left; the pattern plan stands
    return _better_of(found, other, time.perf_counter() - started)


def _solve_model(problem: PackingProblem, formulation: str, warm_start: bool, started: float) -> Placement:
    """Solve ``problem`` with the integer program ``formulation`` (an entry of `FORMULATIONS`)."""
    inst, objective = compile_problem(problem)
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation: must be one of {', '.join(FORMULATIONS)}, got {formulation!r}")
    backend = choose_backend(problem.solver)
    bounds = compute_bounds(inst)
    found = shortages(inst, bounds)
    if found and not objective.partial:
        raise InfeasiblePlacement(shortages=found)
    greedy, greedy_unplaced = ffd_plan(inst, objective)
    if wrong := violations(inst, greedy, greedy_unplaced, fixed_cluster=objective.fixed_cluster):
        log.warning("first-fit decreasing made an invalid plan, ignored: %s", "; ".join(wrong[:3]))
        greedy, greedy_unplaced = [], {s: int(n) for s, n in enumerate(inst.replicas) if n > 0}
    if int(inst.replicas.sum()) == 0:
        return empty_placement(inst, objective, backend, started)

    complete = not greedy_unplaced
    usable = complete or objective.partial  # the greedy plan is an answer
    # The greedy plan bounds the nodes an optimal plan needs only when nodes are all a plan pays for.
    prices = objective.node_prices(inst)
    cut = greedy if complete and prices is not None else None
    model = FORMULATIONS[formulation](inst, objective, bounds, candidate_nodes(inst, bounds, cut, prices))
    start = model.start(greedy) if usable and warm_start else None
    left = max(_MIN_SOLVER_TIME_S, problem.time_limit_s - (time.perf_counter() - started))
    outcome = BACKENDS[backend](model.prob, left, start)
    log.debug("%s: %s, dual bound %s", backend, outcome.detail, outcome.dual_bound)

    mip = model.plan() if outcome.has_solution else None
    mip_unplaced = _unplaced(inst, mip) if mip is not None and objective.partial else {}
    if mip is not None and (
        wrong := violations(inst, mip, mip_unplaced, fixed_cluster=objective.fixed_cluster)
    ):
        log.warning("%s returned an invalid plan, ignored: %s", backend, "; ".join(wrong[:3]))
        mip = None
    if outcome.proved_infeasible and usable:
        log.warning(
            "%s claims the model is infeasible, but first-fit decreasing found a plan; its answer is ignored",
            backend,
        )
        outcome = SolverOutcome(backend, False, False, False, None, outcome.detail,
                                outcome.time_limit_reached)
    plans = [(mip, mip_unplaced)] if mip is not None else []
    if usable:
        plans.append((greedy, greedy_unplaced))
    answer = _Answer(inst, objective, bounds, outcome, model, backend, started)
    if plans and pattern_obstacles(problem, objective):
        return answer.general(plans, found)
    return answer.plain(mip, greedy if complete else None, greedy, greedy_unplaced)


@dataclasses.dataclass(frozen=True)
class _Answer:
    """The last step of `_solve_model`: the best plan found, its bounds, and its `Placement`."""

    inst: Instance
    objective: Objective
    bounds: Bounds
    outcome: SolverOutcome
    model: Formulation
    backend: str
    started: float

    def general(self, plans: list[Plan], found: list[Shortage]) -> Placement:
        """Objectives and constraints beyond nodes and cost: the plan of least value (fewest nodes on a tie);
        under a ``partial`` objective, topped up greedily first, with the reasons for what is unplaced."""
        inst, objective = self.inst, self.objective
        if objective.partial:
            nodes, unplaced = min(plans, key=lambda t: (objective.value(inst, *t), len(t[0])))
            plans = [(nodes, unplaced), fill_plan(inst, objective, nodes, unplaced)]
        best_nodes, best_unplaced = min(
            plans, key=lambda t: (objective.value(inst, *t), len(used_nodes(t[0])))
        )
        value = objective.value(inst, best_nodes, best_unplaced)
        lower, bound = self.proven(value, complete=not best_unplaced)
        return finish(inst, objective, best_nodes, best_unplaced, solver=self.backend, lower_bound=lower,
                      objective_bound=bound, started=self.started,
                      unplaced_reasons=unplaced_reasons(inst, best_nodes, best_unplaced, found),
                      time_limit_reached=self.outcome.time_limit_reached)

    def plain(self, mip: list[NodePlan] | None, greedy: list[NodePlan] | None, partial: list[NodePlan],
              partial_unplaced: dict[int, int]) -> Placement:
        """The better of the solver's plan and the complete greedy one; `InfeasiblePlacement` (with the
        greedy ``partial`` plan) when there is neither."""
        inst, objective = self.inst, self.objective
        plans = [p for p in (mip, greedy) if p is not None]
        if not plans:
            placement = heuristic_placement(inst, objective, self.bounds, partial, partial_unplaced, "ffd",
                                            self.started)
            raise InfeasiblePlacement(
                shortages=explain_unplaced(
                    inst,
                    self.bounds,
                    partial_unplaced,
                    proven=self.outcome.proved_infeasible,
                    solver=self.backend,
                    time_limit_s=inst.problem.time_limit_s,
                ),
                placement=placement,
            )
        best = min(plans, key=lambda p: (objective.value(inst, p), len(p)))  # the MIP's on a tie
        lower, bound = self.proven(objective.value(inst, best))
        return finish(inst, objective, best, {}, solver=self.backend, lower_bound=lower,
                      objective_bound=bound, started=self.started,
                      time_limit_reached=self.outcome.time_limit_reached)

    def proven(self, value: float, complete: bool = True) -> tuple[int, float | None]:
        """(lower bound on nodes, bound on the objective), combining ours and the solver's."""
        inst, objective = self.inst, self.objective
        lower = self.bounds.nodes if complete else 0
        bound = objective.bound(inst, self.bounds)
        dual = self.outcome.dual_bound
        if dual is not None:
            dual = self.model.objective_bound(dual)
        if dual is not None and dual > value + 1e-6 * max(1.0, abs(value)):
            log.warning(
                "%s reports a dual bound %s above the plan's objective %s; ignored",
                self.outcome.solver, dual, value,
            )
            dual = None
        if dual is None:
            return lower, bound
        return objective.tighten(inst, lower, bound, dual)


def candidate_nodes(
    inst: Instance, bounds: Bounds, greedy: list[NodePlan] | None, prices: np.ndarray | None = None
) -> np.ndarray:
    """[pool] how many nodes of each pool the model may use; cuts no optimal plan away.

    A plan never needs an empty node, so never more nodes of pool p than replicas that may go on p.
    With a complete greedy plan and a value that is the sum of the used nodes' ``prices``
    (`Objective.node_prices`): an optimal plan's component uses nodes of p worth at most the greedy
    component's value (under ``min-nodes``: at most as many nodes).
    """
    out = np.zeros(len(inst.pools), dtype=np.int64)
    for comp in bounds.components:
        greedy_nodes = [n for n in greedy or [] if n.pool in comp.pools]
        greedy_value = sum(float(prices[n.pool]) for n in greedy_nodes) if prices is not None else 0.0
        for p in comp.pools:
            m = min(int(inst.count[p]), int(inst.replicas[inst.placeable[:, p]].sum()))
            if greedy is not None and prices is not None:
                if prices[p]:
                    m = min(m, math.floor(greedy_value / float(prices[p]) + 1e-9))
                m = max(m, sum(1 for n in greedy_nodes if n.pool == p))
            out[p] = m
    return out


def _unplaced(inst: Instance, nodes: list[NodePlan]) -> dict[int, int]:
    placed = np.zeros(len(inst.services), dtype=np.int64)
    for n in nodes:
        for s, k in n.counts.items():
            placed[s] += k
    wanted = inst.replicas
    return {s: int(wanted[s] - placed[s]) for s in range(len(inst.services)) if placed[s] < wanted[s]}
