"""Each constraint and objective on a hand-made case whose optimum is worked out in the comments; the
baselines obey the same rules; impossible constraints are explained naming the service and the rule."""

from __future__ import annotations

import pytest
from packing_checks import assert_honest, assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import BASELINES, PackingProblem, Pool, Service, Spread, Survive, solve

GiB = 2**30
ONE = {"cpu": 1, "memory": 1 * GiB}


def zone(name: str, count: int, cpu: float = 4, **labels: str) -> Pool:
    return Pool(name, count, {"cpu": cpu, "memory": 16 * GiB}, cost=1.0, labels={"zone": name, **labels})


def check(problem: PackingProblem, *, baselines: bool = True):
    placement = solve(problem)
    assert_valid(problem, placement)
    assert_honest(placement, problem)
    if baselines:
        for baseline in BASELINES.values():
            plan = baseline(problem)
            assert_valid(problem, plan, partial=True)
    return placement


def test_label_selector_keeps_to_matching_pools_on_both_formulations() -> None:
    pools = (
        Pool("a100-a", 2, {"cpu": 32, "gpu": 4}, labels={"zone": "a", "gpu-type": "a100"}),
        Pool("a100-b", 2, {"cpu": 32, "gpu": 4}, labels={"zone": "b", "gpu-type": "a100"}),
        Pool("h100-a", 2, {"cpu": 32, "gpu": 8}, labels={"zone": "a", "gpu-type": "h100"}),
    )
    llm = Service("llm", 6, {"cpu": 4, "gpu": 1}, node_selector={"zone": "a", "gpu-type": "a100"})
    problem = PackingProblem(pools, (llm,))
    # only a100-a matches: 6 GPUs on 4-GPU nodes -> 2 nodes (the h100 pool would take them on one)
    for formulation in ("auto", "aggregated"):
        placement = solve(problem, formulation=formulation)
        assert_valid(problem, placement)
        assert {n.pool for n in placement.nodes} == {"a100-a"}
        assert (placement.nodes_used, placement.status) == (2, "optimal")


def test_spread_over_zones_costs_a_node_per_zone() -> None:
    # 6 x 1 CPU fit two 4-CPU nodes, but max_skew 1 over zones a, b, c forces 2 per zone: 3 nodes
    problem = PackingProblem((zone("a", 4), zone("b", 4), zone("c", 1)),
                             (Service("web", 6, ONE, spread=Spread("zone", 1)),))
    placement = check(problem)
    assert (placement.nodes_used, placement.status) == (3, "optimal")
    assert sorted(len(n.replicas) for n in placement.nodes) == [2, 2, 2]


def test_spread_allows_the_skew() -> None:
    # max_skew 2 over two zones: (4, 2) on one node each -> still 2 nodes, not (3, 3) on 2 nodes either
    web = Service("web", 6, ONE, spread=Spread("zone", 2))
    problem = PackingProblem((zone("a", 4), zone("b", 4)), (web,))
    placement = check(problem)
    assert placement.nodes_used == 2 and placement.status == "optimal"


def test_spread_counts_every_domain_the_service_may_use_even_empty_ones() -> None:
    # zone c has one node of 1 CPU: it holds 1 replica, so a and b hold at most 2 each: 5 < 6
    problem = PackingProblem((zone("a", 4), zone("b", 4), zone("c", 1, cpu=1)),
                             (Service("web", 6, ONE, spread=Spread("zone", 1)),))
    with pytest.raises(InfeasiblePlacement) as info:
        solve(problem)
    (shortage,) = info.value.shortages
    assert shortage.service == "web" and shortage.resource == "spread"
    assert "zone c holds at most 1" in shortage.reason and "at most 5 of the 6" in shortage.reason
    for baseline in BASELINES.values():
        assert baseline(problem).unplaced, "a baseline placed what cannot be placed"


def test_survive_one_node_caps_replicas_per_node() -> None:
    # keep 50% of 4: at most 2 per node -> 2 nodes although 4 fit one
    problem = PackingProblem((zone("a", 4),), (Service("web", 4, ONE, survive=Survive("node", 0.5)),))
    assert check(problem).nodes_used == 2
    # keep 75% of 4: ceil(3) must remain, at most 1 per node -> 4 nodes
    problem = PackingProblem((zone("a", 4),), (Service("web", 4, ONE, survive=Survive("node", 0.75)),))
    placement = check(problem)
    assert (placement.nodes_used, placement.status) == (4, "optimal")


