"""Deadline-aware admission: hand-computed drops, the predictor's rules, overrides and validation.

The predictor (`capacity.sim.engine`): with a free slot the wait is 0; otherwise it is (remaining work in
service + queued work at the arrival's priority level or more urgent) / live slots. A request is dropped
when predicted wait + its own service time > its class's SLO target. Times are multiples of 1/8 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from capacity.errors import ScenarioError
from capacity.pipeline import run
from capacity.scenario import load_scenario
from capacity.sim import (
    Arrivals,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    simulate_model,
    simulate_requests,
    summarize,
)
from capacity.sim.model import Admission, Discipline

from .builders import model, service, stream


def slo_model(*, slots: int = 1, replicas: int = 1, discipline: Discipline = "fifo",
              service_admission: Admission = "deadline", class_admission: Admission | None = None,
              slo: tuple[float | None, float | None] = (2.5, 0.99)) -> SimModel:
    """Classes ``hi`` (SLO ``slo``, admission ``class_admission``) and ``lo`` (2.5 s at p99)."""
    svc = service(replicas, slots, discipline=discipline, admission=service_admission)
    classes = (RequestClass("hi", "svc", Arrivals("poisson", 1.0), priority=0, slo_target_s=slo[0],
                            slo_quantile=slo[1], admission=class_admission),
               RequestClass("lo", "svc", Arrivals("poisson", 1.0), priority=1, slo_target_s=2.5,
                            slo_quantile=0.99))
    return model(svc, classes=classes)


def test_one_slot_drops_exactly_the_requests_that_would_miss_the_target() -> None:
    # 1 slot, 1 s each, target 2.5 s. r0 at 0 starts (0 + 1 <= 2.5). r1 at 1/8: 7/8 left in service,
    # nothing queued: 7/8 + 1 = 1.875 → admitted. r2 at 1/4: 3/4 + 1 queued + 1 = 2.75 > 2.5 → dropped.
    # r3 at 3/8: 5/8 + 1 + 1 = 2.625 → dropped. r4 at 1.25: r1 in service [1, 2]: 3/4 + 1 = 1.75 → kept.
    m = slo_model()
    r = simulate_requests(m, stream([0, 0.125, 0.25, 0.375, 1.25]))
    np.testing.assert_array_equal(r.dropped, [False, False, True, True, False])
    np.testing.assert_array_equal(r.latency_s[[0, 1, 4]], [1.0, 1.875, 1.75])  # = the predictions
    assert np.isnan(r.end_s[2]) and r.replica[2] == -1
    c = summarize(m, r)["classes"]["hi"]
    assert (c["arrived"], c["completed"], c["dropped"], c["rejected"], c["lost"]) == (5, 3, 2, 0, 0)
    assert c["slo"]["attained"] == 3 / 5                          # a dropped request is a miss
    assert c["goodput_per_s"] == 3 / 10


def test_a_request_longer_than_its_target_is_dropped_even_with_a_free_slot() -> None:
    r = simulate_requests(slo_model(), stream([0.0, 4.0], services=[3.0, 2.5]))
    np.testing.assert_array_equal(r.dropped, [True, False])       # 3 > 2.5; 2.5 <= 2.5 (inclusive)


def test_priority_counts_only_the_queued_work_at_its_level_or_more_urgent() -> None:
    # priority discipline, 1 slot: r0 (lo) in service [0, 1]; r1, r2 (lo) queued. At 1/8 a hi arrival
    # sees 7/8 in service and no hi work queued: 1.875 → admitted (it goes first: ends at 2). A lo
    # arrival at 1/4 sees 3/4 + (hi 1 + lo 2) = 3.75 + 1 > 2.5 → dropped.
    m = slo_model(discipline="priority", service_admission="accept", class_admission="deadline")
    r = simulate_requests(m, stream([0, 0, 0, 0.125, 0.25], classes=[1, 1, 1, 0, 1]))
    np.testing.assert_array_equal(r.dropped, [False, False, False, False, False])  # lo classes accept
    assert r.end_s[3] == 2.0
    m2 = slo_model(discipline="priority")                             # both classes deadline-aware
    r2 = simulate_requests(m2, stream([0, 0, 0.125, 0.25], classes=[1, 1, 0, 1]))
    # r1 (lo) at 0: 1 in service + 0 queued + 1 = 2 → kept. hi at 1/8: 7/8 + 1 → kept. lo at 1/4:
    # 3/4 + 1 (hi) + 1 (lo) + 1 = 3.75 → dropped.
    np.testing.assert_array_equal(r2.dropped, [False, False, False, True])


def test_several_slots_divide_the_work_ahead_by_the_live_slots() -> None:
    # 2 slots (one replica), target 2.5: r0, r1 at 0 start; r2, r3 at 0 queue (predicted (2 + 0)/2 + 1
    # = 2 and (2 + 1)/2 + 1 = 2.5: both kept); r4 at 0: (2 + 2)/2 + 1 = 3 → dropped.
    r = simulate_requests(slo_model(slots=2), stream([0, 0, 0, 0, 0]))
    np.testing.assert_array_equal(r.dropped, [False, False, False, False, True])


def test_classes_without_an_slo_are_never_dropped_and_accept_overrides_the_service() -> None:
    m = slo_model(slo=(None, None))
    r = simulate_requests(m, stream([0, 0, 0, 0, 0]))
    assert not r.dropped.any()
    m2 = slo_model(class_admission="accept")
    r2 = simulate_requests(m2, stream([0, 0, 0, 0, 0]))
    assert not r2.dropped.any()


def test_with_one_fifo_slot_the_prediction_is_exact_so_every_admitted_request_meets_the_target() -> None:
    # an overloaded M/M/1 (ρ = 1.2): the engine knows every drawn service time, so with one FIFO slot
    # the predicted wait is the actual wait, and no admitted request misses its target
    svc = ServingService("svc", (Replica("svc-0", "n0", "pool"),), 1, ServiceTime("exponential", 1.0),
                         admission="deadline")
    cls = (RequestClass("a", "svc", Arrivals("poisson", 1.2), slo_target_s=5.0, slo_quantile=0.9),)
    m = SimModel((svc,), cls, duration_s=3000.0, warmup_s=100.0, seed=4)
    r = simulate_model(m)
    c = summarize(m, r)["classes"]["a"]
    assert c["dropped"] > 0.1 * c["arrived"]
    served = r.completed & r.measured
    assert np.all(r.latency_s[served] <= 5.0 + 1e-9)
    assert c["slo"]["attained"] == c["completed"] / c["arrived"]
    assert c["arrived"] == c["completed"] + c["dropped"]


SCENARIO = """
name: admission
cluster:
  pools: [{name: p, count: 1, resources: {cpu: 4}}]
services:
  - name: api
    replicas: 1
    resources: {cpu: 1}
    serving:
      service_time: {dist: exponential, mean: 100ms}
      queue: {admission: deadline}
workload:
  duration: 2m
  classes:
    - {name: web, service: api, arrivals: {process: poisson, rate: 12/s}, slo: {p99: 300ms}}
    - {name: batch, service: api, arrivals: {process: poisson, rate: 1/s}}
"""


def test_scenario_admission_end_to_end(write_scenario) -> None:
    report = run(load_scenario(write_scenario(SCENARIO))).report["simulation"]
    web, batch = report["classes"]["web"], report["classes"]["batch"]
    assert web["dropped"] > 0 and batch["dropped"] == 0
    assert web["arrived"] == web["completed"] + web["dropped"]


def test_class_deadline_admission_without_an_slo_is_refused(write_scenario) -> None:
    text = SCENARIO.replace("rate: 1/s}}", "rate: 1/s}, admission: deadline}")
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_scenario(text))
    assert "workload.classes.batch.admission" in str(err.value)
    assert "give the class an slo" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_scenario(SCENARIO.replace("admission: deadline", "admission: maybe")))
    assert "services.api.serving.queue.admission" in str(err.value)
