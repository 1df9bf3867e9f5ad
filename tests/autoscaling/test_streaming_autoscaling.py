"""An autoscaled run with streaming statistics makes the same decisions as the exact run of the same requests.

The autoscalers read the runtimes (ready replicas, busy slots, queues, held requests) and, for ``rps``, the
arrivals in their window: in a streaming run those are fed block by block as the replay loads them
(`capacity.autoscaling.metrics.ArrivalFeed`) and forgotten behind the window. Replaying the *same* request
stream over a small ring (reused many times) must give the same scale events, replica and node series, cost
and SLO-per-window as the exact replay, and the same counts in the ``simulation`` section; a KPA that scales
to zero holds requests in the activator (held requests refused when they enter, or still held at the end,
count as refused in both modes).
"""

from __future__ import annotations

import numpy as np
import pytest

from capacity import autoscaling as A
from capacity import sim
from capacity.autoscaling.controller import AutoscaleController
from capacity.autoscaling.metrics import ArrivalFeed
from capacity.sim import engine, metrics
from capacity.sim import streaming as st


def _model(seed: int) -> sim.SimModel:
    replicas = tuple(sim.Replica(f"svc-{i}", f"n{i % 2}", "cpu") for i in range(2))
    svc = sim.ServingService("svc", replicas, 1, sim.ServiceTime("exponential", 0.5))
    arrivals = sim.Arrivals("steps", 0.0, steps=((0.0, 4.0), (400.0, 12.0), (900.0, 0.0), (1300.0, 6.0)))
    cls = sim.RequestClass("c", "svc", arrivals, slo_target_s=3.0, slo_quantile=0.95)
    return sim.SimModel((svc,), (cls,), duration_s=1800.0, warmup_s=60.0, seed=seed, interval_s=60.0)


def _scaling(policy: str, metric: str) -> A.AutoscalingModel:
    spec = A.ServiceScaling(
        "svc",
        policy,
        0 if policy == "kpa" else 1,
        30,
        metric,
        0.5 if metric == "utilisation" else 1.0,
        {"cpu": 1.0},
        window_s=60.0,
        cold_start=A.ColdStart(20.0),
    )
    pool = A.PoolSpec("cpu", {"cpu": 4.0}, cost=2.0, autoscaling=A.PoolScaling(1, 10, 90.0))
    return A.AutoscalingModel((spec,), A.ClusterSpec((pool,), (("n0", "cpu"), ("n1", "cpu"))))


@pytest.mark.parametrize(
    ("policy", "metric"), [("hpa", "utilisation"), ("hpa", "rps"), ("kpa", "concurrency")]
)
@pytest.mark.parametrize("seed", [1, 2])
def test_streaming_autoscaled_run_decides_as_the_exact_one(policy: str, metric: str, seed: int) -> None:
    model = _model(seed)
    scaling = _scaling(policy, metric)
    stream = engine.generate_requests(model)
    exact_controller = AutoscaleController(model, scaling, {"svc": ArrivalFeed(stream.arrival_s.copy())})
    exact = engine.simulate_requests(model, stream, (exact_controller,))

    feed = ArrivalFeed()
    controller = AutoscaleController(model, scaling, {"svc": feed})

    def chunks():
        for lo in range(0, len(stream), 333):
            yield st._part(stream, lo, min(lo + 333, len(stream)))

    streamed = st.replay_streaming(
        model,
        chunks(),
        (controller,),
        block=200,
        ring_blocks=4,
        on_load=lambda block: feed.extend(block.arrival_s),
    )
    assert len(stream) > 5 * 200 * 4  # the ring was reused
    assert len(feed.parts) < len(stream) / 200  # the feed forgot old blocks
    events = [(e.t_s, e.from_, e.to) for e in controller.loops["svc"].events]
    assert events == [(e.t_s, e.from_, e.to) for e in exact_controller.loops["svc"].events]
    assert len(events) >= 2  # it did scale
    assert A.summarize_autoscaling(model, streamed, controller) == A.summarize_autoscaling(
        model, exact, exact_controller
    )
    got, want = (
        sim.summarize(model, streamed)["classes"]["c"],
        metrics.summarize(model, exact)["classes"]["c"],
    )
    for key in ("arrived", "completed", "rejected", "timed_out", "lost", "slo"):
        assert got[key] == want[key], key


def test_feed_counts_as_the_sorted_array() -> None:
    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0.0, 100.0, 5_000))
    whole, fed = ArrivalFeed(t), ArrivalFeed()
    for part in np.array_split(t, 17):
        fed.extend(part)
    for lo, hi in ((-1.0, 5.0), (10.0, 10.0), (33.3, 71.9), (99.0, 200.0)):
        assert fed.count(lo, hi) == whole.count(lo, hi) == int(((t > lo) & (t <= hi)).sum())
    fed.trim(50.0)
    assert fed.parts[0][-1] > 50.0 and fed.count(60.0, 80.0) == whole.count(60.0, 80.0)
