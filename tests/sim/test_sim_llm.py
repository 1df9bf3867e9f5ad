"""The LLM engine batcher (`capacity.sim.llm_batching`) against closed forms: the KV capacity of the formula,
a lone request's TTFT and end-to-end time as sums of roofline iterations, preemption without loss when the
KV cache is too small, and chunked against unchunked prefill."""

from __future__ import annotations

import math

import numpy as np
import pytest

from capacity.llm import GPUS, MODELS, LlmEngine, kv_bytes_per_token, weight_bytes
from capacity.llm.kv_cache import activation_reserve_bytes
from capacity.sim import (
    Arrivals,
    Batching,
    Failure,
    LlmServing,
    RequestClass,
    ServiceTime,
    ServingService,
    SimModel,
    TokenCount,
    Tokens,
    simulate_model,
    simulate_requests,
)
from capacity.sim.histogram import itl_bin, itl_quantiles

from . import builders

LLAMA = MODELS["llama-3-8b"]
H100 = GPUS["h100-sxm"]
SPEC = Tokens(TokenCount("deterministic", 100.0), TokenCount("deterministic", 10.0))


def service(llm: LlmServing | None = None, replicas: int = 1, gpus: tuple[object, ...] | None = None,
            **options: object) -> ServingService:
    """``chat``: replicas of an LLM engine (Llama 3 8B on H100 unless given), one per node."""
    return builders.service(replicas, name="chat", dist=ServiceTime("tokens"), node="node-{k}", pool="gpu",
                            gpus=gpus or (H100,) * replicas, batching=Batching(mode="llm", max_size=256),
                            llm=llm or LlmServing(model=LLAMA), **options)


def replay(svc: ServingService, arrivals: list[float], inputs: list[int], outputs: list[int],
           duration: float = 1000.0, failures: tuple[Failure, ...] = ()):
    chat = RequestClass("c", "chat", Arrivals("poisson", 1.0), tokens=SPEC)
    requests = builders.stream(arrivals, [0.0] * len(arrivals), input_tokens=inputs, output_tokens=outputs)
    return simulate_requests(builders.model(svc, *failures, classes=(chat,), duration=duration), requests)


