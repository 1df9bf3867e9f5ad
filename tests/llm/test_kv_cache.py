"""KV cache: bytes per token and a replica's capacity, checked against the closed form and against vLLM's
own memory profile (PR #10511)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capacity.llm import GPUS, MODELS, ModelDoesNotFit, kv_bytes_per_token, memory_budget, weight_bytes
from capacity.llm.errors import LlmError
from capacity.llm.gpus import GiB
from capacity.llm.kv_cache import activation_reserve_bytes

from ..conftest import examples


def test_llama_3_8b_caches_131072_bytes_a_token_in_bf16_and_half_in_fp8() -> None:
    llama = MODELS["llama-3-8b"]
    assert kv_bytes_per_token(llama, "bf16") == 2 * 32 * 8 * 128 * 2 == 131_072
    assert kv_bytes_per_token(llama, "fp8") == 65_536


def test_capacity_is_the_formula_in_whole_blocks() -> None:
    llama, h100 = MODELS["llama-3-70b"], GPUS["h100-sxm"]
    tp, reserve = 4, 3 * GiB
    budget = memory_budget(llama, h100, tp, reserve_bytes=reserve)
    weights = weight_bytes(llama, "bf16")
    per_token = kv_bytes_per_token(llama, "bf16")
    # (GPU memory × utilisation × TP − weights − activation reserve) / bytes per token, in blocks of 16
    budget_per_gpu = math.floor(h100.usable_memory * 0.9)
    tokens = (budget_per_gpu * tp - math.ceil(weights / tp) * tp - reserve * tp) / per_token
    assert budget.tokens == int(tokens // 16) * 16
    assert budget.kv_bytes_per_token * tp == per_token


def test_reproduces_vllm_memory_profile_of_llama_3_8b_on_h100() -> None:
    # vLLM PR #10511: total 79.22GiB × 0.90 = 71.29GiB; weights 14.96GiB; non_torch 1.79GiB; activation peak
    # 1.26GiB; available_kv_cache_memory 53.29GiB
    llama = MODELS["llama-3-8b"]
    budget = memory_budget(llama, GPUS["h100-sxm"], 1)
    assert budget.weight_bytes / GiB == pytest.approx(14.96, abs=0.01)
    assert activation_reserve_bytes(llama, 1, "bf16") / GiB == pytest.approx(1.79 + 1.26, abs=0.01)
    assert budget.kv_bytes / GiB == pytest.approx(53.29, abs=0.02)


def test_fp8_weights_keep_embedding_and_lm_head_in_16_bit() -> None:
    llama = MODELS["llama-3-8b"]
    head = llama.embedding_parameters + llama.lm_head_parameters + llama.hidden_size
    assert weight_bytes(llama, "fp8") == (llama.counted_parameters - head) + 2 * head


def test_a_model_that_does_not_fit_says_so_with_the_figures() -> None:
    with pytest.raises(ModelDoesNotFit, match=r"llama-3-70b \(bf16\) does not fit on h100-sxm at "
                                              r"tensor_parallel 1: .*weights take 131\.42 GiB.*raise"):
        memory_budget(MODELS["llama-3-70b"], GPUS["h100-sxm"], 1)
    assert memory_budget(MODELS["llama-3-70b"], GPUS["h100-sxm"], 2).tokens > 0


def test_tensor_parallel_must_split_the_heads() -> None:
    with pytest.raises(LlmError, match="28 attention heads cannot be split over tensor_parallel 8"):
        memory_budget(MODELS["qwen2.5-7b"], GPUS["h100-sxm"], 8)
    with pytest.raises(LlmError, match="at least 1"):
        memory_budget(MODELS["llama-3-8b"], GPUS["h100-sxm"], 0)


def test_more_gpus_than_kv_heads_replicate_a_head_on_each() -> None:
    llama = MODELS["llama-3-70b"]                           # 8 KV heads
    at8 = memory_budget(llama, GPUS["h100-sxm"], 8).kv_bytes_per_token
    at16 = memory_budget(llama, GPUS["mi300x"], 16).kv_bytes_per_token
    assert at8 == at16 == 2 * 80 * 1 * 128 * 2


@settings(max_examples=examples(60), deadline=None)
@given(model=st.sampled_from(sorted(MODELS)), gpu=st.sampled_from(sorted(GPUS)),
       tp=st.sampled_from([1, 2, 4, 8]), utilisation=st.floats(0.5, 1.0))
def test_fp8_kv_cache_doubles_capacity(model: str, gpu: str, tp: int, utilisation: float) -> None:
    try:
        bf16 = memory_budget(MODELS[model], GPUS[gpu], tp, gpu_memory_utilization=utilisation)
    except LlmError:
        return                                             # does not fit, or heads not divisible
    fp8 = memory_budget(MODELS[model], GPUS[gpu], tp, kv_dtype="fp8", gpu_memory_utilization=utilisation)
    assert fp8.kv_bytes == bf16.kv_bytes
    assert 2 * bf16.blocks <= fp8.blocks <= 2 * bf16.blocks + 1       # whole blocks of the same bytes


@settings(max_examples=examples(40), deadline=None)
@given(model=st.sampled_from(sorted(MODELS)), gpu=st.sampled_from(sorted(GPUS)),
       utilisation=st.floats(0.3, 0.95), more=st.floats(0.0, 0.05))
def test_more_memory_never_holds_fewer_tokens(model: str, gpu: str, utilisation: float, more: float) -> None:
    spec = MODELS[model]
    tp = 8 if spec.attention_heads % 8 == 0 else 4
    try:
        low = memory_budget(spec, GPUS[gpu], tp, gpu_memory_utilization=utilisation)
    except LlmError:
        return
    high = memory_budget(spec, GPUS[gpu], tp, gpu_memory_utilization=utilisation + more)
    assert high.tokens >= low.tokens
