"""The KV cache: how many tokens of context a replica can hold, paged in blocks as vLLM does.

**Bytes per token.** Every layer caches a key and a value vector per KV head for every token:
``2 × layers × kv_heads × head_dim × bytes per element`` (bf16/fp16 2, fp8 1). Llama-3-8B in bf16:
2 × 32 × 8 × 128 × 2 = 131,072 bytes. Tensor parallelism splits the KV heads across the GPUs of a replica;
with more GPUs than KV heads each GPU keeps one head (vLLM replicates them), so a GPU holds
``max(1, kv_heads / TP)`` heads of every token.

**Capacity.** vLLM gives each GPU ``usable memory × gpu_memory_utilization`` (0.9 by default) and takes
out the weights (``weights / TP``), the peak activation memory of a profiling forward pass and the memory
allocated outside PyTorch (CUDA context, cuBLAS workspace, NCCL and custom all-reduce buffers); the rest is
the KV cache, cut in blocks of ``block_size`` tokens (16 by default). A replica's capacity in tokens is
``blocks × block_size`` — for TP ≤ KV heads the same as the issue's formula ``(GPU memory × utilisation × TP
− weights − activation reserve) / bytes per token`` in whole blocks.

**Activation reserve** (per GPU, bytes) — vLLM *measures* it at start-up (`profile_run`); here it is
modelled on one public measurement, vLLM PR #10511 (https://github.com/vllm-project/vllm/pull/10511):
Llama-3-8B on an H100, ``max_num_batched_tokens`` 8192, ``max_num_seqs`` 256: "PyTorch activation peak
memory 1.26GiB" at TP 1 and at TP 2, "non_torch_memory 1.79GiB" at TP 1 and 3.58GiB at TP 2. The peak does
not shrink with TP, so it is not the sharded MLP: it is the sampler's logits (fp32 copies of
``max_num_seqs × vocab``): 1.26 GiB / (256 × 128,256) ≈ `SAMPLER_BYTES_PER_LOGIT` = 41 bytes per logit.
The reserve is therefore

    activation = max(forward, sampler) + non_torch
    forward    = max_num_batched_tokens × (2 × hidden + 3 × experts_per_token × intermediate / TP) × 2 B
                 (residual and normed input, plus gate/up output and activation of the MLP)
    sampler    = max_num_seqs × vocab × 41 B
    non_torch  = 1.79 GiB at TP 1, 3.58 GiB at TP ≥ 2 (communication buffers; TP > 2 unmeasured)

which reproduces that log's KV budget (53.29 GiB, `tests/llm/test_kv_cache.py`). It is an estimate for
other models and versions; give ``activation_reserve_bytes`` to use your own engine's logged figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from capacity.llm.errors import LlmError, ModelDoesNotFit
from capacity.llm.gpus import GiB, GpuSpec
from capacity.llm.models import ModelSpec
from capacity.llm.precision import bytes_per_element, check_precisions

DEFAULT_GPU_MEMORY_UTILIZATION = 0.9
"""vLLM's ``gpu_memory_utilization`` default."""

DEFAULT_BLOCK_SIZE = 16
"""vLLM's default KV block size (tokens)."""

DEFAULT_MAX_NUM_SEQS = 256
"""vLLM's ``max_num_seqs`` default (V0; V1 raises it on large GPUs)."""

DEFAULT_MAX_NUM_BATCHED_TOKENS = 8192
"""vLLM's ``max_num_batched_tokens`` for its OpenAI server with chunked prefill."""

SAMPLER_BYTES_PER_LOGIT = 41
"""Peak sampler memory per logit (bytes): 1.26 GiB measured for 256 sequences × 128,256 (vLLM PR #10511)."""

NON_TORCH_BYTES = {1: round(1.79 * GiB), 2: round(3.58 * GiB)}
"""Memory outside PyTorch per GPU at TP 1 and TP ≥ 2 (vLLM PR #10511)."""


def activation_precision(model: ModelSpec, dtype: str) -> str:
    """The 16-bit format of activations (and of an ``auto`` KV cache): ``dtype`` unless it is fp8, then the
    model's own format (bf16 if that is fp8 too)."""
    if dtype != "fp8":
        return dtype
    return model.dtype if model.dtype != "fp8" else "bf16"


def kv_precision(model: ModelSpec, dtype: str, kv_dtype: str) -> str:
    """The KV cache's format: ``kv_dtype``, or the activation format for ``auto``."""
    return activation_precision(model, dtype) if kv_dtype == "auto" else kv_dtype


def kv_bytes_per_token(model: ModelSpec, kv_dtype: str) -> int:
    """KV-cache bytes of one token of context for the whole model: 2 × layers × KV heads × head dim ×
    bytes per element (``kv_dtype`` must be a format, not ``auto``)."""
    return 2 * model.layers * model.kv_heads * model.dim_per_head * bytes_per_element(kv_dtype)


