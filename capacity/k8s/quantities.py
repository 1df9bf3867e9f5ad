"""Exact resource amounts for the Kubernetes importer: parse, add, take the larger, print back.

A pod's request is a sum of container requests and a pool's offer is allocatable minus DaemonSet pods, so
amounts are kept as exact `Fraction` values in base units (CPU in cores, memory in bytes, everything else a
count) until they are printed back as Kubernetes quantities: CPU as ``2`` or ``350m``, memory-like
resources with the largest binary suffix that divides them exactly (``64Mi``, ``15896512Ki``), other
resources as plain numbers. `capacity.units.parse_quantity` reads every one of those forms back exactly.

**What the scheduler counts.** An amount is read as the scheduler sees it (`scheduled`): CPU in whole
millicores, every other resource in whole units, each quantity rounded *up* — so a request of ``0.1m`` CPU
(``100u``) is ``1m``, and ``0.5`` bytes of memory is 1. The scheduler sums ``Quantity.MilliValue()`` for
``cpu`` and ``Quantity.Value()`` for memory, pods, ephemeral-storage and extended resources
(kubernetes/kubernetes ``pkg/scheduler/framework/types.go``, ``Resource.Add``), and both round up
(k8s.io/apimachinery ``pkg/api/resource/quantity.go``: "MilliValue returns the value of ceil(q * 1000)",
``ScaledValue`` likewise); the Kubernetes documentation says it too: "Kubernetes doesn't allow you to
specify CPU resources with a precision finer than 1m or 0.001 CPU"
(https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#meaning-of-cpu). Rounding
each quantity as read, before any sum, matches the scheduler, which rounds each container's request before
adding them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction

from capacity.units import parse_quantity_exact

ResourceList = dict[str, Fraction]

#: Resources that are bytes: printed with binary suffixes.
_BYTES_PREFIXES = ("memory", "ephemeral-storage", "storage", "hugepages-")
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def parse(value: object) -> Fraction:
    """A quantity (``100m``, ``0.5``, ``1Gi``, ``1G``, ``1e9``, ``128974848``), exact; `ValueError` if bad."""
    return parse_quantity_exact(value)


def scheduled(resource: str, amount: Fraction) -> Fraction:
    """``amount`` of ``resource`` as the scheduler counts it: CPU rounded up to whole millicores, anything
    else to whole units (see the module docstring)."""
    scale = 1000 if resource == "cpu" else 1
    scaled = amount * scale
    return amount if scaled.denominator == 1 else Fraction(math.ceil(scaled), scale)


def parse_request(resource: str, value: object) -> Fraction:
    """A quantity of ``resource`` read as the scheduler counts it (`parse`, then `scheduled`)."""
    return scheduled(resource, parse(value))


def is_bytes(resource: str) -> bool:
    return resource.startswith(_BYTES_PREFIXES)


def is_extended(resource: str) -> bool:
    """An extended resource (``nvidia.com/gpu``): a domain-prefixed name outside ``kubernetes.io``."""
    return "/" in resource and not resource.split("/", 1)[0].endswith("kubernetes.io")


def format_quantity(resource: str, amount: Fraction) -> str:
    """``amount`` of ``resource`` as a Kubernetes quantity string that parses back to exactly ``amount``."""
    amount = Fraction(amount)
    if amount.denominator == 1:
        n = amount.numerator
        if is_bytes(resource) and n != 0:
            for suffix, size in _BINARY:
                if n % size == 0:
                    return f"{n // size}{suffix}"
        return str(n)
    for suffix, scale in (("m", 10**3), ("u", 10**6), ("n", 10**9)):
        scaled = amount * scale
        if scaled.denominator == 1:
            return f"{scaled.numerator}{suffix}"
    return repr(float(amount))


def scalar(resource: str, amount: Fraction) -> int | str:
    """A quantity for a YAML file: an integer when it is a whole number without a suffix, else the string."""
    text = format_quantity(resource, amount)
    return int(text) if text.isdigit() else text


def add(into: ResourceList, other: Mapping[str, Fraction]) -> ResourceList:
    for r, v in other.items():
        into[r] = into.get(r, Fraction(0)) + v
    return into


def larger(into: ResourceList, other: Mapping[str, Fraction]) -> ResourceList:
    """Per resource, the larger of the two amounts (Kubernetes' ``maxResourceList``)."""
    for r, v in other.items():
        if v > into.get(r, Fraction(0)):
            into[r] = v
    return into


def total(lists: Iterable[Mapping[str, Fraction]]) -> ResourceList:
    out: ResourceList = {}
    for item in lists:
        add(out, item)
    return out


def describe(amounts: Mapping[str, Fraction]) -> str:
    """``cpu 350m, memory 64Mi`` (sorted, cpu and memory first)."""
    order = sorted(amounts, key=lambda r: (r not in ("cpu", "memory"), r))
    return ", ".join(f"{r} {format_quantity(r, amounts[r])}" for r in order) or "no requests"
