"""Knative's autoscaler against hand computation: stable and panic modes, scale to zero and from zero.

Expected figures from Knative's documented defaults (https://knative.dev/docs/serving/autoscaling/:
stable window 60 s, panic window 10 % of it, panic threshold 200 %, target utilisation 70 %, scale to
zero grace 30 s) and ``pkg/autoscaler/scaling/autoscaler.go`` as cited in `capacity.autoscaling.kpa`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capacity import autoscaling as A
from capacity import sim
from capacity.autoscaling.kpa import KpaScaler
from capacity.autoscaling.policies import ScaleView


@dataclass
class Totals:
    """Stands in for the samples: the stable (60 s) and panic (6 s) totals the scaler reads."""

    stable: float
    panic: float

    def total(self, metric: str, now: float, window_s: float) -> float:
        return self.stable if window_s == 60.0 else self.panic


def spec(min_: int = 0, max_: int = 100) -> A.ServiceScaling:
    return A.ServiceScaling("svc", "kpa", min_, max_, "concurrency", 10.0, {"cpu": 1.0})


def view(now: float, current: int, ready: int, totals: Totals) -> ScaleView:
    return ScaleView(now, current, ready, totals)  # type: ignore[arg-type]


def test_stable_mode_is_ceil_of_total_over_seventy_percent_of_target():
    scaler = KpaScaler(spec())
    # 30 in flight in total, target 10 × 0.7 = 7 per replica: ceil(30 / 7) = 5
    rec = scaler.recommend(view(2.0, 4, 4, Totals(30.0, 30.0)))
    assert (rec.desired, rec.reason) == (5, "stable")
    # scale down at most by half a tick: ceil(5/7) = 1, but floor(8 / 2) = 4
    assert scaler.recommend(view(4.0, 8, 8, Totals(5.0, 5.0))).desired == 4


def test_panic_mode_takes_the_panic_window_and_never_scales_down_while_panicking():
    scaler = KpaScaler(spec())
    # panic: ceil(40 / 7) = 6 replicas, 6 / 2 = 300 % of the ready ones >= 200 %
    rec = scaler.recommend(view(2.0, 2, 2, Totals(14.0, 40.0)))
    assert (rec.desired, rec.reason) == (6, "panic")
    # the burst is over in the panic window, not yet a stable window later: still 6
    rec = scaler.recommend(view(4.0, 6, 6, Totals(14.0, 7.0)))
    assert (rec.desired, rec.reason) == (6, "panic")
    rec = scaler.recommend(view(62.0, 6, 6, Totals(14.0, 7.0)))
    assert (rec.desired, rec.reason) == (6, "panic")  # 60 s after the last panic tick: not past
    rec = scaler.recommend(view(64.0, 6, 6, Totals(14.0, 7.0)))
    assert (rec.desired, rec.reason) == (3, "stable")  # ceil(14/7) = 2, but at most halve: 3


def test_zero_is_applied_after_the_grace_period_only():
    scaler = KpaScaler(spec())
    assert scaler.recommend(view(100.0, 1, 1, Totals(0.0, 0.0))).desired == 1  # grace starts
    assert scaler.recommend(view(128.0, 1, 1, Totals(0.0, 0.0))).desired == 1
    assert scaler.recommend(view(130.0, 1, 1, Totals(0.0, 0.0))).desired == 0  # 30 s later


def zero_run(seed: int, cold_s: float = 10.0):
    """Traffic only in [100 s, 400 s) at 2/s, 0.2 s service, KPA from zero replicas with 10 s cold start."""
    svc = sim.ServingService("svc", (), 1, sim.ServiceTime("exponential", 0.2))
    arrivals = sim.Arrivals("steps", 0.0, steps=((0.0, 0.0), (100.0, 2.0), (400.0, 0.0)))
    model = sim.SimModel((svc,), (sim.RequestClass("c", "svc", arrivals),), duration_s=700.0, seed=seed)
    scaling = A.ServiceScaling(
        "svc", "kpa", 0, 5, "concurrency", 1.0, {"cpu": 1.0}, cold_start=A.ColdStart(cold_s)
    )
    cluster = A.ClusterSpec((A.PoolSpec("cpu", {"cpu": 8.0}),), (("n0", "cpu"),))
    return model, *A.simulate(model, A.AutoscalingModel((scaling,), cluster))


def test_scale_from_zero_holds_the_first_request_for_one_cold_start():
    for seed in (1, 2, 3):
        _, result, controller = zero_run(seed)
        first = int(np.argmin(result.arrival_s))
        # the activator holds it, the autoscaler is poked at once: ready exactly one cold start later
        assert result.start_s[first] - result.arrival_s[first] == 10.0
        assert result.completed.all()  # nobody is rejected while cold
        events = controller.loops["svc"].events
        # one held request, target 1 × 70 %: ceil(1 / 0.7) = 2 replicas
        assert (events[0].from_, events[0].to, events[0].reason) == (0, 2, "activator")
        assert events[0].t_s == result.arrival_s[first]


def test_scale_to_zero_after_the_stable_window_and_the_grace_period():
    for seed in (1, 2, 3):
        _, result, controller = zero_run(seed)
        last = controller.loops["svc"].events[-1]
        assert last.to == 0
        # Hand computation: samples each second; the last one with a request in the service is s*; the
        # first 2 s tick whose 60 s window (t − 60, t] no longer holds it wants 0: t0 = the first even
        # t >= s* + 60; 0 is applied once wanted for 30 s: at t0 + 30.
        seconds = np.arange(0.0, 700.0)
        busy = [t for t in seconds if np.any((result.arrival_s <= t) & (result.end_s > t))]
        t0 = 2.0 * np.ceil((max(busy) + 60.0) / 2.0)
        assert last.t_s == t0 + 30.0
