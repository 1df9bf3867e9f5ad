"""Trace replay: both CSV formats, their errors, time_scale / rate_scale, tenant splits, and both Azure traces
end to end (scenario YAML -> pipeline -> report).

Statistical checks use several seeds and tolerances of five standard deviations of the estimate.
"""

from __future__ import annotations

import gzip
import math
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity import pipeline
from capacity.errors import ScenarioError
from capacity.scenario import load_scenario
from capacity.sim import (
    Arrivals,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    Trace,
    TraceError,
    generate_requests,
    read_trace,
)
from capacity.sim.arrivals import TraceReplay
from capacity.sim.traces import ReplayWindow, replay

from ..conftest import SCENARIOS, SHARED_DATA, examples

TRACES = SHARED_DATA / "traces"
CODE = TRACES / "AzureLLMInferenceTrace_code.csv"
CONV = TRACES / "AzureLLMInferenceTrace_conv.csv"
needs_azure = pytest.mark.skipif(not (CODE.is_file() and CONV.is_file()),
                                 reason=f"the Azure traces are not in {TRACES} (shared data absent)")
SEEDS = (1, 2, 3)


def write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- reading


def test_plain_format_times_as_written_any_column_order_extra_columns(tmp_path):
    path = write(tmp_path, """\
        output_tokens,time,tenant,input_tokens
        7,2.5,web,100

        3,0.5,batch,20
        9,2.5,web,30
        """)
    trace = read_trace(path)                                  # auto: the plain header
    np.testing.assert_array_equal(trace.time_s, [0.5, 2.5, 2.5])          # sorted, ties stable
    np.testing.assert_array_equal(trace.input_tokens, [20, 100, 30])
    np.testing.assert_array_equal(trace.output_tokens, [3, 7, 9])
    assert trace.tenant is None and trace.source == str(path)
    with_tenants = read_trace(path, "plain", tenant_column="tenant")
    assert with_tenants.tenant_names == ("batch", "web")
    np.testing.assert_array_equal(with_tenants.tenant, [0, 1, 1])


def test_azure_format_is_relative_to_the_earliest_row_to_the_microsecond(tmp_path):
    path = write(tmp_path, """\
        TIMESTAMP,ContextTokens,GeneratedTokens
        2023-11-16 18:17:03.9799600,4808,10
        2023-11-16 18:17:04.0319600,3180,8
        2023-11-16 23:59:59.9999999,5,1
        2023-11-17 00:00:01.0000010,1,2
        """)
    trace = read_trace(path, "azure")
    expected = [0.0, 0.052, 20_576.020039, 20_577.020041]
    np.testing.assert_allclose(trace.time_s, expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(trace.input_tokens, [4808, 3180, 5, 1])
    assert read_trace(path).time_s.tolist() == trace.time_s.tolist()      # auto finds azure


def test_gzip_and_time_zones(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                "2023-11-16T18:00:00+01:00,1,1\n2023-11-16T17:00:30+00:00,2,2\n")
    trace = read_trace(path)
    np.testing.assert_array_equal(trace.time_s, [0.0, 30.0])
    np.testing.assert_array_equal(trace.input_tokens, [1, 2])


@pytest.mark.parametrize(("text", "fmt", "line", "words"), [
    ("", "auto", 1, "empty file"),
    ("time,input_tokens,output_tokens\n", "auto", None, "no requests"),
    ("when,in,out\n1,2,3\n", "auto", 1, "unknown trace format"),
    ("time,input_tokens,output_tokens\n1,2,3\n", "azure", 1, "lacks TIMESTAMP"),
    ("time,input_tokens,output_tokens\n1,2,3\n2,3\n", "auto", 3, "expected 3 fields"),
    ("time,input_tokens,output_tokens\n1,2,3\n\n2,x,3\n", "auto", 4, "input_tokens: expected a whole"),
    ("time,input_tokens,output_tokens\n1,2,-3\n", "auto", 2, "output_tokens: expected a whole"),
    ("time,input_tokens,output_tokens\n-1,2,3\n", "auto", 2, "time: expected a number of seconds"),
    ("time,input_tokens,output_tokens\nnan,2,3\n", "auto", 2, "time: expected"),
    ("time,time,input_tokens,output_tokens\n1,1,2,3\n", "auto", 1, "repeats column 'time'"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 25:00:00,1,1\n", "auto", 2,
     "TIMESTAMP: expected a date and time"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 10:00:00,1,1\n2023-11-16 10:00:00+00:00,1,1\n",
     "auto", 3, "mixes times with and without a time zone"),
])
def test_bad_traces_name_the_file_and_line(tmp_path, text, fmt, line, words):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TraceError) as err:
        read_trace(path, fmt)
    assert err.value.file == str(path) and err.value.line == line
    assert words in err.value.message
    assert str(err.value).startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert "\n" not in str(err.value)