def test_survive_one_zone_caps_replicas_per_zone() -> None:
    # keep 60% of 6: ceil(3.6) = 4 remain, at most 2 per zone -> all three zones, one node each
    pools = (zone("a", 4), zone("b", 4), zone("c", 4))
    placement = check(PackingProblem(pools, (Service("web", 6, ONE, survive=Survive("zone", 0.6)),)))
    assert (placement.nodes_used, placement.status) == (3, "optimal")
    assert {n.pool for n in placement.nodes} == {"a", "b", "c"}
    # two zones cannot: at most 2 + 2 of 6
    with pytest.raises(InfeasiblePlacement) as info:
        solve(PackingProblem(pools[:2], (Service("web", 6, ONE, survive=Survive("zone", 0.6)),)))
    assert info.value.shortages[0].resource == "survive"
    assert "at most 2 of the 6 replicas in one zone" in info.value.shortages[0].reason


def test_a_single_replica_cannot_survive_its_node() -> None:
    with pytest.raises(InfeasiblePlacement) as info:
        solve(PackingProblem((zone("a", 4),), (Service("db", 1, ONE, survive=Survive("node", 0.5)),)))
    (shortage,) = info.value.shortages
    assert (shortage.service, shortage.resource) == ("db", "survive")


def test_selector_explanations_name_the_service_and_the_rule() -> None:
    pools = (zone("a", 2, tier="x"), Pool("plain", 2, {"cpu": 4, "memory": 16 * GiB}))
    cases = [
        (Service("s", 1, ONE, node_selector={"tier": "y"}), "selector",
         "node_selector {tier: y} matches no pool"),
        (Service("s", 1, ONE, pools=("plain",), spread=Spread("zone")), "spread", "label 'zone'"),
        (Service("s", 1, ONE, pools=("plain",), survive=Survive("zone", 0.5)), "survive", "label 'zone'"),
    ]
    for svc, resource, words in cases:
        with pytest.raises(InfeasiblePlacement) as info:
            solve(PackingProblem(pools, (svc,)))
        (shortage,) = info.value.shortages
        assert shortage.service == "s" and shortage.resource == resource and words in shortage.reason


def test_fit_places_the_most_priority_weight() -> None:
    # 2 nodes of 4 CPU. big: 3 x 3 CPU, priority 5; small: 6 x 1 CPU, priority 1.
    # Best: 2 big + 2 small (weight 12 of 21) -> unplaced weight 1 x 5 + 4 x 1 = 9.
    pool = zone("a", 2)
    big = Service("big", 3, {"cpu": 3, "memory": 1 * GiB}, priority=5)
    small = Service("small", 6, ONE)
    problem = PackingProblem((pool,), (big, small), objective="fit")
    placement = check(problem)
    assert (placement.objective_value, placement.status) == (9, "optimal")
    assert sorted(placement.unplaced) == ["big-2", "small-2", "small-3", "small-4", "small-5"]
    assert set(placement.unplaced_reasons) == {"big", "small"}
    assert "1 of 3 replicas not placed (priority 5)" in placement.unplaced_reasons["big"]
    # With equal priorities, 6 small + 0 big or 1 big + 5 small both place weight 6: unplaced 3.
    same = Service("big", 3, {"cpu": 3, "memory": 1 * GiB})
    equal = PackingProblem((pool,), (same, small), objective="fit")
    assert check(equal).objective_value == 3


def test_fit_places_everything_when_it_fits_on_the_fewest_nodes() -> None:
    problem = PackingProblem((zone("a", 5),), (Service("web", 6, ONE),), objective="fit")
    placement = check(problem)
    assert (placement.objective_value, placement.unplaced, placement.nodes_used) == (0, [], 2)
    assert placement.status == "optimal"


def test_fit_with_survive_keeps_the_rule_for_the_placed_count() -> None:
    # one node of 4 CPU, 4 replicas that must survive a node loss: none can be placed (any placed
    # replica is lost with the only node)
    problem = PackingProblem((zone("a", 1),), (Service("web", 4, ONE, survive=Survive("node", 0.5)),),
                             objective="fit")
    placement = check(problem)
    assert placement.objective_value == 4 and placement.nodes_used == 0
    # two nodes: 2 + 2
    problem = PackingProblem((zone("a", 2),), (Service("web", 4, ONE, survive=Survive("node", 0.5)),),
                             objective="fit")
    assert check(problem).objective_value == 0


