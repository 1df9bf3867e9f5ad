"""Tests of `capacity.theory` against textbook values, independent computations and known laws.

Independent references used here: exact rational arithmetic for Erlang B/C, a log-space formula for
large ``c``, the stationary distribution of the birth–death chain solved with numpy (for M/M/c and
M/M/c/K), and numerical integration of the waiting-time CDF with scipy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate

from capacity.theory import (
    erlang_b,
    erlang_c,
    littles_law_l,
    mg1_mean_wait,
    mm1k_blocking,
    mmc_mean_wait,
    mmc_wait_cdf,
    mmc_wait_quantile,
    mmck_blocking,
    preemptive_resume_mg1_mean_sojourns,
    priority_mg1_mean_waits,
    priority_mmc_mean_waits,
    servers_for_mean_wait,
    servers_for_wait_quantile,
)

from .conftest import examples

REL = 1e-9

# --------------------------------------------------------------------------- references


def exact_erlang_b(c: int, a: Fraction) -> Fraction:
    """``(a^c/c!) / Σ_{k≤c} a^k/k!`` in exact arithmetic."""
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def exact_erlang_c(c: int, a: Fraction) -> Fraction:
    """Textbook Erlang C ``(a^c/c!)(c/(c−a)) / (Σ_{k<c} a^k/k! + (a^c/c!)(c/(c−a)))``."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def log_space_erlang_c(c: int, a: float) -> float:
    """Erlang C from log-terms (lgamma + logsumexp): a reference that also survives large ``c``."""
    k = np.arange(c)
    log_terms = k * math.log(a) - np.array([math.lgamma(x + 1) for x in k])
    log_top = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    log_all = np.append(log_terms, log_top)
    shift = log_all.max()
    return float(math.exp(log_top - shift) / np.exp(log_all - shift).sum())


def birth_death_distribution(lam: float, mu: float, c: int, n_max: int) -> np.ndarray:
    """Stationary distribution of the M/M/c chain truncated at ``n_max``, solved as ``πQ = 0``."""
    n = n_max + 1
    q = np.zeros((n, n))
    for i in range(n):
        if i < n_max:
            q[i, i + 1] = lam
        if i > 0:
            q[i, i - 1] = min(i, c) * mu
        q[i, i] = -q[i].sum()
    # Replace one balance equation by normalisation.
    lhs = np.vstack([q.T[:-1], np.ones(n)])
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    return np.linalg.solve(lhs, rhs)


# --------------------------------------------------------------------------- Erlang B and C


def test_erlang_c_two_servers_one_erlang_is_one_third() -> None:
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3, rel=REL)


@pytest.mark.parametrize(
    ("c", "a", "expected"),
    [
        (10, 5.0, 0.01838457),  # standard Erlang B table
        (1, 1.0, 0.5),
        (2, 1.0, 0.2),
        (5, 2.0, 0.03669725),
    ],
)
def test_erlang_b_table_values(c: int, a: float, expected: float) -> None:
    assert erlang_b(c, a) == pytest.approx(expected, rel=1e-6)


def test_erlang_b_edge_cases() -> None:
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(4, 0.0) == 0.0
    assert erlang_b(1, 3.0) == pytest.approx(3.0 / 4.0, rel=REL)


@pytest.mark.parametrize("c", [1, 2, 3, 7, 20, 60])
@pytest.mark.parametrize("a_frac", [Fraction(1, 10), Fraction(1, 2), Fraction(9, 10)])
def test_erlang_b_and_c_match_exact_arithmetic(c: int, a_frac: Fraction) -> None:
    a = a_frac * c  # utilisation 0.1, 0.5, 0.9
    assert erlang_b(c, float(a)) == pytest.approx(float(exact_erlang_b(c, a)), rel=1e-12)
    assert erlang_c(c, float(a)) == pytest.approx(float(exact_erlang_c(c, a)), rel=1e-12)


