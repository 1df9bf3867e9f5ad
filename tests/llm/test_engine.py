"""`LlmEngine`: the API the engine integration calls, from names, mappings or specs."""

from __future__ import annotations

import pytest

from capacity.llm import GPUS, MODELS, LlmEngine, LlmError, ModelDoesNotFit, memory_budget


def test_from_names_and_from_figures_agree() -> None:
    by_name = LlmEngine.from_spec("llama-3-8b", "l40s", tp=2, kv_dtype="fp8")
    by_figures = LlmEngine.from_spec(MODELS["llama-3-8b"].model_dump(), GPUS["l40s"].model_dump(), tp=2,
                                     kv_dtype="fp8")
    assert by_name.kv_capacity_tokens == by_figures.kv_capacity_tokens > 0
    assert by_name.iteration_time([10, 20], [(100, 0)]) == by_figures.iteration_time([10, 20], [(100, 0)])
    assert by_name.kv_capacity_tokens == by_name.kv_capacity_blocks * by_name.block_size
    assert by_name.kv_capacity_tokens == memory_budget(MODELS["llama-3-8b"], GPUS["l40s"], 2,
                                                       kv_dtype="fp8").tokens


def test_fp8_weights_fit_a_70b_model_where_bf16_does_not() -> None:
    with pytest.raises(ModelDoesNotFit):
        LlmEngine.from_spec("llama-3-70b", "h200", tp=1)
    assert LlmEngine.from_spec("llama-3-70b", "h200", tp=1, dtype="fp8").kv_capacity_tokens > 100_000


def test_an_explicit_activation_reserve_replaces_the_model() -> None:
    default = LlmEngine.from_spec("qwen2.5-7b", "h100-sxm")
    bigger = LlmEngine.from_spec("qwen2.5-7b", "h100-sxm", activation_reserve_bytes=10 * 2**30)
    assert bigger.kv_capacity_tokens < default.kv_capacity_tokens


def test_bad_settings_are_refused() -> None:
    with pytest.raises(LlmError, match="gpu_memory_utilization"):
        LlmEngine.from_spec("llama-3-8b", "h100-sxm", gpu_memory_utilization=1.5)
    with pytest.raises(LlmError, match="block_size"):
        LlmEngine.from_spec("llama-3-8b", "h100-sxm", block_size=0)


def test_unknown_formats_are_refused_by_name() -> None:
    with pytest.raises(LlmError, match="dtype 'int4' is not one of bf16, fp16, fp8"):
        LlmEngine.from_spec("llama-3-8b", "h100-sxm", dtype="int4")
    with pytest.raises(LlmError, match="kv_dtype 'fp4' is not one of auto, bf16"):
        LlmEngine.from_spec("llama-3-8b", "h100-sxm", kv_dtype="fp4")
