"""Iteration time from the hardware: a roofline model of one engine iteration (one forward pass over a batch
of decoding requests and prefill chunks), per GPU of a tensor-parallel replica.

**What an iteration does.** A decoding request with ``c`` tokens already cached adds one token: it attends
to ``c + 1`` keys, reads ``c + 1`` tokens of KV and writes one. A prefill chunk of ``n`` prompt tokens after
``p`` cached ones attends to ``n·p + n(n+1)/2`` (query, key) pairs (causal), reads ``p + n`` tokens of KV
and writes ``n``. Every sequence in the batch (decode or chunk) computes one row of logits.

**Two operator groups**, each bound by compute or by memory (its own roofline), one after the other:

* linear layers — FLOPs ``2 × (active layer parameters × tokens + LM head × sequences)``; bytes: the
  weights read once per iteration: every dense weight, the LM head, and for a mixture of experts only the
  experts some token was routed to — with ``n`` tokens each picking ``k`` of ``E`` experts (routing taken
  as uniform and independent), ``E × (1 − (1 − k/E)^n)`` experts per layer on average;
* attention — FLOPs ``4 × layers × heads × head_dim × pairs`` (QKᵀ and PV); bytes: the KV read and written.

Each group's time is ``max(FLOPs / (peak × compute efficiency), bytes / (bandwidth × memory efficiency))``,
everything divided by TP (weights, heads and KV are sharded). The sum of the two groups is never below the
single ``max(total compute, total memory)`` of the plain roofline and equals it when both groups are bound
by the same resource; it is closer to a GPU that runs the kernels in sequence (a long-context decode step
is memory-bound in attention while the same batch's prefill is compute-bound in its GEMMs).

**Tensor parallelism** adds two all-reduces per layer of the iteration's activations (``tokens × hidden``
16-bit values), each a ring all-reduce: ``latency + 2 (TP − 1)/TP × bytes / (interconnect bandwidth ×
interconnect efficiency)``.

**Overhead.** A fixed time per iteration for the engine's CPU work (scheduling, input preparation,
sampling, output processing) that the GPU waits for.

The efficiencies and the overhead are `Efficiency` fields; each default says where it comes from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from capacity.llm.gpus import GpuSpec
from capacity.llm.kv_cache import activation_precision, kv_heads_per_gpu, kv_precision
from capacity.llm.models import ModelSpec
from capacity.llm.precision import bytes_per_element, check_precisions


class Efficiency(BaseModel):
    """The fractions of the data-sheet peaks an engine reaches, and its fixed costs (one set for every GPU).

    Defaults and their sources:

    * ``compute`` 0.70 — 16-bit matrix multiplies. FlashAttention-2 (Dao 2023, arXiv:2307.08691): GPT
      training end to end at 225 TFLOP/s per A100, 72 % of the 312 TFLOP/s peak; FlashAttention-3 (Shah et
      al. 2024, arXiv:2407.08608): 740 TFLOP/s FP16 on H100, 75 %.
    * ``compute_fp8`` 0.60 — FP8 matrix multiplies: FlashAttention-3 reaches "close to 1.2 PFLOPs/s" in FP8
      on H100, 61 % of the 1,979 TFLOP/s dense peak (FP8 kernels reach a smaller share of a doubled peak).
    * ``memory`` 0.77 and ``overhead_s`` 0.6 ms — solved from two public single-request decode measurements
      of Llama-3.1-8B in bf16 under vLLM (each step reads 15.0 GB of weights): 75 tokens/s (13.3 ms a token)
      on an A100-40GB, 1.555 TB/s (https://johnmusgrave.com/p/vllm-throughput-latency-sweep-on, vLLM 0.23),
      and a median TPOT of 6.48 ms on an H100-80GB (https://yobitelcomm.github.io/bench/recipes/
      concurrency-sweep/, vLLM 0.21): 15.0 GB / (B × e) + o for both gives e ≈ 0.77, o ≈ 0.6 ms.
      The overhead is the engine's, not the GPU's, and older engines had more: vLLM's multi-step scheduling
      RFC (https://github.com/vllm-project/vllm/issues/6854, July 2024, Llama-3-8B on an H100, vLLM 0.5)
      measured "about 4ms of GPU bubble" per decode step (5–13 ms in the worst cases) waiting for the
      scheduler, input preparation and output processing, which vLLM 0.6 overlapped (multi-step scheduling,
      asynchronous output processing). That figure cannot hold for the recent engines the default comes
      from (with 4 ms, the two measurements above would need a bandwidth above the data sheet's), so it is
      not the default; give ``overhead_s`` to model an older engine.
    * ``allreduce_latency_s`` 10 µs — vLLM's custom all-reduce of messages up to 32 KB on H100 takes
      8.5–11.8 µs at TP 2–8 (measured in https://github.com/sgl-project/sglang/pull/2904).
    * ``interconnect`` 0.70 — the share of the link bandwidth a large ring all-reduce reaches. An assumption
      (NCCL bus bandwidth is usually quoted at 70–90 % of NVLink's); it matters only for TP > 1 prefill of
      long prompts.

    None of these is fitted to the validation rows of ``benchmarks/llm_validation.py``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    compute: float = Field(default=0.70, gt=0, le=1)
    compute_fp8: float = Field(default=0.60, gt=0, le=1)
    memory: float = Field(default=0.77, gt=0, le=1)
    interconnect: float = Field(default=0.70, gt=0, le=1)
    allreduce_latency_s: float = Field(default=10e-6, ge=0, le=1)
    overhead_s: float = Field(default=0.6e-3, ge=0, le=10)


Chunks = Sequence[tuple[int, int]] | np.ndarray
"""Prefill chunks: ``(tokens, prior context)`` pairs, or an ``(n, 2)`` integer array."""


class Roofline:
    """Iteration times of one replica (a model on ``tp`` GPUs of one type) from the hardware's figures.

    Every constant that does not depend on the batch is computed once here, so `iteration_time` is a few
    numpy sums (seconds; token counts are tokens)."""

    def __init__(self, model: ModelSpec, gpu: GpuSpec, tp: int = 1, dtype: str | None = None,
                 kv_dtype: str = "auto", efficiency: Efficiency | None = None) -> None:
        self.model, self.gpu, self.tp = model, gpu, tp
        self.dtype = dtype or model.dtype
        check_precisions(self.dtype, kv_dtype)
        self.efficiency = eff = efficiency or Efficiency()
        act = bytes_per_element(activation_precision(model, self.dtype))
        wbytes = bytes_per_element(self.dtype)
        m = model
        # linear layers, per GPU
        self.linear_flops_per_token = 2 * m.layers * (
            m.layer_dense_parameters + m.experts_per_token * m.expert_parameters) / tp
        self.head_flops_per_sequence = 2 * m.lm_head_parameters / tp
        self.linear_rate = gpu.peak_flops(self.dtype) * (
            eff.compute_fp8 if self.dtype == "fp8" and gpu.fp8_flops is not None else eff.compute)
        self.dense_weight_bytes = (m.layers * m.layer_dense_parameters * wbytes
                                   + m.lm_head_parameters * act) / tp
        self.expert_bytes = m.layers * m.expert_parameters * wbytes / tp     # one expert in every layer
        # attention, per GPU
        self.attention_flops_per_pair = 4 * m.layers * m.attention_heads * m.dim_per_head / tp
        self.attention_rate = gpu.bf16_flops * eff.compute
        self.kv_bytes_per_token = (2 * m.layers * kv_heads_per_gpu(m, tp) * m.dim_per_head
                                   * bytes_per_element(kv_precision(m, self.dtype, kv_dtype)))
        self.memory_rate = gpu.memory_bandwidth * eff.memory
        # tensor parallelism: 2 ring all-reduces per layer
        self.allreduces = 2 * m.layers if tp > 1 else 0
        self.allreduce_bytes_per_token = m.hidden_size * act
        self.allreduce_seconds_per_byte = (2 * (tp - 1) / tp / (gpu.interconnect_bandwidth * eff.interconnect)
                                           if tp > 1 else 0.0)

    def experts_touched(self, tokens: float) -> float:
        """Experts per layer that ``tokens`` routed tokens use on average (uniform routing); a dense model's
        single MLP is always used (1 when there are tokens)."""
        m = self.model
        if tokens <= 0:
            return 0.0
        if not m.is_moe:
            return 1.0
        return m.experts * (1.0 - (1.0 - m.experts_per_token / m.experts) ** tokens)

    def time(self, tokens: float, sequences: float, pairs: float, kv_tokens: float) -> float:
        """Seconds for an iteration of ``tokens`` new tokens over ``sequences`` sequences, with ``pairs``
        attention pairs and ``kv_tokens`` tokens of KV read or written (see the module docstring)."""
        if tokens <= 0:
            return 0.0
        compute = (self.linear_flops_per_token * tokens + self.head_flops_per_sequence * sequences)
        weights = self.dense_weight_bytes + self.experts_touched(tokens) * self.expert_bytes
        linear = max(compute / self.linear_rate, weights / self.memory_rate)
        attention = max(self.attention_flops_per_pair * pairs / self.attention_rate,
                        self.kv_bytes_per_token * kv_tokens / self.memory_rate)
        comm = self.allreduces * (self.efficiency.allreduce_latency_s
                                  + self.allreduce_bytes_per_token * tokens * self.allreduce_seconds_per_byte)
        return linear + attention + comm + self.efficiency.overhead_s

    def iteration_time(self, decode_contexts: Sequence[int] | np.ndarray = (),
                       prefill_chunks: Chunks = ()) -> float:
        """Seconds for one iteration: a decode step of every request in ``decode_contexts`` (tokens cached
        for each) and every prefill chunk ``(tokens, prior context)``; 0 for an empty batch."""
        ctx = np.asarray(decode_contexts, dtype=np.float64)
        n_decode = ctx.size
        tokens = float(n_decode)
        pairs = float(ctx.sum()) + n_decode
        kv = pairs + n_decode
        chunks = np.asarray(prefill_chunks, dtype=np.float64).reshape(-1, 2)
        if chunks.size:
            n, p = chunks[:, 0], chunks[:, 1]
            tokens += float(n.sum())
            pairs += float((n * p + n * (n + 1) / 2).sum())
            kv += float((p + 2 * n).sum())
        return self.time(tokens, n_decode + chunks.shape[0], pairs, kv)

    def prefill_time(self, tokens: int, prior_context: int = 0) -> float:
        """Seconds to prefill ``tokens`` prompt tokens of one request in one iteration."""
        n, p = float(tokens), float(prior_context)
        return self.time(n, 1.0, n * p + n * (n + 1) / 2, p + 2 * n)

    def decode_step_time(self, batch: int, mean_context: float) -> float:
        """Seconds for one decode step of ``batch`` requests with ``mean_context`` cached tokens on average
        (exact: the roofline is linear in the contexts' sum)."""
        pairs = batch * (mean_context + 1.0)
        return self.time(float(batch), float(batch), pairs, pairs + batch)