@pytest.mark.parametrize(("c", "rho"), [(3, 0.7), (8, 0.9), (25, 0.95)])
def test_erlang_c_and_mean_wait_match_birth_death_chain(c: int, rho: float) -> None:
    mu = 2.0
    lam = rho * c * mu
    p = birth_death_distribution(lam, mu, c, n_max=c + 1500)
    n = np.arange(p.size)
    assert erlang_c(c, lam / mu) == pytest.approx(p[c:].sum(), rel=1e-8)
    queue_length = float(((n - c).clip(min=0) * p).sum())
    assert mmc_mean_wait(lam, mu, c) == pytest.approx(queue_length / lam, rel=1e-8)


@pytest.mark.parametrize(("c", "a"), [(500, 450.0), (500, 490.0), (500, 499.5), (5000, 4900.0)])
def test_large_c_is_stable(c: int, a: float) -> None:
    b = erlang_b(c, a)
    wait_prob = erlang_c(c, a)
    assert 0.0 < b < wait_prob < 1.0
    assert wait_prob == pytest.approx(log_space_erlang_c(c, a), rel=1e-9)
    wait = mmc_mean_wait(a, 1.0, c)
    assert math.isfinite(wait)
    assert wait == pytest.approx(wait_prob / (c - a), rel=REL)


def test_large_c_light_load_underflows_to_zero_not_nan() -> None:
    assert erlang_b(500, 1e-3) == 0.0
    assert erlang_c(500, 1e-3) == 0.0
    assert mmc_wait_quantile(0.999, 1e-3, 1.0, 500) == 0.0


# --------------------------------------------------------------------------- M/M/c waits


@pytest.mark.parametrize(("lam", "mu"), [(0.5, 1.0), (9.0, 10.0), (0.01, 3.0)])
def test_mm1_mean_wait_is_rho_over_mu_minus_lambda(lam: float, mu: float) -> None:
    rho = lam / mu
    assert mmc_mean_wait(lam, mu, 1) == pytest.approx(rho / (mu - lam), rel=REL)
    assert erlang_c(1, rho) == pytest.approx(rho, rel=REL)


def test_mm1_wait_cdf_closed_form() -> None:
    lam, mu = 3.0, 5.0
    rho = lam / mu
    for t in [0.0, 0.1, 1.0, 7.0]:
        expected = 1.0 - rho * math.exp(-(mu - lam) * t)
        assert mmc_wait_cdf(t, lam, mu, 1) == pytest.approx(expected, rel=REL)
    assert mmc_wait_cdf(-1.0, lam, mu, 1) == 0.0
    assert mmc_wait_cdf(math.inf, lam, mu, 1) == 1.0


def test_mm2_textbook_mean_wait() -> None:
    # λ = μ = 1, c = 2: C = 1/3, E[W_q] = C / (cμ − λ) = 1/3.
    assert mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3, rel=REL)


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.8, 1.0, 1), (7.0, 2.0, 4), (95.0, 1.0, 100)])
def test_mean_wait_is_integral_of_wait_tail(lam: float, mu: float, c: int) -> None:
    tail, _ = integrate.quad(lambda t: 1.0 - mmc_wait_cdf(t, lam, mu, c), 0.0, math.inf)
    assert tail == pytest.approx(mmc_mean_wait(lam, mu, c), rel=1e-7)


def test_quantile_zero_when_enough_requests_do_not_wait() -> None:
    lam, mu, c = 1.0, 1.0, 2  # C = 1/3
    assert mmc_wait_quantile(0.0, lam, mu, c) == 0.0
    assert mmc_wait_quantile(0.6, lam, mu, c) == 0.0
    assert mmc_wait_quantile(2 / 3 - 1e-12, lam, mu, c) == 0.0
    # q = 0.9: ln((1/3)/0.1) / (2 − 1)
    assert mmc_wait_quantile(0.9, lam, mu, c) == pytest.approx(math.log(10 / 3), rel=REL)


def test_no_traffic_never_waits() -> None:
    assert mmc_mean_wait(0.0, 1.0, 3) == 0.0
    assert mmc_wait_cdf(0.0, 0.0, 1.0, 3) == 1.0
    assert mmc_wait_quantile(0.99, 0.0, 1.0, 3) == 0.0


