"""Node failures (`capacity.sim.failures`): hand-computed traces, Erlang C after a failure, scenarios.

Times in the hand-made cases are multiples of 1/4 s, so float arithmetic is exact and ties are ties.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from capacity import theory
from capacity.errors import ScenarioError
from capacity.pipeline import run
from capacity.report.writers import render_markdown, to_json
from capacity.scenario import load_scenario
from capacity.sim import (
    Arrivals,
    Failure,
    RequestClass,
    ServiceTime,
    SimModel,
    simulate_model,
    simulate_requests,
    summarize,
)

from .builders import model, service, stream

# --------------------------------------------------------------------------- hand-computed traces


def test_in_flight_request_is_retried_on_the_surviving_replica_and_keeps_its_arrival_time() -> None:
    # Two replicas, 1 s each. Arrivals 0, .25, .5, .75, 1: r0 on svc-0 [0, 1], r1 on svc-1 [.25, 1.25],
    # r2 starts on svc-0 at 1, r4 (arriving at 1, after the completion) queues behind r3, r3 starts on
    # svc-1 at 1.25. n0 fails at 1.5: r2 is cut (segment [1, 1.5]) and re-admitted at the back of the
    # queue, behind r4: r4 on svc-1 [2.25, 3.25], r2 [3.25, 4.25]. n0 comes back at 3.5, idle.
    m = model(service(2), Failure(1.5, ("n0",), recover_s=2.0, target="node n0"))
    r = simulate_requests(m, stream([0, 0.25, 0.5, 0.75, 1.0]))
    np.testing.assert_array_equal(r.start_s, [0, 0.25, 1.0, 1.25, 2.25])
    np.testing.assert_array_equal(r.end_s, [1, 1.25, 4.25, 2.25, 3.25])
    np.testing.assert_array_equal(r.replica, [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(r.retried, [False, False, True, False, False])
    assert not r.lost.any()
    np.testing.assert_array_equal(r.latency_s, [1, 1, 3.75, 1.5, 2.25])   # r2 shows the failure
    seg_request, seg_replica, seg_start, seg_end = r.segments
    np.testing.assert_array_equal(seg_request, [2, 2])
    np.testing.assert_array_equal(seg_replica, [0, 1])
    np.testing.assert_array_equal(seg_start, [1.0, 3.25])
    np.testing.assert_array_equal(seg_end, [1.5, 4.25])
    np.testing.assert_array_equal(r.busy_s, [1.5, 4.0])                  # the cut segment counts
    (f,) = r.failures
    assert (f.at_s, f.target, f.replicas, f.recover_at_s, f.retried, f.lost) == (
        1.5, "node n0", ("svc-0",), 3.5, 1, 0)
    replica, start, end = r.downtime
    assert (replica.tolist(), start.tolist(), end.tolist()) == ([0], [1.5], [3.5])
    s = summarize(m, r)
    assert s["replicas"]["svc-0"]["down_s"] == 2.0
    assert s["classes"]["hi"]["retried"] == 1
    assert s["failures"] == [{"at_s": 1.5, "target": "node n0", "replicas": ["svc-0"],
                              "recover_at_s": 3.5, "retried": 1, "lost": 0}]


def test_on_failure_lost_loses_the_in_flight_request_at_the_failure_time() -> None:
    m = model(service(2, on_failure="lost"), Failure(1.5, ("n0",), recover_s=2.0))
    r = simulate_requests(m, stream([0, 0.25, 0.5, 0.75, 1.0]))
    np.testing.assert_array_equal(r.lost, [False, False, True, False, False])
    assert r.start_s[2] == 1.0 and r.end_s[2] == 1.5 and r.replica[2] == -1   # started, then lost
    np.testing.assert_array_equal(r.start_s[[3, 4]], [1.25, 2.25])           # r4 next on svc-1
    np.testing.assert_array_equal(r.busy_s, [1.5, 3.0])
    c = summarize(m, r)["classes"]["hi"]
    assert (c["arrived"], c["completed"], c["rejected"], c["timed_out"], c["dropped"], c["lost"]) == (
        5, 4, 0, 0, 0, 1)
    assert c["slo"] is None and c["goodput_per_s"] is None


def test_per_replica_queue_of_a_failed_replica_is_retried_through_routing() -> None:
    # round-robin: r0 → svc-0 [0, 1], r1 → svc-1 [0, 1], r2 → svc-0 (queued), r3 → svc-1 (queued).
    # n0 fails at 0.5: r0 (in flight) and r2 (queued) are re-admitted in sequence order through the
    # routing among the live replicas (only svc-1): they queue behind r3. svc-1 serves r1, r3, r0, r2.
    m = model(service(2, routing="round-robin"), Failure(0.5, ("n0",)))
    r = simulate_requests(m, stream([0, 0, 0.25, 0.25]))
    np.testing.assert_array_equal(r.start_s, [0, 0, 3, 1])    # r0 keeps its first start (0)
    np.testing.assert_array_equal(r.end_s, [3, 1, 4, 2])
    np.testing.assert_array_equal(r.replica, [1, 1, 1, 1])
    np.testing.assert_array_equal(r.retried, [True, False, True, False])
    np.testing.assert_array_equal(r.busy_s, [0.5, 4.0])
    assert r.failures[0].recover_at_s is None and r.downtime[2].tolist() == [np.inf]
    # after the failure, round-robin sends everything to the only live replica
    r2 = simulate_requests(m, stream([0, 0, 0.25, 0.25, 5, 5.25]))
    np.testing.assert_array_equal(r2.replica[4:], [1, 1])


def test_a_service_with_no_live_replica_loses_its_queue_and_rejects_arrivals_until_recovery() -> None:
    # one replica, 1 s each; arrivals 0, .25, .5; n0 fails at .75 and is back at 2.
    # r0 (in flight) and r1, r2 (queued) are lost at .75 (retry finds no live replica); r3 at 1 is
    # rejected (nothing to admit to); r4 at 2.25 is served [2.25, 3.25].
    m = model(service(1), Failure(0.75, ("n0",), recover_s=1.25))
    r = simulate_requests(m, stream([0, 0.25, 0.5, 1.0, 2.25]))
    np.testing.assert_array_equal(r.lost, [True, True, True, False, False])
    np.testing.assert_array_equal(r.end_s[:3], [0.75, 0.75, 0.75])
    assert np.isnan(r.end_s[3]) and r.refused[3]
    assert (r.start_s[4], r.end_s[4], r.replica[4]) == (2.25, 3.25, 0)
    c = summarize(m, r)["classes"]["hi"]
    assert (c["completed"], c["rejected"], c["lost"], c["retried"]) == (1, 1, 3, 0)
    assert r.failures[0].lost == 3 and r.failures[0].retried == 0


def test_recovered_replica_serves_the_shared_queue_at_once() -> None:
    # two replicas; svc-1's node n1 fails at 0 (before anything); arrivals 0, 0, 0, 0.25 queue on svc-0;
    # n1 is back at 0.5 and takes the head of the queue at once: r1 on svc-1 [0.5, 1.5].
    m = model(service(2), Failure(0.0, ("n1",), recover_s=0.5))
    r = simulate_requests(m, stream([0, 0, 0, 0.25]))
    np.testing.assert_array_equal(r.start_s, [0, 0.5, 1, 1.5])
    np.testing.assert_array_equal(r.replica, [0, 1, 0, 1])


def test_full_queue_on_retry_loses_the_request() -> None:
    # per-replica queues with one waiting place; svc-0 fails at .5: r0 (in flight) retries onto svc-1
    # whose single place r3 already holds: r0 is lost; r2 (queued on svc-0) too.
    m = model(service(2, routing="round-robin", max_length=1), Failure(0.5, ("n0",)))
    r = simulate_requests(m, stream([0, 0, 0.25, 0.25]))
    np.testing.assert_array_equal(r.lost, [True, False, True, False])
    np.testing.assert_array_equal(r.end_s[[0, 2]], [0.5, 0.5])


def test_two_failures_of_one_replica_need_both_recoveries() -> None:
    # n0 fails at 0 (back at 2) and again at 1 (back at 3): down [0, 3]. r1 (at 2.5) goes to svc-1,
    # r2 (at 2.5) waits until n0 is back at 3 and starts there at once.
    m = model(service(2), Failure(0.0, ("n0",), 2.0), Failure(1.0, ("n0",), 2.0))
    r = simulate_requests(m, stream([0, 2.5, 2.5], [1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(r.replica, [1, 1, 0])
    np.testing.assert_array_equal(r.start_s, [0, 2.5, 3.0])
    replica, start, end = r.downtime
    assert (replica.tolist(), start.tolist(), end.tolist()) == ([0], [0.0], [3.0])
    assert [f.replicas for f in r.failures] == [("svc-0",), ("svc-0",)]


def test_timeout_of_a_retried_request_counts_from_its_arrival() -> None:
    # per-replica queues, timeout 1.5 s: r2 queued on svc-0 (arrived .25), moved to svc-1 at .5, where
    # it waits behind r3 and r0; its deadline 1.75 passes before svc-1 frees (at 1): it times out.
    m = model(service(2, routing="round-robin", timeout_s=1.5), Failure(0.5, ("n0",)))
    r = simulate_requests(m, stream([0, 0, 0.25, 0.25]))
    np.testing.assert_array_equal(r.timed_out, [False, False, True, False])
    assert r.end_s[2] == 1.75
    np.testing.assert_array_equal(r.end_s[[1, 3, 0]], [1, 2, 3])     # r0 was in service: no timeout


def test_preemptive_service_restarts_a_cut_request_from_scratch() -> None:
    # preemptive (resume): a failure loses the work done; r0 (3 s) on svc-0 cut at 1, retried on svc-1
    svc = service(2, discipline="preemptive")
    m = model(svc, Failure(1.0, ("n0",)))
    r = simulate_requests(m, stream([0, 0.5], [3.0, 0.5], [1, 1]))
    np.testing.assert_array_equal(r.start_s, [0, 0.5])
    np.testing.assert_array_equal(r.end_s, [4, 1])     # svc-1 free at 1: r0 runs [1, 4]


def test_failures_are_deterministic_and_leave_plain_services_on_the_fast_path() -> None:
    lam = 3.0
    other = service(1, 4, name="other", node="m{k}", dist=ServiceTime("exponential", 0.5))
    svc = service(4)
    m = SimModel((svc, other),
                 (RequestClass("a", "svc", Arrivals("poisson", lam)),
                  RequestClass("o", "other", Arrivals("poisson", 2.0))),
                 duration_s=200.0, seed=3, failures=(Failure(50.0, ("n0", "n1"), 30.0, "zone x"),))
    r1, r2 = simulate_model(m), simulate_model(m)
    for a, b in ((r1.end_s, r2.end_s), (r1.replica, r2.replica), (r1.lost, r2.lost)):
        np.testing.assert_array_equal(a, b)
    plain = SimModel(m.services, m.classes, duration_s=200.0, seed=3)
    r0 = simulate_model(plain)
    other_requests = r0.cls == 1
    np.testing.assert_array_equal(r0.end_s[other_requests], r1.end_s[other_requests])


# --------------------------------------------------------------------------- against theory

LAM, FAIL_AT, SETTLE, REQUESTS, SEEDS = 1.8, 20.0, 100.0, 40_000, (11, 12, 13, 14, 15, 16)
# Per-run relative standard deviation at 40,000 requests, measured offline over seeds 1000-1029
# (which the test does not use): mean wait 4.4%, P(wait > 0) 1.9%. Six runs: standard errors 1.8% and
# 0.8%; the tolerances are 4 standard errors.
MEAN_WAIT_TOL, WAIT_PROB_TOL = 4 * 0.044 / np.sqrt(len(SEEDS)), 4 * 0.019 / np.sqrt(len(SEEDS))


@pytest.mark.slow
def test_after_one_of_four_replicas_fails_the_service_behaves_as_mmc_with_three() -> None:
    # M/M/4 (1 s service, λ = 1.8) loses a replica at t = 20 s; statistics from t = 120 s on must
    # match M/M/3 (ρ = 0.6): Erlang C for the chance to wait, and the mean wait.
    waits, waited = [], []
    for seed in SEEDS:
        svc = service(4, dist=ServiceTime("exponential", 1.0))
        m = SimModel((svc,), (RequestClass("a", "svc", Arrivals("poisson", LAM)),),
                     duration_s=FAIL_AT + SETTLE + REQUESTS / LAM, warmup_s=FAIL_AT + SETTLE, seed=seed,
                     failures=(Failure(FAIL_AT, ("n0",)),))
        r = simulate_model(m)
        measured = r.measured
        assert not r.served[0] and r.busy_s[0] == 0.0          # the failed replica serves nothing
        waits.append(float(r.wait_s[measured].mean()))
        waited.append(float((r.wait_s[measured] > 0).mean()))
    assert np.mean(waits) == pytest.approx(theory.mmc_mean_wait(LAM, 1.0, 3), rel=MEAN_WAIT_TOL)
    assert np.mean(waited) == pytest.approx(theory.erlang_c(3, LAM), rel=WAIT_PROB_TOL)


# --------------------------------------------------------------------------- scenarios end to end

SCENARIO = """
name: zone-outage
seed: 5
cluster:
  pools:
    - {name: a, count: 2, resources: {cpu: 4}, labels: {zone: east}}
    - {name: b, count: 2, resources: {cpu: 4}, labels: {zone: west}}
