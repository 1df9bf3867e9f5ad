"""Statistical checks of preemption, fair queueing, per-replica routing and finite queues (`capacity.theory`).

As in test_sim_theory: independent seeded replications of ~100,000 requests, a warm-up of 2%, and
tolerances from the replication-to-replication spread measured offline (20-30 seeds × 100,000 requests
per configuration, seeds 1000-1029, which these tests do not use; no bias was visible: |z| < 1.4 for every
estimate). With per-run relative sd ``sd``, ``K`` runs give a standard error ``sd / sqrt(K)``; each
tolerance is at least 4.5 standard errors. Mean service time is 1 s (μ = 1).

Run lengths: ~3.6 million requests in all, ~12 s on the 2-core machine.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from capacity import theory
from capacity.sim import (
    Arrivals,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    simulate_model,
    summarize,
)
from capacity.sim.metrics import mean_in_system

from .builders import service

pytestmark = pytest.mark.slow

REQUESTS = 100_000
WARMUP = 0.02


# M/M/·: exponential service of mean 1 s
exponential_service = partial(service, dist=ServiceTime("exponential", 1.0))


def run(svc: ServingService, classes: tuple[RequestClass, ...], seed: int,
        requests: int = REQUESTS) -> dict:
    duration = requests / sum(c.arrivals.rate_per_s for c in classes)
    m = SimModel((svc,), classes, duration_s=duration, warmup_s=WARMUP * duration, seed=seed)
    return summarize(m, simulate_model(m))


def one_class(lam: float) -> tuple[RequestClass, ...]:
    return (RequestClass("a", "svc", Arrivals("poisson", lam)),)


def blocking(s: dict) -> float:
    a = s["classes"]["a"]
    return a["rejected"] / a["arrived"]


# M/M/1/K with K = max_length + 1 = 5, ρ = 0.8: P_K = 0.08882. Per-run relative sd 1.4%: 4 runs give
# 0.69%, so 3.5% is 5.1 standard errors.
def test_mm1k_blocking_with_max_length() -> None:
    measured = np.mean([blocking(run(exponential_service(max_length=4), one_class(0.8), seed))
                        for seed in range(4)])
    assert measured == pytest.approx(theory.mm1k_blocking(0.8, 1.0, 5), rel=0.035)


# M/M/c/K on a central queue: 2 slots, 3 waiting places (K = 5), offered load 1.4: P_K = 0.06885.
# Per-run relative sd 2.1%: 4 runs give 1.06%; 5% is 4.7 standard errors.
def test_mmck_blocking_with_max_length_on_a_central_queue() -> None:
    measured = np.mean([blocking(run(exponential_service(slots=2, max_length=3), one_class(1.4), seed))
                        for seed in range(10, 14)])
    assert measured == pytest.approx(theory.mmck_blocking(1.4, 1.0, 2, 5), rel=0.05)


# Random routing splits a Poisson stream into independent Poisson streams: with a queue of 4 places per
# replica, each of 4 replicas is an M/M/1/5 at ρ = 0.8. Per-run relative sd 1.8%: 4 runs give 0.9%;
# 4.5% is 5 standard errors.
def test_random_routing_with_per_replica_max_length_is_mm1k_per_replica() -> None:
    svc = exponential_service(replicas=4, routing="random", max_length=4)
    measured = np.mean([blocking(run(svc, one_class(3.2), seed)) for seed in range(20, 24)])
    assert measured == pytest.approx(theory.mm1k_blocking(0.8, 1.0, 5), rel=0.045)


# Preemptive-resume two-class M/M/1, λ = 0.35 + 0.35: mean sojourns 1.538 and 5.128 s. Per-run relative
# sd 0.95% (high) and 2.2% (low): 4 runs give 0.48% and 1.1%; 3% and 5.5% are 6.3 and 5 standard errors.
def test_preemptive_resume_mm1_mean_sojourns() -> None:
    classes = (RequestClass("hi", "svc", Arrivals("poisson", 0.35), priority=0),
               RequestClass("lo", "svc", Arrivals("poisson", 0.35), priority=1))
    runs = [run(exponential_service(discipline="preemptive"), classes, seed) for seed in range(30, 34)]
    hi = np.mean([s["classes"]["hi"]["latency_s"]["mean"] for s in runs])
    lo = np.mean([s["classes"]["lo"]["latency_s"]["mean"] for s in runs])
    expected = theory.preemptive_resume_mg1_mean_sojourns([0.35, 0.35], [1.0, 1.0], [1.0, 1.0])
    assert hi == pytest.approx(expected[0], rel=0.03)
    assert lo == pytest.approx(expected[1], rel=0.055)
    # the high class does not see the low one at all: its sojourn is that of an M/M/1 at ρ = 0.35
    assert expected[0] == pytest.approx(1 / (1 - 0.35))


# Two always-backlogged tenants (each alone offers twice the capacity) with weights 3 and 1: SFQ and DRR
# guarantee shares within one request's cost (a few seconds) of 75/25 over any backlogged interval, here
# ~3,900 s; the tolerance of 2 points is the acceptance criterion, not a statistical one.
@pytest.mark.parametrize("discipline", ["fair", "drr"])
def test_backlogged_tenants_share_service_by_weight(discipline: str) -> None:
    classes = (RequestClass("a", "svc", Arrivals("poisson", 2.0), tenant="A", weight=3.0),
               RequestClass("b", "svc", Arrivals("poisson", 2.0), tenant="B", weight=1.0))
    for seed in range(3):
        s = run(exponential_service(discipline=discipline), classes, seed, requests=16_000)
        assert s["tenants"]["A"]["share"] == pytest.approx(0.75, abs=0.02)
        assert s["tenants"]["B"]["share"] == pytest.approx(0.25, abs=0.02)
        assert s["fairness"]["jain"] > 0.999


def test_priority_fair_shares_by_weight_inside_a_level() -> None:
    # a light urgent tenant C (priority 0, 10% of the capacity) goes first; A and B (priority 1,
    # backlogged) split the rest 3:1
    classes = (RequestClass("a", "svc", Arrivals("poisson", 2.0), priority=1, tenant="A", weight=3.0),
               RequestClass("b", "svc", Arrivals("poisson", 2.0), priority=1, tenant="B", weight=1.0),
               RequestClass("c", "svc", Arrivals("poisson", 0.1), priority=0, tenant="C"))
    urgent_waits = []
    for seed in range(3):
        s = run(exponential_service(slots=2, discipline="priority-fair"), classes, seed, requests=16_000)
        a, b = s["tenants"]["A"]["share"], s["tenants"]["B"]["share"]
        assert a / (a + b) == pytest.approx(0.75, abs=0.02)
        urgent_waits.append(s["classes"]["c"]["wait_s"]["mean"])
    # C waits only for a slot (both are always busy): Cobham's top class with residual 1/(cμ) = 0.5 s,
    # W = 0.5 / (1 − ρ_C/c) = 0.526 s. ~390 C requests a run, wait sd ~0.55: the 3-run mean has a
    # standard error ~0.016 s, so ±0.08 s is 5 standard errors (FIFO would make C wait for hours).
    assert np.mean(urgent_waits) == pytest.approx(0.5 / (1 - 0.1 / 2), abs=0.08)


# Random routing over 4 replicas at ρ = 0.6 is 4 independent M/M/1 queues: E[W] = ρ/(μ − λ) = 1.5 s.
# Per-run relative sd 1.7%: 4 runs give 0.86%; 4.5% is 5.2 standard errors. Power-of-two at ρ = 0.8
# (8 replicas) waits ~1.15 s against ~4.1 s for random: far apart, so each seed must show it.
def test_random_routing_mean_wait_and_power_of_two_beats_it() -> None:
    waits = [run(exponential_service(replicas=4, routing="random"), one_class(2.4), seed)["classes"]["a"]
             ["wait_s"]["mean"] for seed in range(40, 44)]
    assert np.mean(waits) == pytest.approx(0.6 / (1.0 - 0.6), rel=0.045)
    for seed in range(50, 53):
        random_wait = run(exponential_service(replicas=8, routing="random"), one_class(6.4), seed,
                          requests=50_000)["classes"]["a"]["wait_s"]["mean"]
        p2c_wait = run(exponential_service(replicas=8, routing="power-of-two"), one_class(6.4), seed,
                       requests=50_000)["classes"]["a"]["wait_s"]["mean"]
        rr_wait = run(exponential_service(replicas=8, routing="round-robin"), one_class(6.4), seed,
                      requests=50_000)["classes"]["a"]["wait_s"]["mean"]
        assert p2c_wait < 0.5 * random_wait
        assert rr_wait < random_wait                                # E_k/M/1 waits less than M/M/1


# Little's law L = λW with rejections, timeouts, preemption and per-replica queues: λ counts the
# requests that entered (served or timed out), W their mean time in system. Same sample path, so they
# differ only by edge effects (~1e-4 relative here).
@pytest.mark.parametrize(("routing", "discipline"), [("central", "preemptive"),
                                                     ("power-of-two", "fair")])
def test_littles_law_with_rejections_and_timeouts(routing: str, discipline: str) -> None:
    svc = exponential_service(replicas=2, slots=2, routing=routing, discipline=discipline, max_length=6,
                  timeout_s=1.5)
    classes = (RequestClass("a", "svc", Arrivals("poisson", 2.0), priority=0, tenant="A", weight=2.0),
               RequestClass("b", "svc", Arrivals("poisson", 2.2), priority=1, tenant="B"))
    duration = 100_000 / 4.2
    m = SimModel((svc,), classes, duration_s=duration, warmup_s=WARMUP * duration, seed=7)
    r = simulate_model(m)
    s = summarize(m, r)
    lo, hi = r.window_s
    entered = r.measured & ~np.isnan(r.end_s)
    lam = np.count_nonzero(entered) / (hi - lo)
    w = float((r.end_s - r.arrival_s)[entered].mean())
    assert mean_in_system(r, lo, hi) == pytest.approx(theory.littles_law_l(lam, w), rel=0.002)
    for c in s["classes"].values():
        assert c["arrived"] == c["completed"] + c["rejected"] + c["timed_out"]
        assert c["rejected"] > 0 and c["timed_out"] > 0
    util = s["services"]["svc"]["utilisation"]
    # busy slot-seconds equal the served requests' service (resume: segments add up) up to edges
    served = r.measured & ~r.rejected
    assert util == pytest.approx(r.service_s[served].sum() / (4 * (hi - lo)), rel=0.01)
