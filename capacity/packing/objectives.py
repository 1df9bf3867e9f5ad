r"""Packing objectives: what a plan's value is, how it is bounded, and how each packer expresses it.

An **objective** is one class, registered once in `OBJECTIVES` under its name (the scenario's
``placement.objective``, the ``objective`` of a `PackingProblem` and of a `Placement`). Every packer asks
the objective object; no other module tests objective names. The value is always minimised.

=============  =========================================================================================
``min-nodes``  nodes used, plus ``move_cost`` per moved replica
``min-cost``   cost per hour of the nodes used, plus ``move_cost`` per moved replica (every pool priced)
``min-moves``  moved replicas against the existing placement (then, with no proof attached, fewest nodes)
``fit``        a fixed cluster that may not hold everything: the unplaced weight ``sum priority x
               unplaced replicas`` (then fewest nodes)
``balance``    a fixed cluster: the highest utilisation ``used / capacity`` over nodes and resources
=============  =========================================================================================

(The exact definitions are in `capacity.packing.problem`.)

What an objective declares (class attributes):

* ``summary`` and ``unit`` — one line for the documentation and the CLI, and what the value counts;
* ``bound_in`` — how its bound is stated: ``nodes`` (the bound is a node count, also the plan's
  ``lower_bound``), ``cost`` (cost per hour) or ``value`` (in ``unit``, shown beside the plan);
* ``needs_costs`` — every pool must have a cost; ``needs_existing`` — the running placement must be
  given (a scenario without one is refused); ``prices_moves`` — ``move_cost`` may add to the value;
* ``fixed_cluster`` — every node of every pool is provisioned: greedy packers open them all at the start;
* ``partial`` — a plan may leave replicas unplaced, and the value counts their priority weight (greedy
  packers then place by decreasing priority first); under the other objectives a plan places everything;
* ``formulations`` — which formulations express it: the aggregated model (`capacity.packing.model`) always,
  the pattern formulation (`capacity.packing.patterns`) only for **node-priced** objectives.

What it computes (methods): its ``value`` for a plan, a combinatorial ``bound`` (`capacity.packing.bounds`),
its terms in the aggregated model (`ModelTerms`, ``floor`` rows, ``model_bound`` to read the solver's dual
bound back, ``tighten`` to combine it with ours), its choice of pool in greedy packers (``greedy_price``)
and its own input rules (``check``).

**Node-priced** objectives (`NodePriced`: ``min-nodes``, ``min-cost``) value a plan at the sum of a price per
used node (and ``move_cost`` per moved replica). That is what the pattern formulation and the node cut of
the aggregated model need, so a new node-priced objective is a ``price`` method and a name:

>>> class MinGpuNodes(NodePriced):
...     name = "min-gpu-nodes"
...     summary = "the nodes with a GPU that are used"
...     unit = "GPU nodes"
...     integral_prices = True
...     def price(self, inst, p):
...         return 1.0 if inst.pools[p].capacity.get("gpu", 0) > 0 else 0.0
>>> MinGpuNodes().formulations
('patterns', 'aggregated')

(``OBJECTIVES.register(MinGpuNodes())`` would make it a scenario's ``placement.objective``; the test
``tests/packing/test_extending.py`` does so and plans a scenario with it.)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from capacity.packing.bounds import Bounds, Component
from capacity.packing.instance import Instance
from capacity.packing.plan import NodePlan, max_utilisation, moves, used_nodes
from capacity.packing.problem import PackingProblem
from capacity.packing.registry import Registry

BoundIn = Literal["nodes", "cost", "value"]


@dataclass(frozen=True)
class ModelTerms:
    """An objective as weights on the quantities of the aggregated model (`capacity.packing.model`).

    ``node``: [pool] weight of a used node (``y``); ``moved``: weight of a moved replica (``r``);
    ``max_utilisation``: weight of ``U``, the highest ``used / capacity`` over nodes and resources (0: the
    model has no ``U``). Under a ``partial`` objective the model adds the unplaced priority weight.
    """

    node: tuple[float, ...]
    moved: float = 0.0
    max_utilisation: float = 0.0


def names_text(names: Iterable[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c`` (``last`` joins the last two); ``none`` for no name."""
    items = list(names)
    if len(items) <= 1:
        return items[0] if items else "none"
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