mmc_systems = st.tuples(
    st.integers(min_value=1, max_value=300),  # c
    st.floats(min_value=0.01, max_value=0.99),  # utilisation
    st.floats(min_value=0.1, max_value=100.0),  # mu
).map(lambda t: (t[1] * t[0] * t[2], t[2], t[0]))  # (lam, mu, c)


@given(system=mmc_systems, q=st.floats(min_value=0.0, max_value=0.9999))
def test_cdf_and_quantile_are_consistent(system: tuple[float, float, int], q: float) -> None:
    lam, mu, c = system
    t = mmc_wait_quantile(q, lam, mu, c)
    assert t >= 0.0
    if t == 0.0:
        assert mmc_wait_cdf(0.0, lam, mu, c) >= q - 1e-12
    else:
        assert mmc_wait_cdf(t, lam, mu, c) == pytest.approx(q, abs=1e-9)
        assert mmc_wait_cdf(t * (1 - 1e-6), lam, mu, c) < q


@given(system=mmc_systems, q1=st.floats(0.0, 0.999), q2=st.floats(0.0, 0.999))
def test_quantile_increases_with_q(system: tuple[float, float, int], q1: float, q2: float) -> None:
    lam, mu, c = system
    lo, hi = sorted((q1, q2))
    assert mmc_wait_quantile(lo, lam, mu, c) <= mmc_wait_quantile(hi, lam, mu, c)


# --------------------------------------------------------------------------- monotonicity


@given(c=st.integers(0, 200), a=st.floats(0.0, 500.0))
def test_erlang_b_decreases_with_servers(c: int, a: float) -> None:
    assert erlang_b(c + 1, a) <= erlang_b(c, a) * (1 + 1e-12)


@given(c=st.integers(1, 200), a1=st.floats(0.0, 500.0), a2=st.floats(0.0, 500.0))
def test_erlang_b_increases_with_load(c: int, a1: float, a2: float) -> None:
    lo, hi = sorted((a1, a2))
    assert erlang_b(c, lo) <= erlang_b(c, hi) * (1 + 1e-12)


@given(system=mmc_systems)
def test_erlang_c_and_mean_wait_decrease_with_servers(system: tuple[float, float, int]) -> None:
    lam, mu, c = system
    a = lam / mu
    assert erlang_c(c + 1, a) <= erlang_c(c, a)
    assert erlang_b(c, a) <= erlang_c(c, a)
    assert mmc_mean_wait(lam, mu, c + 1) <= mmc_mean_wait(lam, mu, c)


@given(c=st.integers(1, 100), u1=st.floats(0.0, 0.99), u2=st.floats(0.0, 0.99))
def test_mean_wait_increases_with_arrival_rate(c: int, u1: float, u2: float) -> None:
    lo, hi = sorted((u1, u2))
    assert mmc_mean_wait(lo * c, 1.0, c) <= mmc_mean_wait(hi * c, 1.0, c) * (1 + 1e-12)


@given(system=mmc_systems, t1=st.floats(0.0, 100.0), t2=st.floats(0.0, 100.0))
def test_wait_cdf_increases_with_t(system: tuple[float, float, int], t1: float, t2: float) -> None:
    lam, mu, c = system
    lo, hi = sorted((t1, t2))
    assert 0.0 <= mmc_wait_cdf(lo, lam, mu, c) <= mmc_wait_cdf(hi, lam, mu, c) <= 1.0


# --------------------------------------------------------------------------- M/G/1 and priorities


def test_pollaczek_khinchine_reduces_to_mm1_and_md1() -> None:
    lam, mean_s = 0.6, 1.0
    mm1 = mg1_mean_wait(lam, mean_s, 1.0)
    assert mm1 == pytest.approx(mmc_mean_wait(lam, 1 / mean_s, 1), rel=REL)
    assert mg1_mean_wait(lam, mean_s, 0.0) == pytest.approx(mm1 / 2, rel=REL)  # M/D/1
    # λE[S²]/(2(1−ρ)) with E[S²] = 1·(1 + 4) for cv = 2
    assert mg1_mean_wait(lam, mean_s, 2.0) == pytest.approx(0.6 * 5 / (2 * 0.4), rel=REL)


