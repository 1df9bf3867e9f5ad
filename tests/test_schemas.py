"""``capacity schema scenario|report``: JSON Schema (draft 2020-12) generated from the models, that every
shipped scenario and every report the tests write validates against (checked with the ``jsonschema``
package; reports in tests/test_report_model.py and tests/test_report_cli.py), and that refuses what the
loader refuses where a schema can say it. The copies shipped in schemas/ are current."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from capacity.cli import main
from capacity.scenario import parse_yaml, scenario_from_dict
from capacity.schemas import DRAFT, SCHEMAS

from .conftest import ROOT, SCENARIOS
from .schema_check import assert_valid, problems

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_the_cli_prints_a_draft_2020_12_schema(name, capsys):
    assert main(["schema", name]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == DRAFT == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == SCHEMAS[name]()
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_the_shipped_schema_files_are_current(name):
    path = ROOT / "schemas" / f"capacity-{name}.schema.json"
    printed = json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"
    assert path.read_text(encoding="utf-8") == printed, f"capacity schema {name} > schemas/{path.name}"


def _document(path):
    data, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    return data


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_validates(path):
    assert_valid("scenario", _document(path))


SEED = SCENARIOS / "seed-example.yaml"


def _changed(path: str, value: object) -> dict:
    doc = copy.deepcopy(_document(SEED))
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return doc


@pytest.mark.parametrize(("path", "value"), [
    ("services.0.resources.cpu", "500m"), ("services.0.resources.memory", "1.5Gi"),
    ("workload.duration", "90 s"), ("workload.classes.0.arrivals.rate", "1200/min"),
    ("placement.headroom", "10%"), ("services.0.serving.service_time.mean", 0.02),
    ("scheduling.discipline", "drr"),
    ("services.0.autoscaling", {"min": 1, "max": 4, "metric": "utilisation", "target": "70%",
                                "window": "60s"}),
])
def test_values_the_loader_accepts_the_schema_accepts(path, value):
    doc = _changed(path, value)
    scenario_from_dict(copy.deepcopy(doc), source=str(SEED))
    assert_valid("scenario", doc)


@pytest.mark.parametrize(("path", "value", "where"), [
    ("services.0.resources.cpu", "half", "services.0.resources.cpu"),      # not a quantity
    ("workload.duration", "10 parsecs", "workload.duration"),
    ("workload.classes.0.arrivals.rate", "40 per second", "workload.classes.0.arrivals.rate"),
    ("scheduling.discipline", "lifo", "scheduling.discipline"),           # not a registered name
    ("services.0.replicaz", 3, "services.0"),                             # unknown key
    ("cluster.pools.0.count", 0, "cluster.pools.0.count"),                # below the bound
    ("services.0.replicas", True, "services.0.replicas"),                 # a boolean is not a number
])
def test_values_the_loader_refuses_the_schema_refuses(path, value, where):
    doc = _changed(path, value)
    with pytest.raises(Exception, match=r"\S"):
        scenario_from_dict(copy.deepcopy(doc), source=str(SEED))
    found = problems("scenario", doc)
    assert any(p.startswith(f"{where}:") for p in found), found
