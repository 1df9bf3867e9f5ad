"""Statistical validation of the engine against closed-form queueing results (`capacity.theory`).

Every check averages independent seeded replications after a warm-up of 2% of the run, and its tolerance
comes from the replication-to-replication spread measured offline (60 seeds × 100,000 requests per
configuration, seeds 1000-1059, which these tests do not use). For a configuration whose per-run relative
standard deviation is ``sd`` at 100,000 requests, ``K`` runs of ``N`` requests give a standard error of the
average of ``sd · sqrt(100,000 / (K·N))``; each tolerance is at least 4 standard errors, so a correct
engine fails a check with probability below about 1e-4, and a 5% bias would not hide in the noise.

Run lengths (requests in total per check; ~5 million in all, 15-25 s on the 2-core machine):
  M/M/4 FIFO, ρ 0.5 and 0.7, 4 × 1 slot and 1 × 4 slots: 8 seeds × 100k each (3.2M)
  priority M/M/1, two classes, ρ 0.7:                    4 seeds × 100k (0.4M)
  M/D/1 ρ 0.7 and M/G/1 lognormal cv 1.5 ρ 0.6:          3 × 100k and 8 × 100k (1.1M)
  M/M/4 wait distribution (CDF points, p90, p99), ρ 0.7:  6 seeds × 100k (0.6M)
  priority M/M/1, three classes, ρ 0.6:                  4 seeds × 100k (0.4M)
  Little's law:                                          1 × 200k, and checked on every run above
Units: mean service time 1 s, so rates are per second and utilisations equal λ·E[S]/c.
"""

from __future__ import annotations

import numpy as np
import pytest

from capacity import theory
from capacity.sim import (
    Arrivals,
    RequestClass,
    ServiceTime,
    SimModel,
    SimResult,
    simulate_model,
)
from capacity.sim.metrics import mean_in_system
from capacity.sim.model import Discipline

from . import builders

pytestmark = pytest.mark.slow

REQUESTS = 100_000          # per replication
WARMUP = 0.02               # fraction of the run excluded from statistics


def model(replicas: int, slots: int, lams: list[float], service: ServiceTime, *, seed: int,
          discipline: Discipline = "fifo", requests: int = REQUESTS) -> SimModel:
    """One service; class k has rate ``lams[k]`` and priority k; the run lasts ~``requests`` arrivals."""
    svc = builders.service(replicas, slots, dist=service, discipline=discipline)
    classes = tuple(RequestClass(f"c{k}", "svc", Arrivals("poisson", lam), priority=k)
                    for k, lam in enumerate(lams))
    duration = requests / sum(lams)
    return builders.model(svc, classes=classes, duration=duration, warmup_s=WARMUP * duration, seed=seed)


def class_mean_waits(result: SimResult, n_classes: int) -> list[float]:
    """Mean wait per class; checks Little's law on the run on the way (every theory run is checked)."""
    assert_littles_law(result)
    measured = result.measured
    return [float(result.wait_s[measured & (result.cls == k)].mean()) for k in range(n_classes)]


def assert_littles_law(result: SimResult) -> None:
    """L = λW over the window: both sides come from one sample path, so they differ only by the requests
    straddling the window's edges (relative ~ L·W / window, below 1e-3 for every run in this file)."""
    lo, hi = result.window_s
    measured = result.measured
    lam = np.count_nonzero(measured) / (hi - lo)
    w = float(result.latency_s[measured].mean())
    assert mean_in_system(result, lo, hi) == pytest.approx(theory.littles_law_l(lam, w), rel=0.005)


def utilisation(result: SimResult) -> float:
    lo, hi = result.window_s
    return float(result.busy_s.sum() / (result.replica_slots.sum() * (hi - lo)))


# M/M/c: per-run relative sd of the mean wait at 100k requests is 2.8% (ρ 0.5) and 3.3% (ρ 0.7), so
# 8 × 100k gives a standard error of 1.0% and 1.2%: the 5% tolerance is 5.0 and 4.2 standard errors.
# The two layouts see the same queue (a central queue does not care which replica a slot belongs to),
# so each layout uses its own seeds to make the two checks independent.
@pytest.mark.parametrize("rho", [0.5, 0.7])
@pytest.mark.parametrize(("replicas", "slots", "first_seed"), [(4, 1, 0), (1, 4, 100)])
def test_mmc_mean_wait_matches_erlang_c(rho: float, replicas: int, slots: int, first_seed: int) -> None:
    c, mu = replicas * slots, 1.0
    lam = rho * c * mu
    waits, utils = [], []
    for seed in range(first_seed, first_seed + 8):
        m = model(replicas, slots, [lam], ServiceTime("exponential", 1.0 / mu), seed=seed)
        r = simulate_model(m)
        waits.append(class_mean_waits(r, 1)[0])
        utils.append(utilisation(r))
    expected = theory.mmc_mean_wait(lam, mu, c)
    assert np.mean(waits) == pytest.approx(expected, rel=0.05)
    # utilisation: per-run relative sd ~0.4% (arrival count and service-time noise), far inside 2%
    assert np.mean(utils) == pytest.approx(lam / (c * mu), rel=0.02)


# Two-class non-preemptive priority M/M/1, λ = 0.35 + 0.35, μ = 1. Per-run relative sd at 100k
# requests: 1.2% (high class) and 2.8% (low class); 4 × 100k gives standard errors 0.6% and 1.4%, so
# the 7% tolerance is 11 and 5 standard errors.
def test_priority_mm1_mean_waits_match_cobham() -> None:
    lams, mu = [0.35, 0.35], 1.0
    runs = []
    for seed in range(4):
        m = model(1, 1, lams, ServiceTime("exponential", 1.0 / mu), seed=seed, discipline="priority")
        runs.append(class_mean_waits(simulate_model(m), 2))
    measured = np.mean(runs, axis=0)
    expected = theory.priority_mg1_mean_waits(lams, [1 / mu, 1 / mu], [1.0, 1.0])
    assert expected == pytest.approx(theory.priority_mmc_mean_waits(lams, mu, 1))
    assert measured[0] == pytest.approx(expected[0], rel=0.07)
    assert measured[1] == pytest.approx(expected[1], rel=0.07)
    assert measured[0] < measured[1]


