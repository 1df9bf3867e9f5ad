"""Limits (`capacity.limits`): scenarios that would run for days or exhaust memory are refused before any
work, with the estimate and the cap; every cap can be raised in the scenario or with --set."""

from __future__ import annotations

import pytest

from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.pipeline import run
from capacity.scenario import load_scenario

BASE = """\
name: big
cluster: {pools: [{name: p, count: 4, resources: {cpu: 16, memory: 64Gi}}]}
services:
  - name: web
    replicas: 2
    resources: {cpu: 1, memory: 1Gi}
    serving: {service_time: {mean: 10ms}}
workload:
  duration: 1h
  classes:
    - {name: flood, service: web, arrivals: {process: poisson, rate: 1000000000/s}}
"""


def test_a_billion_per_second_for_a_day_is_refused_with_the_estimate(write_scenario, capsys):
    path = write_scenario(BASE.replace("1h", "1d") + "  statistics: exact\n")   # the rate stays on line 11
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    message = exc.value.one_line()
    assert exc.value.path == "workload.classes.flood.arrivals.rate" and exc.value.line == 11
    assert "about 8.64e+13 requests expected" in message and "limit 3e+07" in message
    assert "limits.max_requests" in message and "TB of simulator memory" in message
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "8.64e+13" in err


def test_a_streaming_run_is_capped_by_its_work(write_scenario, capsys):
    """With the default statistics (auto: streaming at this size) the cap is limits.max_streamed_requests,
    which lets a day at 1,000/s through (capacity.limits)."""
    path = write_scenario(BASE.replace("1h", "1d"))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    message = exc.value.one_line()
    assert exc.value.path == "workload.classes.flood.arrivals.rate" and exc.value.line == 11
    assert "about 8.64e+13 requests expected" in message and "limit 2e+08 of a streaming run" in message
    assert "limits.max_streamed_requests" in message
    assert load_scenario(write_scenario(BASE.replace("1h", "1d").replace("1000000000/s", "1000/s")))
    with pytest.raises(ScenarioError, match=r"limits\.max_requests"):
        load_scenario(write_scenario(BASE.replace("1h", "1d").replace("1000000000/s", "1000/s")),
                      ["workload.statistics=exact"])


def test_the_cap_is_overridable_and_stated_in_the_report(write_scenario):
    path = write_scenario(BASE.replace("1000000000/s", "200/s").replace("1h", "2s"))
    with pytest.raises(ScenarioError, match="more than the limit 100"):
        load_scenario(path, ["limits.max_requests=100"])
    scenario = load_scenario(path, ["limits.max_requests=1000"])
    report = run(scenario).report
    assert report.provenance.limits.max_requests == 1000
    assert load_scenario(path).digest() == scenario.digest()  # caps never change results


def test_trace_requests_are_counted_when_the_trace_is_read(write_scenario, tmp_path):
    rows = "\n".join(f"{k * 0.01},10,10" for k in range(500))
    (tmp_path / "t.csv").write_text("time,input_tokens,output_tokens\n" + rows + "\n")
    text = BASE.replace("{process: poisson, rate: 1000000000/s}",
                        "{process: trace, file: t.csv, rate_scale: 1000}").replace("1h", "10s")
    text = text.replace("service_time: {mean: 10ms}",
                        "service_time: {base: 1ms, per_input_token: 0.01ms, per_output_token: 0.1ms}")
    scenario = load_scenario(write_scenario(text), ["limits.max_requests=100000"])
    with pytest.raises(ScenarioError) as exc:
        run(scenario)
    assert "about 5e+05 requests expected" in str(exc.value)
    assert exc.value.path == "workload.classes.flood.arrivals"


@pytest.mark.parametrize("edit, where, words", [
    (("count: 4", "count: 100000"), "cluster.pools", "node-service pairs"),
    (("replicas: 2", "replicas: 1000000"), "services", "limits.max_replicas"),
    (("name: big", "name: big\nmetrics: {interval: 1ms}"), "metrics.interval",
     "time-series windows"),
])
def test_packing_replicas_and_windows_are_capped(write_scenario, edit, where, words):
    text = BASE.replace("1000000000/s", "1/s").replace(*edit)
    overrides = {"count: 100000": ["limits.max_packing_size=1e4"],
                 "replicas: 1000000": ["limits.max_replicas=1e5"]}.get(edit[1], [])
    with pytest.raises(ScenarioError) as exc:
        load_scenario(write_scenario(text), overrides)
    assert exc.value.path == where and words in str(exc.value)


