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
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capacity.packing.baselines import first_fit_decreasing  # noqa: E402
from capacity.packing.problem import PackingProblem, Placement, Pool, Service  # noqa: E402

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


def pack(problem: PackingProblem, formulation: str) -> Placement:
    if formulation == "patterns":
        from capacity.packing.patterns import solve_patterns

        return solve_patterns(problem)
    from capacity.packing.engine import solve

    return solve(problem)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--objective", choices=("min-nodes", "min-cost"), default="min-nodes")
    parser.add_argument("--formulation", choices=("patterns", "compact"), default="patterns")
    args = parser.parse_args(argv)
    problem = fleet(args.seed, args.objective, args.time_limit)
    reps = sum(s.replicas for s in problem.services)
    print(
        f"fleet: {sum(p.count for p in problem.pools)} nodes in {len(problem.pools)} pools, "
        f"{reps} replicas of {len(problem.services)} services, {args.objective}, "
        f"time limit {args.time_limit:.0f} s"
    )
    started = time.perf_counter()
    ffd = first_fit_decreasing(problem)
    print(f"ffd      : {describe(ffd)} (wall {time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    plan = pack(problem, args.formulation)
    print(f"{args.formulation:9s}: {describe(plan)} (wall {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
