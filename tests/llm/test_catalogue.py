"""The GPU and model catalogues: figures with sources, architectures that add up to the published counts,
and user-given figures validated field by field."""

from __future__ import annotations

import pytest

from capacity.llm import GPUS, MODELS, GpuSpec, LlmError, ModelSpec, gpu_spec, model_spec

REQUIRED_GPUS = {"a100-80gb-sxm", "h100-sxm", "h200", "l4", "l40s", "mi300x"}
REQUIRED_MODELS = {"llama-3-8b", "llama-3-70b", "qwen2.5-7b", "qwen2.5-72b", "mixtral-8x7b"}


def test_catalogues_hold_the_required_entries_each_with_a_source() -> None:
    assert set(GPUS) >= REQUIRED_GPUS
    assert set(MODELS) >= REQUIRED_MODELS
    for entry in [*GPUS.values(), *MODELS.values()]:
        assert entry.sources and all(s.startswith("https://") for s in entry.sources), entry.name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_architecture_adds_up_to_the_published_parameter_counts(name: str) -> None:
    model = MODELS[name]
    assert model.parameters is not None and model.active_parameters is not None
    assert model.counted_parameters == pytest.approx(model.parameters, rel=0.01)
    assert model.counted_active_parameters == pytest.approx(model.active_parameters, rel=0.01)


def test_dense_figures_are_half_the_sparsity_figures_of_the_data_sheets() -> None:
    # data sheets print "with sparsity" first: H100 SXM BF16 1,979 / FP8 3,958 TFLOPS; L40S 733 / 1,466
    assert GPUS["h100-sxm"].bf16_flops == pytest.approx(1979e12 / 2, rel=1e-3)
    assert GPUS["h100-sxm"].fp8_flops == pytest.approx(3958e12 / 2, rel=1e-3)
    assert GPUS["l40s"].fp8_flops == pytest.approx(1466e12 / 2, rel=1e-3)
    assert GPUS["a100-80gb-sxm"].fp8_flops is None
    assert GPUS["a100-80gb-sxm"].peak_flops("fp8") == GPUS["a100-80gb-sxm"].bf16_flops


def test_mixtral_is_a_mixture_of_experts_with_fewer_active_parameters() -> None:
    mixtral = MODELS["mixtral-8x7b"]
    assert mixtral.is_moe and mixtral.counted_active_parameters < mixtral.counted_parameters / 3


def test_names_resolve_case_insensitively_and_unknown_names_list_the_catalogue() -> None:
    assert gpu_spec("H100-SXM") is GPUS["h100-sxm"]
    assert model_spec("Llama-3-8B") is MODELS["llama-3-8b"]
    with pytest.raises(LlmError, match=r"unknown GPU 'h900'.*h100-sxm"):
        gpu_spec("h900")
    with pytest.raises(LlmError, match=r"unknown model 'gpt-5'.*llama-3-8b"):
        model_spec("gpt-5")


def test_figures_given_as_a_mapping_are_validated_with_unknown_keys_refused() -> None:
    figures = {"name": "my-gpu", "memory_bytes": 2**35, "memory_bandwidth": 1e12, "bf16_flops": 1e14,
               "interconnect_bandwidth": 1e10}
    assert isinstance(gpu_spec(figures), GpuSpec)
    with pytest.raises(LlmError, match=r"^gpu\.memory_bandwith: Extra inputs are not permitted$"):
        gpu_spec({**figures, "memory_bandwith": 1e12})
    with pytest.raises(LlmError, match=r"^gpu\.bf16_flops: Input should be greater than 0$"):
        gpu_spec({**figures, "bf16_flops": 0})
    llama = MODELS["llama-3-8b"].model_dump()
    assert model_spec({**llama, "name": "mine"}) == ModelSpec(**{**llama, "name": "mine"})
    with pytest.raises(LlmError, match=r"model: .*must be a multiple of kv_heads"):
        model_spec({**llama, "kv_heads": 5})
    with pytest.raises(LlmError, match="experts_per_token"):
        model_spec({**llama, "experts": 2, "experts_per_token": 3})
