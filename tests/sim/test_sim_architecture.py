"""The shape of `capacity.sim`: no import cycle, registries as the one source of names and flags, short
functions, and a policy added by one class and its registration."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytest

from capacity.sim import (
    Replica,
    ServiceTime,
    ServingService,
    simulate_requests,
)
from capacity.sim import model as sim_model
from capacity.sim.batching import BATCHERS
from capacity.sim.disciplines import DISCIPLINES, EMPTY, QueueContext
from capacity.sim.engine import is_plain
from capacity.sim.routing import ROUTINGS

from ..code_shape import cycles, import_graph, long_functions, restrict
from .builders import classes, model, service, stream

SIM = Path(__file__).resolve().parents[2] / "capacity" / "sim"


def test_no_import_cycle_in_the_sim_package() -> None:
    # imports anywhere (in functions and under TYPE_CHECKING too), the package's __init__ included
    graph = restrict(import_graph(SIM.parent), ["capacity.sim"])
    assert "capacity.sim.engine" not in graph["capacity.sim.batching"]
    assert "capacity.sim.replicas" in graph["capacity.sim.engine"]          # the graph has edges
    assert cycles(graph) == []


def test_no_long_function_in_the_sim_package() -> None:
    assert long_functions(SIM, 120) == []


def literal_names(alias: object) -> set[str]:
    return set(typing.get_args(alias))


@pytest.mark.parametrize(("alias", "registry", "key"), [
    (sim_model.Discipline, DISCIPLINES, "name"), (sim_model.Routing, ROUTINGS, "name"),
    (sim_model.BatchMode, BATCHERS, "mode")])
def test_the_model_names_are_the_registries(alias: object, registry: dict[str, type], key: str) -> None:
    assert literal_names(alias) == set(registry)
    assert all(getattr(cls, key) == name for name, cls in registry.items())


def test_policies_carry_their_flags() -> None:
    for cls in DISCIPLINES.values():
        assert all(isinstance(getattr(cls, f), bool)
                   for f in ("preemptive", "levelled", "fast_path", "tenant_aware"))
    for cls in ROUTINGS.values():
        assert all(isinstance(getattr(cls, f), bool) for f in ("per_replica", "fast_path"))
    for cls in BATCHERS.values():
        assert isinstance(cls.tokens, bool) and isinstance(cls.base_time, bool)
        assert set(cls.parameters) <= {"max_delay_s", "step_growth"}


def test_the_fast_path_is_derived_from_the_flags() -> None:
    for d, r in ((d, r) for d in DISCIPLINES for r in ROUTINGS):
        svc = ServingService("s", (Replica("s-0", "n", "p"),), 1, ServiceTime("exponential", 1.0),
                             discipline=d, routing=r)  # type: ignore[arg-type]
        assert is_plain(svc) == (DISCIPLINES[d].fast_path and ROUTINGS[r].fast_path)


class LastComeFirstServed:
    """A toy discipline: the most recent arrival first."""

    name: ClassVar[str] = "lcfs"
    preemptive: ClassVar[bool] = False
    levelled: ClassVar[bool] = False
    fast_path: ClassVar[bool] = False
    tenant_aware: ClassVar[bool] = False

    def __init__(self, priorities: Iterable[int] = (), context: QueueContext | None = None) -> None:
        self._stack: list[int] = []

    def push(self, request: int, priority: int) -> None:
        self._stack.append(request)

    def pop(self) -> int:
        return self._stack.pop() if self._stack else EMPTY

    def __len__(self) -> int:
        return len(self._stack)


def test_a_new_discipline_is_one_class_and_its_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DISCIPLINES, LastComeFirstServed.name, LastComeFirstServed)
    svc = service(discipline="lcfs")
    r = simulate_requests(model(svc, classes=classes("a")), stream([0.0, 0.25, 0.5, 0.75]))
    # 0 runs 0-1; then the last arrival first: 3, 2, 1
    assert r.start_s.tolist() == [0.0, 3.0, 2.0, 1.0]