def test_priority_mg1_two_class_textbook_values() -> None:
    # Two exponential classes, λ = 0.25 each, E[S] = 1: W0 = 0.5, σ = 0.25, 0.5.
    waits = priority_mg1_mean_waits([0.25, 0.25], [1.0, 1.0], [1.0, 1.0])
    assert waits == pytest.approx([2 / 3, 4 / 3], rel=REL)


@given(lam=st.floats(0.0, 10.0), mean_s=st.floats(0.01, 10.0), cv=st.floats(0.0, 5.0))
def test_one_class_priority_is_pollaczek_khinchine(lam: float, mean_s: float, cv: float) -> None:
    assume(lam * mean_s < 0.99)
    fifo = mg1_mean_wait(lam, mean_s, cv)
    assert priority_mg1_mean_waits([lam], [mean_s], [cv]) == pytest.approx([fifo], rel=REL)
    sojourn = preemptive_resume_mg1_mean_sojourns([lam], [mean_s], [cv])
    assert sojourn == pytest.approx([fifo + mean_s], rel=REL)


priority_classes = st.lists(
    st.tuples(
        st.floats(0.0, 1.0),  # share of the total utilisation (normalised below)
        st.floats(0.01, 10.0),  # mean service time
        st.floats(0.0, 4.0),  # cv
    ),
    min_size=1,
    max_size=6,
).filter(lambda cls: sum(s for s, _, _ in cls) > 1e-6)


def _rates(classes: list[tuple[float, float, float]], rho: float) -> list[float]:
    total = sum(s for s, _, _ in classes)
    return [rho * s / total / m for s, m, _ in classes]


@given(classes=priority_classes, rho=st.floats(0.01, 0.98))
def test_kleinrock_conservation_law(classes: list[tuple[float, float, float]], rho: float) -> None:
    lams = _rates(classes, rho)
    means = [m for _, m, _ in classes]
    cvs = [cv for _, _, cv in classes]
    waits = priority_mg1_mean_waits(lams, means, cvs)
    # FIFO M/G/1 with the merged stream: λ = Σλ_k, E[S²] = Σ λ_k E[S_k²] / λ.
    lam = sum(lams)
    second_moment = sum(k * m * m * (1 + cv * cv) for k, m, cv in zip(lams, means, cvs, strict=True)) / lam
    mean = sum(k * m for k, m in zip(lams, means, strict=True)) / lam
    cv_merged = math.sqrt(max(second_moment / (mean * mean) - 1.0, 0.0))
    w_fifo = mg1_mean_wait(lam, mean, cv_merged)
    conserved = sum(k * m * w for k, m, w in zip(lams, means, waits, strict=True))
    assert conserved == pytest.approx(rho * w_fifo, rel=1e-8)
    # Higher classes never wait longer than lower ones.
    assert all(w1 <= w2 for w1, w2 in itertools.pairwise(waits))


@given(classes=priority_classes, rho=st.floats(0.01, 0.98))
def test_preemptive_top_class_sees_only_itself(classes: list[tuple[float, float, float]], rho: float) -> None:
    lams = _rates(classes, rho)
    means = [m for _, m, _ in classes]
    cvs = [cv for _, _, cv in classes]
    sojourns = preemptive_resume_mg1_mean_sojourns(lams, means, cvs)
    alone = mg1_mean_wait(lams[0], means[0], cvs[0]) + means[0]
    assert sojourns[0] == pytest.approx(alone, rel=REL)
    # Dropping the lowest class leaves every higher class unchanged.
    if len(classes) > 1:
        fewer = preemptive_resume_mg1_mean_sojourns(lams[:-1], means[:-1], cvs[:-1])
        assert fewer == pytest.approx(sojourns[:-1], rel=REL)


@given(
    shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6).filter(lambda s: sum(s) > 1e-6),
    rho=st.floats(0.01, 0.98),
    mu=st.floats(0.1, 10.0),
)
def test_preemptive_exponential_equal_rates_conserves_mm1(shares: list[float], rho: float, mu: float) -> None:
    # Exponential service, one rate: the number in system is the same as FIFO, so Σ λ_k T_k = λT.
    lams = [rho * mu * s / sum(shares) for s in shares]
    sojourns = preemptive_resume_mg1_mean_sojourns(lams, [1 / mu] * len(lams), [1.0] * len(lams))
    lam = sum(lams)
    fifo = mmc_mean_wait(lam, mu, 1) + 1 / mu
    assert sum(k * t for k, t in zip(lams, sojourns, strict=True)) == pytest.approx(lam * fifo, rel=1e-8)


