"""A day at production rates: one simulated day at 1,000 requests/s with streaming statistics, and the
sketch's quantiles against exact ones on a shorter run.

Workload: a diurnal day (mean 1,000 requests/s, amplitude 0.5: 500/s at 02:00, 1,500/s at 14:00), replicas
of 4 slots, exponential service of mean 50 ms, central FIFO.

Each measurement runs in a fresh child process so that its peak resident set size (``ru_maxrss``) is its own:

* ``day``: the day through an **autoscaled fleet** in streaming mode (`capacity.autoscaling.simulate`): HPA
  on utilisation, target 60 %, 60 s window, 30 s cold start, from 12 replicas on 2 nodes of 8 CPUs (a
  replica takes 1), the pool scaled between 2 and 10 nodes with a 120 s provisioning delay. Seconds, peak
  RSS, requests, the exact mode's memory for the same day estimated from its measured bytes a request, the
  SLO, the fleet's cost (node-hours) and its scale events;
* ``static`` (``--static``): the same day through the static fleet sized for the peak (25 replicas: ρ = 0.75
  at the peak; the engine's fast path), streaming;
* ``exact`` and ``stream``: one hour of the same workload at its peak hour, the **same request stream**
  replayed exactly (`simulate_requests`, per-request records) and in streaming mode (`replay_streaming`):
  seconds, peak RSS, and the streaming p50/p95/p99 of latency and wait against the exact ones (relative
  difference, and whether each lies within α of the exact order statistic at its rank).

Usage::

    python benchmarks/day_scale.py                 # the day and the comparison (about 10 minutes)
    python benchmarks/day_scale.py --hours 1       # a shorter "day" (smoke run)
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np

RATE = 1_000.0
AMPLITUDE = 0.5
MEAN_SERVICE_S = 0.05
REPLICAS, SLOTS = 25, 4


def peak_rss_bytes() -> int:
    """The most physical memory this process has held (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def model(duration_s: float, start_s: float = 0.0, replicas_n: int = REPLICAS):  # type: ignore[no-untyped-def]
    from capacity.sim.model import Arrivals, Replica, RequestClass, ServiceTime, ServingService, SimModel

    replicas = tuple(Replica(name=f"api-{i}", node=f"n{i % 2}", pool="cpu") for i in range(replicas_n))
    service = ServingService(
        name="api",
        replicas=replicas,
        concurrency=SLOTS,
        service_time=ServiceTime(dist="exponential", mean_s=MEAN_SERVICE_S),
    )
    arrivals = Arrivals(process="diurnal", rate_per_s=RATE, amplitude=AMPLITUDE, start_s=start_s)
    chat = RequestClass(name="chat", service="api", arrivals=arrivals, slo_target_s=0.2, slo_quantile=0.99)
    return SimModel(
        services=(service,),
        classes=(chat,),
        duration_s=duration_s,
        warmup_s=min(600.0, duration_s / 10),
        seed=1,
        interval_s=900.0,
        statistics="streaming",
    )


def child(kind: str, hours: float) -> dict[str, object]:
    from capacity import sim
    from capacity.sim import engine, metrics, streaming

    base = peak_rss_bytes()
    t0 = time.perf_counter()
    extra: dict[str, object] = {}
    if kind == "day":
        from capacity import autoscaling as A

        m = model(hours * 3600.0, replicas_n=12)
        spec = A.ServiceScaling(
            "api", "hpa", 1, 80, "utilisation", 0.6, {"cpu": 1.0}, window_s=60.0, cold_start=A.ColdStart(30.0)
        )
        pool = A.PoolSpec("cpu", {"cpu": 8.0}, cost=1.0, autoscaling=A.PoolScaling(2, 10, 120.0))
        scaling = A.AutoscalingModel((spec,), A.ClusterSpec((pool,), (("n0", "cpu"), ("n1", "cpu"))))
        result, controller = A.simulate(m, scaling)
        summary = result.summary()
        n = len(result)
        auto = A.summarize_autoscaling(m, result, controller)
        extra = {
            "cost_node_hours": auto["cost"],
            "peak_replicas": auto["services"]["api"]["peak"],
            "scale_events": len(auto["services"]["api"]["events"]),
            "peak_nodes": auto["pools"]["cpu"]["peak"],
        }
    elif kind == "static":
        result = sim.simulate_streaming(model(hours * 3600.0))
        summary = result.summary()
        n = len(result)
    else:
        m = model(hours * 3600.0, start_s=13.5 * 3600.0)  # the peak hour
        stream = engine.generate_requests(m)
        n = len(stream)
        if kind == "exact":
            r = engine.simulate_requests(m, stream)
            summary = metrics.summarize(m, r)
            served = r.measured & r.completed
            summary["sorted"] = {
                **{
                    f"{what}_{q}": float(
                        np.sort(getattr(r, what)[served])[math.floor(q * (int(served.sum()) - 1))]
                    )
                    for what in ("latency_s", "wait_s")
                    for q in (0.5, 0.95, 0.99)
                }
            }
        else:
            summary = streaming.replay_streaming(m, iter([stream])).summary()
    seconds = time.perf_counter() - t0
    chat = summary["classes"]["chat"]
    return {
        "kind": kind,
        "requests": n,
        "seconds": seconds,
        "peak_rss": peak_rss_bytes(),
        "base_rss": base,
        "latency_s": chat["latency_s"],
        "wait_s": chat["wait_s"],
        "slo": chat["slo"],
        "completed": chat["completed"],
        "mode": summary["statistics"]["mode"],
        "ranks": summary.get("sorted"),
        **extra,
    }


def run_child(kind: str, hours: float) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--hours", str(hours)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="length of the streamed day (default 24)")
    parser.add_argument("--compare-hours", type=float, default=1.0, help="length of the exact comparison")
    parser.add_argument("--static", action="store_true", help="also the static fleet sized for the peak")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.hours)))
        return
    from capacity.sim.sketch import RELATIVE_ACCURACY as alpha

    exact = run_child("exact", args.compare_hours)  # the child reads its length from --hours
    stream = run_child("stream", args.compare_hours)
    gib = 2**30
    print(
        f"comparison: {args.compare_hours:g} h at the peak hour, {exact['requests']:,} requests, "
        "the same stream"
    )
    print(f"  {'':8} {'seconds':>8} {'peak RSS':>10} {'B/request':>10}")
    for r in (exact, stream):
        per = (r["peak_rss"] - r["base_rss"]) / r["requests"]
        print(f"  {r['mode']:8} {r['seconds']:8.1f} {r['peak_rss'] / gib:8.2f} GiB {per:10.0f}")
    print(f"  quantiles, streaming vs exact (alpha = {alpha:.0%}):")
    for what in ("latency_s", "wait_s"):
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            e, s = exact[what][name], stream[what][name]
            x = exact["ranks"][f"{what}_{q}"]
            within = x * (1 - alpha) <= s <= x * (1 + alpha) if x > 0 else s == 0
            rel = (s - e) / e if e else 0.0
            print(
                f"    {what:10} {name}: exact {e:.6f}  streaming {s:.6f}  ({rel:+.3%}; within alpha of "
                f"the rank's value: {within})"
            )
    print(
        f"    counts: completed {exact['completed']} vs {stream['completed']}; SLO attained "
        f"{exact['slo']['attained']:.6f} vs {stream['slo']['attained']:.6f}"
    )
    exact_per_request = (exact["peak_rss"] - exact["base_rss"]) / exact["requests"]
    for kind in ("day", "static") if args.static else ("day",):
        report_day(kind, run_child(kind, args.hours), args.hours, exact, exact_per_request)


