"""Streaming summaries of a sample: exact count, mean and max, quantiles from a DDSketch.

A long run (a day at 1,000 requests/s is 86.4 M requests) cannot keep every latency to compute exact
percentiles. A **DDSketch** (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile sketch
with relative-error guarantees", VLDB 2019; the ``ddsketch`` package, Datadog's reference implementation)
keeps counts in logarithmic buckets ``(γ^(k-1), γ^k]`` with ``γ = (1 + α) / (1 − α)``: any quantile it
returns is within a **relative error** ``α`` of the sample's value at that rank, whatever the
distribution, in memory that grows with the logarithm of the range (1 ms to 1,000 s at ``α = 1 %`` is
about 700 buckets), and two sketches merge exactly (a tenant's sketch is the merge of its classes').

`Summary` wraps one sketch with what stays exact: the count, the sum (so the mean), the minimum and the
maximum. Its quantile at level ``q`` is the sketch's value at rank ``q·(n − 1)``, clipped to
``[min, max]``: within ``α`` of the order statistic ``x_(⌊q(n−1)⌋)`` (0-based), where numpy's default
(linear interpolation, the exact mode's percentiles) lies between that order statistic and the next.

Values are added a numpy array at a time: the bucket keys are computed vectorised with the sketch's own
logarithmic mapping (`bucket_keys`), and each distinct bucket is added once with its count as the weight
(the bucket's representative value, which maps back to the same bucket). So a block of a million values
costs a few numpy passes and one Python call per distinct bucket (hundreds), not a million.

Times are seconds; `RELATIVE_ACCURACY` is the ``α`` the simulator uses and the report states.
"""

from __future__ import annotations

import math

import numpy as np
from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import DenseStore

RELATIVE_ACCURACY = 0.01
"""``α``: every streaming quantile is within 1 % of the sample's value at its rank."""

QUANTILE_LEVELS = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
"""The quantiles of a summary (as `capacity.sim.metrics.QUANTILES`, as fractions)."""


def bucket_keys(mapping: LogarithmicMapping, values: np.ndarray) -> np.ndarray:
    """The bucket key of each positive value, vectorised: ``⌈log_γ(v)⌉ = ⌈log2(v) · ln 2 / ln γ⌉``, what
    `ddsketch.mapping.LogarithmicMapping.key` computes one value at a time (offset 0)."""
    multiplier = math.log(2.0) / math.log1p(mapping.gamma - 1.0)
    return np.ceil(np.log2(values) * multiplier).astype(np.int64)


class Summary:
    """Count, sum, min and max of a sample, exactly, and its quantiles within `RELATIVE_ACCURACY`."""

    def __init__(self, relative_accuracy: float = RELATIVE_ACCURACY) -> None:
        self.mapping = LogarithmicMapping(relative_accuracy)
        self.sketch = BaseDDSketch(
            mapping=self.mapping, store=DenseStore(), negative_store=DenseStore(), zero_count=0.0
        )
        self.count = 0
        self.total = math.fsum(())
        self.minimum = math.inf
        self.maximum = -math.inf

    def add(self, values: np.ndarray) -> None:
        """Add a sample (seconds, non-negative; NaN values are not allowed)."""
        if len(values) == 0:
            return
        self.count += len(values)
        self.total += float(np.sum(values))
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        mapping = self.mapping
        positive = values[values > mapping.min_possible]
        zeros = len(values) - len(positive)
        if zeros:
            self.sketch.add(0.0, float(zeros))
        keys, counts = np.unique(bucket_keys(mapping, positive), return_counts=True)
        for key, n in zip(keys.tolist(), counts.tolist(), strict=True):
            self.sketch.add(mapping.value(key), float(n))

    def merge(self, other: Summary) -> None:
        """Add every value of ``other`` (the sketches merge exactly)."""
        if other.count == 0:
            return
        self.sketch.merge(other.sketch)
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def quantile(self, q: float) -> float | None:
        """The value at level ``q`` in [0, 1] (see the module docstring); None for an empty sample."""
        if self.count == 0:
            return None
        value = self.sketch.get_quantile_value(q)
        assert value is not None  # the sketch holds self.count > 0 values
        return float(min(max(value, self.minimum), self.maximum))

    def summary(self) -> dict[str, float | None]:
        """``{mean, p50, p95, p99, max}`` as `capacity.sim.metrics.summary` gives it, each ``None`` when
        the sample is empty."""
        if self.count == 0:
            return {"mean": None, **dict.fromkeys(QUANTILE_LEVELS), "max": None}
        return {
            "mean": self.total / self.count,
            **{k: self.quantile(q) for k, q in QUANTILE_LEVELS.items()},
            "max": self.maximum,
        }
