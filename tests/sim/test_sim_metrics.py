"""Metric definitions (`capacity.sim.metrics`): throughput, goodput, outcomes, Little's law with lost and
dropped requests, time series that add up to the totals, per-tenant latency and TTFT."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from capacity.sim import (
    Arrivals,
    Failure,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    simulate_model,
    simulate_requests,
    summarize,
)
from capacity.sim.metrics import busy_by_window, mean_in_system, window_edges

from .builders import service, stream


def test_throughput_goodput_and_slo_attainment_by_hand() -> None:
    # one slot, 1 s each, arrivals 0, 0, 0, 0 in a window of 8 s: latencies 1, 2, 3, 4.
    # Class "a" (target 2.5 s) gets requests 0 and 2, class "b" (no SLO) 1 and 3.
    classes = (RequestClass("a", "svc", Arrivals("poisson", 1.0), tenant="t1", slo_target_s=2.5,
                            slo_quantile=0.5),
               RequestClass("b", "svc", Arrivals("poisson", 1.0), tenant="t1"))
    m = SimModel((service(),), classes, duration_s=8.0)
    r = simulate_requests(m, stream([0, 0, 0, 0], classes=[0, 1, 0, 1]))
    s = summarize(m, r)
    a, b = s["classes"]["a"], s["classes"]["b"]
    assert a["throughput_per_s"] == 2 / 8 and b["throughput_per_s"] == 2 / 8
    assert a["goodput_per_s"] == 1 / 8                 # latency 1 within 2.5; latency 3 is not
    assert b["goodput_per_s"] is None                  # no SLO: no goodput
    assert a["slo"] == {"target_s": 2.5, "quantile": 0.5, "attained": 0.5, "met": True, "status": "met"}
    t = s["tenants"]["t1"]
    assert t["goodput_per_s"] == 1 / 8 and t["throughput_per_s"] == 4 / 8
    assert t["latency_s"]["mean"] == 2.5 and t["wait_s"]["max"] == 3.0


def test_per_tenant_latency_and_counts() -> None:
    # tenants web (class w) and batch (class b) on one slot: w at 0, b at 0, w at 0.5 → w0 [0, 1],
    # b [1, 2], w2 [2, 3]: web latencies 1 and 2.5, batch 2.
    classes = (RequestClass("w", "svc", Arrivals("poisson", 1.0), tenant="web"),
               RequestClass("b", "svc", Arrivals("poisson", 1.0), tenant="batch"))
    m = SimModel((service(),), classes, duration_s=4.0)
    r = simulate_requests(m, stream([0, 0, 0.5], classes=[0, 1, 0]))
    s = summarize(m, r)
    web, batch = s["tenants"]["web"], s["tenants"]["batch"]
    assert (web["arrived"], web["completed"], batch["completed"]) == (2, 2, 1)
    assert web["latency_s"]["mean"] == 1.75 and web["latency_s"]["max"] == 2.5
    assert batch["latency_s"]["p50"] == 2.0
    assert web["share"] == pytest.approx(2 / 3) and batch["share"] == pytest.approx(1 / 3)


def test_outcomes_partition_the_arrivals_and_littles_law_holds_with_lost_and_dropped() -> None:
    # bounded queue (rejected), timeout (timed out), deadline admission (dropped), a failure without
    # retry (lost): every measured request has exactly one outcome
    svc = ServingService("svc", tuple(Replica(f"svc-{i}", f"n{i}", "pool") for i in range(3)), 1,
                         ServiceTime("exponential", 1.0), routing="least-outstanding", max_length=3,
                         timeout_s=2.0, on_failure="lost")
    classes = (RequestClass("a", "svc", Arrivals("poisson", 1.6), slo_target_s=3.0, slo_quantile=0.9,
                            admission="deadline"),
               RequestClass("b", "svc", Arrivals("poisson", 1.3)))
    m = SimModel((svc,), classes, duration_s=20_000.0, warmup_s=200.0, seed=9,
                 failures=(Failure(5000.0, ("n0",), 2000.0), Failure(12_000.0, ("n1",), 500.0)))
    r = simulate_model(m)
    s = summarize(m, r)
    for c in s["classes"].values():
        assert c["arrived"] == sum(c[k] for k in ("completed", "rejected", "timed_out", "dropped", "lost"))
        assert min(c["completed"], c["rejected"], c["timed_out"]) > 0
    assert s["classes"]["a"]["dropped"] > 0 and s["classes"]["b"]["dropped"] == 0
    assert sum(c["lost"] for c in s["classes"].values()) > 0
    # exactly, over the whole run: the area under N(t) is the sum of the times in system
    entered = ~np.isnan(r.end_s)
    horizon = float(np.nanmax(r.end_s))
    assert mean_in_system(r, 0.0, horizon) * horizon == pytest.approx(
        float(np.sum(r.end_s[entered] - r.arrival_s[entered])), rel=1e-9)
    # L = λ W over the statistics window: λ and W of the admitted (entered) requests only
    lo, hi = r.window_s
    admitted = entered & r.measured
    lam = np.count_nonzero(admitted) / (hi - lo)
    w = float(np.mean(r.end_s[admitted] - r.arrival_s[admitted]))
    assert mean_in_system(r, lo, hi) == pytest.approx(lam * w, rel=0.01)


def test_time_series_add_up_to_the_totals() -> None:
    # preemption and a failure (cut segments), services longer than a window, a short last window
    svc = ServingService("svc", tuple(Replica(f"svc-{i}", f"n{i}", f"pool{i % 2}") for i in range(3)), 2,
                         ServiceTime("lognormal", 3.0, cv=2.0), discipline="preemptive")
    classes = (RequestClass("hi", "svc", Arrivals("poisson", 0.5), priority=0, tenant="x"),
               RequestClass("lo", "svc", Arrivals("poisson", 1.0), priority=1, tenant="y"))
    m = SimModel((svc,), classes, duration_s=1000.0, warmup_s=37.0, seed=2, interval_s=7.0,
                 failures=(Failure(400.0, ("n1",), 100.0),))
    r = simulate_model(m)
    assert r.segments is not None
    s = summarize(m, r)
    ot = s["over_time"]
    widths = np.diff(ot["edges_s"])
    assert ot["edges_s"][0] == 37.0 and ot["edges_s"][-1] == 1000.0
    assert widths[0] == 7.0 and 0 < widths[-1] < 7.0           # 963 s = 137 × 7 s + 4 s
    for name, c in s["classes"].items():
        for key in ("arrived", "completed", "rejected", "timed_out", "dropped", "lost"):
            assert sum(ot["classes"][name][key]) == c[key]
    span = 1000.0 - 37.0
    for section in ("replicas", "nodes", "pools", "services"):
        for name, series in ot["utilisation"][section].items():
            total = s[section][name]["utilisation"]
            assert float(np.dot(series, widths)) / span == pytest.approx(total, rel=1e-5)  # 6 digits
    # the window latency percentiles are those of the requests that arrived in the window
    lat = r.latency_s
    k = 60
    lo, hi = ot["edges_s"][k], ot["edges_s"][k + 1]
    inside = (r.cls == 0) & r.completed & (r.arrival_s >= lo) & (r.arrival_s < hi)
    assert ot["classes"]["hi"]["latency_p99_s"][k] == pytest.approx(
        np.percentile(lat[inside], 99), rel=1e-5)


def test_busy_by_window_matches_a_brute_force_overlap() -> None:
    rng = np.random.default_rng(5)
    n, replicas = 500, 3
    start = rng.uniform(-5, 100, n)
    end = start + rng.exponential(8.0, n)
    replica = rng.integers(0, replicas, n)
    weight = rng.uniform(0.1, 1.0, n)
    edges = window_edges(0.0, 97.5, 10.0)
    got = busy_by_window(replica, start, end, weight, edges, replicas)
    want = np.zeros((replicas, len(edges) - 1))
    for i in range(n):
        for b in range(len(edges) - 1):
            overlap = min(end[i], edges[b + 1]) - max(start[i], edges[b])
            want[replica[i], b] += weight[i] * max(overlap, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert window_edges(0.0, 60.0, None).tolist() == list(np.linspace(0, 60, 61))


def test_ttft_is_reported_when_the_run_has_token_timings() -> None:
    m = SimModel((service(),), (RequestClass("a", "svc", Arrivals("poisson", 1.0)),), duration_s=4.0)
    r = simulate_requests(m, stream([0, 1, 2]))
    assert "ttft_s" not in summarize(m, r)["classes"]["a"]
    timed = dataclasses.replace(r, first_token_s=r.start_s + np.array([0.25, 0.5, 0.75]))
    c = summarize(m, timed)["classes"]["a"]
    assert c["ttft_s"]["mean"] == 0.5 and c["ttft_s"]["max"] == 0.75
    assert summarize(m, timed)["tenants"]["default"]["ttft_s"]["p50"] == 0.5