def test_tenant_column_problems_and_unreadable_files(tmp_path):
    path = write(tmp_path, "time,input_tokens,output_tokens,tenant\n0,1,1,web\n1,1,1,not ok\n")
    with pytest.raises(TraceError, match=r":3: tenant: expected a tenant name \(1 to 63"):
        read_trace(path, tenant_column="tenant")
    with pytest.raises(TraceError, match=r":1: no tenant column 'customer'"):
        read_trace(path, tenant_column="customer")
    with pytest.raises(TraceError, match="no such file"):
        read_trace(tmp_path / "missing.csv")
    with pytest.raises(TraceError, match="is a directory"):
        read_trace(tmp_path)
    (tmp_path / "latin.csv").write_bytes(b"time,input_tokens,output_tokens\n0,1,1\xff\n")
    with pytest.raises(TraceError, match="not UTF-8"):
        read_trace(tmp_path / "latin.csv")


@needs_azure
@pytest.mark.parametrize(("path", "rows", "span", "mean_in", "mean_out"), [
    (CODE, 8819, 3435.948056, 2048, 28), (CONV, 19366, 3501.721937, 1155, 211)])
def test_the_azure_traces_read_as_documented(path, rows, span, mean_in, mean_out):
    trace = read_trace(path, "azure")
    assert len(trace) == rows
    assert trace.time_s[0] == 0.0 and trace.end_s == pytest.approx(span, abs=1e-6)
    assert np.all(np.diff(trace.time_s) > 0)
    assert trace.input_tokens.mean() == pytest.approx(mean_in, abs=1)         # data/traces/README.txt
    assert trace.output_tokens.mean() == pytest.approx(mean_out, abs=1)


# --------------------------------------------------------------------------- replay


def uniform_trace(n: int = 20_000, span: float = 1000.0, seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    return Trace.from_arrays(np.sort(rng.uniform(0, span, n)), rng.integers(1, 1000, n),
                             rng.integers(1, 100, n))


def test_time_scale_and_start_map_trace_time_exactly_and_drop_what_falls_outside():
    trace = uniform_trace()
    t, rows = replay(trace, np.random.default_rng(0), 300.0, time_scale=2.0, start_s=100.0)
    inside = (trace.time_s >= 100.0) & (trace.time_s < 250.0)               # 150 trace s = 300 run s
    np.testing.assert_array_equal(rows, np.flatnonzero(inside))
    np.testing.assert_allclose(t, (trace.time_s[inside] - 100.0) * 2.0, rtol=0, atol=1e-12)
    assert t[0] >= 0 and t[-1] < 300.0
    # half the rate: the same requests stretched over twice the time
    fast, _ = replay(trace, np.random.default_rng(0), 300.0, time_scale=0.5, start_s=100.0)
    assert len(fast) == np.count_nonzero((trace.time_s >= 100.0) & (trace.time_s < 700.0))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rate_scale", [0.3, 0.75])
def test_thinning_keeps_each_request_with_probability_rate_scale(seed, rate_scale):
    trace = uniform_trace()
    n = len(trace)
    t, rows = replay(trace, np.random.default_rng(seed), 2000.0, rate_scale=rate_scale)
    sd = math.sqrt(n * rate_scale * (1 - rate_scale))                       # binomial
    assert abs(len(t) - n * rate_scale) < 5 * sd
    np.testing.assert_array_equal(t, trace.time_s[rows])                    # kept where they were
    assert len(np.unique(rows)) == len(rows)


@pytest.mark.parametrize("seed", SEEDS)
def test_whole_rate_scales_superpose_shifted_copies(seed):
    trace = uniform_trace(n=5000)
    t, rows = replay(trace, np.random.default_rng(seed), 2000.0, rate_scale=3.0)
    assert len(t) == 3 * len(trace)                                         # exact
    np.testing.assert_array_equal(np.bincount(rows, minlength=len(trace)), 3)
    assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] < 1000.0      # wrapped inside the trace span
    assert len(np.unique(t)) == len(t)                                      # shifted: no copy on another
    # each row appears once unshifted (copy 0); the others are shifted by one offset per copy
    assert np.count_nonzero(t == trace.time_s[rows]) >= len(trace)


@pytest.mark.parametrize("seed", SEEDS)
def test_fractional_rate_scale_is_whole_copies_plus_a_thinned_one(seed):
    trace = uniform_trace(n=8000)
    t, _ = replay(trace, np.random.default_rng(seed), 2000.0, rate_scale=2.25)
    n = len(trace)
    assert abs(len(t) - 2.25 * n) < 5 * math.sqrt(n * 0.25 * 0.75)
    again, _ = replay(trace, np.random.default_rng(seed), 2000.0, rate_scale=2.25)
    np.testing.assert_array_equal(t, again)                                 # seeded


