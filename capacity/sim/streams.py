"""Random streams: one independent, reproducible numpy generator per class (or service) and purpose.

Every draw of a run comes from ``model.seed``. A stream is keyed by a name (a class name, or a service
name for routing) and a purpose, and seeded by ``SeedSequence(seed, spawn_key=(hash(name), purpose))``
with a stable 64-bit BLAKE2b hash of the name. So the same model gives identical results, and adding,
removing or reordering classes (or services) does not change the draws of the others.

Purposes: `ARRIVALS_STREAM` (a class's arrival times), `SERVICE_STREAM` (its service times),
`TOKENS_STREAM` (its token counts), `COLD_START_STREAM` (a service's cold starts, `capacity.autoscaling`),
`PATH_STREAM` (a path class's repeat counts) and `DELAY_STREAM` (its network delays, `capacity.sim.journeys`)
and `ROUTING_STREAM` (a service's random routing choices: the
``random`` and ``power-of-two`` routings of `capacity.sim.routing`).
"""

from __future__ import annotations

import hashlib

import numpy as np

ARRIVALS_STREAM = 0
SERVICE_STREAM = 1
ROUTING_STREAM = 2
TOKENS_STREAM = 3
COLD_START_STREAM = 4
PATH_STREAM = 5
DELAY_STREAM = 6


def class_rng(seed: int, class_name: str, purpose: int) -> np.random.Generator:
    """The generator of one class and purpose (`ARRIVALS_STREAM`, `SERVICE_STREAM`, `TOKENS_STREAM`)."""
    name_key = int.from_bytes(hashlib.blake2b(class_name.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(name_key, purpose)))


def routing_rng(seed: int, service_name: str) -> np.random.Generator:
    """The generator of a service's random routing choices."""
    return class_rng(seed, service_name, ROUTING_STREAM)
