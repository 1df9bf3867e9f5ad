"""MIP solvers behind PuLP, and what they really proved.

A **backend** runs a `pulp.LpProblem` under a time limit, optionally from a warm start, and returns a
`SolverOutcome`: whether an integer solution came back, whether the solver proved it optimal or proved
the model infeasible, and the solver's **dual bound** (no solution can beat it). PuLP's own status is not
enough: after a time limit ``LpStatus[prob.status]`` says ``Optimal`` for a merely feasible incumbent, and
CBC can stop with ``Not Solved`` and LP values in the variables. So a backend reads ``prob.sol_status``
(integer solution or not) and takes the bound from the solver itself:

* ``highs`` — `pulp.HiGHS` (the highspy API, in process). The warm start goes in through
  ``Highs.setSolution`` just before ``run()`` (PuLP's HiGHS class has no warm-start option); the bound is
  ``Highs.getInfo().mip_dual_bound`` and the outcome ``Highs.getModelStatus()``.
* ``cbc`` — `pulp.PULP_CBC_CMD` (the bundled binary). The bound is read from CBC's log (``Lower bound:``
  after a stop, the objective itself when CBC reports ``Optimal solution found``, within its relative
  gap). CBC gets **no warm start**: with PuLP's ``warmStart`` (a MIP start file) the bundled CBC 2.10
  spent the whole time limit of 1-2 s processing the start on 120-item instances (0 branch-and-bound
  nodes) and, when the limit expired during that phase, intermittently crashed (segmentation fault,
  exit code 139; about 1 run in 4 with ``timeMode elapsed``, still sometimes with ``cpu``). The engine
  keeps the greedy plan when CBC finds nothing better, so nothing is lost. The time limit is counted in
  CPU seconds (single-threaded, close to wall time), the mode in which no crash was seen without a start.

Both search serially with fixed seeds (HiGHS's MIP search is serial by default, "Parallel search off" in
its log; CBC gets ``threads 1``), so that a run that ends before its time limit is repeatable. Both stop
at a relative gap of 1e-6, the tolerance with which `capacity.packing` calls a plan optimal.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pulp

from capacity.errors import SolverError

log = logging.getLogger(__name__)

GAP_REL = 1e-6
"""Relative gap at which a solver may stop and call its incumbent optimal."""


@dataclass(frozen=True)
class SolverOutcome:
    solver: str  # "highs" or "cbc"
    has_solution: bool  # an integer solution is in the variables' values
    proved_optimal: bool  # the solver says so (the engine still checks it against the bound)
    proved_infeasible: bool  # the model has no solution at all
    dual_bound: float | None  # proven lower bound on the objective (minimisation)
    detail: str  # the solver's own status words, for logs and errors
    time_limit_reached: bool = False  # the solver stopped at its time limit (its answer depends on speed)


Backend = Callable[[pulp.LpProblem, float, "dict[pulp.LpVariable, float] | None"], SolverOutcome]


def highs_available() -> bool:
    """True when the highspy package can be imported (PuLP's HiGHS API needs it)."""
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return bool(pulp.HiGHS().available())


class _HighsFromStart(pulp.HiGHS):
    """`pulp.HiGHS` that hands a complete warm start to HiGHS before solving."""

    def __init__(self, start: dict[pulp.LpVariable, float] | None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start = start

    def callSolver(self, lp: pulp.LpProblem) -> None:  # PuLP's method name
        if self.start:
            variables = lp.variables()
            index = np.array([v.index for v in variables], dtype=np.int32)
            value = np.array([self.start.get(v, 0.0) for v in variables], dtype=np.float64)
            lp.solverModel.setSolution(len(index), index, value)
        lp.solverModel.run()


def solve_highs(
    prob: pulp.LpProblem, time_limit_s: float, start: dict[pulp.LpVariable, float] | None
) -> SolverOutcome:
    import highspy

    solver = _HighsFromStart(start, msg=False, timeLimit=time_limit_s, gapRel=GAP_REL, random_seed=0)
    try:
        prob.solve(solver)
    except pulp.PulpSolverError as exc:
        raise SolverError(f"HiGHS failed: {exc}") from exc
    h = prob.solverModel
    status = h.getModelStatus()
    info = h.getInfo()
    infeasible = status == highspy.HighsModelStatus.kInfeasible
    has_solution = (
        prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        and info.primal_solution_status == 2  # kSolutionStatusFeasible
    )
    bound = float(info.mip_dual_bound)
    return SolverOutcome(
        solver="highs",
        has_solution=has_solution and not infeasible,
        proved_optimal=status == highspy.HighsModelStatus.kOptimal,
        proved_infeasible=infeasible,
        dual_bound=bound if math.isfinite(bound) else None,
        detail=f"{h.modelStatusToString(status)} (PuLP sol_status {prob.sol_status})",
        time_limit_reached=status == highspy.HighsModelStatus.kTimeLimit,
    )


_RESULT = re.compile(r"^Result - (.+)$", re.MULTILINE)
_OBJECTIVE = re.compile(r"^Objective value:\s+(\S+)", re.MULTILINE)
_LOWER = re.compile(r"^Lower bound:\s+(\S+)", re.MULTILINE)


def cbc_bound(log_text: str) -> tuple[str, float | None]:
    """CBC's result line and the dual bound it printed (None when it printed none)."""
    result = _RESULT.search(log_text)
    words = result.group(1).strip() if result else ""
    lower = _LOWER.search(log_text)
    if lower:
        return words, float(lower.group(1))
    objective = _OBJECTIVE.search(log_text)
    if words.startswith("Optimal solution found") and objective:
        value = float(objective.group(1))
        return words, value - GAP_REL * max(1.0, abs(value))  # optimal within CBC's ratio gap
    return words, None


def solve_cbc(
    prob: pulp.LpProblem, time_limit_s: float, start: dict[pulp.LpVariable, float] | None
) -> SolverOutcome:
    """CBC; ``start`` is ignored (see the module docstring)."""
    del start
    for v in prob.variables():
        v.varValue = None  # so that a run without a solution leaves no stale values behind
    with tempfile.TemporaryDirectory(prefix="capacity-cbc-") as tmp:
        log_path = os.path.join(tmp, "cbc.log")
        # CPU time, not PuLP's default "elapsed" (see the module docstring).
        solver = _bundled_cbc(
            msg=False,
            timeLimit=time_limit_s,
            gapRel=GAP_REL,
            logPath=log_path,
            threads=1,
            timeMode="cpu",
        )
        try:
            prob.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"CBC failed: {exc}; log ends: {_tail(log_path)}") from exc
        with open(log_path, encoding="utf-8", errors="replace") as f:
            words, bound = cbc_bound(f.read())
    # "Infeasible" and "Integer infeasible" both map to LpStatusInfeasible; PuLP leaves sol_status at
    # 0 (no solution) for the second.
    infeasible = (
        prob.status == pulp.LpStatusInfeasible
        or prob.sol_status == pulp.LpSolutionInfeasible
        or words.startswith("Problem proven infeasible")
    )
    return SolverOutcome(
        solver="cbc",
        has_solution=not infeasible
        and prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible),
        proved_optimal=not infeasible and prob.sol_status == pulp.LpSolutionOptimal,
        proved_infeasible=infeasible,
        dual_bound=bound,
        detail=f"{words or pulp.LpStatus[prob.status]} (PuLP sol_status {prob.sol_status})",
        time_limit_reached=words.startswith("Stopped on time"),
    )


def _bundled_cbc(**kwargs: object) -> pulp.PULP_CBC_CMD:
    """PuLP's bundled CBC binary. PuLP 3.3 deprecates this class in favour of ``COIN_CMD`` with a CBC
    installed separately (``pulp[cbc]``); until the project depends on that, the bundled binary is the
    one every installation has, so its deprecation warning is silenced here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PULP_CBC_CMD is deprecated", category=DeprecationWarning)
        return pulp.PULP_CBC_CMD(**kwargs)


def _tail(path: str, chars: int = 400) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()[-chars:].strip()
    except OSError:
        return "(no log)"


BACKENDS: dict[str, Backend] = {
    "highs": solve_highs,
    "cbc": solve_cbc,
}


def choose_backend(requested: str) -> str:
    """``requested`` if it can run here; HiGHS falls back to CBC when highspy is missing."""
    if requested == "highs" and highs_available():
        return "highs"
    if requested == "highs":
        log.info("highspy is not importable: using CBC instead of HiGHS")
    if not _bundled_cbc().available():
        raise SolverError("no MIP solver: highspy is not importable and PuLP's CBC binary is missing")
    return "cbc"
