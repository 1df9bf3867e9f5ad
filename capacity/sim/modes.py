"""The two statistics modes of a run: ``exact`` (per-request records, `capacity.sim.engine` and
`capacity.sim.metrics`) and ``streaming`` (running statistics in bounded memory, `capacity.sim.streaming`).

`run_model` runs a model in the mode it asks for (``SimModel.statistics``, resolved from the scenario's
``workload.statistics`` by `capacity.limits.statistics_mode`); `summarize` turns either result into the
report's ``simulation`` section, with the same keys (``statistics`` says which mode ran).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from capacity.sim.engine import simulate_model
from capacity.sim.metrics import summarize as summarize_exact
from capacity.sim.model import SimModel
from capacity.sim.result import SimResult
from capacity.sim.runtime import Controller
from capacity.sim.streaming import StreamingResult, simulate_streaming


def run_model(model: SimModel, controllers: Sequence[Controller] = ()) -> SimResult | StreamingResult:
    """Run ``model`` with the statistics it asks for: `simulate_model` (``exact``: per-request records) or
    `simulate_streaming` (``streaming``: running statistics in bounded memory)."""
    if model.statistics == "streaming":
        return simulate_streaming(model, controllers)
    return simulate_model(model, controllers)


def summarize(model: SimModel, result: SimResult | StreamingResult) -> dict[str, Any]:
    """The report's ``simulation`` section of an exact or a streaming run (`capacity.sim.metrics`)."""
    if isinstance(result, StreamingResult):
        return result.summary()
    return summarize_exact(model, result)
