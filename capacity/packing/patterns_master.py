"""The restricted master problem of the pattern formulation, kept in one HiGHS model.

The **master** chooses how many nodes to run with each known pattern (a *column*, see
`capacity.packing.patterns_pricing`):

    minimise   sum_j cost_{p(j)} lambda_j
    subject to sum_j a_{c,j} lambda_j >= n_c        cover[c]: every replica of class c is on some node
               sum_{j of p} lambda_j  <= m_p        count[p]: pool p has m_p nodes
               lambda_j >= 0 (integer in the MIP)

Cover rows are ``>=`` (a plan may offer more slots than replicas; the surplus is removed afterwards), which
keeps the prices ``pi_c >= 0`` and lets any pattern stay useful when demands shrink during a dive.

`Master` is one `highspy.Highs` LP to which columns are added one by one (`Master.add`): HiGHS keeps its
basis, so a re-solve after adding columns is a warm start (a few simplex iterations, not a new solve).
The right-hand sides can be changed (`Master.set_rhs`) for the residual problems of a dive. `Master.mip`
solves the same columns as an integer program (price-and-branch) in a separate HiGHS model, so the LP
stays intact.

**Artificial columns** (``pool == -1``) cover one class each at a prohibitive cost; they are added only
when no complete starting plan is known, so that the first LP is feasible. A solution that uses one is
not a plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np

_INF = highspy.kHighsInf


@dataclass(frozen=True)
class LpSolution:
    value: float
    prices: np.ndarray  # [class] pi_c >= 0, dual of cover[c]
    pool_duals: np.ndarray  # [pool] mu_p <= 0, dual of count[p]
    columns: np.ndarray  # [column] lambda_j


@dataclass(frozen=True)
class MipSolution:
    columns: np.ndarray | None  # [column] integer lambda_j, None when HiGHS found no solution
    value: float | None
    bound: float  # HiGHS's dual bound over these columns only (not a global bound)
    detail: str


class Master:
    """Columns (patterns) and the LP over them; see the module docstring."""

    def __init__(self, demand: np.ndarray, count: np.ndarray, cost: np.ndarray) -> None:
        self.n_classes = len(demand)
        self.n_pools = len(count)
        self.cost = np.asarray(cost, dtype=float)
        self.pools: list[int] = []  # pool of each column (-1: artificial)
        self.patterns: list[np.ndarray] = []  # [class] counts of each column
        self._index: dict[tuple[int, bytes], int] = {}
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("threads", 1)
        h.setOptionValue("presolve", "off")  # re-solves start from the previous basis
        rows = self.n_classes + self.n_pools
        lower = np.concatenate([np.asarray(demand, float), np.full(self.n_pools, -_INF)])
        upper = np.concatenate([np.full(self.n_classes, _INF), np.asarray(count, float)])
        h.addRows(rows, lower, upper, 0, np.zeros(rows, dtype=np.int32), np.zeros(0, np.int32), np.zeros(0))
        self.h = h
        self.big = 1.0

    def __len__(self) -> int:
        return len(self.patterns)

    def add(self, pool: int, counts: np.ndarray, cost: float | None = None) -> int | None:
        """Add a column (pool ``-1``: artificial); None when the same pattern is already there."""
        counts = np.asarray(counts, dtype=np.int64)
        key = (pool, counts.tobytes())
        if key in self._index or not counts.any():
            return None
        rows = np.flatnonzero(counts > 0)
        values = counts[rows].astype(float)
        if pool >= 0:
            rows = np.append(rows, self.n_classes + pool)
            values = np.append(values, 1.0)
            price = float(self.cost[pool])
        else:
            price = float(cost if cost is not None else self.big)
        self.h.addCol(price, 0.0, _INF, len(rows), rows.astype(np.int32), values)
        j = len(self.patterns)
        self._index[key] = j
        self.pools.append(pool)
        self.patterns.append(counts)
        return j

    def set_rhs(self, demand: np.ndarray, count: np.ndarray) -> None:
        """New right-hand sides: replicas still wanted per class, nodes still free per pool."""
        for c, n in enumerate(demand):
            self.h.changeRowBounds(c, float(n), _INF)
        for p, m in enumerate(count):
            self.h.changeRowBounds(self.n_classes + p, -_INF, float(m))

    def set_upper(self, j: int, upper: float) -> None:
        """Bound one column (0 forbids it; ``inf`` frees it)."""
        self.h.changeColBounds(j, 0.0, upper)

    def solve(self) -> LpSolution | None:
        """Solve the LP; None when it is infeasible (the count rows cannot be met)."""
        h = self.h
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        duals = np.asarray(sol.row_dual)
        return LpSolution(
            value=float(h.getInfo().objective_function_value),
            prices=np.maximum(duals[: self.n_classes], 0.0),
            pool_duals=np.minimum(duals[self.n_classes :], 0.0),
            columns=np.maximum(np.asarray(sol.col_value), 0.0),
        )

    def mip(
        self,
        time_limit_s: float,
        *,
        start: np.ndarray | None,
        floor: float | None,
        integral_costs: bool,
        keep: list[int] | None = None,
        max_nodes: int | None = None,
    ) -> MipSolution:
        """Integer ``lambda`` over the current columns (artificial ones excluded), under a time limit.

        ``start``: a feasible integer ``lambda`` to begin from. ``floor``: a proven lower bound on the
        objective, added as a row (it cuts off no plan and lets HiGHS stop as soon as a plan meets it).
        ``integral_costs``: every plan's objective is an integer (min-nodes), so a gap below 1 is closed.
        ``keep``: only these columns may be used (the others are fixed at 0); all when None.
        ``max_nodes``: at most this many branch-and-bound nodes (HiGHS's ``mip_max_nodes``: a work
        budget, so that the answer does not depend on the machine's speed; the time limit is the
        safety net).
        """
        lp = self.h.getLp()
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("threads", 1)
        h.setOptionValue("mip_rel_gap", 1e-6)
        if integral_costs:
            h.setOptionValue("mip_abs_gap", 1.0 - 1e-6)
        h.setOptionValue("time_limit", max(0.05, float(time_limit_s)))
        if max_nodes is not None:
            h.setOptionValue("mip_max_nodes", int(max_nodes))
        h.passModel(lp)
        n = h.getNumCol()
        h.changeColsIntegrality(
            n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n)
        )
        kept = set(range(n)) if keep is None else set(keep)
        artificial = np.array([j for j, p in enumerate(self.pools) if p < 0 or j not in kept], dtype=np.int32)
        if artificial.size:
            h.changeColsBounds(
                len(artificial), artificial, np.zeros(len(artificial)), np.zeros(len(artificial))
            )
        if floor is not None and n:
            idx = np.arange(n, dtype=np.int32)
            h.addRow(float(floor), _INF, n, idx, np.asarray(lp.col_cost_, dtype=float))
        if start is not None:
            h.setSolution(n, np.arange(n, dtype=np.int32), np.asarray(start, dtype=float))
        h.run()
        info = h.getInfo()
        status = h.getModelStatus()
        bound = float(info.mip_dual_bound)
        detail = h.modelStatusToString(status)
        if info.primal_solution_status != 2:
            return MipSolution(None, None, bound if math.isfinite(bound) else -math.inf, detail)
        x = np.rint(np.maximum(np.asarray(h.getSolution().col_value), 0.0)).astype(np.int64)
        return MipSolution(
            x, float(info.objective_function_value), bound if math.isfinite(bound) else -math.inf, detail
        )
