"""The ``cluster`` section: pools of identical nodes (how many the planner may use, what each offers, an
hourly cost, labels and a speed that divides service times), and node autoscaling: per pool
(``autoscaling``: min and max nodes, provisioning delay, scale down) and for the cluster (the expander
that picks a new node's pool, the scheduler's scoring). See `capacity.autoscaling.cluster`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from capacity.autoscaling.cluster import EXPANDERS
from capacity.scenario.fields import Duration, Float, Int, Model, Name, OneOf, Quantity, ResourceName
from capacity.units import parse_fraction


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

    added_fields = frozenset({"autoscaling"})

    name: Name
    count: Int = Field(ge=1, le=100_000)
    resources: dict[ResourceName, Quantity] = Field(min_length=1)
    cost: Float | None = Field(default=None, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    speed: Float = Field(default=1.0, gt=0, le=1000)       # service times on these nodes are divided by it
    autoscaling: PoolAutoscaling | None = None             # node autoscaling (autoscaled runs)


class ClusterAutoscaling(Model):
    """How new replicas and nodes are chosen in an autoscaled run: the ``expander`` that picks a new node's
    pool (least-waste | price) and the ``scheduler`` whose scoring places new replicas."""

    expander: Annotated[str, OneOf(lambda: EXPANDERS)] = "least-waste"   # capacity.autoscaling EXPANDERS
    scheduler: Literal["k8s-least-allocated", "k8s-most-allocated"] = "k8s-least-allocated"


class Cluster(Model):
    added_fields = frozenset({"autoscaling"})

    pools: list[Pool] = Field(min_length=1)
    autoscaling: ClusterAutoscaling | None = None
