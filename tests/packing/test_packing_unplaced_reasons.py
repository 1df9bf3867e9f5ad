"""Under ``fit``, a replica left out although no combinatorial shortage explains it gets the reason read
off the plan itself (`capacity.packing.feasibility._blocked`): what stops one more replica on each node."""

from __future__ import annotations

from packing_checks import assert_valid

from capacity.packing import PackingProblem, Pool, Service, solve

# Totals fit (17 of 20 cpu, 16 of 20 memory) and no replica is too large, but no plan holds all six:
# next to s0 a node takes one s1 or one s2, and the other node cannot take the rest (s2 at most 2 a node,
# 2 s1 + 2 s2 need 12 memory). The optimum leaves exactly one replica out.
PROBLEM = PackingProblem(
    (Pool("n", 2, {"cpu": 10, "memory": 10}),),
    (
        Service("s0", 1, {"cpu": 7, "memory": 2}, max_per_node=1),
        Service("s1", 2, {"cpu": 2, "memory": 4}, max_per_node=2),
        Service("s2", 3, {"cpu": 2, "memory": 2}, max_per_node=2),
    ),
    objective="fit",
    time_limit_s=5,
)


def test_a_packing_conflict_is_explained_node_by_node():
    placement = solve(PROBLEM)
    assert_valid(PROBLEM, placement)
    assert placement.status == "optimal" and placement.objective_value == 1 and len(placement.unplaced) == 1
    (service, reason), = placement.unplaced_reasons.items()
    assert placement.unplaced[0].startswith(service + "-")
    assert reason.startswith(f"1 of {2 if service == 's1' else 3} replicas not placed (priority 1): ")
    assert "no unused node left in pool n" in reason and "no room for" in reason
