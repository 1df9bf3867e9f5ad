"""Roofline iteration times: a lone request's prefill and decode equal the sums worked out by hand here, and
the model behaves as physics says (more work is never faster, more GPUs never read more per GPU)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from capacity.llm import GPUS, MODELS, Efficiency, LlmEngine, Roofline

from ..conftest import examples

EFF = Efficiency()


def test_lone_prefill_equals_the_roofline_sum_by_hand() -> None:
    # Llama-3-8B, bf16, one H100, a 2048-token prompt: compute-bound GEMMs plus attention.
    h, layers, vocab, inter = 4096, 32, 128256, 14336
    layer = (h * h + 2 * h * 1024 + h * h) + 2 * h + 3 * h * inter          # attention, norms, MLP
    n = 2048
    linear_flops = 2 * (layers * layer * n + vocab * h)                     # LM head for one sequence
    weights = (layers * layer + vocab * h) * 2
    linear = max(linear_flops / (989.4e12 * EFF.compute), weights / (3.35e12 * EFF.memory))
    pairs = n * (n + 1) / 2
    attention = max(4 * layers * 32 * 128 * pairs / (989.4e12 * EFF.compute),
                    2 * n * 131_072 / (3.35e12 * EFF.memory))                # writes n, reads n
    expected = linear + attention + EFF.overhead_s
    roofline = Roofline(MODELS["llama-3-8b"], GPUS["h100-sxm"])
    assert roofline.prefill_time(n) == pytest.approx(expected, rel=1e-12)
    assert linear_flops / (989.4e12 * EFF.compute) > weights / (3.35e12 * EFF.memory)   # compute-bound


def test_lone_decode_step_on_two_gpus_equals_the_roofline_sum_by_hand() -> None:
    # Llama-3-70B, bf16, TP 2 on H100, one request with 1000 cached tokens: memory-bound plus all-reduces.
    h, layers, vocab, inter, tp = 8192, 80, 128256, 28672, 2
    layer = (h * h + 2 * h * 1024 + h * h) + 2 * h + 3 * h * inter
    flops = 2 * (layers * layer + vocab * h) / tp
    weights = (layers * layer + vocab * h) * 2 / tp
    linear = max(flops / (989.4e12 * EFF.compute), weights / (3.35e12 * EFF.memory))
    kv_per_token = 2 * layers * (8 // tp) * 128 * 2
    attention = max(4 * layers * (64 / tp) * 128 * 1001 / (989.4e12 * EFF.compute),
                    kv_per_token * (1001 + 1) / (3.35e12 * EFF.memory))
    allreduce = 2 * layers * (EFF.allreduce_latency_s
                              + 2 * (tp - 1) / tp * h * 2 / (450e9 * EFF.interconnect))
    expected = linear + attention + allreduce + EFF.overhead_s
    engine = LlmEngine.from_spec("llama-3-70b", "h100-sxm", tp=2)
    assert engine.decode_step_time(1, 1000) == pytest.approx(expected, rel=1e-12)
    assert engine.iteration_time([1000]) == pytest.approx(expected, rel=1e-12)
    assert weights / (3.35e12 * EFF.memory) > flops / (989.4e12 * EFF.compute)       # memory-bound


def test_an_empty_batch_takes_no_time() -> None:
    assert Roofline(MODELS["llama-3-8b"], GPUS["l4"]).iteration_time() == 0.0


def test_a_batch_of_decodes_equals_the_step_at_their_mean_context() -> None:
    roofline = Roofline(MODELS["qwen2.5-7b"], GPUS["l40s"])
    assert roofline.iteration_time([100, 300, 800]) == pytest.approx(roofline.decode_step_time(3, 400))


def test_moe_reads_only_the_experts_its_tokens_use() -> None:
    roofline = Roofline(MODELS["mixtral-8x7b"], GPUS["h100-sxm"], tp=2)
    assert roofline.experts_touched(1) == pytest.approx(2.0)
    assert roofline.experts_touched(8) == pytest.approx(8 * (1 - 0.75**8))
    assert roofline.experts_touched(10_000) == pytest.approx(8.0)


def test_fp8_weights_use_the_fp8_peak_and_halve_the_layers_bytes() -> None:
    bf16 = Roofline(MODELS["llama-3-8b"], GPUS["h100-sxm"])
    fp8 = Roofline(MODELS["llama-3-8b"], GPUS["h100-sxm"], dtype="fp8")
    assert fp8.linear_rate == pytest.approx(1978.9e12 * EFF.compute_fp8)
    assert fp8.dense_weight_bytes + fp8.expert_bytes < 0.6 * (bf16.dense_weight_bytes + bf16.expert_bytes)
    assert fp8.kv_bytes_per_token == bf16.kv_bytes_per_token                   # kv auto stays 16-bit


contexts = st.lists(st.integers(0, 32_000), max_size=64)
chunks = st.lists(st.tuples(st.integers(1, 8192), st.integers(0, 32_000)), max_size=4)
engines = st.sampled_from([("llama-3-8b", "h100-sxm", 1), ("llama-3-70b", "a100-80gb-sxm", 4),
                           ("mixtral-8x7b", "mi300x", 2), ("qwen2.5-7b", "l4", 1)])


@settings(max_examples=examples(150), deadline=None)
@given(spec=engines, decodes=contexts, prefills=chunks, extra_context=st.integers(0, 4096),
       extra_tokens=st.integers(1, 512), extra_decode=st.integers(0, 32_000))
def test_more_work_is_never_faster(spec: tuple[str, str, int], decodes: list[int],
                                   prefills: list[tuple[int, int]], extra_context: int, extra_tokens: int,
                                   extra_decode: int) -> None:
    roofline = Roofline(MODELS[spec[0]], GPUS[spec[1]], spec[2])
    base = roofline.iteration_time(decodes, prefills)
    assert roofline.iteration_time([*decodes, extra_decode], prefills) >= base
    assert roofline.iteration_time([c + extra_context for c in decodes], prefills) >= base
    longer = [(n + extra_tokens, p) for n, p in prefills]
    assert roofline.iteration_time(decodes, longer) >= base
    assert roofline.iteration_time(decodes, [*prefills, (extra_tokens, extra_context)]) >= base


@settings(max_examples=examples(60), deadline=None)
@given(model=st.sampled_from(["llama-3-8b", "llama-3-70b", "qwen2.5-72b", "mixtral-8x7b"]),
       gpu=st.sampled_from(sorted(GPUS)), batch=st.integers(1, 512), context=st.integers(0, 32_000))
def test_more_tensor_parallelism_never_reads_more_per_gpu(model: str, gpu: str, batch: int,
                                                          context: int) -> None:
    def memory_seconds(tp: int) -> float:
        r = Roofline(MODELS[model], GPUS[gpu], tp)
        weights = r.dense_weight_bytes + r.experts_touched(batch) * r.expert_bytes
        return (weights + r.kv_bytes_per_token * batch * (context + 2)) / r.memory_rate

    times = [memory_seconds(tp) for tp in (1, 2, 4, 8)]
    assert all(b <= a for a, b in itertools.pairwise(times))


def test_efficiencies_are_fractions_and_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        Efficiency(memory=1.5)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Efficiency.model_validate({"memroy": 0.8})
