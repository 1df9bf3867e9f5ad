"""Models: the architecture of a decoder-only transformer, from its published ``config.json``, and the
parameter counts that set its weights' memory and its FLOPs.

A `ModelSpec` holds the figures of ``config.json`` that matter for serving:

* ``layers`` (``num_hidden_layers``), ``hidden_size``, ``intermediate_size`` (of one MLP or one expert),
  ``attention_heads`` (``num_attention_heads``), ``kv_heads`` (``num_key_value_heads``: grouped-query
  attention caches fewer key/value heads than query heads), ``head_dim`` (``hidden_size /
  attention_heads`` unless config.json says otherwise), ``vocab_size``, ``tied_embeddings``
  (``tie_word_embeddings``), ``qkv_bias`` (Qwen2 has biases on Q, K and V);
* ``experts`` and ``experts_per_token`` for a mixture of experts (``num_local_experts``,
  ``num_experts_per_tok``; 1 and 1 for a dense model);
* ``dtype`` — the format the weights are published in (``torch_dtype``);
* ``parameters`` and ``active_parameters`` — the counts the model card publishes (None if unknown), kept
  to check the architecture against (`ModelSpec.counted_parameters` must agree within 1 %);
* ``sources`` — the config.json and model card the figures come from.

Derived counts (all from the architecture, a gated SwiGLU MLP of three ``hidden × intermediate`` matrices):
``embedding_parameters`` (the input table, read a row per token), ``lm_head_parameters`` (the output
projection, run once per sequence that samples a token), ``layer_dense_parameters`` (per layer: attention
projections, norms, router; every token uses them), ``expert_parameters`` (one expert's MLP, per layer; a
dense model has one "expert" that every token uses).

`MODELS` is the catalogue keyed by name; `model_spec` resolves a name, a mapping of figures or a spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from capacity.llm.errors import LlmError
from capacity.llm.gpus import _validated
from capacity.llm.precision import Precision


class ModelSpec(BaseModel):
    """The serving-relevant architecture of one model (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=64)
    # strict: figures given in a scenario are numbers, never booleans (pydantic would read true as 1)
    layers: int = Field(strict=True, gt=0, le=1000)
    hidden_size: int = Field(strict=True, gt=0, le=1_000_000)
    intermediate_size: int = Field(strict=True, gt=0, le=10_000_000)
    attention_heads: int = Field(strict=True, gt=0, le=10_000)
    kv_heads: int = Field(strict=True, gt=0, le=10_000)
    head_dim: int | None = Field(strict=True, default=None, gt=0, le=10_000)
    vocab_size: int = Field(strict=True, gt=0, le=100_000_000)
    tied_embeddings: bool = False
    qkv_bias: bool = False
    experts: int = Field(strict=True, default=1, gt=0, le=100_000)
    experts_per_token: int = Field(strict=True, default=1, gt=0, le=100_000)
    dtype: Precision = "bf16"
    parameters: float | None = Field(strict=True, default=None, gt=0)
    active_parameters: float | None = Field(strict=True, default=None, gt=0)
    sources: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.attention_heads % self.kv_heads:
            raise ValueError(f"attention_heads ({self.attention_heads}) must be a multiple of kv_heads "
                             f"({self.kv_heads})")
        if self.experts_per_token > self.experts:
            raise ValueError(f"experts_per_token ({self.experts_per_token}) exceeds experts ({self.experts})")
        return self

    @property
    def dim_per_head(self) -> int:
        """The head dimension: config.json's ``head_dim``, else ``hidden_size / attention_heads``."""
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.attention_heads

    @property
    def is_moe(self) -> bool:
        """Whether the MLP is a mixture of experts."""
        return self.experts > 1

    @property
    def embedding_parameters(self) -> int:
        """The input embedding table (vocab × hidden)."""
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_parameters(self) -> int:
        """The output projection (vocab × hidden); it shares the embedding's memory when tied."""
        return self.vocab_size * self.hidden_size

    @property
    def layer_dense_parameters(self) -> int:
        """One layer's parameters that every token uses: Q, K, V, O projections (with Q/K/V biases if any),
        the two RMSNorms, and the router of a mixture of experts."""
        h, d = self.hidden_size, self.dim_per_head
        q, kv = self.attention_heads * d, self.kv_heads * d
        attention = h * q + 2 * h * kv + q * h + ((q + 2 * kv) if self.qkv_bias else 0)
        router = h * self.experts if self.is_moe else 0
        return attention + 2 * h + router

    @property
    def expert_parameters(self) -> int:
        """One expert's gated MLP in one layer (3 × hidden × intermediate); a dense model's whole MLP."""
        return 3 * self.hidden_size * self.intermediate_size

    @property
    def counted_parameters(self) -> int:
        """All parameters, counted from the architecture (the LM head counted once if tied)."""
        per_layer = self.layer_dense_parameters + self.experts * self.expert_parameters
        head = 0 if self.tied_embeddings else self.lm_head_parameters
        return self.layers * per_layer + self.embedding_parameters + head + self.hidden_size

    @property
    def counted_active_parameters(self) -> int:
        """Parameters one token uses (its routed experts only), counted from the architecture."""
        per_layer = self.layer_dense_parameters + self.experts_per_token * self.expert_parameters
        head = 0 if self.tied_embeddings else self.lm_head_parameters
        return self.layers * per_layer + self.embedding_parameters + head + self.hidden_size


