"""Simulated requests per second: the capacity engine against plain SimPy and Ciw, in one run.

The workload is a two-class non-preemptive priority M/M/c queue: 16 replicas with one slot each, Poisson
arrivals split evenly between a high (priority 0) and a low (priority 1) class, exponential service of
mean 50 ms, utilisation ρ = 0.7. The same drawn requests go through

* ``capacity``: `capacity.sim.simulate_model` end to end (numpy draws + replay), and the replay alone;
* plain SimPy: a `simpy.PriorityResource` of capacity 16 and one SimPy process per request (the usual
  way to write this model), fed the very same arrival and service times;
* Ciw (``pip install '.[bench]'``): the same network (two Poisson classes, 16 servers, exponential
  service, non-preemptive priorities), but Ciw draws its own requests and runs at about 35k requests/s
  here, so it simulates a shorter run (``--ciw-requests``, 100,000 by default) and the comparison is of
  requests per second (the rate does not depend on the run length: every request costs the same).

The engine and the plain SimPy model serve the same requests in the same order, so their per-request waits
agree up to float rounding; the script prints the largest difference as a cross-check, and Ciw's mean
waits beside the engine's.

``--memory`` also measures the engine's memory with `tracemalloc`: the peak while drawing and replaying
(everything Python allocates, numpy included) and what the returned `SimResult` keeps, per request.

Usage::

    python benchmarks/sim_throughput.py                 # 1,000,000 requests (about a minute)
    python benchmarks/sim_throughput.py --requests 100000 --ciw-requests 20000
    python benchmarks/sim_throughput.py --memory
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Generator

import numpy as np
import simpy

from capacity.sim import (
    Arrivals,
    Replica,
    RequestClass,
    RequestStream,
    ServiceTime,
    ServingService,
    SimModel,
    generate_requests,
    simulate_model,
    simulate_requests,
    summarize,
)

MEAN_SERVICE_S = 0.05


def workload(requests: int, replicas: int, rho: float, seed: int) -> SimModel:
    lam = rho * replicas / MEAN_SERVICE_S                  # total arrival rate, per second
    svc = ServingService(
        "model", tuple(Replica(f"model-{i}", f"node-{i}", "gpu") for i in range(replicas)),
        concurrency=1, service_time=ServiceTime("exponential", MEAN_SERVICE_S),
        discipline="priority")
    classes = (RequestClass("high", "model", Arrivals("poisson", lam / 2), priority=0),
               RequestClass("low", "model", Arrivals("poisson", lam / 2), priority=1))
    return SimModel((svc,), classes, duration_s=requests / lam, warmup_s=0.0, seed=seed)


def plain_simpy(stream: RequestStream, priority: list[int], capacity: int) -> np.ndarray:
    """Replay the stream with a PriorityResource and a process per request; return the waits."""
    env = simpy.Environment()
    servers = simpy.PriorityResource(env, capacity=capacity)
    arrival = stream.arrival_s.tolist()
    service = stream.service_s.tolist()
    prio = [priority[k] for k in stream.cls.tolist()]
    waits = np.empty(len(arrival))

    def request(i: int) -> Generator[simpy.Event, None, None]:
        with servers.request(priority=prio[i]) as granted:
            yield granted
            waits[i] = env.now - arrival[i]
            yield env.timeout(service[i])

    def source() -> Generator[simpy.Event, None, None]:
        for i in range(len(arrival)):
            yield env.timeout(arrival[i] - env.now)
            env.process(request(i))

    env.process(source())
    env.run()
    return waits


def run_ciw(model: SimModel, seed: int, duration_s: float) -> tuple[int, float, list[float]] | None:
    """Ciw on the same rates for ``duration_s``; (records, seconds, mean wait per class), or None when
    Ciw is not installed."""
    try:
        import ciw  # type: ignore[import-not-found]
    except ImportError:
        return None
    mu = 1.0 / MEAN_SERVICE_S
    names = [f"Class {k}" for k in range(len(model.classes))]
    network = ciw.create_network(
        arrival_distributions={n: [ciw.dists.Exponential(rate=c.arrivals.rate_per_s)]
                               for n, c in zip(names, model.classes, strict=True)},
        service_distributions={n: [ciw.dists.Exponential(rate=mu)] for n in names},
        number_of_servers=[len(model.services[0].replicas)],
        priority_classes={n: c.priority for n, c in zip(names, model.classes, strict=True)},
    )
    ciw.seed(seed)
    t0 = time.perf_counter()
    q = ciw.Simulation(network)
    q.simulate_until_max_time(duration_s)
    seconds = time.perf_counter() - t0
    records = q.get_all_records()
    waits = [float(np.mean([r.waiting_time for r in records if r.customer_class == n] or [np.nan]))
             for n in names]
    return len(records), seconds, waits


def memory(model: SimModel) -> tuple[int, int, int]:
    """(requests, peak bytes while drawing and replaying, bytes the result keeps), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    result = simulate_model(model)
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(result), peak, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000, help="about this many requests")
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--rho", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ciw-requests", type=int, default=100_000,
                        help="about this many requests through Ciw (it is slow)")
    parser.add_argument("--memory", action="store_true", help="measure the engine's memory too")
    args = parser.parse_args()

    model = workload(args.requests, args.replicas, args.rho, args.seed)
    print(f"workload: priority M/M/{args.replicas}, 2 classes, rho={args.rho}, "
          f"{model.duration_s:.0f} s simulated")

    t0 = time.perf_counter()
    result = simulate_model(model)
    engine_s = time.perf_counter() - t0
    n = len(result)
    stream = generate_requests(model)
    t0 = time.perf_counter()
    simulate_requests(model, stream)
    replay_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = summarize(model, result)
    summary_s = time.perf_counter() - t0
    engine_rate = n / engine_s
    print(f"capacity engine : {n:>9,d} requests  {engine_s:6.2f} s  {engine_rate:>10,.0f} req/s "
          f"(replay only {n / replay_s:,.0f} req/s; summarize {summary_s:.2f} s)")

    t0 = time.perf_counter()
    waits = plain_simpy(stream, [c.priority for c in model.classes], args.replicas)
    simpy_s = time.perf_counter() - t0
    simpy_rate = n / simpy_s
    print(f"plain SimPy     : {n:>9,d} requests  {simpy_s:6.2f} s  {simpy_rate:>10,.0f} req/s "
          f"(PriorityResource, a process per request; replay only)")
    print(f"ratio engine / plain SimPy: {engine_rate / simpy_rate:.1f}x")
    print(f"cross-check: max |wait difference| = {np.max(np.abs(waits - result.wait_s)):.2e} s; "
          f"mean wait high/low = {summary['classes']['high']['wait_s']['mean']:.5f} / "
          f"{summary['classes']['low']['wait_s']['mean']:.5f} s")

    lam = sum(c.arrivals.rate_per_s for c in model.classes)
    ciw_run = run_ciw(model, args.seed, min(args.ciw_requests, args.requests) / lam)
    if ciw_run is None:
        print("Ciw             : skipped (import ciw failed: pip install '.[bench]')")
    else:
        records, seconds, ciw_waits = ciw_run
        ciw_rate = records / seconds
        print(f"Ciw             : {records:>9,d} requests  {seconds:6.2f} s  {ciw_rate:>10,.0f} req/s "
              f"(a shorter run of the same workload: rates per request compare)")
        print(f"ratio engine / Ciw: {engine_rate / ciw_rate:.1f}x; Ciw mean wait high/low = "
              f"{ciw_waits[0]:.5f} / {ciw_waits[1]:.5f} s (its own draws, {records:,d} requests)")
    print(f"summary: engine {engine_rate:,.0f} req/s, plain SimPy {simpy_rate:,.0f} req/s"
          + ("" if ciw_run is None else f", Ciw {ciw_rate:,.0f} req/s") + f"; engine / SimPy "
          f"{engine_rate / simpy_rate:.1f}x" + ("" if ciw_run is None else
                                              f", engine / Ciw {engine_rate / ciw_rate:.1f}x"))
    if args.memory:
        del result, stream, waits
        n_mem, peak, kept = memory(model)
        print(f"memory (tracemalloc, {n_mem:,d} requests): peak {peak / 2**20:,.0f} MiB = "
              f"{peak / n_mem:.0f} bytes/request while drawing and replaying; the result keeps "
              f"{kept / 2**20:,.0f} MiB = {kept / n_mem:.0f} bytes/request")


if __name__ == "__main__":
    main()
