"""Every list of a policy's names is its registry: the scenario's allowed values (what loading accepts and
what its JSON Schema offers an editor), the simulator model's names, and the CLI's choices.

The scenario reads most of its names from the registries when it validates (`capacity.scenario.fields.OneOf`),
so a policy registered by a plugin is allowed at once (tested below with a toy discipline). Two lists are
written out because their registries live with an engine that loading a scenario must not import (batching
modes with SimPy, solver backends with PuLP): they are checked here. Not repeated here: the objectives and
baselines (tests/packing/test_registries.py), the simulator model's discipline, routing and batch-mode names
(tests/sim/test_sim_architecture.py), the documentation's lists (tests/test_docs.py).
"""

from __future__ import annotations

import typing
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from capacity.autoscaling.cluster import EXPANDERS
from capacity.autoscaling.registry import POLICIES
from capacity.cli import _parser
from capacity.errors import ScenarioError
from capacity.packing.backends import BACKENDS
from capacity.packing.baselines import BASELINES
from capacity.scenario import (
    Arrivals,
    Batching,
    PlacementOptions,
    Queue,
    Scheduling,
    ServiceTime,
    Serving,
    TokenCount,
    scenario_from_dict,
)
from capacity.scenario.cluster import ClusterAutoscaling
from capacity.scenario.services import Autoscaling, ColdStart
from capacity.sim import model as sim_model
from capacity.sim.arrivals import ARRIVAL_PROCESSES
from capacity.sim.batching import BATCHERS
from capacity.sim.disciplines import DISCIPLINES, Fifo
from capacity.sim.engine import simulate_model  # noqa: F401  (registers every batcher: BATCHERS complete)
from capacity.sim.routing import ROUTINGS
from capacity.sim.service_times import SERVICE_TIMES
from capacity.sim.traces import TRACE_FORMATS
from capacity.sizing import MEASURES, PASS_RULES
from capacity.whatif import EXECUTORS

#: Batching modes the simulator has but a scenario cannot name yet: ``llm`` (`capacity.sim.llm_batching`)
#: needs the LLM engine's section of the scenario, which does not exist yet. Remove a mode from here when the
#: scenario gains it.
NOT_YET_IN_SCENARIOS = {"llm"}


def test_the_modes_not_yet_in_scenarios_are_batchers():
    assert set(BATCHERS) >= NOT_YET_IN_SCENARIOS


def schema_enum(model: type[BaseModel], field: str) -> list[Any]:
    """The ``enum`` the JSON Schema of ``model`` offers for ``field`` (also inside ``anyOf`` with null)."""
    node = model.model_json_schema()["properties"][field]
    for option in [node, *node.get("anyOf", [])]:
        if "enum" in option:
            return list(option["enum"])
    raise AssertionError(f"{model.__name__}.{field} has no enum")


@pytest.mark.parametrize(("model", "field", "names"), [
    (Scheduling, "discipline", lambda: list(DISCIPLINES)),
    (Queue, "discipline", lambda: list(DISCIPLINES)),
    (Scheduling, "routing", lambda: list(ROUTINGS)),
    (Serving, "routing", lambda: list(ROUTINGS)),
    (Arrivals, "process", lambda: list(ARRIVAL_PROCESSES)),
    (Arrivals, "format", lambda: ["auto", *TRACE_FORMATS]),
    (ServiceTime, "dist", lambda: list(SERVICE_TIMES)),
    (TokenCount, "dist", lambda: list(SERVICE_TIMES)),
    (Batching, "mode", lambda: [m for m in BATCHERS if m not in NOT_YET_IN_SCENARIOS]),
    (PlacementOptions, "solver", lambda: list(BACKENDS)),
    (Autoscaling, "policy", lambda: list(POLICIES)),
    (ClusterAutoscaling, "expander", lambda: list(EXPANDERS)),
], ids=lambda x: x if isinstance(x, str) else getattr(x, "__name__", ""))
def test_every_name_list_is_its_registry(model, field, names):
    assert schema_enum(model, field) == names()


@pytest.mark.parametrize(("alias", "registry"), [
    (sim_model.Process, ARRIVAL_PROCESSES), (sim_model.Dist, SERVICE_TIMES)], ids=["Process", "Dist"])
def test_the_simulator_model_names_are_the_registries(alias, registry):
    assert set(typing.get_args(alias)) == set(registry)


def test_the_lists_drawn_from_a_registry_are_in_it():
    """Lists that name some of a registry's entries: the node autoscaler's schedulers are the Kubernetes
    baselines; a cold start's distributions are service-time distributions."""
    assert set(schema_enum(ClusterAutoscaling, "scheduler")) <= set(BASELINES)
    assert set(schema_enum(ColdStart, "dist")) <= set(SERVICE_TIMES)


def _option(command: str, flag: str) -> Any:
    sub = next(a for a in _parser()._actions if a.dest == "command")
    return next(a for a in sub.choices[command]._actions if flag in a.option_strings)


def test_the_cli_lists_are_the_registries():
    assert _option("size", "--slo-on").choices == list(MEASURES)
    assert _option("size", "--pass-rule").help.startswith(" | ".join(PASS_RULES) + ":")
    assert _option("sweep", "--executor").help.startswith(" | ".join(EXECUTORS) + " ")


class LastComeFirst(Fifo):
    """A toy discipline for the test: registered, it is a scenario's name at once."""

    name: ClassVar[str] = "lcfs"


SCENARIO = {
    "name": "toy", "cluster": {"pools": [{"name": "p", "count": 1, "resources": {"cpu": 4}}]},
    "services": [{"name": "s", "replicas": 1, "resources": {"cpu": 1},
                  "serving": {"service_time": {"mean": "10ms"}, "queue": {"discipline": "lcfs"}}}],
}


def test_a_registered_discipline_is_a_scenario_name_at_once():
    with pytest.raises(ScenarioError, match=r"Input should be 'fifo', .* or 'priority-fair' \(got 'lcfs'\)"):
        scenario_from_dict(SCENARIO)
    DISCIPLINES[LastComeFirst.name] = LastComeFirst
    try:
        scenario = scenario_from_dict(SCENARIO)
        assert scenario.services[0].serving is not None
        assert scenario.services[0].serving.queue.discipline == "lcfs"
        assert schema_enum(Queue, "discipline")[-1] == "lcfs"
    finally:
        del DISCIPLINES[LastComeFirst.name]
    assert "lcfs" not in schema_enum(Queue, "discipline")
