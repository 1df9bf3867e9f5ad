"""The ``cluster`` section: pools of identical nodes (how many the planner may use, what each offers, an
hourly cost, labels and a speed that divides service times), and node autoscaling: per pool
(``autoscaling``: min and max nodes, provisioning delay, scale down) and for the cluster (the expander
that picks a new node's pool, the scheduler's scoring). See `capacity.autoscaling.cluster`.

A pool's ``gpu`` names the accelerator of its nodes for LLM engine services (`capacity.llm`): a catalogue
name (``h100-sxm``, ``a100-80gb-sxm``, ``h200``, ``l4``, ``l40s``, ``mi300x``) or the figures of another GPU
(`GpuFigures`: memory in bytes such as ``80Gi``, bandwidths in bytes/s such as ``3.35T``, dense FLOP/s such
as ``989T``). How many GPUs a node has stays in ``resources`` (``gpu: 8``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from capacity.autoscaling.cluster import EXPANDERS
from capacity.llm import GPUS, GpuSpec
from capacity.scenario.fields import (
    Duration,
    Float,
    Int,
    Model,
    Name,
    OneOf,
    Quantity,
    ResourceName,
    name_or_figures,
)
from capacity.units import parse_fraction


def _catalogue_gpu(name: str) -> str:
    if name.lower() not in GPUS:
        raise ValueError(f"unknown GPU {name!r}: the catalogue has {', '.join(sorted(GPUS))}; or give the "
                         "figures (name, memory, memory_bandwidth, bf16_flops, interconnect_bandwidth, ...)")
    return name.lower()


class GpuFigures(Model):
    """A GPU that is not in the catalogue, by its data-sheet figures (see `capacity.llm.GpuSpec`)."""

    name: Name
    memory: Quantity = Field(gt=0)                         # bytes: 80Gi
    usable_memory: Quantity | None = Field(default=None, gt=0)  # what CUDA reports (default: memory)
    memory_bandwidth: Quantity = Field(gt=0)               # bytes/s: 3.35T
    bf16_flops: Quantity = Field(gt=0)                     # dense FLOP/s: 989T
    fp8_flops: Quantity | None = Field(default=None, gt=0)  # dense FLOP/s; none: no FP8 tensor cores
    interconnect_bandwidth: Quantity = Field(gt=0)         # bytes/s per direction to its TP peers: 450G

    def spec(self) -> GpuSpec:
        """The `capacity.llm.GpuSpec` of these figures."""
        return GpuSpec(name=self.name, memory_bytes=round(self.memory),
                       usable_memory_bytes=round(self.usable_memory) if self.usable_memory else None,
                       memory_bandwidth=self.memory_bandwidth, bf16_flops=self.bf16_flops,
                       fp8_flops=self.fp8_flops, interconnect_bandwidth=self.interconnect_bandwidth)


GpuName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_catalogue_gpu)]
Gpu = Annotated[Annotated[GpuName, Tag("catalogue-name")] | Annotated[GpuFigures, Tag("figures")],
                Discriminator(name_or_figures)]


def gpu_of(gpu: str | GpuFigures) -> GpuSpec:
    """The `capacity.llm.GpuSpec` of a pool's ``gpu``."""
    return GPUS[gpu] if isinstance(gpu, str) else gpu.spec()


class PoolAutoscaling(Model):
    """A pool's node autoscaler (Cluster Autoscaler / Karpenter) during an autoscaled run: between ``min``
    and ``max`` nodes (default: the pool's ``count``); a new node is schedulable ``provision`` after it is
    asked for; a node below ``utilisation_threshold`` (0.5) whose replicas fit elsewhere is removed once
    it has been so for ``scale_down_after`` (10 min)."""

    min: Int = Field(default=0, ge=0, le=100_000)
    max: Int | None = Field(default=None, ge=1, le=100_000)
    provision: Duration
    scale_down_after: Duration = 600.0
    utilisation_threshold: Annotated[float, BeforeValidator(parse_fraction), Field(ge=0, le=1)] = 0.5

    @model_validator(mode="after")
    def _range(self) -> PoolAutoscaling:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class Pool(Model):
    """A pool of identical nodes; ``count`` is the most nodes the planner may use."""

    added_fields = frozenset({"autoscaling", "gpu"})

    name: Name
    count: Int = Field(ge=1, le=100_000)
    resources: dict[ResourceName, Quantity] = Field(min_length=1)
    cost: Float | None = Field(default=None, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    speed: Float = Field(default=1.0, gt=0, le=1000)       # service times on these nodes are divided by it
    autoscaling: PoolAutoscaling | None = None             # node autoscaling (autoscaled runs)
    gpu: Gpu | None = None                                 # the GPU of its nodes (LLM engine services)


class ClusterAutoscaling(Model):
    """How new replicas and nodes are chosen in an autoscaled run: the ``expander`` that picks a new node's
    pool (least-waste | price) and the ``scheduler`` whose scoring places new replicas."""

    expander: Annotated[str, OneOf(lambda: EXPANDERS)] = "least-waste"   # capacity.autoscaling EXPANDERS
    scheduler: Literal["k8s-least-allocated", "k8s-most-allocated"] = "k8s-least-allocated"


class Cluster(Model):
    added_fields = frozenset({"autoscaling"})

    pools: list[Pool] = Field(min_length=1)
    autoscaling: ClusterAutoscaling | None = None
