"""Greedy baselines: what a cluster autoscaler or scheduler would do, to measure the integer program against.

A **baseline** is a callable ``(PackingProblem) -> Placement`` with a ``name`` (also its plan's
``Placement.solver``) and a one-line ``summary`` (the `Baseline` protocol), registered once in `BASELINES`.
``capacity plan --compare`` runs every registered baseline beside the optimiser, in registration order.
Adding one is one class and one ``BASELINES.register(...)``; a greedy one derives from `GreedyBaseline`
and writes ``plan`` with the shared machinery of `capacity.packing.baselines.greedy` (the replica order,
the choice of pool, and a `Cluster` of open nodes that enforces every rule).

=========================  ====================================================================
``ffd``                    first-fit decreasing (`capacity.packing.baselines.ffd`)
``k8s-least-allocated``    the Kubernetes scheduler, LeastAllocated (`capacity.packing.baselines.kube`)
``k8s-most-allocated``     the Kubernetes scheduler, MostAllocated
``tetris``                 Tetris alignment packing (`capacity.packing.baselines.tetris`)
=========================  ====================================================================
"""

from __future__ import annotations

from typing import Protocol

from capacity.packing.baselines.ffd import FirstFitDecreasing, ffd_plan, first_fit_decreasing
from capacity.packing.baselines.greedy import (
    POOL_RULES,
    Cluster,
    GreedyBaseline,
    Plan,
    arrival_order,
    fill_plan,
    prefer_pool,
    size_order,
)
from capacity.packing.baselines.kube import KubeScheduler
from capacity.packing.baselines.tetris import Tetris
from capacity.packing.problem import PackingProblem, Placement
from capacity.packing.registry import Registry


class Baseline(Protocol):
    """What ``capacity plan --compare`` runs: a name, a one-line summary and a plan of a problem."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def __call__(self, problem: PackingProblem) -> Placement: ...


BASELINES: Registry[Baseline] = Registry("baseline")
"""Every greedy baseline by name (the name is also its ``Placement.solver``)."""
BASELINES.register(first_fit_decreasing)
BASELINES.register(KubeScheduler("least-allocated"))
BASELINES.register(KubeScheduler("most-allocated"))
BASELINES.register(Tetris())

__all__ = [
    "BASELINES",
    "POOL_RULES",
    "Baseline",
    "Cluster",
    "FirstFitDecreasing",
    "GreedyBaseline",
    "KubeScheduler",
    "Plan",
    "Tetris",
    "arrival_order",
    "ffd_plan",
    "fill_plan",
    "first_fit_decreasing",
    "prefer_pool",
    "size_order",
]
