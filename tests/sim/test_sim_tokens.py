"""Token service times, time to first token, continuous batching, and batching scenarios end to end.

Hand traces use binary fractions so every time is exact in floating point (compared with ``==``).
Token model of the hand traces: base 0.5 s, 1/16 s per input token, 0.25 s per output token.
"""

from __future__ import annotations

import numpy as np
import pytest

from capacity import pipeline, theory
from capacity.errors import ScenarioError
from capacity.scenario import scenario_from_dict
from capacity.sim import (
    Arrivals,
    Batching,
    Failure,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    TokenCount,
    Tokens,
    simulate_model,
    simulate_requests,
)
from capacity.sim.metrics import mean_in_system

from .builders import model, service, stream

TOKENS = ServiceTime("tokens", base_s=0.5, per_input_token_s=0.0625, per_output_token_s=0.25)
SPEC = Tokens(TokenCount("deterministic", 100.0), TokenCount("deterministic", 10.0))


def llm(*, replicas: int = 1, slots: int = 1, speeds: tuple[float, ...] = (),
        batching: Batching | None = None, **options: object) -> ServingService:
    return service(replicas, slots, name="llm", dist=TOKENS, node="node-{k}", pool="gpu", speeds=speeds,
                   batching=batching, **options)


def run(svc: ServingService, arrivals: list[float], inputs: list[int], outputs: list[int],
        failures: tuple[Failure, ...] = ()):
    chat = RequestClass("chat", "llm", Arrivals("poisson", 1.0), tokens=SPEC)
    # the given service times are ignored: a token service computes them from the token counts
    requests = stream(arrivals, [123.0] * len(arrivals), input_tokens=inputs, output_tokens=outputs)
    return simulate_requests(model(svc, *failures, classes=(chat,), duration=100.0), requests)


# ------------------------------------------------------------------------------ token service time, TTFT

@pytest.mark.parametrize("options", [{}, {"routing": "round-robin", "discipline": "fair"}])
def test_token_service_time_and_first_token(options: dict[str, object]) -> None:
    r = run(llm(**options), [0.0, 0.25, 3.0], [8, 4, 16], [3, 1, 0])
    # 0: 0.5 + 8/16 + 3·0.25 = 1.75; first token after the prefill (1.0) and one step: 1.25
    # 1: starts at 1.75, takes 0.5 + 4/16 + 0.25 = 1.0; its only token is its first, at 2.75
    # 2: no output token: 0.5 + 16/16 = 1.5, and no first token
    assert r.service_s.tolist() == [1.75, 1.0, 1.5]
    assert r.start_s.tolist() == [0.0, 1.75, 3.0]
    assert r.end_s.tolist() == [1.75, 2.75, 4.5]
    assert r.first_token_s[:2].tolist() == [1.25, 2.75]
    assert np.isnan(r.first_token_s[2])
    assert r.ttft_s[:2].tolist() == [1.25, 2.5]
    assert r.input_tokens.tolist() == [8, 4, 16] and r.output_tokens.tolist() == [3, 1, 0]


def test_token_service_on_a_half_speed_pool_takes_twice_as_long() -> None:
    r = run(llm(speeds=(0.5,)), [0.0, 0.25], [8, 4], [3, 1])
    assert r.end_s.tolist() == [3.5, 5.5]
    assert r.first_token_s.tolist() == [2.5, 5.5]


# ------------------------------------------------------------------------------ continuous batching

def test_continuous_batching_hand_trace() -> None:
    svc = llm(batching=Batching("continuous", max_size=2, step_growth=0.5))
    r = run(svc, [0.0, 0.25, 0.25], [8, 4, 0], [3, 1, 2])
    # 0    : 0 joins the idle engine: prefill 0.5 + 8/16 = 1.0 (to 1.0)
    # 1.0  : 0 runs; 1 joins (the batch holds 2 at most, so 2 waits): prefill of 1, 0.5 + 4/16 (to 1.75)
    # 1.75 : decode step of {0, 1}: 0.25 · (1 + 0.5 · 1) = 0.375 (to 2.125): first tokens of 0 and 1;
    #        1 has its only token and leaves
    # 2.125: 2 joins: prefill 0.5 (to 2.625); then steps of {0, 2} of 0.375: to 3.0 (2's first token)
    #        and 3.375, where 0 has its 3 tokens and 2 its 2: both leave
    assert r.start_s.tolist() == [0.0, 1.0, 2.125]
    assert r.first_token_s.tolist() == [2.125, 2.125, 3.0]
    assert r.end_s.tolist() == [3.375, 2.125, 3.375]
    # the engine ran without a break from 0 to 3.375: one slot busy, shared by the requests running
    assert r.busy_s.tolist() == [3.375]
    assert r.busy_request_s.tolist() == [1.0 + 3 * 0.1875, 0.75 + 0.1875, 0.5 + 2 * 0.1875]