@given(
    shares=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6).filter(lambda s: sum(s) > 1e-6),
    c=st.integers(1, 200),
    rho=st.floats(0.01, 0.98),
    mu=st.floats(0.1, 10.0),
)
def test_priority_mmc_conserves_fifo_wait(shares: list[float], c: int, rho: float, mu: float) -> None:
    lams = [rho * c * mu * s / sum(shares) for s in shares]
    waits = priority_mmc_mean_waits(lams, mu, c)
    lam = sum(lams)
    fifo = mmc_mean_wait(lam, mu, c)
    assert sum(k * w for k, w in zip(lams, waits, strict=True)) == pytest.approx(lam * fifo, rel=1e-8)
    assert all(w1 <= w2 for w1, w2 in itertools.pairwise(waits))


def test_priority_mmc_reduces_to_mmc_and_to_priority_mg1() -> None:
    assert priority_mmc_mean_waits([7.0], 2.0, 4) == pytest.approx([mmc_mean_wait(7.0, 2.0, 4)], rel=REL)
    lams, mu = [0.2, 0.3, 0.1], 1.25
    n = len(lams)
    assert priority_mmc_mean_waits(lams, mu, 1) == pytest.approx(
        priority_mg1_mean_waits(lams, [1 / mu] * n, [1.0] * n), rel=REL
    )


# --------------------------------------------------------------------------- finite buffers


def test_mm1k_formula_and_textbook_values() -> None:
    assert mm1k_blocking(0.5, 1.0, 2) == pytest.approx(1 / 7, rel=REL)  # ρ = 1/2
    assert mm1k_blocking(2.0, 1.0, 2) == pytest.approx(4 / 7, rel=REL)  # ρ = 2
    assert mm1k_blocking(1.0, 1.0, 4) == pytest.approx(1 / 5, rel=REL)  # ρ = 1
    for rho, k in [(0.3, 1), (0.8, 10), (1.7, 6)]:
        expected = (1 - rho) * rho**k / (1 - rho ** (k + 1))
        assert mm1k_blocking(rho * 3.0, 3.0, k) == pytest.approx(expected, rel=1e-12)
    assert mm1k_blocking(0.0, 1.0, 3) == 0.0


@pytest.mark.parametrize("k", [1, 5, 100])
def test_mm1k_is_continuous_at_rho_one(k: int) -> None:
    at_one = mm1k_blocking(1.0, 1.0, k)
    assert at_one == pytest.approx(1 / (k + 1), rel=REL)
    for eps in (1e-6, 1e-9, 1e-13):
        assert mm1k_blocking(1.0 + eps, 1.0, k) == pytest.approx(at_one, rel=1e-4)
        assert mm1k_blocking(1.0 - eps, 1.0, k) == pytest.approx(at_one, rel=1e-4)


def test_mm1k_large_k_does_not_overflow() -> None:
    assert mm1k_blocking(2.0, 1.0, 100_000) == pytest.approx(0.5, rel=REL)  # 1 − 1/ρ
    assert mm1k_blocking(0.5, 1.0, 100_000) == 0.0
    assert mm1k_blocking(0.999999, 1.0, 10**6) == pytest.approx(
        1e-6 * 0.999999**10**6 / (1 - 0.999999 ** (10**6 + 1)), rel=1e-6
    )


@pytest.mark.parametrize(
    ("lam", "mu", "c", "k"),
    [(0.5, 1.0, 1, 1), (3.0, 1.0, 2, 6), (8.0, 2.0, 4, 4), (11.0, 2.0, 5, 12), (30.0, 1.0, 10, 25)],
)
def test_mmck_matches_birth_death_chain(lam: float, mu: float, c: int, k: int) -> None:
    p = birth_death_distribution(lam, mu, c, n_max=k)
    assert mmck_blocking(lam, mu, c, k) == pytest.approx(p[-1], rel=1e-9)


