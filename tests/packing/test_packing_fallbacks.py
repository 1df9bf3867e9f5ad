"""Fallback and failure paths of the solver layer: no HiGHS, no CBC, a solver that crashes, a solver that
claims infeasibility against a known plan, a solver answer missing values; each must end in a valid plan
or a `SolverError` that says which solver failed, never a stray PuLP exception."""

from __future__ import annotations

import pulp
import pytest
from packing_checks import assert_honest, assert_valid

from capacity.errors import SolverError
from capacity.packing import PackingProblem, Pool, Service, backends, engine, solve
from capacity.packing.backends import SolverOutcome, choose_backend

# First-fit decreasing needs 3 nodes, the optimum is 2 (see test_packing_status.py).
POOL = Pool("n", count=5, capacity={"cpu": 10})
PROBLEM = PackingProblem((POOL,), (Service("a", 2, {"cpu": 4}), Service("b", 4, {"cpu": 3})))


class _NoBinary:
    def available(self) -> bool:
        return False


def test_no_solver_at_all_is_a_solver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "highs_available", lambda: False)
    monkeypatch.setattr(backends, "_bundled_cbc", lambda **kw: _NoBinary())
    with pytest.raises(SolverError, match="no MIP solver"):
        choose_backend("highs")
    with pytest.raises(SolverError, match="no MIP solver"):
        solve(PROBLEM)


def test_cbc_is_chosen_when_asked_even_with_highs_present() -> None:
    assert choose_backend("cbc") == "cbc"
    placement = solve(PackingProblem(PROBLEM.pools, PROBLEM.services, solver="cbc"))
    assert placement.solver == "cbc" and placement.nodes_used == 2 and placement.status == "optimal"
    assert_valid(PROBLEM, placement)


def test_a_crashing_highs_becomes_a_solver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: object, lp: pulp.LpProblem) -> None:
        raise pulp.PulpSolverError("simulated crash")

    monkeypatch.setattr(backends._HighsFromStart, "callSolver", crash)
    with pytest.raises(SolverError, match="HiGHS failed: simulated crash"):
        solve(PROBLEM, formulation="aggregated")


class _CrashingCbc:
    def __init__(self, **kwargs: object) -> None:
        self.kwargs = kwargs  # called bare by choose_backend, with the options by solve_cbc

    def available(self) -> bool:
        return True

    def actualSolve(self, lp: pulp.LpProblem, **kwargs: object) -> int:
        raise pulp.PulpSolverError("Pulp: Error while executing cbc")


def test_a_crashing_cbc_becomes_a_solver_error_with_the_log_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "_bundled_cbc", _CrashingCbc)
    problem = PackingProblem(PROBLEM.pools, PROBLEM.services, solver="cbc")
    with pytest.raises(SolverError) as err:
        solve(problem)
    # CBC wrote no log before dying: the message says so instead of failing on the missing file.
    assert str(err.value) == "CBC failed: Pulp: Error while executing cbc; log ends: (no log)"


def test_tail_of_a_log(tmp_path) -> None:
    log = tmp_path / "cbc.log"
    log.write_text("x" * 1000 + "Result - Stopped on time limit\n")
    assert backends._tail(str(log), chars=31) == "Result - Stopped on time limit"
    assert backends._tail(str(tmp_path / "missing.log")) == "(no log)"


def test_an_infeasibility_claim_against_a_known_plan_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    def liar(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        return SolverOutcome("highs", False, False, True, None, "Infeasible (wrong)")

    monkeypatch.setitem(engine.BACKENDS, "highs", liar)
    placement = solve(PROBLEM, formulation="aggregated")
    # The greedy plan (3 nodes) stands; no proof of anything is claimed beyond the combinatorial bound.
    assert_valid(PROBLEM, placement)
    assert_honest(placement)
    assert placement.nodes_used == 3 and placement.status == "feasible" and placement.lower_bound == 2


def test_missing_variable_values_are_not_read_as_a_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_values(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        for v in prob.variables():
            v.varValue = None
        return SolverOutcome("highs", True, True, False, 2.0, "Optimal (values lost)")

    monkeypatch.setitem(engine.BACKENDS, "highs", no_values)
    placement = solve(PROBLEM, formulation="aggregated")
    assert_valid(PROBLEM, placement)
    assert placement.nodes_used == 3  # the greedy plan: the solver's claim had nothing behind it
    assert placement.status == "feasible" and placement.lower_bound == 2


def test_a_warm_start_reaches_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real = engine.BACKENDS["highs"]

    def spy(prob: pulp.LpProblem, time_limit_s: float, start: object) -> SolverOutcome:
        seen.append(start)
        return real(prob, time_limit_s, start)

    monkeypatch.setitem(engine.BACKENDS, "highs", spy)
    placement = solve(PROBLEM, formulation="aggregated", warm_start=True)
    assert placement.nodes_used == 2 and placement.status == "optimal"
    start = seen[0]
    assert isinstance(start, dict)
    # The start is the greedy plan: 3 nodes used, every replica placed.
    used = sum(v for var, v in start.items() if var.name.startswith("y_"))
    placed = sum(v for var, v in start.items() if var.name.startswith("x_"))
    assert used == 3 and placed == 6
    solve(PROBLEM, formulation="aggregated", warm_start=False)
    assert seen[1] is None
