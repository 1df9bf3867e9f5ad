"""Property tests with every constraint and objective: random small problems with label selectors,
spread, survive, max_per_node, existing placements and priorities, under min-nodes, min-cost (with a
move cost), min-moves, fit and balance.

Whatever comes back obeys every rule (`packing_checks.assert_valid`) with an honest status; an
infeasibility is one that no baseline disproves; and the optimiser is never worse than any baseline plan
that obeys the rules (complete, or any plan under ``fit``).
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packing_checks import assert_honest, assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import BASELINES, PackingProblem, PodAffinity, Pool, Service, Spread, Survive, solve
from tests.conftest import examples

GiB = 2**30
ZONES = ["a", "b", "c"]


@st.composite
def constrained(draw: st.DrawFn) -> PackingProblem:
    n_pools = draw(st.integers(1, 3))
    pools = []
    for i in range(n_pools):
        labels = {"tier": draw(st.sampled_from(["x", "y"]))}
        if draw(st.integers(0, 5)):  # mostly labelled with a zone
            labels["zone"] = draw(st.sampled_from(ZONES))
        pools.append(Pool(
            f"p{i}", count=draw(st.integers(1, 4)),
            capacity={"cpu": draw(st.sampled_from([4.0, 8.0])),
                      "memory": draw(st.sampled_from([8.0, 16.0])) * GiB},
            cost=draw(st.sampled_from([1.0, 1.5, 3.0])), labels=labels,
        ))
    services = []
    for j in range(draw(st.integers(1, 4))):
        spread = survive = None
        if draw(st.integers(0, 2)) == 0:
            spread = Spread(draw(st.sampled_from(["zone", "zone", "kubernetes.io/hostname"])),
                            draw(st.integers(1, 2)),
                            tuple(draw(st.sets(st.sampled_from([*ZONES, "d"]), max_size=1))))
        if draw(st.integers(0, 2)) == 0:
            survive = Survive(draw(st.sampled_from(["node", "zone"])), draw(st.sampled_from([0.3, 0.5, 0.6])))
        services.append(Service(
            f"s{j}", replicas=draw(st.integers(1, 6)),
            demand={"cpu": draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])),
                    "memory": draw(st.sampled_from([1.0, 2.0, 4.0])) * GiB},
            node_selector={"tier": "x"} if draw(st.integers(0, 4)) == 0 else None,
            max_per_node=draw(st.sampled_from([None, None, None, 1, 2])),
            priority=draw(st.integers(1, 3)), spread=spread, survive=survive,
        ))
    names = [s.name for s in services]
    for j, svc in enumerate(services):
        if draw(st.integers(0, 3)) == 0:       # required pod (anti-)affinity, over nodes or zones
            term = PodAffinity(draw(st.sampled_from(names)),
                               draw(st.sampled_from(["kubernetes.io/hostname", "zone"])))
            kind = draw(st.sampled_from(["anti_affinity", "affinity"]))
            services[j] = dataclasses.replace(svc, **{kind: (term,)})
    objective = draw(st.sampled_from(["min-nodes", "min-cost", "fit", "balance", "min-moves"]))
    existing: dict[str, dict[str, int]] = {}
    if objective == "min-moves" or draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            pool = draw(st.sampled_from(pools))
            node = f"{pool.name}-{draw(st.integers(0, pool.count - 1))}"
            svc = draw(st.sampled_from(services))
            k = draw(st.integers(1, 3))
            running = {**existing.get(node, {}), svc.name: k}
            by_name = {s.name: s for s in services}
            if all(sum(n * by_name[s].demand.get(r, 0.0) for s, n in running.items()) <= c
                   for r, c in pool.capacity.items()):        # only placements that can be running
                existing[node] = running
    move_cost = draw(st.sampled_from([0.0, 0.3])) if objective in ("min-nodes", "min-cost") else 0.0
    return PackingProblem(tuple(pools), tuple(services), objective=objective,  # type: ignore[arg-type]
                          existing=existing, move_cost=move_cost, time_limit_s=10.0)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(constrained())
def test_plans_obey_every_constraint_and_the_optimiser_beats_every_valid_baseline(
    problem: PackingProblem,
) -> None:
    plans = {name: baseline(problem) for name, baseline in BASELINES.items()}
    for plan in plans.values():
        assert_valid(problem, plan, partial=True)
    try:
        best = solve(problem)
    except InfeasiblePlacement as exc:
        assert problem.objective != "fit"
        assert exc.shortages and all(s.reason for s in exc.shortages)
        assert all(p.unplaced for p in plans.values()), "a baseline placed everything"
        return
    assert_valid(problem, best)
    assert_honest(best, problem)
    assert best.objective_value is not None
    for name, plan in plans.items():
        if plan.unplaced and problem.objective != "fit":
            continue
        assert plan.objective_value is not None
        assert best.objective_value <= plan.objective_value + 1e-6 * max(1.0, plan.objective_value), name
        assert plan.objective_bound is None or plan.objective_bound <= best.objective_value + 1e-6
