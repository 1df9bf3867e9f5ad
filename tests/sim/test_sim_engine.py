"""Hand-computed cases, invariants and a brute-force reference for the serving engine (fast, exact).

Times in the hand-made cases are multiples of 1/8 or 1/4 s, so float arithmetic is exact and ties
(an arrival at the instant a slot frees) really are ties.
"""

from __future__ import annotations

import heapq
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.sim import (
    Arrivals,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    generate_requests,
    simulate_model,
    simulate_requests,
    summarize,
)
from capacity.sim.model import Discipline

from ..conftest import examples
from .builders import from_rows, model, service

# --------------------------------------------------------------------------- hand-computed cases


def test_deterministic_arrivals_and_service_give_exact_latencies() -> None:
    # one slot, arrivals every 0.5 s from 0, each needs 0.75 s: the queue grows by 0.25 s per request
    svc = service(dist=ServiceTime("deterministic", 0.75))
    m = SimModel((svc,), (RequestClass("a", "svc", Arrivals("deterministic", 2.0)),), duration_s=3.0)
    r = simulate_model(m)
    np.testing.assert_array_equal(r.arrival_s, [0, 0.5, 1.0, 1.5, 2.0, 2.5])
    np.testing.assert_array_equal(r.wait_s, [0, 0.25, 0.5, 0.75, 1.0, 1.25])
    np.testing.assert_array_equal(r.latency_s, [0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    np.testing.assert_array_equal(r.end_s, [0.75, 1.5, 2.25, 3.0, 3.75, 4.5])  # drained after 3 s
    s = summarize(m, r)
    a = s["classes"]["a"]
    assert (a["arrived"], a["completed"], a["rejected"], a["timed_out"]) == (6, 6, 0, 0)
    assert a["latency_s"]["mean"] == pytest.approx(1.375)
    assert a["latency_s"]["max"] == 2.0
    assert a["wait_s"]["p50"] == pytest.approx(0.625)       # linear interpolation between 0.5, 0.75
    assert a["throughput_per_s"] == 2.0
    assert s["replicas"]["svc-0"]["utilisation"] == 1.0     # busy all of [0, 3]
    assert s["window_s"] == {"start": 0.0, "end": 3.0}


def test_two_replicas_alternate_and_share_the_load() -> None:
    # arrivals every 0.25 s, service 0.375 s, two single-slot replicas: each arrival finds replica 0
    # busy or just freed; the rule (most free slots, then lowest index) alternates them exactly
    svc = service(replicas=2, dist=ServiceTime("deterministic", 0.375), per_node=2)
    m = SimModel((svc,), (RequestClass("a", "svc", Arrivals("deterministic", 4.0)),), duration_s=2.0)
    r = simulate_model(m)
    np.testing.assert_array_equal(r.replica, [0, 1] * 4)
    assert np.all(r.wait_s == 0)
    s = summarize(m, r)
    # busy in [0, 2]: 7 full services and the last (1.75 to 2.125) for 0.25 s, over 2 slots × 2 s
    assert s["services"]["svc"]["utilisation"] == pytest.approx((7 * 0.375 + 0.25) / 4)
    assert s["replicas"]["svc-0"]["served"] == s["replicas"]["svc-1"]["served"] == 4
    assert s["nodes"]["n0"]["replicas"] == ["svc-0", "svc-1"]


def test_routing_prefers_most_free_slots_then_lowest_index() -> None:
    svc = service(replicas=2, slots=2)
    m = model(svc)
    r = simulate_requests(m, from_rows([(0, 0.0, 4.0), (0, 0.25, 4.0), (0, 0.5, 4.0), (0, 0.75, 4.0),
                                     (0, 1.0, 4.0)]))
    # 0: both idle -> replica 0; 1: replica 1 has 2 free; 2: 1 free each -> 0; 3: -> 1; 4: queued
    # until the first slot frees (t = 4, replica 0)
    np.testing.assert_array_equal(r.replica, [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(r.start_s, [0.0, 0.25, 0.5, 0.75, 4.0])


def test_priority_serves_the_most_urgent_waiting_request_without_preemption() -> None:
    m = model(service(discipline="priority"))
    hi, lo = 0, 1
    r = simulate_requests(m, from_rows([(lo, 0.0, 1.0), (lo, 0.125, 1.0), (hi, 0.25, 1.0),
                                     (lo, 0.375, 1.0), (hi, 0.5, 1.0)]))
    # the low request in service at t=0 is not interrupted; at t=1 both high ones go first (FIFO
    # among them), then the low ones in arrival order
    np.testing.assert_array_equal(r.start_s, [0.0, 3.0, 1.0, 4.0, 2.0])
    # the same arrivals under FIFO
    r_fifo = simulate_requests(model(service()), from_rows(
        [(lo, 0.0, 1.0), (lo, 0.125, 1.0), (hi, 0.25, 1.0), (lo, 0.375, 1.0), (hi, 0.5, 1.0)]))
    np.testing.assert_array_equal(r_fifo.start_s, [0.0, 1.0, 2.0, 3.0, 4.0])


def test_completion_before_arrival_at_the_same_instant() -> None:
    # a slot frees at t=1 exactly when a high-priority request arrives: the completion is processed
    # first, so the low request already waiting takes the slot and the new high request waits
    m = model(service(discipline="priority"))
    r = simulate_requests(m, from_rows([(1, 0.0, 1.0), (1, 0.5, 1.0), (0, 1.0, 1.0)]))
    np.testing.assert_array_equal(r.start_s, [0.0, 1.0, 2.0])
    # and an arrival at the instant a slot frees with nothing waiting starts at once
    r = simulate_requests(m, from_rows([(0, 0.0, 1.0), (0, 1.0, 1.0)]))
    np.testing.assert_array_equal(r.wait_s, [0.0, 0.0])


def test_simultaneous_arrivals_are_ordered_by_class() -> None:
    # two deterministic classes at the same instants: class order breaks the tie (sequence numbers)
    svc = service(dist=ServiceTime("deterministic", 0.25))
    classes = (RequestClass("b", "svc", Arrivals("deterministic", 1.0)),
               RequestClass("a", "svc", Arrivals("deterministic", 1.0)))
    r = simulate_model(SimModel((svc,), classes, duration_s=2.0))
    np.testing.assert_array_equal(r.cls, [0, 1, 0, 1])
    np.testing.assert_array_equal(r.start_s, [0.0, 0.25, 1.0, 1.25])


def test_warmup_excludes_early_arrivals_and_clips_busy_time_to_the_window() -> None:
    m = SimModel((service(),), (RequestClass("a", "svc", Arrivals("poisson", 1.0)),),
                 duration_s=10.0, warmup_s=2.0)
    r = simulate_requests(m, from_rows([(0, 1.0, 2.0), (0, 5.0, 1.0), (0, 9.5, 1.0)]))
    s = summarize(m, r)
    a = s["classes"]["a"]
    assert (a["arrived"], a["completed"]) == (2, 2)          # the arrival at t=1 is warm-up
    assert a["latency_s"]["max"] == 1.0                       # not the 2 s of the warm-up request
    assert a["throughput_per_s"] == 2 / 8
    # busy inside [2, 10]: 1 s of the first request, 1 s, and 0.5 s of the last (it ends at 10.5)
    assert s["replicas"]["svc-0"]["utilisation"] == pytest.approx(2.5 / 8)
    assert s["replicas"]["svc-0"]["served"] == 2
    assert s["window_s"] == {"start": 2.0, "end": 10.0}


def test_service_without_replicas_rejects_its_requests() -> None:
    empty = ServingService("empty", (), concurrency=1, service_time=ServiceTime("exponential", 0.1))
    classes = (RequestClass("lost", "empty", Arrivals("poisson", 50.0), tenant="t1",
                            slo_target_s=1.0, slo_quantile=0.5),
               RequestClass("ok", "svc", Arrivals("poisson", 0.5), tenant="t2"))
    m = SimModel((empty, service()), classes, duration_s=100.0, warmup_s=10.0, seed=3)
    r = simulate_model(m)
    s = summarize(m, r)
    lost = s["classes"]["lost"]
    assert lost["arrived"] > 4000
    assert lost["rejected"] == lost["arrived"] and lost["completed"] == 0
    assert lost["latency_s"] == {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    assert lost["slo"] == {"target_s": 1.0, "quantile": 0.5, "attained": 0.0, "met": False,
                           "status": "missed"}
    assert s["services"]["empty"] == {"utilisation": None, "replicas": 0, "slots": 0}
    assert s["classes"]["ok"]["rejected"] == 0
    assert s["tenants"]["t1"]["share"] == 0.0 and s["tenants"]["t2"]["share"] == 1.0
    assert np.all(np.isnan(r.start_s[r.cls == 0])) and np.all(r.replica[r.cls == 0] == -1)


def test_no_arrivals_gives_null_statistics() -> None:
    m = SimModel((service(),), (RequestClass("idle", "svc", Arrivals("poisson", 0.0),
                                             slo_target_s=1.0, slo_quantile=0.9),),
                 duration_s=5.0)
    s = summarize(m, simulate_model(m))
    assert s["classes"]["idle"]["arrived"] == 0
    assert s["classes"]["idle"]["wait_s"]["p99"] is None
    assert s["classes"]["idle"]["slo"]["attained"] is None
    assert s["tenants"]["default"]["share"] is None
    assert s["replicas"]["svc-0"]["utilisation"] == 0.0
    json.dumps(s, allow_nan=False)


# --------------------------------------------------------------------------- determinism and seeds


def mixed_model(seed: int, extra_class: bool = False) -> SimModel:
    svc = service(replicas=3, slots=2, dist=ServiceTime("lognormal", 0.05, 0.7),
                  discipline="priority")
    classes = [RequestClass("interactive", "svc", Arrivals("poisson", 40.0), priority=0,
                            tenant="web", weight=3.0, slo_target_s=0.1, slo_quantile=0.99),
               RequestClass("bulk", "svc", Arrivals("deterministic", 30.0), priority=1,
                            tenant="batch")]
    if extra_class:
        classes.insert(0, RequestClass("new", "svc", Arrivals("poisson", 10.0), priority=2))
    return SimModel((svc,), tuple(classes), duration_s=120.0, warmup_s=10.0, seed=seed)


def test_same_seed_gives_identical_summary_and_records() -> None:
    m = mixed_model(seed=11)
    a, b = simulate_model(m), simulate_model(m)
    assert json.dumps(summarize(m, a), allow_nan=False) == json.dumps(summarize(m, b))
    for field in ("cls", "arrival_s", "service_s", "start_s", "end_s", "replica", "busy_s"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_different_seed_gives_different_results() -> None:
    a = summarize(mixed_model(1), simulate_model(mixed_model(1)))
    b = summarize(mixed_model(2), simulate_model(mixed_model(2)))
    assert a != b
    assert a["classes"]["interactive"]["arrived"] != b["classes"]["interactive"]["arrived"]


def test_adding_a_class_does_not_change_the_draws_of_the_others() -> None:
    base, grown = generate_requests(mixed_model(5)), generate_requests(mixed_model(5, True))
    for k_base, k_grown in ((0, 1), (1, 2)):                # "new" is inserted first
        np.testing.assert_array_equal(base.arrival_s[base.cls == k_base],
                                      grown.arrival_s[grown.cls == k_grown])
        np.testing.assert_array_equal(base.service_s[base.cls == k_base],
                                      grown.service_s[grown.cls == k_grown])


def test_summary_is_plain_json() -> None:
    m = mixed_model(seed=4)
    s = summarize(m, simulate_model(m))
    assert json.loads(json.dumps(s, allow_nan=False)) == s
    assert set(s) == {"classes", "tenants", "replicas", "nodes", "pools", "services", "fairness",
                      "failures", "window_s", "over_time", "statistics"}
    assert s["statistics"] == {"mode": "exact", "relative_error": None}
    counts = {"arrived", "completed", "rejected", "timed_out", "dropped", "lost", "retried",
              "throughput_per_s", "goodput_per_s", "latency_s", "wait_s"}
    assert set(s["classes"]["interactive"]) == counts | {"slo"}
    assert set(s["classes"]["interactive"]["slo"]) == {"target_s", "quantile", "attained", "met", "status"}
    assert s["classes"]["bulk"]["slo"] is None
    assert set(s["tenants"]["web"]) == counts | {"share"}
    assert set(s["replicas"]["svc-0"]) == {"node", "pool", "utilisation", "served", "down_s"}
    assert set(s["nodes"]["n0"]) == {"pool", "utilisation", "replicas"}
    assert sum(t["share"] for t in s["tenants"].values()) == pytest.approx(1.0)
    assert sum(v["served"] for v in s["replicas"].values()) == sum(
        c["completed"] for c in s["classes"].values())


def test_jain_index_uses_weighted_shares() -> None:
    # x_i = share_i / weight_i, with web's weight 3 and batch's weight 1
    m = mixed_model(seed=4)
    s = summarize(m, simulate_model(m))
    x = [s["tenants"]["web"]["share"] / 3.0, s["tenants"]["batch"]["share"] / 1.0]
    assert s["fairness"]["jain"] == pytest.approx(sum(x) ** 2 / (2 * sum(v * v for v in x)))
    one = SimModel((service(),), (RequestClass("a", "svc", Arrivals("poisson", 0.5)),), 20.0)
    assert summarize(one, simulate_model(one))["fairness"]["jain"] == 1.0


def test_bad_model_is_rejected_naming_the_field() -> None:
    svc = service()
    bad_rate = SimModel((svc,), (RequestClass("a", "svc", Arrivals("poisson", -1.0)),), 10.0)
    with pytest.raises(ValueError, match=r"classes\.a\.arrivals\.rate_per_s"):
        simulate_model(bad_rate)
    bad_service = SimModel((svc,), (RequestClass("a", "nope", Arrivals("poisson", 1.0)),), 10.0)
    with pytest.raises(ValueError, match=r"classes\.a\.service"):
        simulate_model(bad_service)
    with pytest.raises(ValueError, match="warmup_s"):
        simulate_model(SimModel((svc,), (), duration_s=10.0, warmup_s=10.0))


# --------------------------------------------------------------------------- brute-force reference


def kiefer_wolfowitz_waits(arrival: np.ndarray, service_s: np.ndarray, c: int) -> np.ndarray:
    """FIFO waits in a c-server queue: each request starts when the earliest slot frees."""
    free_at = [0.0] * c
    waits = np.empty(len(arrival))
    for i, (a, s) in enumerate(zip(arrival.tolist(), service_s.tolist(), strict=True)):
        begin = max(a, heapq.heappop(free_at))
        waits[i] = begin - a
        heapq.heappush(free_at, begin + s)
    return waits


@pytest.mark.parametrize(("replicas", "slots"), [(4, 1), (1, 4), (2, 2)])
def test_fifo_waits_equal_the_kiefer_wolfowitz_recursion(replicas: int, slots: int) -> None:
    svc = service(replicas=replicas, slots=slots, dist=ServiceTime("exponential", 1.0))
    m = SimModel((svc,), (RequestClass("a", "svc", Arrivals("poisson", 3.2)),), duration_s=5000.0)
    r = simulate_model(m)
    np.testing.assert_allclose(r.wait_s, kiefer_wolfowitz_waits(r.arrival_s, r.service_s, 4),
                               rtol=0, atol=1e-9)


def reference(rows: list[tuple[int, float, float]], prio: list[int], replicas: int, slots: int,
              discipline: str) -> tuple[list[float], list[int]]:
    """A plain event loop (no SimPy) with the engine's documented rules, for cross-checking.

    Completions before arrivals at equal times (completions among themselves in the order they were
    scheduled); a freed slot takes the waiting request with the smallest key; an arrival that finds
    free slots goes to the replica with the most free slots, then the lowest index.
    """
    rows = sorted(rows, key=lambda row: row[1])              # stable: sequence order
    free = [slots] * replicas
    waiting: list[tuple[tuple[float, ...], int]] = []
    done: list[tuple[float, int, int]] = []                  # (time, scheduling order, replica)
    start, where = [0.0] * len(rows), [0] * len(rows)
    counter, i = 0, 0

    def begin(j: int, r: int, t: float) -> None:
        nonlocal counter
        start[j], where[j] = t, r
        heapq.heappush(done, (t + rows[j][2], counter, r))
        counter += 1

    while i < len(rows) or done:
        if done and (i == len(rows) or done[0][0] <= rows[i][1]):
            t, _, r = heapq.heappop(done)
            if waiting:
                waiting.sort()
                begin(waiting.pop(0)[1], r, t)
            else:
                free[r] += 1
        else:
            k, t, _ = rows[i]
            if max(free) > 0:
                r = max(range(replicas), key=lambda q: (free[q], -q))
                free[r] -= 1
                begin(i, r, t)
            else:
                key = (prio[k], t, i) if discipline == "priority" else (t, i)
                waiting.append((key, i))
            i += 1
    return start, where


@settings(max_examples=examples(150), deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40), st.integers(1, 12)),
                  min_size=1, max_size=40),
    replicas=st.integers(1, 3), slots=st.integers(1, 3),
    discipline=st.sampled_from(["fifo", "priority"]),
)
def test_engine_matches_reference_and_never_exceeds_capacity(
        data: list[tuple[int, int, int]], replicas: int, slots: int, discipline: Discipline) -> None:
    rows = [(k, a / 4, s / 4) for k, a, s in data]            # quarter seconds: exact, many ties
    prio = [0, 1, 1]
    svc = service(replicas=replicas, slots=slots, discipline=discipline)
    classes = tuple(RequestClass(f"c{k}", "svc", Arrivals("poisson", 1.0), priority=p)
                    for k, p in enumerate(prio))
    m = SimModel((svc,), classes, duration_s=11.0)
    r = simulate_requests(m, from_rows(rows))
    start, where = reference(rows, prio, replicas, slots, discipline)
    np.testing.assert_array_equal(r.start_s, start)
    np.testing.assert_array_equal(r.replica, where)
    assert np.all(r.start_s >= r.arrival_s)
    # capacity: at no instant does a replica serve more than `slots` requests
    for q in range(replicas):
        on = r.replica == q
        events = sorted([(t, 1) for t in r.start_s[on]] + [(t, -1) for t in r.end_s[on]],
                        key=lambda e: (e[0], e[1]))          # an end frees before a start uses
        assert max(np.cumsum([e[1] for e in events]), default=0) <= slots
