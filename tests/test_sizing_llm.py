"""Sizing an LLM engine service: GPU type × tensor parallel × replicas, the cheapest meeting every SLO."""

from __future__ import annotations

import copy
from typing import Any

from capacity.scenario import scenario_from_dict
from capacity.sizing import size
from tests.test_scenario_llm import CHAT

SIZED: dict[str, Any] = copy.deepcopy(CHAT)
SIZED["cluster"]["pools"] = [
    {"name": "h100", "count": 2, "resources": {"cpu": 96, "memory": "1Ti", "gpu": 8}, "cost": 98.32,
     "gpu": "h100-sxm"},
    {"name": "l4", "count": 2, "resources": {"cpu": 96, "memory": "1Ti", "gpu": 8}, "cost": 8.0, "gpu": "l4"},
]
SIZED["services"][0]["resources"]["gpu"] = 1
SIZED["services"][0]["serving"]["llm"]["tensor_parallel"] = 1
SIZED["workload"]["duration"] = "30s"
SIZED["workload"]["classes"][0]["arrivals"]["rate"] = "3/s"
SIZED["workload"]["classes"][0]["slo"] = {"ttft": {"p99": "2s"}, "tpot": {"p99": "60ms"}}


def test_the_cheapest_candidate_meeting_every_slo_is_chosen_and_placed() -> None:
    result = size(scenario_from_dict(SIZED), replications=1)
    found = result.llm["chat"]
    chosen = found.chosen
    assert chosen.met and chosen.replicas is not None and chosen.cost_per_hour is not None
    met = [c for c in found.candidates if c.met]
    assert all(chosen.cost_per_hour <= c.cost_per_hour for c in met if c.cost_per_hour is not None)
    # every candidate is a GPU pool × a power-of-two TP up to its node's GPUs, or says why not
    expected = {(p, t) for p in ("h100", "l4") for t in (1, 2, 4, 8)}
    assert {(c.pool, c.tp) for c in found.candidates} == expected
    assert all(c.met or c.note for c in found.candidates)
    # the sized scenario runs the chosen GPU and TP, and meets the SLOs in its final simulation
    svc = result.scenario.service("chat")
    assert svc.pools == [chosen.pool] and svc.serving.llm.tensor_parallel == chosen.tp  # type: ignore[union-attr]
    assert svc.resources["gpu"] == chosen.tp and svc.replicas == chosen.replicas
    assert {c.key for c in result.slos} == {"ttft p99", "tpot p99"}
    assert all(c.status == "met" for c in result.slos)
    # the text shows the candidates table
    text = result.text()
    assert "GPU" in text and "TTFT p99" in text and "TPOT p99" in text and "cost/h" in text
    assert "llm" in result.to_dict()
    # a candidate whose lone request already misses the TPOT target is not searched (one L4 per replica)
    l4 = next(c for c in found.candidates if (c.pool, c.tp) == ("l4", 1))
    assert not l4.met and "no count helps" in l4.note
