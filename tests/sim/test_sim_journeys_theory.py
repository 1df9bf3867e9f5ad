"""Travelling requests against queueing theory (`capacity.theory`): Jackson networks and fork-join.

* A tandem of M/M/1 (and of M/M/c) stations, and a station with Bernoulli feedback (a geometric repeat,
  drawn per request: the same law), are open Jackson networks: the mean end-to-end sojourn is
  ``Σ V_i·T_i(λV_i)`` (`capacity.theory.jackson_mean_sojourn`).
* A fork-join of two M/M/1 branches: Nelson & Tantawi's ``R_2 = (12 − ρ)/8 · 1/(μ − λ)``, exact for two
  branches; three branches against their approximation, which they state within about 5%.
* Little's law per stage (each service's visits) and end to end, on every run.

**Tolerances from the variance.** Each check runs ``SEEDS`` independent replications (warm-up: the first
5% of each run) and compares their average ``m`` with the theory ``t``: it asserts ``|m − t| ≤ 5·se``,
``se`` the standard error of the average from the replications' own spread (Student t with 7 degrees of
freedom: a correct engine fails with probability about 0.002), and also ``|m − t| ≤ 5% of t`` so that a
noisy run cannot hide a bias. Measured on this engine: relative ``se`` 0.3–0.9% (8 replications of 20,000
requests). The Nelson–Tantawi approximation (3 branches) is checked against its stated 5% plus 3·se.
"""

from __future__ import annotations

import numpy as np
import pytest

from capacity import theory
from capacity.sim.journeys import PathResult, simulate_journeys
from capacity.sim.metrics import mean_in_system
from capacity.sim.model import (
    Arrivals,
    Parallel,
    Repeat,
    RepeatCount,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    Stage,
    Visit,
)
from capacity.sim.result import busy_in_window

pytestmark = pytest.mark.slow

SEEDS = range(8)
REQUESTS = 20_000
WARMUP = 0.05


def station(name: str, mean_s: float, servers: int = 1) -> ServingService:
    reps = tuple(Replica(f"{name}-{i}", f"node-{name}-{i}", "pool") for i in range(servers))
    return ServingService(name, reps, 1, ServiceTime("exponential", mean_s))


def network(path: tuple[Stage, ...], services: tuple[ServingService, ...], lam: float, seed: int) -> SimModel:
    first = path[0]
    while not isinstance(first, Visit):
        first = first.branches[0][0] if isinstance(first, Parallel) else first.stages[0]
    duration = REQUESTS / lam
    return SimModel(
        services,
        (RequestClass("r", first.service, Arrivals("poisson", lam), path=path),),
        duration_s=duration,
        warmup_s=WARMUP * duration,
        seed=seed,
    )


def assert_littles_law(r: PathResult) -> None:
    """``L = λW`` per service (its visits) and end to end; both sides from one sample path, so they
    differ only by what straddles the window's edges (well below 1% at these run lengths)."""
    lo, hi = r.visits.window_s
    span = hi - lo
    measured = r.measured() & r.completed
    lam = np.count_nonzero(r.measured()) / span
    w = float(r.latency_s[measured].mean())
    done = r.completed
    present = busy_in_window(r.request_arrival_s[done], r.request_end_s[done], lo, hi).sum() / span
    assert present == pytest.approx(theory.littles_law_l(lam, w), rel=0.01)
    v = r.visits
    for k in range(len(r.visit_model.classes)):
        mine = v.cls == k
        arrived = mine & (v.arrival_s >= lo) & (v.arrival_s < hi)
        lam_k = np.count_nonzero(arrived) / span
        w_k = float((v.end_s - v.arrival_s)[arrived].mean())
        reached = mine & ~np.isnan(v.arrival_s)
        l_k = busy_in_window(v.arrival_s[reached], v.end_s[reached], lo, hi).sum() / span
        assert l_k == pytest.approx(theory.littles_law_l(lam_k, w_k), rel=0.01)
    assert mean_in_system(v, lo, hi) > 0


def mean_latencies(path: tuple[Stage, ...], services: tuple[ServingService, ...], lam: float) -> np.ndarray:
    out = []
    for seed in SEEDS:
        r = simulate_journeys(network(path, services, lam, seed))
        assert r.completed.all()
        assert_littles_law(r)
        out.append(float(r.latency_s[r.measured()].mean()))
    return np.array(out)


def assert_matches(samples: np.ndarray, expected: float, approximation: float | None = None) -> None:
    """An exact formula: within 5 standard errors and 5%; an ``approximation`` stated within that
    relative accuracy: within it plus 3 standard errors."""
    mean = float(samples.mean())
    se = float(samples.std(ddof=1) / np.sqrt(len(samples)))
    print(f"simulated {mean:.4f} ± {se:.4f} (se), theory {expected:.4f}")
    if approximation is None:
        assert abs(mean - expected) <= 5.0 * se, (mean, expected, se)
        assert abs(mean - expected) <= 0.05 * expected, (mean, expected)
    else:
        assert abs(mean - expected) <= approximation * expected + 3.0 * se, (mean, expected, se)


def test_tandem_of_two_mm1_is_a_jackson_network() -> None:
    lam = 0.5
    services = (station("a", 1.0), station("b", 0.8))
    samples = mean_latencies((Visit("a"), Visit("b")), services, lam)
    assert_matches(samples, theory.jackson_mean_sojourn(lam, [(1, 1.0, 1), (1, 1.25, 1)]))


def test_tandem_of_mmc_stations_is_a_jackson_network() -> None:
    lam = 1.0
    services = (station("a", 1.2, servers=2), station("b", 2.4, servers=4))
    samples = mean_latencies((Visit("a"), Visit("b")), services, lam)
    assert_matches(samples, theory.jackson_mean_sojourn(lam, [(1, 1 / 1.2, 2), (1, 1 / 2.4, 4)]))


def test_feedback_by_a_geometric_repeat_uses_the_visit_ratios() -> None:
    """Front end once, then a worker visited ``N ~ geometric(mean 2)`` times: visit ratios 1 and 2."""
    lam = 0.3
    services = (station("front", 0.5), station("worker", 1.0))
    path: tuple[Stage, ...] = (Visit("front"), Repeat(RepeatCount("geometric", 2.0), (Visit("worker"),)))
    samples = mean_latencies(path, services, lam)
    assert_matches(samples, theory.jackson_mean_sojourn(lam, [(1, 2.0, 1), (2, 1.0, 1)]))


def test_fork_join_of_two_mm1_matches_nelson_tantawi() -> None:
    lam = 0.5
    services = (station("a", 1.0), station("b", 1.0))
    samples = mean_latencies((Parallel(((Visit("a"),), (Visit("b"),))),), services, lam)
    assert_matches(samples, theory.fork_join_mm1_mean_response(lam, 1.0, 2))


def test_fork_join_of_three_mm1_within_nelson_tantawis_stated_accuracy() -> None:
    lam = 0.5
    services = tuple(station(n, 1.0) for n in "abc")
    path: tuple[Stage, ...] = (Parallel(tuple((Visit(n),) for n in "abc")),)
    samples = mean_latencies(path, services, lam)
    assert_matches(samples, theory.fork_join_mm1_mean_response(lam, 1.0, 3), approximation=0.05)
