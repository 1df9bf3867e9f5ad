"""The replication interval of `capacity.statistics` against Student's t as published and as scipy.stats
computes it."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from capacity.statistics import mean_ci, t_quantile


@pytest.mark.parametrize(("n", "table"), [(2, 12.706), (5, 2.776), (11, 2.228), (31, 2.042)])
def test_the_t_quantile_is_the_published_one(n, table):
    # NIST/SEMATECH e-Handbook, 1.3.6.7.2 (critical values of t, 0.975 one-sided), n - 1 degrees of freedom
    assert t_quantile(n) == pytest.approx(table, abs=5e-4)


@pytest.mark.parametrize("values", [[1.0, 2.0, 3.0, 4.0, 5.0], [0.12, 0.5, 0.31], [7.0, 7.5]])
def test_the_interval_is_scipys_t_interval(values):
    mean, half = mean_ci(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values),
                                 scale=stats.sem(values))
    assert mean == pytest.approx((low + high) / 2)
    assert half == pytest.approx((high - low) / 2)


def test_missing_values_are_left_out_and_one_value_has_no_interval():
    assert mean_ci([None, 2.0, None]) == (2.0, None)
    assert mean_ci([]) == (None, None)
    mean, half = mean_ci([1.0, None, 3.0])
    assert mean == 2.0 and half == pytest.approx(t_quantile(2) * math.sqrt(2.0 / 2))