class Objective(ABC):
    """One packing objective (see the module docstring); subclasses set the class attributes."""

    name: ClassVar[str]
    summary: ClassVar[str]
    unit: ClassVar[str]
    bound_in: ClassVar[BoundIn] = "value"
    needs_costs: ClassVar[bool] = False
    needs_existing: ClassVar[bool] = False
    prices_moves: ClassVar[bool] = False
    fixed_cluster: ClassVar[bool] = False
    partial: ClassVar[bool] = False
    formulations: ClassVar[tuple[str, ...]] = ("aggregated",)

    def check(self, problem: PackingProblem) -> None:
        """Raise `ValueError` naming the field when ``problem`` breaks a rule of this objective (by default
        the flags: ``move_cost`` only where it is priced, a cost on every pool where one is needed)."""
        if problem.move_cost and not self.prices_moves:
            priced = names_text(o.name for o in OBJECTIVES.values() if o.prices_moves)
            raise ValueError(f"move_cost: applies to objectives {priced}, not {self.name}")
        if self.needs_costs:
            for p in problem.pools:
                if p.cost is None:
                    raise ValueError(
                        f"pool {p.name!r}: has no cost, but the objective is {self.name} "
                        f"(give every pool a cost per node per hour, or use min-nodes)"
                    )

    @abstractmethod
    def value(self, inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int] | None = None) -> float:
        """The plan's value (``unplaced``: replicas left out, by service index)."""

    @abstractmethod
    def bound(self, inst: Instance, bounds: Bounds) -> float | None:
        """A proven lower bound on the value from the combinatorial ``bounds`` (None: none)."""

    @abstractmethod
    def terms(self, inst: Instance, eps: float) -> ModelTerms:
        """The objective of the aggregated model (``eps``: a node weight small enough to only break ties)."""

    def floor(self, inst: Instance, comp: Component) -> float | None:
        """A bound on ``sum ModelTerms.node x y`` over the nodes of ``comp``, added as a row when positive
        (None: no row; the model states the node bound of every component anyway)."""
        return None

    def model_bound(self, value: float, slack: float) -> float:
        """A bound on the value from the solver's dual bound on the model's objective plus its constant
        ``value``; ``slack`` is the most that the tie-breaking node terms can add."""
        return value

    def tighten(
        self, inst: Instance, lower: int, bound: float | None, dual: float
    ) -> tuple[int, float | None]:
        """(node bound, value bound) once the solver proved ``dual`` (in the value's units)."""
        return lower, dual if bound is None else max(bound, dual)

    def node_prices(self, inst: Instance) -> np.ndarray | None:
        """[pool] the price of one used node when a plan's value is the sum of its used nodes' prices and
        nothing else; None otherwise. A complete greedy plan then bounds the nodes an optimal plan uses."""
        return None

    def greedy_price(self, inst: Instance, p: int) -> float | None:
        """The price a greedy packer weighs a new node of pool ``p`` by (per replica it takes); None: it
        prefers the pool that wastes least and takes most (`baselines.greedy.prefer_pool`)."""
        return None


class NodePriced(Objective):
    """A value that is the sum of a price per used node, plus ``move_cost`` per moved replica.

    Subclasses give ``price``; ``integral_prices`` (every price is an integer, so bounds round up) and
    ``counts_nodes`` (the price is 1: the value is the node count) sharpen the bounds.
    """

    prices_moves = True
    formulations = ("patterns", "aggregated")
    integral_prices: ClassVar[bool] = False
    counts_nodes: ClassVar[bool] = False

    @abstractmethod
    def price(self, inst: Instance, p: int) -> float:
        """What one used node of pool ``p`` adds to the value (at least 0)."""

    def value(self, inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int] | None = None) -> float:
        value = float(sum(self.price(inst, n.pool) for n in used_nodes(nodes)))
        move_cost = inst.problem.move_cost
        if move_cost and inst.existing:
            value += move_cost * sum(moves(inst, nodes, unplaced).values())
        return value

    def component_bound(self, inst: Instance, comp: Component) -> float:
        """A bound on the value of the nodes of ``comp``: its node bound at its cheapest price."""
        return comp.nodes * min((self.price(inst, p) for p in comp.pools), default=0.0)

    def bound(self, inst: Instance, bounds: Bounds) -> float | None:
        return float(sum(self.component_bound(inst, c) for c in bounds.components))

    def terms(self, inst: Instance, eps: float) -> ModelTerms:
        prices = tuple(self.price(inst, p) for p in range(len(inst.pools)))
        return ModelTerms(node=prices, moved=inst.problem.move_cost)

    def floor(self, inst: Instance, comp: Component) -> float | None:
        return None if self.counts_nodes else self.component_bound(inst, comp)

    def node_prices(self, inst: Instance) -> np.ndarray | None:
        if inst.problem.move_cost and inst.existing:
            return None
        return np.array([self.price(inst, p) for p in range(len(inst.pools))], dtype=float)

    def greedy_price(self, inst: Instance, p: int) -> float | None:
        return self.price(inst, p)


class MinNodes(NodePriced):
    """Fewest nodes (every node costs 1)."""

    name = "min-nodes"
    summary = "nodes used, plus move_cost per moved replica"
    unit = "nodes"
    bound_in = "nodes"
    integral_prices = True
    counts_nodes = True

    def price(self, inst: Instance, p: int) -> float:
        return 1.0

    def component_bound(self, inst: Instance, comp: Component) -> float:
        return float(comp.nodes)

    def tighten(
        self, inst: Instance, lower: int, bound: float | None, dual: float
    ) -> tuple[int, float | None]:
        if self.node_prices(inst) is None:  # moves are priced: the dual bounds more than the nodes
            return super().tighten(inst, lower, bound, dual)
        lower = max(lower, math.ceil(dual - 1e-6))
        return lower, float(lower)

    def greedy_price(self, inst: Instance, p: int) -> float | None:
        return None  # fewest nodes: the pool that wastes least and takes most replicas per node


