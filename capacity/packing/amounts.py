"""Amounts of a resource: when one fits into another, and how one is written for a human.

Amounts are floats (CPU cores such as 0.1, memory in bytes), so sums carry rounding error: three
replicas of 0.1 CPU use 0.30000000000000004 cores. An amount **fits** a node when it is at most the node's
usable capacity times ``1 + FIT_RTOL`` (one part in a billion: a few bytes of a memory size, a nano-core of
a CPU). `fits` is the one place where this tolerance lives; every packer, bound and check uses it.

`amount` writes an amount the way the messages of the packer do: ``12``, ``0.5``, ``7.2Gi`` (memory, and
storage, in binary multiples of bytes).
"""

from __future__ import annotations

from typing import overload

import numpy as np

FIT_RTOL = 1e-9
"""Relative tolerance of every capacity comparison (see the module docstring)."""

_BYTE_RESOURCES = ("memory", "ephemeral-storage", "storage")


@overload
def fits(amount: float, usable: float) -> bool: ...
@overload
def fits(amount: np.ndarray, usable: float | np.ndarray) -> np.ndarray: ...
@overload
def fits(amount: float, usable: np.ndarray) -> np.ndarray: ...
def fits(amount: float | np.ndarray, usable: float | np.ndarray) -> bool | np.ndarray:
    """True where ``amount`` fits into ``usable`` (after headroom), within `FIT_RTOL` (one bool for two
    numbers, an array of them when either is an array)."""
    return amount <= usable * (1.0 + FIT_RTOL) + 1e-12


def amount(resource: str, value: float) -> str:
    """``value`` of ``resource`` for a human: ``12``, ``0.5``, ``7.2Gi`` (memory is in bytes)."""
    if resource in _BYTE_RESOURCES or resource.endswith("memory"):
        for power, suffix in ((4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
            if abs(value) >= 1024**power:
                return number(value / 1024**power) + suffix
        return number(value)
    return number(value)


def number(v: float) -> str:
    """A plain number for a human: at most three decimals, no trailing zeros (``0.5``, ``12``)."""
    return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))
