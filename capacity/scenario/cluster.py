"""The ``cluster`` section: pools of identical nodes (how many the planner may use, what each offers, an
hourly cost, labels and a speed that divides service times).
"""

from __future__ import annotations

from pydantic import Field

from capacity.scenario.fields import Float, Int, Model, Name, Quantity, ResourceName


class Pool(Model):
    """A pool of identical nodes; ``count`` is the most nodes the planner may use."""

    name: Name
    count: Int = Field(ge=1, le=100_000)
    resources: dict[ResourceName, Quantity] = Field(min_length=1)
    cost: Float | None = Field(default=None, ge=0)
    labels: dict[str, str] = Field(default_factory=dict)
    speed: Float = Field(default=1.0, gt=0, le=1000)       # service times on these nodes are divided by it


class Cluster(Model):
    pools: list[Pool] = Field(min_length=1)
