"""Closed-form queueing results, used to validate the simulator and for quick sizing.

A queue is described in Kendall notation ``A/S/c/K``: the arrival process ``A``, the service-time
distribution ``S``, the number of identical servers ``c`` and the system capacity ``K`` (requests in
service plus waiting; left out when unlimited). ``M`` means Markovian (Poisson arrivals, exponential
service), ``G`` a general distribution described here by its mean and coefficient of variation
``cv = std / mean``. Requests are served first come, first served unless a priority rule is named.

Units: arrival rates ``lam`` (λ) and service rates ``mu`` (μ) are per second; times (waits, service
means, targets) are in seconds. The offered load ``a = λ/μ`` is in Erlangs (the mean number of busy
servers), and the utilisation ``ρ`` is the fraction of time each server is busy: ``ρ = a/c``. Every
formula below is a steady-state result, so it exists only when the queue is stable (``ρ < 1``); the
functions raise `ValueError` for an unstable system and for bad arguments, naming the argument.

Models
------
* **Erlang B** (``M/M/c/c``, the loss system): the probability that an arrival finds all ``c``
  servers busy and is turned away. Computed by the recurrence ``B(0) = 1``,
  ``B(k) = a·B(k−1) / (k + a·B(k−1))``, which stays between 0 and 1 and so never overflows, even
  for thousands of servers (the textbook ``a^c/c!`` form overflows near ``c = 170``).
* **Erlang C** (``M/M/c``): the probability that an arrival has to wait, from Erlang B as
  ``C = B / (1 − ρ(1 − B))``. The waiting time ``W_q`` is 0 with probability ``1 − C`` and otherwise
  exponential with rate ``cμ − λ``, so ``E[W_q] = C / (cμ − λ)`` and
  ``P(W_q ≤ t) = 1 − C·exp(−(cμ − λ)t)``.
* **Pollaczek–Khinchine** (``M/G/1``): ``E[W_q] = λE[S²] / (2(1 − ρ))`` with
  ``E[S²] = E[S]²(1 + cv²)``. ``cv = 1`` gives ``M/M/1``, ``cv = 0`` gives ``M/D/1``.
* **Cobham, non-preemptive priority** (``M/G/1`` and ``M/M/c``): classes ``0, 1, …``, class 0
  served first; a request in service is never interrupted; FIFO within a class. With
  ``σ_k = ρ_0 + … + ρ_k`` (and ``σ_{−1} = 0``) the mean wait in queue of class ``k`` is
  ``W_k = W_0 / ((1 − σ_{k−1})(1 − σ_k))``. For ``M/G/1``, ``W_0 = Σ λ_i E[S_i²] / 2`` (the mean
  residual work found in service). For ``M/M/c`` every class must share one service rate ``μ``;
  then ``W_0 = C(c, a) / (cμ)`` with ``a = Σ λ_i / μ`` and ``ρ_i = λ_i / (cμ)``.
* **Preemptive-resume priority** (``M/G/1``): a higher-class arrival interrupts the request in
  service, which later resumes where it stopped. The mean sojourn (wait plus service) of class
  ``k`` is ``T_k = E[S_k]/(1 − σ_{k−1}) + Σ_{i≤k} λ_i E[S_i²] / (2(1 − σ_{k−1})(1 − σ_k))``; lower
  classes are invisible to class ``k``.
* **Finite buffers** (``M/M/1/K`` and ``M/M/c/K``): at most ``K`` requests in the system; arrivals
  that find it full are lost. The blocking probability is the stationary probability of state
  ``K`` (PASTA). These systems are stable for any load, including ``ρ ≥ 1``.
* **Little's law** ``L = λW``: holds for any stable system in steady state.
* **Open Jackson networks** (Jackson 1957, "Networks of waiting lines", *Operations Research* 5(4)
  518–521; Kleinrock, *Queueing Systems* vol. 1, 1975, §4.8): Poisson arrivals, exponential service,
  FIFO ``M/M/c`` stations, and routing that does not depend on the past (a tandem, or feedback that
  leaves after each pass with a fixed probability). Station ``i`` receives ``λ_i = λ·V_i`` (``V_i``:
  its visit ratio, the mean visits a request makes there) and behaves as an isolated ``M/M/c_i``
  queue at that rate (product form), so the mean end-to-end sojourn is ``Σ V_i·T_i(λ_i)`` with
  ``T_i = E[W_q] + 1/μ_i`` (by Little's law on the whole network).
* **Fork-join of ``K`` M/M/1 branches** (Nelson & Tantawi 1988, "Approximate analysis of fork/join
  synchronization in parallel queues", *IEEE Trans. Computers* 37(6) 739–743): each request splits
  into ``K`` tasks, one per identical M/M/1 queue (rate ``μ`` each), and is done when all are. For
  ``K = 2`` the mean response time is exact (Flatto & Hahn 1984; Nelson & Tantawi 1988 eq. 3):
  ``R_2 = (12 − ρ)/8 · 1/(μ − λ)``; for ``K ≥ 2`` their approximation is
  ``R_K ≈ [H_K/H_2 + (4/11)(1 − H_K/H_2)ρ] · R_2`` with ``H_K = Σ_{i≤K} 1/i``, which they report
  within about 5% of simulation for ``2 ≤ K ≤ 32`` and ``0 < ρ < 1``.

The sizing helpers ``servers_for_mean_wait`` and ``servers_for_wait_quantile`` return the fewest
``M/M/c`` servers that are stable and meet a waiting-time target.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

__all__ = [
    "erlang_b",
    "erlang_c",
    "fork_join_mm1_mean_response",
    "jackson_mean_sojourn",
    "littles_law_l",
    "mg1_mean_wait",
    "mm1k_blocking",
    "mmc_mean_sojourn",
    "mmc_mean_wait",
    "mmc_wait_cdf",
    "mmc_wait_quantile",
    "mmck_blocking",
    "preemptive_resume_mg1_mean_sojourns",
    "priority_mg1_mean_waits",
    "priority_mmc_mean_waits",
    "servers_for_mean_wait",
    "servers_for_wait_quantile",
]


# --------------------------------------------------------------------------- argument checks


def _int_arg(name: str, value: object, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``; bools and floats are refused."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n}")
    return n


def _real_arg(name: str, value: object, *, positive: bool = False, finite: bool = True) -> float:
    """``value`` as a float that is >= 0 (> 0 if ``positive``); NaN is always refused."""
    kind = "> 0" if positive else ">= 0"
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number {kind}, got {value!r}") from None
    if math.isnan(x) or (finite and math.isinf(x)) or x < 0 or (positive and x == 0):
        raise ValueError(f"{name} must be a finite real number {kind}, got {value!r}")
    return x


def _unit_interval_arg(name: str, value: object) -> float:
    """``value`` as a float in [0, 1)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}") from None
    if not 0.0 <= x < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
    return x