def test_balance_minimises_the_highest_utilisation() -> None:
    # 6 x 1 CPU on 4 nodes of 4 CPU: some node holds 2 -> 50 %
    placement = check(PackingProblem((zone("a", 4),), (Service("web", 6, ONE),), objective="balance"))
    assert placement.objective_value == pytest.approx(0.5) and placement.status == "optimal"
    assert placement.max_utilisation == pytest.approx(0.5)
    # one 8-CPU and one 4-CPU node: x on the large one, max(x / 8, (6 - x) / 4) is least at x = 4: 50 %
    pools = (Pool("big", 1, {"cpu": 8}), Pool("small", 1, {"cpu": 4}))
    placement = check(PackingProblem(pools, (Service("web", 6, {"cpu": 1}),), objective="balance"))
    assert placement.objective_value == pytest.approx(0.5) and placement.status == "optimal"
    assert sorted(len(n.replicas) for n in placement.nodes) == [2, 4]


def test_min_moves_keeps_what_still_fits() -> None:
    pool = zone("a", 4)
    existing = {"a-2": {"web": 3}, "a-3": {"web": 2}}
    problem = PackingProblem((pool,), (Service("web", 6, ONE),), objective="min-moves", existing=existing)
    placement = check(problem)
    assert (placement.moves, placement.objective_value, placement.status) == (0, 0, "optimal")
    assert {n.name for n in placement.nodes} == {"a-2", "a-3"}  # existing nodes keep their names
    # 40 % CPU headroom: a-2 offers 2.4 CPU and keeps 2 of its 3, one replica moves (a running placement
    # that requests beyond the node's capacity cannot be true: refused, tests/packing/test_existing_placement)
    margin = PackingProblem((pool,), (Service("web", 6, ONE),), objective="min-moves", existing=existing,
                            headroom={"cpu": 0.4})
    placement = check(margin)
    assert (placement.moves, placement.moved, placement.status) == (1, {"web": 1}, "optimal")
    # scaling down to 3 moves nothing: a-2 keeps its 3
    down = PackingProblem((pool,), (Service("web", 3, ONE),), objective="min-moves", existing=existing)
    placement = check(down)
    assert placement.moves == 0 and [n.name for n in placement.nodes] == ["a-2"]


@pytest.mark.parametrize(("move_cost", "value", "nodes"), [(0.6, 3.0, 3), (0.4, 2.8, 2)])
def test_move_cost_trades_nodes_against_moves(move_cost: float, value: float, nodes: int) -> None:
    # 6 x 1 CPU running 2 + 2 + 2 on three 4-CPU nodes; consolidating to 2 nodes moves 2 replicas:
    # 2 + 2 x move_cost against 3.
    existing = {"a-0": {"web": 2}, "a-1": {"web": 2}, "a-2": {"web": 2}}
    web = Service("web", 6, ONE)
    problem = PackingProblem((zone("a", 4),), (web,), existing=existing, move_cost=move_cost)
    placement = check(problem)
    assert placement.objective_value == pytest.approx(value) and placement.nodes_used == nodes
    assert placement.status == "optimal"


def test_ffd_does_not_spend_gpu_nodes_on_cpu_services() -> None:
    # The GPU pool comes first in the problem; the CPU service is larger, so FFD places it first.
    # Opening pools in problem order put it on both GPU nodes and left the LLM unplaced.
    gpu = Pool("gpu", 2, {"cpu": 32, "memory": 128 * GiB, "gpu": 4})
    cpu = Pool("cpu", 10, {"cpu": 16, "memory": 64 * GiB})
    services = (Service("batch", 4, {"cpu": 12, "memory": 8 * GiB}),
                Service("llm", 6, {"cpu": 2, "memory": 16 * GiB, "gpu": 1}))
    problem = PackingProblem((gpu, cpu), services)
    placement = BASELINES["ffd"](problem)
    assert_valid(problem, placement)
    assert all(n.pool == "cpu" for n in placement.nodes if any(r.startswith("batch") for r in n.replicas))


def test_patterns_refuse_what_they_cannot_express() -> None:
    problem = PackingProblem((zone("a", 2),), (Service("web", 2, ONE, spread=Spread("zone")),))
    with pytest.raises(ValueError, match="patterns cannot express spread"):
        solve(problem, formulation="patterns")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"existing": {"b-0": {"web": 1}}}, "existing node 'b-0'"),
        ({"existing": {"a-9": {"web": 1}}}, "pool 'a' has 2 nodes"),
        ({"existing": {"a-0": {"nope": 1}}}, "no service named 'nope'"),
        ({"objective": "fit", "move_cost": 1.0}, "move_cost"),
    ],
)
def test_bad_constraint_input_names_the_field(change: dict[str, object], words: str) -> None:
    problem = PackingProblem((zone("a", 2),), (Service("web", 2, ONE),), **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=words):
        solve(problem)
