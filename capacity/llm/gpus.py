"""GPUs: the figures of an accelerator that bound an LLM engine's speed and memory, from the vendors' data
sheets.

A `GpuSpec` holds, for one GPU:

* ``memory_bytes`` — device memory (bytes). Vendors write "80GB" for 80 GiB of HBM; the catalogue stores the
  binary figure. The driver keeps a little for itself: ``usable_memory_bytes`` is what CUDA reports as the
  total (``torch.cuda.mem_get_info``), which vLLM multiplies by ``gpu_memory_utilization``; where no public
  measurement is known it is left out and ``memory_bytes`` is used (about 1 % optimistic).
* ``memory_bandwidth`` — peak device-memory bandwidth (bytes/s).
* ``bf16_flops`` and ``fp8_flops`` — peak **dense** tensor-core throughput (FLOP/s). Data sheets print the
  2:4-sparsity figure first (twice the dense one, marked "with sparsity"); the catalogue stores the dense
  figure, which is what inference GEMMs use. ``fp8_flops`` is None on a GPU without FP8 tensor cores (A100):
  FP8 weights there are dequantised and multiplied in BF16 (vLLM's weight-only Marlin kernels).
* ``interconnect_bandwidth`` — the bandwidth one GPU can send to its tensor-parallel peers, per direction
  (bytes/s): NVLink through NVSwitch (all links reach any peer), AMD Infinity Fabric (7 links of 64 GB/s a
  direction in an 8-GPU platform; fewer are used below TP 8, so this is optimistic there) or PCIe (x16).
* ``sources`` — the pages the figures come from.

`GPUS` is the catalogue, keyed by name (lower case). A scenario names one (``gpu: h100-sxm``) or gives the
figures as a mapping, validated by `GpuSpec` (unknown keys refused); `gpu_spec` resolves either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from capacity.llm.errors import LlmError

GiB = 2**30
"""Bytes in a GiB."""


class GpuSpec(BaseModel):
    """The figures of one GPU (see the module docstring for each field's meaning and unit)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=64)
    memory_bytes: int = Field(gt=0)
    usable_memory_bytes: int | None = Field(default=None, gt=0)
    memory_bandwidth: float = Field(gt=0, description="bytes/s")
    bf16_flops: float = Field(gt=0, description="dense FLOP/s")
    fp8_flops: float | None = Field(default=None, gt=0, description="dense FLOP/s; None: no FP8 tensor cores")
    interconnect: str = Field(default="", max_length=64)
    interconnect_bandwidth: float = Field(gt=0, description="bytes/s per direction to TP peers")
    sources: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _usable_within_memory(self) -> GpuSpec:
        if self.usable_memory_bytes is not None and self.usable_memory_bytes > self.memory_bytes:
            raise ValueError("usable_memory_bytes exceeds memory_bytes")
        return self

    @property
    def usable_memory(self) -> int:
        """The memory the engine may budget from (bytes): what CUDA reports, or the data-sheet figure."""
        return self.usable_memory_bytes if self.usable_memory_bytes is not None else self.memory_bytes

    def peak_flops(self, precision: str) -> float:
        """Peak dense FLOP/s of the matrix multiplies for weights in ``precision`` (FP8 falls back to BF16
        on a GPU without FP8 tensor cores)."""
        if precision == "fp8" and self.fp8_flops is not None:
            return self.fp8_flops
        return self.bf16_flops


_NVIDIA_DATASHEET = "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet"

GPUS: dict[str, GpuSpec] = {g.name: g for g in (
    GpuSpec(
        name="a100-80gb-sxm", memory_bytes=80 * GiB, memory_bandwidth=2.039e12,
        bf16_flops=312e12, fp8_flops=None,
        interconnect="NVLink 3 (600 GB/s bidirectional)", interconnect_bandwidth=300e9,
        sources=("https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
                 "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf",)),
    GpuSpec(
        name="h100-sxm", memory_bytes=80 * GiB, usable_memory_bytes=round(79.22 * GiB),
        memory_bandwidth=3.35e12, bf16_flops=989.4e12, fp8_flops=1978.9e12,
        interconnect="NVLink 4 (900 GB/s bidirectional)", interconnect_bandwidth=450e9,
        sources=("https://www.nvidia.com/en-us/data-center/h100/", _NVIDIA_DATASHEET,
                 "https://github.com/vllm-project/vllm/pull/10511 (total_gpu_memory 79.22GiB)")),
    GpuSpec(
        name="h200", memory_bytes=141 * GiB, memory_bandwidth=4.8e12,
        bf16_flops=989.4e12, fp8_flops=1978.9e12,
        interconnect="NVLink 4 (900 GB/s bidirectional)", interconnect_bandwidth=450e9,
        sources=("https://www.nvidia.com/en-us/data-center/h200/",)),
    GpuSpec(
        name="l4", memory_bytes=24 * GiB, memory_bandwidth=300e9,
        bf16_flops=121e12, fp8_flops=242.5e12,
        interconnect="PCIe Gen4 x16 (64 GB/s bidirectional)", interconnect_bandwidth=32e9,
        sources=("https://www.nvidia.com/en-us/data-center/l4/",
                 "https://resources.nvidia.com/en-us-data-center-overview/l4-gpu-datasheet")),
    GpuSpec(
        name="l40s", memory_bytes=48 * GiB, memory_bandwidth=864e9,
        bf16_flops=362.05e12, fp8_flops=733e12,
        interconnect="PCIe Gen4 x16 (64 GB/s bidirectional)", interconnect_bandwidth=32e9,
        sources=("https://www.nvidia.com/en-us/data-center/l40s/",
                 "https://resources.nvidia.com/en-us-l40s/l40s-datasheet-28413")),
    GpuSpec(
        name="mi300x", memory_bytes=192 * GiB, memory_bandwidth=5.3e12,
        bf16_flops=1307.4e12, fp8_flops=2614.9e12,
        interconnect="Infinity Fabric (7 links, 896 GB/s aggregate bidirectional)",
        interconnect_bandwidth=448e9,
        sources=("https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html",
                 "https://www.amd.com/content/dam/amd/en/documents/instinct-tech-docs/data-sheets/"
                 "amd-instinct-mi300x-data-sheet.pdf")),
)}


def gpu_spec(gpu: str | Mapping[str, Any] | GpuSpec) -> GpuSpec:
    """The `GpuSpec` of a catalogue name, a mapping of figures, or a spec (returned as is)."""
    if isinstance(gpu, GpuSpec):
        return gpu
    if isinstance(gpu, str):
        try:
            return GPUS[gpu.lower()]
        except KeyError:
            raise LlmError(f"unknown GPU {gpu!r}: the catalogue has {', '.join(sorted(GPUS))}; or give the "
                           "figures as a mapping (name, memory_bytes, memory_bandwidth, bf16_flops, ...)") \
                from None
    return _validated(GpuSpec, gpu, "gpu")


def _validated(cls: type[Any], figures: Mapping[str, Any], what: str) -> Any:
    """``cls`` from a mapping; a validation failure becomes one `LlmError` line naming the field."""
    try:
        return cls.model_validate(dict(figures))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in (what, *first["loc"]))
        raise LlmError(f"{path}: {first['msg']}") from None
