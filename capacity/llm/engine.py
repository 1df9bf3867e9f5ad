"""An LLM engine replica's two numbers for a simulator: how many tokens of KV it holds, and how long an
iteration over a batch takes.

`LlmEngine.from_spec` builds one from a model and a GPU (catalogue names, mappings of figures, or specs),
a tensor-parallel degree, weight and KV formats and vLLM's memory settings. Its iteration times come from
the hardware (`Roofline`) or, given ``profile``, from a team's measured `IterationProfile`. The methods the
engine integration calls once per simulated iteration:

* `LlmEngine.iteration_time` — a batch of decode steps (their cached context) and prefill chunks
  (``(tokens, prior context)``), in seconds;
* `LlmEngine.prefill_time`, `LlmEngine.decode_step_time` — the common special cases;
* `LlmEngine.kv_capacity_tokens` / `kv_capacity_blocks` — the replica's KV cache (`MemoryBudget`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from capacity.llm.gpus import GpuSpec, gpu_spec
from capacity.llm.kv_cache import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_GPU_MEMORY_UTILIZATION,
    DEFAULT_MAX_NUM_BATCHED_TOKENS,
    DEFAULT_MAX_NUM_SEQS,
    MemoryBudget,
    memory_budget,
)
from capacity.llm.models import ModelSpec, model_spec
from capacity.llm.roofline import Efficiency, Roofline


class IterationModel(Protocol):
    """What times an iteration: the roofline or a measured profile."""

    def iteration_time(self, decode_contexts: Sequence[int] | np.ndarray = (),
                       prefill_chunks: Sequence[tuple[int, int]] | np.ndarray = ()) -> float: ...

    def prefill_time(self, tokens: int, prior_context: int = 0) -> float: ...

    def decode_step_time(self, batch: int, mean_context: float) -> float: ...


@dataclass(frozen=True, eq=False)
class LlmEngine:
    """One replica of an LLM engine: a model on ``tp`` GPUs, its KV cache and its iteration times."""

    model: ModelSpec
    gpu: GpuSpec
    tp: int
    dtype: str
    kv_dtype: str
    memory: MemoryBudget
    timing: IterationModel

    @classmethod
    def from_spec(cls, model: str | Mapping[str, Any] | ModelSpec, gpu: str | Mapping[str, Any] | GpuSpec,
                  tp: int = 1, dtype: str | None = None, kv_dtype: str = "auto", *,
                  gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
                  block_size: int = DEFAULT_BLOCK_SIZE, max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
                  max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS,
                  activation_reserve_bytes: int | None = None, efficiency: Efficiency | None = None,
                  profile: IterationModel | None = None) -> LlmEngine:
        """The engine of ``model`` on ``tp`` GPUs of type ``gpu`` (``dtype``: the model's own when None;
        ``kv_dtype`` ``auto``: the activation format). Raise `LlmError` for unknown names or bad figures and
        `ModelDoesNotFit` when no KV block is left."""
        m, g = model_spec(model), gpu_spec(gpu)
        dtype = dtype or m.dtype
        memory = memory_budget(m, g, tp, dtype, kv_dtype, gpu_memory_utilization=gpu_memory_utilization,
                               block_size=block_size, max_num_seqs=max_num_seqs,
                               max_num_batched_tokens=max_num_batched_tokens,
                               reserve_bytes=activation_reserve_bytes)
        timing = profile if profile is not None else Roofline(m, g, tp, dtype, kv_dtype, efficiency)
        return cls(model=m, gpu=g, tp=tp, dtype=dtype, kv_dtype=kv_dtype, memory=memory, timing=timing)

    @property
    def kv_capacity_tokens(self) -> int:
        """Tokens of context the replica's KV cache holds (whole blocks)."""
        return self.memory.tokens

    @property
    def kv_capacity_blocks(self) -> int:
        """KV blocks of ``block_size`` tokens the replica holds."""
        return self.memory.blocks

    @property
    def block_size(self) -> int:
        """Tokens per KV block."""
        return self.memory.block_size

    def iteration_time(self, decode_contexts: Sequence[int] | np.ndarray = (),
                       prefill_chunks: Sequence[tuple[int, int]] | np.ndarray = ()) -> float:
        """Seconds for one iteration over decode steps (cached context of each) and prefill chunks."""
        return self.timing.iteration_time(decode_contexts, prefill_chunks)

    def prefill_time(self, tokens: int, prior_context: int = 0) -> float:
        """Seconds to prefill ``tokens`` prompt tokens of one request alone in an iteration."""
        return self.timing.prefill_time(tokens, prior_context)

    def decode_step_time(self, batch: int, mean_context: float) -> float:
        """Seconds for one decode step of ``batch`` requests, ``mean_context`` cached tokens on average."""
        return self.timing.decode_step_time(batch, mean_context)
