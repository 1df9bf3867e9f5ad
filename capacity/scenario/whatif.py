"""The ``whatif`` section: variations of the scenario that ``capacity sweep`` runs (`capacity.whatif`
expands them into points; `capacity.scenario.points` validates each at load).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from capacity.scenario.fields import Int, Model, Name

WhatIfKey = Annotated[str, Field(min_length=1, max_length=1000)]


class WhatIf(Model):
    """What-if variations, run by ``capacity sweep`` (`capacity.whatif` expands them into points).

    ``grid`` maps dotted keys (``--set`` syntax, list items by name) to the values to try; every combination
    is a point; a key's values must differ once validated (``[1m, 60s]`` is refused). ``cases`` are named
    sets of ``key: value``; each case is crossed with the grid (with no grid, each case is one point). A key
    may be in the grid or in cases, not both. ``replications`` runs each point with the seeds ``s, s + 1,
    ..., s + replications - 1``, ``s`` the point's seed (``seed``, or its value in the grid or the case).
    """

    grid: dict[WhatIfKey, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    cases: dict[Name, dict[WhatIfKey, Any]] = Field(default_factory=dict)   # {} is the scenario as is
    replications: Int = Field(default=1, ge=1, le=1000)
