"""LLM serving as the GPUs run it: catalogues of GPUs and models, the KV cache a replica holds, and the time
of one engine iteration (from the hardware's roofline or a measured profile).

The public API:

* `GpuSpec`, `GPUS`, `gpu_spec` — a GPU's memory, bandwidth, dense FLOP/s and interconnect, with sources.
* `ModelSpec`, `MODELS`, `model_spec` — a model's architecture (config.json) and parameter counts.
* `kv_bytes_per_token`, `memory_budget`, `MemoryBudget` — KV bytes per token and a replica's KV capacity.
* `Efficiency`, `Roofline` — iteration time from the hardware (each default efficiency with its source).
* `IterationProfile`, `read_profile`, `parse_profile` — iteration time from a measured CSV profile.
* `LlmEngine` — the replica the simulator drives: `LlmEngine.from_spec(model, gpu, tp, ...)`.
* `LlmError`, `ModelDoesNotFit`, `ProfileError`, `ProfileRangeError` — the errors raised on purpose.

Units: bytes, bytes/s, FLOP/s, seconds, tokens.
"""

from capacity.llm.engine import IterationModel, LlmEngine
from capacity.llm.errors import LlmError, ModelDoesNotFit, ProfileError, ProfileRangeError
from capacity.llm.gpus import GPUS, GpuSpec, gpu_spec
from capacity.llm.kv_cache import (
    MemoryBudget,
    activation_reserve_bytes,
    kv_bytes_per_token,
    memory_budget,
    weight_bytes,
)
from capacity.llm.models import MODELS, ModelSpec, model_spec
from capacity.llm.profile import IterationProfile, parse_profile, read_profile
from capacity.llm.roofline import Efficiency, Roofline

__all__ = [
    "GPUS",
    "MODELS",
    "Efficiency",
    "GpuSpec",
    "IterationModel",
    "IterationProfile",
    "LlmEngine",
    "LlmError",
    "MemoryBudget",
    "ModelDoesNotFit",
    "ModelSpec",
    "ProfileError",
    "ProfileRangeError",
    "Roofline",
    "activation_reserve_bytes",
    "gpu_spec",
    "kv_bytes_per_token",
    "memory_budget",
    "model_spec",
    "parse_profile",
    "read_profile",
    "weight_bytes",
]
