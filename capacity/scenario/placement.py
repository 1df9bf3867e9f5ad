"""The ``placement`` section: the packer's ``objective`` (a name of the objective registry), the
``headroom`` kept free on every node, the ``solver`` and its ``time_limit`` (seconds), the running placement
(``existing``) and the price of moving a replica (``move_cost``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from capacity.packing.objectives import OBJECTIVES, names_text
from capacity.scenario.fields import Float, Fraction, Int, Model, Name, PositiveDuration, ResourceName


def _registered_objective(name: object) -> object:
    """``placement.objective`` names an objective of `capacity.packing.objectives.OBJECTIVES` (read when the
    scenario is loaded, so that an objective registered by a plugin is allowed)."""
    if not isinstance(name, str) or name not in OBJECTIVES:
        raise ValueError(f"Input should be {names_text((repr(n) for n in OBJECTIVES), 'or')}")
    return name


ObjectiveName = Annotated[str, BeforeValidator(_registered_objective),
                          Field(json_schema_extra=lambda schema: schema.update(enum=list(OBJECTIVES)))]


class PlacementOptions(Model):
    objective: ObjectiveName = "min-nodes"
    headroom: Fraction | dict[ResourceName, Fraction] = 0.0
    solver: Literal["highs", "cbc"] = "highs"
    time_limit: PositiveDuration = 30.0
    existing: dict[str, dict[Name, Int]] = Field(default_factory=dict)  # node -> service -> replicas
    move_cost: Float = Field(default=0.0, ge=0)                         # per moved replica

    def headroom_for(self, resources: Iterable[str]) -> dict[str, float]:
        """Headroom per resource: one fraction for all, or the per-resource map (others 0)."""
        if isinstance(self.headroom, Mapping):
            return {r: float(self.headroom.get(r, 0.0)) for r in resources}
        return {r: float(self.headroom) for r in resources}
