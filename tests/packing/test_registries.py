"""The objectives and baselines registries are the one list: every other list of their names agrees.

The scenario's allowed ``placement.objective`` values and its JSON Schema and the CLI's ``--compare`` help are
read from `OBJECTIVES` and `BASELINES` (the documentation's lists and its extending example are checked by
tests/test_docs.py); the registry refuses malformed and duplicate names. The docstring examples of the
packing package run too.
"""

from __future__ import annotations

import doctest
from dataclasses import dataclass

import pytest

import capacity.packing
import capacity.packing.objectives
import capacity.packing.registry
from capacity.cli import main
from capacity.packing import BASELINES, OBJECTIVES, Registry
from capacity.scenario import PlacementOptions


def test_cli_compare_help_lists_every_baseline(capsys):
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"every greedy baseline ({', '.join(BASELINES)})" in help_text


def test_scenario_allows_exactly_the_registered_objectives():
    schema = PlacementOptions.model_json_schema()["properties"]["objective"]
    assert schema["enum"] == list(OBJECTIVES)
    for name in OBJECTIVES:
        assert PlacementOptions(objective=name).objective == name
    with pytest.raises(ValueError, match="Input should be 'min-nodes', 'min-cost', 'min-moves', 'fit' or"):
        PlacementOptions(objective="min-gpus")


def test_every_policy_carries_what_the_cli_and_docs_show():
    for objective in OBJECTIVES.values():
        assert objective.summary and objective.unit and objective.bound_in in ("nodes", "cost", "value")
        assert "aggregated" in objective.formulations
    for baseline in BASELINES.values():
        assert baseline.summary and baseline.name


@dataclass(frozen=True)
class _Named:
    name: str


@pytest.mark.parametrize("name", ["", "Min-Nodes", "min nodes", "-x", "x-", "a--b", "9lives"])
def test_registry_refuses_malformed_names(name):
    with pytest.raises(ValueError, match="use lower-case letters"):
        Registry[_Named]("policy").register(_Named(name))


def test_registry_refuses_a_second_policy_under_one_name_and_names_the_registered_ones():
    registry = Registry[_Named]("policy")
    registry.register(_Named("first"))
    with pytest.raises(ValueError, match="policy 'first' is already registered"):
        registry.register(_Named("first"))
    with pytest.raises(ValueError, match="policy: must be one of first, got 'second'"):
        registry.lookup("second")
    assert registry.unregister("first") == _Named("first") and not registry


@pytest.mark.parametrize("module", [capacity.packing, capacity.packing.registry, capacity.packing.objectives])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
