"""The pattern formulation (`capacity.packing.patterns.solve_patterns`): planted optima and properties.

Checks: the seed example; small vector-packing instances whose optimum is known (plan and bound both
reach it); random small problems (a valid plan, an honest status, a bound that never exceeds the plan, nor
the compact model's proven optimum, and never worse than first-fit decreasing); a bound that stays valid
when the time limit cuts column generation short; min-cost choosing the cheaper pool mix; merged services
split back; an impossible problem named; the grid pricer against enumeration; the repair mixing
complementary replicas; an explanation given once per component.
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from packing_checks import assert_honest, assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import PackingProblem, Pool, Service, first_fit_decreasing, solve
from capacity.packing.bounds import compute_bounds
from capacity.packing.feasibility import explain_unplaced, shortages
from capacity.packing.instance import Instance
from capacity.packing.patterns import repair, solve_patterns
from capacity.packing.patterns_pricing import GridKnapsack, PoolShape, pattern_fits
from tests.conftest import examples

GI = 2**30
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vbp"


def seed_problem(**kwargs: object) -> PackingProblem:
    pools = (Pool("node", count=10, capacity={"cpu": 4, "memory": 8 * GI}),)
    shapes = {"A": (2, 4), "B": (1, 2), "C": (3, 6), "D": (2, 4), "E": (1, 2)}
    services = tuple(
        Service(n, replicas=1, demand={"cpu": c, "memory": m * GI}) for n, (c, m) in shapes.items()
    )
    return PackingProblem(pools, services, **kwargs)  # type: ignore[arg-type]


def test_seed_example_is_three_nodes_proven():
    problem = seed_problem()
    plan = solve_patterns(problem)
    assert_valid(problem, plan)
    assert_honest(plan)
    assert (plan.nodes_used, plan.lower_bound, plan.status) == (3, 3, "optimal")
    assert plan.solver == "highs"
    assert plan.gap == 0.0


def read_vbp(name: str, time_limit_s: float) -> PackingProblem:
    tokens = (DATA / name).read_text().split()
    d = int(tokens[0])
    capacity = [float(x) for x in tokens[1 : 1 + d]]
    m = int(tokens[1 + d])
    resources = [f"r{k}" for k in range(d)]
    services = []
    for i in range(m):
        row = tokens[2 + d + i * (d + 1) : 2 + d + (i + 1) * (d + 1)]
        services.append(
            Service(
                f"item{i}",
                replicas=int(row[d]),
                demand={r: float(w) for r, w in zip(resources, row[:d], strict=True)},
            )
        )
    pool = Pool(
        "bin", count=sum(s.replicas for s in services), capacity=dict(zip(resources, capacity, strict=True))
    )
    return PackingProblem((pool,), tuple(services), time_limit_s=time_limit_s)


def known_optimum(name: str) -> int:
    with open(DATA / "optima.csv", newline="") as f:
        return next(int(row["OPT"]) for row in csv.DictReader(f) if row["file"] == name)


SMALL_VBP = [
    "Panigrahy/class1/class1_20_3_0.vbp",
    "Panigrahy/class2/class2_20_3_0.vbp",
    "Panigrahy/class3/class3_20_3_0.vbp",
    "Panigrahy/class8/class8_60_3_0.vbp",  # combinatorial bound 26, optimum 30: the LP bound is needed
    "Triplet/Falkenauer/classF_60_3_0.vbp",  # perfect triplets: FFD needs 24 bins, the optimum is 20
    "New/class4/class4_60_3_0.vbp",
]


@pytest.mark.skipif(not (DATA / "optima.csv").exists(), reason="no shared/data/vbp")
@pytest.mark.parametrize("name", SMALL_VBP)
def test_small_vbp_instances_reach_and_prove_the_known_optimum(name):
    problem = read_vbp(name, time_limit_s=20)
    plan = solve_patterns(problem)
    assert_valid(problem, plan)
    assert_honest(plan)
    opt = known_optimum(name)
    assert plan.nodes_used == opt
    assert plan.lower_bound == opt
    assert plan.status == "optimal"


@pytest.mark.skipif(not (DATA / "optima.csv").exists(), reason="no shared/data/vbp")
def test_bound_stays_valid_when_the_time_limit_cuts_column_generation_short():
    name = "Panigrahy/class9/class9_250_3_0.vbp"  # optimum 127, combinatorial bound 115
    problem = read_vbp(name, time_limit_s=1.5)
    plan = solve_patterns(problem)
    assert_valid(problem, plan)
    assert_honest(plan)
    assert plan.lower_bound <= known_optimum(name) <= plan.nodes_used
    assert plan.nodes_used <= first_fit_decreasing(problem).nodes_used


def test_min_cost_picks_the_cheaper_pool_mix():
    # 6 replicas of 2 cores: a "small" node (4 cores, 1.0/h) holds 2, a "large" node (8 cores, 3.0/h)
    # holds 4. Cheapest: 3 small nodes (3.0/h), not 1 large + 1 small (4.0/h) nor 2 large (6.0/h).
    # Min-nodes prefers the large ones (2 nodes).
    pools = (
        Pool("large", count=3, capacity={"cpu": 8}, cost=3.0),
        Pool("small", count=3, capacity={"cpu": 4}, cost=1.0),
    )
    services = (Service("api", replicas=6, demand={"cpu": 2}),)
    cheap = solve_patterns(PackingProblem(pools, services, objective="min-cost"))
    assert_valid(PackingProblem(pools, services), cheap)
    assert_honest(cheap)
    assert {n.pool for n in cheap.nodes} == {"small"}
    assert cheap.cost_per_hour == pytest.approx(3.0)
    assert cheap.status == "optimal"
    few = solve_patterns(PackingProblem(pools, services, objective="min-nodes"))
    assert few.nodes_used == 2 and few.status == "optimal"


def test_identical_services_are_merged_and_split_back():
    pools = (Pool("n", count=20, capacity={"cpu": 10, "memory": 10 * GI}),)
    services = (
        Service("a", replicas=7, demand={"cpu": 3, "memory": 2 * GI}),
        Service("b", replicas=5, demand={"cpu": 3, "memory": 2 * GI}),  # same shape as a
        Service("c", replicas=4, demand={"cpu": 3, "memory": 2 * GI}, max_per_node=1),  # not merged
        Service("d", replicas=9, demand={"cpu": 1, "memory": 6 * GI}),
    )
    problem = PackingProblem(pools, services)
    plan = solve_patterns(problem)
    assert_valid(problem, plan)
    assert_honest(plan)
    assert plan.nodes_used <= first_fit_decreasing(problem).nodes_used


def test_an_impossible_problem_names_the_service():
    pools = (Pool("n", count=2, capacity={"cpu": 4}),)
    services = (Service("huge", replicas=1, demand={"cpu": 6}),)
    with pytest.raises(InfeasiblePlacement) as err:
        solve_patterns(PackingProblem(pools, services))
    assert any(s.service == "huge" and s.resource == "cpu" for s in err.value.shortages)


@st.composite
def problems(draw: st.DrawFn) -> PackingProblem:
    pools = []
    for p in range(draw(st.integers(1, 3))):
        capacity = {
            "cpu": float(draw(st.sampled_from([2, 4, 8, 16]))),
            "memory": float(draw(st.sampled_from([4, 8, 16, 64])) * GI),
        }
        if draw(st.booleans()):
            capacity["gpu"] = float(draw(st.integers(1, 4)))
        pools.append(
            Pool(
                f"p{p}",
                count=draw(st.integers(1, 8)),
                capacity=capacity,
                cost=draw(st.sampled_from([0.5, 1.0, 2.5])),
            )
        )
    services = []
    for s in range(draw(st.integers(1, 5))):
        demand = {"cpu": draw(st.integers(1, 60)) / 10, "memory": draw(st.integers(1, 64)) * GI / 4}
        if draw(st.integers(0, 4)) == 0:
            demand["gpu"] = 1.0
        selector = None
        if draw(st.booleans()):
            selector = tuple(sorted(draw(st.sets(st.sampled_from([p.name for p in pools]), min_size=1))))
        services.append(
            Service(
                f"s{s}",
                replicas=draw(st.integers(0, 7)),
                demand=demand,
                pools=selector,
                max_per_node=draw(st.one_of(st.none(), st.integers(1, 3))),
            )
        )
    return PackingProblem(
        tuple(pools),
        tuple(services),
        objective=draw(st.sampled_from(["min-nodes", "min-cost"])),
        headroom=draw(st.sampled_from([{}, {"cpu": 0.1, "memory": 0.1}, {"cpu": 0.05}])),
        time_limit_s=5.0,
    )


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_problems_valid_honest_and_never_worse_than_ffd(problem):
    try:
        plan = solve_patterns(problem)
    except InfeasiblePlacement as exc:
        assert exc.shortages
        greedy = first_fit_decreasing(problem)
        assert greedy.unplaced, "first-fit decreasing placed everything, so the packer must too"
        return
    assert_valid(problem, plan)
    assert_honest(plan)
    greedy = first_fit_decreasing(problem)
    if not greedy.unplaced:
        assert plan.objective_value <= greedy.objective_value + 1e-9
    assert plan.objective_bound is not None and plan.objective_bound <= plan.objective_value + 1e-6


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_bound_never_exceeds_the_compact_models_proven_optimum(problem):
    quick = PackingProblem(
        problem.pools,
        problem.services,
        objective=problem.objective,
        headroom=problem.headroom,
        time_limit_s=3.0,
    )
    inst = Instance.compile(quick)
    proven_infeasible = shortages(inst, compute_bounds(inst))
    if proven_infeasible:
        # the bounds prove it before either model is solved: both refuse, naming the same shortages
        event("infeasible (proven by the bounds)")
        for formulation in (solve, solve_patterns):
            with pytest.raises(InfeasiblePlacement) as refused:
                formulation(quick)
            assert refused.value.shortages == proven_infeasible
        return
    try:
        compact = solve(quick)
    except InfeasiblePlacement:
        # no plan within the time limit, and no proof either way: nothing to compare with
        assume(False)
    event(f"compact model {compact.status}")
    plan = solve_patterns(quick)
    assert plan.objective_bound is not None and compact.objective_bound is not None
    assert plan.objective_value is not None and compact.objective_value is not None
    # Every plan is an upper bound on the optimum and every proven bound a lower one, so each
    # formulation's bound is at most the other's plan, whether the compact model proved optimality or not.
    assert plan.objective_bound <= compact.objective_value + 1e-6 * max(1.0, compact.objective_value)
    assert compact.objective_bound <= plan.objective_value + 1e-6 * max(1.0, plan.objective_value)
    assert plan.lower_bound <= compact.nodes_used or problem.objective == "min-cost"
    if compact.status == "optimal":
        assert plan.objective_value == pytest.approx(compact.objective_value, rel=1e-6) or (
            plan.status == "feasible"
        )


def _brute_force(sizes: np.ndarray, cap: np.ndarray, prices: np.ndarray, bound: np.ndarray) -> float:
    """The knapsack's maximum by enumerating every count vector (tiny instances only)."""
    best = 0.0
    for counts in itertools.product(*(range(int(b) + 1) for b in bound)):
        a = np.array(counts)
        if np.all(a @ sizes <= cap + 1e-9):
            best = max(best, float(prices @ a))
    return best


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(1, 8), st.integers(0, 12), st.integers(0, 9), st.integers(1, 3)),
        min_size=1,
        max_size=4,
    )
)
def test_grid_pricer_finds_the_knapsack_maximum(items):
    # CPU in quarters of a core, memory in GiB: the common units make the grid exact.
    pool = Pool("n", count=4, capacity={"cpu": 4.0, "memory": 16 * GI})
    services = tuple(
        Service(f"s{i}", replicas=reps, demand={"cpu": cpu / 4, "memory": mem * GI})
        for i, (cpu, mem, _, reps) in enumerate(items)
    )
    inst = Instance.compile(PackingProblem((pool,), services))
    shape = PoolShape.build(inst, 0)
    grid = GridKnapsack.build(inst, shape)
    assert grid is not None
    prices = np.array([price / 3 for *_, price, _ in items])[shape.classes]
    bound = inst.per_node[shape.classes, 0]
    value, counts = grid.solve(prices, bound)
    expected = _brute_force(inst.demand[shape.classes], inst.usable[0], prices, bound)
    assert value == pytest.approx(expected, abs=1e-9)
    assert float(prices @ counts) == pytest.approx(value, abs=1e-9)
    assert np.all(counts <= bound)
    full = np.zeros(len(services), dtype=np.int64)
    full[shape.classes] = counts
    assert pattern_fits(inst, 0, full)