# M/D/1 at ρ 0.7: per-run relative sd 1.5% at 100k, 3 runs give 0.87%: 5% is 5.7 standard errors.
def test_md1_mean_wait_matches_pollaczek_khinchine() -> None:
    waits = [class_mean_waits(simulate_model(model(1, 1, [0.7], ServiceTime("deterministic", 1.0),
                                                    seed=seed)), 1)[0] for seed in range(3)]
    assert np.mean(waits) == pytest.approx(theory.mg1_mean_wait(0.7, 1.0, 0.0), rel=0.05)


# M/G/1 with lognormal service, cv 1.5 (heavier-tailed than exponential), ρ 0.6. Per-run relative sd
# 4.4% at 100k; 8 runs give 1.6%, so 7.5% is 4.8 standard errors. (The sample mean of a heavy-tailed
# wait is right-skewed, hence the wider tolerance than for the light-tailed cases.)
def test_mg1_lognormal_mean_wait_matches_pollaczek_khinchine() -> None:
    waits, utils = [], []
    for seed in range(8):
        m = model(1, 1, [0.6], ServiceTime("lognormal", 1.0, 1.5), seed=seed)
        r = simulate_model(m)
        waits.append(class_mean_waits(r, 1)[0])
        utils.append(utilisation(r))
        # the drawn service times have the requested mean and cv (per-run sd of the mean ~0.5%)
        assert r.service_s.mean() == pytest.approx(1.0, rel=0.03)
    assert np.mean(waits) == pytest.approx(theory.mg1_mean_wait(0.6, 1.0, 1.5), rel=0.075)
    assert np.mean(utils) == pytest.approx(0.6, rel=0.02)


# Little's law L = λW on one run, with L the time-average number in system over the window and W the
# mean sojourn of the requests that arrived in it. Both come from the same sample path, so they differ
# only by the requests that straddle the window edges: ~L·(mean sojourn)/(window) ≈ 1e-5 relative.
def test_littles_law_on_one_run() -> None:
    m = model(2, 2, [1.2, 1.6], ServiceTime("lognormal", 1.0, 0.8), seed=5, requests=200_000,
              discipline="priority")
    r = simulate_model(m)
    lo, hi = r.window_s
    measured = r.measured
    lam = np.count_nonzero(measured) / (hi - lo)
    w = float(r.latency_s[measured].mean())
    assert mean_in_system(r, lo, hi) == pytest.approx(theory.littles_law_l(lam, w), rel=0.002)


# M/M/4 (one replica, 4 slots), ρ 0.7: the wait distribution, not just its mean. Per-run sd at 100k
# requests (16 seeds, 1000-1015): P(W ≤ t) 0.0046 / 0.0040 / 0.0041 / 0.0029 at t = 0, 0.5, 1, 2 s;
# relative sd of the p90 wait 2.6%, of the p99 wait 4.0%. 6 seeds give standard errors of at most 0.0019
# (CDF), 1.1% (p90) and 1.6% (p99): tolerances 0.01, 5% and 7% are 5, 4.7 and 4.3 standard errors.
def test_mmc_wait_quantiles_match_erlang_c_distribution() -> None:
    lam, mu, c = 2.8, 1.0, 4
    points = [0.0, 0.5, 1.0, 2.0]
    cdf, p90, p99 = [], [], []
    for seed in range(200, 206):
        r = simulate_model(model(1, c, [lam], ServiceTime("exponential", 1.0 / mu), seed=seed))
        assert_littles_law(r)
        w = r.wait_s[r.measured]
        cdf.append([float(np.mean(w <= t)) for t in points])
        p90.append(float(np.quantile(w, 0.9)))
        p99.append(float(np.quantile(w, 0.99)))
    measured_cdf = np.mean(cdf, axis=0)
    for t, got in zip(points, measured_cdf, strict=True):
        assert got == pytest.approx(theory.mmc_wait_cdf(t, lam, mu, c), abs=0.01), t
    assert np.mean(p90) == pytest.approx(theory.mmc_wait_quantile(0.9, lam, mu, c), rel=0.05)
    assert np.mean(p99) == pytest.approx(theory.mmc_wait_quantile(0.99, lam, mu, c), rel=0.07)


# Three-class non-preemptive priority M/M/1, λ = 0.2 each, μ = 1 (Cobham: 0.75, 1.25, 2.5 s). Per-run
# relative sd at 100k requests (12 seeds, 1000-1011): 1.7%, 1.8%, 3.0%; 4 seeds give 0.85%, 0.9%, 1.5%,
# so the 6% tolerance is at least 4 standard errors.
def test_three_class_priority_mean_waits_match_cobham() -> None:
    lams = [0.2, 0.2, 0.2]
    runs = [class_mean_waits(simulate_model(model(1, 1, lams, ServiceTime("exponential", 1.0),
                                                  seed=seed, discipline="priority")), 3)
            for seed in range(300, 304)]
    measured = np.mean(runs, axis=0)
    expected = theory.priority_mg1_mean_waits(lams, [1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    for got, want in zip(measured, expected, strict=True):
        assert got == pytest.approx(want, rel=0.06)
    assert measured[0] < measured[1] < measured[2]