@given(lam=st.floats(0.0, 50.0), mu=st.floats(0.1, 10.0), k=st.integers(1, 60))
def test_mmck_with_one_server_is_mm1k(lam: float, mu: float, k: int) -> None:
    assert mmck_blocking(lam, mu, 1, k) == pytest.approx(mm1k_blocking(lam, mu, k), rel=1e-9)


@given(c=st.integers(1, 300), a=st.floats(0.0, 600.0))
def test_mmck_with_no_waiting_room_is_erlang_b(c: int, a: float) -> None:
    assert mmck_blocking(a, 1.0, c, c) == erlang_b(c, a)


def test_mmck_large_c_and_overload() -> None:
    blocking = mmck_blocking(550.0, 1.0, 500, 100_000)  # overloaded: blocks the excess 50/550
    assert blocking == pytest.approx(50 / 550, rel=1e-9)
    assert 0.0 < mmck_blocking(490.0, 1.0, 500, 520) < erlang_b(500, 490.0)


@given(
    lam1=st.floats(0.0, 20.0),
    lam2=st.floats(0.0, 20.0),
    c=st.integers(1, 20),
    extra=st.integers(0, 30),
)
def test_mmck_blocking_increases_with_load_and_decreases_with_room(
    lam1: float, lam2: float, c: int, extra: int
) -> None:
    lo, hi = sorted((lam1, lam2))
    k = c + extra
    assert mmck_blocking(lo, 1.0, c, k) <= mmck_blocking(hi, 1.0, c, k) * (1 + 1e-12)
    assert mmck_blocking(hi, 1.0, c, k + 1) <= mmck_blocking(hi, 1.0, c, k) * (1 + 1e-12)
    assert mm1k_blocking(lo, 1.0, k + 1) <= mm1k_blocking(hi, 1.0, k + 1) * (1 + 1e-12)


# --------------------------------------------------------------------------- Little's law


def test_littles_law() -> None:
    assert littles_law_l(2.0, 3.0) == 6.0
    lam, mu = 0.75, 1.0
    rho = lam / mu
    # M/M/1 mean queue length ρ²/(1 − ρ)
    assert littles_law_l(lam, mmc_mean_wait(lam, mu, 1)) == pytest.approx(rho**2 / (1 - rho))


# --------------------------------------------------------------------------- sizing


def test_servers_for_mean_wait_example() -> None:
    lam, mu, target = 100.0, 1.0, 0.01
    c = servers_for_mean_wait(lam, mu, target)
    assert mmc_mean_wait(lam, mu, c) <= target < mmc_mean_wait(lam, mu, c - 1)
    assert servers_for_mean_wait(0.0, 1.0, 0.0) == 1
    # Any stable c meets a loose target: the answer is the smallest stable c.
    assert servers_for_mean_wait(4.0, 1.0, 1e9) == 5
    assert servers_for_mean_wait(4.5, 1.0, 1e9) == 5


@settings(max_examples=examples(200))
@given(
    a=st.floats(0.0, 400.0),
    mu=st.floats(0.1, 10.0),
    target_in_service_times=st.floats(1e-4, 10.0),
)
def test_servers_for_mean_wait_is_minimal(a: float, mu: float, target_in_service_times: float) -> None:
    lam, target = a * mu, target_in_service_times / mu
    c = servers_for_mean_wait(lam, mu, target)
    assert c > lam / mu
    assert mmc_mean_wait(lam, mu, c) <= target
    if c - 1 > lam / mu and c > 1:
        assert mmc_mean_wait(lam, mu, c - 1) > target