def _classes_arg(
    lams: Sequence[float], means: Sequence[float], cvs: Sequence[float]
) -> tuple[list[float], list[float], list[float]]:
    """Per-class rates, mean service times and CVs, checked element by element."""
    lam_l, mean_l, cv_l = list(lams), list(means), list(cvs)
    if not lam_l:
        raise ValueError("lams must hold at least one class, got an empty sequence")
    if not len(lam_l) == len(mean_l) == len(cv_l):
        raise ValueError(
            "lams, means and cvs must have one entry per class, got lengths "
            f"{len(lam_l)}, {len(mean_l)} and {len(cv_l)}"
        )
    lam_f = [_real_arg(f"lams[{k}]", v) for k, v in enumerate(lam_l)]
    mean_f = [_real_arg(f"means[{k}]", v, positive=True) for k, v in enumerate(mean_l)]
    cv_f = [_real_arg(f"cvs[{k}]", v) for k, v in enumerate(cv_l)]
    return lam_f, mean_f, cv_f


def _check_stable_mmc(c: int, a: float) -> None:
    if a >= c:
        raise ValueError(
            f"unstable M/M/{c}: offered load a = λ/μ = {a:g} must be below c = {c} "
            f"(utilisation ρ = a/c = {a / c:g} >= 1)"
        )


def _check_stable_total(rho: float) -> None:
    if rho >= 1.0:
        raise ValueError(f"unstable queue: total utilisation ρ = Σ λ_k E[S_k] = {rho:g} >= 1")