def test_grid_pricer_needs_a_common_unit_and_a_small_grid():
    pool = Pool("n", count=4, capacity={"cpu": 64.0, "memory": 256 * GI})
    exact = (
        Service("a", 1, {"cpu": 0.25, "memory": 0.5 * GI}),
        Service("b", 1, {"cpu": 1.5, "memory": 3 * GI}),
    )
    inst = Instance.compile(PackingProblem((pool,), exact))
    grid = GridKnapsack.build(inst, PoolShape.build(inst, 0))
    assert grid is not None and grid.cells == (256, 512)
    assert grid.weights.tolist() == [[1, 1], [6, 6]]
    fine = (Service("a", 1, {"cpu": 0.001, "memory": 1.0}), Service("b", 1, {"cpu": 1.0, "memory": 3.0}))
    inst = Instance.compile(PackingProblem((pool,), fine))
    assert GridKnapsack.build(inst, PoolShape.build(inst, 0)) is None  # 64,000 x 2.7e11 cells


def test_repair_mixes_complementary_replicas_on_new_nodes():
    # 4 CPU-heavy and 4 memory-heavy replicas: class by class, first-fit decreasing opens a node per
    # pair of a kind (4 nodes); a node holds one of each kind twice (2 nodes).
    pool = Pool("n", count=8, capacity={"cpu": 8, "memory": 8 * GI})
    services = (
        Service("cpu-heavy", 4, {"cpu": 3, "memory": 1 * GI}),
        Service("mem-heavy", 4, {"cpu": 1, "memory": 3 * GI}),
    )
    inst = Instance.compile(PackingProblem((pool,), services))
    plan, unplaced = repair(inst, [], inst.count.copy(), deadline=math.inf, node_price=np.ones(1))
    assert not unplaced
    assert len(plan) == 2
    assert all(node.counts == {0: 2, 1: 2} for node in plan)


def test_explanation_of_a_large_component_is_given_once():
    pools = (Pool("n", count=3, capacity={"cpu": 10}),)
    services = tuple(Service(f"svc{i}", 1, {"cpu": 4}) for i in range(40))
    inst = Instance.compile(PackingProblem(pools, services))
    bounds = compute_bounds(inst)
    found = explain_unplaced(
        inst, bounds, {i: 1 for i in range(34)}, proven=False, solver="highs", time_limit_s=2
    )
    assert [s.service for s in found] == [f"svc{i}" for i in range(40)]
    assert "first-fit decreasing left" in found[0].reason
    assert all("first-fit decreasing left" not in s.reason for s in found[1:])
    assert all("none proven impossible (see service 'svc0')" in s.reason for s in found[1:])
    assert len("; ".join(str(s) for s in found)) < 2 * len(str(found[0])) + 40 * 120