def test_a_sweep_of_too_many_runs_is_refused(write_scenario):
    grid = "whatif: {grid: {services.web.replicas: [1, 2, 3, 4]}, replications: 1000}\n"
    text = BASE.replace("1000000000/s", "1/s") + grid
    with pytest.raises(ScenarioError, match=r"whatif: 4e\+03 runs"):
        load_scenario(write_scenario(text), ["limits.max_runs=1000"])


def test_continuous_batching_decode_steps_are_capped(write_scenario):
    text = BASE.replace("1000000000/s", "100/s").replace(
        "serving: {service_time: {mean: 10ms}}",
        "serving: {service_time: {base: 1ms, per_input_token: 0.01ms, per_output_token: 1ms}, "
        "batching: {mode: continuous, max_size: 8}}").replace(
        "rate: 100/s}}", "rate: 100/s}, tokens: {input: {mean: 10}, output: {mean: 100000000}}}")
    with pytest.raises(ScenarioError, match="decode iterations expected"):
        load_scenario(write_scenario(text))


# ------------------------------------------------------------------------ on/off periods (issue 12, item 11)


ONOFF = BASE.replace("{process: poisson, rate: 1000000000/s}",
                     "{process: onoff, rate: 1/s, on: 1us, off: 1us}")


def test_on_off_periods_are_capped_at_load(write_scenario, capsys):
    """1 µs periods over an hour: 3,600 requests but 3.6e9 periods (26.8 GiB) — refused at load."""
    path = write_scenario(ONOFF)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert exc.value.path == "workload.classes.flood.arrivals" and exc.value.line == 11
    assert "3.6e+09 on/off periods" in exc.value.message and "limits.max_onoff_periods" in exc.value.message
    assert main(["validate", str(path)]) == 2 and capsys.readouterr().err.count("\n") == 1
    load_scenario(path, ["limits.max_onoff_periods=4e9"])
    load_scenario(path, ["workload.classes.flood.arrivals.on=1s", "workload.classes.flood.arrivals.off=1s"])


def test_on_off_periods_are_drawn_in_bounded_memory():
    """The engine draws periods in chunks: memory does not grow with the number of periods."""
    import tracemalloc

    import numpy as np

    from capacity.sim.arrivals import OnOff

    process = OnOff(on_s=1e-6, off_s=1e-6)
    tracemalloc.start()
    try:
        t = process.times(np.random.default_rng(1), 1.0, 4.0)      # 4e6 periods, ~4 requests
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(t) < 30 and np.all(np.diff(t) >= 0) and np.all((t >= 0) & (t < 4.0))
    assert peak < 20_000_000, peak                                   # drawn at once: ~200 MB


# --------------------------------------------------------------------------- time series (issue 12, item 12)


SERIES = BASE.replace("replicas: 2", "replicas: 40").replace("1000000000/s", "1/s").replace(
    "name: big", "name: big\nmetrics: {interval: 1s}").replace("1h", "500000s").replace(
    "count: 4", "count: 40")


def test_time_series_windows_times_series_are_capped_at_load(write_scenario, capsys):
    """5e5 windows × 40 replicas: 4.3 GB and a 514 MB report — refused at load, naming the limit."""
    path = write_scenario(SERIES)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    assert exc.value.path == "metrics.interval" and exc.value.line == 2
    message = exc.value.message
    assert "5e+05 time-series windows" in message and "limits.max_series_values" in message
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    load_scenario(path, ["limits.max_series_values=1e8"])
    load_scenario(path, ["metrics.interval=1m"])


def test_time_series_are_counted_again_once_the_classes_and_nodes_are_known(write_scenario, tmp_path):
    """A tenant column makes one class per tenant: known only when the trace is read."""
    rows = "\n".join(f"{k},10,10,t{k % 40}" for k in range(200))
    (tmp_path / "t.csv").write_text("time,input_tokens,output_tokens,team\n" + rows + "\n")
    text = BASE.replace("{process: poisson, rate: 1000000000/s}",
                        "{process: trace, file: t.csv}, tenants: {column: team}").replace("1h", "200s")
    text = text.replace("service_time: {mean: 10ms}",
                        "service_time: {base: 1ms, per_input_token: 0.01ms, per_output_token: 0.1ms}")
    text = text.replace("name: big", "name: big\nmetrics: {interval: 1s}")
    scenario = load_scenario(write_scenario(text), ["limits.max_series_values=20000"])  # 200 × (1+8+2+...)
    with pytest.raises(ScenarioError) as exc:
        run(scenario)
    assert "limits.max_series_values" in exc.value.message and "40 classes" in exc.value.message
    assert exc.value.path == "metrics.interval"