@needs_azure
@pytest.mark.parametrize("seed", SEEDS)
def test_scaled_conv_trace_has_the_scaled_rate(seed):
    trace = read_trace(CONV)
    duration = 1200.0
    base = np.count_nonzero((trace.time_s >= 600) & (trace.time_s < 600 + duration))
    for r in (0.5, 1.7):
        process = TraceReplay(trace, rate_scale=r, start_s=600.0)
        t = process.times(np.random.default_rng(seed), 0.0, duration)
        frac = r - math.floor(r)
        sd = math.sqrt(base * frac * (1 - frac))                            # only the thinned copy varies
        assert abs(len(t) - r * base) < 5 * sd + 1e-9
        assert process.mean_rate_per_s(duration) == pytest.approx(r * base / duration)


@needs_azure
def test_shifted_copies_of_a_bursty_trace_keep_its_burstiness_without_aligning_bursts():
    trace = read_trace(CODE)
    duration = 3000.0
    one, _ = replay(trace, np.random.default_rng(0), duration)
    three, _ = replay(trace, np.random.default_rng(0), duration, rate_scale=3.0)

    def dispersion(t: np.ndarray) -> float:                                 # of counts in 10 s windows
        counts = np.bincount((t // 10).astype(int), minlength=int(duration // 10))
        return float(counts.var() / counts.mean())

    # independent copies: same index of dispersion in expectation; identical copies would triple it
    assert dispersion(one) > 10
    assert dispersion(three) < 2 * dispersion(one)
    assert np.bincount((three // 1).astype(int)).max() < 3 * np.bincount((one // 1).astype(int)).max()


# --------------------------------------------------------------------------- tenants


def split_model(trace: Trace, weights: tuple[float, ...] | None, names: tuple[str, ...],
                seed: int = 0, duration: float = 1000.0, rate_scale: float = 1.0) -> SimModel:
    svc = ServingService("llm", (), 1, ServiceTime("exponential", 1.0))
    classes = tuple(
        RequestClass(f"chat@{name}", "llm", Arrivals("trace", 1.0, trace=trace, rate_scale=rate_scale,
                                                     tenant_weights=weights, tenant_index=k, stream="chat"),
                     tenant=name)
        for k, name in enumerate(names))
    whole = RequestClass("chat", "llm", Arrivals("trace", 1.0, trace=trace, rate_scale=rate_scale))
    return SimModel((svc,), (*classes, whole), duration, seed=seed)


def test_a_tenant_column_splits_the_replay_exactly():
    rng = np.random.default_rng(5)
    n = 3000
    labels = rng.choice(["web", "batch", "ml"], n).tolist()
    trace = Trace.from_arrays(np.sort(rng.uniform(0, 900, n)), rng.integers(1, 500, n),
                              rng.integers(1, 50, n), labels)
    model = split_model(trace, None, trace.tenant_names, rate_scale=1.6)
    stream = generate_requests(model)
    whole = stream.cls == 3
    for k, name in enumerate(trace.tenant_names):
        mine = stream.cls == k
        # one replay, partitioned: tenant k's class holds exactly the replay's requests of tenant k
        replayed_of_k = np.isin(stream.arrival_s[whole], stream.arrival_s[mine])
        assert np.count_nonzero(mine) == np.count_nonzero(replayed_of_k)
        lookup = dict(zip(trace.time_s.tolist(), labels, strict=True))
        copy0 = [x for x in stream.arrival_s[mine] if x in lookup]
        assert copy0 and all(lookup[x] == name for x in copy0)
    assert np.count_nonzero(~whole) == np.count_nonzero(whole)


@pytest.mark.parametrize("seed", SEEDS)
def test_weights_draw_tenants_with_binomial_shares_and_the_seed_fixes_them(seed):
    trace = uniform_trace(n=20_000)
    model = split_model(trace, (3.0, 1.0), ("web", "batch"), seed=seed)
    stream = generate_requests(model)
    n = np.count_nonzero(stream.cls == 2)
    web, batch = np.count_nonzero(stream.cls == 0), np.count_nonzero(stream.cls == 1)
    assert web + batch == n                                                 # a partition of the replay
    np.testing.assert_array_equal(np.sort(stream.arrival_s[stream.cls < 2]),
                                  stream.arrival_s[stream.cls == 2])
    assert abs(web - 0.75 * n) < 5 * math.sqrt(n * 0.75 * 0.25)
    again = generate_requests(model)
    np.testing.assert_array_equal(again.arrival_s, stream.arrival_s)
    np.testing.assert_array_equal(again.cls, stream.cls)
    other = generate_requests(split_model(trace, (3.0, 1.0), ("web", "batch"), seed=seed + 10))
    assert not np.array_equal(other.cls, stream.cls)


def test_trace_requests_carry_their_tokens():
    trace = Trace.from_arrays([0.0, 1.0, 2.0], [10, 20, 30], [1, 2, 3])
    svc = ServingService("llm", (), 1, ServiceTime("exponential", 1.0))
    model = SimModel((svc,), (RequestClass("c", "llm", Arrivals("trace", 1.0, trace=trace)),), 2.5)
    stream = generate_requests(model)
    np.testing.assert_array_equal(stream.arrival_s, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(stream.input_tokens, [10, 20, 30])
    np.testing.assert_array_equal(stream.output_tokens, [1, 2, 3])


ONE = Trace.from_arrays([0.0], [1], [1])


@pytest.mark.parametrize(("arrivals", "field"), [
    (Arrivals("trace", 1.0), "arrivals.trace"),
    (Arrivals("trace", 1.0, trace=ONE, rate_scale=0.0), "arrivals.rate_scale"),
    (Arrivals("trace", 1.0, trace=ONE, time_scale=-1.0), "arrivals.time_scale"),
    (Arrivals("trace", 1.0, trace=ONE, start_s=-1.0), "arrivals.start_s"),
    (Arrivals("trace", 1.0, trace=ONE, tenant_index=0), "arrivals.tenant_index"),
    (Arrivals("trace", 1.0, trace=ONE, tenant_weights=(1.0, 0.0)), "arrivals.tenant_weights"),
])
def test_the_engine_names_a_bad_trace_parameter(arrivals, field):
    svc = ServingService("llm", (), 1, ServiceTime("exponential", 1.0))
    with pytest.raises(ValueError, match=f"classes.c.{field}".replace(".", r"\.")):
        generate_requests(SimModel((svc,), (RequestClass("c", "llm", arrivals),), 10.0))


# --------------------------------------------------------------------------- scenarios


SCENARIO = """\
name: replay
seed: 11
cluster:
  pools:
    - {name: gpu, count: 2, resources: {cpu: 32, gpu: 4}}
services:
  - name: llm
    replicas: 4
    resources: {cpu: 8, gpu: 1}
    serving:
      concurrency: 8
      service_time: {dist: lognormal, mean: 2s, cv: 1}
      queue: {discipline: fair, cost: tokens}
workload:
  duration: 4m
  warmup: 30s
  classes:
    - name: chat
      service: llm
      arrivals: {process: trace, file: TRACE, start: 5m}
      tenants: {weights: {web: 3, batch: 1}}
      slo: {p99: 60s}
"""


def scenario_file(tmp_path: Path, trace: str, text: str = SCENARIO) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text.replace("TRACE", trace), encoding="utf-8")
    return path


def check_report(report: dict, classes: list[str], tenants: list[str]) -> None:
    simulation = report["simulation"]
    assert sorted(simulation["classes"]) == sorted(classes)
    for name in classes:
        stats = simulation["classes"][name]
        assert stats["arrived"] > 0 and stats["completed"] == stats["arrived"]
        assert 0 < stats["latency_s"]["p50"] <= stats["latency_s"]["p99"]
    for name in tenants:
        tenant = simulation["tenants"][name]
        assert tenant["completed"] > 0 and tenant["latency_s"]["p99"] > 0


@needs_azure
@pytest.mark.parametrize("trace", [CODE, CONV], ids=["code", "conv"])
def test_both_azure_traces_replay_end_to_end_with_per_tenant_latency(tmp_path, trace):
    scenario = load_scenario(scenario_file(tmp_path, str(trace)), data_dirs=[TRACES])
    result = pipeline.run(scenario)
    check_report(result.report, ["chat@web", "chat@batch"], ["web", "batch"])
    assert [c.name for c in result.model.classes] == ["chat@web", "chat@batch"]
    # the replayed requests are the trace's requests in [5 min, 9 min) of its clock
    full = read_trace(trace)
    expected = np.count_nonzero((full.time_s >= 300) & (full.time_s < 540))
    assert len(result.sim_result) == expected
    weights = {c.tenant: c.weight for c in result.model.classes}
    assert weights == {"web": 3.0, "batch": 1.0}
    assert result.model.services[0].queue_cost == "tokens"
    again = pipeline.run(load_scenario(scenario_file(tmp_path, str(trace)), data_dirs=[TRACES]))
    assert again.report["simulation"] == result.report["simulation"]


def test_relative_trace_paths_resolve_against_the_scenario_folder(tmp_path, monkeypatch):
    folder = tmp_path / "traces"
    folder.mkdir()
    rows = "\n".join(f"{0.05 * i:.2f},{100 + i % 7},{10 + i % 5},{'ab'[i % 2]}" for i in range(3000))
    (folder / "t.csv").write_text("time,input_tokens,output_tokens,team\n" + rows + "\n", encoding="utf-8")
    text = SCENARIO.replace("tenants: {weights: {web: 3, batch: 1}}",
                            "tenants: {column: team, weights: {a: 2}}")
    path = scenario_file(tmp_path, "traces/t.csv", text.replace("start: 5m", "start: 10s"))
    monkeypatch.chdir(tmp_path.parent)                      # not the scenario's folder
    result = pipeline.run(load_scenario(path))
    check_report(result.report, ["chat@a", "chat@b"], ["a", "b"])
    assert {c.tenant: c.weight for c in result.model.classes} == {"a": 2.0, "b": 1.0}
    # 150 s of trace at 20/s from 10 s on: 2800 requests in the 4-minute run, half to each tenant
    assert [c.arrivals.rate_per_s for c in result.model.classes] == pytest.approx([1400 / 240] * 2)
    assert result.report["simulation"]["classes"]["chat@a"]["arrived"] == 1400 - 30 * 20 // 2  # warm-up 30 s


@pytest.mark.parametrize(("old", "new", "path", "words"), [
    ("file: TRACE", "file: missing.csv", "workload.classes.chat.arrivals.file", "does not exist"),
    ("start: 5m", "start: 5m, rate: 3/s", "workload.classes.chat.arrivals.rate", "brings its own rate"),
    ("process: trace, file: TRACE, start: 5m", "process: poisson, rate: 3/s",
     "workload.classes.chat.tenants", "splits a trace's requests"),
    ("process: trace, file: TRACE,", "process: trace,", "workload.classes.chat.arrivals.file",
     "process trace needs 'file'"),
    ("start: 5m", "start: 5m, cv: 2", "workload.classes.chat.arrivals.cv", "applies to process gamma"),
    ("      slo: {p99: 60s}\n", "      slo: {p99: 60s}\n      tenant: web\n", "workload.classes.chat.tenant",
     "remove tenant"),
    ("      slo: {p99: 60s}\n", "      slo: {p99: 60s}\n      weight: 2\n", "workload.classes.chat.weight",
     "remove weight"),
    ("      slo: {p99: 60s}\n",
     "      slo: {p99: 60s}\n      tokens: {input: {mean: 5}, output: {mean: 5}}\n",
     "workload.classes.chat.tokens", "a trace gives each request's token counts"),
    ("tenants: {weights: {web: 3, batch: 1}}", "tenants: {}", "workload.classes.chat.tenants",
     "give a tenant column"),
    ("start: 5m", "start: 5m, rate_scale: 0", "workload.classes.chat.arrivals.rate_scale", "greater than 0"),
    ("start: 5m", "start: 5m, format: csv", "workload.classes.chat.arrivals.format", "'azure'"),
])
def test_bad_trace_fields_are_refused_at_load(tmp_path, old, new, path, words):
    (tmp_path / "t.csv").write_text("time,input_tokens,output_tokens\n0,1,1\n", encoding="utf-8")
    text = SCENARIO.replace("TRACE", "t.csv")
    assert old.replace("TRACE", "t.csv") in text
    file = scenario_file(tmp_path, "t.csv", text.replace(old.replace("TRACE", "t.csv"), new))
    with pytest.raises(ScenarioError) as err:
        load_scenario(file)
    assert err.value.path == path, err.value.one_line()
    assert words in err.value.message, err.value.one_line()
    assert err.value.line is not None and err.value.file == str(file)


@pytest.mark.parametrize(("content", "tenants", "words"), [
    ("time,input_tokens,output_tokens\n0,1,1\n1,x,1\n", "{weights: {web: 1}}",
     "t.csv:3: input_tokens: expected a whole number"),
    ("time,input_tokens,output_tokens\n0,1,1\n", "{column: team}", "t.csv:1: no tenant column 'team'"),
    ("time,input_tokens,output_tokens,team\n0,1,1,a\n400,1,1,a\n", "{column: team, weights: {b: 2}}",
     "tenant 'b' never appears in the trace's column 'team'"),
    ("time,input_tokens,output_tokens\n0,1,1\n1,1,1\n", "{weights: {web: 1}}",
     "is past the end of the trace"),
])
def test_trace_problems_found_when_reading_name_the_class_field_and_the_trace_line(tmp_path, content,
                                                                                    tenants, words):
    (tmp_path / "t.csv").write_text(content, encoding="utf-8")
    text = SCENARIO.replace("{weights: {web: 3, batch: 1}}", tenants)
    scenario = load_scenario(scenario_file(tmp_path, "t.csv", text))      # loading only checks existence
    with pytest.raises(ScenarioError) as err:
        pipeline.serving_model(scenario, pipeline.pack(scenario))
    one = err.value.one_line()
    assert words in one and one.startswith(f"{scenario.source}:")
    assert err.value.path.startswith("workload.classes.chat.")
    assert "\n" not in one


def test_the_shipped_trace_scenario_replays_the_excerpts_from_the_repository_alone(monkeypatch):
    monkeypatch.delenv("CAPACITY_DATA_DIRS", raising=False)
    scenario = load_scenario(SCENARIOS / "azure-trace-replay.yaml", ["workload.duration=2m"])
    assert scenario.data_dirs == ()
    chat, code = scenario.workload.classes[:2]
    assert chat.arrivals.process == code.arrivals.process == "trace"
    assert Path(chat.arrivals.file).name == "AzureLLMInferenceTrace_conv.excerpt.csv.gz"
    assert Path(code.arrivals.file).name == "AzureLLMInferenceTrace_code.excerpt.csv.gz"
    report = pipeline.run(scenario).report
    tenants = report["simulation"]["tenants"]
    assert set(tenants) >= {"web", "batch", "code"}
    assert all(tenants[t]["latency_s"]["p99"] is not None for t in ("web", "batch", "code"))


@needs_azure
def test_the_shipped_trace_scenario_replays_the_full_trace_from_an_allowed_folder(capsys):
    """As scenarios/data/README.md says: --data-dir and the full file, from minute 20."""
    from capacity.cli import main

    path = SCENARIOS / "azure-trace-replay.yaml"
    file = "workload.classes.chat.arrivals.file=../../shared/data/traces/AzureLLMInferenceTrace_conv.csv"
    assert main(["validate", str(path), "--set", file]) == 2
    assert "outside the folders" in capsys.readouterr().err
    assert main(["validate", str(path), "--set", file, "--data-dir", str(TRACES)]) == 0
    full = load_scenario(path, [file, "workload.classes.chat.arrivals.start=20m"], data_dirs=[TRACES])
    excerpt = load_scenario(SCENARIOS / "azure-trace-replay.yaml")
    a, b = pipeline.read_class_trace(full, 0), pipeline.read_class_trace(excerpt, 0)
    shift = a.time_s[0] - b.time_s[0]                  # the excerpt counts from its first row
    assert len(a) == len(b) and 1200 <= shift < 1201
    np.testing.assert_allclose(a.time_s - shift, b.time_s, atol=1e-6)
    np.testing.assert_array_equal(a.input_tokens, b.input_tokens)


# --------------------------------------------------------------------------- bounded, streaming reading


def test_a_line_longer_than_the_limit_fails_at_once_naming_the_limit(tmp_path):
    from capacity.sim.traces import MAX_LINE_LENGTH

    path = tmp_path / "long.csv"
    path.write_bytes(b"time,input_tokens,output_tokens\n0,1,1\n" + b"7" * (MAX_LINE_LENGTH + 1) + b"\n")
    with pytest.raises(TraceError) as err:
        read_trace(path)
    assert err.value.line == 3 and f"{MAX_LINE_LENGTH}" in err.value.message
    assert "MAX_LINE_LENGTH" in err.value.message and "777" not in str(err.value)
    ok = tmp_path / "ok.csv"                          # a line of exactly the limit is a line (a bad row)
    ok.write_bytes(b"time,input_tokens,output_tokens\n" + b"7" * MAX_LINE_LENGTH + b"\n")
    with pytest.raises(TraceError, match="expected 3 fields"):
        read_trace(ok)


CHILD_2GB = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
from capacity.cli import main
sys.exit(main(["simulate", sys.argv[1]]))
"""


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_a_2gb_trace_without_newlines_fails_fast_in_one_line_within_bounded_memory(tmp_path, gz):
    """Issue 12, item 13: a 2 GB file of one line ended in MemoryError; now one line naming the limit."""
    import os
    import subprocess
    import sys

    from ..conftest import ROOT

    if gz:                                           # 2 GB of NULs in a 2 MB gzip file
        path = tmp_path / "big.csv.gz"
        with gzip.open(path, "wb", compresslevel=1) as f:
            block = b"\0" * 2**24
            for _ in range(128):
                f.write(block)
    else:                                            # sparse: 2 GB without disk
        path = tmp_path / "big.csv"
        with open(path, "wb") as f:
            f.truncate(2 * 2**30)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO_ONE_CLASS.format(file=path.name), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD_2GB, str(scenario)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and "MAX_LINE_LENGTH" in done.stderr, done.stderr[-2000:]
    assert f"{path.name}:1:" in done.stderr


SCENARIO_ONE_CLASS = """\
name: one
cluster: {{pools: [{{name: p, count: 2, resources: {{cpu: 8, memory: 16Gi}}}}]}}
services:
  - name: llm
    replicas: 1
    resources: {{cpu: 1, memory: 1Gi}}
    serving: {{service_time: {{base: 1ms, per_input_token: 0.01ms, per_output_token: 0.1ms}}}}
workload:
  duration: 10s
  classes:
    - {{name: chat, service: llm, arrivals: {{process: trace, file: {file}}}}}
"""


def plain_rows(times, tenants: bool = False) -> str:
    rows = [f"{t!r},{10 + k % 7},{1 + k % 5}" + (f",{'abc'[k % 3]}" if tenants else "")
            for k, t in enumerate(times)]
    return "time,input_tokens,output_tokens" + (",team" if tenants else "") + "\n" + "\n".join(rows) + "\n"


def test_rows_outside_the_replayed_window_are_not_kept(tmp_path):
    from capacity.sim.traces import ReplayWindow

    path = tmp_path / "t.csv"
    path.write_text(plain_rows([float(k) for k in range(1000)], tenants=True), encoding="utf-8")
    window = ReplayWindow(duration_s=100.0, time_scale=2.0, start_s=300.0)    # trace [300, 350)
    kept = read_trace(path, tenant_column="team", window=window)
    assert kept.time_s.tolist() == [float(k) for k in range(300, 350)]
    assert kept.end_s == 999.0                                 # the whole trace's end
    assert kept.tenant_names == ("a", "b", "c")                # every tenant of the file
    full = read_trace(path, tenant_column="team")
    for seed in SEEDS:
        for rate_scale in (0.4, 1.0, 2.5):
            a = replay(full, np.random.default_rng(seed), 100.0, time_scale=2.0, rate_scale=rate_scale,
                       start_s=300.0)
            b = replay(kept, np.random.default_rng(seed), 100.0, time_scale=2.0, rate_scale=rate_scale,
                       start_s=300.0)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(full.input_tokens[a[1]], kept.input_tokens[b[1]])
            np.testing.assert_array_equal(full.tenant[a[1]], kept.tenant[b[1]])


def test_an_unsorted_azure_trace_windows_from_its_earliest_row(tmp_path):
    """Azure times count from the earliest row, which may come last: the window is still exact."""
    from capacity.sim.traces import ReplayWindow

    stamps = [f"2023-11-16 18:{m:02d}:{s:02d}.5000000" for m in range(10, 20) for s in range(0, 60, 10)]
    stamps.append("2023-11-16 18:00:00.0000000")            # the earliest, last: the origin moves 10 min
    text = "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(f"{s},{k},1\n" for k, s in enumerate(stamps))
    path = write(tmp_path, text)
    kept = read_trace(path, window=ReplayWindow(duration_s=60.0, start_s=660.0))
    assert kept.time_s.tolist() == [660.5, 670.5, 680.5, 690.5, 700.5, 710.5]
    assert kept.input_tokens.tolist() == [6, 7, 8, 9, 10, 11] and kept.end_s == 1190.5


def test_the_rows_kept_are_bounded(tmp_path):
    from capacity.sim.traces import ReplayWindow, RowLimitError

    path = tmp_path / "t.csv"
    path.write_text(plain_rows([k / 10 for k in range(1000)]), encoding="utf-8")
    with pytest.raises(RowLimitError) as err:
        read_trace(path, window=ReplayWindow(duration_s=50.0), max_rows=100)
    assert err.value.line == 102 and "100" in err.value.message
    assert len(read_trace(path, window=ReplayWindow(duration_s=50.0, start_s=80.0), max_rows=200)) == 200


def test_a_trace_whose_rows_all_fall_outside_the_window_costs_no_memory_per_row(tmp_path):
    """Issue 12, item 13: 3 M rows outside the window cost 592 MB for 0 requests (here 200,000 rows)."""
    import tracemalloc

    from capacity.sim.traces import ReplayWindow

    path = tmp_path / "t.csv"
    path.write_text(plain_rows([100_000.0 + k / 100 for k in range(200_000)]), encoding="utf-8")
    tracemalloc.start()
    try:
        trace = read_trace(path, window=ReplayWindow(duration_s=3600.0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(trace) == 0 and trace.end_s == pytest.approx(101_999.99)
    assert peak < 2_000_000, peak                            # kept as Python lists: ~30 MB


def test_a_class_whose_trace_rows_all_fall_outside_the_window_runs_with_no_requests(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(plain_rows([1000.0 + k for k in range(50)]), encoding="utf-8")
    scenario = load_scenario(scenario_file(tmp_path, "t.csv", SCENARIO_ONE_CLASS.format(file="t.csv")))
    assert len(pipeline.read_class_trace(scenario, 0)) == 0
    assert pipeline.run(scenario).report["simulation"]["classes"]["chat"]["arrived"] == 0


def test_a_trace_class_reads_only_its_window(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(plain_rows([k / 10 for k in range(5000)]), encoding="utf-8")
    text = SCENARIO_ONE_CLASS.format(file="t.csv").replace("file: t.csv", "file: t.csv, start: 100s")
    scenario = load_scenario(scenario_file(tmp_path, "t.csv", text))
    trace = pipeline.read_class_trace(scenario, 0)
    assert len(trace) == 100 and trace.time_s[0] == 100.0 and trace.end_s == 499.9
    limited = load_scenario(scenario.source, ["limits.max_trace_rows=50"])
    with pytest.raises(ScenarioError) as err:
        pipeline.run(limited)
    assert "limits.max_trace_rows" in err.value.message and "t.csv:1052:" in err.value.message


CONTENT = "SECRETVALUE"


@pytest.mark.parametrize(("name", "content", "tenant"), [
    ("header.csv", f"{CONTENT},b,c\n1,2,3\n", None),                            # unknown format
    ("dup.csv", f"time,input_tokens,output_tokens,{CONTENT},{CONTENT}\n1,2,3,4,5\n", None),
    ("tenantcol.csv", f"time,input_tokens,output_tokens,{CONTENT}\n1,2,3,4\n", "team"),
    ("fields.csv", f"time,input_tokens,output_tokens,{CONTENT}\n1,2,3\n", None),
    ("time.csv", f"time,input_tokens,output_tokens\n{CONTENT},2,3\n", None),
    ("tokens.csv", f"time,input_tokens,output_tokens\n1,{CONTENT},3\n", None),
    ("big.csv", f"time,input_tokens,output_tokens\n1,{'9' * 30},3\n", None),
    ("label.csv", f"time,input_tokens,output_tokens,team\n1,2,3,{CONTENT}!\n", "team"),
    ("zone.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 10:00:00,1,1\n"
                 "2023-11-16 10:00:00+00:00,1,1\n", None),
    ("azure.csv", f"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-{CONTENT},1,1\n", None),
    ("latin.csv", f"time,input_tokens,output_tokens\n1,2,3\xff{CONTENT}\n", None),
    ("notgz.csv.gz", f"{CONTENT},{CONTENT}\n", None),
])
def test_trace_errors_never_echo_the_file(tmp_path, name, content, tenant):
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(TraceError) as err:
        read_trace(path, tenant_column=tenant)
    message = str(err.value)
    assert CONTENT not in message and "999999" not in message and "10:00:00" not in message, message
    assert message.startswith(f"{path}:") and "\n" not in message


def test_the_row_bound_of_an_azure_trace_counts_from_its_earliest_row(tmp_path):
    """Read relative to the first row, 20 rows fall in the window; relative to the earliest (last) row,
    none does: the bound holds for the true window only."""
    from capacity.sim.traces import ReplayWindow, RowLimitError

    header = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
    rows = [f"2023-11-16 18:10:{s:02d}.0000000,{s},1\n" for s in range(20)]
    early = "2023-11-16 18:00:00.0000000,99,1\n"
    window = ReplayWindow(duration_s=30.0)
    unsorted = write(tmp_path, header + "".join(rows) + early, "unsorted.csv")
    kept = read_trace(unsorted, window=window, max_rows=5)
    assert kept.input_tokens.tolist() == [99] and kept.end_s == 619.0
    ordered = write(tmp_path, header + "".join(rows), "sorted.csv")
    with pytest.raises(RowLimitError) as err:
        read_trace(ordered, window=window, max_rows=5)
    assert err.value.line == 7


@st.composite
def windowed_cases(draw: st.DrawFn) -> tuple[str, ReplayWindow, float]:
    """(trace CSV, a replay window, rate_scale): plain or azure, unsorted, ties, tenant column."""
    azure = draw(st.booleans())
    n = draw(st.integers(1, 40))
    seconds = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.25, 7.0, 10.0]) | st.floats(0, 20),
                            min_size=n, max_size=n))
    lines = []
    for k, s in enumerate(seconds):
        stamp = (datetime(2023, 11, 16, 18) + timedelta(microseconds=round(s * 1e6))).isoformat(" ") \
            if azure else repr(s)
        lines.append(f"{stamp},{k},{k % 3},{'xyz'[k % 3]}")
    columns = "TIMESTAMP,ContextTokens,GeneratedTokens" if azure else "time,input_tokens,output_tokens"
    header = columns + ",team"
    window = ReplayWindow(duration_s=draw(st.sampled_from([0.5, 1.0, 3.0, 5.0, 30.0])),
                          time_scale=draw(st.sampled_from([0.5, 1.0, 3.0])),
                          start_s=draw(st.sampled_from([0.0, 0.5, 2.0, 7.0, 25.0])))
    return header + "\n" + "\n".join(lines) + "\n", window, draw(st.sampled_from([0.5, 1.0, 2.3]))


@settings(deadline=None, derandomize=True, database=None, max_examples=examples(80),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=windowed_cases())
def test_a_windowed_read_replays_exactly_as_the_whole_file(tmp_path, case):
    text, window, rate_scale = case
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    full = read_trace(path, tenant_column="team")
    kept = read_trace(path, tenant_column="team", window=window)
    assert kept.end_s == full.end_s and kept.tenant_names == full.tenant_names
    scale = {"time_scale": window.time_scale, "start_s": window.start_s, "rate_scale": rate_scale}
    a = replay(full, np.random.default_rng(3), window.duration_s, **scale)
    b = replay(kept, np.random.default_rng(3), window.duration_s, **scale)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(full.input_tokens[a[1]], kept.input_tokens[b[1]])
    np.testing.assert_array_equal(full.tenant[a[1]], kept.tenant[b[1]])