# --------------------------------------------------------------------------- Erlang B and C


def _erlang_b_step(k: int, a: float, b_prev: float) -> float:
    """One step of the Erlang B recurrence: B(k) from B(k−1)."""
    ab = a * b_prev
    return ab / (k + ab)


def _erlang_c_from_b(c: int, a: float, b: float) -> float:
    """Erlang C from Erlang B for the same ``c`` and ``a`` (requires ``a < c``)."""
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def erlang_b(c: int, offered_load: float) -> float:
    """Blocking probability of the M/M/c/c loss system with offered load ``a = λ/μ`` Erlangs.

    ``c = 0`` is allowed (every arrival is lost: 1.0). Any load is allowed: a loss system is
    always stable.
    """
    c = _int_arg("c", c, 0)
    a = _real_arg("offered_load", offered_load)
    b = 1.0
    for k in range(1, c + 1):
        b = _erlang_b_step(k, a, b)
    return b


def erlang_c(c: int, offered_load: float) -> float:
    """Probability that an arrival waits (``P(W_q > 0)``) in M/M/c, offered load ``a = λ/μ``.

    Raises `ValueError` unless ``a < c``.
    """
    c = _int_arg("c", c, 1)
    a = _real_arg("offered_load", offered_load)
    _check_stable_mmc(c, a)
    return _erlang_c_from_b(c, a, erlang_b(c, a))


# --------------------------------------------------------------------------- M/M/c waiting time


def _drain_rate(mu: float, c: int, a: float) -> float:
    """``cμ − λ``, computed as ``μ(c − a)`` so that it is > 0 whenever ``a < c`` in floats."""
    return mu * (c - a)


def _mmc_args(lam: float, mu: float, c: int) -> tuple[int, float, float]:
    """Checked ``c``, offered load ``a = λ/μ`` and drain rate ``cμ − λ`` of a stable M/M/c."""
    lam = _real_arg("lam", lam)
    mu = _real_arg("mu", mu, positive=True)
    c = _int_arg("c", c, 1)
    a = lam / mu
    _check_stable_mmc(c, a)
    drain = _drain_rate(mu, c, a)
    if drain == 0.0:
        raise ValueError(f"cμ − λ underflows to 0 for lam = {lam!r}, mu = {mu!r}, c = {c}")
    return c, a, drain