class MinCost(NodePriced):
    """Cheapest cost per hour (every pool has a cost)."""

    name = "min-cost"
    summary = "cost per hour of the nodes used, plus move_cost per moved replica"
    unit = "cost per hour"
    bound_in = "cost"
    needs_costs = True

    def price(self, inst: Instance, p: int) -> float:
        return inst.cost(p) or 0.0

    def component_bound(self, inst: Instance, comp: Component) -> float:
        return float(comp.cost or 0.0)

    def bound(self, inst: Instance, bounds: Bounds) -> float | None:
        return bounds.cost


class _TieBreakByNodes(Objective):
    """An integer value, with fewest nodes as a tie-break of weight ``eps`` per node in the model (no proof
    is attached to the tie-break): the solver's bound rounds up to an integer."""

    def model_bound(self, value: float, slack: float) -> float:
        # integer part + eps * nodes with eps * nodes < 1: the integer part is at least this
        return float(max(0, math.ceil(value - slack - 1e-6)))


class MinMoves(_TieBreakByNodes):
    """Fewest moved replicas against the existing placement."""

    name = "min-moves"
    summary = "moved replicas against placement.existing (then fewest nodes)"
    unit = "moved replicas"
    needs_existing = True

    def value(self, inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int] | None = None) -> float:
        return float(sum(moves(inst, nodes, unplaced).values()))

    def bound(self, inst: Instance, bounds: Bounds) -> float | None:
        return 0.0

    def terms(self, inst: Instance, eps: float) -> ModelTerms:
        return ModelTerms(node=(eps,) * len(inst.pools), moved=1.0)


class Fit(_TieBreakByNodes):
    """As much as fits on a fixed cluster, weighted by priority."""

    name = "fit"
    summary = "unplaced replicas weighted by priority, on a fixed cluster (then fewest nodes)"
    unit = "unplaced priority weight"
    fixed_cluster = True
    partial = True

    def value(self, inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int] | None = None) -> float:
        return float(sum(int(inst.priority[s]) * k for s, k in (unplaced or {}).items()))

    def bound(self, inst: Instance, bounds: Bounds) -> float | None:
        """What cannot go anywhere."""
        hopeless = ~inst.placeable.any(axis=1)
        return float((inst.priority * inst.replicas)[hopeless].sum())

    def terms(self, inst: Instance, eps: float) -> ModelTerms:
        return ModelTerms(node=(eps,) * len(inst.pools), moved=inst.problem.move_cost)


class Balance(Objective):
    """The lowest peak utilisation on a fixed cluster."""

    name = "balance"
    summary = "the highest node utilisation, on a fixed cluster"
    unit = "highest node utilisation"
    fixed_cluster = True

    def value(self, inst: Instance, nodes: list[NodePlan], unplaced: dict[int, int] | None = None) -> float:
        return max_utilisation(inst, nodes)

    def bound(self, inst: Instance, bounds: Bounds) -> float | None:
        """For each resource, all of its demand spread evenly over the capacity of every node that could
        hold some of it; and one replica on the roomiest node it may use."""
        best = 0.0
        for r in range(len(inst.resources)):
            users = (inst.demand[:, r] > 0) & (inst.replicas > 0)
            if not users.any():
                continue
            pools = inst.placeable[users].any(axis=0)
            total = float((inst.capacity[pools, r] * inst.count[pools]).sum())
            if total > 0:
                best = max(best, float((inst.demand[users, r] * inst.replicas[users]).sum()) / total)
            for s in np.flatnonzero(users):
                caps = inst.capacity[inst.placeable[s], r]
                if len(caps) and caps.max() > 0:
                    best = max(best, float(inst.demand[s, r] / caps.max()))
        return best * (1.0 - 1e-9)

    def terms(self, inst: Instance, eps: float) -> ModelTerms:
        return ModelTerms(node=(0.0,) * len(inst.pools), moved=inst.problem.move_cost, max_utilisation=1.0)


OBJECTIVES: Registry[Objective] = Registry("objective")
"""Every packing objective by name (the scenario's ``placement.objective``)."""
for _objective in (MinNodes(), MinCost(), MinMoves(), Fit(), Balance()):
    OBJECTIVES.register(_objective)


def compile_problem(problem: PackingProblem) -> tuple[Instance, Objective]:
    """``problem`` checked and compiled (`Instance.compile`), and its objective checked against it.

    `ValueError` naming the field: an objective that is not registered, malformed input, or input that
    the objective refuses (`Objective.check`).
    """
    objective = OBJECTIVES.lookup(problem.objective)
    inst = Instance.compile(problem)
    objective.check(problem)
    return inst, objective
