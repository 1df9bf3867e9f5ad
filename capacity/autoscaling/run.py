"""An autoscaled replay: the model's requests drawn once, then replayed with the `AutoscaleController`
changing replicas and nodes on the simulation clock (see the package docstring). Times are seconds."""

from __future__ import annotations

import numpy as np

from capacity.autoscaling.controller import AutoscaleController
from capacity.autoscaling.model import AutoscalingModel
from capacity.sim.engine import generate_requests, simulate_requests
from capacity.sim.model import SimModel
from capacity.sim.result import SimResult


def simulate(model: SimModel, scaling: AutoscalingModel) -> tuple[SimResult, AutoscaleController]:
    """Replay the model's requests with its services and pools autoscaled; the result and the controller."""
    stream = generate_requests(model)
    service_of_class = np.array([c.service for c in model.classes] or [""], dtype=object)
    arrivals = {}
    for s in scaling.services:
        mine = service_of_class[stream.cls] == s.service if len(stream) else np.zeros(0, dtype=bool)
        arrivals[s.service] = np.sort(stream.arrival_s[mine])
    controller = AutoscaleController(model, scaling, arrivals)
    return simulate_requests(model, stream, (controller,)), controller
