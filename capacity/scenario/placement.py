"""The ``placement`` section: the packer's ``objective`` (a name of the objective registry), the
``headroom`` kept free on every node, the ``solver`` and its ``time_limit`` (seconds), the running placement
(``existing``) and the price of moving a replica (``move_cost``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import Field

from capacity.packing.objectives import OBJECTIVES
from capacity.scenario.fields import Float, Fraction, Int, Model, Name, OneOf, PositiveDuration, ResourceName

#: ``placement.objective``: a name of `capacity.packing.objectives.OBJECTIVES`.
ObjectiveName = Annotated[str, OneOf(lambda: OBJECTIVES)]
#: ``placement.solver``: the names of `capacity.packing.backends.BACKENDS`, written out because that module
#: imports the solver (PuLP), which loading a scenario does not; tests/test_registries.py checks they agree.
SolverName = Literal["highs", "cbc"]


class PlacementOptions(Model):
    objective: ObjectiveName = "min-nodes"
    headroom: Fraction | dict[ResourceName, Fraction] = 0.0
    solver: SolverName = "highs"
    time_limit: PositiveDuration = 30.0
    existing: dict[str, dict[Name, Int]] = Field(default_factory=dict)  # node -> service -> replicas
    move_cost: Float = Field(default=0.0, ge=0)                         # per moved replica

    def headroom_for(self, resources: Iterable[str]) -> dict[str, float]:
        """Headroom per resource: one fraction for all, or the per-resource map (others 0)."""
        if isinstance(self.headroom, Mapping):
            return {r: float(self.headroom.get(r, 0.0)) for r in resources}
        return {r: float(self.headroom) for r in resources}