def kv_heads_per_gpu(model: ModelSpec, tp: int) -> int:
    """KV heads each GPU of a ``tp``-way replica caches (at least one: vLLM replicates heads past that)."""
    return max(1, model.kv_heads // tp)


def check_tensor_parallel(model: ModelSpec, tp: int) -> None:
    """Refuse a tensor-parallel degree the model's heads cannot be split over (vLLM's rule): attention
    heads must divide by TP, and KV heads must divide by TP or TP by the KV heads."""
    if tp < 1:
        raise LlmError(f"tensor_parallel must be at least 1, got {tp}")
    if model.attention_heads % tp:
        raise LlmError(f"{model.name}: {model.attention_heads} attention heads cannot be split over "
                       f"tensor_parallel {tp} (it must divide them)")
    if model.kv_heads % tp and tp % model.kv_heads:
        raise LlmError(f"{model.name}: {model.kv_heads} KV heads cannot be split over tensor_parallel {tp}")


def weight_bytes(model: ModelSpec, dtype: str) -> int:
    """The weights' bytes for the whole model: the decoder layers in ``dtype``; the embedding, the LM head
    (unless tied) and the final norm in the activation format (FP8 quantises linear layers only)."""
    layer = model.layers * (model.layer_dense_parameters + model.experts * model.expert_parameters)
    other = model.embedding_parameters + (0 if model.tied_embeddings else model.lm_head_parameters)
    other += model.hidden_size
    return layer * bytes_per_element(dtype) + other * bytes_per_element(activation_precision(model, dtype))


def activation_reserve_bytes(model: ModelSpec, tp: int, dtype: str, *,
                             max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
                             max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS) -> int:
    """The default reserve per GPU (bytes) for activations and memory outside PyTorch (module docstring)."""
    act = bytes_per_element(activation_precision(model, dtype))
    mlp = 3 * model.experts_per_token * model.intermediate_size / tp
    forward = max_num_batched_tokens * (2 * model.hidden_size + mlp) * act
    sampler = max_num_seqs * model.vocab_size * SAMPLER_BYTES_PER_LOGIT
    return math.ceil(max(forward, sampler)) + NON_TORCH_BYTES[min(tp, 2)]


@dataclass(frozen=True)
class MemoryBudget:
    """How one GPU of a replica spends its memory (bytes, per GPU) and the KV cache that is left.

    ``tokens`` is the replica's KV capacity: every GPU holds its share of the same tokens."""

    budget_bytes: int              # usable memory × gpu_memory_utilization
    weight_bytes: int              # this GPU's share of the weights
    reserve_bytes: int             # activation peak + memory outside PyTorch
    kv_bytes_per_token: int        # this GPU's share of one token's KV
    block_size: int                # tokens per KV block

    @property
    def kv_bytes(self) -> int:
        """Bytes left for the KV cache (negative when the model does not fit)."""
        return self.budget_bytes - self.weight_bytes - self.reserve_bytes

    @property
    def blocks(self) -> int:
        """Whole KV blocks that fit."""
        return max(0, self.kv_bytes // (self.block_size * self.kv_bytes_per_token))

    @property
    def tokens(self) -> int:
        """The replica's KV capacity in tokens (whole blocks)."""
        return self.blocks * self.block_size


def memory_budget(model: ModelSpec, gpu: GpuSpec, tp: int = 1, dtype: str | None = None,
                  kv_dtype: str = "auto", *,
                  gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
                  block_size: int = DEFAULT_BLOCK_SIZE, max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
                  max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS,
                  reserve_bytes: int | None = None) -> MemoryBudget:
    """The `MemoryBudget` of one replica (``dtype``: the model's own when None; ``reserve_bytes``: the
    activation reserve per GPU, the modelled default when None). Raise `ModelDoesNotFit` when not even one
    block is left, with the figures in GiB and what to change."""
    check_tensor_parallel(model, tp)
    if not 0 < gpu_memory_utilization <= 1:
        raise LlmError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
    if block_size < 1:
        raise LlmError(f"block_size must be at least 1, got {block_size}")
    dtype = dtype or model.dtype
    check_precisions(dtype, kv_dtype)
    kv_format = kv_precision(model, dtype, kv_dtype)
    per_token = (2 * model.layers * kv_heads_per_gpu(model, tp) * model.dim_per_head
                 * bytes_per_element(kv_format))
    if reserve_bytes is None:
        reserve_bytes = activation_reserve_bytes(model, tp, dtype, max_num_seqs=max_num_seqs,
                                                 max_num_batched_tokens=max_num_batched_tokens)
    budget = MemoryBudget(budget_bytes=math.floor(gpu.usable_memory * gpu_memory_utilization),
                          weight_bytes=math.ceil(weight_bytes(model, dtype) / tp),
                          reserve_bytes=reserve_bytes, kv_bytes_per_token=per_token, block_size=block_size)
    if budget.blocks == 0:
        raise ModelDoesNotFit(
            f"{model.name} ({dtype}) does not fit on {gpu.name} at tensor_parallel {tp}: each GPU budgets "
            f"{budget.budget_bytes / GiB:.2f} GiB ({gpu_memory_utilization:g} of "
            f"{gpu.usable_memory / GiB:.2f}), "
            f"the weights take {budget.weight_bytes / GiB:.2f} GiB and the activation reserve "
            f"{budget.reserve_bytes / GiB:.2f} GiB, leaving no KV block of {block_size} tokens; raise "
            "tensor_parallel, use fp8 weights, or a GPU with more memory")
    return budget
