"""Histograms of durations in logarithmic bins: quantiles of many samples (an LLM engine's inter-token
latencies, one per output token) in fixed memory.

A sample of ``x`` seconds falls in bin ``floor(log10(x / ITL_LOW_S) × ITL_BINS_PER_DECADE)`` (clipped to
the first and last bins); a quantile is read at its bin's geometric middle, so it is within a factor
``10^(0.5 / ITL_BINS_PER_DECADE)`` (1.16 %) of the exact sample quantile (the nearest-rank one: the
smallest sample with at least ``q × n`` samples at or below it) for samples between ``ITL_LOW_S`` and
10^4 s.
"""

from __future__ import annotations

import math

import numpy as np

ITL_BINS_PER_DECADE = 100
"""Resolution of the inter-token latency histograms (bins per factor 10)."""

ITL_LOW_S = 1e-6
"""The lower edge of the first inter-token latency bin (s); gaps below count in the first bin."""

ITL_BINS = 10 * ITL_BINS_PER_DECADE
"""Bins of an inter-token latency histogram: from `ITL_LOW_S` to 10^4 s (longer gaps count in the last)."""


def itl_bin(gap_s: float) -> int:
    """The histogram bin of an inter-token gap of ``gap_s`` seconds."""
    if gap_s <= ITL_LOW_S:
        return 0
    return min(ITL_BINS - 1, int(math.log10(gap_s / ITL_LOW_S) * ITL_BINS_PER_DECADE))


def itl_quantiles(counts: np.ndarray, quantiles: tuple[float, ...]) -> list[float | None]:
    """The quantiles of a histogram of inter-token gaps (each at its bin's geometric middle; None when
    the histogram is empty)."""
    total = int(counts.sum())
    if total == 0:
        return [None] * len(quantiles)
    cumulative = np.cumsum(counts)
    out: list[float | None] = []
    for q in quantiles:
        k = int(np.searchsorted(cumulative, max(1, math.ceil(q * total))))
        out.append(ITL_LOW_S * 10 ** ((k + 0.5) / ITL_BINS_PER_DECADE))
    return out