def test_kv_capacity_is_the_formula() -> None:
    r = replay(service(LlmServing(model=LLAMA, tensor_parallel=2)), [0.0], [10], [2])
    per_gpu_budget = math.floor(H100.usable_memory * 0.9)
    reserve = activation_reserve_bytes(LLAMA, 2, "bf16")
    weights = weight_bytes(LLAMA, "bf16")
    # (GPU memory × utilisation × TP − weights − activation reserve) / KV bytes per token, whole blocks of 16
    per_token = kv_bytes_per_token(LLAMA, "bf16")
    tokens = (per_gpu_budget * 2 - math.ceil(weights / 2) * 2 - reserve * 2) / per_token
    assert r.llm[0].kv_capacity_tokens == [int(tokens // 16) * 16]
    assert r.llm[0].gpus == [2]


@pytest.mark.parametrize("chunked", [True, False])
def test_a_lone_request_takes_the_roofline_sums(chunked: bool) -> None:
    prompt, out = 700, 40
    r = replay(service(LlmServing(model=LLAMA, chunked_prefill=chunked)), [3.0], [prompt], [out])
    engine = LlmEngine.from_spec(LLAMA, H100)
    prefill = engine.prefill_time(prompt)
    decodes = [engine.decode_step_time(1, prompt + k - 1) for k in range(1, out)]
    assert r.first_token_s[0] == pytest.approx(3.0 + prefill, rel=1e-12)
    assert r.end_s[0] == pytest.approx(3.0 + prefill + math.fsum(decodes), rel=1e-12)
    assert r.tpot_s[0] == pytest.approx(math.fsum(decodes) / (out - 1), rel=1e-9)
    assert r.llm[0].output_tokens == [out] and r.llm[0].preemptions == [0]


def test_a_prompt_longer_than_the_token_budget_is_prefilled_in_chunks() -> None:
    llm = LlmServing(model=LLAMA, max_num_batched_tokens=512)
    r = replay(service(llm), [0.0], [1200], [1])
    engine = LlmEngine.from_spec(LLAMA, H100, max_num_batched_tokens=512)
    chunks = [engine.iteration_time((), [(512, 0)]), engine.iteration_time((), [(512, 512)]),
              engine.iteration_time((), [(176, 1024)])]
    assert r.first_token_s[0] == pytest.approx(math.fsum(chunks), rel=1e-12)
    assert r.end_s[0] == r.first_token_s[0]          # one output token: the first


def test_a_kv_cache_too_small_preempts_and_loses_nothing() -> None:
    # a GPU with just enough memory for the weights and ~2,000 tokens of KV, and 40 requests of 300 tokens
    # that each grow to 500: they cannot all run at once
    small = H100.model_copy(update={"name": "small", "usable_memory_bytes": None,
                                    "memory_bytes": int((16.1e9 + 3.3e9 + 2000 * 131072) / 0.9)})
    n = 40
    r = replay(service(gpus=(small,)), [0.001 * k for k in range(n)], [300] * n, [200] * n)
    rec = r.llm[0]
    assert rec.kv_capacity_tokens[0] < 4000
    assert rec.preemptions[0] > 0
    assert np.all(r.replica >= 0)                     # every request completed
    assert rec.output_tokens == [n * 200]            # and produced all its tokens, once
    assert np.all(r.end_s > r.first_token_s)


def test_a_request_longer_than_the_kv_cache_is_rejected() -> None:
    small = H100.model_copy(update={"name": "small", "usable_memory_bytes": None,
                                    "memory_bytes": int((16.1e9 + 3.3e9 + 2000 * 131072) / 0.9)})
    r = replay(service(gpus=(small,)), [0.0, 0.0], [100, 5000], [10, 10])
    assert r.replica.tolist() == [0, -1]


def test_chunked_prefill_does_not_stall_decodes_and_unchunked_does() -> None:
    # 20 short chats decoding, then a 6,000-token prompt arrives
    arrivals = [0.0] * 20 + [0.5]
    inputs = [200] * 20 + [6000]
    outputs = [300] * 20 + [20]
    results = {}
    for chunked in (True, False):
        llm = LlmServing(model=LLAMA, chunked_prefill=chunked,
                         max_num_batched_tokens=512 if chunked else 8192)
        results[chunked] = replay(service(llm), arrivals, inputs, outputs)
    itl = {k: np.max(itl_quantiles(np.asarray(r.llm[0].itl[0]), (1.0,))) for k, r in results.items()}
    engine = LlmEngine.from_spec(LLAMA, H100)
    # unchunked: the decodes wait for the whole 6,000-token prefill, chunked: for one 512-token chunk at most
    assert itl[False] >= engine.prefill_time(6000) * 0.98
    assert itl[True] < engine.iteration_time([700] * 20, [(492, 5508)]) * 1.03
    # TPOT of the short chats is better chunked; the long prompt's TTFT is better unchunked
    short = slice(0, 20)
    assert np.max(results[True].tpot_s[short]) < np.max(results[False].tpot_s[short])
    assert results[True].ttft_s[20] > results[False].ttft_s[20]


def test_speed_follows_the_gpu_of_the_pool() -> None:
    r = replay(service(replicas=2, gpus=(H100, GPUS["a100-80gb-sxm"]), routing="round-robin"),
               [0.0, 0.0], [500, 500], [50, 50])
    e2e = r.end_s - r.arrival_s
    by_replica = dict(zip(r.replica.tolist(), e2e.tolist(), strict=True))
    assert by_replica[0] < by_replica[1]             # the H100 replica is faster than the A100 one
    assert r.llm[0].kv_blocks[0] != r.llm[0].kv_blocks[1]


def test_a_failed_engine_retries_its_requests_elsewhere() -> None:
    svc = service(replicas=2)
    r = replay(svc, [0.0] * 10, [300] * 10, [500] * 10, failures=(Failure(at_s=0.5, nodes=("node-0",)),))
    assert np.all(r.replica == 1)
    assert r.llm[0].output_tokens[0] > 0             # engine 0 had produced tokens before it failed
    assert r.llm[0].output_tokens[1] == 10 * 500      # the retried requests start over on engine 1


def test_poisson_load_is_deterministic_and_complete() -> None:
    spec = Tokens(TokenCount("lognormal", 600.0, 1.0, max=4000),
                  TokenCount("lognormal", 150.0, 1.0, max=1000))
    model = SimModel((service(),), (RequestClass("c", "chat", Arrivals("poisson", 8.0), tokens=spec),),
                     duration_s=60.0, warmup_s=10.0, seed=3)
    a, b = simulate_model(model), simulate_model(model)
    assert np.array_equal(a.end_s, b.end_s, equal_nan=True)
    assert np.all(a.replica >= 0)
    # every output token is an iteration's: the tokens generated in the window match the requests' counts
    assert a.llm[0].output_tokens[0] > 0


def test_itl_histogram_quantiles_are_within_the_bin_width() -> None:
    counts = np.zeros(1000, dtype=np.int64)
    for gap in (0.010, 0.011, 0.012, 0.5):
        counts[itl_bin(gap)] += 1
    p50, p100 = itl_quantiles(counts, (0.5, 1.0))
    assert p50 == pytest.approx(0.011, rel=0.012)
    assert p100 == pytest.approx(0.5, rel=0.012)


def test_the_summary_reports_token_timings_slos_and_the_engines() -> None:
    from capacity.report.model import ClassStats, ReplicaStats, ServiceStats
    from capacity.sim import TokenSlo, summarize

    spec = Tokens(TokenCount("lognormal", 600.0, 1.0, max=4000),
                  TokenCount("lognormal", 150.0, 1.0, max=1000))
    slos = (TokenSlo("ttft", 0.2, 0.99), TokenSlo("tpot", 0.02, 0.99))
    model = SimModel((service(replicas=2),),
                     (RequestClass("c", "chat", Arrivals("poisson", 12.0), tokens=spec, slo_target_s=60.0,
                                   slo_quantile=0.95, token_slos=slos),),
                     duration_s=60.0, warmup_s=10.0, seed=5)
    result = simulate_model(model)
    report = summarize(model, result)
    c = ClassStats.model_validate(report["classes"]["c"])
    assert c.tpot_s is not None and c.itl_s is not None and c.slos is not None
    assert c.slos.ttft is not None and c.slos.tpot is not None and c.slos.latency is not None
    # goodput: the requests within every target; at most those within each one
    measured = result.measured & (result.replica >= 0)
    ok = (measured & (result.latency_s <= 60.0) & (result.ttft_s <= 0.2)
          & ((result.tpot_s <= 0.02) | np.isnan(result.tpot_s)))
    assert c.goodput_per_s == pytest.approx(np.count_nonzero(ok) / 50.0)
    # the mean inter-token latency over all gaps is the TPOTs weighted by their gaps
    out = result.output_tokens[measured & (result.output_tokens >= 2)]
    tpot = result.tpot_s[measured & (result.output_tokens >= 2)]
    assert c.itl_s.mean == pytest.approx(float(np.sum(tpot * (out - 1)) / np.sum(out - 1)), rel=1e-9)
    assert c.itl_s.p50 <= c.itl_s.p99 <= c.itl_s.max * 1.012
    s = ServiceStats.model_validate(report["services"]["chat"])
    assert s.llm is not None
    assert s.llm.output_tokens_per_s == pytest.approx(sum(result.llm[0].output_tokens) / 50.0)
    assert s.llm.output_tokens_per_s_per_gpu == pytest.approx(s.llm.output_tokens_per_s / 2)
    assert 0 < s.llm.kv_utilisation < 1
    assert len(s.llm.kv_utilisation_over_time) == 60
    r = ReplicaStats.model_validate(report["replicas"]["chat-0"])
    assert r.llm is not None and r.llm.gpu == "h100-sxm"
