"""The status is earned: a solver's word is checked against the bound and its answer against the rules.

Stub backends play the solver misbehaviours listed in design.md ("Known pitfalls"): a time limit with no
incumbent, ``Optimal`` on LP values, an invalid plan, a dual bound above the plan.
"""

from __future__ import annotations

from collections.abc import Callable

import pulp
import pytest
from packing_checks import assert_honest, assert_valid

from capacity.errors import InfeasiblePlacement
from capacity.packing import PackingProblem, Pool, Service, backends, engine, first_fit_decreasing, solve
from capacity.packing.backends import SolverOutcome, cbc_bound

# First-fit decreasing needs 3 nodes (4+4 | 3+3+3 | 3), the optimum is 2 (4+3+3 twice).
POOL = Pool("n", count=5, capacity={"cpu": 10})
PROBLEM = PackingProblem((POOL,), (Service("a", 2, {"cpu": 4}), Service("b", 4, {"cpu": 3})))

Stub = Callable[[pulp.LpProblem, float, object], SolverOutcome]


def with_backend(monkeypatch: pytest.MonkeyPatch, stub: Stub) -> None:
    monkeypatch.setitem(engine.BACKENDS, "highs", stub)


def test_the_instance_separates_ffd_from_the_optimum() -> None:
    assert first_fit_decreasing(PROBLEM).nodes_used == 3
    placement = solve(PROBLEM)
    assert placement.nodes_used == 2 and placement.status == "optimal"
    assert_valid(PROBLEM, placement)


def test_time_limit_without_incumbent_returns_the_greedy_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    def stub(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        return SolverOutcome("highs", False, False, False, 1.7, "Time limit reached")

    with_backend(monkeypatch, stub)
    placement = solve(PROBLEM, formulation="aggregated")
    assert_valid(PROBLEM, placement)
    assert_honest(placement)
    assert placement.solver == "highs"  # the engine that ran; the status says how good it is
    assert placement.nodes_used == 3
    assert placement.lower_bound == 2  # ours (20 cpu / 10), better than the solver's ceil(1.7)
    assert placement.status == "feasible"
    assert placement.gap == pytest.approx(1 / 3)


def test_optimal_claim_on_lp_values_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    # CBC's "Not Solved" with LP values, or LpStatus "Optimal" after a time limit.
    def stub(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        for v in prob.variables():
            v.varValue = 0.5
        return SolverOutcome("highs", True, True, False, 1.5, "Optimal (LP values)")

    with_backend(monkeypatch, stub)
    placement = solve(PROBLEM, formulation="aggregated")
    assert_valid(PROBLEM, placement)
    assert placement.nodes_used == 3 and placement.status == "feasible"


def test_an_integral_but_invalid_answer_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    def stub(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        for v in prob.variables():  # everything on node 0: 20 cpu on a 10-cpu node
            v.varValue = float(v.upBound) if v.name.endswith("_0") else 0.0
        return SolverOutcome("highs", True, True, False, 1.0, "Optimal")

    with_backend(monkeypatch, stub)
    placement = solve(PROBLEM, formulation="aggregated")
    assert_valid(PROBLEM, placement)
    assert placement.nodes_used == 3 and placement.status == "feasible"


def test_a_bound_above_the_plan_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    def stub(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        return SolverOutcome("highs", False, False, False, 7.0, "nonsense")

    with_backend(monkeypatch, stub)
    placement = solve(PROBLEM, formulation="aggregated")
    assert placement.lower_bound == 2 and placement.status == "feasible"


def test_solver_bound_raises_the_lower_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    def stub(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        return SolverOutcome("highs", False, False, False, 2.4, "Time limit reached")

    with_backend(monkeypatch, stub)
    placement = solve(PROBLEM, formulation="aggregated")
    assert placement.lower_bound == 3  # ceil(2.4): the greedy plan is proven optimal by the solver
    assert placement.status == "optimal"


def test_no_plan_and_no_proof_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    def stub(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        return SolverOutcome("highs", False, False, False, None, "Time limit reached")

    with_backend(monkeypatch, stub)
    pool = Pool("n", 2, {"cpu": 10})
    problem = PackingProblem(
        (pool,), (Service("a", 3, {"cpu": 4}), Service("b", 2, {"cpu": 4})), time_limit_s=2
    )
    with pytest.raises(InfeasiblePlacement) as info:
        solve(problem, formulation="aggregated")
    assert all(
        "no placement found within the 2 s time limit and none proven impossible" in s.reason
        for s in info.value.shortages
    )


def test_time_limit_is_passed_to_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    def stub(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        seen.append(time_limit_s)
        return SolverOutcome("highs", False, False, False, None, "Time limit reached")

    with_backend(monkeypatch, stub)
    solve(PackingProblem(PROBLEM.pools, PROBLEM.services, time_limit_s=3.0), formulation="aggregated")
    assert 2.5 < seen[0] <= 3.0


@pytest.mark.parametrize("warm_start", [True, False])
def test_warm_start_option(warm_start: bool) -> None:
    placement = solve(PROBLEM, warm_start=warm_start)
    assert placement.nodes_used == 2 and placement.status == "optimal"


def test_cbc_when_highspy_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "highs_available", lambda: False)
    placement = solve(PROBLEM)  # auto: CBC runs the aggregated model
    assert placement.solver == "cbc"
    assert placement.nodes_used == 2 and placement.status == "optimal"


def test_unknown_formulation_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="formulation"):
        solve(PROBLEM, formulation="bogus")


CBC_STOPPED = """
Cbc0005I Partial search - best objective 47 (best possible 40), took 0 iterations
Result - Stopped on time limit

Objective value:                47.00000000
Lower bound:                    40.000
Gap:                            0.17
"""
CBC_OPTIMAL = """
Result - Optimal solution found

Objective value:                3.00000000
Enumerated nodes:               0
"""
CBC_NOTHING = """
Result - Stopped on time limit

No feasible solution found
"""


def test_cbc_log_gives_the_bound() -> None:
    assert cbc_bound(CBC_STOPPED) == ("Stopped on time limit", 40.0)
    words, bound = cbc_bound(CBC_OPTIMAL)
    assert words == "Optimal solution found" and bound == pytest.approx(3.0, abs=1e-5)
    assert bound is not None and bound <= 3.0
    assert cbc_bound(CBC_NOTHING) == ("Stopped on time limit", None)
    assert cbc_bound("") == ("", None)