@settings(max_examples=examples(200))
@given(
    a=st.floats(0.0, 400.0),
    mu=st.floats(0.1, 10.0),
    q=st.floats(0.0, 0.999),
    target_in_service_times=st.floats(0.0, 10.0),
)
def test_servers_for_wait_quantile_is_minimal(
    a: float, mu: float, q: float, target_in_service_times: float
) -> None:
    lam, target = a * mu, target_in_service_times / mu
    c = servers_for_wait_quantile(lam, mu, q, target)
    assert c > lam / mu
    assert mmc_wait_cdf(target, lam, mu, c) >= q
    if c - 1 > lam / mu and c > 1:
        assert mmc_wait_cdf(target, lam, mu, c - 1) < q
    if c - 1 > lam / mu and c > 1 and q > 0:
        # The quantile view agrees: c − 1 servers' q-quantile misses the target.
        assert mmc_wait_quantile(q, lam, mu, c - 1) >= target * (1 - 1e-9)


def test_servers_for_wait_quantile_large_load() -> None:
    c = servers_for_wait_quantile(10_000.0, 1.0, 0.99, 0.01)
    assert 10_000 < c < 10_400
    assert mmc_wait_cdf(0.01, 10_000.0, 1.0, c) >= 0.99 > mmc_wait_cdf(0.01, 10_000.0, 1.0, c - 1)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: erlang_c(2, 2.0), "unstable"),
        (lambda: erlang_c(2, 3.5), "unstable"),
        (lambda: erlang_c(0, 0.5), "c must be an integer >= 1"),
        (lambda: erlang_b(-1, 1.0), "c must be an integer >= 0"),
        (lambda: erlang_b(2.0, 1.0), "c must be an integer"),
        (lambda: erlang_b(True, 1.0), "c must be an integer"),
        (lambda: erlang_b(3, -1.0), "offered_load"),
        (lambda: erlang_b(3, math.nan), "offered_load"),
        (lambda: erlang_b(3, math.inf), "offered_load"),
        (lambda: mmc_mean_wait(2.0, 1.0, 2), "unstable"),
        (lambda: mmc_mean_wait(1.0, 0.0, 2), "mu must be"),
        (lambda: mmc_mean_wait(-1.0, 1.0, 2), "lam must be"),
        (lambda: mmc_wait_cdf(math.nan, 1.0, 1.0, 2), "t must be"),
        (lambda: mmc_wait_quantile(1.0, 1.0, 1.0, 2), "q must be a probability"),
        (lambda: mmc_wait_quantile(-0.1, 1.0, 1.0, 2), "q must be a probability"),
        (lambda: mg1_mean_wait(1.0, 1.0, 1.0), "unstable"),
        (lambda: mg1_mean_wait(0.5, 0.0, 1.0), "mean_s"),
        (lambda: mg1_mean_wait(0.5, 1.0, -1.0), "cv"),
        (lambda: priority_mg1_mean_waits([], [], []), "at least one class"),
        (lambda: priority_mg1_mean_waits([0.1, 0.2], [1.0], [1.0, 1.0]), "lengths 2, 1 and 2"),
        (lambda: priority_mg1_mean_waits([0.1, -0.2], [1.0, 1.0], [1.0, 1.0]), r"lams\[1\]"),
        (lambda: priority_mg1_mean_waits([0.5, 0.5], [1.0, 1.0], [1.0, 1.0]), "unstable"),
        (lambda: preemptive_resume_mg1_mean_sojourns([0.6, 0.5], [1, 1], [1, 1]), "unstable"),
        (lambda: preemptive_resume_mg1_mean_sojourns([0.1], [0.0], [1.0]), r"means\[0\]"),
        (lambda: priority_mmc_mean_waits([1.0, 1.0], 1.0, 2), "unstable"),
        (lambda: priority_mmc_mean_waits([], 1.0, 2), "at least one class"),
        (lambda: mm1k_blocking(1.0, 1.0, 0), "K must be an integer >= 1"),
        (lambda: mmck_blocking(1.0, 1.0, 3, 2), "K .system capacity. must be >= c"),
        (lambda: littles_law_l(-1.0, 1.0), "lam must be"),
        (lambda: servers_for_mean_wait(1.0, 1.0, 0.0), "target_wait_s must be"),
        (lambda: servers_for_mean_wait(1.0, 1.0, -1.0), "target_wait_s must be"),
        (lambda: servers_for_wait_quantile(1.0, 1.0, 1.0, 1.0), "q must be a probability"),
        (lambda: servers_for_wait_quantile(1.0, 1.0, 0.9, -1.0), "target_s must be"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