def _hf(repo: str) -> str:
    return f"https://huggingface.co/{repo}/blob/main/config.json"


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec(name="llama-3-8b", layers=32, hidden_size=4096, intermediate_size=14336, attention_heads=32,
              kv_heads=8, head_dim=128, vocab_size=128256, parameters=8.03e9, active_parameters=8.03e9,
              sources=(_hf("meta-llama/Meta-Llama-3-8B"), "https://huggingface.co/meta-llama/Meta-Llama-3-8B")),
    ModelSpec(name="llama-3-70b", layers=80, hidden_size=8192, intermediate_size=28672, attention_heads=64,
              kv_heads=8, head_dim=128, vocab_size=128256, parameters=70.6e9, active_parameters=70.6e9,
              sources=(_hf("meta-llama/Meta-Llama-3-70B"),
                       "https://huggingface.co/meta-llama/Meta-Llama-3-70B")),
    ModelSpec(name="qwen2.5-7b", layers=28, hidden_size=3584, intermediate_size=18944, attention_heads=28,
              kv_heads=4, head_dim=128, vocab_size=152064, qkv_bias=True, parameters=7.61e9,
              active_parameters=7.61e9,
              sources=(_hf("Qwen/Qwen2.5-7B"), "https://huggingface.co/Qwen/Qwen2.5-7B")),
    ModelSpec(name="qwen2.5-72b", layers=80, hidden_size=8192, intermediate_size=29568, attention_heads=64,
              kv_heads=8, head_dim=128, vocab_size=152064, qkv_bias=True, parameters=72.7e9,
              active_parameters=72.7e9,
              sources=(_hf("Qwen/Qwen2.5-72B"), "https://huggingface.co/Qwen/Qwen2.5-72B")),
    ModelSpec(name="mixtral-8x7b", layers=32, hidden_size=4096, intermediate_size=14336, attention_heads=32,
              kv_heads=8, head_dim=128, vocab_size=32000, experts=8, experts_per_token=2,
              parameters=46.7e9, active_parameters=12.9e9,
              sources=(_hf("mistralai/Mixtral-8x7B-v0.1"), "https://mistral.ai/news/mixtral-of-experts/")),
    ModelSpec(name="llama-2-7b", layers=32, hidden_size=4096, intermediate_size=11008, attention_heads=32,
              kv_heads=32, head_dim=128, vocab_size=32000, dtype="fp16", parameters=6.74e9,
              active_parameters=6.74e9,
              sources=(_hf("meta-llama/Llama-2-7b-hf"), "https://arxiv.org/abs/2307.09288")),
    ModelSpec(name="llama-2-70b", layers=80, hidden_size=8192, intermediate_size=28672, attention_heads=64,
              kv_heads=8, head_dim=128, vocab_size=32000, dtype="fp16", parameters=68.98e9,
              active_parameters=68.98e9,
              sources=(_hf("meta-llama/Llama-2-70b-hf"), "https://arxiv.org/abs/2307.09288")),
)}


def model_spec(model: str | Mapping[str, Any] | ModelSpec) -> ModelSpec:
    """The `ModelSpec` of a catalogue name, a mapping of figures, or a spec (returned as is)."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, str):
        try:
            return MODELS[model.lower()]
        except KeyError:
            raise LlmError(f"unknown model {model!r}: the catalogue has {', '.join(sorted(MODELS))}; or give "
                           "the figures as a mapping (name, layers, hidden_size, ...)") from None
    return _validated(ModelSpec, model, "model")
