"""Plot data (report.json ``series`` and ``input``): checked against brute force on real runs."""

import hashlib
import itertools
import json

import numpy as np
import pytest

from capacity.report.series import (
    CDF_LEVELS,
    build_series,
    cdf_grid,
    full_report,
    waiting_per_window,
    window_width,
)
from capacity.report.writers import to_json

from .report_cases import fleet_run, overload_run, seed_run


def _brute_waiting(arrive, leave, edges, samples_per_window=4000):
    """Time-average by integrating clipped intervals; maximum by counting at every event instant."""
    mean, peak = [], []
    for a, b in itertools.pairwise(edges):
        overlap = np.clip(leave, a, b) - np.clip(arrive, a, b)
        mean.append(overlap.clip(min=0).sum() / (b - a))
        instants = np.concatenate([[a], arrive[(arrive >= a) & (arrive < b)]])
        counts = [np.count_nonzero((arrive <= t) & (leave > t)) for t in instants]
        peak.append(max(counts))
    return np.array(mean), np.array(peak, dtype=float)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_waiting_per_window_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    arrive = np.sort(rng.uniform(0, 10, 300))
    wait = np.where(rng.random(300) < 0.3, 0.0, rng.exponential(0.4, 300))   # some never wait
    leave = arrive + wait
    edges = np.linspace(0, 10, 11)
    mean, peak = waiting_per_window(arrive, leave, edges)
    want_mean, want_peak = _brute_waiting(arrive, leave, edges)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(peak, want_peak)


def test_waiting_with_nothing_waiting_is_zero():
    edges = np.array([0.0, 1.0, 2.0])
    t = np.array([0.5, 1.5])
    mean, peak = waiting_per_window(t, t, edges)            # zero-length waits never count
    assert mean.tolist() == [0.0, 0.0] and peak.tolist() == [0.0, 0.0]


def test_window_width_is_round_and_gives_about_sixty_windows():
    assert window_width(600) == 10
    assert window_width(60) == 1
    assert window_width(3600) == 60
    assert 40 <= 1800 / window_width(1800) <= 80


def test_cdf_grid_is_the_sample_quantiles_scaled_by_the_served_fraction():
    rng = np.random.default_rng(4)
    lat = rng.lognormal(-3, 0.7, 5000)
    grid = cdf_grid(lat, arrived=5500)
    assert grid["served_fraction"] == pytest.approx(5000 / 5500, rel=1e-6)
    assert grid["q"] == [q for q in CDF_LEVELS if min(q, 1 - q) * 5000 >= 1]
    want = np.percentile(lat, [100 * q for q in grid["q"]])
    np.testing.assert_allclose(grid["latency_s"], want, rtol=1e-5)
    assert np.all(np.diff(grid["latency_s"]) >= 0)
    assert cdf_grid(np.array([]), arrived=0) == {"q": [], "latency_s": [], "served_fraction": None}


def _series_by_name(report):
    s = report["series"]
    return {c["name"]: c for c in s["classes"]}, {v["name"]: v for v in s["services"]}


@pytest.mark.parametrize("make", [seed_run, overload_run], ids=["seed", "overload"])
def test_series_agrees_with_the_records_and_the_statistics(make):
    result = make()
    report = full_report(result)
    sim, model = result.sim_result, result.model
    classes, services = _series_by_name(report)
    assert [c["name"] for c in report["series"]["classes"]] == [c.name for c in model.classes]
    edges = np.asarray(report["series"]["edges_s"])
    assert edges[0] == 0 and edges[-1] == model.duration_s and np.all(np.diff(edges) > 0)
    for k, c in enumerate(model.classes):
        mine = sim.cls == k
        over = classes[c.name]["over_time"]
        assert sum(over["arrived"]) == np.count_nonzero(mine)
        assert sum(over["failed"]) == np.count_nonzero(mine & sim.rejected)
        stats = report["simulation"]["classes"][c.name]
        cdf = classes[c.name]["cdf"]
        assert cdf["served_fraction"] == pytest.approx(stats["completed"] / stats["arrived"], rel=1e-5)
        # the grid's median is the report's p50 (same sample, same interpolation)
        median = np.interp(0.5, cdf["q"], cdf["latency_s"])
        assert median == pytest.approx(stats["latency_s"]["p50"], rel=1e-5)
        # p99 of one window, recomputed from the records
        w = int(np.argmax(over["arrived"]))
        inside = mine & ~sim.rejected & (sim.arrival_s >= edges[w]) & (sim.arrival_s < edges[w + 1])
        assert over["p99_s"][w] == pytest.approx(np.percentile(sim.latency_s[inside], 99), rel=1e-5)
    # Little's law per service: time-average waiting over the run = total waiting time / run length
    for s in model.services:
        ks = [k for k, c in enumerate(model.classes) if c.service == s.name]
        mine = np.isin(sim.cls, ks)
        leave = np.where(np.isfinite(sim.start_s), sim.start_s,
                         np.where(np.isfinite(sim.end_s), sim.end_s, sim.arrival_s))
        waited = (np.clip(leave[mine], 0, model.duration_s) - sim.arrival_s[mine]).clip(min=0).sum()
        q = services[s.name]["queue"]
        average = float(np.dot(q["mean"], np.diff(edges))) / model.duration_s
        assert average == pytest.approx(waited / model.duration_s, rel=1e-4, abs=1e-9)
        assert all(m <= p + 1e-9 for m, p in zip(q["mean"], q["max"], strict=True))


def test_the_overloaded_queue_is_seen_full():
    report = full_report(overload_run())
    _, services = _series_by_name(report)
    peak = max(services["api"]["queue"]["max"])
    assert peak == 5                                           # max_length 5, never more


def test_plot_data_is_small_json_and_deterministic():
    a, b = full_report(fleet_run()), build_series(fleet_run().model, fleet_run().sim_result)
    text = to_json(a)                                        # raises on NaN
    assert len(text) < 250_000
    assert len(to_json(a["series"])) < 60_000
    assert json.loads(to_json(b)) == json.loads(to_json(a["series"]))


def test_the_echoed_scenario_hashes_to_the_provenance_digest():
    report = json.loads(to_json(full_report(seed_run())))
    canonical = json.dumps(report["input"]["scenario"], sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == report["provenance"]["scenario_sha256"]
