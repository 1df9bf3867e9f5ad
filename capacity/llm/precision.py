"""Numeric formats of weights, activations and the KV cache, and their size in bytes per element.

* ``bf16`` and ``fp16`` — 2 bytes; the formats models are published in (``torch_dtype`` of config.json).
* ``fp8`` — 1 byte (E4M3). FP8 *weights* (vLLM ``--quantization fp8``) quantise the decoder's linear layers
  only: the embedding, the LM head and the norms stay in the model's 16-bit format, and activations stay
  16-bit. FP8 *KV cache* (``--kv-cache-dtype fp8``) halves the bytes per cached token.

``auto`` for the KV cache means the activation format: the model's 16-bit dtype (FP8 weights do not make an
FP8 cache; vLLM's ``kv_cache_dtype=auto`` follows the model dtype).
"""

from __future__ import annotations

from typing import Literal

from capacity.llm.errors import LlmError

Precision = Literal["bf16", "fp16", "fp8"]
"""A weight format."""

KvPrecision = Literal["auto", "bf16", "fp16", "fp8"]
"""A KV-cache format (``auto``: the activation format)."""

BYTES_PER_ELEMENT: dict[str, int] = {"bf16": 2, "fp16": 2, "fp8": 1}
"""Bytes per element of each format."""


def check_precisions(dtype: str, kv_dtype: str) -> None:
    """Refuse a weight format or a KV-cache format that is not one of the known ones (`LlmError`)."""
    if dtype not in BYTES_PER_ELEMENT:
        raise LlmError(f"dtype {dtype!r} is not one of {', '.join(BYTES_PER_ELEMENT)}")
    if kv_dtype != "auto" and kv_dtype not in BYTES_PER_ELEMENT:
        raise LlmError(f"kv_dtype {kv_dtype!r} is not one of auto, {', '.join(BYTES_PER_ELEMENT)}")


def bytes_per_element(precision: str) -> int:
    """Bytes per element of ``precision`` (``bf16``/``fp16`` 2, ``fp8`` 1)."""
    return BYTES_PER_ELEMENT[precision]
