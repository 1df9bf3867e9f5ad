"""Small real runs shared by the report, plot, HTML and DataFrame tests (each computed once per session)."""

from __future__ import annotations

import functools
import textwrap

from capacity import pipeline
from capacity.scenario import load_scenario, parse_yaml, scenario_from_dict

from .conftest import SCENARIOS

#: An overloaded service with a short queue and a timeout: requests are rejected and time out.
OVERLOAD = textwrap.dedent("""\
    name: overload
    description: <b>bold</b> & "quoted" — an overloaded single replica
    seed: 3
    cluster:
      pools:
        - {name: cpu, count: 2, resources: {cpu: 4, memory: 8Gi}, cost: 0.2}
    services:
      - name: api
        replicas: 1
        resources: {cpu: 1, memory: 1Gi}
        serving:
          concurrency: 1
          service_time: {dist: exponential, mean: 10ms}
          queue: {max_length: 5, timeout: 40ms}
    workload:
      duration: 30s
      warmup: 3s
      classes:
        - {name: fast, service: api, tenant: a, arrivals: {process: poisson, rate: 80/s}, slo: {p99: 50ms}}
        - {name: bursty, service: api, tenant: b,
           arrivals: {process: onoff, rate: 40/s, on: 1s, off: 3s}}
    """)


@functools.cache
def seed_run() -> pipeline.RunResult:
    """The seed example, one minute of traffic (six classes, five services, three nodes)."""
    scenario = load_scenario(SCENARIOS / "seed-example.yaml", ["workload.duration=1m", "workload.warmup=10s"])
    return pipeline.run(scenario)


@functools.cache
def fleet_run() -> pipeline.RunResult:
    """The inference fleet, 40 s of traffic: three pools, stranded capacity, headroom, two priorities."""
    scenario = load_scenario(SCENARIOS / "inference-fleet.yaml", ["workload.duration=40s",
                                                                  "workload.warmup=5s"])
    return pipeline.run(scenario)


@functools.cache
def overload_run() -> pipeline.RunResult:
    """An overloaded replica: rejections (full queue) and timeouts."""
    data, lines = parse_yaml(OVERLOAD, "overload.yaml")
    return pipeline.run(scenario_from_dict(data, source="overload.yaml", lines=lines))