services:
  - name: api
    replicas: 4
    resources: {cpu: 4}
    serving:
      service_time: {dist: exponential, mean: 100ms}
      on_failure: retry
workload:
  duration: 4m
  warmup: 20s
  classes:
    - {name: web, service: api, arrivals: {process: poisson, rate: 20/s}, slo: {p99: 1s}}
scheduling: {on_failure: lost}
failures:
  - {at: 2m, zone: west, recover: 30s}
  - {at: 3m, node: a-0}
metrics: {interval: 10s}
"""


def test_zone_failure_end_to_end_shows_in_the_report(write_scenario) -> None:
    scenario = load_scenario(write_scenario(SCENARIO))
    result = run(scenario)
    sim = result.report["simulation"]
    zone, node = sim["failures"]
    assert zone["target"] == "zone west" and zone["at_s"] == 120.0 and zone["recover_at_s"] == 150.0
    assert sorted(zone["replicas"]) == sorted(
        r for r, v in sim["replicas"].items() if v["pool"] == "b")
    assert len(zone["replicas"]) == 2 and node["target"] == "node a-0"
    assert result.model.services[0].on_failure == "retry"            # the service overrides the default
    series = sim["over_time"]
    assert series["interval_s"] == 10.0 and len(series["edges_s"]) == 23   # 220 s of window
    web = series["classes"]["web"]
    assert sum(web["arrived"]) == sim["classes"]["web"]["arrived"]
    # two replicas of four for 30 s at ρ = 0.5 per replica: the queue grows, latency spikes
    during = max(x for x in web["latency_p99_s"][10:13] if x is not None)
    before = max(x for x in web["latency_p99_s"][:9] if x is not None)
    assert during > 3 * before
    assert sim["replicas"][zone["replicas"][0]]["down_s"] == 30.0
    json.loads(to_json(result.report))
    md = render_markdown(result.report)
    assert "### Failures" in md and "zone west" in md


@pytest.mark.parametrize(("failure", "path", "message"), [
    ("{at: 10s, node: c-0}", "failures.0.node", "no node 'c-0'"),
    ("{at: 10s, node: a-2}", "failures.0.node", "no node 'a-2'"),
    ("{at: 10s, node: a-01}", "failures.0.node", "no node 'a-01'"),
    ("{at: 10s, zone: north}", "failures.0.zone", "no pool has the label zone: north"),
    ("{at: 10s, pool: c}", "failures.0.pool", "no pool named 'c'"),
    ("{at: 5m, node: a-0}", "failures.0.at", "before the end of the workload"),
    ("{at: 10s, node: a-0, zone: east}", "failures.0", "exactly one of node, zone, pool"),
    ("{at: 10s, node: a-0, recover: 0s}", "failures.0.recover", "greater than 0"),
])
def test_bad_failures_are_refused_with_the_field(write_scenario, failure: str, path: str,
                                                 message: str) -> None:
    text = SCENARIO.split("failures:")[0] + f"failures:\n  - {failure}\n"
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_scenario(text))
    assert path in str(err.value) and message in str(err.value)
