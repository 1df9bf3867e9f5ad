"""Scenario keys for queue policy, disciplines and routing reach the engine and change the outcome."""

from capacity import pipeline
from capacity.scenario import load_scenario

from .conftest import SCENARIOS

FAIR = SCENARIOS / "multi-tenant-fair.yaml"


def test_queue_policy_keys_reach_the_serving_model():
    scenario = load_scenario(FAIR)
    model = pipeline.serving_model(scenario, pipeline.pack(scenario))
    (svc,) = model.services
    assert (svc.discipline, svc.routing, svc.max_length, svc.timeout_s) == ("fair", "power-of-two", 50, 0.5)


def test_fair_queueing_protects_the_heavier_weighted_tenant():
    overrides = ["workload.duration=2m", "workload.warmup=20s",
                 "workload.classes.research.arrivals.rate=200/s"]  # research alone would overload
    fair = pipeline.run(load_scenario(FAIR, overrides)).report["simulation"]
    fifo = pipeline.run(load_scenario(
        FAIR, [*overrides, "services.embedder.serving.queue.discipline=fifo"])).report["simulation"]
    lost = {name: c["rejected"] + c["timed_out"] for name, c in fair["classes"].items()}
    assert lost["research"] > 0
    # Under fair queueing the weight-3 tenant loses a smaller share of its requests than under FIFO.
    share_fair = lost["product"] / fair["classes"]["product"]["arrived"]
    fifo_lost = fifo["classes"]["product"]["rejected"] + fifo["classes"]["product"]["timed_out"]
    share_fifo = fifo_lost / fifo["classes"]["product"]["arrived"]
    assert share_fair < share_fifo
    for report in (fair, fifo):
        for c in report["classes"].values():
            assert c["completed"] + c["rejected"] + c["timed_out"] == c["arrived"]