def test_continuous_batching_alone_matches_the_plain_token_time() -> None:
    arrivals, inputs, outputs = [0.0, 10.0, 20.0], [8, 0, 24], [3, 5, 1]
    for speed in (1.0, 0.5):
        alone = run(llm(speeds=(speed,), batching=Batching("continuous", max_size=8, step_growth=1.0)),
                    arrivals, inputs, outputs)
        plain = run(llm(speeds=(speed,)), arrivals, inputs, outputs)
        assert alone.end_s.tolist() == plain.end_s.tolist()
        assert alone.first_token_s.tolist() == plain.first_token_s.tolist()


def test_continuous_engines_share_the_queue_and_grow_their_steps() -> None:
    # two engines on one replica: 1 goes to the idle engine, not into 0's batch
    svc = llm(slots=2, batching=Batching("continuous", max_size=4))
    r = run(svc, [0.0, 0.125], [0, 0], [2, 2])
    assert r.end_s.tolist() == [1.0, 1.125]                    # 0.5 + 2 · 0.25 each, side by side
    assert r.busy_s.tolist() == [2.0]
    # one engine: 1 joins 0's batch after 0's prefill; with step_growth 1 a step of 2 takes 0.5
    svc = llm(batching=Batching("continuous", max_size=4, step_growth=1.0))
    r = run(svc, [0.0, 0.125], [0, 0], [2, 2])
    # 0: prefill to 0.5; 1: prefill 0.5 to 1.0; steps of {0, 1}: 1.0-1.5, 1.5-2.0: both done at 2.0
    assert r.first_token_s.tolist() == [1.5, 1.5]
    assert r.end_s.tolist() == [2.0, 2.0]


def test_a_failure_retries_a_running_request_elsewhere() -> None:
    svc = llm(replicas=2, batching=Batching("continuous", max_size=4))
    # 0 and 1 arrive together: each to an idle engine, fewest running first, ties to the lowest slot
    # (0 on replica 0, 1 on replica 1); each: prefill 0.5, then steps of 0.25 (first token at 0.75).
    # node-0 fails at 1.125: 0 loses its progress and is retried; replica 1 is mid-step, so 0 joins at
    # its next boundary, 1.25: prefill 1.25-1.75 (1 pauses), then steps of {0, 1}: 1 has its 4th token
    # at 2.0; 0 its first at 2.0 and its 4th at 2.75.
    r = run(svc, [0.0, 0.0], [0, 0], [4, 4], failures=(Failure(1.125, ("node-0",)),))
    assert r.retried.tolist() == [True, False]
    assert r.replica.tolist() == [1, 1]
    assert r.start_s.tolist() == [0.0, 0.0]                    # a retried request keeps its first start
    assert r.first_token_s.tolist() == [2.0, 0.75]
    assert r.end_s.tolist() == [2.75, 2.0]
    assert r.busy_s.tolist() == [1.125, 2.75]


# Little's law on a continuous-batching run with replicas of two speeds and least-outstanding routing.
def test_littles_law_on_a_continuous_batching_run() -> None:
    tokens = Tokens(TokenCount("lognormal", 200.0, 1.0), TokenCount("lognormal", 40.0, 1.0))
    svc = ServingService("llm", tuple(Replica(f"llm-{i}", f"n{i}", "gpu", speed=(1.0, 0.5)[i % 2])
                                      for i in range(4)), 1,
                         ServiceTime("tokens", base_s=0.01, per_input_token_s=0.0002,
                                     per_output_token_s=0.02),
                         batching=Batching("continuous", max_size=16, step_growth=0.05),
                         routing="least-outstanding")
    m = SimModel((svc,), (RequestClass("chat", "llm", Arrivals("poisson", 12.0), tokens=tokens),),
                 duration_s=600.0, warmup_s=20.0, seed=2)
    r = simulate_model(m)
    lo, hi = r.window_s
    measured = r.measured
    lam = np.count_nonzero(measured) / (hi - lo)
    w = float(r.latency_s[measured].mean())
    # sojourns of ~1 s in a 580 s window: edge effects of order 1e-3
    assert mean_in_system(r, lo, hi) == pytest.approx(theory.littles_law_l(lam, w), rel=0.01)
    assert np.all(r.first_token_s[measured] > r.start_s[measured])
    assert np.all(r.first_token_s[measured] <= r.end_s[measured])
    # the slow replicas serve fewer requests under least-outstanding routing
    assert r.served[1] < r.served[0] and r.served[3] < r.served[2]
    assert r.busy_s.sum() == pytest.approx(r.busy_request_s.sum(), rel=1e-9)


# ------------------------------------------------------------------------------ scenarios end to end

