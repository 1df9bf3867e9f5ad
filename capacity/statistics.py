"""Statistics over independent replications: the mean of a figure and its 95 % confidence interval.

A sweep runs each point with several seeds, and sizing measures each candidate with several seeds; each run
gives one value of a figure (a latency in seconds, an SLO attainment as a fraction). The runs are
independent, so the mean over ``n`` runs has the Student-t interval ``mean ± t(0.975, n − 1) · s / √n``,
``s`` the sample standard deviation — the method of independent replications (Law, *Simulation Modeling
and Analysis*, 5th ed., §9.4.1; NIST/SEMATECH e-Handbook of Statistical Methods, §7.2.2.1). The interval is
in the unit of the values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def t_quantile(n: int) -> float:
    """The 0.975 quantile of Student's t with ``n - 1`` degrees of freedom (``n >= 2``)."""
    from scipy.special import stdtrit  # scipy.stats would cost seconds of import time

    return float(stdtrit(n - 1, 0.975))


def mean_ci(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and the half-width of its 95 % Student-t interval (None with fewer than two values); ``None``
    values (runs without the figure) are left out."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None, None
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None
    var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)
    return mean, t_quantile(len(xs)) * math.sqrt(var / len(xs))
