"""The engine's input: requests in sequence order, one array per field.

Request ``i`` is the ``i``-th in **sequence order**: by arrival time, ties broken by class order (a stable
sort); its position is its sequence number and its request id everywhere in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class RequestStream:
    """Requests in sequence order (arrival time, then class order): the engine's input."""

    cls: np.ndarray          # int32: class index in model.classes
    arrival_s: np.ndarray    # float64, non-decreasing, in [0, duration_s)
    service_s: np.ndarray    # float64 > 0: service time each request needs
    # token counts of LLM-style requests (int64, one per request); None when no class has tokens
    input_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.arrival_s)

    @classmethod
    def from_arrays(cls, classes: np.ndarray, arrival_s: np.ndarray, service_s: np.ndarray,
                    input_tokens: np.ndarray | None = None,
                    output_tokens: np.ndarray | None = None) -> RequestStream:
        """Sort hand-made (or trace) requests into sequence order; ties keep the given order."""
        order = np.argsort(np.asarray(arrival_s, dtype=np.float64), kind="stable")

        def tokens(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else np.asarray(x, dtype=np.int64)[order]

        return cls(np.asarray(classes, dtype=np.int32)[order],
                   np.asarray(arrival_s, dtype=np.float64)[order],
                   np.asarray(service_s, dtype=np.float64)[order],
                   tokens(input_tokens), tokens(output_tokens))
