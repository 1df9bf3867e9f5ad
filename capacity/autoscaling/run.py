"""An autoscaled replay: the model's requests drawn once, then replayed with the `AutoscaleController`
changing replicas and nodes on the simulation clock (see the package docstring). In a streaming run
(``model.statistics``, `capacity.sim.streaming`) the requests are drawn slice by slice and the autoscalers'
arrival counts are fed block by block as the replay loads them (`ArrivalFeed`). Times are seconds."""

from __future__ import annotations

import numpy as np

from capacity.autoscaling.controller import AutoscaleController
from capacity.autoscaling.metrics import ArrivalFeed
from capacity.autoscaling.model import AutoscalingModel
from capacity.sim.engine import generate_requests, simulate_requests
from capacity.sim.model import SimModel
from capacity.sim.requests import RequestStream
from capacity.sim.result import SimResult
from capacity.sim.streaming import StreamingResult, simulate_streaming


def simulate(model: SimModel,
             scaling: AutoscalingModel) -> tuple[SimResult | StreamingResult, AutoscaleController]:
    """Replay the model's requests with its services and pools autoscaled; the result and the controller.

    In a streaming run the autoscalers' arrival counts are fed block by block as the replay loads them
    (`ArrivalFeed`), so their memory does not grow with the run either."""
    service_of_class = np.array([c.service for c in model.classes] or [""], dtype=object)
    if model.statistics == "streaming":
        feeds = {s.service: ArrivalFeed() for s in scaling.services}
        controller = AutoscaleController(model, scaling, feeds)

        def feed(block: RequestStream) -> None:
            of_service = service_of_class[block.cls]
            for name, arrivals in feeds.items():
                arrivals.extend(block.arrival_s[of_service == name])

        return simulate_streaming(model, (controller,), on_load=feed), controller
    stream = generate_requests(model)
    arrivals = {}
    for s in scaling.services:
        mine = service_of_class[stream.cls] == s.service if len(stream) else np.zeros(0, dtype=bool)
        arrivals[s.service] = ArrivalFeed(np.sort(stream.arrival_s[mine]))
    controller = AutoscaleController(model, scaling, arrivals)
    return simulate_requests(model, stream, (controller,)), controller
