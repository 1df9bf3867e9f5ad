"""Pricing for the pattern formulation: the most valuable node pattern of one pool under given prices.

A **pattern** of pool ``p`` is a vector ``a`` of replica counts, one entry per service (class), that one
node of ``p`` can hold: ``sum_c a_c d[c,r] <= U[p,r]`` for every resource ``r`` (``U`` after headroom,
within `capacity.packing.instance.FIT_RTOL`) and ``0 <= a_c <= u[c,p]`` (``Instance.per_node``: node
selector, fit and ``max_per_node``).

Column generation hands every service a **price** ``pi_c >= 0`` (the dual value of its cover row: what one
more replica of it costs the master at the margin). **Pricing** asks for the pattern of ``p`` that is
worth the most at those prices,

    z_p(pi) = max  sum_c pi_c a_c   over the patterns a of p,

a bounded integer multi-dimensional knapsack. A pattern is worth adding to the master when its reduced
cost ``cost_p - mu_p - pi.a`` is negative (``mu_p <= 0``: the dual of the pool's node-count row).

Four pricers, used in this order:

* `greedy_patterns` — heuristics (numpy, milliseconds per pool): static greedy orders (price per summed,
  bottleneck or LP-dual-weighted size), the rounded-down knapsack LP solution completed greedily, and the
  *dynamic* greedy (each next replica chosen by price per share of the capacity still free, so that
  replicas heavy in different resources end up together) started from many single classes at once;
  the best are improved by drop-and-refill. They prove nothing when they find nothing.
* `pair_patterns` — the dynamic greedy from every fitting *pair* of priced classes (the most valuable
  first): close to enumeration when nodes hold two to four replicas, as in vector-packing benchmarks.
  Skipped on pools that the grid pricer prices.
* `GridKnapsack` — exact, by dynamic programming over the node's capacity grid, when every size in the
  pool is a whole multiple of a common unit per resource (0.25 cores, 256 MiB, 1 GPU: requests are
  written that way) and the grid has at most about a million cells (a 64-core, 256-GiB node in quarter
  cores and quarter GiB: 231 x 922). Tens of milliseconds per pool; it returns the maximum itself, so
  column generation converges and the Lagrangian bound is tight. On measured fleets (the scale benchmark)
  it replaced MIP pricing rounds of 3-20 s that often stopped at their limit.
* `ExactPricer` — the grid pricer when it applies, else a HiGHS MIP of the knapsack, one model per pool
  built once, only the objective, the bounds and a threshold row change between calls. It answers a
  *decision*: a pattern worth more than a threshold, or a proof that there is none (much faster than the
  maximum: HiGHS prunes whatever cannot reach the threshold). Either way it returns ``upper``, a value no
  pattern of the pool exceeds at these prices, also when the MIP stopped at its time limit. ``upper`` is
  what makes the column-generation lower bound valid at every iteration (`capacity.packing.patterns`). Its
  LP relaxation (`ExactPricer.relaxation`) gives a cheaper, weaker ``upper`` and guides the greedy pricer.

Capacities are compared **scaled**: a replica of ``c`` takes ``d[c,r] / U[p,r]`` of a node of ``p`` in
``r``, and a node is full at ``1 + FIT_RTOL``. Every pattern returned is re-checked with
`capacity.packing.instance.fits` on the unscaled amounts (HiGHS accepts rows violated by 1e-7) and
trimmed when needed; ``upper`` is not affected by the trimming (a bound of a relaxation stays a bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import highspy
import numpy as np

from capacity.packing.instance import FIT_RTOL, Instance, fits

PRICE_EPS = 1e-9
"""Prices below this count as zero."""
GRID_MAX_WORK = 4e8
"""`GridKnapsack` prices a pool when its cells times its 0/1 items stay below this (about a second)."""


@dataclass(frozen=True)
class PoolShape:
    """What pricing needs to know about one pool: scaled sizes of the classes that may go there."""

    pool: int
    classes: np.ndarray  # [k] class indices placeable on the pool
    sizes: np.ndarray  # [k, R'] scaled size of one replica in each resource the pool limits
    resources: np.ndarray  # [R'] resource indices with a positive size for some class
    per_node: np.ndarray  # [k] most replicas of the class on one node (u[c, p])

    @classmethod
    def build(cls, inst: Instance, p: int) -> PoolShape:
        classes = np.flatnonzero(inst.per_node[:, p] > 0)
        usable = inst.usable[p]
        demand = inst.demand[classes]
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(demand > 0, demand / np.where(usable > 0, usable, 1.0), 0.0)
        resources = np.flatnonzero((scaled > 0).any(axis=0)) if len(classes) else np.zeros(0, int)
        return cls(p, classes, scaled[:, resources], resources, inst.per_node[classes, p].astype(np.int64))


def pattern_fits(inst: Instance, p: int, counts: np.ndarray) -> bool:
    """True when ``counts`` (a full [class] vector) fits one node of pool ``p`` in every resource."""
    return bool(np.all(fits(counts @ inst.demand, inst.usable[p])))


def trim(inst: Instance, p: int, counts: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """``counts`` made to fit one node of ``p``: drop the least valuable replicas per size until it fits."""
    counts = counts.copy()
    while not pattern_fits(inst, p, counts):
        here = np.flatnonzero(counts > 0)
        over = ~fits(counts @ inst.demand, inst.usable[p])
        load = inst.demand[here][:, over].sum(axis=1)
        worth = prices[here] / np.where(load > 0, load, math.inf)
        victim = here[int(np.lexsort((here, worth))[0])]  # cheapest per unit of the overfull resource
        counts[victim] -= 1
    return counts


def _fill(
    order: list[int], sizes: list[tuple[float, ...]], bound: list[int], counts: list[int], free: list[float]
) -> None:
    """Greedy: in ``order``, add as many replicas of each class as fit (in place)."""
    for i in order:
        k = bound[i] - counts[i]
        if k <= 0:
            continue
        for r, x in enumerate(sizes[i]):
            if x > 0.0:
                m = int(free[r] / x)
                if m < k:
                    k = m
                    if k <= 0:
                        break
        if k > 0:
            counts[i] += k
            for r, x in enumerate(sizes[i]):
                free[r] -= k * x


def _dynamic(
    sizes: np.ndarray, prices: np.ndarray, bound: np.ndarray, counts: np.ndarray, free: np.ndarray
) -> None:
    """Dynamic greedy (in place): add the replica worth most per share of the capacity still free.

    A replica's share is ``sum_r size_r / free_r``: after a replica heavy in one resource, replicas
    light in that resource score higher, so complementary replicas end up together.
    """
    while True:
        ok = (counts < bound) & np.all(sizes <= free + 1e-15, axis=1)
        if not ok.any():
            return
        share = (sizes / np.maximum(free, 1e-12)).sum(axis=1)
        score = np.where(ok, prices / (share + 1e-12), -np.inf)
        j = int(np.argmax(score))
        room = free / np.where(sizes[j] > 0, sizes[j], np.inf)
        take = max(1, min(int(bound[j] - counts[j]), int(np.floor(room.min() / 4)) or 1))
        counts[j] += take  # several at once when many fit (a quarter of what fits: cheap, not greedy-blind)
        free -= take * sizes[j]


def _dynamic_batch(
    sizes: np.ndarray, prices: np.ndarray, bound: np.ndarray, counts: np.ndarray, cap: float
) -> np.ndarray:
    """`_dynamic` from many partial patterns at once ([b, k] counts, completed in place and returned)."""
    free = cap - counts @ sizes  # [b, R]
    rows = np.arange(len(counts))
    active = np.all(free >= -1e-12, axis=1)
    while active.any():
        f = free[active]
        ok = (counts[active] < bound) & np.all(sizes[None, :, :] <= f[:, None, :] + 1e-15, axis=2)
        share = (sizes[None, :, :] / np.maximum(f, 1e-12)[:, None, :]).sum(axis=2)
        score = np.where(ok, prices / (share + 1e-12), -np.inf)
        j = np.argmax(score, axis=1)
        can = ok[np.arange(len(j)), j]
        idx = rows[active]
        active[idx[~can]] = False
        idx, j = idx[can], j[can]
        if idx.size == 0:
            break
        room = free[idx] / np.where(sizes[j] > 0, sizes[j], np.inf)
        take = np.minimum(bound[j] - counts[idx, j], np.maximum(1, np.floor(room.min(axis=1) / 4)))
        take = np.maximum(take, 1).astype(np.int64)
        counts[idx, j] += take
        free[idx] -= take[:, None] * sizes[j]
    return counts


def pair_patterns(
    shape: PoolShape, prices: np.ndarray, bound: np.ndarray, *, seeds: int = 3000, keep: int = 8
) -> list[np.ndarray]:
    """A heavier heuristic for when `greedy_patterns` finds nothing: the dynamic greedy from **pairs**.

    Seeds are every pair (i, j) of priced classes that fit one node together, i among the most valuable
    (as many as keep the seeds under ``seeds``); each is completed by the dynamic greedy, and the ``keep``
    best are improved by drop-and-refill. On nodes that hold two to four replicas (most vector-packing
    benchmarks) this is close to enumerating every pattern. Returns [k] count vectors (not yet checked).
    """
    k = len(shape.classes)
    live = np.where(prices > PRICE_EPS, bound, 0).astype(np.int64)
    valuable = np.flatnonzero(live > 0)
    if valuable.size == 0:
        return []
    cap = 1.0 + FIT_RTOL
    sizes = shape.sizes
    top = valuable[np.lexsort((valuable, -prices[valuable]))][: max(1, seeds // len(valuable))]
    pair_i, pair_j = [], []
    for i in top:
        rest = cap - sizes[i]
        fit = np.all(sizes[valuable] <= rest + 1e-15, axis=1) & ((valuable != i) | (live[valuable] >= 2))
        js = valuable[fit]
        pair_i.append(np.full(len(js), i))
        pair_j.append(js)
    ii, jj = np.concatenate(pair_i), np.concatenate(pair_j)
    if ii.size == 0:
        return []
    counts = np.zeros((len(ii), k), dtype=np.int64)
    counts[np.arange(len(ii)), ii] += 1
    counts[np.arange(len(ii)), jj] += 1
    counts = _dynamic_batch(sizes, prices, live, counts, cap)
    values = counts @ prices
    out: list[np.ndarray] = []
    seen: set[bytes] = set()
    for t in np.lexsort((np.arange(len(values)), -values)):
        a = _improve(sizes, prices, live, counts[t], cap)
        key = a.tobytes()
        if key not in seen:
            seen.add(key)
            out.append(a)
            if len(out) >= keep:
                break
    return out


def _improve(
    sizes: np.ndarray,
    prices: np.ndarray,
    bound: np.ndarray,
    counts: np.ndarray,
    cap: float,
    rounds: int = 2,
    tries: int = 4,
) -> np.ndarray:
    """Drop and refill: empty one class out of the pattern, refill dynamically; keep what is better."""
    best, best_value = counts, float(prices @ counts)
    total = sizes.sum(axis=1) + 1e-12
    for _ in range(rounds):
        improved = False
        here = np.flatnonzero(best > 0)
        # the classes worth least per unit of size first; at most `tries` of them (big patterns)
        for i in here[np.lexsort((here, prices[here] / total[here]))][:tries]:
            trial = best.copy()
            trial[i] = 0
            free = cap - trial @ sizes
            limit = bound.copy()
            limit[i] = 0
            _dynamic(sizes, prices, limit, trial, free)
            value = float(prices @ trial)
            if value > best_value + 1e-12:
                best, best_value, improved = trial, value, True
        if not improved:
            break
    return best


def greedy_patterns(
    shape: PoolShape,
    prices: np.ndarray,
    bound: np.ndarray,
    *,
    starts: int = 256,
    improve: int = 2,
    complete: bool = True,
    guide: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Candidate patterns of the pool, as [k] count vectors over ``shape.classes`` (not yet checked).

    ``prices`` and ``bound`` are [k] (price per replica and most replicas per node, already cut to
    what is still wanted). Tried: static orders (price per summed size, price per bottleneck size), the
    dynamic greedy (`_dynamic`) from an empty node and from each of the ``starts`` most valuable
    classes, each improved by drop-and-refill (`_improve`). With the knapsack's LP relaxation
    (``guide``: its solution, ``weights``: its row duals, from `ExactPricer.relaxation`), also its
    rounded-down solution filled dynamically, and the order by price per surrogate size ``weights.size``.
    With ``complete``, every pattern is then topped up with classes of zero price (a maximal pattern
    covers more).
    """
    k = len(shape.classes)
    if k == 0:
        return []
    sizes_np = shape.sizes
    total = sizes_np.sum(axis=1) if sizes_np.shape[1] else np.zeros(k)
    peak = sizes_np.max(axis=1) if sizes_np.shape[1] else np.zeros(k)
    valuable = np.flatnonzero((prices > PRICE_EPS) & (bound > 0))
    if valuable.size == 0:
        return []
    tiny = 1e-12
    orders = []
    denoms = [total, peak]
    if weights is not None and weights.any():
        denoms.append(sizes_np @ weights)
    for denom in denoms:
        eff = prices[valuable] / (denom[valuable] + tiny)
        orders.append([int(i) for i in valuable[np.lexsort((valuable, -eff))]])
    sizes = [tuple(row) for row in sizes_np.tolist()]
    bound_l = [int(b) for b in bound]
    cap = 1.0 + FIT_RTOL
    rest_order: list[int] = []
    if complete:
        rest = np.flatnonzero((prices <= PRICE_EPS) & (bound > 0))
        rest_order = [int(i) for i in rest[np.lexsort((rest, -total[rest]))]]
    out: list[np.ndarray] = []
    seen: set[bytes] = set()
    live = np.where(prices > PRICE_EPS, bound, 0).astype(np.int64)

    def keep(a: np.ndarray) -> None:
        if rest_order:
            counts = a.tolist()
            free = (cap - a @ sizes_np).tolist() if sizes_np.shape[1] else []
            _fill(rest_order, sizes, bound_l, counts, free)
            a = np.array(counts, dtype=np.int64)
        key = a.tobytes()
        if a.any() and key not in seen:
            seen.add(key)
            out.append(a)

    for order in orders:
        counts = [0] * k
        free = [cap] * sizes_np.shape[1]
        _fill(order, sizes, bound_l, counts, free)
        keep(_improve(sizes_np, prices, live, np.array(counts, dtype=np.int64), cap, rounds=1))
    if guide is not None:
        counts_np = np.minimum(np.floor(guide + 1e-9).astype(np.int64), live)
        free_np = cap - counts_np @ sizes_np
        if np.all(free_np >= -1e-12):
            _dynamic(sizes_np, prices, live, counts_np, free_np)
            keep(_improve(sizes_np, prices, live, counts_np, cap))
    counts_np = np.zeros(k, dtype=np.int64)
    _dynamic(sizes_np, prices, live, counts_np, np.full(sizes_np.shape[1], cap))
    keep(_improve(sizes_np, prices, live, counts_np, cap))
    # The dynamic greedy from many first classes at once (the most valuable and the most efficient),
    # the best few of them improved: this finds mixes of replicas that each fill one resource.
    starts = min(starts, max(16, 60_000 // max(1, k * sizes_np.shape[1])))  # bounded work per step
    by_price = valuable[np.lexsort((valuable, -prices[valuable]))][:starts]
    eff = prices[valuable] / (total[valuable] + tiny)
    by_eff = valuable[np.lexsort((valuable, -eff))][:starts]
    firsts = np.unique(np.concatenate([by_price, by_eff]))
    batch = np.zeros((len(firsts), k), dtype=np.int64)
    batch[np.arange(len(firsts)), firsts] = 1
    batch = _dynamic_batch(sizes_np, prices, live, batch, cap)
    values = batch @ prices
    for t in np.lexsort((np.arange(len(values)), -values))[:improve]:
        keep(_improve(sizes_np, prices, live, batch[t], cap))
    return out


def seed_patterns(shape: PoolShape) -> list[np.ndarray]:
    """Per class of the pool: a node with as many replicas of it as fit, then filled by decreasing size.

    These start column generation with a pattern for every class (the master is then feasible whenever
    the pool counts allow it) and give the greedy repair good mixes to build on.
    """
    k = len(shape.classes)
    if k == 0:
        return []
    sizes = [tuple(row) for row in shape.sizes.tolist()]
    total = shape.sizes.sum(axis=1) if shape.sizes.shape[1] else np.zeros(k)
    order = [int(i) for i in np.lexsort((np.arange(k), -total))]
    bound = [int(b) for b in shape.per_node]
    out = []
    for t in range(k):
        counts = [0] * k
        free = [1.0 + FIT_RTOL] * shape.sizes.shape[1]
        _fill([t], sizes, bound, counts, free)
        _fill(order, sizes, bound, counts, free)
        out.append(np.array(counts, dtype=np.int64))
    return out


@dataclass(frozen=True)
class GridKnapsack:
    """Exact pricing of one pool by dynamic programming over its capacity grid (see the module docstring).

    Every size of every class that may go on the pool is a whole multiple of a **unit** per resource (the
    greatest common divisor of the sizes: 0.25 cores, 256 MiB, 1 GPU ...), so a pattern fits exactly when
    its sizes in units add up to at most ``cells[r] = floor(usable[r] / unit[r])``. ``dp[c]`` is then the
    most a pattern using at most ``c`` cells of each resource is worth; each class enters as a few 0/1
    items (binary splitting of its bound: 1, 2, 4, ... replicas). `build` returns None when the sizes
    have no common unit or the grid has more than ``max_states`` cells; the MIP prices those pools.
    """

    classes: np.ndarray  # [k] the shape's classes
    weights: np.ndarray  # [k, R'] cells per replica, in the shape's resources
    cells: tuple[int, ...]  # [R'] cells of one node

    @property
    def states(self) -> int:
        return int(np.prod([c + 1 for c in self.cells]))

    @classmethod
    def build(cls, inst: Instance, shape: PoolShape, max_states: int = 1_100_000) -> GridKnapsack | None:
        if len(shape.classes) == 0 or len(shape.resources) == 0:
            return None
        weights = np.zeros((len(shape.classes), len(shape.resources)), dtype=np.int64)
        cells = []
        states = 1
        for t, r in enumerate(shape.resources):
            grid = integer_cells(inst.demand[shape.classes, r], inst.usable[shape.pool, r])
            if grid is None:
                return None
            weights[:, t], cap = grid
            cells.append(cap)
            states *= cells[-1] + 1
            if states > max_states:
                return None
        return cls(shape.classes, weights, tuple(cells))

    def solve(self, prices: np.ndarray, bound: np.ndarray) -> tuple[float, np.ndarray]:
        """(z, a): the most valuable pattern at ``prices`` ([k]) with ``a <= bound`` ([k]), and its value.

        ``z`` is the exact optimum of the knapsack (up to floating-point sums).
        """
        cells = np.asarray(self.cells, dtype=np.int64)
        dp = np.zeros(tuple(c + 1 for c in self.cells))
        chunks: list[tuple[int, int, np.ndarray, tuple[int, ...], np.ndarray]] = []
        for i in np.flatnonzero((prices > PRICE_EPS) & (bound > 0)):
            w = self.weights[i]
            most = int(bound[i])
            if (w > 0).any():
                most = min(most, int((cells[w > 0] // w[w > 0]).min()))
            size = 1
            while most > 0:
                take = min(size, most)
                most -= take
                size *= 2
                ww = w * take
                hi = tuple(slice(int(x), None) for x in ww)
                lo = tuple(slice(0, int(c + 1 - x)) for c, x in zip(cells, ww, strict=True))
                cand = dp[lo] + take * float(prices[i])
                sub = dp[hi]
                better = cand > sub
                sub[better] = cand[better]
                chunks.append((int(i), take, ww, better.shape, np.packbits(better, axis=None)))
        counts = np.zeros(len(self.classes), dtype=np.int64)
        state = cells.copy()
        for i, take, ww, hi_shape, packed in reversed(chunks):
            if np.all(state >= ww):
                at = int(np.ravel_multi_index(tuple(state - ww), hi_shape))
                if (packed[at >> 3] >> (7 - (at & 7))) & 1:
                    counts[i] += take
                    state -= ww
        return float(dp.flat[-1]), counts


def _common_unit(sizes: np.ndarray) -> float | None:
    """The largest amount of which every size is a whole multiple (sizes as fractions), or None."""
    num, den = 0, 1
    for x in np.unique(sizes):
        f = Fraction(float(x)).limit_denominator(10**6)
        if abs(float(f) - float(x)) > 1e-9 * max(1.0, abs(float(x))):
            return None
        num = math.gcd(num, f.numerator)
        den = den * f.denominator // math.gcd(den, f.denominator)
    return num / den if num > 0 else None


def integer_cells(sizes: np.ndarray, usable: float) -> tuple[np.ndarray, int] | None:
    """Sizes and a node's usable amount of one resource in whole cells of their common unit, or None.

    ``(int64 cells per size, cells per node)``; None when the positive sizes have no common unit or a size
    is not a whole number of units. The node's count is taken a hair upwards (``FIT_RTOL``): one cell too
    many only loosens a bound, and every pattern built on the grid is re-checked against the real sizes.
    """
    unit = _common_unit(sizes[sizes > 0])
    if unit is None:
        return None
    w = sizes / unit
    if np.any(np.abs(w - np.rint(w)) > 1e-6 * np.maximum(1.0, w)):
        return None
    return np.rint(w).astype(np.int64), math.floor((usable * (1.0 + FIT_RTOL) + 1e-12) / unit + 1e-7)


@dataclass(frozen=True)
class Priced:
    """The exact pricer's answer for one pool: the patterns it found and a bound on z_p."""

    counts: list[np.ndarray]  # the patterns found, each [class] of the whole instance
    value: float
    upper: float
    proved: bool  # the MIP finished (value and upper agree within its gap)


class ExactPricer:
    """The knapsack of one pool as a HiGHS MIP, and its LP relaxation (see the module docstring)."""

    def __init__(self, inst: Instance, shape: PoolShape) -> None:
        self.inst = inst
        self.shape = shape
        self.mip = self._model(integer=True)
        self.lp = self._model(integer=False)
        self._cut_row: int | None = None
        self._nodes = 0
        self.grid = GridKnapsack.build(inst, shape)

    def _model(self, *, integer: bool) -> highspy.Highs:
        shape = self.shape
        k = len(shape.classes)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("threads", 1)
        if integer:
            # Measured on 60-item knapsacks: presolve and the primal heuristics (sub-MIPs) cost more
            # than they save on a 3-row model; the incumbent comes from the greedy pricer instead.
            h.setOptionValue("mip_rel_gap", 1e-7)
            h.setOptionValue("mip_max_improving_sols", 8)
            h.setOptionValue("mip_improving_solution_save", True)
            h.setOptionValue("presolve", "off")
            h.setOptionValue("mip_heuristic_effort", 0.0)
            for name in ("rins", "rens", "root_reduced_cost", "zi_round", "shifting", "feasibility_jump"):
                h.setOptionValue(f"mip_heuristic_run_{name}", False)
        inf = highspy.kHighsInf
        if k:
            h.addVars(k, np.zeros(k), shape.per_node.astype(float))
            if integer:
                h.changeColsIntegrality(
                    k, np.arange(k, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * k)
                )
            for r in range(shape.sizes.shape[1]):
                col = shape.sizes[:, r]
                nz = np.flatnonzero(col > 0).astype(np.int32)
                h.addRow(-inf, 1.0 + FIT_RTOL, len(nz), nz, col[nz])
            h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        return h

    def _load(
        self, h: highspy.Highs, prices: np.ndarray, bound: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Set the objective and the bounds; None when no class has a price."""
        shape = self.shape
        k = len(shape.classes)
        mine = np.where(prices[shape.classes] > PRICE_EPS, prices[shape.classes], 0.0)
        ub = np.minimum(shape.per_node, bound[shape.classes]).astype(float)
        ub[mine <= 0] = 0.0
        if k == 0 or not (ub > 0).any():
            return None
        idx = np.arange(k, dtype=np.int32)
        h.changeColsCost(k, idx, mine)
        h.changeColsBounds(k, idx, np.zeros(k), ub)
        return mine, ub

    def relaxation(
        self, prices: np.ndarray, bound: np.ndarray
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """LP relaxation: its value (an upper bound on z_p), its solution [k] and row duals [R']."""
        loaded = self._load(self.lp, prices, bound)
        if loaded is None:
            return 0.0, None, None
        h = self.lp
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return float((loaded[0] * loaded[1]).sum()), None, None
        sol = h.getSolution()
        value = float(h.getInfo().objective_function_value)
        return value, np.asarray(sol.col_value), np.abs(np.asarray(sol.row_dual))

    def _price_grid(self, prices: np.ndarray, mine: np.ndarray, ub: np.ndarray) -> Priced:
        """The exact maximum by `GridKnapsack`; ``upper`` is it plus a hair for floating-point sums."""
        assert self.grid is not None
        z, a = self.grid.solve(mine, np.rint(ub).astype(np.int64))
        full = np.zeros(len(self.inst.services), dtype=np.int64)
        full[self.shape.classes] = a
        full = trim(self.inst, self.shape.pool, full, prices)
        value = float(prices @ full)
        upper = max(z, value) * (1.0 + 1e-12) + 1e-12
        return Priced([full] if full.any() else [], value, upper, True)

    def nodes_used(self) -> int:
        """Branch-and-bound nodes of the last `price` (0 when the grid or the trivial bound answered)."""
        return self._nodes

    def price(
        self, prices: np.ndarray, bound: np.ndarray, time_limit_s: float, threshold: float,
        max_nodes: int | None = None,
    ) -> Priced:
        """A pattern worth more than ``threshold`` at ``prices``, or a proof that none exists.

        The MIP gets the row ``pi.a >= threshold`` (plus a hair): HiGHS then prunes every subtree that
        cannot beat the threshold, which proves "none" much faster than finding the maximum. It stops at
        the first few such patterns. ``upper`` bounds z_p in every case: the threshold when the row made
        the model infeasible, else HiGHS's dual bound (valid for z_p once z_p >= threshold), else the
        trivial bound. ``max_nodes`` caps HiGHS's branch-and-bound nodes (a work budget, deterministic;
        ``time_limit_s`` is the safety net).
        """
        shape = self.shape
        k = len(shape.classes)
        h = self.mip
        self._nodes = 0
        loaded = self._load(h, prices, bound)
        if loaded is None:
            return Priced([], 0.0, 0.0, True)
        mine, ub = loaded
        trivial = float((mine * ub).sum())
        if trivial <= threshold:
            return Priced([], 0.0, trivial, True)
        if self.grid is not None:
            chunks = np.ceil(np.log2(ub[ub > 0] + 1)).sum()
            if self.grid.states * chunks <= GRID_MAX_WORK:
                return self._price_grid(prices, mine, ub)
        cut = threshold + 1e-9 * max(1.0, abs(threshold))
        if self._cut_row is None:
            self._cut_row = h.getNumRow()
            h.addRow(cut, highspy.kHighsInf, k, np.arange(k, dtype=np.int32), mine)
        else:
            for i in range(k):
                h.changeCoeff(self._cut_row, i, float(mine[i]))
            h.changeRowBounds(self._cut_row, cut, highspy.kHighsInf)
        h.setOptionValue("time_limit", max(0.01, float(time_limit_s)))
        if max_nodes is not None:
            h.setOptionValue("mip_max_nodes", int(max_nodes))
        h.run()
        info = h.getInfo()
        self._nodes = max(1, int(info.mip_node_count))
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return Priced([], 0.0, float(threshold), True)
        upper = float(info.mip_dual_bound)
        upper = max(upper, float(threshold)) if math.isfinite(upper) else trivial
        found = []
        if info.primal_solution_status == 2:
            xs = [np.asarray(sol.col_value) for sol in h.getSavedMipSolutions()]
            xs.append(np.asarray(h.getSolution().col_value))
            seen: set[bytes] = set()
            for x in xs:
                full = np.zeros(len(self.inst.services), dtype=np.int64)
                full[shape.classes] = np.rint(np.clip(x, 0.0, ub)).astype(np.int64)
                full = trim(self.inst, shape.pool, full, prices)
                if full.any() and full.tobytes() not in seen:
                    seen.add(full.tobytes())
                    found.append(full)
        found.sort(key=lambda a: -float(prices @ a))
        value = float(prices @ found[0]) if found else 0.0
        return Priced(found, value, max(upper, value), status == highspy.HighsModelStatus.kOptimal)
