"""Units of the scenario file, parsed into plain floats in base units.

* **Quantities** follow the Kubernetes rules for every resource (CPU, memory, GPUs, anything else):
  a number with an optional suffix. Decimal suffixes ``n`` (nano, 10⁻⁹), ``u`` (micro, 10⁻⁶), ``m`` (milli,
  10⁻³), ``k``, ``M``, ``G``, ``T``, ``P``, ``E``; binary suffixes ``Ki``, ``Mi``, ``Gi``, ``Ti``, ``Pi``,
  ``Ei`` (powers of 1024); or an exponent (``1e9``, ``128974848``). So CPU ``500m`` is 0.5 cores and
  memory ``8Gi`` is 8 589 934 592 bytes.
* **Durations** are seconds: ``50ms``, ``250us``, ``2s``, ``10m`` (minutes — a duration is not a quantity),
  ``1h``, ``1d``; a bare number is seconds.
* **Rates** are per second: ``40/s``, ``1200/min``, ``3600/h``, ``40/ms``; a bare number is per second.
* **Fractions** are ``10%`` or ``0.1``.

Each parser raises `ValueError` with a message that names the bad text and the accepted forms; the scenario
loader turns that into a `ScenarioError` with file, line and field. Numbers must be finite (``1e400`` is
refused), and a quantity is at most 64 characters long, so its exponent is bounded before any exact
arithmetic: `parse_quantity_exact` never computes ``10 ** 999999999``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
            "E": 1e18}
_DECIMAL_EXACT = {k: Fraction(10) ** e for k, e in
                  (("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12),
                   ("P", 15), ("E", 18))}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)"
#: The longest quantity text read (``15896512Ki`` is 10): it bounds the digits and the exponent of a quantity.
MAX_QUANTITY_CHARS = 64
#: Beyond ``10 ** ±_EXPONENT_BOUND`` a quantity of at most 64 characters is either not finite or below one
#: nano (which Kubernetes rounds up to 1n): known without computing the power.
_EXPONENT_BOUND = 400
_NANO = Fraction(1, 10**9)
_QUANTITY_RE = re.compile(rf"^({_NUMBER})(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$")

_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0,
                   "h": 3600.0, "d": 86400.0}
_DURATION_RE = re.compile(rf"^({_NUMBER})\s*(us|µs|ms|s|min|m|h|d)?$")
_RATE_RE = re.compile(rf"^({_NUMBER})\s*/\s*(us|ms|s|sec|second|min|minute|h|hour|d|day)$")
_RATE_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0,
               "minute": 60.0, "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}


_RATE_UNITS_RE = "us|ms|s|sec|second|min|minute|h|hour|d|day"
_FLOAT = rf"{_NUMBER}(?:[eE][+-]?\d+)?"          # what float() reads, besides inf/nan and underscores
#: The text each kind of value accepts, as a JSON Schema ``pattern`` (ECMA-262, also Python ``re``): what
#: `capacity schema scenario` offers an editor besides a plain number (the parsers above have the last word).
TEXT_PATTERNS: dict[str, str] = {
    "quantity": rf"^\s*{_NUMBER}(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?\s*$",
    "duration": rf"^\s*{_NUMBER}\s*(?:us|µs|ms|s|min|m|h|d)?\s*$",
    "rate": rf"^\s*{_NUMBER}(?:\s*/\s*(?:{_RATE_UNITS_RE}))?\s*$",
    "fraction": rf"^\s*{_FLOAT}\s*%?\s*$",
    "fraction or rate": rf"^\s*{_FLOAT}\s*(?:%|/\s*(?:{_RATE_UNITS_RE}))?\s*$",
}

def _finite(value: float, text: object) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def not_a_boolean(value: object) -> object:
    """``value`` unchanged unless it is a boolean, which is refused: YAML's ``true`` is never a number here
    (pydantic's lax mode would read it as 1 for an int or float field; used as a before-validator)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    """How a wrong value is named in a message: ``a boolean (true)``, else its repr."""
    return f"a boolean ({str(value).lower()})" if isinstance(value, bool) else repr(value)


def _plain_number(value: object) -> float | None:
    """A YAML int/float (not a bool) as float, or None when ``value`` is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return _finite(float(value), value)
        except OverflowError:  # an int beyond the float range
            raise ValueError("an integer beyond the range of numbers (about 1.8e308)") from None
    return None


def _quantity_match(value: str) -> re.Match[str]:
    text = value.strip()
    if len(text) > MAX_QUANTITY_CHARS:
        raise ValueError(f"bad quantity {value[:20]!r}...: longer than {MAX_QUANTITY_CHARS} characters")
    match = _QUANTITY_RE.match(text)
    if not match:
        raise ValueError(
            f"bad quantity {value!r}: expected a number with an optional suffix "
            "(m, k, M, G, T, Ki, Mi, Gi, Ti, ...), e.g. 500m or 8Gi"
        )
    return match


def parse_quantity(value: object) -> float:
    """A Kubernetes quantity (``500m``, ``8Gi``, ``1G``, ``1e9``, ``4``) as a float in base units."""
    number = _plain_number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        raise ValueError(f"expected a quantity such as 2, 500m or 8Gi, got {_shown(value)}")
    base, suffix, exponent = _quantity_match(value).groups()
    if exponent is not None:
        return _finite(float(f"{base}e{exponent}"), value)  # never 10.0 ** 400 (OverflowError)
    if suffix in _BINARY:
        return _finite(float(base) * _BINARY[suffix], value)
    return _finite(float(base) * _DECIMAL[suffix or ""], value)


def parse_quantity_exact(value: object) -> Fraction:
    """A Kubernetes quantity as an exact `Fraction` in base units (``100m`` → 1/10), for sums that must not
    drift (pod requests, allocatable minus DaemonSet overhead). Accepts what `parse_quantity` accepts.

    As Kubernetes' ``ParseQuantity`` does, a non-zero amount finer than one nano is rounded up (away from
    zero) to the next nano: ``0.1n`` and ``1e-999999999`` are ``1n`` (k8s.io/apimachinery
    ``pkg/api/resource/quantity.go``: "if you want some resources, you should get some resources").
    """
    parse_quantity(value)  # the same checks and messages
    if isinstance(value, int | float):
        return _at_least_a_nano(Fraction(repr(value)) if isinstance(value, float) else Fraction(value))
    base, suffix, exponent = _quantity_match(str(value)).groups()
    mantissa = Fraction(base)
    if exponent is not None:
        power = int(exponent)
        if mantissa == 0 or power > _EXPONENT_BOUND:  # a finite quantity this large has a zero mantissa
            return Fraction(0)
        if power < -_EXPONENT_BOUND:                  # below one nano however long the mantissa
            return _NANO if mantissa > 0 else -_NANO
        return _at_least_a_nano(mantissa * Fraction(10) ** power)
    if suffix in _BINARY:
        return _at_least_a_nano(mantissa * _BINARY[suffix])
    return _at_least_a_nano(mantissa * _DECIMAL_EXACT[suffix or ""])


def _at_least_a_nano(amount: Fraction) -> Fraction:
    """``amount`` rounded up (away from zero) to a whole number of nanos, as Kubernetes parses it."""
    nanos = amount / _NANO
    if nanos.denominator == 1:
        return amount
    whole = math.ceil(abs(nanos))
    return Fraction(whole if amount > 0 else -whole, 10**9)


def parse_duration(value: object) -> float:
    """A duration (``50ms``, ``2s``, ``10m``, ``1h``; a bare number is seconds) in seconds."""
    number = _plain_number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 50ms, 2s, 10m or 1h, got {_shown(value)}")
    match = _DURATION_RE.match(value.strip())
    if not match:
        raise ValueError(f"bad duration {value!r}: expected a number with us, ms, s, m, h or d")
    base, unit = match.groups()
    return _finite(float(base) * _DURATION_UNITS[unit or "s"], value)


def parse_rate(value: object) -> float:
    """A rate (``40/s``, ``1200/min``, ``3600/h``; a bare number is per second) per second."""
    number = _plain_number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        raise ValueError(f"expected a rate such as 40/s or 1200/min, got {_shown(value)}")
    text = value.strip()
    match = _RATE_RE.match(text)
    if match:
        base, unit = match.groups()
        return _finite(float(base) / _RATE_UNITS[unit], value)
    if re.fullmatch(_NUMBER, text):
        return _finite(float(text), value)
    raise ValueError(f"bad rate {value!r}: expected a number per unit, e.g. 40/s, 1200/min or 10/h")


def parse_fraction(value: object) -> float:
    """A fraction, written ``10%`` or ``0.1``, as a float (0.1)."""
    number = _plain_number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        raise ValueError(f"expected a fraction such as 10% or 0.1, got {_shown(value)}")
    text = value.strip()
    try:
        if text.endswith("%"):
            return _finite(float(text[:-1]) / 100.0, value)
        return _finite(float(text), value)
    except ValueError:
        raise ValueError(f"bad fraction {value!r}: expected e.g. 10% or 0.1") from None


def format_quantity(resource: str, amount: float) -> str:
    """A human form of ``amount`` of ``resource``: memory in GiB/MiB, CPU in cores, others plain."""
    if resource in ("memory", "ephemeral-storage", "storage"):
        for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if abs(amount) >= size:
                return f"{amount / size:.4g}{suffix}"
        return f"{amount:.4g}"
    return f"{amount:.4g}"


def format_duration(seconds: float | None) -> str:
    """A human form of a duration in seconds: ``12.3ms``, ``1.5s``, ``2.0min``."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g}us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g}ms"
    if seconds < 120.0:
        return f"{seconds:.3g}s"
    return f"{seconds / 60.0:.3g}min"
