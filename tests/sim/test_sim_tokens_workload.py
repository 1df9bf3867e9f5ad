"""Token workloads: drawn token counts of synthetic classes, and fair queueing charged in tokens.

Means are checked within five standard deviations of the sample mean over several seeds; the fairness
test follows the issue: two always-backlogged tenants of weights 3 and 1 receive 75% and 25% of the
tokens served, within 2 percentage points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from capacity import pipeline
from capacity.errors import ScenarioError
from capacity.scenario import scenario_from_dict
from capacity.sim import (
    Arrivals,
    Replica,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    TokenCount,
    Tokens,
    generate_requests,
    simulate_requests,
)

SEEDS = (1, 2, 3)


def llm(queue_cost: str = "time", discipline: str = "fifo", replicas: int = 0) -> ServingService:
    return ServingService("llm", tuple(Replica(f"llm-{i}", "n", "p") for i in range(replicas)), 1,
                          ServiceTime("deterministic", 0.01), discipline=discipline, queue_cost=queue_cost)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("spec", "cv"), [
    (TokenCount("lognormal", 512.0, 1.0), 1.0), (TokenCount("exponential", 128.0), 1.0),
    (TokenCount("lognormal", 2000.0, 2.5), 2.5), (TokenCount("deterministic", 64.0, 0.0), 0.0)])
def test_token_counts_have_their_mean(seed, spec, cv):
    cls = RequestClass("c", "llm", Arrivals("poisson", 200.0), tokens=Tokens(spec, spec))
    stream = generate_requests(SimModel((llm(),), (cls,), 100.0, seed=seed))
    n = len(stream)
    for tokens in (stream.input_tokens, stream.output_tokens):
        assert tokens.dtype == np.int64 and len(tokens) == n and tokens.min() >= 1
        # rounding to whole tokens moves the mean by far less than a token
        assert abs(tokens.mean() - spec.mean) < 5 * cv * spec.mean / math.sqrt(n) + 0.5
    if cv:
        assert not np.array_equal(stream.input_tokens, stream.output_tokens)   # independent draws


def test_token_counts_are_clipped_and_seeded():
    spec = TokenCount("lognormal", 100.0, 3.0, min=10, max=400)
    cls = RequestClass("c", "llm", Arrivals("poisson", 100.0), tokens=Tokens(spec, spec))
    model = SimModel((llm(),), (cls,), 100.0, seed=4)
    stream = generate_requests(model)
    assert stream.input_tokens.min() == 10 and stream.input_tokens.max() == 400
    np.testing.assert_array_equal(generate_requests(model).input_tokens, stream.input_tokens)


def test_tokens_do_not_disturb_the_other_streams_and_classes_without_get_zero():
    tokens = Tokens(TokenCount("lognormal", 512.0), TokenCount("exponential", 64.0))
    plain = RequestClass("a", "llm", Arrivals("gamma", 30.0, cv=2.0))
    with_tokens = RequestClass("a", "llm", Arrivals("gamma", 30.0, cv=2.0), tokens=tokens)
    other = RequestClass("b", "llm", Arrivals("poisson", 10.0))
    before = generate_requests(SimModel((llm(),), (plain, other), 60.0, seed=9))
    after = generate_requests(SimModel((llm(),), (with_tokens, other), 60.0, seed=9))
    assert before.input_tokens is None and before.output_tokens is None
    np.testing.assert_array_equal(before.arrival_s, after.arrival_s)
    np.testing.assert_array_equal(before.service_s, after.service_s)
    np.testing.assert_array_equal(before.cls, after.cls)
    b = after.cls == 1
    assert np.all(after.input_tokens[b] == 0) and np.all(after.output_tokens[b] == 0)
    assert np.all(after.input_tokens[~b] >= 1)


def backlogged(discipline: str, queue_cost: str, seed: int) -> tuple[float, int]:
    """Two tenants (weights 3 and 1) that stay backlogged on one slot; their token mixes differ (web asks
    for 100 tokens on average, batch for 400). Returns web's share of the tokens served while both are
    backlogged, and the number of requests served then."""
    small = Tokens(TokenCount("lognormal", 80.0, 1.0), TokenCount("lognormal", 20.0, 1.0))
    large = Tokens(TokenCount("lognormal", 320.0, 1.0), TokenCount("lognormal", 80.0, 1.0))
    # each tenant alone would need 5 slots (500/s, 10 ms each): both always have a queue
    classes = (RequestClass("web", "llm", Arrivals("poisson", 500.0), tenant="web", weight=3.0, tokens=small),
               RequestClass("batch", "llm", Arrivals("poisson", 500.0), tenant="batch", weight=1.0,
                            tokens=large))
    model = SimModel((llm(queue_cost, discipline, replicas=1),), classes, 40.0, warmup_s=5.0, seed=seed)
    stream = generate_requests(model)
    result = simulate_requests(model, stream)
    # served while both were backlogged: started in the window [warm-up, end of arrivals)
    started = (result.start_s >= 5.0) & (result.start_s < 40.0)
    tokens = (stream.input_tokens + stream.output_tokens).astype(float)
    web = tokens[started & (stream.cls == 0)].sum()
    return float(web / tokens[started].sum()), int(np.count_nonzero(started))


@pytest.mark.parametrize("discipline", ["fair", "drr", "priority-fair"])
@pytest.mark.parametrize("seed", SEEDS)
def test_token_cost_gives_backlogged_tenants_their_weighted_share_of_tokens(discipline, seed):
    share, served = backlogged(discipline, "tokens", seed)
    assert served > 3000
    assert share == pytest.approx(0.75, abs=0.02)


def test_time_cost_shares_service_time_not_tokens():
    # the same backlog charged in seconds (every request takes 10 ms): 3:1 in requests, so web's token
    # share is 3·100 / (3·100 + 1·400) = 43%, far from 75%
    share, _ = backlogged("fair", "time", 1)
    assert share == pytest.approx(300 / 700, abs=0.03)


def test_token_cost_needs_token_counts():
    cls = RequestClass("c", "llm", Arrivals("poisson", 1.0))
    with pytest.raises(ValueError, match=r"classes\.c\.tokens: service llm charges tokens"):
        generate_requests(SimModel((llm("tokens", "fair"),), (cls,), 10.0))
    tokens = Tokens(TokenCount("exponential", 5.0), TokenCount("exponential", 5.0))
    bad = RequestClass("c", "llm", Arrivals("poisson", 1.0), tokens=Tokens(TokenCount("gamma", 5.0),  # type: ignore[arg-type]
                                                                           tokens.output))
    with pytest.raises(ValueError, match=r"classes\.c\.tokens\.input\.dist"):
        generate_requests(SimModel((llm(),), (bad,), 10.0))


def scenario(cls: dict, queue: dict | None = None) -> dict:
    return {
        "name": "tokens", "seed": 2,
        "cluster": {"pools": [{"name": "gpu", "count": 1, "resources": {"cpu": 16}}]},
        "services": [{"name": "llm", "replicas": 2, "resources": {"cpu": 4},
                      "serving": {"concurrency": 4, "service_time": {"dist": "lognormal", "mean": "1s"},
                                  "queue": queue or {"discipline": "fair", "cost": "tokens"}}}],
        "workload": {"duration": "2m", "warmup": "10s", "classes": [cls]},
    }


def test_a_token_workload_runs_end_to_end():
    cls = {"name": "chat", "service": "llm", "tenant": "web", "arrivals": {"rate": "4/s"},
           "tokens": {"input": {"dist": "lognormal", "mean": 512, "cv": 1.5, "max": 8192},
                      "output": {"mean": 128}}}
    result = pipeline.run(scenario_from_dict(scenario(cls)))
    chat = result.model.classes[0]
    assert chat.tokens == Tokens(TokenCount("lognormal", 512.0, 1.5, 1, 8192),
                                 TokenCount("exponential", 128.0))
    assert result.model.services[0].queue_cost == "tokens"
    stats = result.report["simulation"]["classes"]["chat"]
    assert stats["arrived"] > 0 and stats["completed"] == stats["arrived"]
    assert result.report["simulation"]["tenants"]["web"]["latency_s"]["p50"] > 0


@pytest.mark.parametrize(("cls", "queue", "path", "words"), [
    ({"tokens": {"input": {"mean": 5}, "output": {"mean": 0}}}, None,
     "workload.classes.chat.tokens.output.mean", "greater than 0"),
    ({"tokens": {"input": {"mean": 5, "cv": 2}, "output": {"mean": 5}}}, None,
     "workload.classes.chat.tokens.input.cv", "use dist: lognormal"),
    ({"tokens": {"input": {"mean": 5, "min": 10, "max": 5}, "output": {"mean": 5}}}, None,
     "workload.classes.chat.tokens.input.max", "at least min"),
    ({"tokens": {"input": {"mean": 5}}}, None, "workload.classes.chat.tokens.output", "required field"),
    ({}, None, "workload.classes.chat.tokens", "needs token counts"),
    ({"tokens": {"input": {"mean": 5}, "output": {"mean": 5}}}, {"discipline": "fifo", "cost": "tokens"},
     "services.llm.serving.queue.cost", "applies to the fair disciplines"),
    ({"tokens": {"input": {"mean": 5}, "output": {"mean": 5}}}, {"discipline": "fair", "cost": "bytes"},
     "services.llm.serving.queue.cost", "'tokens'"),
])
def test_bad_token_fields_are_refused(cls, queue, path, words):
    base = {"name": "chat", "service": "llm", "arrivals": {"rate": "4/s"}, **cls}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(scenario(base, queue))
    assert err.value.path == path, err.value.one_line()
    assert words in err.value.message, err.value.one_line()