def document(**serving: object) -> dict:
    return {
        "name": "llm-and-ranker", "seed": 5,
        "cluster": {"pools": [
            {"name": "h100", "count": 2, "resources": {"cpu": 32, "gpu": 8}},
            {"name": "a10", "count": 2, "resources": {"cpu": 32, "gpu": 8}, "speed": 0.5},
            {"name": "cpu", "count": 2, "resources": {"cpu": 16}}]},
        "services": [
            {"name": "llm", "replicas": 4, "resources": {"cpu": 8, "gpu": 8}, "pools": ["h100", "a10"],
             "serving": {"service_time": {"base": "10ms", "per_input_token": "0.2ms",
                                          "per_output_token": "20ms"},
                         "batching": {"mode": "continuous", "max_size": 16, "step_growth": 0.05},
                         "routing": "least-outstanding", **serving}},
            {"name": "ranker", "replicas": 2, "resources": {"cpu": 4}, "pools": ["cpu"],
             "serving": {"concurrency": 2, "service_time": {"base": "8ms", "per_item": "1ms"},
                         "batching": {"max_size": 8, "max_delay": "4ms"}}}],
        "workload": {"duration": "60s", "warmup": "5s", "classes": [
            {"name": "chat", "service": "llm", "arrivals": {"rate": "4/s"},
             "tokens": {"input": {"dist": "lognormal", "mean": 300, "cv": 1},
                        "output": {"dist": "lognormal", "mean": 60, "cv": 1}}},
            {"name": "rank", "service": "ranker", "arrivals": {"rate": "400/s"}, "slo": {"p99": "50ms"}}]},
    }


def test_a_batching_scenario_runs_end_to_end() -> None:
    run_ = pipeline.run(scenario_from_dict(document()))
    model, result, report = run_.model, run_.sim_result, run_.report
    llm_, ranker = model.services
    assert llm_.batching == Batching("continuous", max_size=16, step_growth=0.05)
    assert ranker.batching == Batching("dynamic", max_size=8, max_delay_s=0.004)
    assert ranker.service_time == ServiceTime("deterministic", 0.001, 0.0, base_s=0.008)
    assert sorted(r.speed for r in llm_.replicas) == [0.5, 0.5, 1.0, 1.0]
    classes = report["simulation"]["classes"]
    for name in ("chat", "rank"):
        c = classes[name]
        assert c["arrived"] > 0 and c["completed"] == c["arrived"]
    chat = result.cls == 0
    assert np.all(result.first_token_s[chat] > result.start_s[chat])
    assert np.all(np.isnan(result.first_token_s[~chat]))
    # a ranker batch takes 8 ms + 1 ms per request: every ranker latency is at least 9 ms
    assert np.nanmin(result.latency_s[~chat]) >= 0.009 - 1e-12
    for name, r in report["simulation"]["replicas"].items():
        assert 0.0 < r["utilisation"] <= 1.0, name
    # same scenario and seed, same result
    again = pipeline.run(scenario_from_dict(document())).sim_result
    assert np.array_equal(again.end_s, result.end_s, equal_nan=True)


@pytest.mark.parametrize(("change", "path", "message"), [
    (lambda d: d["services"][1]["serving"].pop("batching"), "services.ranker.serving.service_time.per_item",
     "needs dynamic batching"),
    (lambda d: d["services"][1]["serving"]["batching"].update(mode="continuous"),
     "services.ranker.serving.batching.mode", "needs a token service time"),
    (lambda d: d["services"][0]["serving"]["batching"].update(mode="dynamic"),
     "services.llm.serving.batching.mode", "needs a batch latency"),
    (lambda d: d["services"][1]["serving"]["batching"].update(step_growth=0.1),
     "services.ranker.serving.batching.step_growth", "applies to mode continuous"),
    (lambda d: d["services"][1]["serving"]["service_time"].update(mean="5ms"),
     "services.ranker.serving.service_time", "not mean"),
    (lambda d: d["services"][0]["serving"]["service_time"].update(dist="lognormal"),
     "services.llm.serving.service_time", "'dist' does not apply to a token service time"),
    (lambda d: d["workload"]["classes"][0].pop("tokens"), "workload.classes.chat.tokens",
     "has a token service time"),
    (lambda d: d["cluster"]["pools"][1].update(speed=0), "cluster.pools.a10.speed", "greater than 0"),
    (lambda d: d["services"][0]["serving"].update(queue={"discipline": "preemptive"}),
     "services.llm.serving.queue.discipline", "cannot use the preemptive discipline"),
    (lambda d: d["services"][1]["serving"]["batching"].update(max_size=0),
     "services.ranker.serving.batching.max_size", "greater than or equal to 1"),
])
def test_bad_batching_scenarios_are_refused_with_the_field(change, path: str, message: str) -> None:
    doc = document()
    change(doc)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(doc)
    assert err.value.path == path
    assert message in str(err.value)