def report_day(kind: str, day: dict, hours: float, exact: dict, exact_per_request: float) -> None:  # type: ignore[type-arg]
    """Print one day's figures beside the exact mode's estimated memory for it."""
    gib = 2**30
    fleet = "an autoscaled fleet (HPA)" if kind == "day" else "the static fleet sized for the peak"
    print(
        f"day: {hours:g} h at a mean {RATE:g}/s (diurnal ±{AMPLITUDE:.0%}) through {fleet}, "
        f"{day['requests']:,} requests, streaming"
    )
    per_request_us = day["seconds"] / day["requests"] * 1e6
    print(
        f"  {day['seconds']:.0f} s ({per_request_us:.2f} µs a request), peak RSS "
        f"{day['peak_rss'] / gib:.2f} GiB; exact mode would need about "
        f"{(exact_per_request * day['requests'] + exact['base_rss']) / gib:.1f} GiB "
        f"({exact_per_request:.0f} B a request measured above)"
    )
    print(f"  latency {day['latency_s']}; SLO {day['slo']}")
    if kind == "day":
        print(
            f"  cost {day['cost_node_hours']} node-hours, peak {day['peak_replicas']} replicas on "
            f"{day['peak_nodes']} nodes, {day['scale_events']} scale events"
        )


if __name__ == "__main__":
    main()
