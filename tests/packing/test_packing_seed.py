"""The seed example: five services on 4-CPU / 8-GiB nodes; three nodes are optimal and provably so."""

from __future__ import annotations

import dataclasses

import pytest
from packing_checks import assert_honest, assert_valid

from capacity.packing import (
    BASELINES,
    PackingProblem,
    Placement,
    Pool,
    Service,
    first_fit_decreasing,
    lower_bound,
    solve,
)

GiB = 2**30


def seed_problem(**kwargs: object) -> PackingProblem:
    pools = (Pool("node", count=10, capacity={"cpu": 4, "memory": 8 * GiB}),)
    services = tuple(
        Service(name, 1, {"cpu": cpu, "memory": mem * GiB})
        for name, cpu, mem in [("A", 2, 4), ("B", 1, 2), ("C", 3, 6), ("D", 2, 4), ("E", 1, 2)]
    )
    return PackingProblem(pools, services, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_seed_example_is_packed_on_three_nodes_proven_optimal(solver: str) -> None:
    problem = seed_problem(solver=solver)
    placement = solve(problem)
    assert placement.solver == solver
    assert placement.nodes_used == 3
    assert placement.lower_bound == 3
    assert placement.status == "optimal"
    assert placement.objective_value == 3.0
    assert placement.objective_bound == 3.0
    assert placement.gap == 0.0
    assert placement.cost_per_hour is None  # the pool has no cost
    assert placement.solve_time_s < 5
    assert_valid(problem, placement)
    assert_honest(placement)


def test_seed_example_lower_bound_and_ffd() -> None:
    problem = seed_problem()
    assert lower_bound(problem) == 3  # 9 CPU / 4 per node
    ffd = first_fit_decreasing(problem)
    assert ffd.solver == "ffd"
    assert ffd.nodes_used == 3
    assert ffd.status == "optimal"  # it meets the bound
    assert_valid(problem, ffd)
    assert BASELINES["ffd"] is first_fit_decreasing


def test_placement_fields_are_filled_as_documented() -> None:
    problem = seed_problem()
    placement = solve(problem)
    assert [n.name for n in placement.nodes] == ["node-0", "node-1", "node-2"]
    assert all(n.pool == "node" for n in placement.nodes)
    assert sorted(placement.assignment) == ["A-0", "B-0", "C-0", "D-0", "E-0"]
    for node in placement.nodes:
        assert node.capacity == {"cpu": 4.0, "memory": float(8 * GiB)}
        assert set(node.used) == {"cpu", "memory"}
    assert placement.unplaced == []


def _without_time(p: Placement) -> dict[str, object]:
    out = dataclasses.asdict(p)
    out.pop("solve_time_s")
    return out


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_same_input_gives_the_same_placement(solver: str) -> None:
    problem = seed_problem(solver=solver)
    assert _without_time(solve(problem)) == _without_time(solve(problem))
    assert _without_time(first_fit_decreasing(problem)) == _without_time(first_fit_decreasing(problem))
