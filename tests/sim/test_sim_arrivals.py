"""Arrival processes against theory: rates, gap variability, burstiness and the daily curve (several seeds).

Tolerances are five standard deviations of the estimate, from the process's own variance.
"""

import math

import numpy as np
import pytest

from capacity import pipeline
from capacity.scenario import scenario_from_dict
from capacity.sim import Arrivals, RequestClass, ServiceTime, ServingService, SimModel, generate_requests
from capacity.sim.arrivals import ARRIVAL_PROCESSES, Diurnal, Gamma, OnOff, Steps, arrival_process

SEEDS = (1, 2, 3)


@pytest.mark.parametrize("process", [Gamma(cv=2.0), OnOff(on_s=1.0, off_s=3.0), Diurnal(amplitude=0.5)])
def test_times_are_sorted_inside_the_horizon_and_zero_rate_gives_none(process):
    t = process.times(np.random.default_rng(0), 20.0, 500.0)
    assert len(t) > 0 and np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 500.0
    assert len(process.times(np.random.default_rng(0), 0.0, 500.0)) == 0


@pytest.mark.parametrize("cv", [0.5, 2.0, 4.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_gamma_rate_and_gap_cv(cv, seed):
    rate, horizon = 50.0, 4000.0
    t = Gamma(cv=cv).times(np.random.default_rng(seed), rate, horizon)
    # A stationary renewal process: Var N(T) ≈ rate·T·cv².
    assert abs(len(t) - rate * horizon) < 5 * math.sqrt(rate * horizon) * cv
    gaps = np.diff(t)
    # The sample cv's relative sd is about ½·sqrt((excess kurtosis + 2) / n); gamma's excess kurtosis is 6cv².
    sd = 0.5 * math.sqrt((6 * cv**2 + 2) / len(gaps))
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=5 * sd)
    assert gaps.mean() == pytest.approx(1 / rate, rel=5 * cv / math.sqrt(len(gaps)))


def test_gamma_starts_stationary():
    # The first arrival is the residual life: E[R] = (1 + cv²) / (2·rate), E[R²] = (k+1)(k+2)θ²/3.
    cv, rate, n = 3.0, 1.0, 4000
    k, theta = 1 / cv**2, 1 / (rate / cv**2)
    first = np.array([Gamma(cv=cv).times(np.random.default_rng(s), rate, 1000.0)[0] for s in range(n)])
    mean = (1 + cv**2) / (2 * rate)
    sd = math.sqrt((k + 1) * (k + 2) * theta**2 / 3 - mean**2)
    assert abs(first.mean() - mean) < 5 * sd / math.sqrt(n)


def onoff_idc(rate, on, off, window):
    """Index of dispersion of counts in windows of ``window`` s of an on/off-modulated Poisson process."""
    p, tau = on / (on + off), on * off / (on + off)
    peak = rate / p
    limit = 2 * peak**2 * p * (1 - p) * tau / rate
    return 1 + limit * (1 - tau / window * (1 - math.exp(-window / tau))), 1 + limit


@pytest.mark.parametrize("seed", SEEDS)
def test_onoff_mean_rate_and_burstiness(seed):
    rate, on, off, horizon, window = 10.0, 0.5, 1.5, 50_000.0, 10.0
    t = OnOff(on_s=on, off_s=off).times(np.random.default_rng(seed), rate, horizon)
    idc, idc_limit = onoff_idc(rate, on, off, window)
    assert abs(len(t) - rate * horizon) < 5 * math.sqrt(idc_limit * rate * horizon)
    counts = np.histogram(t, bins=np.arange(0.0, horizon + window, window))[0]
    assert counts.var() / counts.mean() == pytest.approx(idc, rel=0.1)
    assert idc > 20  # far burstier than Poisson (index 1)


def test_onoff_is_silent_between_bursts():
    # With long OFF periods, most gaps are short (inside a burst) and a few are long (between bursts).
    t = OnOff(on_s=1.0, off_s=100.0).times(np.random.default_rng(0), 1.0, 100_000.0)
    gaps = np.diff(t)
    assert np.median(gaps) < 0.5 and gaps.max() > 200


def expected_per_hour(d: Diurnal, rate, days):
    """Expected arrivals in each hour of the day over ``days`` days: the integral of the curve."""
    edges = np.arange(25) * 3600.0
    phase = 2 * np.pi * (edges + d.start_s - d.peak_at_s) / d.period_s
    integral = rate * (edges + d.amplitude * d.period_s / (2 * np.pi) * np.sin(phase))
    return np.diff(integral) * days


@pytest.mark.parametrize(("seed", "start_h"), [(1, 0), (2, 6), (3, 20)])
def test_diurnal_counts_per_hour_follow_the_curve(seed, start_h):
    rate, days = 0.5, 20
    d = Diurnal(amplitude=0.6, start_s=start_h * 3600.0)
    t = d.times(np.random.default_rng(seed), rate, days * 86_400.0)
    observed = np.histogram(t % 86_400.0, bins=24, range=(0, 86_400.0))[0]
    expected = expected_per_hour(d, rate, days)
    assert expected.sum() == pytest.approx(rate * days * 86_400.0)
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    assert chi2 < 60  # 24 bins: the 0.9999 quantile of chi-square with 23 d.f. is about 55
    # The busiest hour of the run is the peak (14:00) in run time, 14h − start.
    assert observed.argmax() in {(14 - start_h - 1) % 24, (14 - start_h) % 24}


def test_arrival_process_takes_the_parameters_of_its_process():
    a = Arrivals("diurnal", 2.0, cv=3.0, amplitude=0.2, start_s=60.0)
    assert arrival_process(a) == Diurnal(amplitude=0.2, start_s=60.0)
    assert arrival_process(Arrivals("gamma", 2.0, cv=3.0)) == Gamma(cv=3.0)
    assert arrival_process(Arrivals("onoff", 2.0, on_s=1.0, off_s=2.0)) == OnOff(1.0, 2.0)
    assert arrival_process(Arrivals("steps", 2.0, steps=((0.0, 1.0), (5.0, 3.0)))) == Steps(
        ((0.0, 1.0), (5.0, 3.0)))
    assert set(ARRIVAL_PROCESSES) == {"poisson", "deterministic", "gamma", "onoff", "diurnal", "trace",
                                      "steps"}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_steps_counts_per_step_are_poisson_at_the_step_rate(seed):
    """Each step's count is Poisson(rate × length): within 4.5 standard deviations; inside a step the
    times are uniform (Kolmogorov-Smirnov against the uniform law of the step)."""
    steps = Steps(((0.0, 100.0), (600.0, 300.0), (1500.0, 0.0), (1800.0, 20.0)))
    t = steps.times(np.random.default_rng(seed), 0.0, 2000.0)
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 2000.0
    for a, b, rate in steps.intervals(2000.0):
        n = int(((t >= a) & (t < b)).sum())
        mean = rate * (b - a)
        assert abs(n - mean) <= 4.5 * math.sqrt(mean) + 1e-9, (a, b, n, mean)
        if n > 100:
            inside = (t[(t >= a) & (t < b)] - a) / (b - a)
            d = np.abs(np.sort(inside) - (np.arange(1, n + 1) - 0.5) / n).max()
            assert d < 2.0 / math.sqrt(n)          # the KS statistic's 0.9999 quantile is ~2.0/sqrt(n)
    assert steps.mean_rate_per_s(2000.0) == pytest.approx((600 * 100 + 900 * 300 + 200 * 20) / 2000.0)
    assert steps.rate_at(np.array([0.0, 599.9, 600.0, 1700.0, 1999.0])).tolist() == [100, 100, 300, 0, 20]


def test_steps_beyond_the_run_are_not_drawn():
    steps = Steps(((0.0, 10.0), (50.0, 1000.0)))
    assert steps.intervals(40.0) == [(0.0, 40.0, 10.0)]
    assert steps.times(np.random.default_rng(0), 0.0, 40.0).max() < 40.0


@pytest.mark.parametrize(("arrivals", "path"), [
    (Arrivals("gamma", 1.0, cv=0.0), "classes.a.arrivals.cv"),
    (Arrivals("steps", 1.0), "classes.a.arrivals.steps"),
    (Arrivals("steps", 1.0, steps=((1.0, 2.0),)), "classes.a.arrivals.steps.0.at_s"),
    (Arrivals("steps", 1.0, steps=((0.0, 2.0), (0.0, 3.0))), "classes.a.arrivals.steps.1.at_s"),
    (Arrivals("steps", 1.0, steps=((0.0, -2.0),)), "classes.a.arrivals.steps.0.rate"),
    (Arrivals("onoff", 1.0, on_s=1.0), "classes.a.arrivals.off_s"),
    (Arrivals("diurnal", 1.0, amplitude=1.0), "classes.a.arrivals.amplitude"),
    (Arrivals("diurnal", 1.0, amplitude=0.5, period_s=0.0), "classes.a.arrivals.period_s"),
])
def test_the_engine_names_a_bad_parameter(arrivals, path):
    svc = ServingService("svc", (), 1, ServiceTime("exponential", 1.0))
    with pytest.raises(ValueError, match=path.replace(".", r"\.")):
        generate_requests(SimModel((svc,), (RequestClass("a", "svc", arrivals),), 10.0))


def scenario(arrivals):
    return scenario_from_dict({
        "name": "bursty", "seed": 7,
        "cluster": {"pools": [{"name": "cpu", "count": 2, "resources": {"cpu": 8}}]},
        "services": [{"name": "svc", "replicas": 1, "resources": {"cpu": 1},
                      "serving": {"concurrency": 1, "service_time": {"mean": "10ms"}}}],
        "workload": {"duration": "10m", "warmup": "30s",
                     "classes": [{"name": "api", "service": "svc", "arrivals": arrivals}]},
    })


def test_a_gamma_class_runs_end_to_end():
    bursty = pipeline.run(scenario({"process": "gamma", "rate": "60/s", "cv": 3}))
    smooth = pipeline.run(scenario({"process": "poisson", "rate": "60/s"}))
    assert bursty.model.classes[0].arrivals == Arrivals("gamma", 60.0, cv=3.0)
    b = bursty.report["simulation"]["classes"]["api"]
    p = smooth.report["simulation"]["classes"]["api"]
    measured = 60.0 * 570
    assert abs(b["arrived"] - measured) < 5 * math.sqrt(measured) * 3
    assert b["completed"] == b["arrived"]
    # Same load (ρ = 0.6), burstier arrivals: longer waits (Kingman: about (cv_a² + 1)/2 = 5 times).
    assert b["wait_s"]["mean"] > 2.5 * p["wait_s"]["mean"]


def test_onoff_and_diurnal_classes_reach_the_engine():
    onoff = scenario({"process": "onoff", "rate": "60/s", "on": "2s", "off": "6s"})
    model = pipeline.serving_model(onoff, pipeline.pack(onoff))
    assert model.classes[0].arrivals == Arrivals("onoff", 60.0, on_s=2.0, off_s=6.0)
    diurnal = scenario({"process": "diurnal", "rate": "60/s", "amplitude": "40%", "start": "9h"})
    model = pipeline.serving_model(diurnal, pipeline.pack(diurnal))
    assert model.classes[0].arrivals == Arrivals("diurnal", 60.0, amplitude=0.4, start_s=32_400.0)
