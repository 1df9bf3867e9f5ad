"""Big inputs: peak memory and time of a 10-million-request replay, on the fast and the general path.

Two workloads, each run in a fresh child process so that its peak resident set size (``ru_maxrss``, the
most physical memory the process ever held, in bytes) is its own:

* ``plain``: an M/M/16 queue (one class, Poisson arrivals, exponential service of mean 50 ms, ρ = 0.7):
  central FIFO routing, the engine's minimal fast path (`capacity.sim.engine.is_plain`);
* ``fair``: the same load split between two tenants (weights 3:1) under weighted fair queueing with a
  bounded queue, which runs the general path (`capacity.sim.engine._general_admitter`: per-request
  tenant and cost lists, queue bookkeeping).

Each child draws the requests (`generate_requests`), replays them (`simulate_requests`) and summarises
(`summarize`), printing the seconds of each phase, the peak RSS before and after the replay, and the
bytes per request of the peak above the interpreter's baseline (numpy, SimPy and the package imported).
Memory is O(n): the engine keeps compact per-request numpy records (8-byte floats and small ints) and,
while replaying, Python lists of the arrival and service times (a Python float is 24 bytes plus an
8-byte list slot), so the peak grows linearly with the request count; the figures in docs/pages/limits.md
come from this script.

Usage::

    python benchmarks/big_replay.py                       # 10,000,000 requests, both workloads
    python benchmarks/big_replay.py --requests 1000000 --workload fair
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

MEAN_SERVICE_S = 0.05
REPLICAS = 16
RHO = 0.7


def peak_rss_bytes() -> int:
    """The process's peak resident set size so far (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(workload: str, requests: int, seed: int) -> dict[str, float]:
    """Run one workload in this process and return its figures."""
    from capacity.sim import (
        Arrivals,
        Replica,
        RequestClass,
        ServiceTime,
        ServingService,
        SimModel,
        generate_requests,
        simulate_requests,
        summarize,
    )

    baseline = peak_rss_bytes()
    lam = RHO * REPLICAS / MEAN_SERVICE_S
    replicas = tuple(Replica(f"model-{i}", f"node-{i}", "gpu") for i in range(REPLICAS))
    if workload == "plain":
        svc = ServingService("model", replicas, concurrency=1,
                             service_time=ServiceTime("exponential", MEAN_SERVICE_S))
        classes: tuple[RequestClass, ...] = (RequestClass("all", "model", Arrivals("poisson", lam)),)
    else:
        svc = ServingService("model", replicas, concurrency=1,
                             service_time=ServiceTime("exponential", MEAN_SERVICE_S),
                             discipline="fair", max_length=10_000)
        classes = (RequestClass("web", "model", Arrivals("poisson", 0.75 * lam), tenant="web", weight=3),
                   RequestClass("batch", "model", Arrivals("poisson", 0.25 * lam), tenant="batch", weight=1))
    model = SimModel((svc,), classes, duration_s=requests / lam, warmup_s=0.0, seed=seed)
    t0 = time.perf_counter()
    stream = generate_requests(model)
    t1 = time.perf_counter()
    after_draw = peak_rss_bytes()
    result = simulate_requests(model, stream)
    t2 = time.perf_counter()
    after_replay = peak_rss_bytes()
    del stream
    summary = summarize(model, result)
    t3 = time.perf_counter()
    n = len(result)
    return {
        "requests": n,
        "draw_s": t1 - t0,
        "replay_s": t2 - t1,
        "summarize_s": t3 - t2,
        "baseline_rss": baseline,
        "peak_rss_after_draw": after_draw,
        "peak_rss": peak_rss_bytes(),
        "peak_rss_replay": after_replay,
        "bytes_per_request": (peak_rss_bytes() - baseline) / max(n, 1),
        "mean_wait_s": float(sum(c["wait_s"]["mean"] * c["completed"] for c in summary["classes"].values())
                             / max(sum(c["completed"] for c in summary["classes"].values()), 1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000, help="about this many requests")
    parser.add_argument("--workload", choices=["plain", "fair", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.workload, args.requests, args.seed)))
        return
    workloads = ["plain", "fair"] if args.workload == "both" else [args.workload]
    for w in workloads:
        out = subprocess.run([sys.executable, __file__, "--child", "--workload", w, "--requests",
                              str(args.requests), "--seed", str(args.seed)],
                             check=True, capture_output=True, text=True).stdout
        f = json.loads(out.strip().splitlines()[-1])
        gib = 2**30
        print(f"{w:5s}: {int(f['requests']):>11,d} requests  draw {f['draw_s']:6.1f} s  replay "
              f"{f['replay_s']:6.1f} s  summarize {f['summarize_s']:5.1f} s  | peak RSS "
              f"{f['peak_rss'] / gib:5.2f} GiB (after draw {f['peak_rss_after_draw'] / gib:4.2f}, "
              f"baseline {f['baseline_rss'] / gib:4.2f}) = {f['bytes_per_request']:.0f} B/request above "
              f"baseline; mean wait {f['mean_wait_s'] * 1000:.2f} ms")


if __name__ == "__main__":
    main()
