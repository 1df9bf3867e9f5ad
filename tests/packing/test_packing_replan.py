"""Re-planning a running cluster (`capacity.packing.replan`): keep, trim, grow, consolidate when it pays.

Checks: a traffic change (some services up, some down) answered with no move under ``min-moves`` and
proven optimal (0 moves is the bound); the plan obeys every rule under the independent checks of
``packing_checks`` (which recount the moves from the existing placement); a consolidation under
``min-nodes`` with a ``move_cost`` empties a light node when the node is worth more than its moves and
not when it is worth less; nodes are emptied only into their own zone, so zone spread holds.
"""

from __future__ import annotations

import dataclasses

import pytest
from packing_checks import assert_honest, assert_valid

from capacity.packing import PackingProblem, Pool, Service, solve
from capacity.packing.problem import Spread
from capacity.packing.replan import replan

ZONE = "topology.kubernetes.io/zone"


def cluster() -> tuple[Pool, ...]:
    return tuple(Pool(f"n-{z}", count=8, capacity={"cpu": 8, "mem": 16}, labels={ZONE: z}) for z in "ab")


def running(problem: PackingProblem) -> dict[str, dict[str, int]]:
    plan = solve(problem)
    out: dict[str, dict[str, int]] = {}
    for node in plan.nodes:
        counts: dict[str, int] = {}
        for replica in node.replicas:
            service = replica.rsplit("-", 1)[0]
            counts[service] = counts.get(service, 0) + 1
        out[node.name] = counts
    return out


def base() -> PackingProblem:
    services = (
        Service("web", 6, {"cpu": 2, "mem": 2}, spread=Spread(ZONE)),
        Service("api", 5, {"cpu": 1, "mem": 4}),
        Service("db", 2, {"cpu": 3, "mem": 6}, max_per_node=1),
    )
    return PackingProblem(cluster(), services, time_limit_s=30.0)


def changed(problem: PackingProblem, replicas: dict[str, int], **kwargs: object) -> PackingProblem:
    services = tuple(
        dataclasses.replace(s, replicas=replicas.get(s.name, s.replicas)) for s in problem.services
    )
    return dataclasses.replace(problem, services=services, existing=running(problem), **kwargs)  # type: ignore[arg-type]


def test_a_traffic_change_under_min_moves_moves_nothing_and_is_proven():
    problem = changed(base(), {"web": 8, "api": 4}, objective="min-moves")
    plan = replan(problem)
    assert_valid(problem, plan)
    assert_honest(plan, problem)
    assert plan.moves == 0
    assert plan.status == "optimal"
    assert plan.solver == "replan"


def test_engine_sends_replan_when_asked():
    problem = changed(base(), {"web": 4}, objective="min-moves")
    plan = solve(problem, formulation="replan")
    assert plan.solver == "replan" and plan.moves == 0
    assert_valid(problem, plan)


def light_nodes() -> PackingProblem:
    """Two nodes of one zone, each a quarter full: emptying one moves 1 replica and saves a node."""
    pools = (Pool("n-a", count=4, capacity={"cpu": 8, "mem": 16}, labels={ZONE: "a"}),)
    services = (Service("x", 2, {"cpu": 2, "mem": 2}),)
    existing = {"n-a-0": {"x": 1}, "n-a-1": {"x": 1}}
    return PackingProblem(pools, services, objective="min-nodes", existing=existing, time_limit_s=30.0)


@pytest.mark.parametrize(("move_cost", "nodes", "moves"), [(0.5, 1, 1), (2.0, 2, 0)])
def test_consolidation_only_when_the_node_is_worth_more_than_its_moves(move_cost, nodes, moves):
    problem = dataclasses.replace(light_nodes(), move_cost=move_cost)
    plan = replan(problem)
    assert_valid(problem, plan)
    assert_honest(plan, problem)
    assert (plan.nodes_used, plan.moves) == (nodes, moves)


def test_consolidation_stays_within_a_zone():
    pools = tuple(Pool(f"n-{z}", count=4, capacity={"cpu": 8, "mem": 16}, labels={ZONE: z}) for z in "ab")
    services = (Service("x", 2, {"cpu": 2, "mem": 2}, spread=Spread(ZONE)),)
    existing = {"n-a-0": {"x": 1}, "n-b-0": {"x": 1}}
    problem = PackingProblem(pools, services, objective="min-nodes", existing=existing, move_cost=0.1)
    plan = replan(problem)
    assert_valid(problem, plan)
    assert (plan.nodes_used, plan.moves) == (2, 0)  # merging them would break the spread


def test_a_balanced_spread_keeps_every_running_replica():
    """Seeding the running nodes one by one must not apply the spread filter to partial counts (the first
    zone would keep only max_skew replicas, and a new, larger service would take the room): 4 + 4 running
    on full nodes, a new service arrives, no move."""
    pools = tuple(Pool(f"n-{z}", count=4, capacity={"cpu": 8, "mem": 16}, labels={ZONE: z}) for z in "ab")
    services = (
        Service("x", 8, {"cpu": 2, "mem": 2}, spread=Spread(ZONE)),
        Service("y", 2, {"cpu": 3, "mem": 3}),
    )
    existing = {"n-a-0": {"x": 4}, "n-b-0": {"x": 4}}
    problem = PackingProblem(pools, services, objective="min-moves", existing=existing)
    plan = replan(problem)
    assert_valid(problem, plan)
    assert plan.moves == 0 and plan.status == "optimal"
