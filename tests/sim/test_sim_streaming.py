"""Streaming statistics (`capacity.sim.streaming`, `capacity.sim.sketch`) against exact ones.

* The sketch's quantiles are within its stated relative error α of the sample's order statistic at their
  rank, on several distributions and seeds (DDSketch's guarantee, Masson et al. 2019); count, mean and
  max are exact.
* The streaming replay over a small ring (the slots reused many times) of the *same* request stream as an
  exact run gives the same counts, SLO attainment, busy time and per-window counts, and quantiles within α.
* Arrivals drawn slice by slice: deterministic ones are the exact run's; the random processes keep their
  mean rate (tolerance from the Poisson variance); a trace replays the same rows.
* Memory does not grow with the number of requests (tracemalloc peak at N and 4N requests).
* ``workload.statistics: auto`` switches at `capacity.limits.AUTO_STREAMING_ABOVE`; the report says the mode.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from functools import partial

import numpy as np
import pytest

from capacity import pipeline
from capacity.limits import AUTO_STREAMING_ABOVE, Limits, statistics_mode
from capacity.report.model import parse_report
from capacity.report.writers import to_json
from capacity.scenario import load_scenario
from capacity.sim import engine, metrics
from capacity.sim import streaming as st
from capacity.sim.arrivals import arrival_process
from capacity.sim.model import Arrivals, Replica, RequestClass, ServiceTime, ServingService, SimModel
from capacity.sim.runtime import RunControl
from capacity.sim.sketch import RELATIVE_ACCURACY, Summary, bucket_keys
from capacity.sim.streams import ARRIVALS_STREAM, class_rng

from ..conftest import ROOT, SCENARIOS

ALPHA = RELATIVE_ACCURACY


def _within_rank(sorted_values: np.ndarray, q: float, got: float, rounding: float = 1e-12) -> bool:
    """``got`` within α of the order statistic at rank ⌊q (n − 1)⌋ (and clipped to the sample's range);
    ``rounding``: the relative rounding of ``got`` (the series are rounded to 6 significant digits)."""
    x = float(sorted_values[math.floor(q * (len(sorted_values) - 1))])
    return x * (1 - ALPHA) * (1 - rounding) <= got <= x * (1 + ALPHA) * (1 + rounding)


DISTRIBUTIONS = {
    "exponential": lambda rng, n: rng.exponential(0.1, n),
    "lognormal-cv3": lambda rng, n: rng.lognormal(-3.0, math.sqrt(math.log(10.0)), n),
    "pareto": lambda rng, n: 0.01 * (1.0 + rng.pareto(1.5, n)),
    "uniform": lambda rng, n: rng.uniform(0.5, 2.0, n),
    "with-zeros": lambda rng, n: np.where(rng.random(n) < 0.3, 0.0, rng.exponential(1.0, n)),
}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketch_quantiles_within_stated_error(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = DISTRIBUTIONS[name](rng, 50_000)
    s = Summary()
    for part in np.array_split(x, 7):  # added a block at a time, as the runs do
        s.add(part)
    xs = np.sort(x)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999):
        got = s.quantile(q)
        assert got is not None and _within_rank(xs, q, got), (name, q, got)
    summary = s.summary()
    assert summary["max"] == float(xs[-1])
    assert summary["mean"] == pytest.approx(float(np.mean(x)), rel=1e-12)
    assert s.count == len(x)


def test_sketch_merge_is_the_sketch_of_the_union() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.exponential(1.0, 20_000), rng.lognormal(0.0, 1.0, 30_000)
    sa, sb, sab = Summary(), Summary(), Summary()
    sa.add(a)
    sb.add(b)
    sab.add(np.concatenate((a, b)))
    sa.merge(sb)
    assert sa.summary() == pytest.approx(sab.summary(), rel=1e-12)
    assert Summary().summary() == {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}


def test_bucket_keys_are_the_mappings() -> None:
    s = Summary()
    x = np.random.default_rng(3).lognormal(0.0, 4.0, 20_000)
    assert bucket_keys(s.mapping, x).tolist() == [s.mapping.key(v) for v in x.tolist()]


# ------------------------------------------------------------------------------------ the same stream


def _service(**kw: object) -> ServingService:
    replicas = tuple(Replica(name=f"r{i}", node=f"n{i % 2}", pool="p") for i in range(3))
    return ServingService(
        name="s",
        replicas=replicas,
        concurrency=2,
        service_time=ServiceTime(dist="lognormal", mean_s=0.1, cv=2.0),
        **kw,
    )  # type: ignore[arg-type]


def _model(service: ServingService, seed: int) -> SimModel:
    classes = (
        RequestClass(
            name="a",
            service="s",
            arrivals=Arrivals(process="poisson", rate_per_s=40.0),
            slo_target_s=0.3,
            slo_quantile=0.95,
        ),
        RequestClass(
            name="b",
            service="s",
            priority=1,
            tenant="t2",
            arrivals=Arrivals(process="gamma", cv=3.0, rate_per_s=18.0),
        ),
    )
    return SimModel(services=(service,), classes=classes, duration_s=600.0, warmup_s=60.0, seed=seed)


CASES = {
    "fast path": {},
    "general path": {"max_length": 20, "timeout_s": 0.5, "discipline": "priority"},
    "fair": {"discipline": "fair", "routing": "least-outstanding"},
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", [1, 2])
def test_streaming_replay_of_the_same_stream_matches_exact(case: str, seed: int) -> None:
    model = _model(_service(**CASES[case]), seed)
    stream = engine.generate_requests(model)
    result = engine.simulate_requests(model, stream)
    exact = metrics.summarize(model, result)

    def chunks():  # chunk edges that do not line up with the blocks
        for lo in range(0, len(stream), 777):
            yield st._part(stream, lo, min(lo + 777, len(stream)))

    got = st.replay_streaming(model, chunks(), block=500, ring_blocks=4).summary()
    assert len(stream) > 10 * 500 * 4  # the ring was reused many times
    assert got["statistics"] == {"mode": "streaming", "relative_error": ALPHA}
    for k, c in enumerate(model.classes):
        e, s = exact["classes"][c.name], got["classes"][c.name]
        for key in ("arrived", "completed", "rejected", "timed_out", "dropped", "lost", "retried", "slo"):
            assert s[key] == e[key], (c.name, key)
        assert s["throughput_per_s"] == e["throughput_per_s"]
        assert s["latency_s"]["mean"] == pytest.approx(e["latency_s"]["mean"], rel=1e-9)
        assert s["latency_s"]["max"] == e["latency_s"]["max"]
        served = result.measured & result.completed & (result.cls == k)
        latency = np.sort(result.latency_s[served])
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            assert _within_rank(latency, q, s["latency_s"][name]), (c.name, name)
        e_ot, s_ot = exact["over_time"]["classes"][c.name], got["over_time"]["classes"][c.name]
        for key in ("arrived", "completed", "rejected", "timed_out"):
            assert s_ot[key] == e_ot[key]
    for name in ("r0", "r1", "r2"):
        assert got["replicas"][name]["served"] == exact["replicas"][name]["served"]
        assert got["replicas"][name]["utilisation"] == pytest.approx(
            exact["replicas"][name]["utilisation"], rel=1e-9
        )
    assert got["over_time"]["utilisation"]["nodes"]["n1"] == pytest.approx(
        exact["over_time"]["utilisation"]["nodes"]["n1"], rel=1e-5
    )
    assert got["tenants"]["t2"]["share"] == pytest.approx(exact["tenants"]["t2"]["share"], rel=1e-9)
    assert got["tenants"]["t2"]["completed"] == exact["tenants"]["t2"]["completed"]


class _Scale:
    """A controller: a replica added at 100 s (5 s cold start), ``r0`` drained at 300 s."""

    def start(self, run: RunControl) -> None:
        svc = run.service("s")
        run.at(100.0, partial(svc.add_replica, Replica("r9", "n9", "p"), 5.0))
        run.at(300.0, partial(svc.drain, "r0"))


@pytest.mark.parametrize("routing", ["central", "round-robin"])
def test_streaming_with_a_controller_matches_exact(routing: str) -> None:
    model = _model(_service(routing=routing), 4)
    stream = engine.generate_requests(model)
    exact = metrics.summarize(model, engine.simulate_requests(model, stream, [_Scale()]))
    got = st.replay_streaming(model, iter([stream]), [_Scale()], block=500, ring_blocks=4).summary()
    for c in model.classes:
        for key in ("arrived", "completed", "rejected", "lost", "slo"):
            assert got["classes"][c.name][key] == exact["classes"][c.name][key], (c.name, key)
    for name in ("r0", "r1", "r2"):
        assert got["replicas"][name]["served"] == exact["replicas"][name]["served"]


def test_streaming_run_is_deterministic_and_close_to_exact() -> None:
    model = _model(_service(), 5)
    a = st.simulate_streaming(model, chunk_requests=2_000).summary()
    b = st.simulate_streaming(model, chunk_requests=2_000).summary()
    assert json.dumps(a) == json.dumps(b)
    exact = metrics.summarize(model, engine.simulate_model(model))
    # a different sample of the same processes: the counts agree within their Poisson spread
    for c in model.classes:
        n_exact, n_stream = exact["classes"][c.name]["arrived"], a["classes"][c.name]["arrived"]
        spread = 5 * math.sqrt(n_exact) * (3.0 if c.name == "b" else 1.0)  # b: gamma gaps of cv 3
        assert abs(n_stream - n_exact) < spread


def test_an_overloaded_service_is_refused_rather_than_held() -> None:
    service = dataclasses.replace(_service(), replicas=(Replica(name="r0", node="n0", pool="p"),))
    model = _model(service, 1)  # 58/s offered to 2 slots of 0.1 s: overloaded
    with pytest.raises(st.StreamingBacklog, match="requests in the system at once"):
        st.replay_streaming(model, iter([engine.generate_requests(model)]), block=500, ring_blocks=4)


def test_what_streaming_does_not_cover_is_named() -> None:
    model = _model(_service(discipline="preemptive"), 1)
    with pytest.raises(ValueError, match=r"services.s.discipline \(preemptive\)"):
        st.simulate_streaming(model)


# ------------------------------------------------------------------------------------------- arrivals


PROCESSES = {
    "poisson": Arrivals(process="poisson", rate_per_s=50.0),
    "gamma": Arrivals(process="gamma", rate_per_s=50.0, cv=2.0),
    "onoff": Arrivals(process="onoff", rate_per_s=50.0, on_s=5.0, off_s=15.0),
    "diurnal": Arrivals(process="diurnal", rate_per_s=50.0, amplitude=0.5, period_s=400.0),
}


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_slices_keep_the_mean_rate(name: str) -> None:
    arrivals = PROCESSES[name]
    process = arrival_process(arrivals)
    duration = 4_000.0
    edges = np.linspace(0.0, duration, 37)
    counts = []
    for seed in range(4):
        rng = class_rng(seed, "x", ARRIVALS_STREAM)
        parts = list(process.slices(rng, arrivals.rate_per_s, edges))
        t = np.concatenate([p for p, _ in parts])
        for (p, _), a, b in zip(parts, edges[:-1], edges[1:], strict=True):
            assert np.all((p >= a) & (p < b)) and np.all(np.diff(p) >= 0)
        counts.append(len(t))
    expected = arrivals.rate_per_s * duration
    # onoff: counts over a long run have variance ≈ rate·T·(1 + 2·rate·on·off²/(on+off)²) (a burst is a
    # cluster); 5 standard deviations of the mean of 4 runs
    burst = {"onoff": 1.0 + 2.0 * 50.0 * 5.0 * 15.0**2 / 20.0**2, "gamma": 4.0}.get(name, 1.0)
    assert abs(np.mean(counts) - expected) < 5.0 * math.sqrt(expected * burst / 4)


def test_deterministic_slices_are_the_exact_times() -> None:
    process = arrival_process(Arrivals(process="deterministic", rate_per_s=7.3))
    edges = np.linspace(0.0, 1000.0, 13)
    rng = np.random.default_rng(0)
    sliced = np.concatenate([t for t, _ in process.slices(rng, 7.3, edges)])
    assert np.array_equal(sliced, process.times(rng, 7.3, 1000.0))


# --------------------------------------------------------------------------------------------- memory

MEMORY_CHILD = """
import sys, tracemalloc
from capacity.sim import streaming as st
from capacity.sim.model import Arrivals, Replica, RequestClass, ServiceTime, ServingService, SimModel
from capacity.sim.runtime import RunControl
duration = float(sys.argv[1])
svc = ServingService(name="s", replicas=tuple(Replica(name=f"r{i}", node="n", pool="p") for i in range(4)),
                     concurrency=2, service_time=ServiceTime(dist="exponential", mean_s=0.01))
model = SimModel(services=(svc,), classes=(RequestClass(name="a", service="s", arrivals=Arrivals(
    process="poisson", rate_per_s=400.0), slo_target_s=0.05, slo_quantile=0.99),), duration_s=duration)
tracemalloc.start()
result = st.replay_streaming(model, st.request_chunks(model, 4096), block=4096, ring_blocks=8)
print(tracemalloc.get_traced_memory()[1], len(result))
"""


def _peak(duration: float) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(duration)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_streaming_memory_does_not_grow_with_requests() -> None:
    small, n_small = _peak(250.0)  # ~100k requests
    large, n_large = _peak(1000.0)  # ~400k requests
    assert n_large > 3.5 * n_small
    # an exact run's peak grows ~4x here (about 120 B a request traced); a streaming run's is the ring,
    # one slice of arrivals and the statistics
    assert large < 1.25 * small, (small, large)


# ------------------------------------------------------------------------------- mode and the report


def test_auto_switches_at_the_stated_threshold() -> None:
    assert statistics_mode("auto", AUTO_STREAMING_ABOVE, True) == "exact"
    assert statistics_mode("auto", AUTO_STREAMING_ABOVE + 1, True) == "streaming"
    assert statistics_mode("auto", AUTO_STREAMING_ABOVE + 1, False) == "exact"
    assert statistics_mode("exact", 1e9, True) == "exact"
    assert statistics_mode("streaming", 10, True) == "streaming"
    day = 1_000 * 86_400
    assert Limits().max_requests < day <= Limits().max_streamed_requests


def _model_of(overrides: list[str]) -> SimModel:
    scenario = load_scenario(SCENARIOS / "seed-example.yaml", overrides)
    problem = pipeline.packing_problem(scenario)
    return pipeline.serving_model(scenario, pipeline.solve(scenario, problem))


def test_auto_mode_of_a_scenario() -> None:
    # seed-example offers 185 requests/s: the threshold is crossed between these durations
    below = math.floor(AUTO_STREAMING_ABOVE / 185)
    assert _model_of([f"workload.duration={below}s"]).statistics == "exact"
    assert _model_of([f"workload.duration={below + 10}s"]).statistics == "streaming"
    assert _model_of([f"workload.duration={below + 10}s", "workload.statistics=exact"]).statistics == "exact"


@pytest.mark.parametrize("mode", ["exact", "streaming"])
def test_the_report_says_which_mode(mode: str) -> None:
    scenario = load_scenario(
        SCENARIOS / "seed-example.yaml",
        ["workload.duration=2m", "workload.warmup=10s", f"workload.statistics={mode}"],
    )
    run = pipeline.run(scenario)
    statistics = run.report["simulation"]["statistics"]
    assert statistics["mode"] == mode
    assert statistics["relative_error"] == (ALPHA if mode == "streaming" else None)
    parse_report(json.loads(to_json(run.full_report())))   # as report.json holds it


@pytest.mark.parametrize("case", ["fast path", "general path"])
def test_streaming_plot_series_match_exact(case: str) -> None:
    """The report's plot series of a streaming run (`capacity.report.series.build_streaming_series`) on
    the same requests as an exact run: counts and queue lengths (a sweep over the blocks) equal, latencies
    within the sketch's error."""
    from capacity.report.series import build_series, build_streaming_series

    model = _model(_service(**CASES[case]), 3)  # ρ ≈ 0.97: queues form
    stream = engine.generate_requests(model)
    result = engine.simulate_requests(model, stream)
    exact = build_series(model, result)
    blocks = (st._part(stream, lo, min(lo + 777, len(stream))) for lo in range(0, len(stream), 777))
    got = build_streaming_series(model, st.replay_streaming(model, blocks, block=500, ring_blocks=8))
    assert got["edges_s"] == exact["edges_s"] and got["window_s"] == exact["window_s"]
    for k, (g, e) in enumerate(zip(got["classes"], exact["classes"], strict=True)):
        latency = np.sort(result.latency_s[result.measured & result.completed & (result.cls == k)])
        assert g["over_time"]["arrived"] == e["over_time"]["arrived"]
        assert g["over_time"]["failed"] == e["over_time"]["failed"]
        assert g["cdf"]["q"] == e["cdf"]["q"] and g["cdf"]["served_fraction"] == e["cdf"]["served_fraction"]
        for q, x in zip(g["cdf"]["q"], g["cdf"]["latency_s"], strict=True):
            assert _within_rank(latency, q, x, rounding=1e-6), (q, x)
    for g, e in zip(got["services"], exact["services"], strict=True):
        assert max(e["queue"]["max"]) > 1  # something waited
        assert g["queue"]["max"] == e["queue"]["max"]
        assert g["queue"]["mean"] == pytest.approx(e["queue"]["mean"], rel=1e-5, abs=1e-9)