def mmc_mean_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue ``E[W_q] = C(c, a) / (cμ − λ)`` of M/M/c, in seconds."""
    c, a, drain = _mmc_args(lam, mu, c)
    return _erlang_c_from_b(c, a, erlang_b(c, a)) / drain


def mmc_wait_cdf(t: float, lam: float, mu: float, c: int) -> float:
    """``P(W_q <= t) = 1 − C(c, a)·exp(−(cμ − λ)t)`` for ``t >= 0`` (0 for ``t < 0``)."""
    c, a, drain = _mmc_args(lam, mu, c)
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise ValueError(f"t must be a time in seconds, got {t!r}") from None
    if math.isnan(t):
        raise ValueError(f"t must be a time in seconds, got {t!r}")
    if t < 0:
        return 0.0
    wait_prob = _erlang_c_from_b(c, a, erlang_b(c, a))
    return 1.0 - wait_prob * math.exp(-drain * t)


def mmc_wait_quantile(q: float, lam: float, mu: float, c: int) -> float:
    """The ``q``-quantile of the M/M/c wait in queue, in seconds; ``q`` in [0, 1).

    0 when ``q <= 1 − C(c, a)`` (that many requests do not wait at all); otherwise
    ``ln(C / (1 − q)) / (cμ − λ)``.
    """
    q = _unit_interval_arg("q", q)
    c, a, drain = _mmc_args(lam, mu, c)
    wait_prob = _erlang_c_from_b(c, a, erlang_b(c, a))
    if q <= 1.0 - wait_prob:
        return 0.0
    return max(0.0, (math.log(wait_prob) - math.log1p(-q)) / drain)


# --------------------------------------------------------------------------- M/G/1 and priorities


def mg1_mean_wait(lam: float, mean_s: float, cv: float) -> float:
    """Pollaczek–Khinchine mean wait in queue of M/G/1: ``λE[S²] / (2(1 − ρ))``, in seconds.

    ``mean_s`` is the mean service time (s), ``cv`` its coefficient of variation, so
    ``E[S²] = mean_s²(1 + cv²)`` and ``ρ = λ·mean_s``.
    """
    lam = _real_arg("lam", lam)
    mean_s = _real_arg("mean_s", mean_s, positive=True)
    cv = _real_arg("cv", cv)
    rho = lam * mean_s
    _check_stable_total(rho)
    second_moment = mean_s * mean_s * (1.0 + cv * cv)
    return lam * second_moment / (2.0 * (1.0 - rho))


def priority_mg1_mean_waits(
    lams: Sequence[float], means: Sequence[float], cvs: Sequence[float]
) -> list[float]:
    """Cobham mean waits in queue (s) per class of non-preemptive priority M/G/1.

    Class 0 has the highest priority. ``W_k = W_0 / ((1 − σ_{k−1})(1 − σ_k))`` with
    ``W_0 = Σ λ_i E[S_i²] / 2`` and ``σ_k = Σ_{i≤k} λ_i E[S_i]``. Raises `ValueError` unless the
    total utilisation is below 1 (every class contributes to the residual work ``W_0``).
    """
    lam_f, mean_f, cv_f = _classes_arg(lams, means, cvs)
    rhos = [lam * m for lam, m in zip(lam_f, mean_f, strict=True)]
    _check_stable_total(math.fsum(rhos))
    w0 = (
        math.fsum(lam * m * m * (1.0 + cv * cv) for lam, m, cv in zip(lam_f, mean_f, cv_f, strict=True)) / 2.0
    )
    waits: list[float] = []
    sigma_prev = 0.0
    for k in range(len(rhos)):
        sigma = math.fsum(rhos[: k + 1])
        waits.append(w0 / ((1.0 - sigma_prev) * (1.0 - sigma)))
        sigma_prev = sigma
    return waits


def priority_mmc_mean_waits(lams: Sequence[float], mu: float, c: int) -> list[float]:
    """Cobham mean waits in queue (s) per class of non-preemptive priority M/M/c.

    All classes share the service rate ``mu``; class 0 has the highest priority.
    ``W_k = (C(c, a)/(cμ)) / ((1 − σ_{k−1})(1 − σ_k))`` with ``a = Σ λ_i / μ`` and
    ``σ_k = Σ_{i≤k} λ_i / (cμ)``.
    """
    lam_l = list(lams)
    if not lam_l:
        raise ValueError("lams must hold at least one class, got an empty sequence")
    lam_f = [_real_arg(f"lams[{k}]", v) for k, v in enumerate(lam_l)]
    mu = _real_arg("mu", mu, positive=True)
    c = _int_arg("c", c, 1)
    a = math.fsum(lam_f) / mu
    _check_stable_mmc(c, a)
    w0 = _erlang_c_from_b(c, a, erlang_b(c, a)) / (c * mu)
    waits: list[float] = []
    sigma_prev = 0.0
    for k in range(len(lam_f)):
        sigma = math.fsum(lam_f[: k + 1]) / mu / c  # the last one is exactly a / c < 1
        waits.append(w0 / ((1.0 - sigma_prev) * (1.0 - sigma)))
        sigma_prev = sigma
    return waits


def preemptive_resume_mg1_mean_sojourns(
    lams: Sequence[float], means: Sequence[float], cvs: Sequence[float]
) -> list[float]:
    """Mean sojourn times (wait + service, s) per class of preemptive-resume priority M/G/1.

    Class 0 has the highest priority.
    ``T_k = E[S_k]/(1 − σ_{k−1}) + Σ_{i≤k} λ_i E[S_i²] / (2(1 − σ_{k−1})(1 − σ_k))``.
    Raises `ValueError` unless the total utilisation is below 1 (the lowest class would otherwise
    have no steady state).
    """
    lam_f, mean_f, cv_f = _classes_arg(lams, means, cvs)
    rhos = [lam * m for lam, m in zip(lam_f, mean_f, strict=True)]
    _check_stable_total(math.fsum(rhos))
    residual_terms = [
        lam * m * m * (1.0 + cv * cv) / 2.0 for lam, m, cv in zip(lam_f, mean_f, cv_f, strict=True)
    ]
    sojourns: list[float] = []
    sigma_prev = 0.0
    for k in range(len(rhos)):
        sigma = math.fsum(rhos[: k + 1])
        residual = math.fsum(residual_terms[: k + 1])
        sojourns.append(mean_f[k] / (1.0 - sigma_prev) + residual / ((1.0 - sigma_prev) * (1.0 - sigma)))
        sigma_prev = sigma
    return sojourns


# --------------------------------------------------------------------------- finite buffers


def mm1k_blocking(lam: float, mu: float, K: int) -> float:
    """Blocking probability of M/M/1/K: ``(1 − ρ)ρ^K / (1 − ρ^{K+1})``, or ``1/(K+1)`` at ρ = 1.

    ``K >= 1`` is the system capacity (the one in service plus those waiting). Any ``ρ`` is
    allowed. For ``ρ > 1`` the equivalent form ``(1 − r)/(1 − r^{K+1})`` with ``r = 1/ρ`` is used
    so that nothing overflows.
    """
    lam = _real_arg("lam", lam)
    mu = _real_arg("mu", mu, positive=True)
    K = _int_arg("K", K, 1)
    rho = lam / mu
    if rho == 0.0:  # no traffic (or so little that λ/μ underflows)
        return 0.0
    if rho == 1.0:
        return 1.0 / (K + 1)
    log_rho = math.log(rho)
    if rho < 1.0:
        # (1 − ρ)ρ^K / (1 − ρ^{K+1}); expm1 keeps precision near ρ = 1.
        return -math.expm1(log_rho) * math.exp(K * log_rho) / -math.expm1((K + 1) * log_rho)
    # ρ > 1: (1 − r)/(1 − r^{K+1}) with ln r = −ln ρ.
    return -math.expm1(-log_rho) / -math.expm1(-(K + 1) * log_rho)


def mmck_blocking(lam: float, mu: float, c: int, K: int) -> float:
    """Blocking probability of M/M/c/K (``c`` servers, at most ``K >= c`` in the system).

    With ``B = B(c, a)`` (Erlang B), ``ρ = a/c`` and ``m = K − c`` waiting places, the stationary
    probabilities above ``c`` are ``p_c ρ^j``, which gives
    ``P_K = B ρ^m / (1 + B Σ_{j=1..m} ρ^j)``. For ``ρ > 1`` numerator and denominator are divided by
    ``ρ^m`` so that nothing overflows. ``K = c`` is Erlang B; ``c = 1`` is M/M/1/K.
    """
    lam = _real_arg("lam", lam)
    mu = _real_arg("mu", mu, positive=True)
    c = _int_arg("c", c, 1)
    K = _int_arg("K", K, 1)
    if c > K:
        raise ValueError(f"K (system capacity) must be >= c = {c} servers, got K = {K}")
    a = lam / mu
    b = erlang_b(c, a)
    m = K - c
    if m == 0:
        return b
    rho = a / c
    if rho == 0.0:  # no traffic (or so little that λ/(cμ) underflows): P_K ∝ ρ^m = 0
        return 0.0
    if rho == 1.0:
        return b / (1.0 + b * m)
    log_rho = math.log(rho)
    if rho < 1.0:
        # Σ_{j=1..m} ρ^j = ρ(1 − ρ^m)/(1 − ρ)
        geometric = rho * math.expm1(m * log_rho) / math.expm1(log_rho)
        return b * math.exp(m * log_rho) / (1.0 + b * geometric)
    # ρ > 1: P_K = B / (ρ^{−m} + B Σ_{i=0..m−1} ρ^{−i}), Σ = (1 − ρ^{−m})/(1 − ρ^{−1})
    geometric = math.expm1(-m * log_rho) / math.expm1(-log_rho)
    return b / (math.exp(-m * log_rho) + b * geometric)


# --------------------------------------------------------------------------- Little's law


def littles_law_l(lam: float, w: float) -> float:
    """Mean number in the system ``L = λW`` (``lam`` per second, ``w`` in seconds)."""
    return _real_arg("lam", lam) * _real_arg("w", w)


# --------------------------------------------------------------------------- networks


def mmc_mean_sojourn(lam: float, mu: float, c: int) -> float:
    """Mean time in an M/M/c system ``T = E[W_q] + 1/μ``, in seconds."""
    return mmc_mean_wait(lam, mu, c) + 1.0 / _real_arg("mu", mu, positive=True)


def jackson_mean_sojourn(lam: float, stations: Sequence[tuple[float, float, int]]) -> float:
    """Mean end-to-end sojourn of an open Jackson network, in seconds.

    ``lam``: external arrival rate (per second); ``stations``: per station ``(V, μ, c)`` — its visit
    ratio, service rate per server and servers. ``Σ V·T_{M/M/c}(λV, μ, c)``; raises `ValueError` when a
    station is unstable (``λV ≥ cμ``).
    """
    lam = _real_arg("lam", lam)
    total = 0.0
    for k, (visits, mu, c) in enumerate(stations):
        v = _real_arg(f"stations[{k}].visits", visits)
        total += v * mmc_mean_sojourn(lam * v, mu, c) if v > 0 else 0.0
    return total


def fork_join_mm1_mean_response(lam: float, mu: float, k: int) -> float:
    """Mean response time of a fork-join of ``k`` identical M/M/1 branches (Nelson & Tantawi 1988):
    exact for ``k = 2`` (``(12 − ρ)/8 · 1/(μ − λ)``), their approximation (within ~5%) for ``k > 2``;
    ``k = 1`` is M/M/1 (``1/(μ − λ)``)."""
    k = _int_arg("k", k, 1)
    _, a, drain = _mmc_args(lam, mu, 1)
    r1 = 1.0 / drain
    if k == 1:
        return r1
    r2 = (12.0 - a) / 8.0 * r1
    h2 = 1.5
    hk = math.fsum(1.0 / i for i in range(1, k + 1))
    return (hk / h2 + 4.0 / 11.0 * (1.0 - hk / h2) * a) * r2


# --------------------------------------------------------------------------- sizing


def _smallest_stable_c(a: float) -> int:
    return math.floor(a) + 1


def _search_servers(lam: float, mu: float, meets_target: Callable[[float, float], bool]) -> int:
    """Fewest stable ``c`` for which ``meets_target(C(c, a), cμ − λ)`` holds, scanning ``c`` up.

    Erlang B is carried along the scan (one recurrence step per ``c``), so the values are exactly
    those that `mmc_mean_wait` and `mmc_wait_cdf` compute, and the whole search costs O(answer).
    """
    a = lam / mu
    c = _smallest_stable_c(a)
    b = 1.0
    for k in range(1, c + 1):
        b = _erlang_b_step(k, a, b)
    while True:
        drain = _drain_rate(mu, c, a)
        if drain > 0.0 and meets_target(_erlang_c_from_b(c, a, b), drain):
            return c
        c += 1
        b = _erlang_b_step(c, a, b)


def servers_for_mean_wait(lam: float, mu: float, target_wait_s: float) -> int:
    """Fewest servers ``c`` such that M/M/c is stable and ``E[W_q] <= target_wait_s``.

    With no traffic (``lam = 0``) the answer is 1, the smallest M/M/c. ``target_wait_s`` must be
    > 0 when ``lam > 0``: the mean wait of a loaded M/M/c is never exactly 0.
    """
    lam = _real_arg("lam", lam)
    mu = _real_arg("mu", mu, positive=True)
    target = _real_arg("target_wait_s", target_wait_s, positive=lam > 0)

    def meets(wait_prob: float, drain: float) -> bool:
        return wait_prob / drain <= target

    return _search_servers(lam, mu, meets)


def servers_for_wait_quantile(lam: float, mu: float, q: float, target_s: float) -> int:
    """Fewest servers ``c`` such that M/M/c is stable and ``P(W_q <= target_s) >= q``.

    ``q`` is in [0, 1) and ``target_s >= 0`` (``target_s = 0`` asks that a fraction ``q`` of
    requests do not wait at all).
    """
    lam = _real_arg("lam", lam)
    mu = _real_arg("mu", mu, positive=True)
    q = _unit_interval_arg("q", q)
    target = _real_arg("target_s", target_s)

    def meets(wait_prob: float, drain: float) -> bool:
        return 1.0 - wait_prob * math.exp(-drain * target) >= q

    return _search_servers(lam, mu, meets)
