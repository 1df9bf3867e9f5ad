"""A fleet-sized placement: 2,000 nodes in 5 pools, 10,000 replicas of 200 services.

The cluster and the services are generated from a seed (``--seed``, default 7), so every run packs the
same problem:

* pools (node shapes, before 10 % CPU and memory headroom): ``cpu`` (32 cores, 64 GiB), ``mem`` (8 cores,
  128 GiB), ``bal`` (16 cores, 64 GiB), ``big`` (64 cores, 256 GiB) and ``gpu`` (32 cores, 128 GiB,
  4 GPUs), 2,000 nodes in all, each with a cost per hour;
* services: 200, their replicas adding up to 10,000; about half CPU-heavy (0.5-8 cores, 1-2 GiB per
  core) and half memory-heavy (0.25-2 cores, 4-32 GiB); one in ten asks for a GPU and may only run on
  ``gpu``; about one in six has a node selector (a few of the CPU pools); about one in ten has
  ``max_per_node`` (1-3).

It packs the problem with the chosen formulation and prints nodes used, the proven lower bound, the gap,
the time and first-fit decreasing for comparison. The issue's target: within 1 % of the lower bound in
under 60 s on a 2-core machine.

    python benchmarks/packing_scale.py [--time-limit 60] [--seed 7] [--objective min-nodes|min-cost]
                                       [--formulation patterns|compact]
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capacity.packing.baselines import first_fit_decreasing  # noqa: E402
from capacity.packing.problem import PackingProblem, Placement, Pool, Service, Spread, Survive  # noqa: E402

GI = 2**30
POOLS = (  # name, count, cpu, memory GiB, gpu, cost per hour
    ("cpu", 500, 32, 64, 0, 1.25),
    ("mem", 500, 8, 128, 0, 1.05),
    ("bal", 500, 16, 64, 0, 0.80),
    ("big", 300, 64, 256, 0, 3.10),
    ("gpu", 200, 32, 128, 4, 8.20),
)


def fleet(seed: int, objective: str, time_limit_s: float) -> PackingProblem:
    """The generated problem (see the module docstring)."""
    rng = np.random.default_rng(seed)
    pools = tuple(
        Pool(
            name,
            count=count,
            capacity={"cpu": cpu, "memory": mem * GI, **({"gpu": gpu} if gpu else {})},
            cost=cost,
        )
        for name, count, cpu, mem, gpu, cost in POOLS
    )
    n_services, total = 200, 10_000
    weights = rng.gamma(1.5, size=n_services)
    replicas = np.maximum(1, np.floor(weights / weights.sum() * total)).astype(int)
    cpu_pools = ["cpu", "mem", "bal", "big"]
    shape = {name: (cpu, mem) for name, _, cpu, mem, _, _ in POOLS}
    services = []
    for i in range(n_services):
        kind = rng.random()
        pools_sel: tuple[str, ...] | None = None
        if kind < 0.1:
            cpu = float(rng.choice([2, 4, 6, 8]))
            demand = {"cpu": cpu, "memory": float(rng.integers(8, 49)) * GI, "gpu": 1.0}
            pools_sel = ("gpu",)
            replicas[i] = max(1, replicas[i] // 4)  # GPU nodes are few: keep their services small
        elif kind < 0.55:
            cpu = float(rng.choice([0.5, 1, 1.5, 2, 3, 4, 6, 8]))
            demand = {"cpu": cpu, "memory": float(np.round(cpu * rng.uniform(1, 2) * 4) / 4) * GI}
        else:
            cpu = float(rng.choice([0.25, 0.5, 1, 1.5, 2]))
            demand = {"cpu": cpu, "memory": float(rng.integers(4, 33)) * GI}
        if pools_sel is None and rng.random() < 1 / 6:
            chosen = rng.choice(cpu_pools, size=int(rng.integers(1, 4)), replace=False)
            fit = [
                p
                for p in chosen
                if demand["cpu"] <= 0.9 * shape[p][0] and demand["memory"] <= 0.9 * shape[p][1] * GI
            ]
            pools_sel = tuple(sorted(fit)) or None
        max_per_node = int(rng.integers(1, 4)) if rng.random() < 0.1 else None
        services.append((f"svc{i:03d}", demand, pools_sel, max_per_node))
    # top up to exactly `total` replicas on the largest service without a node selector
    free = [i for i, (_, _, sel, limit) in enumerate(services) if sel is None and limit is None]
    replicas[max(free, key=lambda i: replicas[i])] += total - int(replicas.sum())
    services = [
        Service(name, replicas=int(replicas[i]), demand=demand, pools=sel, max_per_node=limit)
        for i, (name, demand, sel, limit) in enumerate(services)
    ]
    return PackingProblem(
        pools,
        tuple(services),
        objective=objective,  # type: ignore[arg-type]
        headroom={"cpu": 0.1, "memory": 0.1},
        time_limit_s=time_limit_s,
    )


CONSTRAINED_SHAPES = (  # instance type, cpu, memory GiB, cost per hour
    ("cpu", 32, 64, 1.25),
    ("mem", 8, 128, 1.05),
    ("bal", 16, 64, 0.80),
)
ZONES = ("a", "b", "c")
ZONE = "topology.kubernetes.io/zone"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"


def constrained_fleet(seed: int, objective: str, time_limit_s: float, scale: float = 1.0) -> PackingProblem:
    """The cluster-scale problem with every constraint on (issue 19; see the module docstring).

    10 pools: the three instance types in each of three zones, and a ``big`` type (64 cores, 256 GiB) in
    zone ``a`` only; 10,000 nodes. 1,000 services, 50,000 replicas: half CPU-heavy, half memory-heavy;
    one in six has a node selector on the instance type; one in ten ``max_per_node`` (1-3); a quarter are
    spread over the zones (``max_skew`` 1) with N+1 zone-failure tolerance: a service that needs ``m``
    replicas runs ``3 * ceil(m / 2)`` and must keep ``m`` after losing any zone (``survive`` zone,
    ``keep = m / replicas``). ``scale`` shrinks everything (tests use 1/100).
    """
    rng = np.random.default_rng(seed)
    n_nodes = max(10, round(10_000 * scale))
    pools = []
    for kind, cpu, mem, cost in CONSTRAINED_SHAPES:
        for zone in ZONES:
            pools.append(
                Pool(
                    f"{kind}-{zone}",
                    count=round(n_nodes * 0.108),
                    cost=cost,
                    capacity={"cpu": cpu, "memory": mem * GI},
                    labels={ZONE: zone, INSTANCE_TYPE: kind},
                )
            )
    pools.append(
        Pool(
            "big-a",
            count=n_nodes - sum(p.count for p in pools),
            cost=3.10,
            capacity={"cpu": 64, "memory": 256 * GI},
            labels={ZONE: "a", INSTANCE_TYPE: "big"},
        )
    )
    n_services, total = max(4, round(1_000 * scale)), max(20, round(50_000 * scale))
    weights = rng.gamma(1.5, size=n_services)
    needed = np.maximum(1, np.floor(weights / weights.sum() * total / 1.125)).astype(int)
    services = []
    for i in range(n_services):
        if rng.random() < 0.5:
            cpu = float(rng.choice([0.5, 1, 1.5, 2, 3, 4, 6, 8]))
            demand = {"cpu": cpu, "memory": float(np.round(cpu * rng.uniform(1, 2) * 4) / 4) * GI}
        else:
            cpu = float(rng.choice([0.25, 0.5, 1, 1.5, 2]))
            demand = {"cpu": cpu, "memory": float(rng.integers(4, 33)) * GI}
        selector = None
        if rng.random() < 1 / 6:
            kind, kcpu, kmem, _ = CONSTRAINED_SHAPES[int(rng.integers(0, 3))]
            if demand["cpu"] <= 0.9 * kcpu and demand["memory"] <= 0.9 * kmem * GI:
                selector = {INSTANCE_TYPE: kind}
        max_per_node = int(rng.integers(1, 4)) if rng.random() < 0.1 else None
        m = int(needed[i])
        spread = survive = None
        replicas = m
        if rng.random() < 0.25:
            replicas = 3 * math.ceil(m / 2)
            spread = Spread(ZONE, max_skew=1)
            survive = Survive("zone", keep=m / replicas, topology=ZONE)
        services.append(
            Service(
                f"svc{i:04d}",
                replicas=replicas,
                demand=demand,
                node_selector=selector,
                max_per_node=max_per_node,
                spread=spread,
                survive=survive,
            )
        )
    # top up to exactly `total` replicas on the largest service without a rule
    free = [
        i
        for i, s in enumerate(services)
        if s.spread is None and s.max_per_node is None and s.node_selector is None
    ]
    top = max(free, key=lambda i: services[i].replicas)
    extra = total - sum(s.replicas for s in services)
    services[top] = replace(services[top], replicas=max(1, services[top].replicas + extra))
    return PackingProblem(
        tuple(pools),
        tuple(services),
        objective=objective,  # type: ignore[arg-type]
        headroom={"cpu": 0.1, "memory": 0.1},
        time_limit_s=time_limit_s,
    )


def traffic_change(problem: PackingProblem, seed: int, change: float = 0.1) -> PackingProblem:
    """Every service's traffic moves by a factor drawn uniformly from ``[1 - change, 1 + change]``
    (seeded), and its replicas with it (rounded up, at least 1); an N+1 service needing ``m`` replicas
    keeps its rule (``3 * ceil(m' / 2)`` replicas, ``keep = m' / replicas``)."""
    rng = np.random.default_rng(seed + 1)
    services = []
    for s in problem.services:
        factor = float(rng.uniform(1 - change, 1 + change))
        if s.survive is not None and s.survive.failure == "zone":
            m = max(1, math.ceil(round(s.survive.keep * s.replicas) * factor))
            replicas = 3 * math.ceil(m / 2)
            services.append(replace(s, replicas=replicas, survive=replace(s.survive, keep=m / replicas)))
        else:
            services.append(replace(s, replicas=max(1, math.ceil(s.replicas * factor))))
    return replace(problem, services=tuple(services))


def running(plan: Placement) -> dict[str, dict[str, int]]:
    """A plan as an ``existing`` placement: ``{node: {service: replicas}}``."""
    out: dict[str, dict[str, int]] = {}
    for node in plan.nodes:
        counts: dict[str, int] = {}
        for replica in node.replicas:
            service = replica.rsplit("-", 1)[0]
            counts[service] = counts.get(service, 0) + 1
        out[node.name] = counts
    return out


def replan_benchmark(problem: PackingProblem, seed: int, limit: float, formulation: str = "auto") -> None:
    """Issue 19, item 3: the running plan (first-fit decreasing), a 10 % traffic change, re-planned under
    ``min-moves`` and under ``min-nodes`` with a move cost of 1/20 node per moved replica."""
    from capacity.packing.engine import solve

    started = time.perf_counter()
    before = first_fit_decreasing(problem)
    print(
        f"running  : {describe(before)} (wall {time.perf_counter() - started:.1f} s); "
        f"load average {load_average()}",
        flush=True,
    )
    after = replace(traffic_change(problem, seed), existing=running(before), time_limit_s=limit)
    print(
        f"traffic  : {sum(s.replicas for s in problem.services)} -> "
        f"{sum(s.replicas for s in after.services)} replicas",
        flush=True,
    )
    for objective, move_cost in (("min-moves", 0.0), ("min-nodes", 0.05)):
        started = time.perf_counter()
        plan = solve(replace(after, objective=objective, move_cost=move_cost), formulation=formulation)
        print(
            f"{objective} (move cost {move_cost}): {plan.solver}, moves {plan.moves}, nodes "
            f"{before.nodes_used} -> {plan.nodes_used} (saved {before.nodes_used - plan.nodes_used}), "
            f"{plan.status}, wall {time.perf_counter() - started:.1f} s, peak memory "
            f"{peak_memory_mb():.0f} MiB; load average {load_average()}",
            flush=True,
        )


def pack(problem: PackingProblem, formulation: str) -> Placement:
    if formulation == "patterns":
        from capacity.packing.patterns import solve_patterns

        return solve_patterns(problem)
    from capacity.packing.engine import solve

    return solve(problem, formulation="auto" if formulation == "compact" else formulation)


def describe(plan: Placement) -> str:
    by_pool: dict[str, int] = {}
    for node in plan.nodes:
        by_pool[node.pool] = by_pool.get(node.pool, 0) + 1
    gap = "n/a" if plan.gap is None else f"{plan.gap:.2%}"
    cost = "n/a" if plan.cost_per_hour is None else f"{plan.cost_per_hour:.2f}/h"
    bound = "n/a" if plan.objective_bound is None else f"{plan.objective_bound:.2f}"
    return (
        f"nodes {plan.nodes_used} (bound {plan.lower_bound}), objective {plan.objective_value} "
        f"(bound {bound}, gap {gap}), cost {cost}, {plan.status}, "
        f"{plan.solve_time_s:.1f} s; by pool: " + ", ".join(f"{k} {v}" for k, v in sorted(by_pool.items()))
    )


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (``ru_maxrss``, KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=None, help="seconds (60; 120 with --constrained)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--objective", choices=("min-nodes", "min-cost"), default="min-nodes")
    parser.add_argument(
        "--formulation",
        choices=("patterns", "compact", "auto", "replan", "zones"),
        default=None,
        help="patterns (auto with --constrained: the zone split)",
    )
    parser.add_argument(
        "--constrained",
        action="store_true",
        help="10,000 nodes, 50,000 replicas with selectors, max_per_node, zone spread and "
        "N+1 zone survival (`constrained_fleet`)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the constrained fleet (e.g. 0.1)")
    parser.add_argument("--work", type=float, default=None, help="PackingProblem.work_s (default: the limit)")
    parser.add_argument(
        "--replan",
        action="store_true",
        help="with --constrained: re-plan a 10 %% traffic change (`replan_benchmark`)",
    )
    args = parser.parse_args(argv)
    limit = args.time_limit if args.time_limit is not None else (120.0 if args.constrained else 60.0)
    formulation = args.formulation or ("auto" if args.constrained else "patterns")
    if args.constrained:
        problem = constrained_fleet(args.seed, args.objective, limit, args.scale)
    else:
        problem = fleet(args.seed, args.objective, limit)
    problem = replace(problem, work_s=args.work)
    if args.replan:
        limit = args.time_limit if args.time_limit is not None else 60.0
        replan_benchmark(problem, args.seed, limit, args.formulation or "auto")
        return 0
    reps = sum(s.replicas for s in problem.services)
    print(
        f"fleet: {sum(p.count for p in problem.pools)} nodes in {len(problem.pools)} pools, "
        f"{reps} replicas of {len(problem.services)} services, {args.objective}, "
        f"time limit {limit:.0f} s; load average {load_average()}"
    )
    started = time.perf_counter()
    plan = pack(problem, formulation)
    wall = time.perf_counter() - started
    print(
        f"{formulation:9s}: {describe(plan)} (wall {wall:.1f} s, peak memory {peak_memory_mb():.0f} MiB, "
        f"time limit reached: {plan.time_limit_reached}); load average {load_average()}",
        flush=True,
    )
    baselines = [first_fit_decreasing]
    if args.constrained:
        from capacity.packing.baselines import BASELINES

        baselines.append(BASELINES.lookup("k8s-most-allocated"))
    for baseline in baselines:
        started = time.perf_counter()
        other = baseline(problem)
        print(
            f"{other.solver:9s}: {describe(other)} (wall {time.perf_counter() - started:.1f} s); "
            f"load average {load_average()}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
